"""Reads of casework, every one restricted by the disclosure policy."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from casework.models import Case, CaseDecision, CaseNote, Supervisee
from teams.disclosure import restrict
from teams.roles import Role
from teams.selectors import teams_where


def cases_for(user: Any) -> QuerySet[Case]:
    return restrict(Case.objects.all(), user).select_related(
        "supervisee", "team", "assigned_officer"
    )


def search_cases(user: Any, query: str = "", status: str = "") -> QuerySet[Case]:
    cases = cases_for(user)
    query = query.strip()
    if query:
        cases = cases.filter(
            Q(reference__icontains=query)
            | Q(supervisee__first_name__icontains=query)
            | Q(supervisee__last_name__icontains=query)
            | Q(supervisee__docket_number__icontains=query)
        )
    if status:
        cases = cases.filter(status=status)
    return cases.order_by("supervisee__last_name", "supervisee__first_name", "reference")


def officer_caseload(user: Any) -> QuerySet[Case]:
    return cases_for(user).filter(assigned_officer=user).order_by("next_review_due", "reference")


def supervised_cases(user: Any) -> QuerySet[Case]:
    return cases_for(user).filter(team_id__in=teams_where(user, Role.SUPERVISOR))


def represented_cases(user: Any) -> QuerySet[Case]:
    # The reverse relation from victims is reached by name, so casework imports nothing
    # from the victims app (dependencies point one way).
    return cases_for(user).filter(
        pk__in=Case.objects.filter(victim_links__representative=user).values("pk")
    )


def team_cases(user: Any, role: Role) -> QuerySet[Case]:
    return cases_for(user).filter(team_id__in=teams_where(user, role))


def notes_for(user: Any) -> QuerySet[CaseNote]:
    return restrict(CaseNote.objects.all(), user).select_related("author", "case")


def decisions_for(user: Any) -> QuerySet[CaseDecision]:
    return restrict(CaseDecision.objects.all(), user).select_related("author", "case")


def supervisees_for(user: Any) -> QuerySet[Supervisee]:
    return restrict(Supervisee.objects.all(), user)
