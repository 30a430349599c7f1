"""Everyone a permission test of one route asks: each role as a member of the case's
team, of another team, as a former member (membership ended yesterday), as a guest
invited to the one case, and the system administrator (staff, and a supervisor of the
team besides). Keys are known before the database exists, so tests parametrize on them.
And the clients those tests sign them in with.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from casework.models import Case
from teams.disclosure.grants import grant_case_access
from teams.models import Team, User
from teams.roles import Role
from tests import factories as f

RELATIONS = ("member", "other", "former", "guest")
KEYS: tuple[str, ...] = (*(f"{role.value}-{rel}" for role in Role for rel in RELATIONS), "admin")


def role_of(key: str) -> str:
    return key.split("-", 1)[0]


def relation_of(key: str) -> str:
    return key.split("-", 1)[1] if "-" in key else key


def cast(team: Team, case: Case, other: Team, granted_by: User) -> dict[str, User]:
    """One person per key (a new account each), around `case` of `team`."""
    today = timezone.localdate()
    people: dict[str, User] = {}
    for role in Role:
        people[f"{role.value}-member"] = f.make_member(team, role)
        people[f"{role.value}-other"] = f.make_member(other, role)
        former = f.make_user()
        f.make_membership(
            former,
            team,
            role,
            active_from=today - dt.timedelta(days=90),
            active_to=today - dt.timedelta(days=1),
        )
        people[f"{role.value}-former"] = former
        guest = f.make_user()
        grant_case_access(guest, case, role, granted_by=granted_by, reason="Invited for a review")
        people[f"{role.value}-guest"] = guest
    admin = f.make_user(is_staff=True)
    f.make_membership(admin, team, Role.SUPERVISOR)
    people["admin"] = admin
    return people


# --- Clients -------------------------------------------------------------------------


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_as(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def text(response: Any) -> str:
    content: bytes = response.content
    return content.decode()
