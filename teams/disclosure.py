"""The disclosure policy: the one place that decides what a user may see.

Every read path (HTML views, API viewsets, search, counts and paging, exports, e-mail
bodies, the admin) restricts its queryset with `restrict()`. A model takes part by
declaring how it reaches its case:

    disclosure_case_path = "case"          # a lookup from the model to its Case ("" for Case)
    disclosure_locating = True             # victim locating information (rule 1)

Current rule (the foundation's): a user sees a case, and what hangs from it, while they
hold an active membership of the case's team. Victim locating information is narrower
already: only the victim representatives on the case's team see it. The role-by-level
matrix replaces the body of `visible_case_ids()` without changing any caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import QuerySet
from django.http import Http404

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from teams.models import User

M = TypeVar("M", bound=models.Model)


class DisclosureLevel(models.TextChoices):
    TEAM = "team", "Whole team"
    SUPERVISION = "supervision", "Supervision (officer, supervisor, treatment, polygraph)"
    SUPERVISION_AND_VICTIM_SERVICES = (
        "supervision_and_victim_services",
        "Supervision and victim services (officer, supervisor, victim representatives)",
    )
    VICTIM_SERVICES = "victim_services", "Victim services only"
    RESTRICTED = "restricted", "Restricted (author and named members)"


def _can_read_cases(user: User | AnonymousUser) -> bool:
    # The system administrator manages accounts and teams but reads no case content,
    # whatever memberships the account may also carry.
    return bool(user.is_authenticated and user.is_active and not user.is_staff)


def team_ids_for(user: User | AnonymousUser, roles: tuple[str, ...] | None = None) -> QuerySet[Any]:
    """The ids of the teams where the user holds an active membership, as a subquery."""
    membership = apps.get_model("teams", "Membership")
    if not (user.is_authenticated and user.is_active):
        return membership.objects.none().values("team_id")
    memberships = membership.objects.active().filter(user_id=user.pk)
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return memberships.values("team_id")


def visible_case_ids(user: User | AnonymousUser, *, locating: bool = False) -> QuerySet[Any]:
    """The ids of the cases the user may read, as one SQL subquery (never a Python list)."""
    case = apps.get_model("casework", "Case")
    if not _can_read_cases(user):
        return case.objects.none().values("pk")
    roles = ("victim_rep",) if locating else None
    return case.objects.filter(team_id__in=team_ids_for(user, roles)).values("pk")


def restrict(queryset: QuerySet[M], user: User | AnonymousUser) -> QuerySet[M]:
    """Limit `queryset` to the rows `user` may read. The only way to read protected rows."""
    model = queryset.model
    if model._meta.label == "teams.Team":
        if not (user.is_authenticated and user.is_active):
            return queryset.none()
        return queryset.filter(pk__in=team_ids_for(user))
    path: str | None = getattr(model, "disclosure_case_path", None)
    if path is None:
        raise TypeError(f"{model._meta.label} does not declare disclosure_case_path.")
    cases = visible_case_ids(user, locating=getattr(model, "disclosure_locating", False))
    if path == "":
        return queryset.filter(pk__in=cases)
    if getattr(model, "disclosure_case_path_is_many", False):
        # A to-many path would repeat rows; a subquery on the primary key keeps one each.
        matching = model._default_manager.filter(**{f"{path}__in": cases}).values("pk")
        return queryset.filter(pk__in=matching)
    return queryset.filter(**{f"{path}__in": cases})


def get_visible_or_404(queryset: QuerySet[M], user: User | AnonymousUser, **lookup: Any) -> M:
    """Fetch one row the user may see; a hidden row answers exactly like a missing one."""
    try:
        return restrict(queryset, user).get(**lookup)
    except ObjectDoesNotExist:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from None


def can_see_locating_information(user: User | AnonymousUser, case_id: int) -> bool:
    """Whether the user may see the locating information of the victims of this case."""
    return visible_case_ids(user, locating=True).filter(pk=case_id).exists()
