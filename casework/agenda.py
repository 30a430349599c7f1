"""A review meeting's agenda (issue 7): which cases come up, and why.

`build(meeting)` adds an item for each active case of the meeting's team that is due for
review, each decision awaiting discussion, each open duty-to-warn report, and whatever
other apps' sources name (victim input, registered by the victims app: casework may not
import victims). It never removes an item and adds each one once (a unique constraint),
so it runs again safely: when a meeting is scheduled, and every hour for the meetings of
the next two weeks (`refresh_upcoming`).

An item that comes from a record names it (`source_label`, `source_id`); its title is made
from non-sensitive fields only (a decision's kind, a report's urgency), never the
record's text. Each person sees the items whose case they may read and, for an item from
a record, whose record they may read (`visible_items`): what they may not see is not on
their copy at all.

`close(meeting)`, once the meeting is held, moves the next review of each case that was
discussed on by the cadence of its supervision level (settings.REVIEW_CADENCE_DAYS).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from audit.services import record_denied
from casework.meeting_models import AgendaItem, AgendaReason
from casework.models import Case, CaseDecision, CaseStatus, DecisionStatus, DutyToWarn
from teams.disclosure import restrict
from teams.disclosure.queries import may_read_cases
from teams.meetings import meetings_for
from teams.models import MeetingAttendee, MeetingStatus, ReviewMeeting

# Decisions the team talks over before they are final: proposed ones (awaiting approval
# or the victim representative's input) and approved ones not yet finalised. A draft is
# still its author's work in progress; final and withdrawn ones are settled.
AWAITING_DISCUSSION: tuple[str, ...] = (DecisionStatus.PROPOSED, DecisionStatus.APPROVED)

# With no earlier held meeting, victim input this recent is new to the team.
NEW_INPUT_DAYS = 30

# Danger first (DESIGN: danger takes precedence), then what waits on the team.
REASON_ORDER: dict[str, int] = {
    AgendaReason.DUTY_TO_WARN: 0,
    AgendaReason.DECISION: 1,
    AgendaReason.VICTIM_INPUT: 2,
    AgendaReason.REVIEW_DUE: 3,
    AgendaReason.ADDED: 4,
}


@dataclass(frozen=True)
class Window:
    """What a source needs to pick its records for one meeting."""

    meeting: ReviewMeeting
    # The meeting's day in the app's time zone: reviews due on or before it come up.
    day: dt.date
    # Records since this moment are new to the team (its previous held meeting).
    since: dt.datetime
    # The team's active cases, as a subquery (one statement per source, not per case).
    case_ids: QuerySet[Any]


@dataclass(frozen=True)
class Candidate:
    case_id: int
    reason: str
    title: str
    source_id: int = 0


Source = Callable[[Window], Iterable[Candidate]]

# model label (lower case, "casework.casedecision") -> the function naming its records.
_sources: dict[str, Source] = {}


def register_source(label: str, fn: Source) -> Source:
    """Another app's records that put a case on the agenda (victims registers its input
    from its AppConfig.ready()). `label` is the records' model label; `fn` answers, in one
    statement, the candidates for a meeting. Registering again replaces the function."""
    _sources[label.lower()] = fn
    return fn


def sources() -> dict[str, Source]:
    return dict(_sources)


def _label(model: type[Any]) -> str:
    return str(model._meta.label_lower)


def meeting_day(meeting: ReviewMeeting) -> dt.date:
    """The meeting's date where the team is (settings.TIME_ZONE), whatever time zone a
    request may have activated."""
    return timezone.localtime(meeting.starts_at, timezone.get_default_timezone()).date()


def _since(meeting: ReviewMeeting) -> dt.datetime:
    previous = (
        ReviewMeeting.objects.filter(
            team_id=meeting.team_id, status=MeetingStatus.HELD, starts_at__lt=meeting.starts_at
        )
        .exclude(pk=meeting.pk)
        .aggregate(last=Max("starts_at"))["last"]
    )
    return previous or meeting.starts_at - dt.timedelta(days=NEW_INPUT_DAYS)


def window(meeting: ReviewMeeting) -> Window:
    return Window(
        meeting=meeting,
        day=meeting_day(meeting),
        since=_since(meeting),
        case_ids=Case.objects.filter(team_id=meeting.team_id, status=CaseStatus.ACTIVE)
        .order_by()
        .values("pk"),
    )


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


# --- casework's own sources ---------------------------------------------------------------


def reviews_due(w: Window) -> list[Candidate]:
    rows = Case.objects.filter(pk__in=w.case_ids).filter(
        Q(next_review_due__lte=w.day) | Q(next_review_due__isnull=True)
    )
    return [
        Candidate(
            case_id=pk,
            reason=AgendaReason.REVIEW_DUE,
            title=f"Review due {due:%d %b %Y}" if due else "First review",
        )
        for pk, due in rows.values_list("pk", "next_review_due")
    ]


def decisions_awaiting(w: Window) -> list[Candidate]:
    labels = dict(CaseDecision._meta.get_field("kind").flatchoices)
    rows = CaseDecision.objects.filter(case_id__in=w.case_ids, status__in=AWAITING_DISCUSSION)
    return [
        Candidate(
            case_id=case_id,
            reason=AgendaReason.DECISION,
            title=f"Decision awaiting discussion: {_lower_first(str(labels.get(kind, kind)))}",
            source_id=pk,
        )
        for pk, case_id, kind in rows.values_list("pk", "case_id", "kind")
    ]


def open_duty_to_warn(w: Window) -> list[Candidate]:
    labels = dict(DutyToWarn._meta.get_field("urgency").flatchoices)
    rows = DutyToWarn.objects.filter(case_id__in=w.case_ids, acknowledged_at__isnull=True)
    return [
        Candidate(
            case_id=case_id,
            reason=AgendaReason.DUTY_TO_WARN,
            title=f"Open duty-to-warn report ({_lower_first(str(labels.get(urgency, urgency)))})",
            source_id=pk,
        )
        for pk, case_id, urgency in rows.values_list("pk", "case_id", "urgency")
    ]


register_source(_label(CaseDecision), decisions_awaiting)
register_source(_label(DutyToWarn), open_duty_to_warn)


# --- Building -----------------------------------------------------------------------------


def build(meeting: ReviewMeeting) -> int:
    """Add the items the meeting's agenda is missing; returns how many were added. Only a
    scheduled meeting's agenda grows (a held one is the record of what was discussed).
    One statement per source, one to read the items already there, one insert."""
    if meeting.status != MeetingStatus.SCHEDULED:
        return 0
    w = window(meeting)
    candidates: list[tuple[str, Candidate]] = [("", c) for c in reviews_due(w)]
    for label, fn in _sources.items():
        candidates.extend((label, c) for c in fn(w))
    existing = AgendaItem.objects.filter(meeting=meeting)
    have = {
        (case_id, reason, label, source_id)
        for case_id, reason, label, source_id in existing.values_list(
            "case_id", "reason", "source_label", "source_id"
        )
    }
    fresh: dict[tuple[int, str, str, int], tuple[str, Candidate]] = {}
    for label, c in candidates:
        key = (c.case_id, c.reason, label, c.source_id)
        if key not in have:
            fresh.setdefault(key, (label, c))
    if not fresh:
        return 0
    start = (existing.aggregate(top=Max("position"))["top"] or 0) + 1
    ordered = sorted(
        fresh.values(),
        key=lambda pair: (REASON_ORDER.get(pair[1].reason, 9), pair[1].case_id, pair[1].source_id),
    )
    rows = [
        AgendaItem(
            meeting=meeting,
            case_id=c.case_id,
            reason=c.reason,
            source_label=label,
            source_id=c.source_id,
            title=c.title[:200],
            position=start + index,
        )
        for index, (label, c) in enumerate(ordered)
    ]
    # A build running at the same moment (the hourly task and a person scheduling) may
    # have added some of these: the unique constraint keeps each once.
    AgendaItem.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def refresh_upcoming(now: dt.datetime | None = None, days: int = 14) -> int:
    """Build the agenda of every scheduled meeting starting in the next `days` days, so
    that what comes up between scheduling and the meeting is on it. Returns the items
    added."""
    now = now or timezone.now()
    meetings = ReviewMeeting.objects.filter(
        status=MeetingStatus.SCHEDULED,
        starts_at__gte=now,
        starts_at__lt=now + dt.timedelta(days=days),
    ).order_by("starts_at", "pk")
    return sum(build(meeting) for meeting in meetings)


# --- Review cadence -----------------------------------------------------------------------


def cadence_days(level: str) -> int:
    """Days between reviews for a supervision level; an unknown level gets the shortest
    cadence (reviewed too often rather than forgotten)."""
    table: dict[str, int] = settings.REVIEW_CADENCE_DAYS
    return table.get(level, min(table.values()))


def close(meeting: ReviewMeeting) -> int:
    """After the meeting is held (call it once attendance is recorded and the status is
    saved as held): each case discussed there is next due for review on the meeting's date
    plus its cadence, unless it is already due later. Returns the cases moved. One read,
    and one update per supervision level."""
    if meeting.status != MeetingStatus.HELD:
        return 0
    day = meeting_day(meeting)
    by_level: dict[str, set[int]] = defaultdict(set)
    for case_id, level in (
        AgendaItem.objects.filter(meeting=meeting, discussed_at__isnull=False)
        .values_list("case_id", "case__supervisee__supervision_level")
        .distinct()
    ):
        by_level[level].add(case_id)
    moved = 0
    now = timezone.now()
    with transaction.atomic():
        for level, case_ids in by_level.items():
            due = day + dt.timedelta(days=cadence_days(level))
            moved += (
                Case.objects.filter(pk__in=case_ids)
                .filter(Q(next_review_due__isnull=True) | Q(next_review_due__lt=due))
                .update(next_review_due=due, updated_at=now)
            )
    return moved


# --- Each person's copy -------------------------------------------------------------------


def visible_items(meeting: ReviewMeeting, user: Any) -> list[AgendaItem]:
    """The items of the meeting this person may see: the case through the policy and,
    for an item from a record, the record too. One query for the items, and one per kind
    of source record present, whatever the number of items."""
    items = list(
        restrict(
            AgendaItem.objects.filter(meeting=meeting, meeting_id__in=meeting_ids_for(user)), user
        )
        .select_related("case", "case__supervisee", "added_by")
        .order_by("position", "pk")
    )
    return filter_by_source(items, user)


def filter_by_source(items: list[AgendaItem], user: Any) -> list[AgendaItem]:
    """Drop the items whose source record the user may not read: restrict() on each
    source model's rows, one query per model."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for item in items:
        if item.source_label:
            wanted[item.source_label].add(item.source_id)
    readable: dict[str, set[int]] = {}
    for label, ids in wanted.items():
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            readable[label] = set()  # a source nobody can judge is shown to nobody
            continue
        readable[label] = set(
            restrict(model._default_manager.filter(pk__in=ids), user).values_list("pk", flat=True)
        )
    return [
        item
        for item in items
        if not item.source_label or item.source_id in readable.get(item.source_label, set())
    ]


