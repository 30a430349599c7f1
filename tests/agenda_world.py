"""The world the agenda tests share (tests/test_agenda.py, test_minutes.py,
test_agenda_api.py): one team's review meeting with a case for every reason an item is
added and every reason one is not, a person in every role and relation to the team, and
each person's expected copy of the agenda computed from the policy table.

Meetings are created directly (ReviewMeeting.objects.create): the meeting pages and their
services are another part of issue 7.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from casework import agenda
from casework.meeting_models import AgendaItem, MeetingGuestCase
from casework.models import (
    AtRisk,
    Case,
    CaseDecision,
    CaseStatus,
    DecisionKind,
    DecisionStatus,
    DutyToWarn,
    Urgency,
)
from teams.disclosure import DisclosureLevel, Info
from teams.disclosure.grants import grant_case_access
from teams.disclosure.policy import codename, role_codenames, role_read_codenames
from teams.models import MeetingAttendee, ReviewMeeting, Team, User
from teams.roles import Role
from tests import factories as f
from victims.models import VictimInput

# Who stands how to team A. `guest`: a supervisor of team B invited to team A's meeting
# for case `due_never` alone (a case grant); `other_officer`: team B only; `former`: a
# member of team A until yesterday; `admin`: the system administrator (staff, and a
# member of team A besides).
MEMBERS: dict[str, Role] = {
    "officer": Role.OFFICER,
    "officer2": Role.OFFICER,
    "supervisor": Role.SUPERVISOR,
    "rep": Role.VICTIM_REP,
    "treatment": Role.TREATMENT,
    "polygraph": Role.POLYGRAPH,
}
GUEST_ROLE = Role.SUPERVISOR
EVERYONE: tuple[str, ...] = (*MEMBERS, "guest", "other_officer", "former", "admin")

# Text that must never reach anyone's copy of an agenda (titles are made from
# non-sensitive fields only).
SECRET = "SECRET-7Z"


@dataclass
class World:
    team: Team
    other_team: Team
    meeting: ReviewMeeting
    people: dict[str, User]
    cases: dict[str, Case]
    records: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        for store in ("people", "cases", "records"):
            found = self.__dict__.get(store, {})
            if name in found:
                return found[name]
        raise AttributeError(name)


def _decision(case: Case, author: User, status: str, kind: DecisionKind) -> CaseDecision:
    now = timezone.now()
    return CaseDecision.objects.create(
        case=case,
        author=author,
        kind=kind,
        summary=f"{SECRET} decision summary",
        status=status,
        finalised_at=now if status == DecisionStatus.FINAL else None,
        withdrawn_reason="No longer needed" if status == DecisionStatus.WITHDRAWN else "",
    )


def _report(case: Case, reporter: User, *, acknowledged_by: User | None = None) -> DutyToWarn:
    return DutyToWarn.objects.create(
        case=case,
        reporter=reporter,
        at_risk=AtRisk.VICTIM,
        threat=f"{SECRET} the threat",
        urgency=Urgency.HOURS,
        acknowledged_by=acknowledged_by,
        acknowledged_at=timezone.now() if acknowledged_by else None,
        action_taken="Called the police" if acknowledged_by else "",
    )


def _input(case: Case, author: User, level: str, *, days_ago: int = 1) -> VictimInput:
    row = f.make_victim_input(case, author, body=f"{SECRET} victim input")
    VictimInput.objects.filter(pk=row.pk).update(
        disclosure_level=level, created_at=timezone.now() - dt.timedelta(days=days_ago)
    )
    row.refresh_from_db()
    return row


def invite_guest(meeting: ReviewMeeting, user: User, case: Case, granted_by: User) -> None:
    """What inviting a guest for one case amounts to: an attendee row marked guest, the
    case it is for, and a read grant on that case."""
    attendee = MeetingAttendee.objects.create(meeting=meeting, user=user, is_guest=True)
    MeetingGuestCase.objects.create(attendee=attendee, case=case)
    grant_case_access(user, case, GUEST_ROLE, granted_by=granted_by, reason="Meeting guest")


def build_world(*, starts_in: dt.timedelta = dt.timedelta(days=3)) -> World:
    team, other_team = f.make_team("Hartford North MDT"), f.make_team("New Haven MDT")
    people = {key: f.make_member(team, role, username=key) for key, role in MEMBERS.items()}
    people["other_officer"] = f.make_member(other_team, Role.OFFICER, username="other-officer")
    people["guest"] = f.make_member(other_team, Role.SUPERVISOR, username="guest")
    today = timezone.localdate()
    people["former"] = f.make_user("former")
    f.make_membership(
        people["former"],
        team,
        Role.OFFICER,
        active_from=today - dt.timedelta(days=90),
        active_to=today - dt.timedelta(days=1),
    )
    people["admin"] = f.make_user("admin", is_staff=True)
    f.make_membership(people["admin"], team, Role.SUPERVISOR)
    officer, rep = people["officer"], people["rep"]

    meeting = ReviewMeeting.objects.create(
        team=team, starts_at=timezone.now() + starts_in, location="Conference room B"
    )
    day = agenda.meeting_day(meeting)

    def case(ref: str, *, due: dt.date | None, status: str = CaseStatus.ACTIVE, on: Team = team):
        row = f.make_case(on, officer=officer if on == team else None, reference=ref)
        Case.objects.filter(pk=row.pk).update(next_review_due=due, status=status)
        row.refresh_from_db()
        return row

    cases = {
        # Never reviewed: due. Carries a record for every source.
        "due_never": case("C-AG-NEVER", due=None),
        # Due before the meeting, and on its day.
        "due_past": case("C-AG-PAST", due=day - dt.timedelta(days=3)),
        "due_on_day": case("C-AG-DAY", due=day),
        # Not yet due: only its records bring it up (victim input for reps and officers).
        "not_due": case("C-AG-LATER", due=day + dt.timedelta(days=1)),
        # Nothing to discuss at all.
        "quiet": case("C-AG-QUIET", due=day + dt.timedelta(days=60)),
        # Not active: never on the agenda, whatever it carries.
        "closed": case("C-AG-CLOSED", due=None, status=CaseStatus.CLOSED),
        "absconded": case("C-AG-ABSC", due=None, status=CaseStatus.ABSCONDED),
        # Another team's case.
        "other_team": case("C-AG-OTHER", due=None, on=other_team),
    }
    main = cases["due_never"]
    records: dict[str, Any] = {
        "proposed": _decision(main, officer, DecisionStatus.PROPOSED, DecisionKind.RESIDENCE),
        "approved": _decision(main, officer, DecisionStatus.APPROVED, DecisionKind.TRAVEL),
        "draft": _decision(main, officer, DecisionStatus.DRAFT, DecisionKind.EMPLOYMENT),
        "final": _decision(main, officer, DecisionStatus.FINAL, DecisionKind.CHAPERONE),
        "withdrawn": _decision(main, officer, DecisionStatus.WITHDRAWN, DecisionKind.SANCTION),
        "report": _report(main, people["treatment"]),
        "acknowledged": _report(main, officer, acknowledged_by=people["supervisor"]),
        "input_team": _input(main, rep, DisclosureLevel.TEAM),
        "input_reps": _input(main, rep, DisclosureLevel.VICTIM_SERVICES),
        "input_old": _input(main, rep, DisclosureLevel.TEAM, days_ago=45),
        "input_not_due": _input(
            cases["not_due"], rep, DisclosureLevel.SUPERVISION_AND_VICTIM_SERVICES
        ),
        "closed_decision": _decision(
            cases["closed"], officer, DecisionStatus.PROPOSED, DecisionKind.RESIDENCE
        ),
        "closed_report": _report(cases["closed"], officer),
        "other_decision": _decision(
            cases["other_team"],
            people["other_officer"],
            DecisionStatus.PROPOSED,
            DecisionKind.TRAVEL,
        ),
        "other_report": _report(cases["other_team"], people["other_officer"]),
    }
    for key in MEMBERS:
        MeetingAttendee.objects.create(meeting=meeting, user=people[key])
    MeetingAttendee.objects.create(meeting=meeting, user=people["admin"])
    invite_guest(meeting, people["guest"], main, people["supervisor"])
    analyze()
    return World(team, other_team, meeting, people, cases, records)


def analyze() -> None:
    """Give the planner statistics of the rows this test made. A test's rows are never
    committed, so the statistics autovacuum takes describe empty tables, while the pages
    of earlier tests' rolled-back rows remain: with those, the disclosure queries of a
    person holding a case grant (the guest) pick nested loops that rescan bloated tables,
    and one query took seconds to minutes late in a long run. ANALYZE counts the
    transaction's own rows."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


