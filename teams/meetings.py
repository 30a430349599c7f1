"""Review meetings (issue 7): scheduling a team's one-off and recurring meetings, moving
and cancelling them, each attendee's answer (RSVP), and attendance.

Everything a meeting tells people travels as Reminder rows (teams.reminders): planned and
announced once a meeting is saved, moved with it, cancelled with it. Nothing here calls
notify().

Who does what:
- a team's officers and supervisors schedule its meetings and series, move and cancel
  its meetings (so does whoever scheduled one, while a member of the team), end a series
  and record attendance;
- each attendee answers the invitation;
- a meeting is seen by the active members of its team and by its guests (meetings_for);
  the system administrator sees none.

Guests from another team, invited for one case, and each meeting's agenda are
casework's (casework.meeting_guests, casework.meeting_schedule): teams may not import
casework. The daily task that generates a series ahead (extend_all) leaves the agendas of
the meetings it makes to casework's hourly refresh.

Bad input is a ValidationError keyed by field, raised before anything is written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from teams import recurrence, reminders
from teams.disclosure import may_read_cases, team_ids_for
from teams.disclosure.queries import record_if_hidden
from teams.models import (
    MeetingAttendee,
    MeetingSeries,
    MeetingStatus,
    Membership,
    NotificationKind,
    ReviewMeeting,
    Rsvp,
    Team,
    User,
    default_reminder_offsets,
)
from teams.roles import Role

# The roles that schedule, move and cancel a team's meetings and record attendance.
MANAGERS: tuple[str, ...] = (Role.OFFICER, Role.SUPERVISOR)
DEFAULT_TITLE = "MDT case review"
MAX_DURATION_MINUTES = 12 * 60
MAX_OFFSET_MINUTES = 30 * 24 * 60
MAX_OFFSETS = 5
MAX_REASON = 500
ANSWERS: tuple[str, ...] = (Rsvp.ATTENDING, Rsvp.DECLINED, Rsvp.TENTATIVE)
# What an attendee may answer (the API's enum: settings.SPECTACULAR_SETTINGS).
ANSWER_CHOICES: list[tuple[str, str]] = [(value, Rsvp(value).label) for value in ANSWERS]

Errors = dict[str, list[str]]


# --- Reminder offsets, as typed ----------------------------------------------------------

UNITS: dict[str, int] = {
    "m": 1,
    "min": 1,
    "mins": 1,
    "minute": 1,
    "minutes": 1,
    "h": 60,
    "hr": 60,
    "hrs": 60,
    "hour": 60,
    "hours": 60,
    "d": 24 * 60,
    "day": 24 * 60,
    "days": 24 * 60,
}
_OFFSET = re.compile(r"^(?P<sign>[+-]?)\s*(?P<number>\d+)\s*(?P<unit>[a-z]*)$")
OFFSET_EXAMPLE = "48h, 2h (also 2d or 90m)"


def offset_problem(minutes: int, shown: str) -> str | None:
    """What is wrong with one offset, or None. `shown` is how the person typed it."""
    if minutes <= 0:
        return f"“{shown}”: a reminder comes at least a minute before the meeting."
    if minutes > MAX_OFFSET_MINUTES:
        return f"“{shown}” is too early: a reminder comes at most 30 days before the meeting."
    return None


def parse_offsets(text: str) -> list[int]:
    """ "48h, 2h" -> [2880, 120]: minutes before the meeting, latest first. Every problem
    is an error on `reminder_offsets`; an empty text means no reminders."""
    values: list[int] = []
    problems: list[str] = []
    for raw in re.split(r"[,;]", text or ""):
        piece = raw.strip()
        if not piece:
            continue
        matched = _OFFSET.match(piece.lower())
        if not matched:
            problems.append(f"“{piece}” is not a time before the meeting such as {OFFSET_EXAMPLE}.")
            continue
        unit = matched["unit"]
        if not unit:
            problems.append(f"“{piece}” needs a unit: h for hours, d for days, m for minutes.")
            continue
        if unit not in UNITS:
            problems.append(f"“{piece}”: use h for hours, d for days or m for minutes.")
            continue
        minutes = int(matched["number"]) * UNITS[unit] * (-1 if matched["sign"] == "-" else 1)
        problem = offset_problem(minutes, piece)
        if problem:
            problems.append(problem)
        else:
            values.append(minutes)
    if problems:
        raise ValidationError({"reminder_offsets": problems})
    return _checked_offsets(values)


def _checked_offsets(values: Iterable[int]) -> list[int]:
    unique = sorted(set(values), reverse=True)
    if len(unique) > MAX_OFFSETS:
        raise ValidationError({"reminder_offsets": [f"At most {MAX_OFFSETS} reminders."]})
    return unique


def check_offsets(values: Iterable[Any]) -> list[int]:
    """Offsets in minutes (the API's form): each a whole number above 0, at most 30 days."""
    problems: list[str] = []
    found: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"“{value}” is not a whole number of minutes.")
            continue
        problem = offset_problem(value, f"{value} minutes")
        if problem:
            problems.append(problem)
        else:
            found.append(value)
    if problems:
        raise ValidationError({"reminder_offsets": problems})
    return _checked_offsets(found)


