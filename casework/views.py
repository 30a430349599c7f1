from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from audit.services import record_list, record_read
from casework import selectors
from casework.models import Case, CaseDecision, CaseNote, CaseStatus
from casework.panels import panels_for
from teams.disclosure import case_access, get_visible_or_404
from teams.models import Team, User
from teams.roles import Role
from teams.selectors import active_roles, upcoming_meetings

CASES_PER_PAGE = 25


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    status = request.GET.get("status", "")
    if status not in CaseStatus.values:
        status = ""
    cases = selectors.search_cases(request.user, query, status)
    page = Paginator(cases, CASES_PER_PAGE).get_page(request.GET.get("page"))
    record_list(request.user, Case, [case.pk for case in page.object_list])
    return render(
        request,
        "casework/case_list.html",
        {"page": page, "query": query, "status": status, "statuses": CaseStatus.choices},
    )


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_visible_or_404(selectors.cases_for(request.user), request.user, pk=pk)
    # The user's permissions on this case are loaded once; each record is judged in memory.
    access = case_access(request.user, case)
    notes = access.filter(CaseNote.objects.filter(case=case).select_related("author"))
    decisions = access.filter(CaseDecision.objects.filter(case=case).select_related("author"))
    context: dict[str, Any] = {
        "case": case,
        "notes": notes,
        "decisions": decisions,
        "panels": panels_for(case, request.user, access),
        "access": access,
    }
    record_read(request.user, case, case_id=case.pk)
    return render(request, "casework/case_detail.html", context)


DASHBOARD_ROWS = 10


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """One page per person, with a section for each role they hold today."""
    user = request.user
    if user.is_staff:
        return _admin_dashboard(request)
    roles = active_roles(user)
    sections: list[dict[str, Any]] = []
    if Role.OFFICER in roles:
        sections.append(_section("My cases", selectors.officer_caseload(user), "officer"))
    if Role.VICTIM_REP in roles:
        sections.append(
            _section("Cases where I represent a victim", selectors.represented_cases(user), "rep")
        )
    if Role.SUPERVISOR in roles:
        sections.append(_section("My teams' cases", selectors.supervised_cases(user), "sup"))
    if Role.TREATMENT in roles:
        sections.append(
            _section(
                "Cases I provide treatment on", selectors.team_cases(user, Role.TREATMENT), "tx"
            )
        )
    if Role.POLYGRAPH in roles:
        sections.append(
            _section("Cases I examine on", selectors.team_cases(user, Role.POLYGRAPH), "poly")
        )
    shown = [case.pk for section in sections for case in section["cases"]]
    record_list(user, Case, list(dict.fromkeys(shown)))
    return render(
        request,
        "dashboard.html",
        {"sections": sections, "meetings": upcoming_meetings(user), "has_roles": bool(roles)},
    )


def _section(title: str, cases: Any, key: str) -> dict[str, Any]:
    return {
        "title": title,
        "key": key,
        "total": cases.count(),
        "cases": list(cases[:DASHBOARD_ROWS]),
    }


def _admin_dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    teams = Team.objects.annotate(
        member_count=Count(
            "memberships__user",
            filter=Q(memberships__active_from__lte=today)
            & (Q(memberships__active_to__isnull=True) | Q(memberships__active_to__gte=today)),
            distinct=True,
        )
    )
    users = User.objects.order_by("username").prefetch_related("memberships__team")
    return render(request, "admin_dashboard.html", {"teams": teams, "users": users})
