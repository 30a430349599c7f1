"""Emergency access: a supervisor reads a case outside their teams for a written reason,
for a limited time (EMERGENCY_ACCESS_MINUTES), marked on every event it produces, then
signed off by another supervisor."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.models import Action
from audit.services import record
from casework.models import Case, EmergencyAccess
from teams.disclosure.grants import grant_case_access
from teams.disclosure.queries import visible_case_ids
from teams.roles import Role
from teams.selectors import is_supervisor

MINIMUM_REASON = 20


def start(user: Any, reference: str, reason: str) -> EmergencyAccess:
    """Open the case with this reference for `user`. Field errors on bad input."""
    errors: dict[str, str] = {}
    reason = (reason or "").strip()
    if not is_supervisor(user):
        errors["__all__"] = "Only a supervisor can start emergency access."
    if len(reason) < MINIMUM_REASON:
        errors["reason"] = (
            f"Write why you need this case now (at least {MINIMUM_REASON} characters)."
        )
    case = Case.objects.filter(reference=(reference or "").strip()).first()
    if case is None:
        errors["reference"] = "No case has this reference."
    elif visible_case_ids(user).filter(pk=case.pk).exists():
        errors["reference"] = "You can already see this case; emergency access is not needed."
    if errors:
        raise ValidationError(errors)
    assert case is not None
    now = timezone.now()
    expires = now + dt.timedelta(minutes=settings.EMERGENCY_ACCESS_MINUTES)
    with transaction.atomic():
        access = EmergencyAccess.objects.create(
            case=case, user=user, reason=reason, started_at=now, expires_at=expires
        )
        grant_case_access(
            user, case, Role.SUPERVISOR, granted_by=user, reason=reason, expires_at=expires
        )
        record(
            user,
            Action.EMERGENCY_ACCESS,
            target=access,
            case_id=case.pk,
            detail={"reason": reason, "expires_at": expires.isoformat()},
        )
    return access


def review(reviewer: Any, access: EmergencyAccess, note: str) -> EmergencyAccess:
    errors: dict[str, str] = {}
    if not is_supervisor(reviewer):
        errors["__all__"] = "Only a supervisor can sign off emergency access."
    elif reviewer.pk == access.user_id:
        errors["__all__"] = "Another supervisor must sign off your own emergency access."
    if access.reviewed_at is not None:
        errors["__all__"] = "This emergency access has already been signed off."
    if not (note or "").strip():
        errors["note"] = "Say what you checked before signing off."
    if errors:
        raise ValidationError(errors)
    access.reviewed_by = reviewer
    access.reviewed_at = timezone.now()
    access.review_note = note.strip()
    access.save(update_fields=["reviewed_by", "reviewed_at", "review_note"])
    record(
        reviewer,
        Action.EMERGENCY_REVIEW,
        target=access,
        case_id=access.case_id,
        detail={"note": access.review_note, "user": access.user_id},
    )
    return access


def awaiting_review(reviewer: Any) -> QuerySet[EmergencyAccess]:
    """Emergency accesses another supervisor must sign off (never one's own)."""
    if not is_supervisor(reviewer):
        return EmergencyAccess.objects.none()
    return (
        EmergencyAccess.objects.filter(reviewed_at__isnull=True)
        .exclude(user=reviewer)
        .select_related("case", "user")
        .order_by("started_at")
    )


def visible_to(user: Any) -> QuerySet[EmergencyAccess]:
    """The accesses a user may read: their own, and those awaiting their sign-off."""
    if not is_supervisor(user):
        return EmergencyAccess.objects.none()
    mine = EmergencyAccess.objects.filter(user=user)
    return (
        (mine | awaiting_review(user)).select_related("case", "user", "reviewed_by").distinct()
    ).order_by("-started_at", "-id")


def cases_under_emergency(actor_id: int, case_ids: set[int]) -> set[int]:
    """For the audit trail: which of these cases the actor reads under emergency access."""
    now = timezone.now()
    return set(
        EmergencyAccess.objects.filter(
            user_id=actor_id, case_id__in=case_ids, started_at__lte=now, expires_at__gt=now
        ).values_list("case_id", flat=True)
    )
