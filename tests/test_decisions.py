"""Case decisions (issue 5): the lifecycle and each refusal, the approval table, the
victim-centered gate, a final decision that never changes, superseding, the worksheet's
scale, the place, the pages and the API, who may use each route, the audit events of
each transition, and the case page's query count."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from casework import decision_rules, decisions
from casework.decision_rules import RULES
from casework.models import (
    Case,
    CaseDecision,
    DecisionKind,
    DecisionStatus,
    PlaceCheck,
    ProceedReason,
)
from teams.disclosure import DisclosureLevel
from teams.models import Notification, NotificationKind, Team, User
from teams.roles import Role
from tests import factories as f
from tests.test_notes import field_error, signed_in
from tests.test_notes import page as html
from victims import services as victim_services
from victims.models import InputRequest

pytestmark = pytest.mark.django_db

S = DecisionStatus
K = DecisionKind
API = "/api/v1/decisions/"
PLACE_KINDS = [kind for kind in K.values if decision_rules.concerns_place(kind)]
VICTIM_CANARY = "CANARY-ELM-STREET-5521"


@dataclass
class Mdt:
    team: Team
    officer: User
    officer2: User
    supervisor: User
    supervisor2: User
    victim_rep: User
    treatment: User
    polygraph: User
    outsider: User
    case: Case  # a represented victim, whose protected location is in 06103
    plain: Case  # no victim: the gate never applies


@pytest.fixture
def mdt() -> Mdt:
    team = f.make_team("Hartford North MDT")
    officer = f.make_member(team, Role.OFFICER, first_name="Olivia", last_name="Ortiz")
    rep = f.make_member(team, Role.VICTIM_REP, first_name="Vera", last_name="Vance")
    case = f.make_case(team, officer=officer)
    victim = f.make_victim(address_line1=VICTIM_CANARY)
    f.link_victim(case, victim, representative=rep)
    return Mdt(
        team=team,
        officer=officer,
        officer2=f.make_member(team, Role.OFFICER, first_name="Omar"),
        supervisor=f.make_member(team, Role.SUPERVISOR, first_name="Sam", last_name="Sutter"),
        supervisor2=f.make_member(team, Role.SUPERVISOR, first_name="Sid"),
        victim_rep=rep,
        treatment=f.make_member(team, Role.TREATMENT),
        polygraph=f.make_member(team, Role.POLYGRAPH),
        outsider=f.make_member(f.make_team("New Haven MDT"), Role.OFFICER),
        case=case,
        plain=f.make_case(team, officer=officer),
    )


def worksheet(**extra: Any) -> dict[str, Any]:
    return {
        "supervisee_benefits": "Stable housing near the treatment provider.",
        "supervisee_risks": "Longer commute to work.",
        "supervisee_impact": 2,
        "victims_benefits": "",
        "victims_risks": "None known: far from the victim's area.",
        "victims_impact": 0,
        "community_benefits": "Stable housing lowers the risk of reoffending.",
        "community_risks": "Near a park; curfew applies.",
        "community_impact": 1,
        **extra,
    }


def data_for(kind: str, **extra: Any) -> dict[str, Any]:
    data = worksheet(kind=kind, summary=f"A {kind} decision", rationale="Weighed at the MDT.")
    if kind in PLACE_KINDS:
        data.update(place_description="12 Oak Avenue", place_postal_code="06120")
    return {**data, **extra}


def draft(mdt: Mdt, kind: str = K.SANCTION, case: Case | None = None, **extra: Any) -> CaseDecision:
    return decisions.create_decision(mdt.officer, case or mdt.case, data_for(kind, **extra))


def stored(decision: CaseDecision) -> dict[str, Any]:
    row: dict[str, Any] = dict(CaseDecision.objects.filter(pk=decision.pk).values().get())
    row.pop("updated_at")
    return row


def errors_of(excinfo: Any) -> dict[str, list[str]]:
    error: ValidationError = excinfo.value
    return error.message_dict


def transitions(decision: CaseDecision) -> list[str]:
    events = AuditEvent.objects.filter(
        target_type="casework.casedecision", target_id=str(decision.pk), action=Action.UPDATE
    ).order_by("seq")
    return [e.detail["transition"] for e in events if "transition" in e.detail]


def api_as(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def answer(mdt: Mdt, decision: CaseDecision, body: str = "The victim asks for no contact.") -> Any:
    return victim_services.create_victim_input(
        mdt.victim_rep, decision.case, body, DisclosureLevel.TEAM, decision=decision
    )


# --- The lifecycle --------------------------------------------------------------------


def test_draft_propose_finalise_without_approval(mdt: Mdt) -> None:
    decision = draft(mdt, K.SANCTION, case=mdt.plain)
    assert decision.status == S.DRAFT and decision.author == mdt.officer
    assert decision.disclosure_level == DisclosureLevel.TEAM  # the policy's default
    decisions.propose(mdt.officer, decision)
    assert (decision.status, decision.proposed_at is not None) == (S.PROPOSED, True)
    decisions.finalise(mdt.officer, decision)
    decision.refresh_from_db()
    assert decision.status == S.FINAL and decision.finalised_at is not None
    assert transitions(decision) == ["propose", "finalise"]
    created = AuditEvent.objects.get(
        target_id=str(decision.pk), action=Action.CREATE, detail__kind=K.SANCTION
    )
    # Field names, never the summary or the worksheet's text (case content).
    assert "A sanction decision" not in str(created.detail)


def test_approval_return_and_approve_again(mdt: Mdt) -> None:
    decision = draft(mdt, K.SUPERVISION_LEVEL, case=mdt.plain)
    decisions.propose(mdt.officer, decision)
    approval = Notification.objects.filter(kind=NotificationKind.APPROVAL_REQUESTED)
    assert set(approval.values_list("recipient", flat=True)) == {
        mdt.supervisor.pk,
        mdt.supervisor2.pk,
    }
    # The title names the event and the case, never the decision's content.
    assert all(n.title.endswith(mdt.plain.reference) for n in approval)
    assert all("supervision_level decision" not in m.body for m in mail.outbox)

    with pytest.raises(ValidationError) as excinfo:
        decisions.return_decision(mdt.supervisor, decision, "  ")
    assert "return_comment" in errors_of(excinfo)
    decisions.return_decision(mdt.supervisor, decision, "Add the treatment provider's view.")
    decision.refresh_from_db()
    assert (decision.status, decision.returned_by) == (S.DRAFT, mdt.supervisor)
    assert Notification.objects.filter(
        kind=NotificationKind.DECISION_RETURNED, recipient=mdt.officer
    ).exists()

    decisions.update_decision(mdt.officer, decision, {"rationale": "Treatment agrees."})
    decisions.propose(mdt.officer, decision)
    with pytest.raises(ValidationError) as excinfo:
        decisions.finalise(mdt.officer, decision)
    assert "approve" in errors_of(excinfo)["status"][0]
    decisions.approve(mdt.supervisor2, decision)
    assert Notification.objects.filter(
        kind=NotificationKind.DECISION_APPROVED, recipient=mdt.officer
    ).exists()
    decisions.finalise(mdt.officer, decision)
    decision.refresh_from_db()
    assert (decision.status, decision.approved_by) == (S.FINAL, mdt.supervisor2)
    assert transitions(decision) == ["propose", "return", "propose", "approve", "finalise"]


@pytest.mark.parametrize("kind", list(RULES))
def test_approval_follows_the_table(mdt: Mdt, kind: str) -> None:
    """The kind alone, no flag set: approval exactly as the table says."""
    decision = draft(mdt, kind, case=mdt.plain)
    assert decision_rules.needs_approval(decision) is RULES[kind].needs_approval
    decisions.propose(mdt.officer, decision)
    if RULES[kind].needs_approval:
        with pytest.raises(ValidationError):
            decisions.finalise(mdt.officer, decision)
        assert stored(decision)["status"] == S.PROPOSED
        decisions.approve(mdt.supervisor, decision)
    else:
        with pytest.raises(ValidationError) as excinfo:
            decisions.approve(mdt.supervisor, decision)
        assert "needs no approval" in errors_of(excinfo)["status"][0]
    decisions.finalise(mdt.officer, decision)
    assert decision.status == S.FINAL


@pytest.mark.parametrize("flag", ["community_danger", "victim_danger", "relaxes_condition"])
def test_each_flag_needs_approval(mdt: Mdt, flag: str) -> None:
    decision = draft(mdt, K.OTHER, case=mdt.plain, **{flag: True})
    assert not RULES[K.OTHER].needs_approval
    assert decision_rules.needs_approval(decision)
    decisions.propose(mdt.officer, decision)
    assert decision in decisions.awaiting_approval(mdt.supervisor)
    with pytest.raises(ValidationError):
        decisions.finalise(mdt.officer, decision)


def test_approving_your_own_decision_is_refused(mdt: Mdt) -> None:
    both = f.make_member(mdt.team, Role.OFFICER)
    f.make_membership(both, mdt.team, Role.SUPERVISOR)
    decision = decisions.create_decision(both, mdt.plain, data_for(K.DISCHARGE))
    decisions.propose(both, decision)
    before = stored(decision)
    with pytest.raises(ValidationError) as excinfo:
        decisions.approve(both, decision)
    assert "own decision" in errors_of(excinfo)["approved_by"][0]
    assert stored(decision) == before
    response = api_as(both).post(f"{API}{decision.pk}/approve/", {}, format="json")
    assert response.status_code == 400 and "approved_by" in response.json()
    page = signed_in(both).post(f"/decisions/{decision.pk}/approve/")
    assert page.status_code == 400 and "own decision" in html(page)
    assert stored(decision) == before


def test_only_supervisors_of_the_team_approve_or_return(mdt: Mdt) -> None:
    decision = draft(mdt, K.CHAPERONE, case=mdt.plain)
    decisions.propose(mdt.officer, decision)
    for user in (mdt.officer2, mdt.officer):
        with pytest.raises((PermissionDenied, ValidationError)):
            decisions.approve(user, decision)
        with pytest.raises((PermissionDenied, ValidationError)):
            decisions.return_decision(user, decision, "No.")
    assert stored(decision)["status"] == S.PROPOSED


def test_only_the_author_proposes_changes_and_finalises(mdt: Mdt) -> None:
    decision = draft(mdt, K.SANCTION, case=mdt.plain)
    for service in (decisions.propose, decisions.finalise):
        with pytest.raises(PermissionDenied):
            service(mdt.officer2, decision)
    with pytest.raises(PermissionDenied):
        decisions.update_decision(mdt.officer2, decision, {"summary": "Mine now"})
    with pytest.raises(PermissionDenied):
        decisions.create_decision(mdt.supervisor, mdt.plain, data_for(K.SANCTION))


def test_propose_needs_the_three_ratings(mdt: Mdt) -> None:
    decision = draft(mdt, K.SANCTION, case=mdt.plain, victims_impact=None)
    with pytest.raises(ValidationError) as excinfo:
        decisions.propose(mdt.officer, decision)
    assert set(errors_of(excinfo)) == {"victims_impact"}
    assert stored(decision)["status"] == S.DRAFT


def test_finalising_a_draft_is_refused(mdt: Mdt) -> None:
    decision = draft(mdt, K.SANCTION, case=mdt.plain)
    with pytest.raises(ValidationError) as excinfo:
        decisions.finalise(mdt.officer, decision)
    assert "Propose" in errors_of(excinfo)["status"][0]
    assert stored(decision)["finalised_at"] is None


@pytest.mark.parametrize("status", [S.DRAFT, S.PROPOSED, S.APPROVED])
def test_withdraw_needs_a_reason_and_works_until_final(mdt: Mdt, status: str) -> None:
    decision = draft(mdt, K.DISCHARGE, case=mdt.plain)
    if status != S.DRAFT:
        decisions.propose(mdt.officer, decision)
    if status == S.APPROVED:
        decisions.approve(mdt.supervisor, decision)
    with pytest.raises(ValidationError) as excinfo:
        decisions.withdraw(mdt.officer, decision, "")
    assert "withdrawn_reason" in errors_of(excinfo)
    with pytest.raises(PermissionDenied):
        decisions.withdraw(mdt.officer2, decision, "Not mine")
    decisions.withdraw(mdt.supervisor, decision, "The person under supervision moved away.")
    assert stored(decision)["status"] == S.WITHDRAWN
    assert transitions(decision)[-1] == "withdraw"
    with pytest.raises(ValidationError):
        decisions.withdraw(mdt.officer, decision, "Again")
    with pytest.raises(ValidationError):
        decisions.propose(mdt.officer, decision)


def test_a_final_decision_is_never_withdrawn(mdt: Mdt) -> None:
    decision = draft(mdt, K.SANCTION, case=mdt.plain)
    decisions.propose(mdt.officer, decision)
    decisions.finalise(mdt.officer, decision)
    before = stored(decision)
    with pytest.raises(ValidationError) as excinfo:
        decisions.withdraw(mdt.officer, decision, "Changed my mind")
    assert "Supersede" in errors_of(excinfo)["status"][0]
    assert stored(decision) == before


def test_awaiting_approval_is_the_supervisors_teams_only(mdt: Mdt) -> None:
    waiting = draft(mdt, K.CONTACT_MINORS, case=mdt.plain)
    decisions.propose(mdt.officer, waiting)
    no_need = draft(mdt, K.SANCTION, case=mdt.plain)
    decisions.propose(mdt.officer, no_need)
    still_draft = draft(mdt, K.DISCHARGE, case=mdt.plain)
    other_team = f.make_team()
    other_officer = f.make_member(other_team, Role.OFFICER)
    elsewhere = decisions.create_decision(
        other_officer, f.make_case(other_team, officer=other_officer), data_for(K.DISCHARGE)
    )
    decisions.propose(other_officer, elsewhere)
    assert list(decisions.awaiting_approval(mdt.supervisor)) == [waiting]
    assert list(decisions.awaiting_approval(mdt.officer)) == []
    assert list(decisions.awaiting_approval(mdt.victim_rep)) == []
    assert still_draft not in decisions.awaiting_approval(mdt.supervisor)


# --- The victim-centered gate ------------------------------------------------------------


def test_proposing_asks_the_representative(mdt: Mdt) -> None:
    decision = draft(mdt, K.RESIDENCE, summary="Move to a flat on Oak Avenue")
    before = timezone.now()
    decisions.propose(mdt.officer, decision)
    request = InputRequest.objects.get(decision=decision)
    assert (request.kind_label, request.summary) == ("Residence approval", decision.summary)
    assert request.requested_by == mdt.officer
    due = before + dt.timedelta(days=5)
    assert due <= request.due_at <= timezone.now() + dt.timedelta(days=5)
    told = Notification.objects.get(kind=NotificationKind.INPUT_REQUESTED)
    assert told.recipient == mdt.victim_rep
    assert told.link == f"/victim-services/input-requests/{request.pk}/answer/"
    assert "Oak Avenue" not in told.title
    # Residence needs no approval: nobody else was asked.
    assert not Notification.objects.filter(kind=NotificationKind.APPROVAL_REQUESTED).exists()


def test_gate_refuses_without_input_or_reason(mdt: Mdt) -> None:
    decision = draft(mdt, K.RESIDENCE)
    decisions.propose(mdt.officer, decision)
    before = stored(decision)
    with pytest.raises(ValidationError) as excinfo:
        decisions.finalise(mdt.officer, decision)
    assert set(errors_of(excinfo)) == {"proceed_reason", "proceed_explanation"}
    with pytest.raises(ValidationError) as excinfo:
        decisions.finalise(mdt.officer, decision, ProceedReason.URGENT_SAFETY, "")
    assert set(errors_of(excinfo)) == {"proceed_explanation"}
    assert stored(decision) == before


def test_no_answer_only_once_the_input_was_due(mdt: Mdt) -> None:
    decision = draft(mdt, K.TRAVEL)
    decisions.propose(mdt.officer, decision)
    with pytest.raises(ValidationError) as excinfo:
        decisions.finalise(mdt.officer, decision, ProceedReason.NO_ANSWER, "Five days passed.")
    assert "not run out" in errors_of(excinfo)["proceed_reason"][0]
    assert stored(decision)["status"] == S.PROPOSED
    InputRequest.objects.filter(decision=decision).update(
        due_at=timezone.now() - dt.timedelta(minutes=1)
    )
    decisions.finalise(mdt.officer, decision, ProceedReason.NO_ANSWER, "No answer in 5 days.")
    decision.refresh_from_db()
    assert (decision.status, decision.proceed_reason) == (S.FINAL, ProceedReason.NO_ANSWER)
    event = AuditEvent.objects.filter(target_id=str(decision.pk), detail__transition="finalise")
    assert event.get().detail["proceed_reason"] == ProceedReason.NO_ANSWER
    assert event.get().detail["victim_inputs_considered"] == []


@pytest.mark.parametrize("reason", [ProceedReason.URGENT_SAFETY, ProceedReason.VICTIM_DECLINED])
def test_gate_allows_a_recorded_reason(mdt: Mdt, reason: str) -> None:
    decision = draft(mdt, K.EMPLOYMENT)
    decisions.propose(mdt.officer, decision)
    decisions.finalise(mdt.officer, decision, reason, "Explained to the supervisor.")
    decision.refresh_from_db()
    assert (decision.status, decision.proceed_reason) == (S.FINAL, reason)
    assert decision.proceed_explanation == "Explained to the supervisor."


def test_gate_allows_the_representatives_input_and_records_it(mdt: Mdt) -> None:
    decision = draft(mdt, K.CONTACT_VICTIM)
    decisions.propose(mdt.officer, decision)
    item = answer(mdt, decision)
    decisions.approve(mdt.supervisor, decision)
    decisions.finalise(mdt.officer, decision)
    decision.refresh_from_db()
    assert decision.status == S.FINAL and decision.proceed_reason == ProceedReason.NONE
    event = AuditEvent.objects.get(target_id=str(decision.pk), detail__transition="finalise")
    assert event.detail["victim_inputs_considered"] == [item.pk]
    page = html(signed_in(mdt.officer).get(f"/decisions/{decision.pk}/"))
    assert "Input considered when it was finalised" in page
    assert f'id="victim-input-{item.pk}"' in page


def test_victim_danger_makes_any_kind_touch_victims(mdt: Mdt) -> None:
    decision = draft(mdt, K.TREATMENT_CHANGE, victim_danger=True)
    assert not RULES[K.TREATMENT_CHANGE].touches_victims
    decisions.propose(mdt.officer, decision)
    assert InputRequest.objects.filter(decision=decision).exists()
    decisions.approve(mdt.supervisor, decision)
    with pytest.raises(ValidationError):
        decisions.finalise(mdt.officer, decision)


def test_no_gate_without_a_represented_victim(mdt: Mdt) -> None:
    decision = draft(mdt, K.RESIDENCE, case=mdt.plain)
    decisions.propose(mdt.officer, decision)
    assert not InputRequest.objects.exists()
    decisions.finalise(mdt.officer, decision)
    assert decision.status == S.FINAL


def test_the_officer_sees_only_input_they_may_read(mdt: Mdt) -> None:
    decision = draft(mdt, K.RESIDENCE)
    decisions.propose(mdt.officer, decision)
    hidden = victim_services.create_victim_input(
        mdt.victim_rep,
        mdt.case,
        "VICTIM-SERVICES-ONLY-8812",
        DisclosureLevel.VICTIM_SERVICES,
        decision=decision,
    )
    page = html(signed_in(mdt.officer).get(f"/decisions/{decision.pk}/"))
    assert "VICTIM-SERVICES-ONLY-8812" not in page
    assert "not shared with you" in page
    data = api_as(mdt.officer).get(f"{API}{decision.pk}/").json()
    assert data["victim_inputs"] == []
    assert api_as(mdt.victim_rep).get(f"{API}{decision.pk}/").status_code == 404  # a draft
    decisions.finalise(mdt.officer, decision)  # input given, even if not shared
    decision.refresh_from_db()
    assert decision.status == S.FINAL
    assert (
        hidden.pk
        in AuditEvent.objects.get(detail__transition="finalise").detail["victim_inputs_considered"]
    )


# --- A final decision never changes; superseding -----------------------------------------


@pytest.fixture
def final(mdt: Mdt) -> CaseDecision:
    decision = draft(mdt, K.SANCTION, case=mdt.plain)
    decisions.propose(mdt.officer, decision)
    return decisions.finalise(mdt.officer, decision)


def test_a_final_decision_cannot_be_changed_by_the_service(mdt: Mdt, final: CaseDecision) -> None:
    before = stored(final)
    with pytest.raises(ValidationError) as excinfo:
        decisions.update_decision(mdt.officer, final, {"summary": "Rewritten"})
    assert errors_of(excinfo)["status"] == [decisions.FINAL_IS_FIXED]
    for service in (decisions.propose, decisions.approve, decisions.finalise):
        user = mdt.supervisor if service is decisions.approve else mdt.officer
        with pytest.raises(ValidationError):
            service(user, final)
    assert stored(final) == before


def test_a_final_decision_cannot_be_changed_in_the_pages(mdt: Mdt, final: CaseDecision) -> None:
    before = stored(final)
    client = signed_in(mdt.officer)
    assert client.get(f"/decisions/{final.pk}/edit/").status_code == 403
    response = client.post(f"/decisions/{final.pk}/edit/", {**data_for(K.SANCTION), "summary": "X"})
    assert response.status_code == 403
    for action in ("propose", "finalise", "withdraw"):
        response = client.post(
            f"/decisions/{final.pk}/{action}/", {"withdraw-withdrawn_reason": "x"}
        )
        assert response.status_code == 400, action
    assert stored(final) == before
    page = html(client.get(f"/decisions/{final.pk}/"))
    assert "Change the draft" not in page and "Supersede with a new decision" in page


def test_a_final_decision_cannot_be_changed_through_the_api(mdt: Mdt, final: CaseDecision) -> None:
    before = stored(final)
    client = api_as(mdt.officer)
    response = client.patch(f"{API}{final.pk}/", {"summary": "Rewritten"}, format="json")
    assert response.status_code == 400
    assert response.json()["status"] == [decisions.FINAL_IS_FIXED]
    for method in ("put", "delete"):
        assert getattr(client, method)(f"{API}{final.pk}/", {}, format="json").status_code == 405
    for action, body in (
        ("propose", {}),
        ("finalise", {}),
        ("withdraw", {"withdrawn_reason": "x"}),
    ):
        assert client.post(f"{API}{final.pk}/{action}/", body, format="json").status_code == 400
    response = api_as(mdt.supervisor).post(f"{API}{final.pk}/approve/", {}, format="json")
    assert response.status_code == 400
    assert stored(final) == before


def test_supersede_links_back_to_a_final_decision_of_the_same_case(
    mdt: Mdt, final: CaseDecision
) -> None:
    later = decisions.supersede(mdt.officer, final, {"summary": "A lighter sanction"})
    assert (later.status, later.supersedes, later.kind) == (S.DRAFT, final, final.kind)
    assert later.summary == "A lighter sanction" and later.rationale == final.rationale
    with pytest.raises(ValidationError) as excinfo:
        decisions.supersede(mdt.officer, final)
    assert "already superseded" in errors_of(excinfo)["supersedes"][0]
    # Withdrawing the new draft frees the final decision to be superseded again.
    decisions.withdraw(mdt.officer, later, "Drafted in error")
    assert stored(later)["supersedes_id"] is None
    again = decisions.supersede(mdt.officer, final)
    decisions.propose(mdt.officer, again)
    decisions.finalise(mdt.officer, again)
    page = html(signed_in(mdt.officer).get(f"/decisions/{final.pk}/"))
    assert f'href="/decisions/{again.pk}/"' in page and "Superseded by" in page


def test_supersede_across_cases_is_refused(mdt: Mdt, final: CaseDecision) -> None:
    assert final.case == mdt.plain
    count = CaseDecision.objects.count()
    with pytest.raises(ValidationError) as excinfo:
        decisions.create_decision(mdt.officer, mdt.case, data_for(K.SANCTION), supersedes=final)
    assert "same case" in errors_of(excinfo)["supersedes"][0]
    response = api_as(mdt.officer).post(
        API, {**data_for(K.SANCTION), "case": mdt.case.pk, "supersedes": final.pk}, format="json"
    )
    assert response.status_code == 400 and "supersedes" in response.json()
    page = signed_in(mdt.officer).post(
        f"/cases/{mdt.case.pk}/decisions/new/",
        {**data_for(K.SANCTION), "disclosure_level": "team", "supersedes": final.pk},
    )
    assert page.status_code == 400 and "same case" in html(page)
    assert CaseDecision.objects.count() == count


def test_supersede_a_decision_that_is_not_final_is_refused(mdt: Mdt) -> None:
    pending = draft(mdt, K.SANCTION, case=mdt.plain)
    with pytest.raises(ValidationError) as excinfo:
        decisions.create_decision(mdt.officer, mdt.plain, data_for(K.OTHER), supersedes=pending)
    assert "Only a final decision" in errors_of(excinfo)["supersedes"][0]
    response = api_as(mdt.officer).post(f"{API}{pending.pk}/supersede/", {}, format="json")
    assert response.status_code == 400 and "supersedes" in response.json()


def test_supersede_through_the_api(mdt: Mdt, final: CaseDecision) -> None:
    response = api_as(mdt.officer).post(
        f"{API}{final.pk}/supersede/", {"summary": "Revised"}, format="json"
    )
    assert response.status_code == 201
    data = response.json()
    assert (data["supersedes"], data["status"], data["summary"]) == (final.pk, "draft", "Revised")
    assert api_as(mdt.officer).get(f"{API}{final.pk}/").json()["superseded_by"] == data["id"]


# --- The worksheet's scale, the place, the level ----------------------------------------


@pytest.mark.parametrize("value", [3, -3, "5", "abc", 1.5, True])
def test_impact_off_the_scale_is_refused(mdt: Mdt, value: Any) -> None:
    count = CaseDecision.objects.count()
    with pytest.raises(ValidationError) as excinfo:
        draft(mdt, K.SANCTION, community_impact=value)
    assert errors_of(excinfo)["community_impact"] == [decisions.IMPACT_OFF_SCALE]
    assert CaseDecision.objects.count() == count


def test_impact_off_the_scale_in_the_page_and_the_api(mdt: Mdt) -> None:
    decision = draft(mdt, K.SANCTION)
    before = stored(decision)
    client = signed_in(mdt.officer)
    typed = {**data_for(K.SANCTION), "summary": "Typed text is kept", "victims_impact": "7"}
    for url in (f"/cases/{mdt.case.pk}/decisions/new/", f"/decisions/{decision.pk}/edit/"):
        response = client.post(url, {**typed, "disclosure_level": "team"})
        assert response.status_code == 400, url
        page = html(response)
        assert field_error(page, "victims_impact") == decisions.IMPACT_OFF_SCALE
        assert 'value="Typed text is kept"' in page
    api = api_as(mdt.officer)
    patched = api.patch(f"{API}{decision.pk}/", {"victims_impact": 7}, format="json")
    assert patched.status_code == 400
    assert patched.json()["victims_impact"] == [decisions.IMPACT_OFF_SCALE]
    created = api.post(API, {**data_for(K.SANCTION), "case": mdt.case.pk, "victims_impact": -9})
    assert created.status_code == 400 and "victims_impact" in created.json()
    assert stored(decision) == before
    assert CaseDecision.objects.count() == 1


@pytest.mark.parametrize("kind", PLACE_KINDS)
def test_a_place_needs_a_postal_code_or_both_coordinates(mdt: Mdt, kind: str) -> None:
    base = {**data_for(kind), "place_postal_code": ""}
    with pytest.raises(ValidationError) as excinfo:
        decisions.create_decision(mdt.officer, mdt.case, base)
    assert "place_postal_code" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        decisions.create_decision(mdt.officer, mdt.case, {**base, "place_latitude": "41.76"})
    assert "place_longitude" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        decisions.create_decision(
            mdt.officer, mdt.case, {**base, "place_latitude": "95", "place_longitude": "1"}
        )
    assert "place_latitude" in errors_of(excinfo)
    assert not CaseDecision.objects.exists()
    decision = decisions.create_decision(
        mdt.officer, mdt.case, {**base, "place_latitude": "41.76", "place_longitude": "-72.67"}
    )
    assert decision.place_check == PlaceCheck.NO_CONFLICT


def test_the_place_check_tells_only_its_label(mdt: Mdt) -> None:
    """The victim's protected location is in 06103 (factories.make_location)."""
    decision = draft(mdt, K.RESIDENCE, place_postal_code="06103")
    decision.refresh_from_db()
    assert decision.place_check == PlaceCheck.POSSIBLE_CONFLICT
    page = html(signed_in(mdt.officer).get(f"/decisions/{decision.pk}/"))
    assert str(PlaceCheck.POSSIBLE_CONFLICT.label) in page
    assert VICTIM_CANARY not in page
    body = html(api_as(mdt.officer).get(f"{API}{decision.pk}/"))
    assert VICTIM_CANARY not in body and "possible_conflict" in body
    # Moving the place re-checks it; a kind with no place drops it.
    decisions.update_decision(mdt.officer, decision, {"place_postal_code": "06120"})
    assert decision.place_check == PlaceCheck.NO_CONFLICT
    decisions.update_decision(mdt.officer, decision, {"kind": K.SANCTION})
    decision.refresh_from_db()
    assert (decision.place_postal_code, decision.place_check) == ("", PlaceCheck.NOT_CHECKED)


