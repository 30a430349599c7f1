"""Scheduling a review meeting in a real browser (issue 7): an officer opens Meetings,
schedules a meeting through the form (a first attempt in the past is refused with the
field's error and what was typed kept), and sees the meeting page with its agenda, on
which the case due for review appears. Headless Chromium driven by Playwright against
Django's live server, as tests/test_browser.py does."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from casework.meeting_models import AgendaItem, AgendaReason
from teams.models import MeetingAttendee, NotificationKind, Reminder, ReviewMeeting
from teams.roles import Role
from tests import factories as f
from tests.test_browser import TIMEOUT_MS, chromium

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.browser
expect.set_options(timeout=TIMEOUT_MS)

REFERENCE = "C-2026-0777"


def _sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")


def test_officer_schedules_a_meeting_and_sees_its_agenda(live_server) -> None:
    # All database work happens before the browser starts (see tests/test_browser.py).
    team = f.make_team("Hartford North MDT")
    officer = f.make_user("officer-ortiz", first_name="Olivia", last_name="Ortiz")
    f.make_membership(officer, team, Role.OFFICER)
    f.make_member(team, Role.SUPERVISOR)
    f.make_member(team, Role.VICTIM_REP)
    case = f.make_case(team, officer=officer, reference=REFERENCE)
    # Its review fell due last week: it comes up at the next meeting.
    case.next_review_due = timezone.localdate() - dt.timedelta(days=7)
    case.save(update_fields=["next_review_due"])
    start = (timezone.localtime() + dt.timedelta(days=3)).replace(hour=10, minute=0)
    base_url = live_server.url

    with chromium() as browser:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            _journey(page, base_url, start)
        finally:
            context.close()

    meeting = ReviewMeeting.objects.get(team=team)
    assert meeting.location == "Conference room B" and meeting.reminder_offsets == [2880, 120]
    assert MeetingAttendee.objects.filter(meeting=meeting).count() == 3
    assert AgendaItem.objects.filter(
        meeting=meeting, case=case, reason=AgendaReason.REVIEW_DUE
    ).exists()
    assert Reminder.objects.filter(
        meeting=meeting, kind=NotificationKind.MEETING_SCHEDULED, recipient=officer
    ).exists()


def _journey(page: Page, base_url: str, start: dt.datetime) -> None:
    _sign_in(page, base_url, "officer-ortiz")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Meetings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review meetings")
    page.get_by_role("link", name="Schedule a meeting").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Schedule a review meeting")
    # The reminders from the settings are filled in; every member is ticked.
    expect(page.get_by_label("Reminders before the meeting")).to_have_value("48h, 2h")
    members = page.get_by_role("group", name="Members invited").get_by_role("checkbox")
    expect(members).to_have_count(3)
    for index in range(3):
        expect(members.nth(index)).to_be_checked()

    # A time in the past: refused, with the field's error, and what was typed kept.
    page.get_by_label("Starts at").fill("2020-01-07T10:00")
    page.get_by_label("Place").fill("Conference room B")
    page.get_by_role("button", name="Schedule the meeting").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.locator("#id_starts_at_error")).to_contain_text("This time has passed")
    expect(page.get_by_label("Place")).to_have_value("Conference room B")

    page.get_by_label("Starts at").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Schedule the meeting").click()
    expect(page.get_by_role("status")).to_contain_text("The meeting is scheduled")
    expect(page.get_by_role("heading", level=1)).to_have_text("MDT case review")
    expect(page.locator("#meeting-status")).to_have_text("Scheduled")
    expect(page).to_have_url(re.compile(r"/meetings/\d+/$"))

    # The agenda: the case due for review is on it.
    agenda = page.locator("#agenda")
    expect(agenda.get_by_role("heading", name="Agenda")).to_be_visible()
    expect(agenda).to_contain_text(f"Case {REFERENCE}")
    expect(agenda).to_contain_text("Due for review")

    # The officer's answer, and the calendar invitation offered.
    page.get_by_label("I will attend").check()
    page.get_by_role("button", name="Save my answer").click()
    expect(page.locator("#my-rsvp")).to_have_text("Attending")
    expect(page.get_by_role("link", name="Download the calendar invitation (.ics)")).to_be_visible()
