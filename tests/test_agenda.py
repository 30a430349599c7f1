"""A review meeting's agenda (issue 7, A2): building it from the cases due for review,
decisions awaiting discussion, open duty-to-warn reports and new victim input (and
nothing else); each person's copy through the disclosure policy, in a constant number of
queries; members adding a case; close() moving the next review by the cadence; and who
may use each of the agenda's page routes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent, Outcome
from casework import agenda, minutes
from casework.agenda_views import agenda_context
from casework.meeting_models import ActionItem, AgendaItem, AgendaReason, MinuteEntry
from casework.models import Case, CaseDecision, DecisionKind, DecisionStatus, SupervisionLevel
from teams.disclosure import DisclosureLevel
from teams.models import MeetingAttendee, MeetingStatus, ReviewMeeting
from tests import factories as f
from tests.agenda_world import (
    EVERYONE,
    MEMBERS,
    SECRET,
    World,
    _decision,
    _input,
    _report,
    build_world,
    expected_copy,
    web,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def built(world: World) -> World:
    agenda.build(world.meeting)
    return world


def _items(meeting: ReviewMeeting) -> set[tuple[str, str, str, int]]:
    return {
        (item.case.reference, item.reason, item.source_label, item.source_id)
        for item in AgendaItem.objects.filter(meeting=meeting).select_related("case")
    }


# --- Building -------------------------------------------------------------------------------


def test_build_picks_each_reason_and_nothing_else(world: World) -> None:
    r = world.records
    added = agenda.build(world.meeting)
    expected = {
        ("C-AG-NEVER", AgendaReason.REVIEW_DUE, "", 0),
        ("C-AG-PAST", AgendaReason.REVIEW_DUE, "", 0),
        ("C-AG-DAY", AgendaReason.REVIEW_DUE, "", 0),
        ("C-AG-NEVER", AgendaReason.DECISION, "casework.casedecision", r["proposed"].pk),
        ("C-AG-NEVER", AgendaReason.DECISION, "casework.casedecision", r["approved"].pk),
        ("C-AG-NEVER", AgendaReason.DUTY_TO_WARN, "casework.dutytowarn", r["report"].pk),
        ("C-AG-NEVER", AgendaReason.VICTIM_INPUT, "victims.victiminput", r["input_team"].pk),
        ("C-AG-NEVER", AgendaReason.VICTIM_INPUT, "victims.victiminput", r["input_reps"].pk),
        ("C-AG-LATER", AgendaReason.VICTIM_INPUT, "victims.victiminput", r["input_not_due"].pk),
    }
    assert _items(world.meeting) == expected
    assert added == len(expected)
    titles = {
        (item.reason, item.source_id): item.title
        for item in AgendaItem.objects.filter(meeting=world.meeting)
    }
    assert titles[(AgendaReason.DECISION, r["proposed"].pk)] == (
        "Decision awaiting discussion: residence approval"
    )
    assert titles[(AgendaReason.DUTY_TO_WARN, r["report"].pk)] == (
        "Open duty-to-warn report (within hours)"
    )
    assert titles[(AgendaReason.VICTIM_INPUT, r["input_team"].pk)] == "Victim input received"
    review_titles = {
        item.case.reference: item.title
        for item in AgendaItem.objects.filter(
            meeting=world.meeting, reason=AgendaReason.REVIEW_DUE
        ).select_related("case")
    }
    assert review_titles["C-AG-NEVER"] == "First review"
    assert review_titles["C-AG-PAST"].startswith("Review due ")
    # Never the records' text; danger first.
    assert not any(SECRET in title for title in titles.values())
    first = AgendaItem.objects.filter(meeting=world.meeting).order_by("position").first()
    assert first is not None and first.reason == AgendaReason.DUTY_TO_WARN


def test_build_is_idempotent_and_never_removes_an_item(built: World) -> None:
    world = built
    before = _items(world.meeting)
    assert agenda.build(world.meeting) == 0
    assert _items(world.meeting) == before
    # A decision settled since stays on the agenda; a new report is added once.
    CaseDecision.objects.filter(pk=world.proposed.pk).update(
        status=DecisionStatus.FINAL, finalised_at=timezone.now()
    )
    report = _report(world.due_past, world.officer)
    assert agenda.build(world.meeting) == 1
    assert agenda.build(world.meeting) == 0
    assert _items(world.meeting) == before | {
        ("C-AG-PAST", AgendaReason.DUTY_TO_WARN, "casework.dutytowarn", report.pk)
    }


@pytest.mark.parametrize("status", [MeetingStatus.HELD, MeetingStatus.CANCELLED])
def test_only_a_scheduled_meeting_is_built(world: World, status: str) -> None:
    ReviewMeeting.objects.filter(pk=world.meeting.pk).update(status=status)
    world.meeting.refresh_from_db()
    assert agenda.build(world.meeting) == 0
    assert not AgendaItem.objects.exists()


def test_victim_input_is_new_since_the_previous_held_meeting(world: World) -> None:
    ReviewMeeting.objects.create(
        team=world.team,
        starts_at=timezone.now() - dt.timedelta(days=10),
        location="Room A",
        status=MeetingStatus.HELD,
    )
    before = _input(world.quiet, world.rep, DisclosureLevel.TEAM, days_ago=20)
    after = _input(world.quiet, world.rep, DisclosureLevel.TEAM, days_ago=5)
    agenda.build(world.meeting)
    inputs = set(
        AgendaItem.objects.filter(
            meeting=world.meeting, reason=AgendaReason.VICTIM_INPUT
        ).values_list("source_id", flat=True)
    )
    assert after.pk in inputs
    assert before.pk not in inputs
    # The input of a day ago is newer than that meeting too.
    assert world.input_team.pk in inputs


def test_refresh_upcoming_builds_the_next_two_weeks(world: World) -> None:
    now = timezone.now()
    later = ReviewMeeting.objects.create(
        team=world.team, starts_at=now + dt.timedelta(days=20), location="Room A"
    )
    cancelled = ReviewMeeting.objects.create(
        team=world.team,
        starts_at=now + dt.timedelta(days=5),
        location="Room A",
        status=MeetingStatus.CANCELLED,
    )
    added = agenda.refresh_upcoming(now=now)
    assert added == AgendaItem.objects.filter(meeting=world.meeting).count() > 0
    assert not AgendaItem.objects.filter(meeting__in=[later, cancelled]).exists()
    assert agenda.refresh_upcoming(now=now) == 0


# --- Each person's copy ---------------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_each_persons_copy_follows_the_policy(built: World, who: str) -> None:
    world = built
    user = world.people[who]
    copy = agenda.visible_items(world.meeting, user)
    assert {item.pk for item in copy} == expected_copy(world, who)
    # What the policy says, in words, for the roles the issue names.
    sources = {item.source_id for item in copy if item.source_label == "casework.casedecision"}
    inputs = {item.source_id for item in copy if item.source_label == "victims.victiminput"}
    if who in ("treatment", "polygraph", "rep"):
        assert not sources  # decisions awaiting discussion are drafts to them
    if who in ("officer", "supervisor"):
        assert sources == {world.proposed.pk, world.approved.pk}
    assert (world.input_reps.pk in inputs) == (who == "rep")
    if who == "guest":
        assert {item.case_id for item in copy} == {world.due_never.pk}
    if who in ("other_officer", "former", "admin"):
        assert copy == []


def _grow(world: World, n: int) -> None:
    """n more due cases, each with a decision, a report and victim input."""
    for _ in range(n):
        case = f.make_case(world.team, officer=world.officer)
        _decision(case, world.officer, DecisionStatus.PROPOSED, DecisionKind.TRAVEL)
        _report(case, world.officer)
        _input(case, world.rep, DisclosureLevel.TEAM)
    agenda.build(world.meeting)


def _context(world: World, who: str) -> dict[str, Any]:
    request = RequestFactory().get("/")
    request.user = world.people[who]
    return agenda_context(request, world.meeting)


@pytest.mark.parametrize("who", ["supervisor", "treatment", "guest"])
def test_queries_do_not_grow_with_the_agenda(built: World, who: str) -> None:
    world = built
    user = world.people[who]
    action = minutes.create_action(
        world.officer,
        AgendaItem.objects.filter(meeting=world.meeting, reason=AgendaReason.REVIEW_DUE)[0],
        world.treatment,
        "Call the treatment provider",
        timezone.localdate() + dt.timedelta(days=7),
    )
    assert action.pk

    def measure() -> tuple[int, int, int]:
        with CaptureQueriesContext(connection) as items:
            shown = agenda.visible_items(world.meeting, user)
        with CaptureQueriesContext(connection) as page:
            _context(world, who)
        return len(items), len(page), len(shown)

    few_items, few_page, few = measure()
    _grow(world, 6)
    many_items, many_page, many = measure()
    assert many > few or who == "guest"
    # The items (1), and one per kind of source record present.
    assert few_items == many_items <= 4
    assert few_page == many_page


# --- Adding a case ----------------------------------------------------------------------------


def test_a_member_adds_a_case(world: World) -> None:
    item = agenda.add_case(world.rep, world.meeting, world.quiet.pk)
    assert item.reason == AgendaReason.ADDED
    assert item.added_by == world.rep
    assert item.title == f"Added by {world.rep.get_full_name()}"
    assert item.pk in {i.pk for i in agenda.visible_items(world.meeting, world.treatment)}


@pytest.mark.parametrize(
    ("who", "case_key", "message"),
    [
        ("officer", "other_team", "Choose a case you can see."),
        ("officer", "closed", "Only an active case can be added to the agenda."),
        ("guest", "quiet", "Choose a case you can see."),
        ("officer", None, "Choose a case you can see."),
    ],
)
def test_adding_a_case_refuses_bad_input(
    world: World, who: str, case_key: str | None, message: str
) -> None:
    case_id = world.cases[case_key].pk if case_key else "not-a-number"
    with pytest.raises(ValidationError) as caught:
        agenda.add_case(world.people[who], world.meeting, case_id)
    assert caught.value.message_dict == {"case": [message]}
    assert not AgendaItem.objects.exists()


def test_a_case_of_another_team_the_person_can_see_is_refused(world: World) -> None:
    other = f.make_member(world.other_team, "officer")
    f.make_membership(other, world.team, "officer")
    MeetingAttendee.objects.create(meeting=world.meeting, user=other)
    with pytest.raises(ValidationError) as caught:
        agenda.add_case(other, world.meeting, world.cases["other_team"].pk)
    assert caught.value.message_dict == {"case": ["Choose a case of the meeting's team."]}


def test_adding_twice_and_outsiders(world: World) -> None:
    agenda.add_case(world.officer, world.meeting, world.quiet.pk)
    with pytest.raises(ValidationError):
        agenda.add_case(world.supervisor, world.meeting, world.quiet.pk)
    for who in ("other_officer", "former", "admin"):
        with pytest.raises(PermissionDenied):
            agenda.add_case(world.people[who], world.meeting, world.quiet.pk)
    assert AgendaItem.objects.count() == 1


# --- Closing: the review cadence ------------------------------------------------------------------


def test_close_moves_the_next_review_by_the_cadence(built: World) -> None:
    world = built
    day = agenda.meeting_day(world.meeting)
    Case.objects.filter(pk=world.due_past.pk).update(next_review_due=None)
    world.due_past.supervisee.supervision_level = SupervisionLevel.INTENSIVE
    world.due_past.supervisee.save()
    later = day + dt.timedelta(days=400)
    Case.objects.filter(pk=world.due_on_day.pk).update(next_review_due=later)
    discussed = [world.due_never.pk, world.due_past.pk, world.due_on_day.pk]
    AgendaItem.objects.filter(
        meeting=world.meeting, case_id__in=discussed, reason=AgendaReason.REVIEW_DUE
    ).update(discussed_at=timezone.now())
    # Not held yet: nothing moves.
    assert agenda.close(world.meeting) == 0
    ReviewMeeting.objects.filter(pk=world.meeting.pk).update(status=MeetingStatus.HELD)
    world.meeting.refresh_from_db()
    assert agenda.close(world.meeting) == 2
    due = dict(Case.objects.values_list("reference", "next_review_due"))
    cadence = settings.REVIEW_CADENCE_DAYS
    assert due["C-AG-NEVER"] == day + dt.timedelta(days=cadence[SupervisionLevel.MEDIUM])
    assert due["C-AG-PAST"] == day + dt.timedelta(days=cadence[SupervisionLevel.INTENSIVE])
    assert due["C-AG-DAY"] == later  # already later: unchanged
    assert due["C-AG-LATER"] == day + dt.timedelta(days=1)  # not discussed: unchanged
    assert agenda.close(world.meeting) == 0  # again: nothing left to move


# --- The page routes ----------------------------------------------------------------------------

SEE_MEETING = {*MEMBERS, "guest"}
KEEPERS = {"officer", "officer2", "supervisor"}


def _status_on_item(who: str, allowed: set[str], sees_item: bool) -> int:
    if who in allowed:
        return 302
    return 403 if sees_item else 404


@pytest.mark.parametrize("who", EVERYONE)
def test_route_permissions(built: World, who: str) -> None:
    world = built
    user = world.people[who]
    page = web(user)
    review = AgendaItem.objects.get(
        meeting=world.meeting, case=world.due_never, reason=AgendaReason.REVIEW_DUE
    )
    decision_item = AgendaItem.objects.get(source_id=world.proposed.pk)
    sees_review = review.pk in expected_copy(world, who)
    sees_decision = decision_item.pk in expected_copy(world, who)
    due = (timezone.localdate() + dt.timedelta(days=5)).isoformat()

    # Add a case: any attendee who can see it (the guest cannot see this one).
    response = page.post(f"/meetings/{world.meeting.pk}/agenda/add/", {"add-case": world.quiet.pk})
    wanted = 302 if who in MEMBERS else 400 if who == "guest" else 404
    assert response.status_code == wanted, who
    assert AgendaItem.objects.filter(reason=AgendaReason.ADDED).count() == (
        1 if who in MEMBERS else 0
    )

    # Minutes and actions: the team's officer and supervisor, on items they see.
    for item, sees in ((review, sees_review), (decision_item, sees_decision)):
        response = page.post(
            f"/agenda-items/{item.pk}/minutes/",
            {
                f"minutes-{item.pk}-body": f"minutes by {who}",
                f"minutes-{item.pk}-disclosure_level": "team",
            },
        )
        assert response.status_code == _status_on_item(who, KEEPERS, sees), (who, item.reason)
        response = page.post(
            f"/agenda-items/{item.pk}/actions/",
            {
                f"action-{item.pk}-text": f"action by {who}",
                f"action-{item.pk}-owner": world.treatment.pk,
                f"action-{item.pk}-due_on": due,
            },
        )
        assert response.status_code == _status_on_item(who, KEEPERS, sees), (who, item.reason)
        if not sees:
            assert AuditEvent.objects.filter(
                actor=user, outcome=Outcome.DENIED, target_id=str(item.pk)
            ).exists(), who
    saved = 2 if who in KEEPERS else 0
    assert MinuteEntry.objects.filter(body=f"minutes by {who}").count() == saved
    assert ActionItem.objects.filter(text=f"action by {who}").count() == saved

    # Done: the owner (treatment), the officer and the supervisor.
    action = minutes.create_action(
        world.officer, review, world.treatment, "Owned by treatment", timezone.localdate()
    )
    response = page.post(f"/action-items/{action.pk}/done/")
    allowed = KEEPERS | {"treatment"}
    assert response.status_code == _status_on_item(who, allowed, sees_review), who
    action.refresh_from_db()
    assert (action.done_at is not None) == (who in allowed), who


def test_signed_out_is_sent_to_sign_in(built: World) -> None:
    page = web(None)
    item = AgendaItem.objects.filter(meeting=built.meeting).first()
    assert item is not None
    for url in (
        f"/meetings/{built.meeting.pk}/agenda/add/",
        f"/agenda-items/{item.pk}/minutes/",
        f"/agenda-items/{item.pk}/actions/",
        "/action-items/1/done/",
    ):
        response = page.post(url, {})
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
        assert page.get(url).status_code in (302, 405), url


@pytest.mark.parametrize("who", EVERYONE)
def test_the_meeting_page_shows_each_persons_copy(built: World, who: str) -> None:
    world = built
    response = web(world.people[who]).get(f"/meetings/{world.meeting.pk}/")
    if who not in SEE_MEETING:
        assert response.status_code == 404
        return
    assert response.status_code == 200
    text = response.content.decode()
    expected = expected_copy(world, who)
    for item in AgendaItem.objects.filter(meeting=world.meeting):
        assert (f'id="item-{item.pk}"' in text) == (item.pk in expected), (who, item.reason)
    assert SECRET not in text
    # Forms by role: minutes and actions for the team's officer and supervisor only.
    assert ("Record the minutes" in text) == (who in KEEPERS)
    assert ("Draft a decision" in text) == (who in {"officer", "officer2"})
    assert ("Add to the agenda" in text) == (who in SEE_MEETING)


def test_bad_input_shows_the_meeting_page_again_with_what_was_typed(built: World) -> None:
    world = built
    page = web(world.officer)
    item = AgendaItem.objects.get(
        meeting=world.meeting, case=world.due_never, reason=AgendaReason.REVIEW_DUE
    )
    response = page.post(
        f"/agenda-items/{item.pk}/minutes/",
        {f"minutes-{item.pk}-body": "   ", f"minutes-{item.pk}-disclosure_level": "supervision"},
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "Write what was discussed or agreed." in text
    assert 'value="supervision" selected' in text
    response = page.post(
        f"/agenda-items/{item.pk}/minutes/",
        {
            f"minutes-{item.pk}-body": "Kept text",
            f"minutes-{item.pk}-disclosure_level": "restricted",
        },
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "Kept text" in text and "cannot share minutes at that level" in text
    past = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    response = page.post(
        f"/agenda-items/{item.pk}/actions/",
        {
            f"action-{item.pk}-text": "Typed action",
            f"action-{item.pk}-owner": world.other_officer.pk,
            f"action-{item.pk}-due_on": past,
        },
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert 'value="Typed action"' in text and past in text
    assert "Choose a member of the team" in text
    response = page.post(
        f"/agenda-items/{item.pk}/actions/",
        {
            f"action-{item.pk}-text": "Typed action",
            f"action-{item.pk}-owner": world.treatment.pk,
            f"action-{item.pk}-due_on": past,
        },
    )
    assert response.status_code == 400
    assert "The due date is in the past" in response.content.decode()
    response = page.post(f"/meetings/{world.meeting.pk}/agenda/add/", {"add-case": world.closed.pk})
    assert response.status_code == 400
    assert "Choose a case of the meeting" in response.content.decode()
    assert not MinuteEntry.objects.exists() and not ActionItem.objects.exists()
    assert not AgendaItem.objects.filter(reason=AgendaReason.ADDED).exists()
