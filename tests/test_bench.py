"""The benchmarks still run, and bench/audit.py's pieces do what its figures rely on: the
events it loads chain exactly as the database trigger would chain them, the jsonb text it
hashes is PostgreSQL's, and its "auditing off" switch changes nothing but the audit."""

from __future__ import annotations

import datetime as dt
import glob
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from audit.models import Action, AuditDay, AuditEvent
from audit.services import record
from audit.verify import verify
from bench import audit as bench_audit
from bench import data as bench_data
from bench import measure
from teams.roles import Role
from tests import factories as f

ROOT = Path(__file__).resolve().parent.parent
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the benchmarks run on PostgreSQL only"
)


def tiny_world() -> bench_audit.World:
    """Two teams of every role, twenty cases: ids only, nothing in the database."""
    shape = bench_data.Shape(teams=2, users=20, cases_per_team=10, notes_per_case=3)
    people: dict[str, list[bench_audit.Person]] = {}
    pk = 0
    for role in Role:
        for team in (1, 2):
            pk += 1
            people.setdefault(role.value, []).append(
                bench_audit.Person(pk, f"{role.value}-{pk}", role.value, (team,), "10.0.0.1", "UA")
            )
    cases = {1: list(range(1, 21, 2)), 2: list(range(2, 21, 2))}
    return bench_audit.World(shape, people, cases, list(range(1, 21)))


def test_the_options_and_the_percentiles() -> None:
    args = bench_audit.parse_args(["--scale", "0.5", "--runs", "5", "--strict"])
    assert (args.scale, args.runs, args.keep, args.strict) == (0.5, 5, False, True)
    assert measure.percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.5
    assert measure.percentile([1.0], 95) == 1.0
    assert bench_audit.event_count(1) == 5_000_000
    assert bench_audit.event_count(0.0001) == 2_000


def test_events_are_many_kinds_in_time_order_over_two_years() -> None:
    end = dt.datetime(2025, 6, 2, 12, tzinfo=dt.UTC)
    rows = list(bench_audit.events(tiny_world(), 3_000, end))
    assert len(rows) == 3_000
    times = [row.occurred_at for row in rows]
    assert times[0] >= end - dt.timedelta(days=bench_audit.SPAN_DAYS)
    assert times[-1] < end + dt.timedelta(seconds=1)
    # In order, but for the second event of a request, stamped a moment after the first.
    assert sum(b < a for a, b in itertools.pairwise(times)) < 30
    actions = {row.action for row in rows}
    assert {"view", "list", "create", "update", "disclosure", "login", "login_failed"} <= actions
    assert any(row.outcome == "denied" for row in rows)
    for row in rows:
        json.loads(row.detail)
        if row.action == "disclosure":
            assert row.case_id is not None and row.victim_id is not None
        if row.action == "login_failed":
            assert row.actor_id is None and row.actor_username


@postgresql_only
@pytest.mark.django_db
def test_jsonb_text_is_what_postgresql_prints() -> None:
    samples: list[Any] = [
        {},
        {"ids": ["1", "22"]},
        {"b": 1, "aa": [True, None, 'say "hi"', "é", "tab\there"], "a": {"zz": -1, "y": 0}},
        {"fields": ["last_login"], "source": "database", "values": {}},
    ]
    end = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    samples += [json.loads(row.detail) for row in bench_audit.events(tiny_world(), 300, end)]
    with connection.cursor() as cursor:
        for value in samples:
            cursor.execute("SELECT %s::jsonb::text", [json.dumps(value)])
            row = cursor.fetchone()
            assert row is not None
            assert bench_audit.jsonb_text(value) == row[0]


