"""The victim representative's work in a real browser (issue 6): input on a pending
decision that touches the victim, then a question the victim asks about the case, which
the officer answers with what may be disclosed and the representative relays. Headless
Chromium driven by Playwright against Django's live server, as tests/test_browser.py and
tests/test_browser_decisions.py do."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from casework import decisions
from casework.models import DecisionKind
from teams.models import Notification, NotificationKind
from teams.roles import Role
from tests import factories as f
from tests.test_browser import TIMEOUT_MS, chromium
from tests.test_browser_decisions import _sign_in, _sign_out
from victims.models import InformationRequest, InputRequest, RequestTopic, VictimInput

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.browser
expect.set_options(timeout=TIMEOUT_MS)

INPUT_TEXT = "The victim asks that the new address is not in her part of town."
QUESTION = "Which part of town will he be living in after the move?"
ANSWER = "He will live in the north end of Hartford, several miles from your area."
RELAY_NOTE = "Read the answer to her on the phone; she had no further questions."


def test_representative_gives_input_and_relays_the_answer_to_a_victims_question(
    live_server,
) -> None:
    # All database work happens before the browser starts (see tests/test_browser.py).
    team = f.make_team("Hartford South MDT")
    officer = f.make_user("officer-okafor", first_name="Obi", last_name="Okafor")
    f.make_membership(officer, team, Role.OFFICER)
    rep = f.make_user("rep-reyes", first_name="Rosa", last_name="Reyes")
    f.make_membership(rep, team, Role.VICTIM_REP)
    f.make_member(team, Role.SUPERVISOR)
    case = f.make_case(team, officer=officer, reference="C-2026-0611")
    victim = f.make_victim(first_name="Dana", last_name="Whitfield")
    f.link_victim(case, victim, pseudonym="Person harmed 1", representative=rep)
    decision = decisions.create_decision(
        officer,
        case,
        {
            "kind": DecisionKind.RESIDENCE,
            "summary": "Move to a flat on Maple Street",
            "rationale": "Closer to treatment; the landlord knows the conditions.",
            "supervisee_benefits": "Stable housing.",
            "supervisee_risks": "Longer commute.",
            "supervisee_impact": 2,
            "victims_benefits": "",
            "victims_risks": "To be checked with the victim representative.",
            "victims_impact": 0,
            "community_benefits": "Stable housing lowers the risk.",
            "community_risks": "Near a park; curfew applies.",
            "community_impact": 1,
            "place_description": "40 Maple Street",
            "place_postal_code": "06106",
        },
    )
    decisions.propose(officer, decision)
    input_request = InputRequest.objects.get(decision=decision)
    base_url = live_server.url

    with chromium() as browser:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            _journey(page, base_url, input_request.pk, victim.pk, decision.pk)
        finally:
            context.close()

    item = VictimInput.objects.get(decision=decision)
    assert (item.author, item.body) == (rep, INPUT_TEXT)
    question = InformationRequest.objects.get(case=case)
    assert (question.victim, question.topic, question.question) == (
        victim,
        RequestTopic.RESIDENCE_AREA,
        QUESTION,
    )
    assert (question.answered_by, question.answer) == (officer, ANSWER)
    assert (question.relayed_by, question.relay_note) == (rep, RELAY_NOTE)
    assert Notification.objects.filter(
        recipient=officer, kind=NotificationKind.INFORMATION_REQUESTED
    ).exists()
    assert Notification.objects.filter(
        recipient=rep, kind=NotificationKind.INFORMATION_ANSWERED
    ).exists()


def _journey(
    page: Page, base_url: str, input_request_pk: int, victim_pk: int, decision_pk: int
) -> None:
    # The representative gives input on the proposed decision, at the request's page.
    _sign_in(page, base_url, "rep-reyes")
    page.goto(f"{base_url}/victim-services/input-requests/{input_request_pk}/answer/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your input on a proposed decision")
    expect(page.get_by_text("Move to a flat on Maple Street")).to_be_visible()
    page.get_by_label("Victim input").fill(INPUT_TEXT)
    page.get_by_role("button", name="Save the input").click()
    expect(page.get_by_role("status")).to_contain_text("recorded")

    # Then asks the victim's question, from the victim's page.
    page.goto(f"{base_url}/victims/{victim_pk}/")
    page.get_by_role("link", name="Ask a question for the victim").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ask a question for the victim")
    expect(page.get_by_label("Victim asking")).to_have_value(str(victim_pk))
    expect(page.get_by_label("Victim asking").locator("option:checked")).to_have_text(
        "Dana Whitfield"
    )
    page.get_by_label("What the question is about").select_option(label="Residence area")
    page.get_by_label("The victim's question").fill(QUESTION)
    page.get_by_role("button", name="Send the question to the officer").click()
    expect(page.get_by_role("status")).to_contain_text("The question was sent to the officer")
    expect(page.locator("#information-request-status")).to_have_text(
        "Waiting for the officer's answer"
    )
    expect(page.locator("#information-request-question")).to_have_text(QUESTION)
    _sign_out(page)

    # The officer: the representative's input on the decision, then the question, with
    # the reminder that the answer goes to the victim and the topic's guidance.
    _sign_in(page, base_url, "officer-okafor")
    page.goto(f"{base_url}/decisions/{decision_pk}/")
    expect(page.locator("#gate-status")).to_contain_text("has given input")
    expect(page.get_by_text(INPUT_TEXT)).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Victims' questions").click()
    mine = page.locator("#information-requests-officer")
    expect(mine).to_contain_text("Dana Whitfield")
    mine.get_by_role("link", name=re.compile(r"^Residence area")).click()
    expect(page.locator("#information-request-question")).to_have_text(QUESTION)
    expect(page.locator("#answer-reminder")).to_contain_text("Your answer goes to the victim")
    answer = page.get_by_label("Your answer for the victim")
    expect(answer).to_have_accessible_description(re.compile("never the street address"))
    answer.fill(ANSWER)
    page.get_by_role("button", name="Send the answer").click()
    expect(page.get_by_role("status")).to_contain_text("sent to the victim representative")
    expect(page.locator("#information-request-status")).to_have_text(
        "Answered: to relay to the victim"
    )
    expect(page.get_by_role("button", name="Send the answer")).to_have_count(0)
    expect(page.get_by_role("button", name="Record the relay")).to_have_count(0)
    _sign_out(page)

    # The representative reads the answer, gives it to the victim and records the relay.
    _sign_in(page, base_url, "rep-reyes")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Victims' questions"
    ).click()
    ours = page.locator("#information-requests-representative")
    expect(ours).to_contain_text("Answered: to relay to the victim")
    ours.get_by_role("link", name=re.compile(r"^Residence area")).click()
    expect(page.locator("#information-request-answer")).to_have_text(ANSWER)
    page.get_by_label("How the answer was given to the victim").fill(RELAY_NOTE)
    page.get_by_role("button", name="Record the relay").click()
    expect(page.get_by_role("status")).to_contain_text("relayed to the victim")
    expect(page.locator("#information-request-status")).to_have_text("Relayed to the victim")
    expect(page.locator("#information-request-relay")).to_contain_text(RELAY_NOTE)
    expect(page.get_by_role("button", name="Record the relay")).to_have_count(0)
    # Done: it leaves the representative's list of questions waiting for someone.
    page.get_by_role("link", name="Back to victims' questions").click()
    expect(page.locator("#information-requests-representative")).to_contain_text(
        "No questions waiting for an answer or a relay."
    )
