"""Periodic work of teams: sending reminders, generating recurring meetings."""

from __future__ import annotations

from celery import shared_task

from teams import reminders


@shared_task(name="teams.tasks.send_due_reminders", ignore_result=True)
def send_due_reminders() -> int:
    """Beat runs this every REMINDER_CHECK_SECONDS (a minute by default). It sends the
    due reminders, each exactly once however many workers run it at the same time (see
    teams.reminders). A run that is still busy when the next starts shares the work with
    it: each row goes to one of them."""
    return reminders.send_due().sent
