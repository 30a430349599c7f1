"""The victim representative's section of the dashboard: on the cases of the teams where
the user is a victim representative today, what waits for them. Open information
requests (not yet relayed), notifications to relay, decisions awaiting their input,
releases expiring within 30 days and new-victim reports not yet acknowledged; each with
its total and the first rows, linked to where it is handled.

Every read goes through restrict() (victims.queue for input requests). Each section is
one query: the total comes with the rows as a window count, so the page costs the same
number of queries whatever the number of rows. Victims are named as victim_views
decides, all rows at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from django.db.models import Count, Model, QuerySet, Window
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from audit.services import record_list
from teams.disclosure import restrict
from victims.models import (
    InformationRequest,
    InputRequest,
    NewVictimReport,
    PlaceConflict,
    Release,
    VictimNotification,
)
from victims.queue import open_requests, representative_team_ids, victim_names
from victims.registrations import awaiting_relay

ROWS = 5
EXPIRING_WITHIN_DAYS = 30
FALLBACK = "victim-queue"

# Where each kind of row is handled: the first URL name that exists (other pages of
# victim services may not be there yet), else the victim services queue.
DETAIL_NAMES: dict[str, tuple[str, ...]] = {
    "information_requests": ("information-request-detail",),
    "notifications": ("victim-notification-relay",),
    "input_requests": ("input-request-answer",),
    "new_victim_reports": ("new-victim-report-detail",),
}
LIST_NAMES: dict[str, tuple[str, ...]] = {
    "information_requests": ("information-request-list",),
    "notifications": ("victim-notifications",),
    "input_requests": ("victim-queue",),
    "releases": (),  # handled on each victim's page, which every row links to
    "new_victim_reports": ("new-victim-report-list",),
}


def first_url(names: Sequence[str], *args: Any) -> str | None:
    for name in names:
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    return None


@dataclass(frozen=True)
class Row:
    text: str  # what it is, without case content beyond the reference and kind
    link: str
    case_id: int
    case_reference: str
    victim_name: str = ""
    when: dt.date | dt.datetime | None = None
    flag: str = ""  # "Overdue", "Expires in 3 days", ...


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    total: int
    rows: list[Row]
    list_link: str
    empty: str


@dataclass(frozen=True)
class RepDashboard:
    sections: list[Section]
    conflicts: int  # possible conflicts with a protected location (the queue's second part)
    queue_link: str = field(default="")

    @property
    def requests(self) -> int:
        """Open requests for input, as the queue block has always said."""
        return next((s.total for s in self.sections if s.key == "input_requests"), 0)


def _page(queryset: QuerySet[Any]) -> tuple[list[Any], int]:
    """The first rows and the total, in one query."""
    rows = list(queryset.annotate(section_total=Window(expression=Count("pk")))[:ROWS])
    return rows, (rows[0].section_total if rows else 0)


def rep_dashboard(user: Any) -> RepDashboard:
    teams = representative_team_ids(user)
    today = timezone.localdate()
    now = timezone.now()

    info, info_total = _page(
        restrict(InformationRequest.objects.all(), user)
        .filter(case__team_id__in=teams, relayed_at__isnull=True)
        .select_related("case")
        .order_by("due_on", "id")
    )
    # The relay queue's own definition: relayed ones, and e-mails that failed, alike.
    notes, notes_total = _page(
        awaiting_relay(user).select_related("case").order_by("occurred_at", "id")
    )
    asked, asked_total = _page(
        open_requests(user).filter(case__team_id__in=teams).order_by("due_at", "id")
    )
    releases, releases_total = _page(
        restrict(Release.objects.all(), user)
        .filter(
            case__team_id__in=teams,
            revoked_at__isnull=True,
            expires_on__gte=today,
            expires_on__lte=today + dt.timedelta(days=EXPIRING_WITHIN_DAYS),
        )
        .select_related("case", "recipient")
        .order_by("expires_on", "id")
    )
    reports, reports_total = _page(
        restrict(NewVictimReport.objects.all(), user)
        .filter(case__team_id__in=teams, acknowledged_at__isnull=True)
        .select_related("case")
        .order_by("created_at", "id")
    )
    conflicts = restrict(PlaceConflict.objects.all(), user).filter(case__team_id__in=teams).count()

    # The trail records each list as shown (buffered with the request's other events).
    shown: list[tuple[type[Model], list[Any]]] = [
        (InformationRequest, info),
        (VictimNotification, notes),
        (InputRequest, asked),
        (Release, releases),
        (NewVictimReport, reports),
    ]
    for model, rows in shown:
        if rows:
            record_list(user, model, [row.pk for row in rows])
    names = victim_names(user, cast(Any, [*info, *notes, *releases]))
    fallback = reverse(FALLBACK)

    def link(key: str, pk: int) -> str:
        return first_url(DETAIL_NAMES.get(key, ()), pk) or list_link(key)

    def list_link(key: str) -> str:
        return first_url(LIST_NAMES.get(key, ())) or fallback

    def name(row: Any) -> str:
        return names.get((row.case_id, row.victim_id), "")

    sections = [
        Section(
            "information_requests",
            "Open information requests",
            info_total,
            [
                Row(
                    text=(
                        f"{r.get_topic_display()}: "
                        + ("answered, to relay" if r.answered_at else "waiting for the answer")
                    ),
                    link=link("information_requests", r.pk),
                    case_id=r.case_id,
                    case_reference=r.case.reference,
                    victim_name=name(r),
                    when=r.due_on,
                    flag="Overdue" if r.answered_at is None and r.due_on < today else "",
                )
                for r in info
            ],
            list_link("information_requests"),
            "No open information requests.",
        ),
        Section(
            "notifications",
            "Notifications to relay",
            notes_total,
            [
                Row(
                    text=n.get_event_display(),
                    link=link("notifications", n.pk),
                    case_id=n.case_id,
                    case_reference=n.case.reference,
                    victim_name=name(n),
                    when=n.occurred_at,
                )
                for n in notes
            ],
            list_link("notifications"),
            "No notifications to relay.",
        ),
        Section(
            "input_requests",
            "Decisions awaiting your input",
            asked_total,
            [
                Row(
                    text=f"{r.kind_label}: {r.summary}",
                    link=link("input_requests", r.pk),
                    case_id=r.case_id,
                    case_reference=r.case.reference,
                    when=r.due_at,
                    flag="Overdue" if r.due_at < now else "",
                )
                for r in asked
            ],
            list_link("input_requests"),
            "No decisions awaiting your input.",
        ),
        Section(
            "releases",
            f"Releases expiring within {EXPIRING_WITHIN_DAYS} days",
            releases_total,
            [
                Row(
                    text=f"Release to {r.recipient}",
                    link=reverse("victim-detail", args=[r.victim_id]),
                    case_id=r.case_id,
                    case_reference=r.case.reference,
                    victim_name=name(r),
                    when=r.expires_on,
                    flag=_expires_in((r.expires_on - today).days),
                )
                for r in releases
            ],
            list_link("releases"),
            "No releases expiring soon.",
        ),
        Section(
            "new_victim_reports",
            "New-victim reports not acknowledged",
            reports_total,
            [
                Row(
                    text=f"Possible new victim disclosed {r.get_context_display().lower()}",
                    link=link("new_victim_reports", r.pk),
                    case_id=r.case_id,
                    case_reference=r.case.reference,
                    when=r.created_at,
                )
                for r in reports
            ],
            list_link("new_victim_reports"),
            "No new-victim reports waiting.",
        ),
    ]
    return RepDashboard(sections=sections, conflicts=conflicts, queue_link=fallback)


def _expires_in(days: int) -> str:
    if days <= 0:
        return "Expires today"
    return f"Expires in {days} day{'s' if days != 1 else ''}"
