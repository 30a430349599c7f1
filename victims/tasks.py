"""Housekeeping of grants that end by date."""

from __future__ import annotations

from celery import shared_task

from teams.disclosure.grants import expire_case_grants
from victims.services import expire_releases


@shared_task(name="victims.tasks.expire_grants", ignore_result=True)
def expire_grants() -> dict[str, int]:
    """Beat runs this every 15 minutes. Expired releases and case exceptions already
    stopped working in the queries themselves; this removes their rows and records each
    release's expiry once. Safe to run twice."""
    return {"releases": expire_releases(), "case_grants": expire_case_grants()}
