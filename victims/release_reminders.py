"""Reminding the victim representatives before a release of information expires, so that
they can ask the victim whether to renew it (RELEASE_EXPIRY_REMINDER_DAYS ahead).

One reminder per release and representative, however often the task runs and on however
many workers: the notification's key names the release (teams.notify creates one row
per key and recipient, the unique key deciding a race). The notification names the case
reference and the date, never the victim, the recipient or what was released.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from audit.models import Action
from audit.services import record
from teams.models import Membership, NotificationKind, User
from teams.notify import notify
from teams.roles import Role
from victims.models import CaseVictim, Release


def reminder_key(release: Release) -> str:
    return f"release-expiring:{release.pk}"


def expiring(today: dt.date, days: int) -> QuerySet[Release]:
    """Releases in force today that end within `days` days (the last day included)."""
    return Release.objects.filter(
        revoked_at__isnull=True,
        expires_on__gte=today,
        expires_on__lte=today + dt.timedelta(days=days),
    )


def representatives(release: Release) -> QuerySet[User]:
    """Who is reminded: the victim's representative on the release's case and the one
    who recorded it, while they are victim representatives of the case's team; if
    neither still is, every victim representative of the team (someone must ask the
    victim)."""
    team_reps = Membership.objects.active().filter(
        team_id=release.case.team_id, role=Role.VICTIM_REP
    )
    reps = User.objects.filter(is_active=True, pk__in=team_reps.values("user_id"))
    assigned = CaseVictim.objects.filter(
        case_id=release.case_id, victim_id=release.victim_id, representative__isnull=False
    ).values("representative_id")
    named = reps.filter(Q(pk__in=assigned) | Q(pk=release.created_by_id))
    return (named if named.exists() else reps).order_by("pk")


def remind_expiring_releases(today: dt.date | None = None) -> int:
    """Notify the representatives of each release expiring soon; returns the number of
    notifications created now (zero on a second run)."""
    today = today or timezone.localdate()
    days = settings.RELEASE_EXPIRY_REMINDER_DAYS
    created = 0
    with transaction.atomic():
        # Locked so that a revocation in the same moment waits, or is seen, rather than
        # the representative being told to renew a release the victim just withdrew.
        due = list(
            expiring(today, days)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("case")
            .order_by("expires_on", "pk")
        )
        for release in due:
            created += _remind(release)
    return created


def _remind(release: Release) -> int:
    recipients = list(representatives(release))
    when = release.expires_on
    title = (
        f"Release of information #{release.pk} on case {release.case.reference} expires "
        f"on {when:%B} {when.day}, {when.year}"
    )
    sent: list[Any] = notify(
        recipients,
        NotificationKind.RELEASE_EXPIRING,
        title,
        reverse("release-form", args=[release.pk]),
        key=reminder_key(release),
    )
    if sent:
        record(
            None,
            Action.NOTIFY,
            target=release,
            case_id=release.case_id,
            detail={
                "reason": "release_expiring",
                "expires_on": when.isoformat(),
                "recipients": [row.recipient_id for row in sent],
            },
        )
    return len(sent)
