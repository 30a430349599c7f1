"""The officer's acknowledgement of victim input on a pending decision: the decision's
author or the case's assigned officer records, once, that they read it, and the
representative who wrote it is told in the app (and sees who acknowledged it, and when,
wherever the input is shown to them)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import Action
from audit.services import record
from casework.models import CaseDecision, DecisionStatus
from teams.disclosure import CaseAccess, case_access
from teams.disclosure.policy import Info, write_codename
from teams.models import NotificationKind
from teams.notify import notify
from victims.models import VictimInput

NOT_THE_OFFICER = (
    "Only the decision's author or the case's assigned officer acknowledges input on it."
)


def may_acknowledge(user: Any, access: CaseAccess, decision: CaseDecision) -> bool:
    """The decision's author or the case's assigned officer, while they write decisions
    on the case (an officer of its team, by the policy). No query: `decision.case` is
    expected to be loaded with the decision."""
    if not access.has(write_codename(Info.DECISION_DRAFT)):
        return False
    return user.pk in {decision.author_id, decision.case.assigned_officer_id}


def acknowledge_input(user: Any, item: VictimInput) -> VictimInput:
    """Record that `user` acknowledged `item`. Once only; refused on input that is not
    linked to a decision, and on a withdrawn decision's input."""
    access = case_access(user, item.case)
    if not access.can_see(item):
        raise PermissionDenied("You cannot see this input.")
    decision = item.decision
    if decision is None:
        raise ValidationError(
            {NON_FIELD_ERRORS: ["Only input on a pending decision is acknowledged."]}
        )
    if not may_acknowledge(user, access, decision):
        raise PermissionDenied(NOT_THE_OFFICER)
    if decision.status == DecisionStatus.WITHDRAWN:
        raise ValidationError(
            {NON_FIELD_ERRORS: ["The decision was withdrawn: its input needs no acknowledgement."]}
        )
    with transaction.atomic():
        # Two officers at once: the second waits for the first and is told.
        locked = VictimInput.objects.select_for_update().get(pk=item.pk)
        if locked.acknowledged_at is not None:
            raise ValidationError({NON_FIELD_ERRORS: [already_acknowledged(locked)]})
        locked.acknowledged_by = user
        locked.acknowledged_at = timezone.now()
        locked.save(update_fields=["acknowledged_by", "acknowledged_at", "updated_at"])
        record(
            user,
            Action.ACKNOWLEDGE,
            target=locked,
            case_id=locked.case_id,
            detail={"decision": decision.pk},
        )
    item.acknowledged_by = locked.acknowledged_by
    item.acknowledged_at = locked.acknowledged_at
    link = reverse("case-detail", args=[item.case_id]) + f"#victim-input-{item.pk}"
    notify(
        [item.author],
        NotificationKind.INPUT_ACKNOWLEDGED,
        f"Your input on case {item.case.reference} was acknowledged",
        link,
        key=f"input-acknowledged:{item.pk}",
    )
    return item


def already_acknowledged(item: VictimInput) -> str:
    when = timezone.localtime(item.acknowledged_at) if item.acknowledged_at else None
    on = f" on {when:%d %b %Y}" if when else ""
    return f"This input was already acknowledged by {item.acknowledged_by}{on}."
