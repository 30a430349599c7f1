"""Each person's e-mail preferences (issue 7, item 6): per kind of notification, whether it
is e-mailed as well as shown in the app. Without a stored choice a kind is e-mailed (the
e-mail carries no case content, only a generic line and a link: teams.notify). Kinds in
ALWAYS_EMAILED, threats to someone's safety, are e-mailed whatever is stored.

A person reads and changes only their own preferences: every function here takes the
user and touches nothing else. Writes are captured by the audit triggers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from teams.models import ALWAYS_EMAILED, NotificationKind, NotificationPreference

ALWAYS_EMAILED_REASON = "Safety alerts are always e-mailed, with no case content."
UNKNOWN_KIND = "Not a kind of notification."


@dataclass(frozen=True)
class Preference:
    """One kind as the person has it: `email` is the setting in force."""

    kind: str
    label: str
    email: bool
    always_emailed: bool

    @property
    def reason(self) -> str:
        """Why the setting cannot be changed, when it cannot."""
        return ALWAYS_EMAILED_REASON if self.always_emailed else ""


def preferences_for(user: Any) -> list[Preference]:
    """Every kind, in the order the kinds are declared, with the setting in force (one
    query)."""
    stored = dict(
        NotificationPreference.objects.filter(user_id=user.pk).values_list("kind", "email")
    )
    return [
        Preference(
            kind=kind,
            label=label,
            email=kind in ALWAYS_EMAILED or stored.get(kind, True),
            always_emailed=kind in ALWAYS_EMAILED,
        )
        for kind, label in NotificationKind.choices
    ]


def stored_ids(user: Any) -> list[int]:
    """The ids of the person's stored choices (what a page of preferences shows)."""
    return list(
        NotificationPreference.objects.filter(user_id=user.pk)
        .order_by("kind")
        .values_list("pk", flat=True)
    )


def set_preferences(
    user: Any, changes: Mapping[str, Any], *, reset_others: bool = False
) -> list[Preference]:
    """Set e-mail on (True) or off (False) for the kinds named in `changes`; with
    `reset_others`, every kind not named goes back to the default (e-mailed). Bad input
    (a kind that does not exist, a value that is not true or false, turning off a kind
    that is always e-mailed) raises ValidationError keyed by the kind, and nothing is
    saved. Only the kinds whose setting changes are written. Returns the preferences as
    they now are."""
    errors: dict[str, list[str]] = {}
    for kind, email in changes.items():
        if kind not in NotificationKind.values:
            errors[kind] = [UNKNOWN_KIND]
        elif not isinstance(email, bool):
            errors[kind] = ["Enter true or false."]
        elif kind in ALWAYS_EMAILED and not email:
            errors[kind] = [ALWAYS_EMAILED_REASON]
    if errors:
        raise ValidationError(errors)
    wanted = {kind: True for kind in NotificationKind.values} if reset_others else {}
    wanted.update(changes)
    current = {row.kind: row.email for row in preferences_for(user)}
    rows = [
        NotificationPreference(user_id=user.pk, kind=kind, email=email)
        for kind, email in wanted.items()
        if kind not in ALWAYS_EMAILED and current[kind] != email
    ]
    if rows:
        # One statement, whatever the number of kinds; the triggers record each row.
        NotificationPreference.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["user", "kind"],
            update_fields=["email", "updated_at"],
        )
    return preferences_for(user)
