"""Reads about people and teams."""

from __future__ import annotations

from typing import Any

from teams.models import Membership, ReviewMeeting, User
from teams.roles import Role


def active_roles(user: Any) -> set[str]:
    """The roles the user holds today on any team."""
    if not (user.is_authenticated and user.is_active):
        return set()
    return set(Membership.objects.active().filter(user=user).values_list("role", flat=True))


def team_members(team_id: int, role: Role | str) -> Any:
    """The people holding `role` on the team today, as a queryset of users. The system
    administrator reads no case content, whatever memberships they hold, so is never
    among them (alerts, reminders and requests go only to people who may act)."""
    return User.objects.filter(
        is_active=True,
        is_staff=False,
        pk__in=Membership.objects.active()
        .filter(team_id=team_id, role=role)
        .order_by()
        .values("user_id"),
    )


def is_supervisor(user: Any) -> bool:
    """Supervises a team today (an administrator account never counts: no case content)."""
    return bool(
        user.is_authenticated
        and user.is_active
        and not user.is_staff
        and Membership.objects.active().filter(user=user, role=Role.SUPERVISOR).exists()
    )


def teams_where(user: Any, role: Role) -> Any:
    return Membership.objects.active().filter(user=user, role=role).values("team_id")


def upcoming_meetings(user: Any, limit: int = 5) -> list[ReviewMeeting]:
    from django.utils import timezone

    return list(
        ReviewMeeting.objects.filter(
            team_id__in=Membership.objects.active().filter(user=user).values("team_id"),
            starts_at__gte=timezone.now(),
        )
        .exclude(status="cancelled")
        .select_related("team")
        .order_by("starts_at")[:limit]
    )
