"""Information on request (issue 6, item 3): a victim's question, asked through the victim
representative, answered by the officer who holds the case with what may be disclosed,
relayed by the representative; due dates in working days; overdue reminders to the
officer and then the supervisors, once each however often the task runs; who may do
what on every route (pages and API); bad input answered with field errors, nothing lost."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent, Outcome
from casework.models import Case
from teams.disclosure.grants import grant_case_access
from teams.models import Notification, NotificationKind, Team, User
from teams.roles import Role
from tests import factories as f
from victims import information_requests as service
from victims import tasks
from victims.models import InformationRequest, RequestTopic, Victim

pytestmark = pytest.mark.django_db

LIST = "/victim-services/information-requests/"
API = "/api/v1/information-requests/"
LOCAL = zoneinfo.ZoneInfo(settings.TIME_ZONE)
QUESTION = "QUESTION-7Q: Where does he live now? She wants to know which part of town."
ANSWER = "ANSWER-7A: He lives in the north end of Hartford, away from your area."


@dataclass
class World:
    team: Team
    case: Case
    other_case: Case
    victim: Victim
    other_victim: Victim
    people: dict[str, User]
    item: InformationRequest  # asked today, due in five working days
    late: InformationRequest  # overdue and unanswered
    other_item: InformationRequest  # on the other team's case

    def __getattr__(self, name: str) -> User:
        people = self.__dict__.get("people", {})
        if name in people:
            return people[name]
        raise AttributeError(name)


def make_world() -> World:
    team, other_team = f.make_team("Hartford North MDT"), f.make_team("New Haven MDT")
    people: dict[str, User] = {}
    for key, role in (
        ("officer", Role.OFFICER),
        ("officer2", Role.OFFICER),
        ("supervisor", Role.SUPERVISOR),
        ("rep", Role.VICTIM_REP),
        ("rep2", Role.VICTIM_REP),
        ("treatment", Role.TREATMENT),
        ("polygraph", Role.POLYGRAPH),
    ):
        people[key] = f.make_member(team, role, username=key.replace("_", "-"))
    for key, role in (
        ("other_officer", Role.OFFICER),
        ("other_supervisor", Role.SUPERVISOR),
        ("other_rep", Role.VICTIM_REP),
    ):
        people[key] = f.make_member(other_team, role, username=key.replace("_", "-"))
    today = timezone.localdate()
    people["former_rep"] = f.make_user("former-rep")
    f.make_membership(
        people["former_rep"],
        team,
        Role.VICTIM_REP,
        active_from=today - dt.timedelta(days=90),
        active_to=today - dt.timedelta(days=1),
    )
    people["admin"] = f.make_user("admin-user", is_staff=True)
    f.make_membership(people["admin"], team, Role.SUPERVISOR)
    case = f.make_case(team, officer=people["officer"], reference="C-IR-0001")
    other_case = f.make_case(other_team, officer=people["other_officer"], reference="C-IR-OTHER")
    people["guest_rep"] = f.make_user("guest-rep")
    grant_case_access(
        people["guest_rep"],
        case,
        Role.VICTIM_REP,
        granted_by=people["supervisor"],
        reason="Invited for one case",
    )
    victim = f.make_victim(first_name="Dana", last_name="Whitfield")
    other_victim = f.make_victim(first_name="Erin", last_name="Castillo")
    f.link_victim(case, victim, pseudonym="Person harmed 1", representative=people["rep"])
    f.link_victim(
        other_case, other_victim, pseudonym="Person harmed 1", representative=people["other_rep"]
    )
    item = service.ask(people["rep"], case, victim, RequestTopic.RESIDENCE_AREA, QUESTION)
    late = service.ask(
        people["rep"], case, victim, RequestTopic.HEARING_DATES, "LATE-Q: next hearing?"
    )
    InformationRequest.objects.filter(pk=late.pk).update(due_on=today - dt.timedelta(days=3))
    late.refresh_from_db()
    other_item = service.ask(
        people["other_rep"], other_case, other_victim, RequestTopic.COMPLIANCE, "OTHER-Q: ok?"
    )
    return World(team, case, other_case, victim, other_victim, people, item, late, other_item)


@pytest.fixture
def world() -> World:
    return make_world()


def web(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def html(response: Any) -> str:
    content: bytes = response.content
    return content.decode()


def detail_url(item: InformationRequest) -> str:
    return f"{LIST}{item.pk}/"


def ask_url(case: Case) -> str:
    return f"/cases/{case.pk}/information-requests/new/"


def stored(item: InformationRequest) -> dict[str, Any]:
    return dict(InformationRequest.objects.filter(pk=item.pk).values().get())


def denied(user: User, obj: Any) -> bool:
    return AuditEvent.objects.filter(
        actor=user,
        action=Action.VIEW,
        outcome=Outcome.DENIED,
        target_type=obj._meta.label_lower,
        target_id=str(obj.pk),
    ).exists()


def notifications(user: User, kind: NotificationKind) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, kind=kind))


# --- Working days ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (dt.date(2026, 3, 6), 5, dt.date(2026, 3, 13)),  # Friday: the next Friday
        (dt.date(2026, 3, 2), 5, dt.date(2026, 3, 9)),  # Monday: the next Monday
        (dt.date(2026, 3, 4), 5, dt.date(2026, 3, 11)),  # Wednesday: the next Wednesday
        (dt.date(2026, 3, 7), 5, dt.date(2026, 3, 13)),  # Saturday: the Friday after
        (dt.date(2026, 3, 8), 5, dt.date(2026, 3, 13)),  # Sunday: the Friday after
        (dt.date(2026, 3, 6), 1, dt.date(2026, 3, 9)),  # Friday + 1: Monday
        (dt.date(2026, 3, 5), 2, dt.date(2026, 3, 9)),  # Thursday + 2: Monday
        (dt.date(2026, 3, 6), 10, dt.date(2026, 3, 20)),
    ],
)
def test_working_days(start: dt.date, days: int, due: dt.date) -> None:
    assert service.add_working_days(start, days) == due
    assert due.weekday() < 5


def _ask_at(world: World, moment: dt.datetime) -> InformationRequest:
    with mock.patch("django.utils.timezone.now", return_value=moment):
        return service.ask(world.rep, world.case, world.victim, RequestTopic.OTHER, "When?")


def next_weekday(weekday: int) -> dt.date:
    """The next such day after today (Monday is 0): a date the memberships cover."""
    today = timezone.localdate()
    return today + dt.timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def test_a_request_asked_on_a_friday_is_due_the_next_friday(world: World) -> None:
    friday_date = next_weekday(4)
    friday = dt.datetime.combine(friday_date, dt.time(16, 30), tzinfo=LOCAL)
    item = _ask_at(world, friday)
    assert item.requested_at == friday
    assert item.due_on == friday_date + dt.timedelta(days=7)
    assert item.due_on.strftime("%A") == "Friday"
    # Late on a Friday evening in the office's time zone is still that Friday (it is
    # already Saturday in UTC): the office's calendar counts.
    evening = dt.datetime.combine(friday_date, dt.time(23, 30), tzinfo=LOCAL)
    assert evening.astimezone(dt.UTC).date() == friday_date + dt.timedelta(days=1)
    assert _ask_at(world, evening).due_on == friday_date + dt.timedelta(days=7)
    saturday = dt.datetime.combine(next_weekday(5), dt.time(10), tzinfo=LOCAL)
    assert _ask_at(world, saturday).due_on.strftime("%A") == "Friday"
    assert _ask_at(world, saturday).due_on - saturday.date() == dt.timedelta(days=6)
    wednesday = dt.datetime.combine(next_weekday(2), dt.time(9), tzinfo=LOCAL)
    assert _ask_at(world, wednesday).due_on == wednesday.date() + dt.timedelta(days=7)


def test_the_number_of_working_days_is_a_setting(world: World, settings: Any) -> None:
    settings.INFORMATION_REQUEST_WORKING_DAYS = 3
    friday = dt.datetime.combine(next_weekday(4), dt.time(9), tzinfo=LOCAL)
    due = _ask_at(world, friday).due_on
    assert (due.strftime("%A"), due - friday.date()) == ("Wednesday", dt.timedelta(days=5))


# --- The workflow through the pages ------------------------------------------------------


def test_the_workflow_through_the_pages(world: World) -> None:
    rep, officer = web(world.rep), web(world.officer)
    # The representative asks from the case: the victim by name, the topics' guidance.
    page = rep.get(f"{ask_url(world.case)}?victim={world.victim.pk}")
    assert page.status_code == 200
    text = html(page)
    assert "Dana Whitfield" in text and "never the street address" in text
    assert f'<option value="{world.victim.pk}" selected>' in text
    response = rep.post(
        ask_url(world.case),
        {"victim": world.victim.pk, "topic": RequestTopic.END_OF_SUPERVISION, "question": "PG-Q1"},
    )
    assert response.status_code == 302
    item = InformationRequest.objects.get(question="PG-Q1")
    assert response["Location"] == detail_url(item)
    assert (item.requested_by, item.assigned_officer, item.case, item.victim) == (
        world.rep,
        world.officer,
        world.case,
        world.victim,
    )
    assert item.due_on == service.add_working_days(timezone.localdate(), 5)
    told = [n for n in notifications(world.officer, NotificationKind.INFORMATION_REQUESTED)]
    assert detail_url(item) in {n.link for n in told}
    assert all(n.recipient == world.officer for n in told)
    assert not notifications(world.officer2, NotificationKind.INFORMATION_REQUESTED)
    assert "Waiting for the officer" in html(rep.get(detail_url(item)))

    # The officer: the question, the reminder that the answer goes to the victim, the
    # topic's guidance, and the answer form.
    page = officer.get(detail_url(item))
    text = html(page)
    assert page.status_code == 200 and "PG-Q1" in text
    assert "Your answer goes to the victim" in text
    assert "End of supervision: Give the expected end date of supervision" in text
    assert 'value="answer"' in text and 'value="relay"' not in text
    listed = html(officer.get(LIST))
    assert f'id="information-request-{item.pk}"' in listed
    response = officer.post(detail_url(item), {"action": "answer", "answer": "PG-A1"})
    assert response.status_code == 302 and response["Location"] == detail_url(item)
    item.refresh_from_db()
    assert (item.answer, item.answered_by, item.relayed_at) == ("PG-A1", world.officer, None)
    assert item.answered_at is not None
    answered = notifications(world.rep, NotificationKind.INFORMATION_ANSWERED)
    assert [n.link for n in answered] == [detail_url(item)]
    assert 'value="answer"' not in html(officer.get(detail_url(item)))
    # Answered questions leave the officer's list (they stay with ?all=1).
    assert f'id="information-request-{item.pk}"' not in html(officer.get(LIST))
    assert f'id="information-request-{item.pk}"' in html(officer.get(f"{LIST}?all=1"))

    # The representative: the answer and the relay form; then the record of the relay.
    text = html(rep.get(detail_url(item)))
    assert "PG-A1" in text and "Answered: to relay to the victim" in text
    assert 'value="relay"' in text and 'value="answer"' not in text
    assert f'id="information-request-{item.pk}"' in html(rep.get(LIST))
    response = rep.post(
        detail_url(item), {"action": "relay", "relay_note": "Told her on the phone."}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.relayed_by, item.relay_note) == (world.rep, "Told her on the phone.")
    text = html(rep.get(detail_url(item)))
    assert "Relayed to the victim" in text and 'value="relay"' not in text
    assert f'id="information-request-{item.pk}"' not in html(rep.get(LIST))
    # The officer and the supervisor see that it was relayed, and how.
    assert "Told her on the phone." in html(officer.get(detail_url(item)))
    assert "Told her on the phone." in html(web(world.supervisor).get(detail_url(item)))


def test_the_case_and_victim_pages_offer_the_question_to_representatives(world: World) -> None:
    ask = f'href="{ask_url(world.case)}'
    case_page = html(web(world.rep).get(f"/cases/{world.case.pk}/"))
    assert ask in case_page and f'href="{detail_url(world.item)}"' in case_page
    victim_page = html(web(world.rep).get(f"/victims/{world.victim.pk}/"))
    assert f'{ask}?victim={world.victim.pk}"' in victim_page
    # The officer reads the case's questions there but asks none.
    case_page = html(web(world.officer).get(f"/cases/{world.case.pk}/"))
    assert ask not in case_page and f'href="{detail_url(world.item)}"' in case_page
    assert ask not in html(web(world.officer).get(f"/victims/{world.victim.pk}/"))
    # Treatment sees the case, not the questions.
    case_page = html(web(world.treatment).get(f"/cases/{world.case.pk}/"))
    assert "Victims' questions" not in case_page and detail_url(world.item) not in case_page


def test_the_list_shows_each_role_its_part_with_overdue_ones_marked(world: World) -> None:
    def shown(user: User, query: str = "") -> set[int]:
        text = html(web(user).get(f"{LIST}{query}"))
        every = [world.item, world.late, world.other_item]
        return {item.pk for item in every if f'id="information-request-{item.pk}"' in text}

    mine = {world.item.pk, world.late.pk}
    assert shown(world.rep) == mine and shown(world.rep2) == mine
    assert shown(world.officer) == mine
    assert shown(world.officer2) == set()  # the case is the other officer's
    assert shown(world.supervisor) == {world.late.pk}  # overdue only
    assert shown(world.other_rep) == {world.other_item.pk}
    for who in ("treatment", "polygraph", "guest_rep", "former_rep", "admin"):
        assert shown(getattr(world, who)) == set(), who
    assert "Your role does not handle" in html(web(world.treatment).get(LIST))
    page = html(web(world.rep).get(LIST))
    row = page.split(f'id="information-request-{world.late.pk}"', 1)[1].split("</tr>", 1)[0]
    assert row.startswith(' class="overdue">')
    assert "Overdue" in row and "Dana Whitfield" in row
    row = page.split(f'id="information-request-{world.item.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "Overdue" not in row
    # Nav: the roles that read questions are offered the list.
    assert f'href="{LIST}"' in page
    assert f'href="{LIST}"' not in html(web(world.treatment).get("/"))


def test_reading_is_audited(world: World) -> None:
    web(world.rep).get(LIST)
    event = AuditEvent.objects.get(
        actor=world.rep, action=Action.LIST, target_type="victims.informationrequest"
    )
    assert sorted(event.detail["ids"]) == sorted(str(pk) for pk in (world.item.pk, world.late.pk))
    web(world.officer).get(detail_url(world.item))
    viewed = AuditEvent.objects.get(
        actor=world.officer,
        action=Action.VIEW,
        target_type="victims.informationrequest",
        target_id=str(world.item.pk),
    )
    assert (viewed.case_id, viewed.victim_id) == (world.case.pk, world.victim.pk)
    # The officer saw the victim's name: the victim's ledger says so.
    assert AuditEvent.objects.filter(
        actor=world.officer, action=Action.DISCLOSURE, victim_id=world.victim.pk
    ).exists()


def test_writes_are_in_the_trail_without_the_question_or_the_answer(world: World) -> None:
    item = world.item
    service.answer(world.officer, item, ANSWER)
    service.relay(world.rep, item, "RELAY-NOTE-7R: by phone")
    events = AuditEvent.objects.filter(
        target_type="victims.informationrequest", target_id=str(item.pk)
    ).order_by("seq")
    by_trigger = [e for e in events if e.detail.get("source") == "database"]
    assert [e.action for e in by_trigger] == [Action.CREATE, Action.UPDATE, Action.UPDATE]
    created, answered, relayed = (e.detail["values"] for e in by_trigger)
    assert created["topic"]["new"] == RequestTopic.RESIDENCE_AREA
    assert created["assigned_officer_id"]["new"] == world.officer.pk
    assert created["due_on"]["new"] == item.due_on.isoformat()
    assert answered["answered_by_id"] == {"old": None, "new": world.officer.pk}
    assert relayed["relayed_by_id"] == {"old": None, "new": world.rep.pk}
    assert all(e.case_id == world.case.pk and e.victim_id == world.victim.pk for e in by_trigger)
    # Who was told, which the notification rows alone do not say.
    told = [e.detail for e in events if e.action == Action.NOTIFY]
    assert told == [
        {"kind": "information_requested", "recipients": [world.officer.pk]},
        {"kind": "information_answered", "recipients": [world.rep.pk]},
    ]
    trail = " ".join(str(e.detail) for e in AuditEvent.objects.all())
    assert "QUESTION-7Q" not in trail and "ANSWER-7A" not in trail and "RELAY-NOTE" not in trail
    # The e-mails carry no case content either.
    bodies = " ".join(f"{m.subject} {m.body}" for m in mail.outbox)
    assert "victim" in bodies.lower()
    for secret in ("QUESTION-7Q", "ANSWER-7A", world.case.reference, "Whitfield"):
        assert secret not in bodies


# --- The workflow through the API --------------------------------------------------------


def test_the_workflow_through_the_api(world: World) -> None:
    rep, officer = api(world.rep), api(world.officer)
    response = rep.post(
        API,
        {
            "case": world.case.pk,
            "victim": world.victim.pk,
            "topic": "compliance",
            "question": "API-Q1",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "awaiting_answer" and data["victim_name"] == "Dana Whitfield"
    assert data["assigned_officer"] == world.officer.pk
    assert data["due_on"] == service.add_working_days(timezone.localdate(), 5).isoformat()
    assert "Nothing from treatment or polygraph" in data["guidance"]
    pk = data["id"]

    listed = officer.get(f"{API}?case={world.case.pk}&open=true").json()
    assert pk in [row["id"] for row in listed["results"]]
    response = officer.post(f"{API}{pk}/answer/", {"answer": "API-A1"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "answered"
    assert response.json()["answered_by"] == world.officer.pk
    response = rep.post(f"{API}{pk}/relay/", {"relay_note": "By letter."}, format="json")
    assert response.status_code == 200, response.json()
    data = rep.get(f"{API}{pk}/").json()
    assert (data["status"], data["relay_note"], data["relayed_by"]) == (
        "relayed",
        "By letter.",
        world.rep.pk,
    )
    open_ids = [row["id"] for row in rep.get(f"{API}?open=true").json()["results"]]
    assert pk not in open_ids and world.item.pk in open_ids
    assert [row["id"] for row in rep.get(f"{API}?open=false").json()["results"]] == [pk]
    assert rep.get(f"{API}?open=maybe").status_code == 400
    assert rep.get(f"{API}?case=abc").status_code == 400
    overdue = {row["id"]: row["overdue"] for row in rep.get(API).json()["results"]}
    assert overdue[world.late.pk] is True and overdue[world.item.pk] is False


def test_the_api_refuses_unknown_fields_and_missing_ones(world: World) -> None:
    rep = api(world.rep)
    count = InformationRequest.objects.count()
    response = rep.post(
        API,
        {
            "case": world.case.pk,
            "victim": world.victim.pk,
            "topic": "compliance",
            "question": "Q",
            "due_on": "2030-01-01",
        },
        format="json",
    )
    assert response.status_code == 400 and "due_on" in response.json()
    response = rep.post(
        API, {"case": world.case.pk, "victim": world.victim.pk, "topic": "x"}, format="json"
    )
    assert response.status_code == 400 and set(response.json()) == {"topic", "question"}
    response = rep.post(
        API,
        {"case": world.case.pk, "victim": world.victim.pk, "topic": "other", "question": "  "},
        format="json",
    )
    assert response.status_code == 400 and "question" in response.json()
    # A victim the representative sees, but not of this case.
    rep_elsewhere = world.other_victim
    response = api(world.other_rep).post(
        API,
        {"case": world.other_case.pk, "victim": world.victim.pk, "topic": "other", "question": "Q"},
        format="json",
    )
    assert response.status_code == 400 and "victim" in response.json()
    assert rep_elsewhere.pk != world.victim.pk
    response = api(world.officer).post(
        f"{API}{world.item.pk}/answer/", {"answer": "A", "extra": 1}, format="json"
    )
    assert response.status_code == 400 and "extra" in response.json()
    assert InformationRequest.objects.count() == count
    assert stored(world.item)["answered_at"] is None


# --- Bad input ---------------------------------------------------------------------------


def test_a_request_with_no_question_is_a_field_error_and_keeps_what_was_typed(
    world: World,
) -> None:
    count = InformationRequest.objects.count()
    with pytest.raises(ValidationError) as excinfo:
        service.ask(world.rep, world.case, world.victim, RequestTopic.COMPLIANCE, "   ")
    assert set(excinfo.value.message_dict) == {"question"}
    with pytest.raises(ValidationError) as excinfo:
        service.ask(world.rep, world.case, world.other_victim, "nonsense", "Q")
    assert set(excinfo.value.message_dict) == {"victim", "topic"}
    response = web(world.rep).post(
        ask_url(world.case),
        {"victim": world.victim.pk, "topic": RequestTopic.HEARING_DATES, "question": ""},
    )
    assert response.status_code == 400
    text = html(response)
    assert "The victim&#x27;s question: Enter the victim&#x27;s question." in text
    assert f'<option value="{RequestTopic.HEARING_DATES}" selected>' in text
    assert f'<option value="{world.victim.pk}" selected>' in text
    # A victim of another case cannot be chosen on this one.
    response = web(world.rep).post(
        ask_url(world.case),
        {"victim": world.other_victim.pk, "topic": "other", "question": "KEEP-ME"},
    )
    assert response.status_code == 400 and "Choose a victim linked to this case." in html(response)
    assert "KEEP-ME" in html(response)
    assert InformationRequest.objects.count() == count


def test_answering_after_the_case_was_reassigned_is_a_field_error_and_nothing_is_lost(
    world: World,
) -> None:
    item = world.item
    officer = web(world.officer)
    response: Any  # a page's, then the API's
    assert 'value="answer"' in html(officer.get(detail_url(item)))  # the page is open
    Case.objects.filter(pk=world.case.pk).update(assigned_officer=world.officer2)
    before = stored(item)
    typed = "TYPED-ANSWER: the hearing is on 3 April at Hartford Superior Court."
    response = officer.post(detail_url(item), {"action": "answer", "answer": typed})
    assert response.status_code == 400
    text = html(response)
    assert "You no longer hold this case" in text and str(world.officer2) in text
    assert typed in text  # still in the form
    assert stored(item) == before
    response = api(world.officer).post(f"{API}{item.pk}/answer/", {"answer": typed}, format="json")
    assert response.status_code == 400
    assert "You no longer hold this case" in response.json()["answer"][0]
    with pytest.raises(ValidationError) as excinfo:
        service.answer(world.officer, item, typed)
    assert set(excinfo.value.message_dict) == {"answer"}
    assert stored(item) == before
    assert not notifications(world.rep, NotificationKind.INFORMATION_ANSWERED)
    # The officer who holds it now answers, and the page offers them the form.
    assert 'value="answer"' in html(web(world.officer2).get(detail_url(item)))
    assert 'value="answer"' not in html(officer.get(detail_url(item)))
    service.answer(world.officer2, item, typed)
    assert stored(item)["answered_by_id"] == world.officer2.pk


def test_a_case_with_no_officer_is_answered_by_any_officer_of_the_team(world: World) -> None:
    Case.objects.filter(pk=world.case.pk).update(assigned_officer=None)
    world.case.refresh_from_db()
    item = service.ask(world.rep, world.case, world.victim, RequestTopic.OTHER, "NO-OFFICER-Q")
    assert item.assigned_officer is None
    told = Notification.objects.filter(
        kind=NotificationKind.INFORMATION_REQUESTED, link=detail_url(item)
    )
    assert {n.recipient for n in told} == {world.officer, world.officer2}
    assert 'value="answer"' in html(web(world.officer2).get(detail_url(item)))
    service.answer(world.officer2, item, "Answered by the team.")
    # An officer whose membership ended holds the case no more either.
    Case.objects.filter(pk=world.case.pk).update(assigned_officer=world.former_rep)
    world.case.refresh_from_db()
    assert service.holder(world.case) is None


def test_answers_and_relays_are_checked(world: World) -> None:
    item = world.item
    response: Any  # a page's, then the API's
    with pytest.raises(ValidationError) as excinfo:
        service.answer(world.officer, item, " ")
    assert set(excinfo.value.message_dict) == {"answer"}
    with pytest.raises(ValidationError) as excinfo:
        service.relay(world.rep, item, "Told her.")
    assert "has not answered yet" in excinfo.value.message_dict["__all__"][0]
    response = web(world.officer).post(detail_url(item), {"action": "answer", "answer": ""})
    assert response.status_code == 400 and "Enter the answer to give the victim." in html(response)
    response = web(world.officer).post(detail_url(item), {"action": "bogus"})
    assert response.status_code == 400 and "Nothing was changed" in html(response)
    assert stored(item)["answered_at"] is None
    service.answer(world.officer, item, ANSWER)
    with pytest.raises(ValidationError) as excinfo:
        service.answer(world.officer, item, "again")
    assert "already answered" in excinfo.value.message_dict["__all__"][0]
    assert stored(item)["answer"] == ANSWER
    response = web(world.rep).post(detail_url(item), {"action": "relay", "relay_note": ""})
    assert response.status_code == 400
    assert "Say how the answer was given to the victim" in html(response)
    service.relay(world.rep, item, "By phone.")
    response = api(world.rep2).post(f"{API}{item.pk}/relay/", {"relay_note": "x"}, format="json")
    assert (
        response.status_code == 400 and "already relayed" in response.json()["non_field_errors"][0]
    )
    assert stored(item)["relay_note"] == "By phone."


# --- Overdue reminders -------------------------------------------------------------------


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=LOCAL)


def test_overdue_reminders_go_to_the_officer_then_the_supervisors_once_each(
    world: World,
) -> None:
    # Due on Friday 6 March; the task runs hourly from the Monday after.
    InformationRequest.objects.exclude(pk=world.item.pk).delete()
    item = world.item
    InformationRequest.objects.filter(pk=item.pk).update(due_on=dt.date(2026, 3, 6))
    overdue_kind = NotificationKind.INFORMATION_OVERDUE

    friday = at(dt.date(2026, 3, 6), 18)
    assert service.remind_overdue(friday) == {"officer_reminders": 0, "supervisor_reminders": 0}

    monday = at(dt.date(2026, 3, 9), 0)
    assert service.remind_overdue(monday) == {"officer_reminders": 1, "supervisor_reminders": 0}
    assert service.remind_overdue(monday) == {"officer_reminders": 0, "supervisor_reminders": 0}
    assert service.remind_overdue(monday + dt.timedelta(hours=1))["officer_reminders"] == 0
    assert len(notifications(world.officer, overdue_kind)) == 1
    assert notifications(world.officer, overdue_kind)[0].link == detail_url(item)
    assert not notifications(world.supervisor, overdue_kind)
    assert stored(item)["officer_reminded_at"] == monday

    # Two working days after the officer's reminder: Wednesday, not Tuesday.
    tuesday = at(dt.date(2026, 3, 10), 23)
    assert service.remind_overdue(tuesday)["supervisor_reminders"] == 0
    wednesday = at(dt.date(2026, 3, 11), 0)
    assert service.remind_overdue(wednesday) == {"officer_reminders": 0, "supervisor_reminders": 1}
    assert service.remind_overdue(wednesday)["supervisor_reminders"] == 0
    assert service.remind_overdue(wednesday + dt.timedelta(days=3)) == {
        "officer_reminders": 0,
        "supervisor_reminders": 0,
    }
    assert len(notifications(world.supervisor, overdue_kind)) == 1
    assert len(notifications(world.officer, overdue_kind)) == 1
    # Only the team's supervisors (the administrator's account reads no case content;
    # the other team's supervisor has nothing to do with it).
    for nobody in ("admin", "other_supervisor", "officer2", "rep"):
        assert not notifications(getattr(world, nobody), overdue_kind), nobody
    assert stored(item)["supervisor_reminded_at"] == wednesday
    reminders = AuditEvent.objects.filter(
        action=Action.NOTIFY, target_id=str(item.pk), detail__kind="information_overdue"
    )
    assert sorted((e.detail["stage"], e.detail["recipients"][0]) for e in reminders) == [
        ("officer", world.officer.pk),
        ("supervisor", world.supervisor.pk),
    ]


def test_the_supervisor_reminder_counts_working_days_over_a_weekend(world: World) -> None:
    InformationRequest.objects.exclude(pk=world.item.pk).delete()
    InformationRequest.objects.filter(pk=world.item.pk).update(due_on=dt.date(2026, 3, 5))
    friday_evening = at(dt.date(2026, 3, 6), 20)  # due Thursday: reminded on Friday
    assert service.remind_overdue(friday_evening)["officer_reminders"] == 1
    for day in (dt.date(2026, 3, 7), dt.date(2026, 3, 8), dt.date(2026, 3, 9)):
        assert service.remind_overdue(at(day, 23))["supervisor_reminders"] == 0, day
    assert service.remind_overdue(at(dt.date(2026, 3, 10), 0))["supervisor_reminders"] == 1


def test_answered_requests_remind_nobody(world: World) -> None:
    service.answer(world.officer, world.late, "Answered in time after all.")
    later = timezone.now() + dt.timedelta(days=30)
    # Only the requests still unanswered (due in five working days, on both teams).
    assert service.remind_overdue(later) == {"officer_reminders": 2, "supervisor_reminders": 0}
    week_on = later + dt.timedelta(days=7)
    assert service.remind_overdue(week_on) == {"officer_reminders": 0, "supervisor_reminders": 2}
    assert stored(world.late)["officer_reminded_at"] is None
    assert stored(world.late)["supervisor_reminded_at"] is None
    links = Notification.objects.filter(kind=NotificationKind.INFORMATION_OVERDUE).values_list(
        "link", flat=True
    )
    assert detail_url(world.late) not in set(links)


def test_the_beat_task_reminds_once_however_often_it_runs(world: World) -> None:
    assert "victims.tasks.remind_overdue" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    tasks.remind_overdue()
    tasks.remind_overdue()
    reminded = notifications(world.officer, NotificationKind.INFORMATION_OVERDUE)
    assert [n.link for n in reminded] == [detail_url(world.late)]
    assert stored(world.item)["officer_reminded_at"] is None  # not due yet


def test_a_claimed_reminder_is_not_sent_again_by_a_concurrent_run(world: World) -> None:
    """The claim is a conditional UPDATE: a run that read the candidates before another
    run claimed them claims nothing (as a second worker would)."""
    now = timezone.now()
    assert service._remind(world.late.pk, now, "officer") == 1
    assert service._remind(world.late.pk, now, "officer") == 0
    assert len(notifications(world.officer, NotificationKind.INFORMATION_OVERDUE)) == 1


# --- Who may do what, route by route -------------------------------------------------------

READERS = {"officer", "officer2", "supervisor", "rep", "rep2", "guest_rep"}
ASKERS = {"rep", "rep2"}
# Those who see the case (and so get a 403 from its forms rather than a 404).
SEE_CASE = READERS | {"treatment", "polygraph"}
EVERYONE = (
    "officer",
    "officer2",
    "supervisor",
    "rep",
    "rep2",
    "treatment",
    "polygraph",
    "other_officer",
    "other_supervisor",
    "other_rep",
    "former_rep",
    "guest_rep",
    "admin",
)


def _expect_page(who: str, allowed: set[str]) -> int:
    if who in allowed:
        return 200
    return 403 if who in SEE_CASE else 404


@pytest.mark.parametrize("who", EVERYONE)
def test_route_permissions(world: World, who: str) -> None:
    user: User = getattr(world, who)
    page, client = web(user), api(user)
    response: Any  # pages' and the API's
    item = world.item
    before = stored(item)
    count = InformationRequest.objects.count()

    # The ask form (a case page): representatives of the case's team only.
    response = page.get(ask_url(world.case))
    assert response.status_code == _expect_page(who, ASKERS), who
    if response.status_code == 404:
        assert denied(user, world.case), who
    response = page.post(
        ask_url(world.case), {"victim": world.victim.pk, "topic": "other", "question": who}
    )
    assert response.status_code == (302 if who in ASKERS else _expect_page(who, ASKERS)), who
    response = client.post(
        API,
        {"case": world.case.pk, "victim": world.victim.pk, "topic": "other", "question": who},
        format="json",
    )
    wanted = 201 if who in ASKERS else 403 if who in SEE_CASE else 400
    assert response.status_code == wanted, who
    asked = InformationRequest.objects.filter(question=who).count()
    assert asked == (2 if who in ASKERS else 0), who
    assert InformationRequest.objects.count() == count + asked

    # The request: its page and the API detail, 200 for readers, 404 (recorded) otherwise.
    response = page.get(detail_url(item))
    assert response.status_code == (200 if who in READERS else 404), who
    if who not in READERS:
        assert denied(user, item), who
        assert QUESTION not in html(response)
    assert client.get(f"{API}{item.pk}/").status_code == (200 if who in READERS else 404)
    ids = {row["id"] for row in client.get(f"{API}?page_size=100").json()["results"]}
    readable = {world.item.pk, world.late.pk} if who in READERS else set()
    if who.startswith("other_"):
        readable = {world.other_item.pk}
    assert ids - {r.pk for r in InformationRequest.objects.filter(question=who)} == readable
    assert page.get(LIST).status_code == 200

    # Answering: the officer who holds the case; another officer of the team is told it
    # is not theirs (400, on the field); readers in other roles 403; anyone else 404.
    text = f"answer by {who}"
    answer_status = {"officer": 302, "officer2": 400}.get(who, 403 if who in READERS else 404)
    response = page.post(detail_url(item), {"action": "answer", "answer": text})
    assert response.status_code == answer_status, who
    if who != "officer":
        assert stored(item) == before, who
        api_status = 200 if answer_status == 302 else answer_status
        response = client.post(f"{API}{item.pk}/answer/", {"answer": text}, format="json")
        assert response.status_code == api_status, who
        assert stored(item) == before, who
        service.answer(world.officer, item, ANSWER)  # for the relay below
    item.refresh_from_db()
    answered = stored(item)

    # Relaying: representatives of the case's team (by membership).
    note = f"relayed by {who}"
    relay_status = 302 if who in ASKERS else 403 if who in READERS else 404
    if who not in ASKERS:
        response = page.post(detail_url(item), {"action": "relay", "relay_note": note})
        assert response.status_code == relay_status, who
        response = client.post(f"{API}{item.pk}/relay/", {"relay_note": note}, format="json")
        assert response.status_code == (200 if relay_status == 302 else relay_status), who
        assert stored(item) == answered, who
    else:
        response = client.post(f"{API}{item.pk}/relay/", {"relay_note": note}, format="json")
        assert response.status_code == 200, who
        assert stored(item)["relayed_by_id"] == user.pk


def test_signed_out(world: World) -> None:
    page, client = web(None), api(None)
    response: Any
    for url in (ask_url(world.case), LIST, detail_url(world.item)):
        response = page.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = page.post(detail_url(world.item), {"action": "answer", "answer": "x"})
    assert response.status_code == 302
    assert client.get(API).status_code == 401
    assert client.get(f"{API}{world.item.pk}/").status_code == 401
    for action in ("answer", "relay"):
        response = client.post(f"{API}{world.item.pk}/{action}/", {}, format="json")
        assert response.status_code == 401
    assert client.post(API, {}, format="json").status_code == 401
    assert stored(world.item)["answered_at"] is None


def test_the_services_refuse_other_roles(world: World) -> None:
    for who in ("officer", "supervisor", "treatment", "guest_rep", "other_rep"):
        with pytest.raises(PermissionDenied):
            service.ask(getattr(world, who), world.case, world.victim, "other", "Q")
    for who in ("rep", "supervisor", "treatment", "other_officer"):
        with pytest.raises(PermissionDenied):
            service.answer(getattr(world, who), world.item, "A")
    service.answer(world.officer, world.item, "A")
    for who in ("officer", "supervisor", "guest_rep", "other_rep"):
        with pytest.raises(PermissionDenied):
            service.relay(getattr(world, who), world.item, "N")
    assert stored(world.item)["relayed_at"] is None


def test_a_page_get_is_the_only_method_besides_post(world: World) -> None:
    page = web(world.officer)
    assert page.put(detail_url(world.item)).status_code == 405
    assert page.delete(ask_url(world.case)).status_code == 405
    client = api(world.officer)
    assert client.delete(f"{API}{world.item.pk}/").status_code == 405
    assert client.patch(f"{API}{world.item.pk}/", {}, format="json").status_code == 405
    assert client.get(f"{API}{world.item.pk}/answer/").status_code == 405


# --- Query counts ------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_pages_queries_do_not_grow_with_rows(world: World, record_property: Any) -> None:
    def measure() -> dict[str, int]:
        counts = {
            "rep list": _queries(web(world.rep), LIST),
            "officer list": _queries(web(world.officer), LIST),
            "supervisor list": _queries(web(world.supervisor), LIST),
            "rep detail": _queries(web(world.rep), detail_url(world.item)),
            "officer detail": _queries(web(world.officer), detail_url(world.item)),
        }
        with CaptureQueriesContext(connection) as captured:
            assert api(world.rep).get(f"{API}?page_size=100").status_code == 200
        counts["api list"] = len(captured)
        return counts

    few = measure()
    for n in range(10):
        victim = f.make_victim()
        f.link_victim(world.case, victim, representative=world.rep)
        service.ask(world.rep, world.case, victim, RequestTopic.COMPLIANCE, f"More {n}")
    many = measure()
    record_property("information_request_queries", many)
    assert many == few
