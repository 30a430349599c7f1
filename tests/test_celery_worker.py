"""End to end on real parts: a Celery worker with embedded beat, started as a separate
process on the Redis broker of the test run, runs the heartbeat task; the web side sees it
through the shared Redis cache on /healthz/.

Needs the Redis server that the test tooling starts (`make test`, scripts/run_tests.py).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.celery_app import app as celery_app
from config.tasks import HEARTBEAT_KEY
from tests.processes import ROOT, celery_command, require_redis, stop, tail

WORKER_START_TIMEOUT = 60.0
HEARTBEAT_TIMEOUT = 30.0
# A name of our own, so that the ping below reaches this worker and no other one.
WORKER_NAME = f"pytest-{os.getpid()}@localhost"

pytestmark = pytest.mark.services


@contextmanager
def running_worker(workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A worker with embedded beat, on this process's environment (the run's Redis)."""
    log = workdir / "worker.log"
    command = celery_command(
        "worker",
        "--beat",
        "--loglevel=INFO",
        "--concurrency=1",
        "--schedule",
        str(workdir / "beat-schedule"),
        "--hostname",
        WORKER_NAME,
    )
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=dict(os.environ),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, log
    finally:
        stop(process)


@pytest.mark.django_db
def test_worker_and_beat_record_heartbeat_seen_by_health_check(tmp_path: Path, client) -> None:
    require_redis()
    # The cache is shared with every other user of this Redis: start from no heartbeat.
    cache.delete(HEARTBEAT_KEY)
    assert cache.get(HEARTBEAT_KEY) is None
    sent_at = timezone.now()
    with running_worker(tmp_path) as (process, log):
        _check_worker(process, log, client, sent_at)


def _check_worker(
    process: subprocess.Popen[bytes], log: Path, client: Client, sent_at: datetime
) -> None:
    # (a) The task goes through the Redis broker; the worker process writes the heartbeat
    # into the Redis cache, where this process reads it.
    celery_app.send_task("config.tasks.record_heartbeat")
    deadline = time.monotonic() + WORKER_START_TIMEOUT + HEARTBEAT_TIMEOUT
    beat = None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"worker exited with {process.returncode}:\n{tail(log)}"
        beat = cache.get(HEARTBEAT_KEY)
        if beat is not None:
            break
        time.sleep(0.25)
    assert beat is not None, f"no heartbeat within the time limit; worker log:\n{tail(log)}"
    assert isinstance(beat, str)
    seen = parse_datetime(beat)
    assert seen is not None, f"heartbeat is not a timestamp: {beat!r}"
    # Written by the worker after the key was cleared (a second of clock slack).
    assert seen >= sent_at - timedelta(seconds=1), (seen, sent_at)

    # Beat runs inside the worker (its schedule fires once a minute, too slow to wait for).
    deadline = time.monotonic() + 10
    while "beat: Starting" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"beat did not start; worker log:\n{tail(log)}"
        time.sleep(0.25)

    # (b) The worker answers a ping, as an operator's `celery inspect ping` sees it. Naming the
    # destination lets the command return on the first reply instead of waiting out the timeout.
    ping = subprocess.run(
        celery_command("inspect", "ping", "--timeout", "10", "--destination", WORKER_NAME),
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ping.returncode == 0, f"{ping.stdout}\n{ping.stderr}\nworker log:\n{tail(log)}"
    assert "pong" in ping.stdout, ping.stdout
    assert WORKER_NAME in ping.stdout, ping.stdout

    # (c) The web side reports how long ago the scheduler's heartbeat was.
    response = client.get("/healthz/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    since = body["scheduler_seconds_since_heartbeat"]
    assert isinstance(since, int), body
    assert 0 <= since < 30, body
