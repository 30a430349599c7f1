"""The victim representative's dashboard (issue 6, item 8): on the cases of the teams
where the user is a victim representative, open information requests, notifications to
relay, decisions awaiting their input, releases expiring within 30 days and new-victim
reports not acknowledged, each with its total and first rows linked to where it is
handled; read through the policy, audited with the ids shown, and at a number of queries
that does not grow with the rows."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from casework.models import Case, DecisionKind
from teams.models import Team, User
from teams.roles import Role
from tests import factories as f
from victims import services
from victims.models import (
    Delivery,
    InformationRequest,
    InputRequest,
    NewVictimReport,
    NotificationEvent,
    NotificationRegistration,
    Release,
    VictimNotification,
)
from victims.rep_dashboard import ROWS

pytestmark = pytest.mark.django_db

_serial = itertools.count(1)


@dataclass
class World:
    team: Team
    rep: User
    officer: User
    supervisor: User
    treatment: User
    other_rep: User
    other_case: Case


@pytest.fixture
def world() -> World:
    team, team_b = f.make_team("Hartford North MDT"), f.make_team("New Haven MDT")
    other_rep = f.make_member(team_b, Role.VICTIM_REP)
    other_case = f.make_case(team_b, reference="C-OTHER-TEAM")
    return World(
        team=team,
        rep=f.make_member(team, Role.VICTIM_REP),
        officer=f.make_member(team, Role.OFFICER),
        supervisor=f.make_member(team, Role.SUPERVISOR),
        treatment=f.make_member(team, Role.TREATMENT),
        other_rep=other_rep,
        other_case=other_case,
    )


def web(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response: Any) -> str:
    content: bytes = response.content
    return content.decode()


@dataclass
class Rows:
    requests: list[InformationRequest]
    notifications: list[VictimNotification]
    asked: list[InputRequest]
    releases: list[Release]
    reports: list[NewVictimReport]


def add_case_with_everything(
    team: Team, rep: User, officer: User, treatment: User, *, reference: str | None = None
) -> tuple[Case, Rows]:
    """One case with a represented victim and one row of each kind the dashboard lists,
    and one of each kind it must not (relayed, e-mailed, expiring later, acknowledged)."""
    n = next(_serial)
    case = f.make_case(team, officer=officer, reference=reference or f"C-REP-{n:03d}")
    victim = f.make_victim(first_name=f"Victimfirst{n}", last_name=f"Victimlast{n}")
    f.link_victim(case, victim, pseudonym="Person harmed 1", representative=rep)
    today = timezone.localdate()
    now = timezone.now()

    def ask(**extra: Any) -> InformationRequest:
        return InformationRequest.objects.create(
            case=case,
            victim=victim,
            topic="hearing_dates",
            question="When is the next hearing?",
            requested_by=rep,
            assigned_officer=officer,
            due_on=today + dt.timedelta(days=5),
            **extra,
        )

    request = ask()
    ask(answer="Done", answered_by=officer, answered_at=now, relayed_by=rep, relayed_at=now)
    registration = NotificationRegistration.objects.create(
        case=case, victim=victim, event=NotificationEvent.HEARING_DATE, created_by=rep
    )

    def notice(key: str, **extra: Any) -> VictimNotification:
        return VictimNotification.objects.create(
            registration=registration,
            case=case,
            victim=victim,
            event=NotificationEvent.HEARING_DATE,
            message="A hearing was set.",
            event_key=key,
            occurred_at=now,
            delivery=Delivery.RELAY,
            **extra,
        )

    notification = notice(f"case:{case.pk}:hearing:1")
    notice(f"case:{case.pk}:hearing:2", relayed_by=rep, relayed_at=now)
    decision = f.make_decision(case, officer, kind=DecisionKind.RESIDENCE, status="proposed")
    asked = f.make_input_request(decision, summary=f"Move to Park Street {n}")

    def release(days: int) -> Release:
        return services.create_release(
            created_by=rep,
            victim=victim,
            case=case,
            recipient=officer,
            categories=["phone"],
            purpose="Safety planning",
            signed_on=today,
            expires_on=today + dt.timedelta(days=days),
        )

    expiring = release(10)
    release(90)

    def report(**extra: Any) -> NewVictimReport:
        return NewVictimReport.objects.create(
            case=case,
            reporter=treatment,
            context="treatment_session",
            disclosed_on=today,
            description="Disclosed a possible earlier victim.",
            **extra,
        )

    new_report = report()
    report(acknowledged_by=rep, acknowledged_at=now)
    return case, Rows([request], [notification], [asked], [expiring], [new_report])


def add_cases(world: World, count: int) -> Rows:
    found = Rows([], [], [], [], [])
    for _ in range(count):
        _, rows = add_case_with_everything(world.team, world.rep, world.officer, world.treatment)
        for name in ("requests", "notifications", "asked", "releases", "reports"):
            getattr(found, name).extend(getattr(rows, name))
    return found


def test_the_representative_sees_what_waits_for_them(world: World) -> None:
    case, rows = add_case_with_everything(
        world.team, world.rep, world.officer, world.treatment, reference="C-MINE-1"
    )
    other_rep_officer = f.make_member(world.other_case.team, Role.OFFICER)
    other_treatment = f.make_member(world.other_case.team, Role.TREATMENT)
    add_case_with_everything(
        world.other_case.team,
        world.other_rep,
        other_rep_officer,
        other_treatment,
        reference="C-NOT-MINE",
    )
    page = html(web(world.rep).get("/"))
    for title in (
        "Open information requests",
        "Notifications to relay",
        "Decisions awaiting your input",
        "Releases expiring within 30 days",
        "New-victim reports not acknowledged",
    ):
        assert f'{title} <span class="count">(1)</span>' in page, title
    request, notification = rows.requests[0], rows.notifications[0]
    asked, release, report = rows.asked[0], rows.releases[0], rows.reports[0]
    # Each row links to where it is handled.
    assert reverse("information-request-detail", args=[request.pk]) in page
    assert reverse("victim-notification-relay", args=[notification.pk]) in page
    assert reverse("input-request-answer", args=[asked.pk]) in page
    assert reverse("victim-detail", args=[release.victim_id]) in page
    assert reverse("new-victim-report-detail", args=[report.pk]) in page
    assert "Hearing dates: waiting for the answer" in page
    assert f"Release to {world.officer}" in page and "Expires in 10 days" in page
    # The victim by the name the representative sees; nothing of the other team.
    assert "Victimfirst" in page and case.reference in page
    assert "C-NOT-MINE" not in page
    # The trail records each list with the ids shown.
    for model, shown in (
        ("victims.informationrequest", request),
        ("victims.victimnotification", notification),
        ("victims.inputrequest", asked),
        ("victims.release", release),
        ("victims.newvictimreport", report),
    ):
        event = AuditEvent.objects.filter(
            actor=world.rep, action=Action.LIST, target_type=model
        ).latest("seq")
        assert event.detail["ids"] == [str(shown.pk)], model


def test_the_first_rows_and_a_link_to_all(world: World) -> None:
    rows = add_cases(world, ROWS + 2)
    page = html(web(world.rep).get("/"))
    assert f'Open information requests <span class="count">({ROWS + 2})</span>' in page
    assert page.count("Hearing dates: waiting for the answer") == ROWS
    assert f'href="{reverse("information-request-list")}">See all {ROWS + 2}' in page
    assert f'href="{reverse("victim-notifications")}">See all {ROWS + 2}' in page
    assert f'href="{reverse("victim-queue")}">See all {ROWS + 2}' in page
    # Soonest first: the first requests created are due first (same day): by id.
    shown = AuditEvent.objects.filter(
        actor=world.rep, action=Action.LIST, target_type="victims.informationrequest"
    ).latest("seq")
    assert shown.detail["ids"] == [str(r.pk) for r in rows.requests[:ROWS]]


@pytest.mark.parametrize("who", ["officer", "supervisor", "treatment", "other_rep"])
def test_others_do_not_get_the_section(world: World, who: str) -> None:
    add_cases(world, 1)
    page = html(web(getattr(world, who)).get("/"))
    assert "Notifications to relay" not in page or who == "other_rep"
    assert "Victimfirst" not in page
    if who == "other_rep":  # a representative elsewhere: the section, empty
        assert 'Notifications to relay <span class="count">(0)</span>' in page
        assert "No notifications to relay." in page


def count_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/")
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_the_dashboard_does_not_query_more_with_more_rows(world: World) -> None:
    client = web(world.rep)
    add_cases(world, 1)
    few = count_queries(client)
    add_cases(world, ROWS * 3)
    many = count_queries(client)
    # 1 session, 2 user, 3 the audit context (mdt.* settings), 4 roles today, 5-7 "Cases
    # where I represent a victim" (the direct-grant check, the count, the rows).
    # The representative's part, one query per section with its rows and total (a window
    # count): 8 information requests, 9 notifications to relay, 10 requests for input,
    # 11 releases expiring, 12 new-victim reports; 13 the count of place conflicts; the
    # victims' names for the rows: 14 their case links, 15-16 the cases where identity and
    # locating are shown, 17-18 the active releases' grants and items.
    # 19 my open action items (issue 7), 20 meetings, 21 the navigation's roles, 22 unread
    # notifications, 23 emergency access for the audit events, 24 the audit insert (the
    # ids shown, in one statement).
    assert few == many == 24