def items_for(user: Any) -> QuerySet[AgendaItem]:
    """Every agenda item this person may see, as one statement (the API's lists, whose
    counts and pages must be of the visible rows only): the meeting is theirs, the case
    through restrict(), and each source record through restrict() on that model, scoped
    to the records named by the items of their meetings."""
    base = AgendaItem.objects.filter(meeting_id__in=meeting_ids_for(user))
    return restrict(base, user).filter(_source_q(user, base))


def _source_q(user: Any, items: QuerySet[AgendaItem]) -> Q:
    q = Q(source_label="")
    for label in _sources:
        model = apps.get_model(label)
        named = items.filter(source_label=label).order_by().values("source_id")
        readable = restrict(model._default_manager.filter(pk__in=named), user).values("pk")
        q |= Q(source_label=label, source_id__in=readable)
    return q


def visible_item_or_404(user: Any, pk: Any) -> AgendaItem:
    """One item this person may see (meeting, case and source record), or a 404 exactly
    like a missing one; an attempt on an item that exists is recorded as denied."""
    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise Http404("No agenda item matches the given query.") from None
    item = (
        items_for(user)
        .filter(pk=key)
        .select_related("meeting", "meeting__team", "case", "case__supervisee")
        .first()
    )
    if item is None:
        hidden = AgendaItem.objects.filter(pk=key).first()
        if hidden is not None:
            record_denied(user, hidden, case_id=hidden.case_id)
        raise Http404("No agenda item matches the given query.")
    return item


