"""Liveness for load balancers and the compose health checks. Reveals no case content."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from config.tasks import HEARTBEAT_KEY


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, object] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # any failure here means "not healthy", whatever its kind
        checks["database"] = "unavailable"
        healthy = False
    beat = cache.get(HEARTBEAT_KEY)
    seen = parse_datetime(beat) if isinstance(beat, str) else None
    checks["scheduler_seconds_since_heartbeat"] = (
        round((timezone.now() - seen).total_seconds()) if seen else None
    )
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", **checks}, status=200 if healthy else 503
    )
