"""The audit review page and its CSV export.

Anyone signed in may open them and reads what audit.scopes allows: their own actions,
plus their teams' events for a supervisor and account events for the system
administrator. Every read of the trail, the export included, is itself recorded.
"""

from __future__ import annotations

import csv
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from audit import review
from audit.forms import AuditFilterForm
from audit.models import Action, AuditEvent, Outcome
from audit.scopes import events_for
from audit.services import record

TRAIL = AuditEvent._meta.label_lower


def record_trail_read(user: Any, filters: dict[str, Any], seqs: list[int], **extra: Any) -> None:
    """One LIST event per page of the trail read: the filters and the positions shown."""
    record(user, Action.LIST, target_type=TRAIL, detail={"filters": filters, "seqs": seqs, **extra})


def record_refused_read(user: Any, form: AuditFilterForm) -> None:
    """Filters that did not validate still asked the trail a question (is there a case
    with this id among my events?): recorded, with nothing shown."""
    record(
        user,
        Action.LIST,
        target_type=TRAIL,
        outcome=Outcome.FAILED,
        detail={"filters": form.raw_filters(), "errors": sorted(form.errors), "seqs": []},
    )


@login_required
@require_GET
def review_page(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        record_refused_read(request.user, form)
        return render(request, "audit/review.html", _context(form), status=400)
    scoped = events_for(request.user)
    page = review.page_of(form.apply(scoped), form.cleaned_data.get("before"))
    actors = {e.actor_id: e.actor_username for e in page.events if e.actor_id is not None}
    volumes = review.unusual_volume(scoped, actors)
    filters = form.filters()
    record_trail_read(
        request.user,
        filters,
        [int(e.seq) for e in page.events if e.seq is not None],
        before=form.cleaned_data.get("before"),
    )
    context = _context(form)
    context.update(
        page=page,
        volumes=volumes,
        disclosures=review.disclosures(page.events) if form.is_victim_disclosures else None,
        older_url="?" + urlencode({**filters, "before": page.older}) if page.older else "",
        newest_url="?" + urlencode(filters) if form.cleaned_data.get("before") else "",
        export_url=reverse("audit-export") + ("?" + urlencode(filters) if filters else ""),
    )
    return render(request, "audit/review.html", context)


def _context(form: AuditFilterForm) -> dict[str, Any]:
    return {
        "form": form,
        "page": None,
        "volumes": [],
        "disclosures": None,
        "case_timeline": form.is_case_timeline,
        "victim_disclosures": form.is_victim_disclosures,
    }


class _Echo:
    """A file-like object whose write() hands the line back, for csv.writer."""

    def write(self, value: str) -> str:
        return value


@login_required
@require_GET
def export_csv(request: HttpRequest) -> HttpResponseBase:
    form = AuditFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        record_refused_read(request.user, form)
        return render(request, "audit/review.html", _context(form), status=400)
    # The export is pinned to the trail as it stands now, so the row count recorded
    # before any data leaves is exactly what is then streamed (the trail only grows;
    # this request's own EXPORT event comes after the pin).
    head = AuditEvent.objects.exclude(seq=None).order_by("-seq").values_list("seq", flat=True)
    up_to = head.first() or 0
    rows = form.apply(events_for(request.user)).filter(seq__lte=up_to).order_by("-seq")
    rows = rows[: review.EXPORT_LIMIT]
    count = rows.count()
    record(
        request.user,
        Action.EXPORT,
        target_type=TRAIL,
        detail={
            "filters": form.filters(),
            "rows": count,
            "up_to_seq": up_to,
            "limit": review.EXPORT_LIMIT,
            "reached_limit": count >= review.EXPORT_LIMIT,
            "format": "csv",
        },
    )
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in review.csv_rows(rows)),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