def format_offsets(values: Iterable[int]) -> str:
    """[2880, 120] -> "48h, 2h": as a person would type them (days from 3 days on)."""
    shown = []
    for minutes in sorted(set(values), reverse=True):
        if minutes % (24 * 60) == 0 and minutes >= 3 * 24 * 60:
            shown.append(f"{minutes // (24 * 60)}d")
        elif minutes % 60 == 0:
            shown.append(f"{minutes // 60}h")
        else:
            shown.append(f"{minutes}m")
    return ", ".join(shown)


def default_offsets() -> list[int]:
    """The settings' offsets (the models' default), longest first, as forms show them."""
    return sorted(set(default_reminder_offsets()), reverse=True)


# --- A meeting's details -----------------------------------------------------------------


@dataclass
class Details:
    """What a person gives for a meeting or a series; checked by check_details()."""

    starts_at: dt.datetime | None
    duration_minutes: int | None = 60
    location: str = ""
    call_link: str = ""
    title: str = DEFAULT_TITLE
    reminder_offsets: list[int] = field(default_factory=default_offsets)


_url = URLValidator(schemes=["https", "http"])


def check_details(details: Details, now: dt.datetime) -> tuple[Details, Errors]:
    """The details cleaned, and the problems by field (empty when there are none)."""
    errors: Errors = {}
    location = (details.location or "").strip()
    call_link = (details.call_link or "").strip()
    title = (details.title or "").strip() or DEFAULT_TITLE
    # To the minute: what a calendar shows, and what the recurrence rules produce.
    starts_at = details.starts_at.replace(second=0, microsecond=0) if details.starts_at else None
    if starts_at is None:
        errors["starts_at"] = ["Enter the date and time of the meeting."]
    elif starts_at <= now:
        errors["starts_at"] = ["This time has passed: choose a time ahead."]
    duration = details.duration_minutes
    if duration is None:
        errors["duration_minutes"] = ["Enter how long the meeting lasts, in minutes."]
    elif duration < 1:
        errors["duration_minutes"] = ["A meeting lasts at least a minute."]
    elif duration > MAX_DURATION_MINUTES:
        errors["duration_minutes"] = ["A meeting lasts at most 12 hours (720 minutes)."]
    if not location and not call_link:
        errors["location"] = ["Give a place or a call link (or both)."]
    elif len(location) > 200:
        errors["location"] = ["At most 200 characters."]
    if call_link:
        try:
            _url(call_link)
        except ValidationError:
            errors["call_link"] = ["Enter a web address starting with https://."]
        if len(call_link) > 200:
            errors["call_link"] = ["At most 200 characters."]
    if len(title) > 160:
        errors["title"] = ["At most 160 characters."]
    try:
        offsets = check_offsets(details.reminder_offsets)
    except ValidationError as error:
        errors.update(error.message_dict)
        offsets = []
    cleaned = replace(
        details,
        starts_at=starts_at,
        location=location,
        call_link=call_link,
        title=title,
        reminder_offsets=offsets,
    )
    return cleaned, errors