def meeting_ids_for(user: Any) -> QuerySet[Any]:
    """The meetings a person takes part in (teams.meetings decides), as a subquery."""
    return meetings_for(user).order_by().values("pk")


def linkable_item(user: Any, case: Case, value: Any) -> AgendaItem | None:
    """The agenda item a new decision is taken at (`?agenda_item=` on the form, the API's
    `agenda_item`): one the user may see, of the decision's case. Field errors keyed
    `agenda_item`; None when no item is given."""
    if value in (None, ""):
        return None
    if isinstance(value, AgendaItem):
        value = value.pk
    try:
        item = visible_item_or_404(user, value)
    except Http404:
        raise ValidationError({"agenda_item": ["Choose an agenda item you can see."]}) from None
    if item.case_id != case.pk:
        raise ValidationError(
            {"agenda_item": ["The agenda item is about another case than the decision."]}
        )
    if item.meeting.status == MeetingStatus.CANCELLED:
        raise ValidationError(
            {"agenda_item": ["That meeting was cancelled: no decision is taken at it."]}
        )
    return item


# --- Who may take part --------------------------------------------------------------------


def attendee(meeting: ReviewMeeting, user: Any) -> MeetingAttendee | None:
    if not (user.is_authenticated and user.is_active):
        return None
    return (
        MeetingAttendee.objects.filter(meeting=meeting, user_id=user.pk)
        .select_related("guest_case")
        .first()
    )


