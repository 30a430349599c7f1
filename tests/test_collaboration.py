"""Collaboration measures (issue 6, item 9): per team and month, on the supervisor's
dashboard and through the API, from constructed data with exact expected figures, in a
constant number of queries, for the teams' supervisors only, numbers only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from casework import collaboration
from casework.models import Case, CaseDecision, DecisionKind, ProceedReason
from teams.models import MeetingAttendee, MeetingStatus, Team, User
from teams.roles import Role
from tests import cast as people
from tests import factories as f
from tests.cast import api_as, signed_in, text
from victims.models import InformationRequest, RequestTopic, Victim, VictimInput

pytestmark = pytest.mark.django_db

API = "/api/v1/collaboration-measures/"


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day, hour, minute))


def long_member(team: Team, role: Role, **fields: Any) -> User:
    """A member since long before the months measured."""
    user = f.make_user(**fields)
    f.make_membership(user, team, role, active_from=timezone.localdate() - dt.timedelta(days=400))
    return user


@dataclass
class World:
    team_a: Team
    team_b: Team
    team_c: Team
    supervisor: User  # supervises A and B, not C
    officer: User
    rep: User
    case: Case
    victim: Victim
    months: list[dt.date]


@pytest.fixture
def world() -> World:
    team_a, team_b, team_c = (
        f.make_team("Alpha MDT"),
        f.make_team("Beta MDT"),
        f.make_team("Gamma MDT"),
    )
    supervisor = long_member(team_a, Role.SUPERVISOR)
    f.make_membership(supervisor, team_b, Role.SUPERVISOR)
    officer = long_member(team_a, Role.OFFICER)
    rep = long_member(team_a, Role.VICTIM_REP)
    case = f.make_case(team_a, officer=officer, reference="C-COLLAB-0001")
    victim = f.make_victim()
    f.link_victim(case, victim, representative=rep)
    return World(
        team_a=team_a,
        team_b=team_b,
        team_c=team_c,
        supervisor=supervisor,
        officer=officer,
        rep=rep,
        case=case,
        victim=victim,
        months=collaboration.month_starts(timezone.localdate()),
    )


def decision(
    world: World,
    case: Case,
    kind: DecisionKind,
    *,
    proposed: dt.datetime | None = None,
    finalised: dt.datetime | None = None,
    inputs: tuple[dt.datetime, ...] = (),
    reason: str = ProceedReason.NONE,
    victim_danger: bool = False,
) -> CaseDecision:
    row = f.make_decision(
        case,
        world.officer,
        kind=kind,
        status="final" if finalised else ("proposed" if proposed else "draft"),
        finalised_at=finalised,
    )
    CaseDecision.objects.filter(pk=row.pk).update(
        proposed_at=proposed, proceed_reason=reason, victim_danger=victim_danger
    )
    for at in inputs:
        item = VictimInput.objects.create(
            case=case, author=world.rep, body="Input on the decision", decision=row
        )
        VictimInput.objects.filter(pk=item.pk).update(created_at=at)
    return row


def question(world: World, due: dt.date, answered: dt.datetime | None) -> InformationRequest:
    return InformationRequest.objects.create(
        case=world.case,
        victim=world.victim,
        topic=RequestTopic.SUPERVISION_STATUS,
        question="Is he still on supervision?",
        requested_by=world.rep,
        assigned_officer=world.officer,
        due_on=due,
        answer="Yes." if answered else "",
        answered_by=world.officer if answered else None,
        answered_at=answered,
    )


def build(world: World) -> None:
    """Last month (m4) on team A: four victim-touching decisions finalised (two with
    input, one with a proceed reason, one with neither), four timed inputs (2, 4, 10 and
    30 hours), four questions due (two on time), two representatives' attendances
    recorded (one attended). This month (m5): one question due, unanswered. Plus rows
    that must not count: another team's, older than six months, not victim-touching,
    not final, cancelled, not a representative, attendance not recorded."""
    m4, m5 = world.months[4], world.months[5]
    day10 = m4.replace(day=10)
    noon = local(day10, 12)
    final = local(m4.replace(day=15), 12)
    a = world.case
    decision(
        world, a, DecisionKind.RESIDENCE, proposed=noon, finalised=final, inputs=(local(day10, 22),)
    )  # 10 hours
    decision(
        world,
        a,
        DecisionKind.EMPLOYMENT,
        proposed=noon,
        finalised=final,
        inputs=(local(m4.replace(day=11), 18), local(m4.replace(day=12), 14)),
    )  # 30 h
    decision(
        world,
        a,
        DecisionKind.TRAVEL,
        proposed=noon,
        finalised=final,
        reason=ProceedReason.URGENT_SAFETY,
    )
    decision(world, a, DecisionKind.OTHER, proposed=noon, finalised=final, victim_danger=True)
    # Not victim-touching, though final with input: no count, no time.
    decision(
        world, a, DecisionKind.SANCTION, proposed=noon, finalised=final, inputs=(local(day10, 13),)
    )
    # Proposed, not final: only its time to input counts (2 hours).
    decision(world, a, DecisionKind.RESIDENCE, proposed=noon, inputs=(local(day10, 14),))
    # Re-proposed at noon after input given at 07:00 on the earlier version: 4 hours.
    decision(
        world, a, DecisionKind.DISCHARGE, proposed=noon, inputs=(local(day10, 7), local(day10, 16))
    )
    # Older than the six months.
    old = world.months[0] - dt.timedelta(days=20)
    decision(
        world,
        a,
        DecisionKind.RESIDENCE,
        proposed=local(old, 9),
        finalised=local(old, 12),
        inputs=(local(old, 10),),
    )
    # Another team's (not supervised).
    other_officer = long_member(world.team_c, Role.OFFICER)
    c_case = f.make_case(world.team_c, officer=other_officer)
    decision(
        world,
        c_case,
        DecisionKind.RESIDENCE,
        proposed=noon,
        finalised=final,
        inputs=(local(day10, 13),),
    )

    due = m4.replace(day=20)
    question(world, due, local(due, 23, 30))  # on the due date, late in the evening
    question(world, due, local(due + dt.timedelta(days=1), 9))  # a day late
    question(world, due, None)  # never answered
    question(world, due, local(m4.replace(day=18), 10))  # early
    question(world, m5, None)  # due on the first of this month, unanswered
    question(world, timezone.localdate() + dt.timedelta(days=3), None)  # not due yet

    meeting = f.make_meeting(world.team_a, starts_at=local(m4.replace(day=12), 10))
    rep2 = long_member(world.team_a, Role.VICTIM_REP)
    rep3 = long_member(world.team_a, Role.VICTIM_REP)
    former = f.make_user()
    f.make_membership(
        former,
        world.team_a,
        Role.VICTIM_REP,
        active_from=timezone.localdate() - dt.timedelta(days=400),
        active_to=m4.replace(day=11),
    )
    for user, attended in (
        (world.rep, True),
        (rep2, False),
        (rep3, None),  # not recorded
        (world.officer, True),  # not a representative
        (former, True),  # no longer a representative that day
    ):
        MeetingAttendee.objects.create(meeting=meeting, user=user, attended=attended)
    cancelled = f.make_meeting(world.team_a, starts_at=local(m4.replace(day=13), 10))
    cancelled.status = MeetingStatus.CANCELLED
    cancelled.save()
    MeetingAttendee.objects.create(meeting=cancelled, user=world.rep, attended=True)


def figures(world: World) -> dict[str, collaboration.TeamFigures]:
    return {team.team_name: team for team in collaboration.measures_for(world.supervisor)}


def test_the_figures_are_exact(world: World) -> None:
    build(world)

    teams = figures(world)

    assert list(teams) == ["Alpha MDT", "Beta MDT"]  # not Gamma: not supervised
    alpha = teams["Alpha MDT"]
    assert [m.month for m in alpha.months] == world.months
    last, this = alpha.months[4], alpha.months[5]
    assert (last.decisions_finalised, last.with_input, last.with_proceed_reason) == (4, 2, 1)
    assert last.share_with_input == 0.5 and last.share_with_proceed_reason == 0.25
    assert (last.inputs_timed, last.median_hours_to_input) == (4, 7.0)
    assert (last.requests_due, last.requests_on_time, last.share_on_time) == (4, 2, 0.5)
    assert (last.attendance_recorded, last.attended, last.attendance_share) == (2, 1, 0.5)
    assert (this.requests_due, this.requests_on_time, this.share_on_time) == (1, 0, 0.0)
    assert this.decisions_finalised == 0 and this.median_hours_to_input is None
    for month in alpha.months[:4]:
        assert month == collaboration.MonthFigures(month.month)
    for month in teams["Beta MDT"].months:
        assert month == collaboration.MonthFigures(month.month)
        assert month.share_with_input is None and month.attendance_share is None


def test_the_median_of_an_odd_count_is_the_middle_value(world: World) -> None:
    m4 = world.months[4]
    noon = local(m4.replace(day=10), 12)
    for hours in (1, 5, 30):
        decision(
            world,
            world.case,
            DecisionKind.TRAVEL,
            proposed=noon,
            inputs=(noon + dt.timedelta(hours=hours),),
        )
    last = figures(world)["Alpha MDT"].months[4]
    assert (last.inputs_timed, last.median_hours_to_input) == (3, 5.0)


def test_a_constant_number_of_queries_whatever_the_data(world: World) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            collaboration.measures_for(world.supervisor)
        return len(captured)

    empty = queries()
    build(world)
    build(world)
    full = queries()
    # The teams, then one query per measure: decisions, time to input, questions,
    # attendance.
    assert empty == full == 5


def test_no_supervised_team_costs_one_query(world: World) -> None:
    with CaptureQueriesContext(connection) as captured:
        assert collaboration.measures_for(world.officer) == []
    assert len(captured) == 1


def test_months_run_back_across_the_year() -> None:
    assert collaboration.month_starts(dt.date(2026, 2, 17)) == [
        dt.date(2025, 9, 1),
        dt.date(2025, 10, 1),
        dt.date(2025, 11, 1),
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
    ]


def test_in_words() -> None:
    assert collaboration.share_words(2, 4) == "2 of 4 (50%)"
    assert collaboration.share_words(0, 0) == "not recorded yet"
    assert collaboration.duration_words(7.0) == "7.0 hours"
    assert collaboration.duration_words(60.0) == "2.5 days"
    assert collaboration.duration_words(None) == "not recorded yet"


# --- The dashboard ---------------------------------------------------------------------


def section(page: str) -> str:
    start = page.index('aria-labelledby="collaboration-heading"')
    return page[start : page.index("</section>", start)]


def test_the_supervisors_dashboard_shows_the_figures(world: World) -> None:
    build(world)

    response = signed_in(world.supervisor).get(reverse("dashboard"))

    assert response.status_code == 200
    shown = section(text(response))
    assert "Alpha MDT" in shown and "Beta MDT" in shown and "Gamma MDT" not in shown
    assert "2 of 4 (50%)" in shown  # input; questions on time; attendance
    assert "1 of 4 (25%)" in shown  # a reason to proceed without
    assert "7.0 hours" in shown
    assert "0 of 1 (0%)" in shown  # this month's question
    assert "not recorded yet" in shown
    # Numbers only: no case, no person.
    assert world.case.reference not in shown
    assert str(world.rep) not in shown and str(world.officer) not in shown
    assert AuditEvent.objects.filter(
        actor=world.supervisor,
        action=Action.LIST,
        target_type="casework.collaboration_measures",
    ).exists()


@pytest.mark.parametrize("who", ["officer", "rep"])
def test_other_roles_see_no_figures_on_their_dashboard(world: World, who: str) -> None:
    build(world)
    page = text(signed_in(getattr(world, who)).get(reverse("dashboard")))
    assert "collaboration-heading" not in page


# --- The API ---------------------------------------------------------------------------


def test_the_api_gives_the_same_figures(world: World) -> None:
    build(world)

    response = api_as(world.supervisor).get(API)

    assert response.status_code == 200
    data = response.json()
    assert data["months"] == 6
    assert [t["team_name"] for t in data["teams"]] == ["Alpha MDT", "Beta MDT"]
    last = data["teams"][0]["months"][4]
    assert last["month"] == world.months[4].isoformat()
    assert last["decisions_finalised"] == 4
    assert last["with_input"] == 2
    assert last["with_proceed_reason"] == 1
    assert last["share_with_input"] == 0.5
    assert last["median_hours_to_input"] == 7.0
    assert last["requests_due"] == 4 and last["requests_on_time"] == 2
    assert last["attendance_recorded"] == 2 and last["attended"] == 1
    assert data["teams"][1]["months"][4]["share_with_input"] is None


def test_the_api_narrows_to_one_supervised_team(world: World) -> None:
    build(world)
    client = api_as(world.supervisor)
    one = client.get(API, {"team": world.team_b.pk})
    assert one.status_code == 200
    assert [t["team_id"] for t in one.json()["teams"]] == [world.team_b.pk]
    assert client.get(API, {"team": world.team_c.pk}).status_code == 404
    assert client.get(API, {"team": 987654}).status_code == 404
    bad = client.get(API, {"team": "alpha"})
    assert bad.status_code == 400 and "team" in bad.json()


def expected_teams(key: str, world: World, other: Team) -> list[int] | None:
    """Supervisors see their own teams; nobody else sees any figures (403)."""
    role, relation = people.role_of(key), people.relation_of(key)
    if role != Role.SUPERVISOR or relation in ("former", "guest") or key == "admin":
        return None
    return [world.team_a.pk] if relation == "member" else [other.pk]


@pytest.mark.parametrize("key", people.KEYS)
def test_only_supervisors_get_figures_of_their_own_teams(world: World, key: str) -> None:
    other = f.make_team("Omega MDT")
    cast = people.cast(world.team_a, world.case, other, granted_by=world.supervisor)
    build(world)

    response = api_as(cast[key]).get(API)

    wanted = expected_teams(key, world, other)
    if wanted is None:
        assert response.status_code == 403
        assert "teams" not in response.json()
    else:
        assert response.status_code == 200
        assert [t["team_id"] for t in response.json()["teams"]] == wanted


def test_signed_out_is_refused() -> None:
    assert APIClient().get(API).status_code == 401


def test_the_api_takes_no_writes(world: World) -> None:
    for method in ("post", "put", "patch", "delete"):
        assert getattr(api_as(world.supervisor), method)(API, {}).status_code == 405