def raise_errors(*groups: Errors) -> None:
    merged: Errors = {}
    for group in groups:
        for name, messages in group.items():
            merged.setdefault(name, []).extend(messages)
    if merged:
        raise ValidationError(merged)


def errors_of(error: ValidationError) -> Errors:
    return dict(error.message_dict) if hasattr(error, "error_dict") else {"__all__": error.messages}


# --- Who -------------------------------------------------------------------------------


def team_people(team_id: int) -> QuerySet[User]:
    """The team's active members today, once each, as a meeting invites them by default.
    The system administrator reads no case content and is never invited."""
    members = Membership.objects.active().filter(team_id=team_id).order_by().values("user_id")
    return User.objects.filter(is_active=True, is_staff=False, pk__in=members).order_by(
        "last_name", "first_name", "username"
    )


def scheduling_teams(user: Any) -> QuerySet[Team]:
    """The teams whose meetings the user schedules: where they are an officer or a
    supervisor today."""
    if not may_read_cases(user):
        return Team.objects.none()
    return Team.objects.filter(pk__in=team_ids_for(user, MANAGERS)).order_by("name")


def may_schedule(user: Any, team_id: int) -> bool:
    return (
        may_read_cases(user)
        and Membership.objects.active()
        .filter(user_id=user.pk, team_id=team_id, role__in=MANAGERS)
        .exists()
    )


def _scheduler_or_creator(user: Any, team_id: int, created_by_id: int | None) -> bool:
    """The team's officers and supervisors, and whoever created the row while they are
    still a member of the team (in whatever role)."""
    if may_schedule(user, team_id):
        return True
    return bool(
        may_read_cases(user)
        and created_by_id == user.pk
        and Membership.objects.active().filter(user_id=user.pk, team_id=team_id).exists()
    )


def may_manage(user: Any, meeting: ReviewMeeting) -> bool:
    """Move or cancel a meeting."""
    return _scheduler_or_creator(user, meeting.team_id, meeting.created_by_id)


def may_end_series(user: Any, series: MeetingSeries) -> bool:
    return _scheduler_or_creator(user, series.team_id, series.created_by_id)


# --- Who sees what ------------------------------------------------------------------------


def meetings_for(user: Any) -> QuerySet[ReviewMeeting]:
    """The meetings of the user's teams (active memberships) and those they are a guest
    at, as one statement: `pk IN (team's meetings UNION guest rows)`."""
    if not may_read_cases(user):
        return ReviewMeeting.objects.none()
    by_team = ReviewMeeting.objects.filter(team_id__in=team_ids_for(user)).order_by().values("pk")
    as_guest = (
        MeetingAttendee.objects.filter(user_id=user.pk, is_guest=True)
        .order_by()
        .values("meeting_id")
    )
    return ReviewMeeting.objects.filter(pk__in=by_team.union(as_guest, all=True))


def meeting_or_404(user: Any, pk: Any, queryset: QuerySet[ReviewMeeting] | None = None) -> Any:
    """One meeting the user sees; one they may not answers like a missing one, and the
    attempt is recorded as denied (like teams.disclosure.get_visible_or_404)."""
    rows = meetings_for(user) if queryset is None else queryset.filter(pk__in=meetings_for(user))
    try:
        return rows.get(pk=pk)
    except (ReviewMeeting.DoesNotExist, ValueError, TypeError):
        record_if_hidden(ReviewMeeting, user, pk=pk)
        raise Http404("No meeting matches the given query.") from None


def series_for(user: Any) -> QuerySet[MeetingSeries]:
    """The series of the user's teams (guests are invited to a meeting, not a series)."""
    if not may_read_cases(user):
        return MeetingSeries.objects.none()
    return MeetingSeries.objects.filter(team_id__in=team_ids_for(user))