def test_the_level_is_one_the_officer_may_choose(mdt: Mdt) -> None:
    with pytest.raises(ValidationError) as excinfo:
        draft(mdt, K.SANCTION, disclosure_level=DisclosureLevel.VICTIM_SERVICES)
    assert "cannot share this decision" in errors_of(excinfo)["disclosure_level"][0]
    decision = draft(mdt, K.SANCTION, disclosure_level=DisclosureLevel.SUPERVISION)
    assert decision.disclosure_level == DisclosureLevel.SUPERVISION


# --- The pages ---------------------------------------------------------------------------


def test_new_decision_page(mdt: Mdt) -> None:
    client = signed_in(mdt.officer)
    page = html(client.get(f"/cases/{mdt.case.pk}/decisions/new/"))
    for legend in ("The person under supervision", "The victims", "The community", "The place"):
        assert f"<legend>{legend}</legend>" in page
    assert 'name="supervisee_impact"' in page and "Raises community danger" in page
    assert "Danger takes precedence" in page  # the flags' help text
    assert "offender" not in page.lower()
    case_page = html(client.get(f"/cases/{mdt.case.pk}/"))
    assert f'href="/cases/{mdt.case.pk}/decisions/new/"' in case_page
    assert "decisions/new/" not in html(signed_in(mdt.supervisor).get(f"/cases/{mdt.case.pk}/"))

    response = client.post(
        f"/cases/{mdt.case.pk}/decisions/new/",
        {**data_for(K.RESIDENCE), "disclosure_level": "team", "community_danger": "on"},
    )
    decision = CaseDecision.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/decisions/{decision.pk}/"
    assert (decision.community_danger, decision.supervisee_impact) == (True, 2)


