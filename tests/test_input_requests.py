"""The victim representative's side of a proposed decision (issue 5, item 3): the queue
of open requests for input, answering one (input linked to the decision, through one
service for the page, the victim input form and the API), and who may read the
requests and the place conflicts (the policy's INPUT_REQUEST and locating rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent, Outcome
from casework.models import Case, CaseDecision, DecisionKind
from teams.models import Team, User
from teams.roles import Role
from tests import factories as f
from victims import services
from victims.models import InputRequest, PlaceConflict, Victim, VictimInput

pytestmark = pytest.mark.django_db

QUEUE = "/victim-services/queue/"
API = "/api/v1"


@dataclass
class World:
    team: Team
    officer: User
    supervisor: User
    rep: User
    rep2: User  # a second victim representative of the team, representing nobody
    treatment: User
    polygraph: User
    other_rep: User  # victim representative of another team
    other_officer: User
    case: Case
    case2: Case  # another case of the same team
    other_case: Case
    victim: Victim
    open_request: InputRequest
    overdue_request: InputRequest
    closed_request: InputRequest  # its decision is final
    case2_request: InputRequest
    other_request: InputRequest
    unasked: CaseDecision  # a proposed decision of the case with no request


def _proposed(case: Case, officer: User, summary: str, **fields: Any) -> CaseDecision:
    return f.make_decision(case, officer, summary=summary, status="proposed", **fields)


@pytest.fixture
def world() -> World:
    team, other_team = f.make_team("Hartford North MDT"), f.make_team("New Haven MDT")
    officer = f.make_member(team, Role.OFFICER)
    rep = f.make_member(team, Role.VICTIM_REP)
    other_officer = f.make_member(other_team, Role.OFFICER)
    other_rep = f.make_member(other_team, Role.VICTIM_REP)
    case = f.make_case(team, officer=officer)
    case2 = f.make_case(team, officer=officer)
    other_case = f.make_case(other_team, officer=other_officer)
    victim = f.make_victim()
    f.link_victim(case, victim, pseudonym="Person harmed 1", representative=rep)
    f.link_victim(case2, f.make_victim(), pseudonym="Person harmed 1", representative=rep)
    f.link_victim(
        other_case, f.make_victim(), pseudonym="Person harmed 1", representative=other_rep
    )
    now = timezone.now()
    final = f.make_decision(
        case, officer, summary="Decision made", status="final", finalised_at=now
    )
    return World(
        team=team,
        officer=officer,
        supervisor=f.make_member(team, Role.SUPERVISOR),
        rep=rep,
        rep2=f.make_member(team, Role.VICTIM_REP),
        treatment=f.make_member(team, Role.TREATMENT),
        polygraph=f.make_member(team, Role.POLYGRAPH),
        other_rep=other_rep,
        other_officer=other_officer,
        case=case,
        case2=case2,
        other_case=other_case,
        victim=victim,
        open_request=f.make_input_request(
            _proposed(case, officer, "Decision draft"), summary="QREQ-OPEN move to Elm Court"
        ),
        overdue_request=f.make_input_request(
            _proposed(case, officer, "Decision draft", kind=DecisionKind.EMPLOYMENT),
            summary="QREQ-LATE job at the depot",
            due_at=now - dt.timedelta(days=1),
        ),
        closed_request=f.make_input_request(final, summary="QREQ-CLOSED final already"),
        case2_request=f.make_input_request(
            _proposed(case2, officer, "Decision draft"), summary="QREQ-CASE2 travel"
        ),
        other_request=f.make_input_request(
            _proposed(other_case, other_officer, "Decision draft"), summary="QREQ-OTHER team"
        ),
        unasked=_proposed(case, officer, "Decision draft", kind=DecisionKind.TRAVEL),
    )


def web(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def html(response: Any) -> str:
    content: bytes = response.content
    return content.decode()


def answer_url(request: InputRequest) -> str:
    return f"/victim-services/input-requests/{request.pk}/answer/"


def denied(user: User, obj: Any) -> bool:
    return AuditEvent.objects.filter(
        actor=user,
        action=Action.VIEW,
        outcome=Outcome.DENIED,
        target_type=obj._meta.label_lower,
        target_id=str(obj.pk),
    ).exists()


def shown_requests(page: str, world: World) -> set[str]:
    every = [
        world.open_request,
        world.overdue_request,
        world.closed_request,
        world.case2_request,
        world.other_request,
    ]
    return {request.summary for request in every if request.summary in page}


# --- The queue -------------------------------------------------------------------------


def test_the_queue_lists_open_requests_of_the_reps_own_cases_only(world: World) -> None:
    response = web(world.rep).get(QUEUE)
    assert response.status_code == 200
    page = html(response)
    assert shown_requests(page, world) == {
        world.open_request.summary,
        world.overdue_request.summary,
        world.case2_request.summary,
    }
    for request in (world.open_request, world.overdue_request, world.case2_request):
        assert f'href="{answer_url(request)}"' in page
    assert "Answer by" in page and "Employment approval" in page
    # The overdue request is marked, in its own row; the others are not.
    late_row = page.split(f'id="input-request-{world.overdue_request.pk}"')[1].split("</tr>")[0]
    assert "Overdue" in late_row
    open_row = page.split(f'id="input-request-{world.open_request.pk}"')[1].split("</tr>")[0]
    assert "Overdue" not in open_row
    # The decision itself (its draft summary) is not the representative's to read.
    assert "Decision draft" not in page

    assert shown_requests(html(web(world.other_rep).get(QUEUE)), world) == {
        world.other_request.summary
    }
    # Another representative of the team works the team's cases too.
    assert world.open_request.summary in html(web(world.rep2).get(QUEUE))


@pytest.mark.parametrize("who", ["officer", "supervisor", "treatment", "polygraph"])
def test_the_queue_is_empty_for_anyone_but_representatives(world: World, who: str) -> None:
    response = web(getattr(world, who)).get(QUEUE)
    assert response.status_code == 200
    assert shown_requests(html(response), world) == set()
    assert "No open requests for input." in html(response)


def test_an_answered_request_leaves_the_queue(world: World) -> None:
    services.create_victim_input(
        world.rep,
        world.case,
        "The victim asks for no contact.",
        decision=world.open_request.decision,
    )
    assert shown_requests(html(web(world.rep).get(QUEUE)), world) == {
        world.overdue_request.summary,
        world.case2_request.summary,
    }


def test_reading_the_queue_is_audited_with_the_ids_shown(world: World) -> None:
    web(world.rep).get(QUEUE)
    event = AuditEvent.objects.get(
        actor=world.rep, action=Action.LIST, target_type="victims.inputrequest"
    )
    assert sorted(event.detail["ids"]) == sorted(
        str(r.pk) for r in (world.open_request, world.overdue_request, world.case2_request)
    )
    assert AuditEvent.objects.filter(
        actor=world.rep, action=Action.LIST, target_type="victims.placeconflict"
    ).exists()


def test_the_dashboard_links_representatives_to_their_queue(world: World) -> None:
    page = html(web(world.rep).get("/"))
    assert f'href="{QUEUE}"' in page
    assert "3 open requests for your input" in page
    assert "0 possible conflicts" in page
    assert f'href="{QUEUE}"' not in html(web(world.officer).get("/"))


# --- Answering -------------------------------------------------------------------------


def test_the_answer_page_names_the_request_and_links_the_input(world: World) -> None:
    request = world.open_request
    client = web(world.rep)
    response = client.get(answer_url(request))
    assert response.status_code == 200
    page = html(response)
    assert request.summary in page and world.case.reference in page
    assert "Decision draft" not in page
    assert AuditEvent.objects.filter(
        actor=world.rep, action=Action.VIEW, target_type="victims.inputrequest"
    ).exists()

    response = client.post(
        answer_url(request),
        {"body": "ANSWER-1: the victim works two streets away.", "disclosure_level": "team"},
    )
    assert response.status_code == 302 and response["Location"] == QUEUE
    item = VictimInput.objects.get(body__startswith="ANSWER-1")
    assert (item.case_id, item.decision_id, item.author_id) == (
        world.case.pk,
        request.decision_id,
        world.rep.pk,
    )
    created = AuditEvent.objects.filter(
        action=Action.CREATE, target_type="victims.victiminput", target_id=str(item.pk)
    ).exclude(detail__has_key="source")  # the service's event, not the trigger's
    assert [event.detail["decision"] for event in created] == [request.decision_id]


def test_the_answer_page_keeps_what_was_typed_on_an_error(world: World) -> None:
    response = web(world.rep).post(
        answer_url(world.open_request),
        {"body": "KEEP-ME typed text", "disclosure_level": "not-a-level"},
    )
    assert response.status_code == 400
    assert "KEEP-ME typed text" in html(response)
    assert not VictimInput.objects.exists()


def test_a_request_on_a_final_decision_takes_no_answer(world: World) -> None:
    client = web(world.rep)
    assert "no longer open for input" in html(client.get(answer_url(world.closed_request)))
    response = client.post(
        answer_url(world.closed_request), {"body": "Too late", "disclosure_level": "team"}
    )
    assert response.status_code == 400
    assert "it no longer takes input" in html(response)
    assert not VictimInput.objects.exists()


def test_the_victim_input_form_offers_the_open_requests_of_the_case(world: World) -> None:
    client = web(world.rep)
    url = f"/cases/{world.case.pk}/victim-input/new/"
    page = html(client.get(url))
    assert world.open_request.summary in page and world.overdue_request.summary in page
    assert world.closed_request.summary not in page
    assert world.case2_request.summary not in page
    assert f'value="{world.open_request.decision_id}"' in page

    response = client.post(
        url,
        {
            "body": "FORM-ANSWER",
            "disclosure_level": "team",
            "decision": world.open_request.decision_id,
        },
    )
    assert response.status_code == 302
    assert VictimInput.objects.get(body="FORM-ANSWER").decision_id == world.open_request.decision_id

    # Input on the case alone still works.
    client.post(url, {"body": "CASE-ONLY", "disclosure_level": "team"})
    assert VictimInput.objects.get(body="CASE-ONLY").decision_id is None


@pytest.mark.parametrize("which", ["unasked", "other case", "other team", "missing"])
def test_the_form_refuses_a_decision_the_rep_was_not_asked_about(world: World, which: str) -> None:
    decision_id = {
        "unasked": world.unasked.pk,
        "other case": world.case2_request.decision_id,
        "other team": world.other_request.decision_id,
        "missing": 999999,
    }[which]
    response = web(world.rep).post(
        f"/cases/{world.case.pk}/victim-input/new/",
        {"body": "NOT-SAVED", "disclosure_level": "team", "decision": decision_id},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["decision"] == [
        "Choose a decision of this case on which your input was requested."
    ]
    assert "NOT-SAVED" in html(response)  # what was typed is kept
    assert not VictimInput.objects.exists()


def test_the_api_links_input_to_a_decision(world: World) -> None:
    response = api(world.rep).post(
        f"{API}/victim-inputs/",
        {
            "case": world.case.pk,
            "body": "API-ANSWER",
            "disclosure_level": "supervision_and_victim_services",
            "decision": world.overdue_request.decision_id,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["decision"] == world.overdue_request.decision_id
    item = VictimInput.objects.get(body="API-ANSWER")
    assert item.decision_id == world.overdue_request.decision_id


@pytest.mark.parametrize("which", ["unasked", "other case", "other team", "final", "missing"])
def test_the_api_refuses_a_decision_the_rep_may_not_answer(world: World, which: str) -> None:
    decision_id = {
        "unasked": world.unasked.pk,
        "other case": world.case2_request.decision_id,
        "other team": world.other_request.decision_id,
        "final": world.closed_request.decision_id,
        "missing": 999999,
    }[which]
    response = api(world.rep).post(
        f"{API}/victim-inputs/",
        {"case": world.case.pk, "body": "NOT-SAVED", "decision": decision_id},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["decision"]
    if which == "final":
        assert "it no longer takes input" in errors["decision"][0]
    else:
        assert errors["decision"] == [
            "Choose a decision of this case on which your input was requested."
        ]
    assert not VictimInput.objects.exists()


def test_the_service_checks_the_decision_for_every_caller(world: World) -> None:
    for decision in (world.unasked, world.case2_request.decision, world.other_request.decision):
        with pytest.raises(ValidationError) as error:
            services.create_victim_input(world.rep, world.case, "x", decision=decision)
        assert list(error.value.message_dict) == ["decision"]
    with pytest.raises(ValidationError) as error:
        services.create_victim_input(world.officer, world.case, "x", decision=world.unasked)
    assert list(error.value.message_dict) == ["case"]  # the officer records no input at all
    assert not VictimInput.objects.exists()


# --- Who reads what ---------------------------------------------------------------------


def test_the_api_lists_requests_to_those_the_policy_names(world: World) -> None:
    on_case = {world.open_request.pk, world.overdue_request.pk, world.closed_request.pk}
    team = on_case | {world.case2_request.pk}
    for user in (world.rep, world.officer, world.supervisor):
        rows = api(user).get(f"{API}/input-requests/").json()["results"]
        assert {row["id"] for row in rows} == team, user
    rows = api(world.rep).get(f"{API}/input-requests/?case={world.case.pk}").json()["results"]
    assert {row["id"] for row in rows} == on_case
    by_id = {row["id"]: row for row in rows}
    assert by_id[world.overdue_request.pk]["overdue"] is True
    assert by_id[world.open_request.pk]["overdue"] is False
    assert by_id[world.closed_request.pk]["open"] is False
    assert by_id[world.open_request.pk]["summary"] == world.open_request.summary
    for user in (world.treatment, world.polygraph, world.other_rep):
        rows = api(user).get(f"{API}/input-requests/?case={world.case.pk}").json()["results"]
        assert rows == [], user


@pytest.mark.parametrize("who", ["treatment", "polygraph", "other_rep", "other_officer"])
def test_a_request_is_not_found_by_those_outside_the_policy(world: World, who: str) -> None:
    user = getattr(world, who)
    request = world.open_request
    assert api(user).get(f"{API}/input-requests/{request.pk}/").status_code == 404
    assert denied(user, request)
    assert web(user).get(answer_url(request)).status_code == 404
    response = web(user).post(answer_url(request), {"body": "x", "disclosure_level": "team"})
    assert response.status_code == 404
    assert not VictimInput.objects.exists()


@pytest.mark.parametrize("who", ["officer", "supervisor"])
def test_readers_of_a_request_may_not_answer_it(world: World, who: str) -> None:
    user = getattr(world, who)
    request = world.open_request
    assert api(user).get(f"{API}/input-requests/{request.pk}/").status_code == 200
    assert web(user).get(answer_url(request)).status_code == 403
    response = web(user).post(answer_url(request), {"body": "x", "disclosure_level": "team"})
    assert response.status_code == 403
    assert not VictimInput.objects.exists()


def test_the_requests_api_is_read_only(world: World) -> None:
    client = api(world.rep)
    url = f"{API}/input-requests/{world.open_request.pk}/"
    assert client.post(f"{API}/input-requests/", {}, format="json").status_code == 405
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(url, {}, format="json").status_code == 405
    assert InputRequest.objects.filter(pk=world.open_request.pk).exists()


def test_place_conflicts_are_read_by_victim_representatives_only(world: World) -> None:
    decision = world.open_request.decision
    conflict = PlaceConflict.objects.create(
        case=world.case,
        decision=decision,
        victim=world.victim,
        matched_by=PlaceConflict.MatchedBy.POSTAL_CODE,
        checked_by=world.officer,
    )
    rows = api(world.rep).get(f"{API}/place-conflicts/").json()["results"]
    assert [row["id"] for row in rows] == [conflict.pk]
    assert rows[0]["victim_name"] == world.victim.full_name
    assert rows[0]["input_request"] == world.open_request.pk
    assert rows[0]["matched_by_label"] == "Same postal code"
    for user in (
        world.officer,
        world.supervisor,
        world.treatment,
        world.polygraph,
        world.other_rep,
    ):
        client = api(user)
        assert client.get(f"{API}/place-conflicts/").json()["results"] == [], user
        assert client.get(f"{API}/place-conflicts/{conflict.pk}/").status_code == 404, user
        assert denied(user, conflict), user
        assert f'id="place-conflict-{conflict.pk}"' not in html(web(user).get(QUEUE)), user
    assert f'id="place-conflict-{conflict.pk}"' in html(web(world.rep).get(QUEUE))