def series_or_404(user: Any, pk: Any) -> Any:
    try:
        return series_for(user).select_related("team").get(pk=pk)
    except (MeetingSeries.DoesNotExist, ValueError, TypeError):
        record_if_hidden(MeetingSeries, user, pk=pk)
        raise Http404("No meeting series matches the given query.") from None


def attendee_of(meeting: ReviewMeeting, user: Any) -> MeetingAttendee | None:
    if not (user.is_authenticated and user.is_active):
        return None
    return MeetingAttendee.objects.filter(meeting=meeting, user_id=user.pk).first()


# --- Scheduling ---------------------------------------------------------------------------


def check_members(team_id: int, member_ids: Iterable[int] | None) -> list[int]:
    """The members invited: every active member when None; otherwise each must be one."""
    people = list(team_people(team_id).values_list("pk", flat=True))
    if member_ids is None:
        return people
    chosen = list(dict.fromkeys(int(pk) for pk in member_ids))
    outside = [pk for pk in chosen if pk not in set(people)]
    if outside:
        raise ValidationError(
            {
                "attendees": [
                    "Only active members of the team are invited as members; invite "
                    "someone from another team as a guest, for one case."
                ]
            }
        )
    if not chosen:
        raise ValidationError({"attendees": ["Invite at least one member of the team."]})
    return chosen


def check_schedule(
    user: Any, team: Team, details: Details, member_ids: Iterable[int] | None, now: dt.datetime
) -> tuple[Details, list[int], Errors]:
    """Permission first (a 403 tells nothing about the fields), then every field."""
    if not may_schedule(user, team.pk):
        raise PermissionDenied("Only the team's officers and supervisors schedule its meetings.")
    cleaned, errors = check_details(details, now)
    members: list[int] = []
    try:
        members = check_members(team.pk, member_ids)
    except ValidationError as error:
        errors.update(error.message_dict)
    return cleaned, members, errors


def create_meeting(
    user: Any,
    team: Team,
    details: Details,
    member_ids: Iterable[int],
    *,
    series: MeetingSeries | None = None,
    occurrence_of: dt.datetime | None = None,
) -> ReviewMeeting:
    """The meeting row and its members (checked already); call publish() once everyone
    invited has a row (guests too)."""
    assert details.starts_at is not None and details.duration_minutes is not None
    meeting = ReviewMeeting.objects.create(
        team=team,
        title=details.title,
        starts_at=details.starts_at,
        duration_minutes=details.duration_minutes,
        location=details.location,
        call_link=details.call_link,
        reminder_offsets=list(details.reminder_offsets),
        created_by=user,
        series=series,
        occurrence_of=occurrence_of,
    )
    MeetingAttendee.objects.bulk_create(
        [MeetingAttendee(meeting=meeting, user_id=pk) for pk in member_ids]
    )
    return meeting


def publish(meeting: ReviewMeeting, now: dt.datetime | None = None) -> None:
    """Each attendee's reminders, and the invitation to each."""
    reminders.plan_meeting(meeting, now)
    reminders.announce(meeting, NotificationKind.MEETING_SCHEDULED, now=now)


# --- Recurring ----------------------------------------------------------------------------


def check_series(
    user: Any, team: Team, details: Details, rule: str, now: dt.datetime
) -> tuple[Details, str]:
    if not may_schedule(user, team.pk):
        raise PermissionDenied("Only the team's officers and supervisors schedule its meetings.")
    cleaned, errors = check_details(details, now)
    body = ""
    if cleaned.starts_at is not None and "starts_at" not in errors:
        try:
            body = recurrence.check(rule, cleaned.starts_at, now)
        except ValidationError as error:
            errors.update(error.message_dict)
    elif not (rule or "").strip():
        errors["rule"] = ["Choose how the meeting repeats."]
    raise_errors(errors)
    return cleaned, body