def test_new_decision_bad_input_keeps_what_was_typed(mdt: Mdt) -> None:
    response = signed_in(mdt.officer).post(
        f"/cases/{mdt.case.pk}/decisions/new/",
        {
            **data_for(K.RESIDENCE),
            "summary": "",
            "place_postal_code": "",
            "rationale": "KEEP-THIS-RATIONALE",
            "disclosure_level": "team",
        },
    )
    assert response.status_code == 400
    page = html(response)
    assert field_error(page, "summary") and field_error(page, "place_postal_code")
    assert "KEEP-THIS-RATIONALE" in page
    assert not CaseDecision.objects.exists()


def test_decision_page_through_the_lifecycle(mdt: Mdt) -> None:
    decision = draft(mdt, K.CONTACT_VICTIM, community_danger=True)
    officer, supervisor = signed_in(mdt.officer), signed_in(mdt.supervisor)
    page = html(officer.get(f"/decisions/{decision.pk}/"))
    assert "it raises community danger" in page
    assert "every contact permission (with a victim) needs approval" in page
    assert "Propose</button>" in page and "Change the draft" in page
    assert "Approve</button>" not in html(supervisor.get(f"/decisions/{decision.pk}/"))

    assert officer.post(f"/decisions/{decision.pk}/propose/").status_code == 302
    page = html(officer.get(f"/decisions/{decision.pk}/"))
    assert "Waiting for the victim representative's input (due" in page
    assert "Waiting for a supervisor's approval" in page
    assert "Finalise</button>" not in page

    response = supervisor.post(f"/decisions/{decision.pk}/return/", {"return-return_comment": ""})
    assert response.status_code == 400
    assert field_error(html(response), "return-return_comment")
    assert supervisor.post(f"/decisions/{decision.pk}/approve/").status_code == 302
    page = html(officer.get(f"/decisions/{decision.pk}/"))
    assert f"Approved by {mdt.supervisor}" in page and "Finalise</button>" in page

    response = officer.post(f"/decisions/{decision.pk}/finalise/", {})
    assert response.status_code == 400
    assert field_error(html(response), "finalise-proceed_reason")
    assert stored(decision)["status"] == S.APPROVED
    response = officer.post(
        f"/decisions/{decision.pk}/finalise/",
        {
            "finalise-proceed_reason": ProceedReason.URGENT_SAFETY,
            "finalise-proceed_explanation": "Court order today.",
        },
    )
    assert response.status_code == 302
    page = html(officer.get(f"/decisions/{decision.pk}/"))
    assert "Finalised without the victim representative's input: Urgent safety action" in page


