"""Periodic work of teams: sending reminders, generating recurring meetings."""

from __future__ import annotations

from celery import shared_task

from teams import meetings, reminders


@shared_task(name="teams.tasks.send_due_reminders", ignore_result=True)
def send_due_reminders() -> int:
    """Beat runs this every REMINDER_CHECK_SECONDS (a minute by default). It sends the
    due reminders, each exactly once however many workers run it at the same time (see
    teams.reminders). A run that is still busy when the next starts shares the work with
    it: each row goes to one of them."""
    return reminders.send_due().sent


@shared_task(name="teams.tasks.extend_meeting_series", ignore_result=True)
def extend_meeting_series() -> int:
    """Beat runs this daily. Each open series gets its meetings up to
    MEETING_SERIES_HORIZON_DAYS ahead, each planned and announced; a meeting that exists
    is never made twice, so a second run (or two workers) makes nothing more. Their
    agendas come from casework's hourly task (teams may not import casework)."""
    return len(meetings.extend_all())
