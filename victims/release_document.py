"""The printable release form: what a victim released, to whom, for what and until when,
in plain words, built from the Release and its items alone.

The form names the categories released, never their values: it is handed to the victim
and filed, and a form that carried an address would itself become locating information
outside the disclosure policy (DESIGN rule 1).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from teams.disclosure.policy import RELEASE_FIELDS, ReleaseCategory
from teams.models import Membership
from teams.roles import Role
from victims.models import CaseVictim, Release
from victims.selectors import LOCATING_LABELS, victim_views

# What each category covers, in words: the identity category is the name; a locating
# category names the fields it opens (from the policy's RELEASE_FIELDS), never a value.
IDENTITY_COVERS = "The person's first and last name."


def covers(category: str) -> str:
    """What a category opens, when its name alone does not say (several fields)."""
    if category == ReleaseCategory.IDENTITY:
        return IDENTITY_COVERS
    fields = [LOCATING_LABELS[name].lower() for name in RELEASE_FIELDS.get(category, ())]
    return f"{', '.join(fields).capitalize()}." if len(fields) > 1 else ""


@dataclass(frozen=True)
class ReleasedCategory:
    value: str
    label: str
    covers: str


@dataclass(frozen=True)
class ReleaseDocument:
    release: Release
    victim_name: str
    categories: list[ReleasedCategory]
    recipient_name: str
    recipient_roles: list[str]
    purpose: str
    signed_on: dt.date
    expires_on: dt.date
    status_label: str
    recorded_by: str
    recorded_on: dt.date
    revoked_on: dt.date | None
    revocation_reason: str


def recipient_roles(release: Release) -> list[str]:
    """The recipient's roles on the case's team on the day the release was recorded, when
    the service checked that they were a member (they may have left the team since)."""
    day = timezone.localdate(release.created_at)
    roles = (
        Membership.objects.active(on=day)
        .filter(user_id=release.recipient_id, team_id=release.case.team_id)
        .values_list("role", flat=True)
    )
    return [str(Role(role).label) for role in Role if role in set(roles)]


def release_document(user: Any, release: Release) -> ReleaseDocument:
    """`release` must come from selectors.releases_for(user) (items prefetched). The
    victim's name is shown through victim_views, which records the disclosure."""
    link = CaseVictim.objects.select_related("victim").get(
        case_id=release.case_id, victim_id=release.victim_id
    )
    (view,) = victim_views(user, [link])
    released = {item.category for item in release.items.all()}
    categories = [
        ReleasedCategory(value, str(label), covers(value))
        for value, label in ReleaseCategory.choices
        if value in released
    ]
    return ReleaseDocument(
        release=release,
        victim_name=view.display_name,
        categories=categories,
        recipient_name=str(release.recipient),
        recipient_roles=recipient_roles(release),
        purpose=release.purpose,
        signed_on=release.signed_on,
        expires_on=release.expires_on,
        status_label=release.status_label,
        recorded_by=str(release.created_by),
        recorded_on=timezone.localdate(release.created_at),
        revoked_on=timezone.localdate(release.revoked_at) if release.revoked_at else None,
        revocation_reason=release.revocation_reason,
    )
