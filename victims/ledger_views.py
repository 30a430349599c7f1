"""The disclosure ledger page: printable, for the victim representative to hand to the
victim who asks who has seen their information."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from victims import selectors
from victims.ledger import ledger, ledger_victim_or_404


def _before(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


@login_required
@require_GET
def ledger_page(request: HttpRequest, pk: int) -> HttpResponse:
    victim, case_ids = ledger_victim_or_404(request.user, pk)
    before = _before(request.GET.get("before"))
    page = ledger(request.user, victim, case_ids, before)
    # The name heads the page: shown through victim_views, which records it (the reader
    # is one of the victim's representatives, who see it in their role).
    links = list(
        selectors.victim_links_for(request.user).filter(victim=victim, case_id__in=case_ids)
    )
    views = selectors.victim_views(request.user, links)
    name = next((view.display_name for view in views if view.show_identity), "")
    return render(
        request,
        "victims/ledger.html",
        {
            "ledger": page,
            "victim_name": name or (views[0].pseudonym if views else ""),
            "before": before,
            "prepared_on": timezone.localdate(),
        },
    )
