#!/usr/bin/env python3
"""How much the disclosure policy costs on the two busiest pages, on PostgreSQL.

    .venv/bin/python bench/permissions.py [--scale 1] [--runs 30] [--keep] [--strict]

Starts a throwaway PostgreSQL cluster (scripts/run_tests.py's) unless DATABASE_URL is
set, migrates, bulk-loads 500 teams, 5,000 users, 100,000 cases and 1,000,000 notes
(times printed per part), then measures through the whole Django stack (test Client,
middleware, session, templates) page 1 of the case list with its total count, and a
case detail with its notes, for an officer (about 200 visible cases) and a supervisor
(about 10,000). In the same run, alternating with them, it measures the same pages with
no permission filter and no audit (bench/floor.py): the floor. Budget: each p95 within
1.5x of its floor's p95. Also prints the same comparison for the bare SQL (no HTTP, no
templates) and EXPLAIN (ANALYZE, BUFFERS) of the supervisor's restricted list queries.

With DATABASE_URL set, the database is migrated and loaded unless it already holds the
bench data (a cluster kept with --keep), in which case loading is skipped.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.measure import (  # noqa: E402
    WARMUP,
    alternate,
    count_queries,
    get,
    page_storages,
    percentile,
    persistent_connection,
    same_page,
)
from bench.measure import explain as explain_query  # noqa: E402
from bench.measure import main as run_main  # noqa: E402
from bench.measure import parse_args as common_args  # noqa: E402

if TYPE_CHECKING:
    from django.test import Client

    from bench.data import Population, Shape

BUDGET = 1.5


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return common_args(__doc__, argv)


def main(argv: list[str] | None = None) -> int:
    return run_main(parse_args(argv), run)


def run(args: argparse.Namespace) -> bool:
    """Migrate, load, measure, report. True when a budget was missed."""
    import django

    django.setup()
    from django.core.management import call_command

    from bench import data

    print(f"PostgreSQL {persistent_connection()}; jit off (settings)", flush=True)

    shape = data.Shape.at(args.scale)
    print(
        f"\nScale {args.scale:g}: {shape.teams:,} teams, {shape.users:,} users, "
        f"{shape.cases:,} cases, {shape.notes:,} notes",
        flush=True,
    )
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"  {'migrate':<34} {time.perf_counter() - started:7.1f} s", flush=True)

    from teams.models import Team

    if Team.objects.filter(name="Bench team 0001").exists():
        print("  database already holds the bench data: load skipped", flush=True)
    elif Team.objects.exists():
        raise SystemExit("bench: the database has teams that are not bench data; use an empty one")
    else:
        timer = data.load(shape)
        print(f"  {'load total':<34} {timer.total:7.1f} s", flush=True)
    check_data(shape)
    gc.collect()
    gc.freeze()  # the loader's garbage out of the way of the timed runs

    people = data.population(shape)
    load = os.getloadavg()
    results = measure(people, max(args.runs, 1))
    print(
        f"  machine load average (1 min) before/after measuring: {load[0]:.1f}/"
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        flush=True,
    )
    missed = report(results, args.runs)
    explain(people)
    return missed


def check_data(shape: Shape) -> None:
    """The loaded grants are what apply_team_policy would make; users see what they should."""
    from bench import data
    from casework.selectors import search_cases
    from teams.disclosure.grants import apply_team_policy
    from teams.models import Team, User

    team = Team.objects.get(pk=1)
    changed = apply_team_policy(team)
    if changed:
        raise SystemExit(f"bench: loaded grants differ from apply_team_policy ({changed} rows)")
    people = data.population(shape)
    officer = User.objects.get(pk=people.officer_id)
    supervisor = User.objects.get(pk=people.supervisor_id)
    seen = (search_cases(officer).count(), search_cases(supervisor).count())
    expected = (
        len(people.officer_team_ids) * shape.cases_per_team,
        len(people.supervisor_team_ids) * shape.cases_per_team,
    )
    if seen != expected:
        raise SystemExit(f"bench: officer/supervisor see {seen} cases, expected {expected}")
    print(
        f"  check: grants match the policy; officer sees {seen[0]:,}, supervisor {seen[1]:,} cases"
    )


@dataclass
class Result:
    journey: str
    user: str
    rows: str
    times: list[float]
    floor_times: list[float]
    queries: int
    floor_queries: int


def measure(people: Population, runs: int) -> dict[str, list[Result]]:
    from django.core.paginator import Paginator
    from django.test import Client, override_settings
    from django.urls import reverse

    from bench import floor
    from casework.models import Case, CaseNote
    from casework.selectors import cases_for, search_cases
    from casework.views import CASES_PER_PAGE
    from teams.disclosure import case_access, get_visible_or_404
    from teams.models import User
    from teams.roles import Role

    users = {
        "officer": (User.objects.get(pk=people.officer_id), people.officer_team_ids),
        "supervisor": (User.objects.get(pk=people.supervisor_id), people.supervisor_team_ids),
    }
    roles = {"officer": Role.OFFICER, "supervisor": Role.SUPERVISOR}
    case_ids = {"officer": people.officer_case_ids, "supervisor": people.supervisor_case_ids}
    results: dict[str, list[Result]] = {"http": [], "sql": []}
    overrides = override_settings(
        ROOT_URLCONF="bench.floor",
        # DEBUG is off, and the manifest storage would want collectstatic first.
        STORAGES=page_storages(),
    )
    print(
        f"\nMeasuring: {WARMUP} warm-up + {runs} timed runs per page, each run of a page "
        "followed by the same run of its floor",
        flush=True,
    )
    with overrides:
        for label, (user, team_ids) in users.items():
            floor.FLOOR_USERS[user.pk] = floor.FloorUser(team_ids, roles[label])
            client = Client()
            client.force_login(user)
            ids = case_ids[label]
            total = search_cases(user).count()

            # --- through the whole stack --------------------------------------------
            list_url, floor_list_url = reverse("case-list"), reverse("bench-floor-case-list")
            page = get(client, list_url).content.decode()
            if f"{total:,}".replace(",", "") not in page.replace(",", ""):
                raise SystemExit(f"bench: the case list does not show the count {total}")

            def list_page(i: int, c: Client = client, u: str = list_url) -> Any:
                return get(c, u)

            def floor_list_page(i: int, c: Client = client, u: str = floor_list_url) -> Any:
                return get(c, u)

            def detail_page(i: int, c: Client = client, ids: list[int] = ids) -> Any:
                return get(c, reverse("case-detail", args=[ids[i % len(ids)]]))

            def floor_detail_page(i: int, c: Client = client, ids: list[int] = ids) -> Any:
                return get(c, reverse("bench-floor-case-detail", args=[ids[i % len(ids)]]))

            same_page(list_page(0), floor_list_page(0), f"case list, {label}")
            same_page(detail_page(0), floor_detail_page(0), f"case detail, {label}")
            times, floor_times = alternate(list_page, floor_list_page, runs)
            results["http"].append(
                Result(
                    "case list p1",
                    label,
                    f"{total:,} cases",
                    times,
                    floor_times,
                    count_queries(list_page),
                    count_queries(floor_list_page),
                )
            )
            visible = len(
                case_access(user, Case.objects.get(pk=ids[0])).filter(
                    CaseNote.objects.filter(case_id=ids[0])
                )
            )
            all_notes = CaseNote.objects.filter(case_id=ids[0]).count()
            times, floor_times = alternate(detail_page, floor_detail_page, runs)
            results["http"].append(
                Result(
                    "case detail",
                    label,
                    f"{visible}/{all_notes} notes",
                    times,
                    floor_times,
                    count_queries(detail_page),
                    count_queries(floor_detail_page),
                )
            )

            # --- the bare SQL: the same reads, no HTTP and no templates ---------------
            def list_sql(i: int, u: Any = user) -> Any:
                page = Paginator(search_cases(u), CASES_PER_PAGE).page(1)
                return page.paginator.count, list(page.object_list)

            def floor_list_sql(i: int, t: list[int] = team_ids) -> Any:
                page = Paginator(floor.floor_cases(t), CASES_PER_PAGE).page(1)
                return page.paginator.count, list(page.object_list)

            def detail_sql(i: int, u: Any = user, ids: list[int] = ids) -> Any:
                case = get_visible_or_404(cases_for(u), u, pk=ids[i % len(ids)])
                access = case_access(u, case)
                return access.filter(CaseNote.objects.filter(case=case).select_related("author"))

            def floor_detail_sql(i: int, u: Any = user, ids: list[int] = ids) -> Any:
                case = Case.objects.select_related("supervisee", "team", "assigned_officer").get(
                    pk=ids[i % len(ids)]
                )
                access = floor.floor_access(u, case)
                return access.filter(CaseNote.objects.filter(case=case).select_related("author"))

            for journey, rows, step, floor_step in (
                ("list SQL", f"{total:,} cases", list_sql, floor_list_sql),
                ("detail SQL", f"{visible}/{all_notes} notes", detail_sql, floor_detail_sql),
            ):
                times, floor_times = alternate(step, floor_step, runs)
                results["sql"].append(
                    Result(
                        journey,
                        label,
                        rows,
                        times,
                        floor_times,
                        count_queries(step),
                        count_queries(floor_step),
                    )
                )
            print(f"  {label}: done", flush=True)
    return results


def report(results: dict[str, list[Result]], runs: int) -> bool:
    missed = False
    titles = {
        "http": (
            "Whole stack (django.test.Client: middleware, session, view, template; the app's "
            "view records an audit event, the floor does not)"
        ),
        "sql": (
            "Bare reads, no HTTP or template (list = count + page 1; detail = the case "
            "through get_visible_or_404(cases_for()) + case_access + notes; floor = the same "
            "rows by team ids / by key, notes judged in memory)"
        ),
    }
    header = (
        f"{'journey':<13} {'user':<11} {'rows':>14} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'floor p50':>9} {'floor p95':>9} {'ratio':>6} {'queries':>9}  budget"
    )
    for kind, title in titles.items():
        print(f"\n{title}; {runs} runs each\n{header}\n{'-' * len(header)}")
        for r in results[kind]:
            p50, p95 = percentile(r.times, 50), percentile(r.times, 95)
            f50, f95 = percentile(r.floor_times, 50), percentile(r.floor_times, 95)
            ratio = p95 / f95 if f95 else float("inf")
            within = ratio <= BUDGET
            verdict = "BUDGET OK" if within else "BUDGET MISSED"
            if kind == "http":
                missed = missed or not within
            else:
                verdict = f"({verdict.lower()})"
            print(
                f"{r.journey:<13} {r.user:<11} {r.rows:>14} {p50:8.1f} {p95:8.1f} "
                f"{f50:9.1f} {f95:9.1f} {ratio:5.2f}x {r.queries:>4}/{r.floor_queries:<4}  "
                f"{verdict}"
            )
    print(
        f"\nratio = p95 / floor p95; budget {BUDGET}x on the whole-stack lines. "
        "queries = app/floor SQL statements per request (incl. session, user, navigation, "
        "audit insert). Floor: bench/floor.py, same URLconf, middleware and templates, "
        "cases of the user's teams from a precomputed id list, all notes of the case. "
        f"Spread (stdev) of the app's runs: {_spread(results)}."
    )
    return missed


def _spread(results: dict[str, list[Result]]) -> str:
    return ", ".join(
        f"{r.journey.split()[1] if ' ' in r.journey else r.journey}/{r.user}="
        f"{statistics.pstdev(r.times):.1f}ms"
        for r in results["http"]
    )


def explain(people: Population) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the supervisor's restricted list queries."""
    from django.core.paginator import Paginator
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from casework.selectors import search_cases
    from casework.views import CASES_PER_PAGE
    from teams.models import User

    supervisor = User.objects.get(pk=people.supervisor_id)
    with CaptureQueriesContext(connection) as captured:
        page = Paginator(search_cases(supervisor), CASES_PER_PAGE).page(1)
        list(page.object_list)
    for query in captured.captured_queries:
        sql = query["sql"]
        if sql.startswith("SELECT COUNT(*)"):
            name = "count"
        elif 'FROM "casework_case"' in sql and " LIMIT " in sql:
            name = "page 1"
        else:
            print(f"\n(The list also ran: {sql[:160]}{' ...' if len(sql) > 160 else ''})")
            continue
        explain_query(query["sql"], f"supervisor's case list, {name} query")


if __name__ == "__main__":
    sys.exit(main())