@postgresql_only
@pytest.mark.django_db
def test_loaded_events_verify_and_the_trigger_chains_on_after_them() -> None:
    record(None, Action.VERIFY)  # the chain need not start empty
    before = AuditEvent.objects.count()
    last_id, seq, prev = bench_audit.chain_head()
    rows = bench_audit.events(tiny_world(), 2_500, dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    lines = list(bench_audit.chained(rows, last_id + 1, seq, prev))
    with bench_audit.triggers_off():
        bench_data._copy(AuditEvent, bench_audit.COLUMNS, lines)
        bench_audit.fill_days()
    bench_data._reset_sequences([AuditEvent])
    record(None, Action.VERIFY)  # chained by the trigger, after the loaded events
    verdict = verify()
    assert verdict.ok, verdict.problem
    assert verdict.checked == before + 2_501 == AuditEvent.objects.count()
    # Each UTC day's positions, filled for the loaded events and kept on by the trigger,
    # are those of a GROUP BY over the trail (merged with the days already there).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (occurred_at AT TIME ZONE 'UTC')::date, min(seq), max(seq) "
            "FROM audit_auditevent GROUP BY 1"
        )
        grouped = {day: (first, last) for day, first, last in cursor.fetchall()}
    days = AuditDay.objects.values_list("day", "first_seq", "last_seq")
    assert {day: (first, last) for day, first, last in days} == grouped
    assert len(grouped) > 300


@pytest.mark.django_db
def test_auditing_off_drops_the_events_and_serves_the_same_page() -> None:
    from django.conf import settings

    team = f.make_team()
    officer = f.make_member(team, Role.OFFICER)
    case = f.make_case(team=team, officer=officer)
    f.make_note(case, officer)
    middleware = [
        bench_audit.SWITCH_MIDDLEWARE if name == bench_audit.APP_MIDDLEWARE else name
        for name in settings.MIDDLEWARE
    ]
    assert bench_audit.SWITCH_MIDDLEWARE in middleware
    url = reverse("case-detail", args=[case.pk])
    with override_settings(MIDDLEWARE=middleware):
        client = Client()
        client.force_login(officer)
        views = AuditEvent.objects.filter(action=Action.VIEW, case_id=case.pk)
        on = client.get(url)
        assert views.count() == 1
        off = client.get(url, headers={bench_audit.SWITCH_HEADER: "off"})
        assert views.count() == 1
        again = client.get(url)
        assert views.count() == 2
    assert on.status_code == off.status_code == again.status_code == 200
    assert "X-Request-ID" in on and "X-Request-ID" not in off

    def page(response: Any) -> str:
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())

    assert page(on) == page(off)


def _postgres_binaries() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb") or shutil.which("initdb"))


@pytest.mark.skipif(not _postgres_binaries(), reason="needs PostgreSQL's server binaries")
def test_the_audit_benchmark_runs_at_the_smallest_scale() -> None:
    """The whole script on its own throwaway cluster: load, the three measurements."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "audit.py"), "--scale", "0.0001", "--runs", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    for expected in (
        "2,000 audit events",
        "audit events: build, chain, COPY",
        "auditing on 1, off 0",
        "the page with auditing off is the same HTML as the app's",
        "ratio on/off",
        "EXPLAIN (ANALYZE, BUFFERS), review page query, case",
        "chain OK: 2,",
        "Summary",
    ):
        assert expected in output, output[-3000:]
    print(f"bench/audit.py at the smallest scale: {time.monotonic() - started:.0f} s")


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_reminders_benchmark_sends_each_reminder_once() -> None:
    """bench/reminders.py at a small count, on the test database (its DATABASE_URL path:
    already migrated, which saves the half-minute of a new cluster's migrate; only the
    run's own rows are counted): two real workers on its own Redis send every row, and
    none twice."""
    from tests.processes import database_url

    # `make test` installs redis-server: its absence is a broken setup, not a reason to skip.
    assert shutil.which("redis-server"), "redis-server is missing: run the suite with make test"
    env = {**os.environ, "DATABASE_URL": database_url()}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "reminders.py"), "--count", "200"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    for expected in (
        "200 reminders bulk-created in",
        "time from the first task sent until the last row committed",
        "sends per second",
        "rows per worker (their task logs): bench-w1 ",
        "duplicates: 0 (",
        "lost: 0 (not sent 0, sent without a notification 0, without an e-mail 0)",
        "e-mails not from these rows: 0",
        "lateness (sent_at - send_at): p50",
        "each reminder sent once",
    ):
        assert expected in output, output[-3000:]
    workers = re.search(r"bench-w1 ([\d,]+), bench-w2 ([\d,]+)", output)
    assert workers is not None, output[-3000:]
    assert sum(int(n.replace(",", "")) for n in workers.groups()) == 200
    print(f"bench/reminders.py --count 200: {time.monotonic() - started:.0f} s")
