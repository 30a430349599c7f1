"""Small helpers that create the rows the tests need. Plain functions, no factory library.

Every helper takes the few values a test cares about and fills the rest with valid,
unique defaults, so a test reads as the situation it sets up.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.utils import timezone

from casework.models import (
    Case,
    CaseDecision,
    CaseNote,
    DecisionKind,
    NoteKind,
    RiskLevel,
    Supervisee,
    SupervisionLevel,
)
from teams.models import Membership, ReviewMeeting, Team, User
from teams.roles import Role
from victims.models import (
    CaseVictim,
    InputRequest,
    RelationshipCategory,
    Victim,
    VictimInput,
    VictimLocation,
)

PASSWORD = "a-long-test-password-41"

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    """A string no other helper call in this test run returns."""
    return f"{prefix}{next(_counter)}"


def make_user(
    username: str | None = None,
    *,
    password: str = PASSWORD,
    first_name: str = "Test",
    last_name: str | None = None,
    is_staff: bool = False,
    is_active: bool = True,
) -> User:
    username = username or unique("user")
    return User.objects.create_user(
        username=username,
        password=password,
        first_name=first_name,
        last_name=last_name if last_name is not None else username.title(),
        email=f"{username}@example.invalid",
        is_staff=is_staff,
        is_active=is_active,
    )


def make_team(name: str | None = None) -> Team:
    return Team.objects.create(
        name=name or unique("Team "),
        office="Adult Probation, 1 Main St",
        jurisdiction="Test Judicial District",
    )


def make_membership(
    user: User,
    team: Team,
    role: Role | str,
    *,
    active_from: dt.date | None = None,
    active_to: dt.date | None = None,
) -> Membership:
    return Membership.objects.create(
        user=user,
        team=team,
        role=role,
        active_from=active_from or timezone.localdate() - dt.timedelta(days=30),
        active_to=active_to,
    )


def make_member(team: Team, role: Role | str, **user_fields: Any) -> User:
    """A new user holding an open membership of `team` in `role`."""
    user = make_user(**user_fields)
    make_membership(user, team, role)
    return user


def make_supervisee(
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    docket_number: str | None = None,
) -> Supervisee:
    return Supervisee.objects.create(
        first_name=first_name or unique("First"),
        last_name=last_name or unique("Last"),
        date_of_birth=dt.date(1980, 5, 17),
        docket_number=docket_number or unique("DKT-"),
        risk_level=RiskLevel.MODERATE,
        supervision_level=SupervisionLevel.MEDIUM,
    )


def make_case(
    team: Team,
    *,
    supervisee: Supervisee | None = None,
    reference: str | None = None,
    officer: User | None = None,
    supervision_start: dt.date = dt.date(2024, 1, 1),
    supervision_end: dt.date | None = None,
    conditions: str = "No contact with the victim\nAttend treatment",
) -> Case:
    return Case.objects.create(
        reference=reference or unique("C-TEST-"),
        supervisee=supervisee or make_supervisee(),
        team=team,
        assigned_officer=officer,
        supervision_start=supervision_start,
        supervision_end=supervision_end,
        conditions=conditions,
    )


def make_note(
    case: Case, author: User, body: str | None = None, *, kind: NoteKind = NoteKind.SUPERVISION
) -> CaseNote:
    return CaseNote.objects.create(
        case=case, author=author, kind=kind, body=body or unique("Note body ")
    )


def make_decision(
    case: Case,
    author: User,
    *,
    kind: DecisionKind = DecisionKind.RESIDENCE,
    summary: str | None = None,
    status: str = "draft",
    finalised_at: dt.datetime | None = None,
) -> CaseDecision:
    return CaseDecision.objects.create(
        case=case,
        author=author,
        kind=kind,
        summary=summary or unique("Decision "),
        status=status,
        finalised_at=finalised_at,
    )


def make_victim(
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    address_line1: str | None = None,
    phone: str = "860-555-0100",
    with_location: bool = True,
) -> Victim:
    """A victim, with locating information unless `with_location` is False."""
    victim = Victim.objects.create(
        first_name=first_name or unique("Vfirst"),
        last_name=last_name or unique("Vlast"),
        relationship_category=RelationshipCategory.ACQUAINTANCE,
    )
    if with_location:
        make_location(victim, address_line1=address_line1 or unique("Elm Street "), phone=phone)
    return victim


def make_location(victim: Victim, *, address_line1: str, phone: str = "") -> VictimLocation:
    return VictimLocation.objects.create(
        victim=victim,
        address_line1=address_line1,
        city="Hartford",
        postal_code="06103",
        phone=phone,
        email="person@example.org",
    )


def link_victim(
    case: Case,
    victim: Victim,
    *,
    pseudonym: str | None = None,
    representative: User | None = None,
) -> CaseVictim:
    return CaseVictim.objects.create(
        case=case,
        victim=victim,
        pseudonym=pseudonym or unique("Person harmed "),
        representative=representative,
    )


def make_victim_input(case: Case, author: User, body: str | None = None) -> VictimInput:
    return VictimInput.objects.create(
        case=case, author=author, body=body or unique("Victim input ")
    )


def make_input_request(
    decision: CaseDecision,
    *,
    summary: str | None = None,
    due_at: dt.datetime | None = None,
) -> InputRequest:
    """What proposing a decision that touches a victim creates: the representatives are
    asked, by `due_at` (default: in five days)."""
    return InputRequest.objects.create(
        case_id=decision.case_id,
        decision=decision,
        kind_label=decision.get_kind_display(),
        summary=summary or decision.summary,
        requested_by=decision.author,
        due_at=due_at or timezone.now() + dt.timedelta(days=5),
    )


def make_meeting(
    team: Team,
    *,
    title: str = "MDT case review",
    starts_at: dt.datetime | None = None,
    location: str = "Conference room B",
    call_link: str = "",
) -> ReviewMeeting:
    return ReviewMeeting.objects.create(
        team=team,
        title=title,
        starts_at=starts_at or timezone.now() + dt.timedelta(days=7),
        location=location,
        call_link=call_link,
    )
