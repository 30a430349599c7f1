"""The supervisor's queue (issue 5, item 6): decisions awaiting approval and
duty-to-warn reports nobody acknowledged, for the supervisor's own teams only, on the
page and through the API; what it shows is recorded; everyone else is refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import Action, AuditEvent
from casework import decisions, duty_to_warn
from casework.models import AtRisk, CaseDecision, DecisionKind, Urgency
from teams.roles import Role
from tests import factories as f
from tests.test_decisions import Mdt, api_as, data_for, mdt  # noqa: F401  (the fixture)
from tests.test_notes import signed_in

pytestmark = pytest.mark.django_db

THREAT = "QUEUE-CANARY said he would go to her workplace tonight"


def proposed(world: Mdt, kind: str = DecisionKind.CONTACT_MINORS, **extra: Any) -> CaseDecision:
    decision = decisions.create_decision(world.officer, world.plain, data_for(kind, **extra))
    return decisions.propose(world.officer, decision)


def other_team_items() -> tuple[CaseDecision, Any]:
    team = f.make_team("Bridgeport MDT")
    officer = f.make_member(team, Role.OFFICER)
    f.make_member(team, Role.SUPERVISOR)
    case = f.make_case(team, officer=officer)
    decision = decisions.propose(
        officer, decisions.create_decision(officer, case, data_for(DecisionKind.DISCHARGE))
    )
    report = duty_to_warn.file(officer, case, AtRisk.CHILD, THREAT, Urgency.IMMEDIATE)
    return decision, report


def test_the_queue_shows_the_supervisors_teams_only(mdt: Mdt) -> None:  # noqa: F811
    mine = proposed(mdt)
    no_approval = proposed(mdt, DecisionKind.SANCTION)  # the table: no approval needed
    report = duty_to_warn.file(mdt.officer, mdt.plain, AtRisk.VICTIM, THREAT, Urgency.HOURS)
    acknowledged = duty_to_warn.file(mdt.officer, mdt.plain, AtRisk.STAFF, THREAT, Urgency.DAY)
    duty_to_warn.acknowledge(mdt.supervisor, acknowledged, "Called the police liaison.")
    theirs, their_report = other_team_items()

    page = signed_in(mdt.supervisor).get("/supervision/queue/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/decisions/{mine.pk}/" in html
    assert f"/decisions/{no_approval.pk}/" not in html
    assert f"/duty-to-warn/{report.pk}/" in html
    assert f"/duty-to-warn/{acknowledged.pk}/" not in html
    assert f"/decisions/{theirs.pk}/" not in html
    assert f"/duty-to-warn/{their_report.pk}/" not in html

    body = api_as(mdt.supervisor).get("/api/v1/supervisor-queue/").json()
    assert [row["id"] for row in body["decisions"]] == [mine.pk]
    assert [row["id"] for row in body["duty_to_warn"]] == [report.pk]
    assert (body["decisions_total"], body["duty_to_warn_total"]) == (1, 1)

    listed = AuditEvent.objects.filter(action=Action.LIST, actor=mdt.supervisor)
    shown = {(event.target_type, tuple(event.detail["ids"])) for event in listed}
    assert ("casework.casedecision", (str(mine.pk),)) in shown
    assert ("casework.dutytowarn", (str(report.pk),)) in shown


@pytest.mark.parametrize("who", ["officer", "victim_rep", "treatment", "polygraph", "outsider"])
def test_only_supervisors_have_a_queue(mdt: Mdt, who: str) -> None:  # noqa: F811
    proposed(mdt)
    duty_to_warn.file(mdt.officer, mdt.plain, AtRisk.VICTIM, THREAT, Urgency.HOURS)
    user = getattr(mdt, who)
    page = signed_in(user).get("/supervision/queue/")
    assert page.status_code == 403
    assert THREAT not in page.content.decode()
    response = api_as(user).get("/api/v1/supervisor-queue/")
    assert response.status_code == 403
    assert THREAT not in response.content.decode()
    assert 'href="/supervision/queue/"' not in signed_in(user).get("/").content.decode()


def test_signed_out_and_administrators_are_refused(mdt: Mdt) -> None:  # noqa: F811
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/supervisor-queue/").status_code == 401
    admin = f.make_user(is_staff=True)
    assert signed_in(admin).get("/supervision/queue/").status_code == 403
    assert api_as(admin).get("/api/v1/supervisor-queue/").status_code == 403


def test_the_page_costs_the_same_queries_however_long_the_queue(mdt: Mdt) -> None:  # noqa: F811
    client = signed_in(mdt.supervisor)
    proposed(mdt)
    duty_to_warn.file(mdt.officer, mdt.plain, AtRisk.VICTIM, THREAT, Urgency.HOURS)
    client.get("/supervision/queue/")
    with CaptureQueriesContext(connection) as few:
        assert client.get("/supervision/queue/").status_code == 200
    for _ in range(5):
        proposed(mdt)
        duty_to_warn.file(mdt.officer, mdt.plain, AtRisk.COMMUNITY, THREAT, Urgency.DAY)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/supervision/queue/").status_code == 200
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]
