"""The people and cases the victim-services tests of issue 6 (registrations, victim
notifications, new-victim reports) share: every role on the case's team, the same roles
on another team, a former representative, guests invited to the one case, the system
administrator; one case with a represented victim on each team. Unique markers in
every name and reference, so that an e-mail or a page can be searched for them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent, Outcome
from casework.models import Case
from teams.disclosure.grants import grant_case_access
from teams.models import Team, User
from teams.roles import Role
from tests import factories as f
from victims.models import Victim

REFERENCE = "C-REFMARK-6604"
SUPERVISEE = ("Supfirstmark", "Suplastmark")
VICTIM = ("Vicfirstmark", "Viclastmark")
TEAM_NAME = "Teammark Hartford MDT"

# Everyone whose answer a route is tested for (and the signed-out visitor, separately).
EVERYONE = (
    "officer",
    "supervisor",
    "rep",
    "rep2",
    "treatment",
    "polygraph",
    "other_officer",
    "other_supervisor",
    "other_rep",
    "other_treatment",
    "former_rep",
    "guest_rep",
    "guest_supervisor",
    "admin",
)
# Those who see the case (and so get 403 from a form that is not theirs, not 404).
SEE_CASE = frozenset(
    {
        "officer",
        "supervisor",
        "rep",
        "rep2",
        "treatment",
        "polygraph",
        "guest_rep",
        "guest_supervisor",
    }
)


@dataclass
class World:
    team: Team
    other_team: Team
    case: Case
    other_case: Case
    victim: Victim
    other_victim: Victim
    people: dict[str, User]

    def __getattr__(self, name: str) -> User:
        people = self.__dict__.get("people", {})
        if name in people:
            return people[name]
        raise AttributeError(name)


def make_world() -> World:
    team, other_team = f.make_team(TEAM_NAME), f.make_team("New Haven MDT")
    people: dict[str, User] = {}
    for key, role in (
        ("officer", Role.OFFICER),
        ("supervisor", Role.SUPERVISOR),
        ("rep", Role.VICTIM_REP),
        ("rep2", Role.VICTIM_REP),
        ("treatment", Role.TREATMENT),
        ("polygraph", Role.POLYGRAPH),
    ):
        people[key] = f.make_member(team, role, username=key, first_name=f"{key.title()}firstmark")
    for key, role in (
        ("other_officer", Role.OFFICER),
        ("other_supervisor", Role.SUPERVISOR),
        ("other_rep", Role.VICTIM_REP),
        ("other_treatment", Role.TREATMENT),
    ):
        people[key] = f.make_member(other_team, role, username=key.replace("_", "-"))
    today = timezone.localdate()
    people["former_rep"] = f.make_user("former-rep")
    f.make_membership(
        people["former_rep"],
        team,
        Role.VICTIM_REP,
        active_from=today - dt.timedelta(days=90),
        active_to=today - dt.timedelta(days=1),
    )
    people["admin"] = f.make_user("admin-user", is_staff=True)
    f.make_membership(people["admin"], team, Role.SUPERVISOR)
    supervisee = f.make_supervisee(first_name=SUPERVISEE[0], last_name=SUPERVISEE[1])
    case = f.make_case(
        team,
        supervisee=supervisee,
        officer=people["officer"],
        reference=REFERENCE,
        supervision_start=dt.date(2025, 1, 6),
    )
    other_case = f.make_case(other_team, officer=people["other_officer"], reference="C-OTHER-1")
    for key, role in (("guest_rep", Role.VICTIM_REP), ("guest_supervisor", Role.SUPERVISOR)):
        people[key] = f.make_user(key.replace("_", "-"))
        grant_case_access(
            people[key], case, role, granted_by=people["supervisor"], reason="Invited"
        )
    victim = f.make_victim(first_name=VICTIM[0], last_name=VICTIM[1])
    other_victim = f.make_victim(first_name="Erin", last_name="Castillo")
    f.link_victim(case, victim, pseudonym="Person harmed 1", representative=people["rep"])
    f.link_victim(
        other_case, other_victim, pseudonym="Person harmed 1", representative=people["other_rep"]
    )
    return World(team, other_team, case, other_case, victim, other_victim, people)


def web(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api(user: User | None) -> Any:
    """An API client (typed Any: its responses and the page client's are checked the
    same way, often through the same variable)."""
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def html(response: Any) -> str:
    content: bytes = response.content
    return content.decode()


def denied(user: User, obj: Any) -> bool:
    """The trail recorded a 404 on this existing record for this user."""
    return AuditEvent.objects.filter(
        actor=user,
        action=Action.VIEW,
        outcome=Outcome.DENIED,
        target_type=obj._meta.label_lower,
        target_id=str(obj.pk),
    ).exists()


def expect_form(who: str, allowed: set[str] | frozenset[str]) -> int:
    """A form page tied to the case: 200 for those allowed, 403 for others who see the
    case, 404 for anyone else."""
    if who in allowed:
        return 200
    return 403 if who in SEE_CASE else 404