# --- What each person should see, from the policy ---------------------------------------


def codes_on(world: World, who: str, case: Case) -> set[str]:
    """The policy's codenames the person holds on a case: a member's role on the case's
    team, or a guest's read grant on their one case; nothing for anyone else."""
    if who in MEMBERS and case.team_id == world.team.pk:
        return role_codenames(MEMBERS[who])
    if who == "guest" and case.pk == world.cases["due_never"].pk:
        return role_read_codenames(GUEST_ROLE)
    if who == "other_officer" and case.team_id == world.other_team.pk:
        return role_codenames(Role.OFFICER)
    return set()


def may_see_item(world: World, who: str, item: AgendaItem) -> bool:
    case = item.case
    codes = codes_on(world, who, case)
    if codename_summary() not in codes:
        return False
    if who == "other_officer":
        return False  # not their team's meeting
    if not item.source_label:
        return True
    model: Any = apps.get_model(item.source_label)
    record = model.objects.get(pk=item.source_id)
    spec = model.disclosure
    if spec.author_field and getattr(record, f"{spec.author_field}_id") == world.people[who].pk:
        return True
    wanted = set(spec.codes) if spec.codes else {spec.code_of(record)}
    return bool(wanted & codes)


def codename_summary() -> str:
    return codename(Info.CASE_SUMMARY)


def expected_copy(world: World, who: str) -> set[int]:
    items = AgendaItem.objects.filter(meeting=world.meeting).select_related("case")
    return {item.pk for item in items if may_see_item(world, who, item)}


def web(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client
