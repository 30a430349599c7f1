"""Tasks that keep the infrastructure observable."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_KEY = "celery:heartbeat"


@shared_task(name="config.tasks.record_heartbeat", ignore_result=True)
def record_heartbeat() -> str:
    """Beat schedules this every minute; the health page reads it to tell whether the
    scheduler and a worker are both alive."""
    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_KEY, now, timeout=None)
    return now