def test_withdraw_in_the_page_keeps_the_reason_field(mdt: Mdt) -> None:
    decision = draft(mdt, K.SANCTION)
    client = signed_in(mdt.officer)
    response = client.post(f"/decisions/{decision.pk}/withdraw/", {"withdraw-withdrawn_reason": ""})
    assert response.status_code == 400
    assert field_error(html(response), "withdraw-withdrawn_reason")
    response = client.post(
        f"/decisions/{decision.pk}/withdraw/", {"withdraw-withdrawn_reason": "Entered twice"}
    )
    assert response.status_code == 302
    assert "Entered twice" in html(client.get(f"/decisions/{decision.pk}/"))


def test_a_get_on_an_action_is_not_allowed(mdt: Mdt) -> None:
    decision = draft(mdt, K.SANCTION)
    assert signed_in(mdt.officer).get(f"/decisions/{decision.pk}/propose/").status_code == 405
    assert stored(decision)["status"] == S.DRAFT


# --- The API -----------------------------------------------------------------------------


def test_api_create_read_and_patch_a_draft(mdt: Mdt) -> None:
    client = api_as(mdt.officer)
    response = client.post(API, {**data_for(K.TRAVEL), "case": mdt.case.pk}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["author"], data["place_check"]) == (
        "draft",
        mdt.officer.pk,
        "no_conflict",
    )
    assert data["touches_victims"] is True and data["needs_approval"] is False
    response = client.patch(f"{API}{data['id']}/", {"relaxes_condition": True}, format="json")
    assert response.status_code == 200
    assert response.json()["approval_reasons"] == ["it relaxes a condition of supervision"]
    assert client.get(API, {"case": mdt.plain.pk}).json()["count"] == 0
    assert client.get(API, {"case": mdt.case.pk}).json()["count"] == 1


