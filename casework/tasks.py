"""Periodic work of casework."""

from __future__ import annotations

from celery import shared_task

from casework import agenda, review_reminders
from casework.duty_to_warn import escalate_due


@shared_task(name="casework.tasks.escalate_duty_to_warn", ignore_result=True)
def escalate_duty_to_warn() -> int:
    """Beat runs this every DUTY_TO_WARN_CHECK_SECONDS (a minute by default). It claims
    the unacknowledged duty-to-warn reports that are due, alerts every supervisor of each
    report's team, and moves each report's next escalation on. Safe to run twice, or on
    two workers at once: see casework.duty_to_warn."""
    return escalate_due()


@shared_task(name="casework.tasks.plan_case_reminders", ignore_result=True)
def plan_case_reminders() -> int:
    """Beat runs this hourly. It plans a reminder for each case overdue for review (to
    its officer, then to the team's supervisors: casework.review_reminders), which the
    minute task sends, and brings the agendas of the coming meetings up to date. Safe to
    run twice: each reminder's key is unique. Returns the reminders planned now."""
    planned = review_reminders.plan_overdue_reviews()
    agenda.refresh_upcoming()
    return planned.total
