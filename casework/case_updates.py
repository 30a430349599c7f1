"""The officer's update of a case summary: status, end of supervision, next hearing,
end of treatment, conditions.

Only those the policy lets write the case summary (Info.CASE_SUMMARY: the officers of
the case's team; a guest invited to one case writes nothing) may change it. Bad input
raises ValidationError keyed by field and nothing is saved. No audit call here: the
write-capture trigger records the UPDATE of casework.case with the old and new values
of status and dates (Case.audit_write), and victims.victim_events reads those events to
tell registered victims, so a change made any other way (a bulk update, the admin) is
seen the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from casework.models import Case, CaseStatus
from teams.disclosure import CaseAccess, case_access
from teams.disclosure.policy import Info, write_codename

# What the update may change; anything else of a case is not the officer's to set here.
FIELDS: tuple[str, ...] = (
    "status",
    "supervision_end",
    "next_hearing_on",
    "treatment_ended_on",
    "conditions",
)
DATE_FIELDS: tuple[str, ...] = ("supervision_end", "next_hearing_on", "treatment_ended_on")
CONDITION_MAX_LENGTH = 300
CONDITIONS_MAX_COUNT = 50


def may_update(access: CaseAccess) -> bool:
    """The policy's write permission on the case summary (officers of the case's team)."""
    return access.has(write_codename(Info.CASE_SUMMARY))


def condition_lines(value: Any) -> list[str]:
    """Conditions as a list of non-empty lines, from text (one per line) or a list."""
    lines = value.splitlines() if isinstance(value, str) else list(value or ())
    return [str(line).strip() for line in lines if str(line).strip()]


def _format(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _clean(case: Case, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The new values, checked; every problem at once, keyed by field."""
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(changes) - set(FIELDS))
    for name in unknown:
        errors[name] = ["This field cannot be changed here."]
    cleaned: dict[str, Any] = {}
    if "status" in changes:
        status = changes["status"]
        if status not in CaseStatus.values:
            errors["status"] = ["Choose a status from the list."]
        else:
            cleaned["status"] = status
    for name in DATE_FIELDS:
        if name not in changes:
            continue
        value = changes[name]
        if value is not None and not isinstance(value, dt.date):
            errors[name] = ["Enter a date, or leave it empty."]
        else:
            cleaned[name] = value
    end = cleaned.get("supervision_end")
    if end is not None and end < case.supervision_start:
        errors["supervision_end"] = [
            "Supervision cannot end before it started "
            f"(on {_format(case.supervision_start)}). Enter a later date."
        ]
    ended = cleaned.get("treatment_ended_on")
    if ended is not None and ended > timezone.localdate():
        errors["treatment_ended_on"] = [
            "Treatment cannot have ended in the future. Enter the day it ended, once it has."
        ]
    if "conditions" in changes:
        lines = condition_lines(changes["conditions"])
        if len(lines) > CONDITIONS_MAX_COUNT:
            errors["conditions"] = [f"Enter at most {CONDITIONS_MAX_COUNT} conditions."]
        elif any(len(line) > CONDITION_MAX_LENGTH for line in lines):
            errors["conditions"] = [
                f"Keep each condition under {CONDITION_MAX_LENGTH} characters, one per line."
            ]
        else:
            cleaned["conditions"] = "\n".join(lines)
    if errors:
        raise ValidationError(errors)
    return cleaned


def update_summary(user: Any, case: Case, changes: Mapping[str, Any]) -> Case:
    """Apply `changes` (any of FIELDS) to the case summary. Returns the case as saved."""
    if not may_update(case_access(user, case)):
        raise PermissionDenied("Only the case's officers update its summary.")
    cleaned = _clean(case, changes)
    with transaction.atomic():
        # Locked: two officers saving at once are applied one after the other.
        locked = Case.objects.select_for_update().get(pk=case.pk)
        changed = [name for name, value in cleaned.items() if getattr(locked, name) != value]
        for name in changed:
            setattr(locked, name, cleaned[name])
        if changed:
            locked.save(update_fields=[*changed, "updated_at"])
    for name in (*FIELDS, "updated_at"):
        setattr(case, name, getattr(locked, name))
    return case