def test_api_rejects_unknown_fields(mdt: Mdt) -> None:
    decision = draft(mdt, K.SANCTION)
    client = api_as(mdt.officer)
    for field in ("status", "author", "finalised_at", "approved_by"):
        response = client.patch(f"{API}{decision.pk}/", {field: "final"}, format="json")
        assert response.status_code == 400 and field in response.json(), field
    response = client.post(f"{API}{decision.pk}/propose/", {"status": "final"}, format="json")
    assert response.status_code == 400
    assert stored(decision)["status"] == S.DRAFT


def test_api_lifecycle_and_gate(mdt: Mdt) -> None:
    decision = draft(mdt, K.DISCHARGE)
    officer, supervisor = api_as(mdt.officer), api_as(mdt.supervisor)
    assert officer.post(f"{API}{decision.pk}/propose/", {}, format="json").status_code == 200
    response = supervisor.post(f"{API}{decision.pk}/return/", {}, format="json")
    assert response.status_code == 400 and "return_comment" in response.json()
    assert supervisor.post(f"{API}{decision.pk}/approve/", {}, format="json").status_code == 200
    response = officer.post(f"{API}{decision.pk}/finalise/", {}, format="json")
    assert response.status_code == 400 and "proceed_reason" in response.json()
    item = answer(mdt, decision)
    response = officer.post(f"{API}{decision.pk}/finalise/", {}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["victim_inputs"]) == ("final", [item.pk])
    assert data["input_due_at"] is not None


