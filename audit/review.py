"""Reading the trail for review: keyset pages, the unusual-volume check, CSV rows.

Every function takes a queryset already limited by audit.scopes.events_for, so nothing
here widens what a user may read. Pages walk the `seq` index backwards from a position
(`seq < before`), never with OFFSET, so page 10,000 costs what page 1 costs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    BigIntegerField,
    Count,
    IntegerField,
    Max,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.models import Action, AuditDay, AuditEvent

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000

# Unusual volume: reads in the last hour above this many times the person's hourly
# average over the 30 days before it, and at least this many.
VOLUME_FACTOR = 5
VOLUME_MINIMUM = 20
BASELINE = dt.timedelta(days=30)
BASELINE_HOURS = 30 * 24
READ_ACTIONS = (Action.VIEW, Action.LIST)
# Beyond any position: the lower bound of a time window no event is in.
NO_SEQ = 2**63 - 1  # bigint's largest
SEQ: BigIntegerField[int, int] = BigIntegerField()


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    older: int | None  # the `before` of the next (older) page, if there is one


def page_of(queryset: QuerySet[AuditEvent], before: int | None, size: int = PAGE_SIZE) -> Page:
    """Newest first, starting just below `before`; one query (one extra row tells
    whether an older page exists)."""
    if before is not None:
        queryset = queryset.filter(seq__lt=before)
    rows = list(queryset.exclude(seq=None).order_by("-seq")[: size + 1])
    events = rows[:size]
    older = events[-1].seq if len(rows) > size and events else None
    return Page(events, older)


@dataclass(frozen=True)
class Volume:
    actor_id: int
    username: str
    last_hour: int
    hourly_average: float


def unusual_volume(
    scoped: QuerySet[AuditEvent], actors: dict[int, str], now: dt.datetime | None = None
) -> list[Volume]:
    """The people among `actors` (id -> username) whose reads in the last hour are at
    least VOLUME_MINIMUM and more than VOLUME_FACTOR times their hourly average over the
    30 days before.

    One query for all of them, over the (at most a page of) accounts: for each, the
    reads of the last hour are counted, and only for those over the minimum is the
    30-day baseline counted (a subquery in the select list runs only for the rows the
    WHERE kept). Both counts walk the (actor, seq) index only between the positions of
    their window's UTC days (in_window: from the first event of the day the window
    starts in), rather than every event the person ever caused; the times decide.
    """
    if not actors:
        return []
    now = now or timezone.now()
    hour_ago = now - dt.timedelta(hours=1)
    month_ago = hour_ago - BASELINE
    reads = scoped.order_by().filter(actor_id=OuterRef("pk"), action__in=READ_ACTIONS)
    last_hour = _count(in_window(reads, hour_ago, None))
    earlier = _count(in_window(reads, month_ago, hour_ago))
    rows = (
        get_user_model()
        ._default_manager.order_by()
        .filter(pk__in=list(actors))
        .annotate(last_hour=last_hour)
        .filter(last_hour__gte=VOLUME_MINIMUM)
        .annotate(earlier=earlier)
        .order_by("-last_hour", "pk")
        .values_list("pk", "last_hour", "earlier")
    )
    return [
        Volume(
            actor_id=actor_id,
            username=actors[actor_id],
            last_hour=count,
            hourly_average=round(before / BASELINE_HOURS, 2),
        )
        for actor_id, count, before in rows
        if count * BASELINE_HOURS > VOLUME_FACTOR * before
    ]


def in_window(
    queryset: QuerySet[AuditEvent], start: dt.datetime | None, end: dt.datetime | None
) -> QuerySet[AuditEvent]:
    """Events stamped in [start, end) (an open end when None), found by their place in
    the chain as well as by their time, so the planner reads one stretch of the seq
    index instead of guessing how times spread over it (at millions of events a month's
    filter went from seconds to milliseconds).

    The stretch comes from AuditDay: every event's UTC day holds the smallest and largest
    position of the events stamped that day, kept by the chain trigger as each event is
    inserted, in whatever order. So every event stamped in the window lies between the
    smallest first_seq and the largest last_seq of the UTC days from start's to that of
    the window's last instant, including one stamped long before it was written (an
    import, a back-dated event, which widens its day's range). The bounds can only be
    wider than the window, never narrower; the time filter itself decides. Both bounds
    are one-row subqueries of the small day table; days with no events give bounds that
    match nothing (no event is then in the window either)."""
    days = AuditDay.objects.order_by()
    if start is not None:
        days = days.filter(day__gte=utc_date(start))
        queryset = queryset.filter(occurred_at__gte=start)
    if end is not None:
        days = days.filter(day__lte=utc_date(end - dt.timedelta(microseconds=1)))
        queryset = queryset.filter(occurred_at__lt=end)
    if start is None and end is None:
        return queryset
    return queryset.filter(
        seq__gte=Coalesce(_over(days, Min("first_seq")), Value(NO_SEQ), output_field=SEQ),
        seq__lte=Coalesce(_over(days, Max("last_seq")), Value(0), output_field=SEQ),
    )


def _over(rows: QuerySet[AuditDay], aggregate: Min | Max) -> Subquery:
    """`(SELECT <aggregate> FROM audit_auditday WHERE ...)`: one value over all the rows,
    NULL when there are none. (Grouping by a constant, which Django leaves out of GROUP
    BY, is how a subquery aggregates over every row.)"""
    whole = rows.annotate(_whole=Value(1, output_field=IntegerField())).values("_whole")
    return Subquery(whole.annotate(bound=aggregate).values("bound"), output_field=SEQ)


def utc_date(moment: dt.datetime) -> dt.date:
    """The UTC calendar day of a moment (AuditDay's days)."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment.astimezone(dt.UTC).date()


def _count(queryset: QuerySet[AuditEvent]) -> Coalesce:
    counted = queryset.values("actor_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


# --- Who has seen a victim's information ---------------------------------------------


def describe(value: Any) -> str:
    """A value of an event's detail, as plain text for a table cell."""
    if value is None or value == "":
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(describe(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}: {describe(item)}" for key, item in value.items())
    return str(value)


def describe_release(value: Any) -> str:
    if value is None or value == "":
        return "None (seen in their own role)"
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return f"Release #{value}"
    return describe(value)


@dataclass(frozen=True)
class Disclosure:
    event: AuditEvent
    shown: str
    release: str


def disclosures(
    events: Iterable[AuditEvent], labels: Mapping[str, str] | None = None
) -> list[Disclosure]:
    """The victims app writes, on each disclosure, what was shown and under which
    release of information (detail keys "shown" and "release"). `labels` puts what was
    shown in words (the audit app knows no field names), in the order of `labels`;
    several fields with the same words are named once."""
    order = {word: i for i, word in enumerate(dict.fromkeys((labels or {}).values()))}
    rows = []
    for event in events:
        detail = event.detail if isinstance(event.detail, dict) else {}
        shown = detail.get("shown")
        if labels is not None and isinstance(shown, list):
            named = {labels.get(str(item), str(item)) for item in shown}
            shown = sorted(named, key=lambda word: (order.get(word, len(order)), word))
        rows.append(Disclosure(event, describe(shown), describe_release(detail.get("release"))))
    return rows


# --- CSV ------------------------------------------------------------------------------

CSV_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_username",
    "action",
    "outcome",
    "emergency",
    "target_type",
    "target_id",
    "case_id",
    "victim_id",
    "ip_address",
    "request_id",
    "detail",
    "hash",
)
# A cell a spreadsheet would run as a formula. Usernames of failed sign-ins are typed
# by anyone, so every text cell is defused.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_rows(queryset: QuerySet[AuditEvent]) -> Iterator[list[Any]]:
    """The header, then one row per event, read in chunks (a server-side cursor on
    PostgreSQL), so an export of 100,000 events never sits in memory at once."""
    yield list(CSV_COLUMNS)
    for row in queryset.values_list(*CSV_COLUMNS).iterator(chunk_size=2000):
        values = dict(zip(CSV_COLUMNS, row, strict=True))
        values["occurred_at"] = values["occurred_at"].isoformat()
        values["detail"] = json.dumps(values["detail"], sort_keys=True)
        yield [safe_cell(values[name]) for name in CSV_COLUMNS]
