"""Recording audit events. Other apps call `record()`; nothing writes AuditEvent directly."""

from __future__ import annotations

from typing import Any

from django.db import models

from audit.context import current
from audit.models import Action, AuditEvent, Outcome


def record(
    actor: Any,
    action: Action | str,
    *,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    case_id: int | None = None,
    outcome: Outcome | str = Outcome.ALLOWED,
    detail: dict[str, Any] | None = None,
    username: str = "",
) -> AuditEvent:
    context = current.get()
    if actor is None and context.user is not None:
        actor = context.user
    if target is not None:
        target_type = target._meta.label_lower
        target_id = target.pk
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        actor=actor if authenticated else None,
        actor_username=actor.get_username() if authenticated else username[:150],
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        case_id=case_id,
        outcome=outcome,
        ip_address=context.ip_address,
        user_agent=context.user_agent,
        request_id=context.request_id,
        detail=detail or {},
    )


def record_read(actor: Any, target: models.Model, *, case_id: int | None) -> AuditEvent:
    """A detail page or API detail showed one record."""
    return record(actor, Action.VIEW, target=target, case_id=case_id)


def record_list(actor: Any, model: type[models.Model], ids: list[Any]) -> AuditEvent:
    """A list page showed these rows: one event per page, carrying the ids shown."""
    return record(
        actor,
        Action.LIST,
        target_type=model._meta.label_lower,
        detail={"ids": [str(pk) for pk in ids]},
    )