@pytest.mark.parametrize("role", ["victim_rep", "treatment", "polygraph", "outsider"])
def test_api_drafts_are_not_seen_by_other_roles(mdt: Mdt, role: str) -> None:
    decision = draft(mdt, K.SANCTION)
    decisions.propose(mdt.officer, decision)
    client = api_as(getattr(mdt, role))
    assert client.get(API).json()["count"] == 0
    assert client.get(f"{API}{decision.pk}/").status_code == 404
    assert client.post(f"{API}{decision.pk}/finalise/", {}, format="json").status_code == 404
    decisions.finalise(mdt.officer, decision)
    wanted = 404 if role == "outsider" else 200  # final at `team`: the whole team reads it
    assert client.get(f"{API}{decision.pk}/").status_code == wanted


# --- Who may use each action route (the routes EXEMPT from the generic matrix) ------------

PEOPLE = ("author", "officer2", "supervisor", "victim_rep", "treatment", "polygraph", "outsider")
STATES = (S.DRAFT, S.PROPOSED, S.APPROVED, S.FINAL)


def _user(mdt: Mdt, who: str) -> User:
    return mdt.officer if who == "author" else getattr(mdt, who)


def _in_state(mdt: Mdt, status: str) -> CaseDecision:
    decision = draft(mdt, K.SUPERVISION_LEVEL, case=mdt.plain)  # needs approval, no gate
    if status != S.DRAFT:
        decisions.propose(mdt.officer, decision)
    if status in (S.APPROVED, S.FINAL):
        decisions.approve(mdt.supervisor2, decision)
    if status == S.FINAL:
        decisions.finalise(mdt.officer, decision)
    return decision


