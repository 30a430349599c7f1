"""Periodic work of victim services: grants that end by date, overdue questions."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from teams.disclosure.grants import expire_case_grants
from victims import information_requests, release_reminders, victim_events
from victims.services import expire_releases


@shared_task(name="victims.tasks.expire_grants", ignore_result=True)
def expire_grants() -> dict[str, int]:
    """Beat runs this every 15 minutes. Expired releases and case exceptions already
    stopped working in the queries themselves; this removes their rows and records each
    release's expiry once. Safe to run twice."""
    return {"releases": expire_releases(), "case_grants": expire_case_grants()}


@shared_task(name="victims.tasks.remind_overdue", ignore_result=True)
def remind_overdue() -> dict[str, int]:
    """Beat runs this hourly: reminds the officer of each victim's question past its due
    date, and the team's supervisors some working days later if it is still unanswered.
    Each reminder is claimed by a conditional update, so running twice reminds nobody
    twice (victims.information_requests)."""
    return information_requests.remind_overdue(timezone.now())


@shared_task(name="victims.tasks.notify_victims", ignore_result=True)
def notify_victims() -> int:
    """Beat runs this every minute. It turns the casework events registered victims
    asked to hear of into notifications, once per event and victim however often it
    runs (see victims.victim_events), and delivers the new ones."""
    return victim_events.notify_victims()


@shared_task(name="victims.tasks.remind_expiring_releases", ignore_result=True)
def remind_expiring_releases() -> int:
    """Beat runs this daily: tells the victim representatives of each release that ends
    within RELEASE_EXPIRY_REMINDER_DAYS days, once per release and representative however
    often it runs (see victims.release_reminders)."""
    return release_reminders.remind_expiring_releases()
