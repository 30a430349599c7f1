"""Review meetings as casework sees them (issue 7): the team's meeting (teams.meetings),
its guests invited for one case (casework.meeting_guests) and its agenda
(casework.agenda), in one transaction. The pages and the API call these; teams cannot,
since teams may not import casework.

Every problem is reported at once, keyed by field, before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from casework import agenda
from casework.meeting_guests import GuestRequest, add_guests, check_guests
from teams import meetings
from teams.meetings import Details, errors_of, raise_errors
from teams.models import MeetingSeries, ReviewMeeting, Team


def schedule(
    user: Any,
    team: Team,
    details: Details,
    member_ids: Iterable[int] | None = None,
    guests: Iterable[GuestRequest] = (),
    now: dt.datetime | None = None,
) -> ReviewMeeting:
    """A one-off meeting: its members (all the team's by default), its guests, their
    reminders and invitations, and its agenda."""
    now = now or timezone.now()
    cleaned, members, errors = meetings.check_schedule(user, team, details, member_ids, now)
    guest_rows = []
    try:
        guest_rows = check_guests(user, team, list(guests))
    except ValidationError as error:
        errors = {**errors, **errors_of(error)}
    raise_errors(errors)
    with transaction.atomic():
        meeting = meetings.create_meeting(user, team, cleaned, members)
        add_guests(meeting, guest_rows)
        meetings.publish(meeting, now)  # after the guests, so that they are told too
        agenda.build(meeting)
    return meeting


def schedule_series(
    user: Any, team: Team, details: Details, rule: str, now: dt.datetime | None = None
) -> tuple[MeetingSeries, list[ReviewMeeting]]:
    """A recurring meeting and its meetings up to the horizon, each with its agenda."""
    with transaction.atomic():
        series, created = meetings.create_series(user, team, details, rule, now)
        for meeting in created:
            agenda.build(meeting)
    return series, created


def move(
    user: Any, meeting: ReviewMeeting, changes: dict[str, Any], now: dt.datetime | None = None
) -> bool:
    """A new start, length or place; the agenda catches up with the new date (reviews
    due by then)."""
    with transaction.atomic():
        moved = meetings.move(user, meeting, changes, now)
        if moved:
            agenda.build(meeting)
    return moved


def record_attendance(
    user: Any, meeting: ReviewMeeting, attended: Iterable[Any], now: dt.datetime | None = None
) -> bool:
    """Who attended; the meeting is held, and the cases discussed get their next review
    date (casework.agenda.close) the first time."""
    with transaction.atomic():
        became_held = meetings.record_attendance(user, meeting, attended, now)
        if became_held:
            agenda.close(meeting)
    return became_held
