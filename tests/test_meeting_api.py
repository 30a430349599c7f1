"""Review meetings in the API (issue 7): /api/v1/meetings/ and /api/v1/meeting-series/.

Every route for each role of the team, another team's officer, a guest invited for one
case, a former member, the system administrator and someone signed out; bad input as
400s naming the field with nothing saved; the calendar file; the list's query count."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from icalendar import Calendar

from casework import meeting_schedule
from casework.meeting_models import MeetingGuestCase
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
from tests.meeting_world import (
    GUEST_CASE,
    MANAGERS,
    MEMBERS,
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
from tests.services_world import api, denied

pytestmark = pytest.mark.django_db

MEETINGS = "/api/v1/meetings/"
SERIES = "/api/v1/meeting-series/"


@pytest.fixture
def world() -> World:
    return make_world()


def ahead(days: int = 5) -> str:
    return (timezone.now() + dt.timedelta(days=days)).isoformat()


def counts() -> tuple[int, int, int, int]:
    return (
        ReviewMeeting.objects.count(),
        MeetingAttendee.objects.count(),
        Reminder.objects.count(),
        MeetingSeries.objects.count(),
    )


def new_meeting(world: World, **changes: Any) -> dict[str, Any]:
    return {
        "team": world.team.pk,
        "starts_at": ahead(),
        "duration_minutes": 60,
        "location": "Room 3",
        **changes,
    }


@pytest.mark.parametrize("who", PERSONAS)
def test_route_permissions(world: World, who: str) -> None:
    user, client, meeting = world.people[who], api(world.people[who]), world.meeting
    series, _ = meeting_schedule.schedule_series(
        world.officer,
        world.team,
        details(starts_at=first_tuesday_ahead()),
        "FREQ=MONTHLY;BYDAY=1TU",
    )
    sees = who in SEES
    # Reads.
    ids = {row["id"] for row in client.get(f"{MEETINGS}?page_size=100").json()["results"]}
    assert (meeting.pk in ids) == sees, who
    if who not in MEMBERS:
        assert ids <= {meeting.pk}, who  # a guest sees the meeting they are invited to only
    response = client.get(f"{MEETINGS}{meeting.pk}/")
    assert response.status_code == (200 if sees else 404), who
    if sees:
        assert read_recorded(user, meeting)
    else:
        assert denied(user, meeting)
    response = client.get(f"{MEETINGS}{meeting.pk}/ics/")
    assert response.status_code == (200 if sees else 404), who
    series_ids = {row["id"] for row in client.get(SERIES).json()["results"]}
    assert series_ids == ({series.pk} if who in MEMBERS else set()), who
    response = client.get(f"{SERIES}{series.pk}/")
    assert response.status_code == (200 if who in MEMBERS else 404), who

    # Scheduling for team A: its officers and supervisors; its other members 403; anyone
    # who is not a member of team A does not find the team (400 on `team`).
    before = counts()
    response = client.post(MEETINGS, new_meeting(world), format="json")
    member = who in MEMBERS or who == "admin"
    assert response.status_code == (201 if who in MANAGERS else 403 if member else 400), who
    if response.status_code == 400:
        assert "team" in response.json()
    response = client.post(
        SERIES,
        {**new_meeting(world, starts_at=first_tuesday_ahead().isoformat()), "rule": "FREQ=WEEKLY"},
        format="json",
    )
    assert response.status_code == (201 if who in MANAGERS else 403 if member else 400), who
    if who not in MANAGERS:
        assert counts() == before

    # Writes on team A's meeting.
    stored = ReviewMeeting.objects.values().get(pk=meeting.pk)
    write = 200 if who in MANAGERS else 403 if sees else 404
    response = client.patch(f"{MEETINGS}{meeting.pk}/", {"location": f"Room {who}"}, format="json")
    assert response.status_code == write, who
    if who not in MANAGERS:
        assert ReviewMeeting.objects.values().get(pk=meeting.pk) == stored
    response = client.post(f"{MEETINGS}{meeting.pk}/rsvp/", {"rsvp": "declined"}, format="json")
    assert response.status_code == (200 if sees else 404), who
    if sees:
        assert response.json()["my_rsvp"] == "declined"
    # Attendance before the start: a 400 for those who may record it.
    response = client.post(f"{MEETINGS}{meeting.pk}/attendance/", {"attended": []}, format="json")
    assert response.status_code == (400 if who in MANAGERS else 403 if sees else 404), who
    response = client.post(f"{MEETINGS}{meeting.pk}/cancel/", {"reason": "Holiday"}, format="json")
    assert response.status_code == write, who
    meeting.refresh_from_db()
    assert (meeting.status == MeetingStatus.CANCELLED) == (who in MANAGERS), who
    response = client.post(f"{SERIES}{series.pk}/end/", {}, format="json")
    assert response.status_code == (200 if who in MANAGERS else 403 if who in MEMBERS else 404)
    series.refresh_from_db()
    assert (series.ended_at is not None) == (who in MANAGERS), who


def test_signed_out_is_401(world: World) -> None:
    client = api(None)
    meeting = world.meeting
    for path in (MEETINGS, f"{MEETINGS}{meeting.pk}/", f"{MEETINGS}{meeting.pk}/ics/", SERIES):
        assert client.get(path).status_code == 401, path
    for path, body in (
        (MEETINGS, new_meeting(world)),
        (f"{MEETINGS}{meeting.pk}/cancel/", {"reason": "x"}),
        (f"{MEETINGS}{meeting.pk}/rsvp/", {"rsvp": "attending"}),
        (f"{MEETINGS}{meeting.pk}/attendance/", {"attended": []}),
        (SERIES, {**new_meeting(world), "rule": "FREQ=WEEKLY"}),
    ):
        assert client.post(path, body, format="json").status_code == 401, path
    assert (
        client.patch(f"{MEETINGS}{meeting.pk}/", {"location": "x"}, format="json").status_code
        == 401
    )


def test_scheduling_through_the_api(world: World) -> None:
    client = api(world.supervisor)
    response = client.post(
        MEETINGS,
        new_meeting(
            world,
            title="API staffing",
            call_link="https://meet.example.org/x",
            reminder_offsets=[1440],
            attendees=[world.officer.pk, world.rep.pk],
            guests=[{"user": world.guest.pk, "case": world.case.pk}],
        ),
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["reminder_offsets"] == [1440] and body["status"] == "scheduled"
    assert body["my_rsvp"] is None  # the supervisor left themselves out
    people = {(row["user"], row["is_guest"], row["guest_case"]) for row in body["attendees"]}
    assert people == {
        (world.officer.pk, False, None),
        (world.rep.pk, False, None),
        (world.guest.pk, True, world.case.pk),
    }
    meeting = ReviewMeeting.objects.get(pk=body["id"])
    assert MeetingGuestCase.objects.filter(attendee__meeting=meeting, case=world.case).exists()
    assert (
        Reminder.objects.filter(meeting=meeting, kind=NotificationKind.MEETING_REMINDER).count()
        == 3
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"starts_at": (timezone.now() - dt.timedelta(hours=1)).isoformat()}, "starts_at"),
        ({"starts_at": "next week"}, "starts_at"),
        ({"location": "", "call_link": ""}, "location"),
        ({"call_link": "ftp://files"}, "call_link"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"reminder_offsets": [0]}, "reminder_offsets"),
        ({"reminder_offsets": [-60]}, "reminder_offsets"),
        ({"reminder_offsets": [43201]}, "reminder_offsets"),
        ({"reminder_offsets": ["soon"]}, "reminder_offsets"),
        ({"attendees": [999999]}, "attendees"),
        ({"guests": [{"user": 0, "case": 1}]}, "guests"),
        ({"sequence": 5}, "sequence"),
        ({"team": 999999}, "team"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    world: World, changes: dict[str, Any], field: str
) -> None:
    before = counts()
    response = api(world.officer).post(MEETINGS, new_meeting(world, **changes), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json(), response.json()
    assert counts() == before


def test_a_guest_without_an_invitation_is_a_400(world: World) -> None:
    before = counts()
    response = api(world.officer).post(
        MEETINGS,
        new_meeting(world, guests=[{"user": world.other_officer.pk, "case": world.case.pk}]),
        format="json",
    )
    assert response.status_code == 400
    assert (
        "holds no invitation to this case; invite them to the case first"
        in (response.json()["guests"][0])
    )
    assert counts() == before


def test_series_through_the_api(world: World) -> None:
    client = api(world.officer)
    body = {**new_meeting(world, starts_at=first_tuesday_ahead().isoformat())}
    for rule in ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=MONTHLY;BYDAY=1TU;COUNT=0", "FREQ="):
        response = client.post(SERIES, {**body, "rule": rule}, format="json")
        assert response.status_code == 400 and "rule" in response.json(), rule
    assert not MeetingSeries.objects.exists()
    response = client.post(SERIES, {**body, "rule": "FREQ=MONTHLY;BYDAY=1TU"}, format="json")
    assert response.status_code == 201
    created = response.json()
    assert created["rule_description"] == "Monthly on the first Tuesday"
    series = MeetingSeries.objects.get(pk=created["id"])
    listed = client.get(f"{MEETINGS}?series={series.pk}&upcoming=true").json()["results"]
    assert len(listed) == series.meetings.count() >= 3
    response = client.post(f"{SERIES}{series.pk}/end/", {}, format="json")
    assert response.status_code == 200 and response.json()["ended_at"]
    assert not series.meetings.filter(status=MeetingStatus.SCHEDULED).exists()
    response = client.post(f"{SERIES}{series.pk}/end/", {}, format="json")
    assert response.status_code == 400 and "ended_at" in response.json()
    response = client.post(f"{SERIES}{series.pk}/end/", {"reason": "x"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()


def test_moving_answering_attendance_and_cancelling_through_the_api(world: World) -> None:
    client, meeting = api(world.officer), world.meeting
    response = client.patch(f"{MEETINGS}{meeting.pk}/", {}, format="json")
    assert response.status_code == 400
    response = client.patch(f"{MEETINGS}{meeting.pk}/", {"title": "x"}, format="json")
    assert response.status_code == 400 and "title" in response.json()
    new_start = meeting.starts_at + dt.timedelta(hours=3)
    response = client.patch(
        f"{MEETINGS}{meeting.pk}/", {"starts_at": new_start.isoformat()}, format="json"
    )
    assert response.status_code == 200 and response.json()["sequence"] == 1
    pending = Reminder.objects.filter(
        meeting=meeting, kind=NotificationKind.MEETING_REMINDER, status=ReminderStatus.PENDING
    )
    for row in pending:
        assert row.send_at == new_start - dt.timedelta(minutes=row.offset_minutes or 0)
    response = client.post(f"{MEETINGS}{meeting.pk}/rsvp/", {"rsvp": "maybe"}, format="json")
    assert response.status_code == 400 and "rsvp" in response.json()
    response = client.post(f"{MEETINGS}{meeting.pk}/rsvp/", {"rsvp": "attending"}, format="json")
    assert response.json()["my_rsvp"] == Rsvp.ATTENDING
    start_in_past(meeting)
    response = client.post(
        f"{MEETINGS}{meeting.pk}/attendance/",
        {"attended": [world.officer.pk, world.guest.pk]},
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == "held"
    attended = {row["user"] for row in response.json()["attendees"] if row["attended"]}
    assert attended == {world.officer.pk, world.guest.pk}
    response = client.post(f"{MEETINGS}{meeting.pk}/cancel/", {"reason": "x"}, format="json")
    assert response.status_code == 400 and "status" in response.json()
    response = client.patch(f"{MEETINGS}{meeting.pk}/", {"location": "Room 9"}, format="json")
    assert response.status_code == 400 and "status" in response.json()


def test_the_calendar_file_through_the_api(world: World) -> None:
    response = api(world.guest).get(f"{MEETINGS}{world.meeting.pk}/ics/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    event = next(iter(Calendar.from_ical(response.content).walk("VEVENT")))
    assert event.decoded("dtstart") == world.meeting.starts_at
    text = response.content.decode()
    assert TITLE not in text and GUEST_CASE not in text
    # A member who was not invited: 403.
    meeting = meeting_schedule.schedule(world.officer, world.team, details(), [world.officer.pk])
    assert api(world.rep).get(f"{MEETINGS}{meeting.pk}/ics/").status_code == 403
    assert (
        api(world.rep).get(f"{MEETINGS}{meeting.pk}/ics/", HTTP_ACCEPT="text/calendar").status_code
        == 403
    )


def test_a_guests_case_is_named_to_those_who_may_read_it(world: World) -> None:
    body = api(world.treatment).get(f"{MEETINGS}{world.meeting.pk}/").json()
    guest = next(row for row in body["attendees"] if row["is_guest"])
    assert guest["guest_case"] == world.case.pk


def test_filters_are_checked(world: World) -> None:
    client = api(world.officer)
    for query in ("team=x", "status=postponed", "upcoming=maybe", "series=0"):
        assert client.get(f"{MEETINGS}?{query}").status_code == 400, query
    assert client.get(f"{MEETINGS}?team={world.team.pk}&status=scheduled").status_code == 200


def test_the_list_query_count_does_not_grow_with_the_meetings(world: World) -> None:
    client = api(world.officer)

    def add(number: int) -> None:
        for n in range(number):
            meeting_schedule.schedule(
                world.officer,
                world.team,
                details(starts_at=timezone.now() + dt.timedelta(days=n + 2)),
                [world.officer.pk, world.rep.pk],
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"{MEETINGS}?page_size=100")
        assert response.status_code == 200
        return len(captured.captured_queries)

    add(2)
    few = queries()
    add(12)
    many = queries()
    # count, the page of meetings with their team, their attendees with users and guest
    # cases (one prefetch), the guests' cases the reader may see, the audit insert.
    assert few == many
