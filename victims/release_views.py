"""The printable release form. Releases are read by the case's victim representatives
only (the policy table); anyone else gets the 404 a missing release gets, recorded in
the audit trail as denied."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.services import record_read
from teams.disclosure import get_visible_or_404
from victims import selectors
from victims.release_document import release_document


@login_required
@require_GET
def release_form_page(request: HttpRequest, pk: int) -> HttpResponse:
    release = get_visible_or_404(selectors.releases_for(request.user), request.user, pk=pk)
    document = release_document(request.user, release)
    record_read(request.user, release, case_id=release.case_id)
    return render(request, "victims/release_print.html", {"doc": document})
