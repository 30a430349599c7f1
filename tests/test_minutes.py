"""Minutes, action items and decisions taken at a review meeting (issue 7, A2): minutes
at the levels their writer may choose and read by level; action items with an owner and
a due date, whose reminder (teams.reminders rows) is planned, moved and cancelled; a
decision drafted from an agenda item and listed under it; bad input refused with field
errors and nothing saved."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import RequestFactory
from django.utils import timezone

from casework import agenda, decisions, minutes
from casework.agenda_views import agenda_context
from casework.meeting_models import ActionItem, AgendaItem, AgendaReason, MinuteEntry
from casework.models import CaseDecision, DecisionKind
from teams import ics
from teams.disclosure import DisclosureLevel, Info
from teams.disclosure.policy import codename
from teams.models import MeetingStatus, NotificationKind, Reminder, ReminderStatus, ReviewMeeting
from tests import factories as f
from tests.agenda_world import EVERYONE, World, api, build_world, codes_on, invite_guest, web

pytestmark = pytest.mark.django_db

LOCAL = zoneinfo.ZoneInfo(settings.TIME_ZONE)


@pytest.fixture
def world() -> World:
    world = build_world()
    agenda.build(world.meeting)
    return world


def review_item(world: World, key: str = "due_never") -> AgendaItem:
    return AgendaItem.objects.select_related("meeting", "case").get(
        meeting=world.meeting, case=world.cases[key], reason=AgendaReason.REVIEW_DUE
    )


def in_days(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


# --- Minutes ----------------------------------------------------------------------------------


def test_minutes_are_recorded_and_mark_the_item_discussed(world: World) -> None:
    item = review_item(world)
    entry = minutes.record_minutes(
        world.supervisor, item, "  Agreed to keep the curfew.  ", DisclosureLevel.SUPERVISION
    )
    assert entry.body == "Agreed to keep the curfew."
    assert entry.case_id == item.case_id and entry.author == world.supervisor
    item.refresh_from_db()
    assert item.discussed_at is not None


@pytest.mark.parametrize(
    ("body", "level", "errors"),
    [
        ("", DisclosureLevel.TEAM, {"body"}),
        ("   ", DisclosureLevel.TEAM, {"body"}),
        ("Minutes", DisclosureLevel.RESTRICTED, {"disclosure_level"}),
        ("Minutes", DisclosureLevel.VICTIM_SERVICES, {"disclosure_level"}),
        ("Minutes", "everyone", {"disclosure_level"}),
        ("", "", {"body", "disclosure_level"}),
        ("x" * 20001, DisclosureLevel.TEAM, {"body"}),
    ],
)
def test_bad_minutes_are_refused_and_nothing_is_saved(
    world: World, body: str, level: str, errors: set[str]
) -> None:
    item = review_item(world)
    with pytest.raises(ValidationError) as caught:
        minutes.record_minutes(world.officer, item, body, level)
    assert set(caught.value.message_dict) == errors
    assert not MinuteEntry.objects.exists()
    item.refresh_from_db()
    assert item.discussed_at is None


@pytest.mark.parametrize("who", ["rep", "treatment", "polygraph", "guest"])
def test_only_the_officer_and_supervisor_keep_minutes(world: World, who: str) -> None:
    with pytest.raises(PermissionDenied):
        minutes.record_minutes(world.people[who], review_item(world), "Minutes", "team")
    assert not MinuteEntry.objects.exists()


def test_minutes_on_a_cancelled_meeting_are_refused(world: World) -> None:
    ReviewMeeting.objects.filter(pk=world.meeting.pk).update(status=MeetingStatus.CANCELLED)
    with pytest.raises(ValidationError) as caught:
        minutes.record_minutes(world.officer, review_item(world), "Minutes", "team")
    assert "__all__" in caught.value.message_dict
    assert not MinuteEntry.objects.exists()


@pytest.mark.parametrize("who", EVERYONE)
def test_minutes_are_read_by_level(world: World, who: str) -> None:
    item = review_item(world)
    written = {
        level: minutes.record_minutes(world.officer, item, f"At {level}", level).pk
        for level in minutes.minute_levels(decisions.case_access(world.officer, item.case))
    }
    assert set(written) == {
        DisclosureLevel.TEAM,
        DisclosureLevel.SUPERVISION,
        DisclosureLevel.SUPERVISION_AND_VICTIM_SERVICES,
    }
    shown = {e.pk for e in minutes.visible_minutes(world.people[who], [item])[item.pk]}
    codes = codes_on(world, who, item.case)
    expected = {
        pk for level, pk in written.items() if codename(Info.MEETING_MINUTES, level) in codes
    }
    if who in ("other_officer", "former", "admin"):
        assert expected == set()
    assert shown == expected


# --- Action items and their reminders -------------------------------------------------------


def test_an_action_plans_its_owners_reminder(world: World) -> None:
    item = review_item(world)
    due = in_days(10)
    action = minutes.create_action(world.officer, item, world.treatment.pk, "Send the plan", due)
    assert action.owner == world.treatment and action.created_by == world.officer
    item.refresh_from_db()
    assert item.discussed_at is not None
    row = Reminder.objects.get()
    assert row.key == f"action:{action.pk}:due:{due.isoformat()}:user:{world.treatment.pk}"
    assert row.kind == NotificationKind.ACTION_DUE
    assert row.recipient == world.treatment
    assert row.status == ReminderStatus.PENDING
    days = settings.ACTION_DUE_REMINDER_DAYS
    assert row.send_at == dt.datetime.combine(
        due - dt.timedelta(days=days), dt.time(8), tzinfo=LOCAL
    )
    assert row.title == f"Action item due {due:%d %b %Y}: case {item.case.reference}"
    assert "Send the plan" not in row.title
    assert row.link == f"{ics.meeting_link(world.meeting)}#item-{item.pk}"


def test_an_action_due_soon_is_reminded_now(world: World) -> None:
    before = timezone.now()
    minutes.create_action(world.officer, review_item(world), world.rep, "Call", in_days(0))
    assert before <= Reminder.objects.get().send_at <= timezone.now()


def test_moving_the_due_date_moves_the_reminder_and_done_cancels_it(world: World) -> None:
    action = minutes.create_action(
        world.officer, review_item(world), world.treatment, "Send the plan", in_days(10)
    )
    first = Reminder.objects.get()
    minutes.update_action(world.supervisor, action, due_on=in_days(20))
    first.refresh_from_db()
    assert first.status == ReminderStatus.CANCELLED
    moved = Reminder.objects.get(status=ReminderStatus.PENDING)
    assert f":due:{in_days(20).isoformat()}:" in moved.key
    # Back to the first date: its row waits again (its key is unique).
    minutes.update_action(world.supervisor, action, due_on=in_days(10))
    first.refresh_from_db()
    assert first.status == ReminderStatus.PENDING
    assert Reminder.objects.filter(status=ReminderStatus.PENDING).count() == 1
    # Done, by its owner: nothing left to remind.
    minutes.update_action(world.treatment, action, done=True)
    action.refresh_from_db()
    assert action.done_at is not None
    assert not Reminder.objects.filter(status=ReminderStatus.PENDING).exists()


def test_the_items_guest_may_own_an_action(world: World) -> None:
    action = minutes.create_action(
        world.supervisor, review_item(world), world.guest, "Share the assessment", in_days(3)
    )
    assert action.owner == world.guest
    # Not on another case's item.
    with pytest.raises(ValidationError) as caught:
        minutes.create_action(
            world.supervisor, review_item(world, "due_past"), world.guest, "x", in_days(3)
        )
    assert set(caught.value.message_dict) == {"owner"}


@pytest.mark.parametrize(
    ("owner", "text", "due", "errors"),
    [
        ("treatment", "", 3, {"text"}),
        ("treatment", "x" * 301, 3, {"text"}),
        ("treatment", "Do it", -1, {"due_on"}),
        ("treatment", "Do it", None, {"due_on"}),
        ("other_officer", "Do it", 3, {"owner"}),
        ("former", "Do it", 3, {"owner"}),
        ("admin", "Do it", 3, {"owner"}),
        (None, "", -5, {"owner", "text", "due_on"}),
    ],
)
def test_bad_actions_are_refused_and_nothing_is_saved(
    world: World, owner: str | None, text: str, due: int | None, errors: set[str]
) -> None:
    person = world.people[owner] if owner else "nobody"
    with pytest.raises(ValidationError) as caught:
        minutes.create_action(
            world.officer,
            review_item(world),
            person,
            text,
            in_days(due) if due is not None else None,
        )
    assert set(caught.value.message_dict) == errors
    assert not ActionItem.objects.exists()
    assert not Reminder.objects.exists()


def test_who_may_change_an_action(world: World) -> None:
    action = minutes.create_action(
        world.officer, review_item(world), world.treatment, "Send the plan", in_days(10)
    )
    for who in ("rep", "polygraph", "guest"):
        with pytest.raises(PermissionDenied):
            minutes.update_action(world.people[who], action, done=True)
    with pytest.raises(PermissionDenied):
        minutes.update_action(world.treatment, action, due_on=in_days(12))  # the owner
    with pytest.raises(ValidationError) as caught:
        minutes.update_action(world.officer, action, due_on=in_days(-1))
    assert set(caught.value.message_dict) == {"due_on"}
    for who in ("rep", "polygraph", "guest", "treatment"):
        with pytest.raises(PermissionDenied):
            minutes.create_action(world.people[who], review_item(world), world.rep, "x", in_days(1))
    action.refresh_from_db()
    assert action.done_at is None and action.due_on == in_days(10)
    assert Reminder.objects.filter(status=ReminderStatus.PENDING).count() == 1


# --- Decisions taken at the meeting ---------------------------------------------------------

DRAFT = {"kind": DecisionKind.TREATMENT_CHANGE, "summary": "Move to the evening group"}


def test_a_decision_drafted_from_an_item_is_linked_and_listed_under_it(world: World) -> None:
    item = review_item(world)
    decision = decisions.create_decision(world.officer, item.case, DRAFT, agenda_item=item.pk)
    assert decision.agenda_item_id == item.pk

    def linked(who: str) -> list[int]:
        request = RequestFactory().get("/")
        request.user = world.people[who]
        rows = agenda_context(request, world.meeting)["agenda"].items
        return [d.pk for row in rows if row.item.pk == item.pk for d in row.decisions]

    # A draft: its author and the supervisors (the guest reads this case as one); the
    # others see the item without it.
    for who in ("officer", "supervisor", "guest"):
        assert linked(who) == [decision.pk], who
    for who in ("officer2", "rep", "treatment", "polygraph"):
        assert linked(who) == (
            [decision.pk]
            if codename(Info.DECISION_DRAFT) in codes_on(world, who, item.case)
            else []
        ), who


@pytest.mark.parametrize("which", ["other_case", "hidden", "missing", "cancelled"])
def test_a_decision_refuses_an_item_it_cannot_be_linked_to(world: World, which: str) -> None:
    case = world.due_never
    if which == "other_case":
        value = review_item(world, "due_past").pk
    elif which == "hidden":
        # A victim input item at the victim services level: the officer cannot see it.
        value = AgendaItem.objects.get(source_id=world.input_reps.pk).pk
    elif which == "missing":
        value = 999999
    else:
        value = review_item(world).pk
        ReviewMeeting.objects.filter(pk=world.meeting.pk).update(status=MeetingStatus.CANCELLED)
    count = CaseDecision.objects.count()
    with pytest.raises(ValidationError) as caught:
        decisions.create_decision(world.officer, case, DRAFT, agenda_item=value)
    assert set(caught.value.message_dict) == {"agenda_item"}
    assert CaseDecision.objects.count() == count


def test_the_decision_form_links_the_item(world: World) -> None:
    item = review_item(world)
    page = web(world.officer)
    url = f"/cases/{item.case_id}/decisions/new/"
    response = page.get(f"{url}?agenda_item={item.pk}")
    assert response.status_code == 200
    text = response.content.decode()
    assert "taken at the review meeting" in text
    assert f'name="agenda_item" value="{item.pk}"' in text
    response = page.post(url, {**DRAFT, "disclosure_level": "team", "agenda_item": item.pk})
    assert response.status_code == 302
    assert CaseDecision.objects.get(summary=DRAFT["summary"]).agenda_item_id == item.pk
    # An item of another case: the form again, with the error on the field.
    other = review_item(world, "due_past")
    response = page.post(
        url, {**DRAFT, "summary": "Second", "disclosure_level": "team", "agenda_item": other.pk}
    )
    assert response.status_code == 400
    assert "another case" in response.content.decode()
    assert not CaseDecision.objects.filter(summary="Second").exists()


def test_the_api_links_a_decision_to_an_item(world: World) -> None:
    item = review_item(world)
    client = api(world.officer)
    body = {**DRAFT, "case": item.case_id, "agenda_item": item.pk}
    response = client.post("/api/v1/decisions/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["agenda_item"] == item.pk
    body = {**body, "agenda_item": review_item(world, "due_past").pk}
    response = client.post("/api/v1/decisions/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"agenda_item"}


def test_guest_invited_later_owns_nothing_elsewhere(world: World) -> None:
    other = f.make_member(world.other_team, "treatment")
    invite_guest(world.meeting, other, world.due_past, world.supervisor)
    with pytest.raises(ValidationError):
        minutes.create_action(world.officer, review_item(world), other, "x", in_days(1))
    minutes.create_action(world.officer, review_item(world, "due_past"), other, "x", in_days(1))


def test_the_dashboard_lists_ones_open_action_items(world: World) -> None:
    item = review_item(world)
    mine = minutes.create_action(
        world.officer, item, world.rep, "Call the victim's advocate", in_days(5)
    )
    done = minutes.create_action(world.officer, item, world.rep, "Already done", in_days(6))
    minutes.update_action(world.rep, done, done=True)
    minutes.create_action(world.officer, item, world.treatment, "Someone else's", in_days(5))
    text = web(world.rep).get("/").content.decode()
    assert "My open action items" in text
    assert "Call the victim&#x27;s advocate" in text or "Call the victim's advocate" in text
    assert f"#item-{item.pk}" in text
    assert "Already done" not in text and "Someone else&#x27;s" not in text
    assert mine.pk in {a.pk for a in minutes.open_actions_for(world.rep)}
    assert "My open action items" not in web(world.polygraph).get("/").content.decode()
