"""The people and meetings the review meeting tests share (tests/test_meetings.py and
tests/test_meeting_api.py): a person in every role on team A, an officer of team B, a
supervisor of team B invited as a guest for one of team A's cases, a former member, and
the system administrator (staff, and a member of team A besides). Two cases of team A,
both due for review, so that each person's copy of an agenda can be told apart. Meetings
are scheduled through the services, as the pages and the API schedule them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from audit.models import Action, AuditEvent, Outcome
from casework import meeting_schedule
from casework.meeting_guests import GuestRequest
from casework.models import Case
from teams.disclosure.grants import grant_case_access
from teams.meetings import Details
from teams.models import ReviewMeeting, Team, User
from teams.roles import Role
from tests import factories as f

MEMBERS: dict[str, Role] = {
    "officer": Role.OFFICER,
    "supervisor": Role.SUPERVISOR,
    "rep": Role.VICTIM_REP,
    "treatment": Role.TREATMENT,
    "polygraph": Role.POLYGRAPH,
}
# Everyone whose answer each route is tested for (signed out separately).
PERSONAS: tuple[str, ...] = (*MEMBERS, "other_officer", "guest", "former", "admin")
MANAGERS = frozenset({"officer", "supervisor"})
# Who sees team A's meeting: its members, and its guest.
SEES = frozenset({*MEMBERS, "guest"})

GUEST_CASE = "C-GUESTCASE-71"
OTHER_CASE = "C-TEAMONLY-72"
TITLE = "Titlemark quarterly staffing"


@dataclass
class World:
    team: Team
    other_team: Team
    people: dict[str, User]
    case: Case  # the guest is invited for this one
    other_case: Case  # team A's only
    meeting: ReviewMeeting  # a week ahead, with the guest

    def __getattr__(self, name: str) -> Any:
        people = self.__dict__.get("people", {})
        if name in people:
            return people[name]
        raise AttributeError(name)


def details(**changes: Any) -> Details:
    values: dict[str, Any] = {
        "starts_at": timezone.now() + dt.timedelta(days=7),
        "duration_minutes": 90,
        "location": "Conference room B",
        "call_link": "",
        "title": TITLE,
        "reminder_offsets": [48 * 60, 2 * 60],
    }
    values.update(changes)
    return Details(**values)


def first_tuesday_ahead() -> dt.datetime:
    """10:00 on the first Tuesday of next month, in the team's time zone."""
    today = timezone.localdate()
    first = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    tuesday = first + dt.timedelta(days=(1 - first.weekday()) % 7)
    return timezone.make_aware(dt.datetime.combine(tuesday, dt.time(10, 0)))


def make_world() -> World:
    team, other_team = f.make_team("Hartford North MDT"), f.make_team("New Haven MDT")
    people = {key: f.make_member(team, role, username=key) for key, role in MEMBERS.items()}
    people["other_officer"] = f.make_member(other_team, Role.OFFICER, username="other-officer")
    people["guest"] = f.make_member(other_team, Role.SUPERVISOR, username="guest")
    today = timezone.localdate()
    people["former"] = f.make_user("former")
    f.make_membership(
        people["former"],
        team,
        Role.OFFICER,
        active_from=today - dt.timedelta(days=90),
        active_to=today - dt.timedelta(days=1),
    )
    people["admin"] = f.make_user("admin", is_staff=True)
    f.make_membership(people["admin"], team, Role.SUPERVISOR)
    case = f.make_case(team, officer=people["officer"], reference=GUEST_CASE)
    other_case = f.make_case(team, officer=people["officer"], reference=OTHER_CASE)
    grant_case_access(
        people["guest"], case, Role.SUPERVISOR, granted_by=people["supervisor"], reason="MDT"
    )
    meeting = meeting_schedule.schedule(
        people["officer"], team, details(), guests=[GuestRequest("guest", case.pk)]
    )
    return World(team, other_team, people, case, other_case, meeting)


def read_recorded(user: User, obj: Any) -> bool:
    return AuditEvent.objects.filter(
        actor=user,
        action=Action.VIEW,
        outcome=Outcome.ALLOWED,
        target_type=obj._meta.label_lower,
        target_id=str(obj.pk),
    ).exists()


def start_in_past(meeting: ReviewMeeting, hours: int = 2) -> None:
    """Make a scheduled meeting one that has started (a test cannot wait for it)."""
    ReviewMeeting.objects.filter(pk=meeting.pk).update(
        starts_at=timezone.now() - dt.timedelta(hours=hours)
    )
    meeting.refresh_from_db()
