"""A decision's journey in a real browser (issue 5): an officer drafts a residence
decision on its harm-prevention worksheet and proposes it; the victim representative,
told in the app, answers the request for input from their queue; the officer finalises
it, and the page shows the input considered. Headless Chromium driven by Playwright
against Django's live server, as tests/test_browser.py does."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from casework.models import CaseDecision, DecisionStatus
from teams.models import Notification, NotificationKind
from teams.roles import Role
from tests import factories as f
from tests.test_browser import TIMEOUT_MS, chromium
from victims.models import VictimInput

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.browser
expect.set_options(timeout=TIMEOUT_MS)

INPUT_TEXT = "The victim asks that the new address stays outside her neighbourhood."


def _sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/(login|logout)/"))


def test_officer_drafts_proposes_and_finalises_after_the_representatives_input(
    live_server,
) -> None:
    # All database work happens before the browser starts (see tests/test_browser.py).
    team = f.make_team("Hartford North MDT")
    officer = f.make_user("officer-ortiz", first_name="Olivia", last_name="Ortiz")
    f.make_membership(officer, team, Role.OFFICER)
    rep = f.make_user("rep-vance", first_name="Vera", last_name="Vance")
    f.make_membership(rep, team, Role.VICTIM_REP)
    f.make_member(team, Role.SUPERVISOR)
    case = f.make_case(team, officer=officer, reference="C-2026-0420")
    f.link_victim(case, f.make_victim(), representative=rep)
    base_url = live_server.url

    with chromium() as browser:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            _journey(page, base_url, case.pk)
        finally:
            context.close()

    decision = CaseDecision.objects.get(case=case)
    assert decision.status == DecisionStatus.FINAL
    item = VictimInput.objects.get(decision=decision)
    assert item.author == rep and item.body == INPUT_TEXT
    assert Notification.objects.filter(
        recipient=rep, kind=NotificationKind.INPUT_REQUESTED
    ).exists()


def _journey(page: Page, base_url: str, case_pk: int) -> None:
    # The officer drafts the decision on the worksheet.
    _sign_in(page, base_url, "officer-ortiz")
    page.goto(f"{base_url}/cases/{case_pk}/")
    page.get_by_role("link", name="New decision").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("New decision")
    page.get_by_label("Kind of decision").select_option(label="Residence approval")
    page.get_by_label("Summary").fill("Move to a flat on Oak Avenue")
    page.get_by_label("Rationale").fill("Closer to treatment; landlord knows the conditions.")
    ratings = {
        "The person under supervision": "+2 Clear benefit",
        "The victims": "0 No real effect",
        "The community": "+1 Some benefit",
    }
    for legend, rating in ratings.items():
        group = page.get_by_role("group", name=legend)
        group.get_by_label("Expected benefits").fill(f"Benefits for {legend.lower()}.")
        group.get_by_label("Costs or risks").fill(f"Risks for {legend.lower()}.")
        group.get_by_label("Expected impact").select_option(label=rating)
    place = page.get_by_role("group", name="The place")
    expect(place).to_be_visible()  # shown for a residence decision
    place.get_by_label("Place").fill("12 Oak Avenue, flat 3")
    place.get_by_label("Postal code").fill("06120")
    page.get_by_role("button", name="Save as draft").click()

    expect(page.locator("#decision-status")).to_have_text("Draft")
    expect(page.locator("#place-check")).to_have_text("No conflict found")
    page.get_by_role("button", name="Propose").click()
    expect(page.locator("#decision-status")).to_have_text("Proposed")
    expect(page.locator("#gate-status")).to_contain_text(
        "Waiting for the victim representative's input (due"
    )
    expect(page.get_by_role("button", name="Finalise")).to_be_visible()
    decision_url = page.url
    _sign_out(page)

    # The representative answers from their queue.
    _sign_in(page, base_url, "rep-vance")
    page.goto(f"{base_url}/victim-services/queue/")
    requests = page.locator("#input-requests")
    expect(requests).to_contain_text("Move to a flat on Oak Avenue")
    requests.get_by_role("link", name=re.compile(r"^Answer")).first.click()
    page.get_by_label("Victim input").fill(INPUT_TEXT)
    page.get_by_role("button", name="Save the input").click()
    expect(page.get_by_role("status")).to_contain_text("recorded")
    _sign_out(page)

    # The officer finalises, and the page shows the input considered.
    _sign_in(page, base_url, "officer-ortiz")
    page.goto(decision_url)
    expect(page.locator("#gate-status")).to_contain_text("has given input")
    page.get_by_role("button", name="Finalise").click()
    expect(page.locator("#decision-status")).to_have_text("Final")
    expect(page.locator("#gate-status")).to_contain_text("Input considered when it was finalised")
    expect(page.get_by_text(INPUT_TEXT)).to_be_visible()
    expect(page.get_by_role("link", name="Change the draft")).to_have_count(0)
