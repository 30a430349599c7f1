"""The floor for bench/permissions.py: the case list and case detail pages with no
permission query and no audit event, served through the same middleware, sign-in,
templates and context processors as the app's pages (this module is the URLconf the
benchmark runs with: the app's URLs plus the two floor pages).

What the floor knows without asking the database, the benchmark gives it beforehand
(FLOOR_USERS): the ids of the user's teams and the user's role. From the role, the
user's permissions on a case come from the policy table in memory, so the floor pages
show exactly what the app's pages show (the same notes, labels and form), but no
permission row, membership or grant is read and nothing is written to the audit trail.

The detail mirrors casework.views.case_detail; keep it in step when that view changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path

from casework import views as app_views
from casework.forms import NoteForm
from casework.models import Case, CaseDecision, CaseNote, CaseStatus
from casework.panels import panels_for
from casework.views import CASES_PER_PAGE
from config.urls import urlpatterns as app_urlpatterns
from teams.disclosure import CaseAccess
from teams.disclosure.policy import role_codenames
from teams.roles import Role


@dataclass(frozen=True)
class FloorUser:
    team_ids: list[int]
    role: Role


# user id -> what the floor knows about the user; filled in by the benchmark.
FLOOR_USERS: dict[int, FloorUser] = {}


def floor_cases(team_ids: list[int]) -> QuerySet[Case]:
    """The same rows, joins and order as casework.selectors.search_cases, unfiltered:
    the cases of a list of team ids."""
    return (
        Case.objects.filter(team_id__in=team_ids)
        .select_related("supervisee", "team", "assigned_officer")
        .order_by("supervisee__last_name", "supervisee__first_name", "reference")
    )


def floor_access(user: Any, case: Case) -> CaseAccess:
    """What case_access() answers for a member of the case's team, from the policy table
    in memory (no query)."""
    role = FLOOR_USERS[user.pk].role
    codes = frozenset(role_codenames(role))
    return CaseAccess(int(user.pk), int(case.pk), codes, frozenset({role.value}), frozenset())


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    cases = floor_cases(FLOOR_USERS[request.user.pk or 0].team_ids)
    page = Paginator(cases, CASES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "casework/case_list.html",
        {"page": page, "query": "", "status": "", "statuses": CaseStatus.choices},
    )


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(
        Case.objects.select_related("supervisee", "team", "assigned_officer"), pk=pk
    )
    access = floor_access(request.user, case)
    notes = access.filter(CaseNote.objects.filter(case=case).select_related("author"))
    decisions = access.filter(CaseDecision.objects.filter(case=case).select_related("author"))
    app_views._annotate_audience(notes, access)
    app_views._annotate_audience(decisions, access)
    note_form = NoteForm(case=case, access=access, author=request.user)
    context: dict[str, Any] = {
        "case": case,
        "notes": notes,
        "decisions": decisions,
        # The victims panel reads the case's links and input and judges them in memory;
        # the bench data has no victims, so its locating read makes no query.
        "panels": panels_for(case, request.user, access),
        "access": access,
        "note_form": note_form if note_form.can_write else None,
    }
    return render(request, "casework/case_detail.html", context)


urlpatterns = [
    path("bench-floor/cases/", case_list, name="bench-floor-case-list"),
    path("bench-floor/cases/<int:pk>/", case_detail, name="bench-floor-case-detail"),
    *app_urlpatterns,
]