def create_series(
    user: Any, team: Team, details: Details, rule: str, now: dt.datetime | None = None
) -> tuple[MeetingSeries, list[ReviewMeeting]]:
    """A series and its meetings up to MEETING_SERIES_HORIZON_DAYS ahead, each planned
    and announced. casework.meeting_schedule gives them their agendas."""
    now = now or timezone.now()
    cleaned, body = check_series(user, team, details, rule, now)
    assert cleaned.starts_at is not None and cleaned.duration_minutes is not None
    with transaction.atomic():
        series = MeetingSeries.objects.create(
            team=team,
            title=cleaned.title,
            rule=body,
            starts_at=cleaned.starts_at,
            duration_minutes=cleaned.duration_minutes,
            location=cleaned.location,
            call_link=cleaned.call_link,
            reminder_offsets=list(cleaned.reminder_offsets),
            created_by=user,
        )
        created = generate(series, now)
    return series, created


def horizon(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(days=settings.MEETING_SERIES_HORIZON_DAYS)


def generate(series: MeetingSeries, now: dt.datetime | None = None) -> list[ReviewMeeting]:
    """The series' meetings from now to the horizon that do not exist yet (by the date
    the rule gave, `occurrence_of`, which a moved meeting keeps): generating twice makes
    nothing twice, and a meeting cancelled on its own is not made again. Each new meeting
    invites the team's members of the day and is planned and announced."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locked: a series ended meanwhile makes nothing, and two generators of one
        # series (the daily task and a person) take turns.
        locked = MeetingSeries.objects.select_for_update().get(pk=series.pk)
        series.ended_at, series.generated_until = locked.ended_at, locked.generated_until
        until = horizon(now)
        if series.ended_at is not None:
            until = min(until, series.ended_at)
        if until <= now:
            return []
        created = _make_missing(series, now, until)
        # Written only when something was made: the series' row is audited, and a daily
        # run that finds nothing to make should leave no trace.
        if created or series.generated_until is None:
            MeetingSeries.objects.filter(pk=series.pk).update(generated_until=until)
            series.generated_until = until
    return created


def _make_missing(
    series: MeetingSeries, now: dt.datetime, until: dt.datetime
) -> list[ReviewMeeting]:
    dates = recurrence.occurrences(series.rule, series.starts_at, now, until)
    have = set(
        ReviewMeeting.objects.filter(series=series, occurrence_of__in=dates).values_list(
            "occurrence_of", flat=True
        )
    )
    missing = [when for when in dates if when not in have]
    if not missing:
        return []
    members = list(team_people(series.team_id).values_list("pk", flat=True))
    details = Details(
        starts_at=None,
        duration_minutes=series.duration_minutes,
        location=series.location,
        call_link=series.call_link,
        title=series.title,
        reminder_offsets=list(series.reminder_offsets),
    )
    created: list[ReviewMeeting] = []
    for when in missing:
        try:
            # A savepoint each: should a meeting of this occurrence exist after all, the
            # unique constraint on (series, occurrence_of) keeps it once.
            with transaction.atomic():
                meeting = create_meeting(
                    series.created_by,
                    series.team,
                    replace(details, starts_at=when),
                    members,
                    series=series,
                    occurrence_of=when,
                )
                publish(meeting, now)
        except IntegrityError:
            continue
        created.append(meeting)
    return created


def open_series(now: dt.datetime) -> QuerySet[MeetingSeries]:
    return MeetingSeries.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=now))


def extend_all(now: dt.datetime | None = None) -> list[ReviewMeeting]:
    """The daily task: each open series generated up to the horizon. Their agendas come
    from casework's hourly refresh (teams may not import casework)."""
    now = now or timezone.now()
    created: list[ReviewMeeting] = []
    for series in open_series(now).select_related("team", "created_by").order_by("pk"):
        created.extend(generate(series, now))
    return created


def end_series(
    user: Any, series: MeetingSeries, now: dt.datetime | None = None
) -> list[ReviewMeeting]:
    """No meeting of the series after now: its future meetings are cancelled (their
    reminders with them, and each attendee told). Returns the meetings cancelled."""
    now = now or timezone.now()
    if not may_end_series(user, series):
        raise PermissionDenied("Only the team's officers and supervisors end its series.")
    with transaction.atomic():
        locked = MeetingSeries.objects.select_for_update().get(pk=series.pk)
        if locked.ended_at is not None:
            raise ValidationError({"ended_at": ["This series has already ended."]})
        locked.ended_at = now
        locked.save(update_fields=["ended_at"])
        series.ended_at = now
        future = ReviewMeeting.objects.select_for_update().filter(
            series=series, status=MeetingStatus.SCHEDULED, starts_at__gt=now
        )
        cancelled = []
        for meeting in future.order_by("starts_at"):
            _cancel(user, meeting, "The meeting series was ended.", now)
            cancelled.append(meeting)
    return cancelled


# --- Moving and cancelling ----------------------------------------------------------------

MOVABLE = ("starts_at", "duration_minutes", "location", "call_link")


def _lock(meeting: ReviewMeeting) -> ReviewMeeting:
    return ReviewMeeting.objects.select_for_update().select_related("team").get(pk=meeting.pk)


def _refresh(meeting: ReviewMeeting, source: ReviewMeeting) -> None:
    for name in (
        *MOVABLE,
        "status",
        "sequence",
        "cancelled_at",
        "cancelled_by_id",
        "cancel_reason",
    ):
        setattr(meeting, name, getattr(source, name))


def _not_settled(meeting: ReviewMeeting, what: str, field_name: str = "status") -> None:
    if meeting.status == MeetingStatus.HELD:
        raise ValidationError({field_name: [f"This meeting was held; it cannot be {what}."]})
    if meeting.status == MeetingStatus.CANCELLED:
        raise ValidationError({field_name: [f"This meeting is cancelled; it cannot be {what}."]})


def move(
    user: Any, meeting: ReviewMeeting, changes: dict[str, Any], now: dt.datetime | None = None
) -> bool:
    """A new start, length or place. Each attendee's reminders follow the new time and
    they are told (the invitation's SEQUENCE goes up, so calendars replace it). Returns
    False when nothing changed (nothing is written)."""
    now = now or timezone.now()
    if not may_manage(user, meeting):
        raise PermissionDenied("Only the team's officers and supervisors move its meetings.")
    unknown = sorted(set(changes) - set(MOVABLE))
    if unknown:
        raise ValidationError({name: ["This cannot be changed here."] for name in unknown})
    with transaction.atomic():
        locked = _lock(meeting)
        _not_settled(locked, "moved")
        current = Details(
            starts_at=locked.starts_at,
            duration_minutes=locked.duration_minutes,
            location=locked.location,
            call_link=locked.call_link,
            title=locked.title,
            reminder_offsets=list(locked.reminder_offsets),
        )
        wanted, errors = check_details(replace(current, **changes), now)
        raise_errors(errors)
        if all(getattr(wanted, name) == getattr(current, name) for name in MOVABLE):
            return False
        for name in MOVABLE:
            setattr(locked, name, getattr(wanted, name))
        locked.sequence += 1
        locked.save(update_fields=[*MOVABLE, "sequence", "updated_at"])
        reminders.move_meeting_reminders(locked, now)
        reminders.announce(locked, NotificationKind.MEETING_MOVED, now=now)
    _refresh(meeting, locked)
    return True


def _cancel(user: Any, meeting: ReviewMeeting, reason: str, now: dt.datetime) -> None:
    meeting.status = MeetingStatus.CANCELLED
    meeting.cancelled_at = now
    meeting.cancelled_by = user
    meeting.cancel_reason = reason
    meeting.sequence += 1
    meeting.save(
        update_fields=[
            "status",
            "cancelled_at",
            "cancelled_by",
            "cancel_reason",
            "sequence",
            "updated_at",
        ]
    )
    reminders.cancel_meeting_reminders(meeting)
    reminders.announce(meeting, NotificationKind.MEETING_CANCELLED, now=now)


def cancel(user: Any, meeting: ReviewMeeting, reason: str, now: dt.datetime | None = None) -> None:
    """Cancel with a reason: pending reminders cancelled, each attendee told."""
    now = now or timezone.now()
    if not may_manage(user, meeting):
        raise PermissionDenied("Only the team's officers and supervisors cancel its meetings.")
    reason = (reason or "").strip()
    with transaction.atomic():
        locked = _lock(meeting)
        _not_settled(locked, "cancelled")
        if not reason:
            raise ValidationError({"reason": ["Say why the meeting is cancelled."]})
        if len(reason) > MAX_REASON:
            raise ValidationError({"reason": [f"At most {MAX_REASON} characters."]})
        _cancel(user, locked, reason, now)
    _refresh(meeting, locked)


# --- Answers and attendance ---------------------------------------------------------------


def answer(
    user: Any, meeting: ReviewMeeting, rsvp: str, now: dt.datetime | None = None
) -> MeetingAttendee:
    """An attendee's answer. Declining cancels their pending reminders; answering again
    (attending or tentative) plans them again."""
    now = now or timezone.now()
    row = attendee_of(meeting, user)
    if row is None:
        raise PermissionDenied("Only the people invited to a meeting answer its invitation.")
    if rsvp not in ANSWERS:
        raise ValidationError({"rsvp": ["Answer attending, declined or tentative."]})
    with transaction.atomic():
        locked = _lock(meeting)
        _not_settled(locked, "answered", "rsvp")
        if locked.starts_at <= now:
            raise ValidationError({"rsvp": ["The meeting has started; it is too late to answer."]})
        row = MeetingAttendee.objects.select_for_update().get(pk=row.pk)
        row.rsvp, row.responded_at = rsvp, now
        row.save(update_fields=["rsvp", "responded_at"])
        if rsvp == Rsvp.DECLINED:
            reminders.cancel_for_attendee(locked, user.pk)
        else:
            # Reminders cancelled by an earlier "declined" wait again, at the meeting's
            # present time (plan_meeting brings them back).
            reminders.plan_meeting(locked, now)
    return row


def may_record_attendance(user: Any, meeting: ReviewMeeting) -> bool:
    return may_schedule(user, meeting.team_id)


def record_attendance(
    user: Any, meeting: ReviewMeeting, attended: Iterable[Any], now: dt.datetime | None = None
) -> bool:
    """Who attended (the others did not); the meeting is then held. Returns True when
    this made it held (casework.agenda.close runs then)."""
    now = now or timezone.now()
    if not may_record_attendance(user, meeting):
        raise PermissionDenied("Only the team's officers and supervisors record attendance.")
    try:
        wanted = {int(pk) for pk in attended}
    except (TypeError, ValueError):
        raise ValidationError({"attended": ["Choose people invited to the meeting."]}) from None
    with transaction.atomic():
        locked = _lock(meeting)
        if locked.status == MeetingStatus.CANCELLED:
            raise ValidationError({"attended": ["This meeting is cancelled; nobody attended."]})
        if locked.starts_at > now:
            start = timezone.localtime(locked.starts_at)
            raise ValidationError(
                {
                    "attended": [
                        f"Attendance is recorded once the meeting starts ({start:%d %b %Y %H:%M})."
                    ]
                }
            )
        rows = list(MeetingAttendee.objects.select_for_update().filter(meeting=locked))
        invited = {row.user_id for row in rows}
        if wanted - invited:
            raise ValidationError({"attended": ["Choose people invited to the meeting."]})
        for row in rows:
            row.attended = row.user_id in wanted
        MeetingAttendee.objects.bulk_update(rows, ["attended"])
        became_held = locked.status != MeetingStatus.HELD
        if became_held:
            locked.status = MeetingStatus.HELD
            locked.save(update_fields=["status", "updated_at"])
    _refresh(meeting, locked)
    return became_held
