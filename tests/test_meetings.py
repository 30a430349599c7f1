"""Review meetings (issue 7): the services (teams.meetings, casework.meeting_schedule,
casework.meeting_guests) and the pages (casework.meeting_views).

Services: scheduling with members and guests, every kind of bad input (nothing saved),
series generated once, moving and cancelling (Reminder rows and the sequence), answers,
attendance. Pages: every route for each role of the team, another team's officer, a
guest invited for one case, a former member, the system administrator and someone
signed out; the agenda each sees; the calendar file; the list's query count.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from audit.models import Action, AuditEvent
from casework import meeting_schedule
from casework.meeting_guests import GuestRequest
from casework.meeting_models import AgendaItem, MeetingGuestCase
from casework.models import Case
from teams import meetings, recurrence, tasks
from teams.disclosure.grants import grant_case_access
from teams.models import (
    MeetingAttendee,
    MeetingSeries,
    MeetingStatus,
    NotificationKind,
    Reminder,
    ReminderStatus,
    ReviewMeeting,
    Rsvp,
)
from teams.roles import Role
from tests import factories as f
from tests.meeting_world import (
    GUEST_CASE,
    MANAGERS,
    MEMBERS,
    OTHER_CASE,
    PERSONAS,
    SEES,
    TITLE,
    World,
    details,
    first_tuesday_ahead,
    make_world,
    read_recorded,
    start_in_past,
)
from tests.services_world import denied, html, web

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return make_world()


def counts() -> tuple[int, int, int, int]:
    return (
        ReviewMeeting.objects.count(),
        MeetingAttendee.objects.count(),
        Reminder.objects.count(),
        MeetingSeries.objects.count(),
    )


def reminders_of(meeting: ReviewMeeting, **filters: Any) -> Any:
    return Reminder.objects.filter(meeting=meeting, **filters)


def invited_ids(world: World) -> set[int]:
    return {world.people[key].pk for key in (*MEMBERS, "guest")}


# --- Scheduling ---------------------------------------------------------------------------


def test_scheduling_invites_the_team_and_the_guest_plans_announces_and_builds_the_agenda(
    world: World,
) -> None:
    meeting = world.meeting
    rows = {row.user_id: row for row in MeetingAttendee.objects.filter(meeting=meeting)}
    # Every active member (not the former member, not the administrator) and the guest.
    assert set(rows) == invited_ids(world)
    assert [pk for pk, row in rows.items() if row.is_guest] == [world.guest.pk]
    assert MeetingGuestCase.objects.get(attendee=rows[world.guest.pk]).case == world.case
    planned = reminders_of(meeting, kind=NotificationKind.MEETING_REMINDER)
    assert planned.count() == len(rows) * 2
    assert set(planned.values_list("offset_minutes", flat=True)) == {2880, 120}
    assert all(
        r.send_at == meeting.starts_at - dt.timedelta(minutes=r.offset_minutes) for r in planned
    )
    invitations = reminders_of(meeting, kind=NotificationKind.MEETING_SCHEDULED)
    assert set(invitations.values_list("recipient_id", flat=True)) == set(rows)
    # Both cases are due for review: both are on the agenda.
    on_agenda = set(
        AgendaItem.objects.filter(meeting=meeting).values_list("case__reference", flat=True)
    )
    assert on_agenda == {GUEST_CASE, OTHER_CASE}
    assert meeting.created_by == world.officer and meeting.sequence == 0


def test_the_scheduler_may_leave_members_out(world: World) -> None:
    chosen = [world.officer.pk, world.rep.pk]
    meeting = meeting_schedule.schedule(world.supervisor, world.team, details(), chosen)
    assert set(meeting.attendance.values_list("user_id", flat=True)) == set(chosen)
    assert set(reminders_of(meeting).values_list("recipient_id", flat=True)) == set(chosen)


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"starts_at": timezone.now() - dt.timedelta(minutes=5)}, "starts_at", "has passed"),
        ({"starts_at": None}, "starts_at", "Enter the date"),
        ({"duration_minutes": 0}, "duration_minutes", "at least a minute"),
        ({"duration_minutes": 13 * 60}, "duration_minutes", "at most 12 hours"),
        ({"location": "", "call_link": ""}, "location", "place or a call link"),
        ({"call_link": "not a link"}, "call_link", "web address"),
        ({"reminder_offsets": [0]}, "reminder_offsets", "at least a minute"),
        ({"reminder_offsets": [-120]}, "reminder_offsets", "at least a minute"),
        ({"reminder_offsets": [30 * 24 * 60 + 1]}, "reminder_offsets", "at most 30 days"),
        ({"reminder_offsets": ["2h"]}, "reminder_offsets", "whole number of minutes"),
        ({"reminder_offsets": [10, 20, 30, 40, 50, 60]}, "reminder_offsets", "At most 5"),
    ],
)
def test_bad_input_is_a_field_error_and_saves_nothing(
    world: World, changes: dict[str, Any], field: str, says: str
) -> None:
    before = counts()
    with pytest.raises(ValidationError) as caught:
        meeting_schedule.schedule(world.officer, world.team, details(**changes))
    assert says in " ".join(caught.value.message_dict[field])
    assert counts() == before


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [
        ("48h, 2h", [2880, 120]),
        ("2d", [2880]),
        ("90m", [90]),
        ("1 day; 30 min", [1440, 30]),
        ("", []),
        ("2h, 120m", [120]),
    ],
)
def test_offsets_as_typed(typed: str, minutes: list[int]) -> None:
    assert meetings.parse_offsets(typed) == minutes


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("0h", "at least a minute"),
        ("-2h", "at least a minute"),
        ("31d", "at most 30 days"),
        ("721h", "at most 30 days"),
        ("48", "needs a unit"),
        ("soon", "is not a time before the meeting"),
        ("2w", "use h for hours"),
    ],
)
def test_bad_offsets_as_typed(typed: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        meetings.parse_offsets(typed)
    assert says in caught.value.message_dict["reminder_offsets"][0]


def test_offsets_are_shown_as_a_person_types_them() -> None:
    assert meetings.format_offsets([120, 2880, 90, 4320]) == "3d, 48h, 2h, 90m"


def test_attendees_must_be_members(world: World) -> None:
    before = counts()
    for chosen, says in (
        ([world.other_officer.pk], "Only active members"),
        ([world.former.pk], "Only active members"),
        ([], "at least one member"),
    ):
        with pytest.raises(ValidationError) as caught:
            meeting_schedule.schedule(world.officer, world.team, details(), chosen)
        assert says in caught.value.message_dict["attendees"][0]
    assert counts() == before


def test_an_outsider_without_an_invitation_to_the_case_is_refused(world: World) -> None:
    before = counts()
    with pytest.raises(ValidationError) as caught:
        meeting_schedule.schedule(
            world.officer,
            world.team,
            details(starts_at=None),
            guests=[GuestRequest("other-officer", world.case.pk)],
        )
    errors = caught.value.message_dict
    # Every problem at once: the field of the meeting and the guest.
    assert "starts_at" in errors
    assert errors["guests"] == [
        f"{world.other_officer.get_full_name()} holds no invitation to this case; invite "
        "them to the case first."
    ]
    assert counts() == before


def test_a_guest_whose_invitation_expired_is_refused(world: World) -> None:
    grant_case_access(
        world.other_officer,
        world.case,
        Role.OFFICER,
        granted_by=world.supervisor,
        reason="MDT",
        expires_at=timezone.now() - dt.timedelta(minutes=1),
    )
    before = counts()
    with pytest.raises(ValidationError) as caught:
        meeting_schedule.schedule(
            world.officer,
            world.team,
            details(),
            guests=[GuestRequest("other-officer", world.case.pk)],
        )
    assert "holds no invitation to this case" in caught.value.message_dict["guests"][0]
    assert counts() == before


def test_a_guest_is_invited_for_a_case_they_hold_an_invitation_to_only(world: World) -> None:
    # The guest's grant is on the guest case, not on the other one.
    with pytest.raises(ValidationError) as caught:
        meeting_schedule.schedule(
            world.officer,
            world.team,
            details(),
            guests=[GuestRequest(world.guest.pk, world.other_case.pk)],
        )
    assert "holds no invitation to this case" in caught.value.message_dict["guests"][0]
    other_team_case = f.make_case(world.other_team)
    for request, says in (
        (GuestRequest("nobody-here", world.case.pk), "Nobody active"),
        (GuestRequest("rep", world.case.pk), "is a member of this team"),
        (GuestRequest("admin", world.case.pk), "system administrator"),
        (GuestRequest("guest", other_team_case.pk), "Choose a case of this team"),
        (GuestRequest("guest", "x"), "Choose a case of this team"),
    ):
        with pytest.raises(ValidationError) as caught:
            meeting_schedule.schedule(world.officer, world.team, details(), guests=[request])
        assert says in caught.value.message_dict["guests"][0], request


@pytest.mark.parametrize(
    "who", ["rep", "treatment", "polygraph", "other_officer", "guest", "admin"]
)
def test_only_the_teams_officers_and_supervisors_schedule(world: World, who: str) -> None:
    before = counts()
    with pytest.raises(PermissionDenied):
        meeting_schedule.schedule(world.people[who], world.team, details())
    with pytest.raises(PermissionDenied):
        meeting_schedule.schedule_series(
            world.people[who], world.team, details(), "FREQ=MONTHLY;BYDAY=1TU"
        )
    assert counts() == before


# --- Recurring --------------------------------------------------------------------------


def test_a_series_generates_its_meetings_once(world: World) -> None:
    start = first_tuesday_ahead()
    series, created = meeting_schedule.schedule_series(
        world.supervisor, world.team, details(starts_at=start), "FREQ=MONTHLY;BYDAY=1TU"
    )
    now = timezone.now()
    expected = recurrence.occurrences(series.rule, start, now, meetings.horizon(now))
    assert [m.starts_at for m in created] == expected and len(created) >= 3
    for meeting in created:
        assert meeting.occurrence_of == meeting.starts_at and meeting.series == series
        local = timezone.localtime(meeting.starts_at)
        assert local.weekday() == 1 and local.day <= 7 and (local.hour, local.minute) == (10, 0)
        assert meeting.attendance.count() == len(MEMBERS)
        assert reminders_of(meeting, kind=NotificationKind.MEETING_REMINDER).count() == 2 * len(
            MEMBERS
        )
        assert reminders_of(meeting, kind=NotificationKind.MEETING_SCHEDULED).count() == len(
            MEMBERS
        )
        assert AgendaItem.objects.filter(meeting=meeting).exists()
    assert series.generated_until is not None
    before = counts()
    assert meetings.generate(series) == []
    assert tasks.extend_meeting_series() == 0
    assert counts() == before
    # A moved meeting keeps its occurrence: generating again does not make it twice.
    meeting_schedule.move(
        world.officer, created[0], {"starts_at": created[0].starts_at + dt.timedelta(days=1)}
    )
    assert meetings.generate(series) == []
    # Time passes: the next month's meeting comes into the horizon, once.
    later = now + dt.timedelta(days=40)
    new = meetings.extend_all(later)
    assert len(new) >= 1 and all(m.starts_at > expected[-1] for m in new)
    assert meetings.extend_all(later) == []


def test_a_series_rule_that_never_produces_or_is_malformed_saves_nothing(world: World) -> None:
    before = counts()
    for rule, says in (
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never produces a date"),
        ("FREQ=MONTHLY;BYDAY=1TU;COUNT=0", "COUNT=0"),
        ("FREQ=MONTHLY;UNTIL=20200101T000000Z", "UNTIL is before"),
        ("FREQ=SOMETIMES", "FREQ is"),
        ("", "Enter a recurrence rule"),
    ):
        with pytest.raises(ValidationError) as caught:
            meeting_schedule.schedule_series(world.officer, world.team, details(), rule)
        assert says in caught.value.message_dict["rule"][0], rule
    with pytest.raises(ValidationError) as caught:
        meeting_schedule.schedule_series(
            world.officer,
            world.team,
            details(starts_at=timezone.now() - dt.timedelta(days=1)),
            "FREQ=WEEKLY",
        )
    assert "starts_at" in caught.value.message_dict
    assert counts() == before


def test_ending_a_series_cancels_its_future_meetings(world: World) -> None:
    series, created = meeting_schedule.schedule_series(
        world.officer,
        world.team,
        details(starts_at=first_tuesday_ahead()),
        "FREQ=MONTHLY;BYDAY=1TU",
    )
    with pytest.raises(PermissionDenied):
        meetings.end_series(world.rep, series)
    cancelled = meetings.end_series(world.supervisor, series)
    assert {m.pk for m in cancelled} == {m.pk for m in created}
    for meeting in created:
        meeting.refresh_from_db()
        assert meeting.status == MeetingStatus.CANCELLED and meeting.sequence == 1
        assert not reminders_of(
            meeting, kind=NotificationKind.MEETING_REMINDER, status=ReminderStatus.PENDING
        ).exists()
        assert reminders_of(meeting, kind=NotificationKind.MEETING_CANCELLED).count() == len(
            MEMBERS
        )
    series.refresh_from_db()
    assert series.ended_at is not None
    assert meetings.extend_all(timezone.now() + dt.timedelta(days=60)) == []
    with pytest.raises(ValidationError) as caught:
        meetings.end_series(world.supervisor, series)
    assert "already ended" in caught.value.message_dict["ended_at"][0]


# --- Moving and cancelling ------------------------------------------------------------------


def test_moving_moves_the_reminders_and_raises_the_sequence(world: World) -> None:
    meeting = world.meeting
    new_start = meeting.starts_at + dt.timedelta(days=2, hours=1)
    assert meeting_schedule.move(
        world.supervisor, meeting, {"starts_at": new_start, "location": "Room 4"}
    )
    meeting.refresh_from_db()
    assert (meeting.starts_at, meeting.location, meeting.sequence) == (new_start, "Room 4", 1)
    for row in reminders_of(meeting, kind=NotificationKind.MEETING_REMINDER):
        assert row.status == ReminderStatus.PENDING
        assert row.send_at == new_start - dt.timedelta(minutes=row.offset_minutes)
    moved = reminders_of(meeting, kind=NotificationKind.MEETING_MOVED)
    assert set(moved.values_list("recipient_id", flat=True)) == invited_ids(world)
    # Nothing changed: nothing written, the sequence stays.
    assert not meeting_schedule.move(world.officer, meeting, {"location": "Room 4"})
    meeting.refresh_from_db()
    assert meeting.sequence == 1


def test_moving_is_checked_like_scheduling(world: World) -> None:
    meeting = world.meeting
    for who in ("rep", "treatment", "polygraph", "guest"):
        with pytest.raises(PermissionDenied):
            meeting_schedule.move(world.people[who], meeting, {"location": "Elsewhere"})
    for changes, field in (
        ({"starts_at": timezone.now() - dt.timedelta(hours=1)}, "starts_at"),
        ({"location": "", "call_link": ""}, "location"),
        ({"duration_minutes": -5}, "duration_minutes"),
        ({"title": "New"}, "title"),
    ):
        with pytest.raises(ValidationError) as caught:
            meeting_schedule.move(world.officer, meeting, changes)
        assert field in caught.value.message_dict
    meeting.refresh_from_db()
    assert meeting.sequence == 0 and meeting.location == "Conference room B"


def test_a_held_or_cancelled_meeting_cannot_be_moved_or_cancelled(world: World) -> None:
    meeting = world.meeting
    meetings.cancel(world.officer, meeting, "Court holiday")
    with pytest.raises(ValidationError) as caught:
        meeting_schedule.move(world.officer, meeting, {"location": "Room 9"})
    assert "cancelled" in caught.value.message_dict["status"][0]
    with pytest.raises(ValidationError):
        meetings.cancel(world.officer, meeting, "Again")
    held = meeting_schedule.schedule(world.officer, world.team, details())
    start_in_past(held)
    meeting_schedule.record_attendance(world.officer, held, [world.officer.pk])
    with pytest.raises(ValidationError) as caught:
        meeting_schedule.move(
            world.officer, held, {"starts_at": timezone.now() + dt.timedelta(days=1)}
        )
    assert "was held" in caught.value.message_dict["status"][0]


def test_cancelling_cancels_the_reminders_and_tells_the_attendees(world: World) -> None:
    meeting = world.meeting
    with pytest.raises(ValidationError) as caught:
        meetings.cancel(world.officer, meeting, "  ")
    assert "reason" in caught.value.message_dict
    with pytest.raises(PermissionDenied):
        meetings.cancel(world.rep, meeting, "Not mine to cancel")
    meetings.cancel(world.supervisor, meeting, "Court holiday")
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.CANCELLED
    assert meeting.cancelled_by == world.supervisor and meeting.cancelled_at is not None
    assert meeting.sequence == 1
    pending = reminders_of(
        meeting, kind=NotificationKind.MEETING_REMINDER, status=ReminderStatus.PENDING
    )
    assert not pending.exists()
    told = reminders_of(meeting, kind=NotificationKind.MEETING_CANCELLED)
    assert set(told.values_list("recipient_id", flat=True)) == invited_ids(world)
    assert meeting.cancel_reason == "Court holiday"
    # The change is in the trail, captured by the database trigger.
    assert AuditEvent.objects.filter(
        target_type="teams.reviewmeeting",
        target_id=str(meeting.pk),
        action=Action.UPDATE,
    ).exists()


def test_the_creator_moves_their_meeting_while_a_member(world: World) -> None:
    # The officer who scheduled it becomes the team's victim representative instead.
    meeting = world.meeting
    membership = world.officer.memberships.get(team=world.team)
    membership.active_to = timezone.localdate() - dt.timedelta(days=1)
    membership.active_from = timezone.localdate() - dt.timedelta(days=30)
    membership.save()
    f.make_membership(world.officer, world.team, Role.VICTIM_REP)
    assert meeting_schedule.move(world.officer, meeting, {"location": "Room 12"})
    meetings.cancel(world.officer, meeting, "Moved online")


# --- Answers and attendance -----------------------------------------------------------------


def test_declining_cancels_ones_reminders_and_accepting_again_plans_them(world: World) -> None:
    meeting, rep = world.meeting, world.rep
    mine = reminders_of(meeting, recipient=rep, kind=NotificationKind.MEETING_REMINDER)
    row = meetings.answer(rep, meeting, Rsvp.DECLINED)
    assert row.rsvp == Rsvp.DECLINED and row.responded_at is not None
    assert set(mine.values_list("status", flat=True)) == {ReminderStatus.CANCELLED}
    others = reminders_of(
        meeting, kind=NotificationKind.MEETING_REMINDER, status=ReminderStatus.PENDING
    )
    assert others.count() == 2 * (len(invited_ids(world)) - 1)
    meetings.answer(rep, meeting, Rsvp.ATTENDING)
    assert set(mine.values_list("status", flat=True)) == {ReminderStatus.PENDING}
    assert mine.count() == 2
    meetings.answer(rep, meeting, Rsvp.TENTATIVE)
    assert set(mine.values_list("status", flat=True)) == {ReminderStatus.PENDING}


def test_answers_are_checked(world: World) -> None:
    meeting = world.meeting
    with pytest.raises(PermissionDenied):
        meetings.answer(world.other_officer, meeting, Rsvp.ATTENDING)
    with pytest.raises(ValidationError):
        meetings.answer(world.rep, meeting, "maybe")
    with pytest.raises(ValidationError):
        meetings.answer(world.rep, meeting, Rsvp.PENDING)
    with pytest.raises(ValidationError) as caught:
        meetings.answer(
            world.rep, meeting, Rsvp.ATTENDING, now=meeting.starts_at + dt.timedelta(minutes=1)
        )
    assert "too late" in caught.value.message_dict["rsvp"][0]


def test_attendance_after_the_start_makes_the_meeting_held_and_closes_the_agenda(
    world: World,
) -> None:
    meeting = world.meeting
    with pytest.raises(ValidationError) as caught:
        meeting_schedule.record_attendance(world.officer, meeting, [world.officer.pk])
    assert "once the meeting starts" in caught.value.message_dict["attended"][0]
    for who in ("rep", "treatment", "polygraph", "guest"):
        with pytest.raises(PermissionDenied):
            meeting_schedule.record_attendance(world.people[who], meeting, [])
    start_in_past(meeting)
    item = AgendaItem.objects.get(meeting=meeting, case=world.case)
    AgendaItem.objects.filter(pk=item.pk).update(discussed_at=timezone.now())
    with pytest.raises(ValidationError):
        meeting_schedule.record_attendance(world.officer, meeting, [world.other_officer.pk])
    came = [world.officer.pk, world.guest.pk]
    assert meeting_schedule.record_attendance(world.supervisor, meeting, came)
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.HELD
    attended = dict(meeting.attendance.values_list("user_id", "attended"))
    assert {pk for pk, came_ in attended.items() if came_} == set(came)
    assert all(value is not None for value in attended.values())
    world.case.refresh_from_db()
    world.other_case.refresh_from_db()
    assert world.case.next_review_due is not None  # discussed: next review set
    assert world.other_case.next_review_due is None  # not discussed
    # A correction keeps it held.
    assert not meeting_schedule.record_attendance(world.supervisor, meeting, [world.officer.pk])


def test_a_cancelled_meeting_has_no_attendance(world: World) -> None:
    meetings.cancel(world.officer, world.meeting, "Court holiday")
    start_in_past(world.meeting)
    with pytest.raises(ValidationError):
        meeting_schedule.record_attendance(world.officer, world.meeting, [])


# --- Who sees what ------------------------------------------------------------------------


def test_who_sees_a_meeting(world: World) -> None:
    for who in PERSONAS:
        seen = meetings.meetings_for(world.people[who]).filter(pk=world.meeting.pk).exists()
        assert seen == (who in SEES), who


# --- Pages ------------------------------------------------------------------------------


def url(name: str, world: World, **kwargs: Any) -> str:
    if name in ("meeting-list", "meeting-create", "meeting-series-create"):
        return reverse(name)
    if name == "meeting-series-end":
        return reverse(name, args=[kwargs["series"].pk])
    return reverse(name, args=[world.meeting.pk])


def expect(name: str, who: str) -> int:
    """The status of a GET of each page, for each person."""
    if name == "meeting-list":
        return 200
    if name in ("meeting-create", "meeting-series-create"):
        # For their own team: team A's officers and supervisors, and team B's officer and
        # supervisor (the guest).
        return 200 if who in MANAGERS or who in ("other_officer", "guest") else 403
    if name == "meeting-series-end":
        sees_series = who in MEMBERS
        return 200 if who in MANAGERS else 403 if sees_series else 404
    if who not in SEES:
        return 404
    if name in ("meeting-edit", "meeting-cancel", "meeting-attendance"):
        return 200 if who in MANAGERS else 403
    return 200  # the meeting, and its calendar file: everyone invited


PAGES = (
    "meeting-list",
    "meeting-create",
    "meeting-series-create",
    "meeting-series-end",
    "meeting-detail",
    "meeting-edit",
    "meeting-cancel",
    "meeting-attendance",
    "meeting-ics",
)


@pytest.mark.parametrize("who", PERSONAS)
def test_route_permissions(world: World, who: str) -> None:
    user = world.people[who]
    client = web(user)
    series, _ = meeting_schedule.schedule_series(
        world.officer,
        world.team,
        details(starts_at=first_tuesday_ahead()),
        "FREQ=MONTHLY;BYDAY=1TU",
    )
    for name in PAGES:
        response = client.get(url(name, world, series=series))
        assert response.status_code == expect(name, who), (name, who)
        target = series if name == "meeting-series-end" else world.meeting
        if response.status_code == 404:
            assert denied(user, target), (name, who)
        if name == "meeting-detail" and response.status_code == 200:
            assert read_recorded(user, world.meeting)
    # The list shows the meeting to those who see it, nobody else; the ids it showed
    # are in the trail.
    listed = html(client.get(reverse("meeting-list")))
    assert (TITLE in listed) == (who in SEES), who
    shown = AuditEvent.objects.filter(
        actor=user, action=Action.LIST, target_type="teams.reviewmeeting"
    ).latest("pk")
    assert (str(world.meeting.pk) in shown.detail["ids"]) == (who in SEES), who
    # Writes: answer (everyone invited), move, cancel (managers). Others change nothing.
    meeting = world.meeting
    response = client.post(reverse("meeting-rsvp", args=[meeting.pk]), {"rsvp": "tentative"})
    assert response.status_code == (302 if who in SEES else 404), who
    answered = MeetingAttendee.objects.filter(meeting=meeting, user=user, rsvp="tentative")
    assert answered.exists() == (who in SEES)
    before = ReviewMeeting.objects.values().get(pk=meeting.pk)
    response = client.post(
        reverse("meeting-edit", args=[meeting.pk]),
        {"starts_at": "2099-01-05T10:00", "duration_minutes": 60, "location": f"Room {who}"},
    )
    write_status = 302 if who in MANAGERS else 403 if who in SEES else 404
    assert response.status_code == write_status, who
    after = ReviewMeeting.objects.values().get(pk=meeting.pk)
    assert (after != before) == (who in MANAGERS), who
    response = client.post(reverse("meeting-cancel", args=[meeting.pk]), {"reason": "x"})
    assert response.status_code == write_status, who
    meeting.refresh_from_db()
    assert (meeting.status == MeetingStatus.CANCELLED) == (who in MANAGERS), who
    response = client.post(reverse("meeting-series-end", args=[series.pk]))
    assert response.status_code == (302 if who in MANAGERS else 403 if who in MEMBERS else 404), who
    series.refresh_from_db()
    assert (series.ended_at is not None) == (who in MANAGERS), who


def test_signed_out_is_sent_to_sign_in(world: World) -> None:
    client = web(None)
    series, _ = meeting_schedule.schedule_series(
        world.officer,
        world.team,
        details(starts_at=first_tuesday_ahead()),
        "FREQ=MONTHLY;BYDAY=1TU",
    )
    for name in (*PAGES, "meeting-rsvp"):
        response = client.get(url(name, world, series=series))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], name
    response = client.post(reverse("meeting-cancel", args=[world.meeting.pk]), {"reason": "x"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    world.meeting.refresh_from_db()
    assert world.meeting.status == MeetingStatus.SCHEDULED


def test_the_meeting_page_shows_each_person_their_copy_of_the_agenda(world: World) -> None:
    for who in ("officer", "supervisor", "rep", "treatment", "polygraph"):
        page = html(web(world.people[who]).get(reverse("meeting-detail", args=[world.meeting.pk])))
        assert GUEST_CASE in page and OTHER_CASE in page, who
        assert 'id="agenda-heading"' in page and "Conference room B" in page
    page = html(web(world.guest).get(reverse("meeting-detail", args=[world.meeting.pk])))
    # The guest: the meeting, and on the agenda only the case they are invited for.
    assert GUEST_CASE in page and OTHER_CASE not in page
    assert "Your answer" in page and "Download the calendar invitation" in page
    assert "Move the meeting" not in page and "Record attendance" not in page


def test_a_guests_case_is_named_only_to_those_who_may_read_it(world: World) -> None:
    # A second guest, for the other case; the first guest must not learn which.
    second = f.make_member(world.other_team, Role.TREATMENT, username="second-guest")
    grant_case_access(
        second, world.other_case, Role.TREATMENT, granted_by=world.supervisor, reason="MDT"
    )
    meeting = meeting_schedule.schedule(
        world.officer,
        world.team,
        details(),
        guests=[
            GuestRequest("guest", world.case.pk),
            GuestRequest("second-guest", world.other_case.pk),
        ],
    )
    page = html(web(world.guest).get(reverse("meeting-detail", args=[meeting.pk])))
    assert "for case " + GUEST_CASE in page and OTHER_CASE not in page
    page = html(web(world.officer).get(reverse("meeting-detail", args=[meeting.pk])))
    assert "for case " + GUEST_CASE in page and "for case " + OTHER_CASE in page


def test_the_calendar_file_parses_and_carries_no_case_content(world: World) -> None:
    meeting = world.meeting
    response = web(world.rep).get(reverse("meeting-ics", args=[meeting.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert (
        response["Content-Disposition"] == f'attachment; filename="review-meeting-{meeting.pk}.ics"'
    )
    calendar = Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert event.decoded("dtstart") == meeting.starts_at
    assert str(event["location"]) == "Conference room B"
    assert event.decoded("sequence") == 0
    assert reverse("meeting-detail", args=[meeting.pk]) in str(event["url"])
    text = response.content.decode()
    for secret in (TITLE, GUEST_CASE, OTHER_CASE, world.case.supervisee.last_name, "First review"):
        assert secret not in text
    for item in AgendaItem.objects.filter(meeting=meeting):
        assert item.title not in text
    assert read_recorded(world.rep, meeting)


def test_the_calendar_file_is_for_the_people_invited(world: World) -> None:
    meeting = meeting_schedule.schedule(world.officer, world.team, details(), [world.officer.pk])
    # A member of the team sees the meeting but is not invited to it.
    assert web(world.rep).get(reverse("meeting-detail", args=[meeting.pk])).status_code == 200
    assert web(world.rep).get(reverse("meeting-ics", args=[meeting.pk])).status_code == 403
    response = web(world.rep).post(
        reverse("meeting-rsvp", args=[meeting.pk]), {"rsvp": "attending"}
    )
    assert response.status_code == 403


def test_scheduling_through_the_form(world: World) -> None:
    client = web(world.officer)
    page = html(client.get(reverse("meeting-create")))
    # Defaults: the reminders from the settings, every member ticked.
    assert 'value="48h, 2h"' in page
    assert page.count('name="attendees"') == len(MEMBERS) and page.count("checked") >= len(MEMBERS)
    start = timezone.localtime() + dt.timedelta(days=3)
    response = client.post(
        reverse("meeting-create"),
        {
            "team": world.team.pk,
            "title": "Case staffing",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": "45",
            "location": "",
            "call_link": "https://meet.example.org/mdt",
            "reminder_offsets": "2d, 90m",
            "attendees": [str(world.officer.pk), str(world.rep.pk)],
            "guest_username_0": "guest",
            "guest_case_0": str(world.case.pk),
        },
    )
    assert response.status_code == 302, html(response)[:2000]
    meeting = ReviewMeeting.objects.latest("pk")
    assert response["Location"] == reverse("meeting-detail", args=[meeting.pk])
    assert meeting.reminder_offsets == [2880, 90] and meeting.duration_minutes == 45
    assert meeting.call_link == "https://meet.example.org/mdt"
    assert set(meeting.attendance.values_list("user_id", "is_guest")) == {
        (world.officer.pk, False),
        (world.rep.pk, False),
        (world.guest.pk, True),
    }


def test_the_form_keeps_what_was_typed_and_shows_each_problem(world: World) -> None:
    client = web(world.officer)
    before = counts()
    response = client.post(
        reverse("meeting-create"),
        {
            "team": world.team.pk,
            "title": "Typed title 123",
            "starts_at": "2020-01-07T10:00",
            "duration_minutes": "60",
            "location": "",
            "call_link": "",
            "reminder_offsets": "48h, -2h, 31d",
            "guest_username_0": "other-officer",
            "guest_case_0": str(world.case.pk),
            "guest_username_1": "guest",
        },
    )
    assert response.status_code == 400
    page = html(response)
    assert counts() == before
    assert 'value="Typed title 123"' in page and "48h, -2h, 31d" in page
    for says in (
        "This time has passed",
        "Give a place or a call link",
        "a reminder comes at least a minute before the meeting",
        "at most 30 days before the meeting",
        "Choose the case this guest is invited for",
    ):
        assert says in page, says
    response = client.post(
        reverse("meeting-create"),
        {
            "team": world.team.pk,
            "starts_at": (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": "60",
            "location": "Room 1",
            "reminder_offsets": "2h",
            "attendees": [str(world.officer.pk)],
            "guest_username_0": "other-officer",
            "guest_case_0": str(world.case.pk),
        },
    )
    assert response.status_code == 400
    assert "holds no invitation to this case; invite them to the case first" in html(response)
    assert counts() == before


def test_scheduling_a_series_through_the_form(world: World) -> None:
    client = web(world.supervisor)
    page = html(client.get(reverse("meeting-series-create")))
    assert "Monthly, on the same weekday of the month" in page
    start = first_tuesday_ahead()
    typed = timezone.localtime(start).strftime("%Y-%m-%dT%H:%M")
    form = {
        "team": world.team.pk,
        "title": "Monthly MDT case review",
        "starts_at": typed,
        "duration_minutes": "60",
        "location": "Conference room B",
        "reminder_offsets": "48h, 2h",
    }
    response = client.post(reverse("meeting-series-create"), {**form, "pattern": "monthly_last"})
    assert response.status_code == 400
    assert "not on this pattern" in html(response)
    response = client.post(
        reverse("meeting-series-create"),
        {**form, "pattern": "custom", "custom_rule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"},
    )
    assert response.status_code == 400 and "never produces a date" in html(response)
    assert "Monthly on the first Tuesday" in html(response)  # the choices in words
    assert not MeetingSeries.objects.exists()
    response = client.post(reverse("meeting-series-create"), {**form, "pattern": "monthly_nth"})
    assert response.status_code == 302
    series = MeetingSeries.objects.get()
    assert series.rule == "FREQ=MONTHLY;BYDAY=1TU" and series.created_by == world.supervisor
    assert series.meetings.count() >= 3


def test_moving_cancelling_and_attendance_through_the_pages(world: World) -> None:
    client, meeting = web(world.officer), world.meeting
    response = client.post(
        reverse("meeting-edit", args=[meeting.pk]),
        {"starts_at": "2020-01-01T10:00", "duration_minutes": "60", "location": "Room 7"},
    )
    assert response.status_code == 400 and "This time has passed" in html(response)
    assert 'value="Room 7"' in html(response)
    new = timezone.localtime(meeting.starts_at + dt.timedelta(days=1))
    response = client.post(
        reverse("meeting-edit", args=[meeting.pk]),
        {
            "starts_at": new.strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": "60",
            "location": "Room 7",
        },
    )
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.location == "Room 7" and meeting.sequence == 1
    # Attendance: not before the start.
    page = html(client.get(reverse("meeting-attendance", args=[meeting.pk])))
    assert "once the meeting has started" in page
    response = client.post(
        reverse("meeting-attendance", args=[meeting.pk]), {"attended": [world.rep.pk]}
    )
    assert response.status_code == 400
    start_in_past(meeting)
    page = html(client.get(reverse("meeting-attendance", args=[meeting.pk])))
    assert page.count('name="attended"') == len(invited_ids(world))
    response = client.post(
        reverse("meeting-attendance", args=[meeting.pk]),
        {"attended": [world.rep.pk, world.guest.pk]},
    )
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.HELD
    page = html(client.get(reverse("meeting-detail", args=[meeting.pk])))
    assert 'id="meeting-status">Held' in page
    # A held meeting: the cancel page says so, and a cancellation is refused.
    response = client.post(reverse("meeting-cancel", args=[meeting.pk]), {"reason": "Too late"})
    assert response.status_code == 400 and "was held" in html(response)


def test_cancelling_through_the_page_needs_a_reason(world: World) -> None:
    client = web(world.supervisor)
    response = client.post(reverse("meeting-cancel", args=[world.meeting.pk]), {"reason": ""})
    assert response.status_code == 400 and "Say why the meeting is cancelled" in html(response)
    response = client.post(
        reverse("meeting-cancel", args=[world.meeting.pk]), {"reason": "Holiday"}
    )
    assert response.status_code == 302
    page = html(client.get(reverse("meeting-detail", args=[world.meeting.pk])))
    assert "This meeting is cancelled" in page


def test_answering_through_the_page(world: World) -> None:
    client = web(world.treatment)
    url_ = reverse("meeting-rsvp", args=[world.meeting.pk])
    response = client.post(url_, {"rsvp": "perhaps"})
    assert response.status_code == 400 and "Choose attending, tentative or declined" in html(
        response
    )
    response = client.post(url_, {"rsvp": "declined"})
    assert response.status_code == 302
    page = html(client.get(reverse("meeting-detail", args=[world.meeting.pk])))
    assert 'id="my-rsvp">Declined' in page


def test_the_navigation_offers_meetings_to_team_members(world: World) -> None:
    assert 'href="/meetings/"' in html(web(world.rep).get(reverse("dashboard")))
    assert 'href="/meetings/"' not in html(web(world.admin).get(reverse("dashboard")))


# --- Query counts ---------------------------------------------------------------------------


def count_queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured.captured_queries)


def add_meetings(world: World, number: int, *, past: bool = False) -> None:
    for n in range(number):
        meeting = ReviewMeeting.objects.create(
            team=world.team,
            starts_at=timezone.now() + dt.timedelta(days=(-1 if past else 1) * (n + 2)),
            location="Room",
        )
        MeetingAttendee.objects.create(meeting=meeting, user=world.officer)


def test_the_list_query_count_does_not_grow_with_the_meetings(world: World) -> None:
    client = web(world.officer)
    add_meetings(world, 2)
    add_meetings(world, 2, past=True)
    few = count_queries(client, reverse("meeting-list"))
    add_meetings(world, 25)
    add_meetings(world, 25, past=True)
    many = count_queries(client, reverse("meeting-list"))
    # session, user, the navigation's roles and unread count; for each of the two lists
    # its count and its page (team and series joined, the person's answer as a
    # subquery); whether the person schedules; the audit insert of the ids shown.
    assert few == many


def test_the_system_administrator_sees_no_meeting(world: World) -> None:
    client = web(world.admin)
    page = html(client.get(reverse("meeting-list")))
    assert TITLE not in page and "Schedule a meeting" not in page
    assert client.get(reverse("meeting-detail", args=[world.meeting.pk])).status_code == 404
    assert denied(world.admin, world.meeting)
    assert Case.objects.filter(team=world.team).count() == 2


# --- Demo data ----------------------------------------------------------------------------


def test_the_demo_review_is_a_monthly_series_with_reminders_and_agendas(settings: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    settings.DEBUG = True
    call_command("seed_demo", "--password", "demo-pass-81", stdout=StringIO())
    all_series = list(MeetingSeries.objects.select_related("team"))
    assert len(all_series) == 2
    for series in all_series:
        assert series.rule == "FREQ=MONTHLY;BYDAY=1TU" and series.title == "Monthly MDT case review"
        made = list(series.meetings.all())
        assert len(made) >= 3
        for meeting in made:
            local = timezone.localtime(meeting.starts_at)
            assert local.weekday() == 1 and local.day <= 7 and local.hour == 10
            assert meeting.attendance.exists()
            assert reminders_of(meeting, kind=NotificationKind.MEETING_REMINDER).exists()
        assert AgendaItem.objects.filter(meeting__series=series).exists()
    before = (counts(), AgendaItem.objects.count())
    call_command("seed_demo", "--password", "demo-pass-81", stdout=StringIO())
    assert (counts(), AgendaItem.objects.count()) == before
