"""Recording audit events. Other apps call these; nothing writes AuditEvent directly.

Inside a request, events are buffered and written by the middleware in one INSERT at
the end of the request; elsewhere (tasks, commands) each is written at once. The chain
is computed by PostgreSQL's trigger, or here on SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from audit import chain
from audit.context import current
from audit.models import Action, AuditEvent, ChainAnchor, Outcome


def _actor_of(actor: Any) -> Any:
    context = current.get()
    if actor is None and context is not None and context.user is not None:
        actor = context.user
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor
    return None


def build(
    actor: Any,
    action: Action | str,
    *,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    case_id: int | None = None,
    victim_id: int | None = None,
    outcome: Outcome | str = Outcome.ALLOWED,
    detail: dict[str, Any] | None = None,
    username: str = "",
) -> AuditEvent:
    context = current.get()
    if target is not None:
        target_type = target._meta.label_lower
        target_id = target.pk
    who = _actor_of(actor)
    return AuditEvent(
        actor=who,
        actor_username=who.get_username() if who is not None else username[:150],
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        case_id=case_id,
        victim_id=victim_id,
        outcome=outcome,
        ip_address=context.ip_address if context else "",
        user_agent=context.user_agent if context else "",
        request_id=context.request_id if context else "",
        detail=detail or {},
    )


def record(actor: Any, action: Action | str, **fields: Any) -> AuditEvent:
    """Record one event: buffered until the end of the request, or written at once."""
    event = build(actor, action, **fields)
    context = current.get()
    if context is not None and context.buffer is not None:
        context.buffer.append(event)
    else:
        write([event])
    return event


def record_read(
    actor: Any, target: models.Model, *, case_id: int | None, victim_id: int | None = None
) -> AuditEvent:
    """A detail page or API detail showed one record."""
    return record(actor, Action.VIEW, target=target, case_id=case_id, victim_id=victim_id)


def record_list(actor: Any, model: type[models.Model], ids: list[Any]) -> AuditEvent:
    """A list page showed these rows: one event per page, carrying the ids shown."""
    return record(
        actor,
        Action.LIST,
        target_type=model._meta.label_lower,
        detail={"ids": [str(pk) for pk in ids]},
    )


def record_denied(actor: Any, target: models.Model, *, case_id: int | None) -> AuditEvent:
    """A record exists but the policy hid it: the user got a 404."""
    return record(actor, Action.VIEW, target=target, case_id=case_id, outcome=Outcome.DENIED)


# Other apps tell the trail which cases a person is reading under emergency access:
# fn(actor_id, case_ids) -> the subset under emergency access now. (Registered by
# casework; the audit app imports no other app.)
EmergencyLookup = Callable[[int, set[int]], set[int]]
_emergency_lookups: list[EmergencyLookup] = []


def register_emergency_lookup(lookup: EmergencyLookup) -> None:
    if lookup not in _emergency_lookups:
        _emergency_lookups.append(lookup)


def _mark_emergency(rows: list[AuditEvent]) -> None:
    by_actor: dict[int, set[int]] = {}
    for event in rows:
        if event.actor_id is not None and event.case_id is not None:
            by_actor.setdefault(event.actor_id, set()).add(event.case_id)
    for actor_id, case_ids in by_actor.items():
        under = set().union(*(lookup(actor_id, case_ids) for lookup in _emergency_lookups))
        for event in rows:
            if event.actor_id == actor_id and event.case_id in under:
                event.emergency = True


def write(events: Iterable[AuditEvent]) -> None:
    """Insert events in one statement, chained in the order given."""
    rows = list(events)
    if not rows:
        return
    _mark_emergency(rows)
    if connection.vendor == "postgresql":
        # The BEFORE INSERT trigger sets seq, prev_hash and hash under its lock.
        AuditEvent.objects.bulk_create(rows)
        return
    with transaction.atomic():
        # SQLite runs with IMMEDIATE transactions: holding the write lock from the start
        # serializes writers, so reading the chain's head here is safe.
        head: Any = AuditEvent.objects.exclude(seq=None).order_by("-seq").values("seq", "hash")
        last = head.first() or ChainAnchor.objects.order_by("-seq").values("seq", "hash").first()
        seq: int = last["seq"] if last else 0
        prev: str = last["hash"] if last else chain.GENESIS
        for event in rows:
            seq += 1
            event.occurred_at = event.occurred_at or timezone.now()
            event.seq = seq
            event.prev_hash = prev
            event.hash = chain.event_hash(_chained_fields(event), prev)
            prev = event.hash
        AuditEvent.objects.bulk_create(rows)


def _chained_fields(event: AuditEvent) -> dict[str, Any]:
    values = {name: getattr(event, name) for name in chain.CHAINED_FIELDS if name != "detail"}
    # The text the database will store (Django's JSONField writes json.dumps output).
    values["detail"] = json.dumps(event.detail)
    return values
