from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from teams.disclosure.policy import MATRIX, Access, Info
from teams.notify import unread_count
from teams.roles import Role
from teams.selectors import active_roles


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The roles the signed-in user holds, so the layout can offer what fits them."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = active_roles(user)
    return {
        "nav_roles": sorted(Role(role).label for role in roles),
        "nav_can_read_cases": bool(roles) and not user.is_staff,
        "nav_is_system_admin": user.is_staff,
        # Emergency access and its sign-off queue are the supervisors' (casework.emergency).
        "nav_is_supervisor": Role.SUPERVISOR in roles and not user.is_staff,
        # Victims' questions: the roles the policy lets read them (victims app, issue 6).
        "nav_handles_information_requests": bool(roles & information_request_roles())
        and not user.is_staff,
        # One COUNT on the partial index of unread notifications (teams.notify).
        "nav_unread_notifications": unread_count(user),
    }


def information_request_roles() -> set[str]:
    """The roles that read victims' questions, from the policy table."""
    row = MATRIX[Info.INFORMATION_REQUEST]
    return {str(role) for role, access in row.items() if access in (Access.READ, Access.WRITE)}