def expected(who: str, action: str, status: str) -> int:
    """From the policy: drafts are read by the author and supervisors; a final decision
    (at `team`) by the whole team. Then who may move it, and from which state."""
    # Every officer of the team reads its drafts (the policy's draft row: officer RW).
    reads = who in ("author", "officer2", "supervisor") or (status == S.FINAL and who != "outsider")
    if not reads:
        return 404
    allowed = {
        "propose": who == "author",
        "approve": who == "supervisor",
        "return": who == "supervisor",
        "finalise": who == "author",
        "withdraw": who in ("author", "supervisor"),
        "edit": who == "author" and status == S.DRAFT,
        "supersede": who in ("author", "officer2"),
    }[action]
    if not allowed:
        return 403
    state_ok = {
        "propose": status == S.DRAFT,
        "approve": status == S.PROPOSED,
        "return": status == S.PROPOSED,
        "finalise": status == S.APPROVED,
        "withdraw": status != S.FINAL,
        "edit": True,
        "supersede": status == S.FINAL,
    }[action]
    return 200 if state_ok else 400


BODIES = {
    "return": {"return_comment": "Please add the treatment view."},
    "withdraw": {"withdrawn_reason": "Entered twice."},
}


@pytest.mark.parametrize("status", STATES)
@pytest.mark.parametrize("action", ["propose", "approve", "return", "finalise", "withdraw"])
def test_action_permissions(mdt: Mdt, action: str, status: str) -> None:
    """`decision-transition` and `api:decision-<action>`: every person, every state."""
    for who in PEOPLE:
        for api in (False, True):
            decision = _in_state(mdt, status)
            before = stored(decision)
            user = _user(mdt, who)
            response: Any
            if api:
                response = api_as(user).post(
                    f"{API}{decision.pk}/{action}/", BODIES.get(action, {}), format="json"
                )
                ok = 200
            else:
                body = {f"{action}-{k}": v for k, v in BODIES.get(action, {}).items()}
                response = signed_in(user).post(f"/decisions/{decision.pk}/{action}/", body)
                ok = 302
            wanted = expected(who, action, status)
            where = f"{who} {action} on {status} via {'api' if api else 'page'}"
            assert response.status_code == (ok if wanted == 200 else wanted), where
            if wanted != 200:
                assert stored(decision) == before, where


