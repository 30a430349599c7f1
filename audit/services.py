"""Recording audit events. Other apps call these; nothing writes AuditEvent directly.

Inside a request, events are buffered and written by the middleware in one INSERT at
the end of the request; elsewhere (tasks, commands) each is written at once. The chain
is computed by the database's trigger (audit.database) on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import models

from audit import database
from audit.context import current
from audit.models import Action, AuditEvent, Outcome


def _actor_of(actor: Any) -> Any:
    context = current.get()
    if actor is None and context is not None and context.user is not None:
        actor = context.user
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor
    return None


def _column_value(target: models.Model, which: str) -> int | None:
    spec = getattr(type(target), "audit_write", None)
    column = getattr(spec, which, "") if spec is not None else ""
    if not column:
        return None
    value = target.pk if column == "id" else getattr(target, column, None)
    return int(value) if value is not None else None


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
        # A record that names its case or victim (the columns its AuditedWrites
        # declares) files the event under them, so that filtering the trail by case or
        # victim finds every event about it, whoever recorded it.
        case_id = case_id if case_id is not None else _column_value(target, "case_column")
        victim_id = victim_id if victim_id is not None else _column_value(target, "victim_column")
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
    # The chain trigger sets seq, prev_hash and hash as each row is inserted; the events
    # in hand get them back too (PostgreSQL through RETURNING, SQLite through positions).
    with database.chain_positions() as positions:
        AuditEvent.objects.bulk_create(rows)
    for event in rows:
        if event.pk in positions:
            event.seq, event.prev_hash, event.hash = positions[event.pk]
