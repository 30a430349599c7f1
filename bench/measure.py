"""What the benchmarks share: the options, the throwaway PostgreSQL cluster around a run,
the Django environment, warm-up and alternating timed runs, percentiles, SQL statement
counts, page comparison and EXPLAIN (ANALYZE, BUFFERS) with its sequential scans.

Used by bench/permissions.py and bench/audit.py. Nothing here imports Django at module
level: the scripts set the environment first (configure_environment), then set up Django.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.test import Client

WARMUP = 3
EXPLAIN_LINES = 30


def parse_args(
    doc: str | None, argv: list[str] | None, scale_help: str = "data size; 0.1 is a quick smoke run"
) -> argparse.Namespace:
    """--scale, --runs, --keep and --strict, with the first paragraph of `doc` as the
    description."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--scale", type=float, default=1.0, help=scale_help)
    parser.add_argument("--runs", type=int, default=30, help="timed runs per page (min 30)")
    parser.add_argument(
        "--keep", action="store_true", help="leave the PostgreSQL cluster running afterwards"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a budget is missed"
    )
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def configure_environment(database_url: str, workdir: Path) -> None:
    """Settings are read from the environment once, at django.setup()."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-used-anywhere-else-0123456789")
    os.environ["DEBUG"] = "0"
    os.environ["VAR_DIR"] = str(workdir / "var")
    (workdir / "var" / "static").mkdir(parents=True, exist_ok=True)  # whitenoise looks there
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"


def main(args: argparse.Namespace, run: Callable[[argparse.Namespace], bool]) -> int:
    """Start a throwaway cluster (unless DATABASE_URL is set), call `run(args)` (True when
    a budget was missed), stop the cluster unless --keep; the exit status."""
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="mdt-bench-"))
    postgres: Any = None
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        from scripts.run_tests import Postgres

        postgres = Postgres(workdir)
        database_url = postgres.start()
        print(f"PostgreSQL cluster started in {postgres.dir} ({database_url})", flush=True)
    elif not database_url.startswith("postgres"):
        print("bench: DATABASE_URL must point to PostgreSQL", file=sys.stderr)
        return 2
    configure_environment(database_url, workdir)
    try:
        missed = run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if postgres is None or not args.keep:
            if postgres is not None:
                postgres.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"\nCluster kept: DATABASE_URL={database_url}  (data in {postgres.dir})")
            pg_ctl = f"{postgres.bin}/pg_ctl -D {postgres.dir}/data stop"
            print(f"Stop it with: {'runuser -u postgres -- ' if os.geteuid() == 0 else ''}{pg_ctl}")
    print(f"\nElapsed total: {time.perf_counter() - started:.0f} s")
    return 1 if (missed and args.strict) else 0


def persistent_connection() -> str:
    """One persistent connection, as a busy worker has: no reconnect in the middle of the
    timed runs (the app's CONN_MAX_AGE=60 would reconnect once a minute). Returns the
    server version."""
    from django.db import connection

    connection.settings_dict["CONN_MAX_AGE"] = None
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        row = cursor.fetchone()
    return str(row[0]) if row else "?"


def page_storages() -> dict[str, dict[str, str]]:
    """STORAGES for serving pages with DEBUG off: the manifest storage would want
    collectstatic first."""
    return {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def timed(step: Callable[[int], object], i: int) -> float:
    started = time.perf_counter()
    step(i)
    return (time.perf_counter() - started) * 1000


def alternate(
    step: Callable[[int], object], floor: Callable[[int], object], runs: int
) -> tuple[list[float], list[float]]:
    """Warm both, then time them in turn, so drift hits both alike."""
    for i in range(WARMUP):
        step(i)
        floor(i)
    times: list[float] = []
    floor_times: list[float] = []
    for i in range(runs):
        times.append(timed(step, i))
        floor_times.append(timed(floor, i))
    return times, floor_times


def repeat(step: Callable[[int], object], runs: int) -> list[float]:
    """Warm, then time `runs` runs (ms)."""
    for i in range(WARMUP):
        step(i)
    return [timed(step, i) for i in range(runs)]


def captured_queries(step: Callable[[int], object]) -> list[dict[str, str]]:
    """The SQL statements of one run of `step`, each with its time in seconds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        step(0)
    return list(captured.captured_queries)


def count_queries(step: Callable[[int], object]) -> int:
    return len(captured_queries(step))


def get(client: Client, url: str, **headers: str) -> Any:
    response = client.get(url, headers=headers or None)
    if response.status_code != 200:
        raise SystemExit(f"bench: GET {url} answered {response.status_code}")
    return response


def same_page(response: Any, other: Any, what: str, label: str = "the floor page") -> None:
    """`other` must show what the app shows: compare the two pages' HTML, less the
    per-request CSRF token and the navigation's current-page mark."""

    def normal(body: bytes) -> list[str]:
        text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", body.decode())
        return text.replace(' aria-current="page"', "").splitlines()

    app, bare = normal(response.content), normal(other.content)
    if app == bare:
        print(f"  {what}: {label} is the same HTML as the app's", flush=True)
        return
    diff = [line for line in difflib.unified_diff(app, bare, lineterm="", n=0)][2:8]
    print(f"  {what}: WARNING {label} differs from the app's:", flush=True)
    for line in diff:
        print(f"    {line[:160]}", flush=True)


def seq_scans(plan: list[str]) -> list[str]:
    """The tables a plan reads with a sequential scan."""
    return sorted(
        {line.split("Seq Scan on ")[1].split()[0] for line in plan if "Seq Scan on " in line}
    )


def explain(sql: str, title: str, lines: int = EXPLAIN_LINES) -> list[str]:
    """Print EXPLAIN (ANALYZE, BUFFERS) of `sql` (as Django captured it), its timing and
    its sequential scans; returns the plan."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = [row[0] for row in cursor.fetchall()]
    timing = [line.strip() for line in plan if line.startswith(("Planning Time", "Execution Time"))]
    print(f"\nEXPLAIN (ANALYZE, BUFFERS), {title}:")
    print(f"  SQL: {sql[:400]}{' ...' if len(sql) > 400 else ''}")
    for line in plan[:lines]:
        print(f"  | {line}")
    if len(plan) > lines:
        print(f"  | ... ({len(plan) - lines} more lines)")
    print(f"  => {'; '.join(timing)}; sequential scans: {', '.join(seq_scans(plan)) or 'none'}")
    return plan