@pytest.mark.parametrize("status", STATES)
def test_supersede_and_edit_permissions(mdt: Mdt, status: str) -> None:
    """`api:decision-supersede` and `decision-edit` (also in the generic matrix)."""
    for who in PEOPLE:
        decision = _in_state(mdt, status)
        user = _user(mdt, who)
        response = api_as(user).post(f"{API}{decision.pk}/supersede/", {}, format="json")
        wanted = expected(who, "supersede", status)
        assert response.status_code == (201 if wanted == 200 else wanted), f"{who} supersede"
        page = signed_in(user).get(f"/decisions/{decision.pk}/edit/")
        wanted = expected(who, "edit", status)
        assert page.status_code == (403 if wanted == 400 else wanted), f"{who} edit"


# --- Audit events ------------------------------------------------------------------------


def test_every_transition_is_audited_with_its_actor(mdt: Mdt) -> None:
    decision = draft(mdt, K.CONDITION_RELEASE)
    decisions.propose(mdt.officer, decision)
    decisions.return_decision(mdt.supervisor, decision, "More detail please.")
    decisions.propose(mdt.officer, decision)
    decisions.approve(mdt.supervisor, decision)
    item = answer(mdt, decision)
    decisions.finalise(mdt.officer, decision)
    other = draft(mdt, K.SANCTION)
    decisions.withdraw(mdt.supervisor, other, "Duplicate")
    events = AuditEvent.objects.filter(
        action=Action.UPDATE, detail__has_key="transition", case_id=mdt.case.pk
    ).order_by("seq")
    seen = [(e.detail["transition"], e.actor_id, e.target_id) for e in events]
    d, o = str(decision.pk), str(other.pk)
    assert seen == [
        ("propose", mdt.officer.pk, d),
        ("return", mdt.supervisor.pk, d),
        ("propose", mdt.officer.pk, d),
        ("approve", mdt.supervisor.pk, d),
        ("finalise", mdt.officer.pk, d),
        ("withdraw", mdt.supervisor.pk, o),
    ]
    assert events.get(detail__transition="finalise").detail["victim_inputs_considered"] == [item.pk]
    # The database's own write capture saw each status change too.
    captured = AuditEvent.objects.filter(
        target_type="casework.casedecision", target_id=d, detail__source="database"
    )
    statuses = [
        e.detail["values"]["status"]["new"]
        for e in captured.order_by("seq")
        if "status" in e.detail.get("values", {})
    ]
    assert statuses == ["draft", "proposed", "draft", "proposed", "approved", "final"]
    notified = AuditEvent.objects.filter(action=Action.NOTIFY, target_id=d)
    assert notified.count() >= 4  # input requested (twice), approval, returned, approved


def test_reading_a_decision_page_is_audited(mdt: Mdt) -> None:
    decision = draft(mdt, K.SANCTION)
    signed_in(mdt.supervisor).get(f"/decisions/{decision.pk}/")
    assert AuditEvent.objects.filter(
        action=Action.VIEW, actor=mdt.supervisor, target_id=str(decision.pk)
    ).exists()
    signed_in(mdt.treatment).get(f"/decisions/{decision.pk}/")
    denied = AuditEvent.objects.get(action=Action.VIEW, actor=mdt.treatment)
    assert denied.outcome == "denied"


# --- Query counts ------------------------------------------------------------------------


def _count(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_case_page_and_api_queries_do_not_grow_with_decisions(mdt: Mdt) -> None:
    client, api = signed_in(mdt.supervisor), api_as(mdt.supervisor)
    for _ in range(3):
        draft(mdt, K.SANCTION)
    few = (_count(client, f"/cases/{mdt.case.pk}/"), _count(api, f"{API}?case={mdt.case.pk}"))
    for index in range(27):
        decision = draft(mdt, K.DISCHARGE if index % 2 else K.OTHER)
        if index % 3 == 0:
            decisions.propose(mdt.officer, decision)
    many = (
        _count(client, f"/cases/{mdt.case.pk}/"),
        _count(api, f"{API}?case={mdt.case.pk}&page_size=100"),
    )
    # The case page: the decisions of the case with their authors in one query, judged
    # in memory against the permissions loaded once. The API list: count, one page of
    # decisions with authors, later decisions and input requests joined, the victim
    # input the reader may read for the whole page, the audit insert.
    assert few == many
