"""Periodic work of casework."""

from __future__ import annotations

from celery import shared_task

from casework.duty_to_warn import escalate_due


@shared_task(name="casework.tasks.escalate_duty_to_warn", ignore_result=True)
def escalate_duty_to_warn() -> int:
    """Beat runs this every DUTY_TO_WARN_CHECK_SECONDS (a minute by default). It claims
    the unacknowledged duty-to-warn reports that are due, alerts every supervisor of each
    report's team, and moves each report's next escalation on. Safe to run twice, or on
    two workers at once: see casework.duty_to_warn."""
    return escalate_due()