def add_case(user: Any, meeting: ReviewMeeting, case_id: Any) -> AgendaItem:
    """A member puts a case on the agenda: an attendee of the meeting who may read the
    case, a case of the meeting's team, while the meeting is scheduled. The title names
    who added it and nothing they typed: the title is read by everyone who sees the case
    summary, and what someone types may be above that level."""
    if attendee(meeting, user) is None or not may_read_cases(user):
        raise PermissionDenied("Only the meeting's attendees can add a case to its agenda.")
    if meeting.status != MeetingStatus.SCHEDULED:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    f"This meeting is {meeting.get_status_display().lower()}: "
                    "no case can be added to its agenda."
                ]
            }
        )
    case = None
    try:
        pk = int(case_id)
    except (TypeError, ValueError):
        pk = None
    if pk is not None:
        case = restrict(Case.objects.filter(pk=pk), user).first()
    if case is None:
        raise ValidationError({"case": ["Choose a case you can see."]})
    if case.team_id != meeting.team_id:
        raise ValidationError({"case": ["Choose a case of the meeting's team."]})
    if case.status != CaseStatus.ACTIVE:
        raise ValidationError({"case": ["Only an active case can be added to the agenda."]})
    key = dict(meeting=meeting, case=case, reason=AgendaReason.ADDED, source_label="", source_id=0)
    if AgendaItem.objects.filter(**key).exists():
        raise ValidationError({"case": ["This case has already been added to the agenda."]})
    name = user.get_full_name() or user.get_username()
    top = AgendaItem.objects.filter(meeting=meeting).aggregate(top=Max("position"))["top"] or 0
    try:
        with transaction.atomic():
            return AgendaItem.objects.create(
                **key, title=f"Added by {name}"[:200], added_by=user, position=top + 1
            )
    except IntegrityError:
        raise ValidationError(
            {"case": ["This case has already been added to the agenda."]}
        ) from None
