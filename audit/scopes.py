"""Who may read which audit events.

Everyone signed in reads their own actions. Beyond that, other apps say what a user may
also read by registering a scope: a function of the user that returns a `Q` on
`AuditEvent` (or None for nothing more). The audit app knows nothing of teams, cases or
roles, so the supervisor's scope is registered by casework (casework.audit_scope).

The system administrator's scope lives here, since it is about accounts only: sign-in,
sign-out and failed sign-in, API tokens, membership and permission changes, and writes
to the accounts table, never an event that names a case or a victim (DESIGN rule 8).

Scopes must build their `Q` from subqueries, not Python lists of ids, so that the whole
filter stays one SQL statement however many teams, cases or members are behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from audit.models import Action, AuditEvent

Scope = Callable[[Any], Q | None]

_scopes: list[Scope] = []

# What the system administrator reads: what happened to accounts, not to cases.
ACCOUNT_ACTIONS: tuple[str, ...] = (
    Action.LOGIN,
    Action.LOGIN_FAILED,
    Action.LOGOUT,
    Action.TOKEN_ISSUED,
    Action.MEMBERSHIP_CHANGE,
    Action.PERMISSION_CHANGE,
)
ACCOUNT_WRITES: tuple[str, ...] = (Action.CREATE, Action.UPDATE, Action.DELETE)


def register_scope(fn: Scope) -> Scope:
    """Add a scope; registering the same function twice has no effect. Usable as a
    decorator; call it from an AppConfig.ready()."""
    if fn not in _scopes:
        _scopes.append(fn)
    return fn


def unregister_scope(fn: Scope) -> None:
    if fn in _scopes:
        _scopes.remove(fn)


def registered_scopes() -> tuple[Scope, ...]:
    return tuple(_scopes)


def is_reader(user: Any) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
    )


def account_events() -> Q:
    """Events about accounts, with no case and no victim."""
    user_label = settings.AUTH_USER_MODEL.lower()
    return Q(case_id__isnull=True, victim_id__isnull=True) & (
        Q(action__in=ACCOUNT_ACTIONS) | Q(action__in=ACCOUNT_WRITES, target_type=user_label)
    )


def staff_scope(user: Any) -> Q | None:
    return account_events() if user.is_staff else None


def scope_q(user: Any) -> Q | None:
    """The whole filter for `user`, or None when they may read nothing."""
    if not is_reader(user):
        return None
    q = Q(actor_id=user.pk)
    for scope in (staff_scope, *_scopes):
        extra = scope(user)
        if extra is not None:
            q |= extra
    return q


def events_for(user: Any) -> QuerySet[AuditEvent]:
    """The audit events `user` may read: their own actions, plus every registered scope."""
    q = scope_q(user)
    if q is None:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(q)
