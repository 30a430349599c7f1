"""One journey through the web UI in a real browser: headless Chromium driven by Playwright,
against Django's live server on the test database.

Chromium comes from the system (Debian's package at /usr/bin/chromium); the test tooling
(`make test`, scripts/run_tests.py) installs it, so a missing binary is a failure, not a skip.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect, sync_playwright

# Playwright's sync API runs an asyncio event loop in the test thread, which trips Django's
# async-unsafe guard (read when a query runs, so setting it here is in time). The runner sets
# it too. The test does its own database work outside the browser block anyway (see below).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-test-password-7431"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.browser
expect.set_options(timeout=TIMEOUT_MS)


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. Install Debian's chromium package, or run the "
            "suite with `make test` (scripts/run_tests.py installs it)."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def _sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_officer_signs_in_and_opens_a_case(live_server) -> None:
    # All database work happens before the browser starts. While Playwright's event loop is
    # running, Django keeps this thread's connections in a separate, per-context store; a
    # connection opened there would outlive the test and block dropping the test database.
    call_command("seed_demo", "--force", "--password", PASSWORD, verbosity=0)
    base_url = live_server.url

    with chromium() as browser:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            _check_journey(page, base_url)
        finally:
            context.close()


def _check_journey(page: Page, base_url: str) -> None:
    # A wrong password stays on the sign-in page and says why.
    _sign_in(page, base_url, "officer", "not-the-password")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("alert")).to_contain_text(
        "Please enter a correct username and password"
    )
    expect(page.get_by_role("heading", name="My cases")).to_have_count(0)

    # The right one lands on the dashboard with the officer's caseload.
    _sign_in(page, base_url, "officer", PASSWORD)
    expect(page).to_have_url(f"{base_url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    my_cases = page.locator("section", has=page.get_by_role("heading", name="My cases"))
    expect(my_cases).to_have_count(1)

    link = my_cases.get_by_role("link", name=re.compile(r"^C-\d{4}-\d{4}$")).first
    reference = link.inner_text().strip()
    link.click()

    # The web page for the case, not the API's rendering of it.
    expect(page).to_have_url(re.compile(rf"^{re.escape(base_url)}/cases/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile(rf"^Case {re.escape(reference)}: ")
    )
    expect(page.get_by_role("heading", name="Notes", exact=True)).to_be_visible()
