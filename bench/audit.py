#!/usr/bin/env python3
"""What the audit trail costs, on PostgreSQL: a case detail with auditing on and off, the
supervisor's filtered review page over millions of events, and verify_audit's throughput.

    .venv/bin/python bench/audit.py [--scale 1] [--runs 30] [--keep] [--strict]

Starts a throwaway PostgreSQL cluster (scripts/run_tests.py's) unless DATABASE_URL is
set, migrates, bulk-loads the people, teams, cases and notes of bench/data.py and then
5,000,000 audit events spread over two years (at --scale 1; times printed per part). The
events are chained here in Python with audit.chain's canonical form while the chain
trigger is off for the loading session, and COPYed in; then the positions of each day
(audit_auditday), which the trigger would have kept, are filled in with one INSERT ...
SELECT. Then it measures, through the
whole Django stack (test Client, middleware, session, templates):

1. an officer's case detail with auditing on, alternating with the same request with
   auditing off (AuditSwitchMiddleware below). Budget: p95 at most 1.2x the p95 off;
2. the supervisor's review page /audit/ filtered by a case, by a person, and by an action
   and a date range, with SQL statements per request and EXPLAIN (ANALYZE, BUFFERS) of each
   page query. Budget: p95 under 100 ms;
3. audit.verify.verify() over the whole chain, in events per second (no budget).

With DATABASE_URL set, the database is migrated and loaded unless it already holds this
benchmark's data (a cluster kept with --keep), in which case loading is skipped.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import functools
import gc
import itertools
import json
import multiprocessing
import os
import queue
import random
import re
import sys
import time
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, Python puts bench/ first on sys.path, where this file would stand in
# for the audit app: take that entry out, and put the project first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.measure import (  # noqa: E402
    WARMUP,
    alternate,
    captured_queries,
    explain,
    get,
    page_storages,
    percentile,
    persistent_connection,
    repeat,
    same_page,
    seq_scans,
)
from bench.measure import main as run_main  # noqa: E402
from bench.measure import parse_args as common_args  # noqa: E402

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from bench.data import Population, Shape

EVENTS = 5_000_000  # at --scale 1
SPAN_DAYS = 730
DETAIL_BUDGET = 1.2  # case detail p95, auditing on / off
REVIEW_BUDGET_MS = 100.0  # review page p95
EXPLAIN_LINES = 45
SLOWEST = 4  # statements shown for a page over budget
CHUNK = 100_000  # events per COPY
SEED = 20250315
APP_MIDDLEWARE = "audit.middleware.RequestContextMiddleware"
SWITCH_MIDDLEWARE = "bench.audit.AuditSwitchMiddleware"
SWITCH_HEADER = "X-Bench-Audit"  # "off": this request is served with auditing off


# --- Auditing off, for one request -----------------------------------------------------


class AuditSwitchMiddleware:
    """Stands in for audit.middleware.RequestContextMiddleware, at its place in
    MIDDLEWARE, while the benchmark runs. A request is passed to the app's middleware
    unchanged, unless it carries `X-Bench-Audit: off`: then it gets a request context
    whose buffer is dropped at the end. Everything the audit does for a request is then
    skipped: binding the session for the write-capture triggers (one query), the insert
    of the buffered events with the chain trigger, and the emergency-access lookup. The
    view still builds its event object (microseconds), which is then dropped. The URL,
    view, other middleware, session, template and data are the same."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from audit.middleware import RequestContextMiddleware

        self.get_response = get_response
        self.audited = RequestContextMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.headers.get(SWITCH_HEADER) != "off":
            return self.audited(request)
        from audit.context import RequestContext, current

        token = current.set(RequestContext(buffer=[]))
        try:
            return self.get_response(request)
        finally:
            current.reset(token)


# --- The events ------------------------------------------------------------------------


def event_count(scale: float) -> int:
    return max(2_000, round(EVENTS * scale))


def jsonb_text(value: Any) -> str:
    """The text PostgreSQL gives for a jsonb value (`detail::text`), which the chain
    hashes: object keys shortest first, then bytewise; ", " and ": " between items."""
    if isinstance(value, str):
        plain = value.isascii() and value.isprintable() and '"' not in value and "\\" not in value
        return f'"{value}"' if plain else json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return "true" if value else "false" if value is not None else "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: (len(item[0].encode()), item[0].encode()))
        return "{" + ", ".join(f"{jsonb_text(k)}: {jsonb_text(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(jsonb_text(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


class Row(NamedTuple):
    """One event as audit.chain hashes it (all of CHAINED_FIELDS but seq); `detail` is
    the jsonb text."""

    occurred_at: dt.datetime
    actor_id: int | None
    actor_username: str
    action: str
    target_type: str
    target_id: str
    case_id: int | None
    victim_id: int | None
    outcome: str
    ip_address: str
    user_agent: str
    request_id: str
    emergency: bool
    detail: str


COLUMNS = ("id", "seq", *Row._fields, "prev_hash", "hash")
NULL = "\\N"


def copy_line(pk: int, seq: int, row: Row, prev_hash: str, hash_: str) -> str:
    """A row in COPY text format. Only the detail can hold a character COPY escapes: the
    other text fields come from the bench's own constants and usernames."""
    from bench.data import _esc

    return (
        f"{pk}\t{seq}\t{row.occurred_at.isoformat()}\t"
        f"{NULL if row.actor_id is None else row.actor_id}\t{row.actor_username}\t"
        f"{row.action}\t{row.target_type}\t{row.target_id}\t"
        f"{NULL if row.case_id is None else row.case_id}\t"
        f"{NULL if row.victim_id is None else row.victim_id}\t{row.outcome}\t"
        f"{row.ip_address}\t{row.user_agent}\t{row.request_id}\t"
        f"{'t' if row.emergency else 'f'}\t{_esc(row.detail)}\t{prev_hash}\t{hash_}"
    )


# The order of audit.chain.CHAINED_FIELDS that chained() builds its canonical text in.
CANONICAL_ORDER = ("seq", *Row._fields)
CHECK_EVERY = 1_000


def chained(
    rows: Iterator[Row],
    first_id: int,
    head_seq: int,
    head_hash: str,
    check_every: int = CHECK_EVERY,
) -> Iterator[str]:
    """The COPY line of each row, chained after (head_seq, head_hash) exactly as the
    database trigger would chain them. The canonical text is audit.chain's (its fields,
    order and separator), written out here because chain.event_hash's field-by-field
    form costs as much as building the event; the first row and every `check_every`-th
    are hashed by chain.event_hash as well, and any difference stops the load (and
    verify() checks every row afterwards)."""
    import hashlib

    from audit import chain

    if tuple(chain.CHAINED_FIELDS) != CANONICAL_ORDER:
        raise SystemExit("bench: audit.chain.CHAINED_FIELDS changed; update bench/audit.py")
    join = chain.SEPARATOR.join
    micros = chain.micros
    prev = head_hash
    for offset, row in enumerate(rows):
        seq = head_seq + offset + 1
        text = join(
            (
                str(seq),
                str(micros(row.occurred_at)),
                "" if row.actor_id is None else str(row.actor_id),
                row.actor_username,
                row.action,
                row.target_type,
                row.target_id,
                "" if row.case_id is None else str(row.case_id),
                "" if row.victim_id is None else str(row.victim_id),
                row.outcome,
                row.ip_address,
                row.user_agent,
                row.request_id,
                "t" if row.emergency else "f",
                row.detail,
                prev,
            )
        )
        hash_ = hashlib.sha256(text.encode()).hexdigest()
        if (
            offset % check_every == 0
            and chain.event_hash({**row._asdict(), "seq": seq}, prev) != hash_
        ):
            raise SystemExit(f"bench: event #{seq} hashes differently from audit.chain's form")
        yield copy_line(first_id + offset, seq, row, prev, hash_) + "\n"
        prev = hash_


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    role: str
    team_ids: tuple[int, ...]
    ip_address: str
    user_agent: str


USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "mdt-casework-sync/1.4 (API token)",
)
NOTE_FIELDS = ("author_id", "body", "case_id", "created_at", "disclosure_level", "id", "kind")
NOTE_KINDS = {
    "officer": ("supervision", "general"),
    "supervisor": ("supervision", "general"),
    "victim_rep": ("general",),
    "treatment": ("treatment",),
    "polygraph": ("polygraph",),
}
LEVELS = ("team", "supervision", "supervision_and_victim_services", "restricted")
SHOWN = (("name",), ("name", "contact"), ("name", "address", "contact"), ("address",))
CATEGORIES = (("contact",), ("contact", "address"), ("name", "contact", "employer"))


@dataclass
class World:
    """Who acts on what: the loaded people, their teams and the teams' cases."""

    shape: Shape
    people: dict[str, list[Person]]
    cases_by_team: dict[int, list[int]]
    case_ids: list[int]

    @classmethod
    def from_database(cls, shape: Shape) -> World:
        from casework.models import Case
        from teams.models import Membership, User

        names = dict(User.objects.values_list("id", "username"))
        roles: dict[int, str] = {}
        teams: dict[int, list[int]] = {}
        for user_id, team_id, role in Membership.objects.order_by("id").values_list(
            "user_id", "team_id", "role"
        ):
            roles.setdefault(user_id, role)
            teams.setdefault(user_id, []).append(team_id)
        people: dict[str, list[Person]] = {}
        for user_id, role in sorted(roles.items()):
            ip = f"10.{user_id // 250 % 250 + 1}.{user_id % 250 + 1}.{user_id * 7 % 250 + 1}"
            agent = USER_AGENTS[user_id % len(USER_AGENTS)]
            people.setdefault(role, []).append(
                Person(user_id, names[user_id], role, tuple(teams[user_id]), ip, agent)
            )
        cases_by_team: dict[int, list[int]] = {}
        case_ids: list[int] = []
        for case_id, team_id in Case.objects.order_by("id").values_list("id", "team_id"):
            cases_by_team.setdefault(team_id, []).append(case_id)
            case_ids.append(case_id)
        return cls(shape, people, cases_by_team, case_ids)


class Draft(NamedTuple):
    """What an event says, before who, when, where from and which request are added."""

    action: str
    target_type: str
    target_id: str
    case_id: int | None = None
    victim_id: int | None = None
    outcome: str = "allowed"
    detail: str = "{}"
    emergency: bool = False


Kind = Callable[["Maker", Person | None, int], list[Draft]]
Changes = tuple[tuple[str, Any, Any], ...]  # (field, old, new)

# The details that recur, written once each (jsonb_text is a third of building an event).


@functools.cache
def write_detail(fields: tuple[str, ...], values: Changes) -> str:
    """What the write-capture trigger writes: the fields changed, the kept values."""
    kept = {field: {"new": new, "old": old} for field, old, new in values}
    return jsonb_text({"fields": list(fields), "source": "database", "values": kept})


@functools.cache
def note_detail(kind: str, level: str) -> str:
    fields = ["case", "kind", "body", "disclosure_level"]
    return jsonb_text({"fields": fields, "kind": kind, "disclosure_level": level})


@functools.cache
def level_detail(old: str, new: str) -> str:
    widened = new == "team"
    return jsonb_text({"field": "disclosure_level", "old": old, "new": new, "widened": widened})


class Maker:
    """Draws realistic events: who acts (officers most), what they do (reads most),
    on which of their teams' cases, and when (working hours, weekdays)."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng

    # - helpers -
    def case_of(self, who: Person) -> int:
        team_cases = self.world.cases_by_team[self.rng.choice(who.team_ids)]
        return team_cases[self.rng.randrange(len(team_cases))]

    def note_of(self, case_id: int) -> int:
        from bench.data import note_id

        shape = self.world.shape
        return note_id(shape, case_id, self.rng.randrange(shape.notes_per_case))

    def db_write(
        self,
        action: str,
        target_type: str,
        target_id: str,
        case_id: int | None,
        fields: tuple[str, ...],
        values: Changes = (),
    ) -> Draft:
        """An event of a write-capture trigger (detail source "database")."""
        return Draft(action, target_type, target_id, case_id, detail=write_detail(fields, values))

    # - the kinds of event -
    def view_case(self, who: Person | None, position: int) -> list[Draft]:
        assert who is not None
        case = self.case_of(who)
        emergency = who.role == "supervisor" and self.rng.random() < 0.002
        return [Draft("view", "casework.case", str(case), case, emergency=emergency)]

    def view_note(self, who: Person | None, position: int) -> list[Draft]:
        assert who is not None
        case = self.case_of(who)
        return [Draft("view", "casework.casenote", str(self.note_of(case)), case)]

    def list_cases(self, who: Person | None, position: int) -> list[Draft]:
        assert who is not None
        team_cases = self.world.cases_by_team[self.rng.choice(who.team_ids)]
        first = self.rng.randrange(len(team_cases))  # a page of the list, 25 rows or fewer
        shown = team_cases[first : first + self.rng.choice((25, 25, 25, 10, 5))]
        detail = '{"ids": [' + ", ".join(f'"{pk}"' for pk in shown) + "]}"
        return [Draft("list", "casework.case", "", detail=detail)]

    def create_note(self, who: Person | None, position: int) -> list[Draft]:
        assert who is not None
        case = self.case_of(who)
        note = str(self.note_of(case))
        kind = self.rng.choice(NOTE_KINDS[who.role])
        level = self.rng.choice(LEVELS[:3]) if self.rng.random() > 0.05 else "restricted"
        values = (
            ("kind", None, kind),
            ("author_id", None, who.id),
            ("disclosure_level", None, level),
        )
        return [
            self.db_write("create", "casework.casenote", note, case, NOTE_FIELDS, values),
            Draft("create", "casework.casenote", note, case, detail=note_detail(kind, level)),
        ]

    def update_case(self, who: Person | None, position: int) -> list[Draft]:
        if who is None:  # a nightly task moves review dates
            case = self.rng.choice(self.world.case_ids)
            return [
                self.db_write(
                    "update",
                    "casework.case",
                    str(case),
                    case,
                    ("next_review_due", "updated_at"),
                )
            ]
        case = self.case_of(who)
        if self.rng.random() < 0.3:
            old, new = self.rng.sample(("active", "suspended", "warrant", "absconded"), 2)
            fields: tuple[str, ...] = ("status", "updated_at")
            values: Changes = (("status", old, new),)
        else:
            fields, values = ("conditions", "next_review_due", "updated_at"), ()
        return [self.db_write("update", "casework.case", str(case), case, fields, values)]

    def disclosure(self, who: Person | None, position: int) -> list[Draft]:
        assert who is not None
        case = self.case_of(who)
        victim = case * 2 - self.rng.randrange(2)  # two victims per case
        releases = [] if who.role == "victim_rep" else [self.rng.randrange(1, 50_000)]
        detail = {
            "shown": list(self.rng.choice(SHOWN)),
            "release": releases[0] if releases else None,
            "releases": releases,
        }
        return [
            Draft(
                "disclosure", "victims.victim", str(victim), case, victim, detail=jsonb_text(detail)
            )
        ]

    def denied(self, who: Person | None, position: int) -> list[Draft]:
        case = self.rng.choice(self.world.case_ids)  # most often outside their teams
        return [Draft("view", "casework.case", str(case), case, outcome="denied")]

    def login(self, who: Person | None, position: int) -> list[Draft]:
        assert who is not None
        return [
            self.db_write("update", "teams.user", str(who.id), None, ("last_login",)),
            Draft("login", "teams.user", str(who.id)),
        ]

    def logout(self, who: Person | None, position: int) -> list[Draft]:
        assert who is not None
        return [Draft("logout", "teams.user", str(who.id))]

    def level_change(self, who: Person | None, position: int) -> list[Draft]:
        assert who is not None
        case = self.case_of(who)
        note = str(self.note_of(case))
        old, new = self.rng.sample(LEVELS, 2)
        values: Changes = (("disclosure_level", old, new),)
        return [
            self.db_write(
                "update",
                "casework.casenote",
                note,
                case,
                ("disclosure_level", "updated_at"),
                values,
            ),
            Draft("level_change", "casework.casenote", note, case, detail=level_detail(old, new)),
        ]

    def read_trail(self, who: Person | None, position: int) -> list[Draft]:
        assert who is not None
        filters: dict[str, Any] = {"case": self.case_of(who)}
        top = max(1, position - self.rng.randrange(1, 1_000))
        seqs = list(range(top, max(0, top - self.rng.randint(3, 50)), -1))
        detail = {"filters": filters, "seqs": seqs, "before": None}
        return [Draft("list", "audit.auditevent", "", detail=jsonb_text(detail))]

    def export(self, who: Person | None, position: int) -> list[Draft]:
        assert who is not None
        rows = self.rng.randint(10, 3_000)
        detail = {
            "filters": {"person": str(self.rng.choice(self.world.people["officer"]).id)},
            "rows": rows,
            "up_to_seq": position,
            "limit": 100_000,
            "reached_limit": False,
            "format": "csv",
        }
        return [Draft("export", "audit.auditevent", "", detail=jsonb_text(detail))]

    def emergency_access(self, who: Person | None, position: int) -> list[Draft]:
        case = self.rng.choice(self.world.case_ids)
        detail = {
            "reason": "Warrant executed overnight; need the case's conditions and contacts.",
            "expires_at": "2025-01-01T00:00:00+00:00",
        }
        access = str(self.rng.randrange(1, 5_000))
        draft = Draft(
            "emergency_access", "casework.emergencyaccess", access, case, detail=jsonb_text(detail)
        )
        return [draft]

    def release_change(self, who: Person | None, position: int) -> list[Draft]:
        case = self.case_of(who) if who is not None else self.rng.choice(self.world.case_ids)
        detail = {
            "change": "created" if who is not None else "expired",
            "victim": case * 2,
            "recipient": self.rng.choice(self.world.people["treatment"]).id,
            "categories": list(self.rng.choice(CATEGORIES)),
            "expires_on": "2026-06-30",
        }
        release = str(self.rng.randrange(1, 50_000))
        return [
            Draft("release_change", "victims.release", release, case, detail=jsonb_text(detail))
        ]

    def membership(self, who: Person | None, position: int) -> list[Draft]:
        assert who is not None
        member = self.rng.choice(self.world.people["officer"])
        detail = {
            "change": "changed",
            "user": member.id,
            "team": member.team_ids[0],
            "role": "officer",
            "active_from": "2020-01-01",
            "active_to": None,
        }
        target = str(self.rng.randrange(1, 7_000))
        return [Draft("membership_change", "teams.membership", target, detail=jsonb_text(detail))]

    def failed_login(self, who: Person | None, position: int) -> list[Draft]:
        return [Draft("login_failed", "", "", outcome="failed")]

    def verify(self, who: Person | None, position: int) -> list[Draft]:
        detail = {"checked": position, "first_bad_seq": None, "problem": ""}
        return [Draft("verify", "", "", detail=jsonb_text(detail))]


# Share of the events by role (None: no account: failed sign-ins, tasks), then what each
# role does. Reads dominate, as on any case-management system.
ROLE_SHARES: tuple[tuple[str | None, float], ...] = (
    ("officer", 68),
    ("supervisor", 8),
    ("victim_rep", 8),
    ("treatment", 8),
    ("polygraph", 5),
    (None, 3),
)
_COMMON: tuple[tuple[Kind, float], ...] = (
    (Maker.view_case, 40),
    (Maker.view_note, 6),
    (Maker.list_cases, 15),
    (Maker.create_note, 7),
    (Maker.update_case, 4),
    (Maker.denied, 1),
    (Maker.login, 6),
    (Maker.logout, 4),
    (Maker.level_change, 1),
)
ROLE_KINDS: dict[str | None, tuple[tuple[Kind, float], ...]] = {
    "officer": (*_COMMON, (Maker.disclosure, 3)),
    "supervisor": (
        *_COMMON,
        (Maker.disclosure, 3),
        (Maker.read_trail, 8),
        (Maker.export, 0.5),
        (Maker.emergency_access, 0.3),
        (Maker.membership, 1),
    ),
    "victim_rep": (
        (Maker.view_case, 30),
        (Maker.list_cases, 12),
        (Maker.disclosure, 25),
        (Maker.release_change, 3),
        (Maker.create_note, 4),
        (Maker.denied, 1),
        (Maker.login, 8),
        (Maker.logout, 5),
    ),
    "treatment": _COMMON,
    "polygraph": _COMMON,
    None: ((Maker.failed_login, 70), (Maker.update_case, 25), (Maker.verify, 1)),
}


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def hour_weight(moment: dt.datetime) -> float:
    """How busy an hour is (local time): working hours on weekdays."""
    busy = 10.0 if 8 <= moment.hour < 18 else 2.0 if 6 <= moment.hour < 21 else 0.2
    return busy if moment.weekday() < 5 else busy * 0.15


def moments(total: int, end: dt.datetime, rng: random.Random, zone: dt.tzinfo) -> Iterator[int]:
    """`total` increasing times (microseconds since the epoch) over the SPAN_DAYS before
    `end` (a whole hour, UTC), as many per hour as the hour is busy."""
    from audit.chain import micros

    hours = SPAN_DAYS * 24
    start = end - dt.timedelta(hours=hours)
    weights = [hour_weight((start + dt.timedelta(hours=h)).astimezone(zone)) for h in range(hours)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    short = total - sum(counts)
    for h in rng.sample(range(hours), short):  # the remainder, spread at random
        counts[h] += 1
    base = micros(start)
    for h, count in enumerate(counts):
        hour = base + h * 3_600_000_000
        yield from sorted(hour + rng.randrange(3_600_000_000) for _ in range(count))


def events(
    world: World, total: int, end: dt.datetime, zone: dt.tzinfo = dt.UTC, seed: int = SEED
) -> Iterator[Row]:
    """`total` events in time order over the SPAN_DAYS before `end` (busy hours in `zone`)."""
    from audit.chain import EPOCH

    rng = random.Random(seed)
    maker = Maker(world, rng)
    roles = [role for role, _ in ROLE_SHARES]
    role_cum = _cumulative([share for _, share in ROLE_SHARES])
    kinds = {
        role: ([kind for kind, _ in table], _cumulative([w for _, w in table]))
        for role, table in ROLE_KINDS.items()
    }
    usernames = [p.username for group in world.people.values() for p in group]
    times = moments(total, end, rng, zone)
    made = 0
    while made < total:
        role = roles[bisect.bisect(role_cum, rng.random() * role_cum[-1])]
        who = rng.choice(world.people[role]) if role is not None else None
        table, cum = kinds[role]
        kind = table[bisect.bisect(cum, rng.random() * cum[-1])]
        bits = f"{rng.getrandbits(128):032x}"
        request_id = f"{bits[:8]}-{bits[8:12]}-4{bits[13:16]}-{bits[16:20]}-{bits[20:]}"
        at = EPOCH + dt.timedelta(microseconds=next(times))
        for i, draft in enumerate(kind(maker, who, made)):
            if made >= total:
                break
            if i:  # the same request, a moment later; the slot is used up all the same
                next(times)
                at += dt.timedelta(microseconds=1_500)
            actor_id: int | None = None
            username = ip = agent = rid = ""
            if who is not None:
                actor_id, username, ip, agent = who.id, who.username, who.ip_address, who.user_agent
                rid = request_id
            elif draft.action == "login_failed":  # the username typed, a typo sometimes
                username = rng.choice(usernames)
                username = username if rng.random() < 0.7 else username[:-1]
                ip, agent, rid = f"198.51.100.{rng.randrange(1, 255)}", USER_AGENTS[0], request_id
            yield Row(
                at,
                actor_id,
                username,
                draft.action,
                draft.target_type,
                draft.target_id,
                draft.case_id,
                draft.victim_id,
                draft.outcome,
                ip,
                agent,
                rid,
                draft.emergency,
                draft.detail,
            )
            made += 1


# --- Loading ---------------------------------------------------------------------------


@contextmanager
def triggers_off() -> Iterator[None]:
    """No trigger fires for this connection's writes (the chain and write-capture
    triggers, foreign-key checks) until the block ends. Needs a superuser, as the bench
    cluster's is; nothing outlives the session if the load fails half-way."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET session_replication_role")


def chain_head() -> tuple[int, int, str]:
    """(largest id, seq, hash) where the chain goes on, as the trigger finds it."""
    from django.db.models import Max

    from audit import chain
    from audit.models import AuditEvent, ChainAnchor

    last_id = AuditEvent.objects.aggregate(n=Max("id"))["n"] or 0
    head: Any = AuditEvent.objects.exclude(seq=None).order_by("-seq").values("seq", "hash").first()
    if head is None:
        head = ChainAnchor.objects.order_by("-seq").values("seq", "hash").first()
    if head is None:
        return last_id, 0, chain.GENESIS
    return last_id, int(head["seq"]), str(head["hash"])


def load_events(shape: Shape, total: int) -> str:
    """Build, chain and COPY `total` events; the caller has turned the triggers off. The
    events are built and chained in a child process (forked, so it has the world and
    Django's state but never touches the database connection) while this one COPYs the
    previous chunk: Python on one core, PostgreSQL on the other."""
    from django.conf import settings
    from django.utils import timezone

    from audit.models import AuditEvent
    from bench.data import _copy

    world = World.from_database(shape)
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    last_id, seq, prev = chain_head()
    context = multiprocessing.get_context("fork")
    chunks: Any = context.Queue(maxsize=3)

    def produce() -> None:
        started = time.perf_counter()
        try:
            rows = chained(events(world, total, end, zone), last_id + 1, seq, prev)
            while lines := list(itertools.islice(rows, CHUNK)):
                chunks.put(("rows", len(lines), "".join(lines)))
            chunks.put(("done", 0, f"{time.perf_counter() - started:.1f}"))
        except BaseException as error:  # reported by the parent
            chunks.put(("error", 0, repr(error)))

    producer = context.Process(target=produce, name="bench-events", daemon=True)
    producer.start()
    copy = 0.0
    done = 0
    try:
        while True:
            try:
                kind, count, text = chunks.get(timeout=30)
            except queue.Empty:
                if producer.is_alive():
                    continue
                raise SystemExit("bench: the process building the events died") from None
            if kind == "error":
                raise SystemExit(f"bench: building the events failed: {text}")
            if kind == "done":
                build = text
                break
            started = time.perf_counter()
            _copy(AuditEvent, COLUMNS, [text])
            copy += time.perf_counter() - started
            done += count
    finally:
        producer.join(timeout=10)
        if producer.is_alive():
            producer.terminate()
    if done != total:
        raise SystemExit(f"bench: {done:,} events loaded, {total:,} expected")
    return (
        f"{done:,} events over {SPAN_DAYS} days to {end:%Y-%m-%d %H:00}; build + chain "
        f"{build} s, COPY {copy:.1f} s, at the same time"
    )


def secondary_indexes() -> list[tuple[str, str]]:
    """(name, definition) of the audit table's indexes that back no constraint: the
    primary key and the unique seq stay in place during the load, the others are built
    afterwards from their own definitions (a COPY into nine indexes is twice as slow)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'audit_auditevent' AND indexname NOT IN (SELECT conname FROM "
            "pg_constraint WHERE conrelid = 'audit_auditevent'::regclass) ORDER BY indexname"
        )
        return [(str(name), str(definition)) for name, definition in cursor.fetchall()]


def drop_indexes(indexes: list[tuple[str, str]]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')


def create_indexes(indexes: list[tuple[str, str]]) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute("RESET maintenance_work_mem")
    return ", ".join(name for name, _ in indexes)


# What the chain trigger keeps as it chains each event (audit.models.AuditDay), for the
# events loaded with the triggers off: each UTC day's smallest and largest position,
# merged into any day the table already holds.
DAYS_SQL = """
INSERT INTO audit_auditday (day, first_seq, last_seq)
SELECT (occurred_at AT TIME ZONE 'UTC')::date, min(seq), max(seq)
  FROM audit_auditevent WHERE seq IS NOT NULL GROUP BY 1
ON CONFLICT (day) DO UPDATE SET
  first_seq = LEAST(audit_auditday.first_seq, EXCLUDED.first_seq),
  last_seq = GREATEST(audit_auditday.last_seq, EXCLUDED.last_seq)
"""


def fill_days() -> str:
    """Fill audit_auditday for the loaded events, as the trigger would have (one INSERT
    ... SELECT over the trail)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(DAYS_SQL)
        cursor.execute('ANALYZE "audit_auditday"')
        cursor.execute("SELECT count(*) FROM audit_auditday")
        row = cursor.fetchone()
    return f"{row[0] if row else 0:,} days"


def finish_events() -> str:
    from django.db import connection

    from audit.models import AuditEvent
    from bench.data import _reset_sequences

    _reset_sequences([AuditEvent])
    with connection.cursor() as cursor:
        cursor.execute('VACUUM (ANALYZE) "audit_auditevent"')
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('audit_auditevent'))")
        row = cursor.fetchone()
    return f"table with its indexes: {row[0] if row else '?'}"


def load(shape: Shape, total: int) -> None:
    from audit.models import AuditEvent
    from bench import data
    from teams.models import Team

    if Team.objects.filter(name="Bench team 0001").exists():
        have = AuditEvent.objects.count()
        if have >= total:
            print(f"  database already holds the bench data ({have:,} events): load skipped")
            return
        raise SystemExit(
            "bench: the database holds bench teams but not this benchmark's events "
            "(a cluster of bench/permissions.py?); use an empty one"
        )
    if Team.objects.exists():
        raise SystemExit("bench: the database has teams that are not bench data; use an empty one")
    print(
        "  (triggers off for the loading session, session_replication_role = replica: the "
        "events are chained here, in Python)",
        flush=True,
    )
    with triggers_off():
        timer = data.load(shape)
        indexes = secondary_indexes()
        drop_indexes(indexes)
        try:
            timer.run("audit events: build, chain, COPY", lambda: load_events(shape, total))
        finally:
            timer.run("audit events: indexes rebuilt", lambda: create_indexes(indexes))
        timer.run("audit events: positions per day", fill_days)
        timer.run("audit events: sequence, VACUUM ANALYZE", finish_events)
    print(f"  {'load total':<34} {timer.total:7.1f} s", flush=True)


# --- Measuring -------------------------------------------------------------------------


@dataclass
class Line:
    what: str
    rows: str
    times: list[float]
    statements: list[dict[str, str]]  # of one request, with their times
    budgeted: bool = True
    sql: str = ""

    @property
    def queries(self) -> int:
        return len(self.statements)

    @property
    def sql_ms(self) -> float:
        return sum(float(query["time"]) for query in self.statements) * 1000


def head_seq() -> int:
    from audit.models import AuditEvent

    seq = AuditEvent.objects.exclude(seq=None).order_by("-seq").values_list("seq", flat=True)
    return int(seq.first() or 0)


def measure_detail(people: Population, runs: int) -> tuple[Line, Line]:
    """The officer's case detail, auditing on and off, in turn."""
    from django.test import Client
    from django.urls import reverse

    from casework.models import CaseNote
    from teams.models import User

    officer = User.objects.get(pk=people.officer_id)
    client = Client()
    client.force_login(officer)
    ids = people.officer_case_ids

    def on(i: int) -> Any:
        return get(client, reverse("case-detail", args=[ids[i % len(ids)]]))

    def off(i: int) -> Any:
        return get(
            client, reverse("case-detail", args=[ids[i % len(ids)]]), **{SWITCH_HEADER: "off"}
        )

    before = head_seq()
    first = on(0)
    written_on = head_seq() - before
    before = head_seq()
    same_page(first, off(0), "case detail, officer", "the page with auditing off")
    written_off = head_seq() - before
    print(
        f"  case detail: events written per request, auditing on {written_on}, off {written_off}",
        flush=True,
    )
    if written_on != 1 or written_off != 0:
        raise SystemExit("bench: auditing on should write 1 event per case detail, off none")
    times_on, times_off = alternate(on, off, runs)
    notes = CaseNote.objects.filter(case_id=ids[0]).count()
    return (
        Line("audit on", f"{notes} notes", times_on, captured_queries(on)),
        Line("audit off", f"{notes} notes", times_off, captured_queries(off)),
    )


def review_filters(shape: Shape, people: Population) -> list[tuple[str, dict[str, Any], bool]]:
    """(what, query string, budgeted) of the review pages measured."""
    from django.utils import timezone

    from audit.models import AuditEvent
    from bench.data import OFFICERS_PER_TEAM, officer_id
    from casework.models import Case
    from teams.models import User

    # A case of the supervisor's with a middling number of events (the sample's median).
    counts = sorted(
        (AuditEvent.objects.filter(case_id=pk).count(), pk) for pk in people.supervisor_case_ids
    )
    counts = [item for item in counts if item[0]] or counts
    case = counts[len(counts) // 2][1]
    if not counts[0][0]:  # a tiny scale: any of their teams' cases with an event
        theirs = Case.objects.filter(team_id__in=people.supervisor_team_ids).values("pk")
        found = AuditEvent.objects.filter(case_id__in=theirs).values_list("case_id", flat=True)
        case = found.first() or case
    team = people.supervisor_team_ids[-1] - 1  # 0-based index of a supervised team
    member = User.objects.get(pk=officer_id(shape, team, 2 % OFFICERS_PER_TEAM))
    today = timezone.localdate()
    month = (today - dt.timedelta(days=365)).replace(day=1)
    month_end = (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    week = today - dt.timedelta(days=180)
    return [
        ("case", {"case": case}, True),
        ("person", {"person": member.username}, True),
        (
            "action+month",
            {"action": "disclosure", "date_from": f"{month}", "date_to": f"{month_end}"},
            True,
        ),
        (
            "action+week",
            {"action": "update", "date_from": f"{week}", "date_to": f"{week + dt.timedelta(6)}"},
            True,
        ),
        ("no filter", {}, False),
    ]


def page_query(step: Callable[[int], object]) -> str:
    """The SQL of the page's main query (newest first, one page and one row)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit.review import PAGE_SIZE

    with CaptureQueriesContext(connection) as captured:
        step(0)
    for query in captured.captured_queries:
        sql = query["sql"]
        if (
            sql.startswith("SELECT")
            and 'FROM "audit_auditevent"' in sql
            and f"LIMIT {PAGE_SIZE + 1}" in sql
        ):
            return sql
    raise SystemExit("bench: the review page ran no page query")


def measure_review(shape: Shape, people: Population, runs: int) -> tuple[list[Line], int]:
    from django.test import Client
    from django.urls import reverse

    from audit.models import AuditEvent
    from audit.scopes import events_for
    from teams.models import User

    supervisor = User.objects.get(pk=people.supervisor_id)
    client = Client()
    client.force_login(supervisor)
    started = time.perf_counter()
    scoped = events_for(supervisor).count()
    total = AuditEvent.objects.count()
    print(
        f"  the supervisor ({len(people.supervisor_team_ids)} teams) may read {scoped:,} of "
        f"{total:,} events: their teams' cases, their members' actions and their own "
        f"(counted in {time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    lines: list[Line] = []
    for what, params, budgeted in review_filters(shape, people):
        url = reverse("audit-review") + ("?" + urlencode(params) if params else "")

        def page(i: int, u: str = url) -> Any:
            return get(client, u)

        shown = re.search(r"Showing (\d+) event", page(0).content.decode())
        matching = "?"
        if params:
            from audit.forms import AuditFilterForm

            form = AuditFilterForm(params, user=supervisor)
            if form.is_valid():
                matching = f"{form.apply(events_for(supervisor)).count():,}"
        times = repeat(page, runs)
        lines.append(
            Line(
                f"{what}: {urlencode(params) or '/audit/'}",
                f"{shown.group(1) if shown else 0} of {matching}",
                times,
                captured_queries(page),
                budgeted,
                page_query(page),
            )
        )
        print(f"  review page, {what}: done", flush=True)
    return lines, total


def measure_verify() -> tuple[bool, str]:
    from audit.verify import verify

    verdict = verify()
    if not verdict.ok:
        return False, (
            f"CHAIN BROKEN after {verdict.checked:,} events: {verdict.problem} "
            f"(seq {verdict.first_bad_seq}, id {verdict.first_bad_id})"
        )
    return True, (
        f"chain OK: {verdict.checked:,} events verified in {verdict.seconds:.1f} s = "
        f"{verdict.events_per_second:,.0f} events/s"
    )


# --- Reporting -------------------------------------------------------------------------


def print_lines(title: str, lines: list[Line], runs: int) -> None:
    header = (
        f"{'request':<62} {'rows':>16} {'p50 ms':>8} {'p95 ms':>8} {'queries':>7} {'SQL ms':>7}"
    )
    print(f"\n{title}; {WARMUP} warm-up + {runs} timed runs each\n{header}\n{'-' * len(header)}")
    for line in lines:
        p50, p95 = percentile(line.times, 50), percentile(line.times, 95)
        print(
            f"{line.what[:62]:<62} {line.rows:>16} {p50:8.1f} {p95:8.1f} {line.queries:>7} "
            f"{line.sql_ms:7.1f}"
        )


def run(args: argparse.Namespace) -> bool:
    """Migrate, load, measure, report. True when a budget was missed."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    from bench import data
    from bench.permissions import check_data

    print(f"PostgreSQL {persistent_connection()}; jit off (settings)", flush=True)
    shape = data.Shape.at(args.scale)
    total = event_count(args.scale)
    print(
        f"\nScale {args.scale:g}: {shape.teams:,} teams, {shape.users:,} users, "
        f"{shape.cases:,} cases, {shape.notes:,} notes, {total:,} audit events",
        flush=True,
    )
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"  {'migrate':<34} {time.perf_counter() - started:7.1f} s", flush=True)
    load(shape, total)
    check_data(shape)
    gc.collect()
    gc.freeze()  # the loader's garbage out of the way of the timed runs

    people = data.population(shape)
    if APP_MIDDLEWARE not in settings.MIDDLEWARE:
        raise SystemExit(f"bench: {APP_MIDDLEWARE} is not in MIDDLEWARE")
    middleware = [SWITCH_MIDDLEWARE if m == APP_MIDDLEWARE else m for m in settings.MIDDLEWARE]
    load_average = os.getloadavg()
    print(f"\nMeasuring: {WARMUP} warm-up + {args.runs} timed runs per page", flush=True)
    with override_settings(MIDDLEWARE=middleware, STORAGES=page_storages()):
        on, off = measure_detail(people, args.runs)
        review, events_total = measure_review(shape, people, args.runs)
    print(
        f"  machine load average (1 min) before/after measuring: {load_average[0]:.1f}/"
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        flush=True,
    )

    # 1. Case detail, auditing on / off.
    print_lines(
        "1. Case detail /cases/<id>/ as an officer, auditing on and off in turn "
        "(django.test.Client: middleware, session, view, template; queries and SQL ms: "
        "statements of one request and their time)",
        [on, off],
        args.runs,
    )
    ratio50 = percentile(on.times, 50) / percentile(off.times, 50)
    ratio95 = percentile(on.times, 95) / percentile(off.times, 95)
    detail_ok = ratio95 <= DETAIL_BUDGET
    print(
        f"ratio on/off: p50 {ratio50:.2f}x, p95 {ratio95:.2f}x (budget {DETAIL_BUDGET}x on p95)"
        f"  {'BUDGET OK' if detail_ok else 'BUDGET MISSED'}"
    )

    # 2. The review page.
    print_lines(
        f"2. Review page /audit/ as a supervisor, over {events_total:,} events "
        "(rows = shown of matching in scope; queries = SQL statements per request)",
        review,
        args.runs,
    )
    review_ok = True
    for line in review:
        p95 = percentile(line.times, 95)
        within = p95 < REVIEW_BUDGET_MS
        if line.budgeted:
            review_ok = review_ok and within
            verdict = "BUDGET OK" if within else "BUDGET MISSED"
        else:
            verdict = "(not budgeted)"
        print(f"  {line.what.split(':')[0]:<14} p95 {p95:7.1f} ms  {verdict}")
    print(
        f"(budget: p95 under {REVIEW_BUDGET_MS:.0f} ms; SQL ms = the time of the statements of "
        "one request, as the driver saw it)"
    )
    for line in review:
        if line.budgeted and percentile(line.times, 95) >= REVIEW_BUDGET_MS:
            print(f"  slowest statements of one request, {line.what.split(':')[0]}:")
            slowest = sorted(line.statements, key=lambda query: -float(query["time"]))
            for query in slowest[:SLOWEST]:
                sql = " ".join(query["sql"].split())
                print(f"    {float(query['time']) * 1000:7.1f} ms  {sql[:110]}")
    scans: dict[str, list[str]] = {}
    for line in review:
        plan = explain(line.sql, f"review page query, {line.what}", EXPLAIN_LINES)
        scans[line.what.split(":")[0]] = [
            table for table in seq_scans(plan) if table.startswith("audit_")
        ]

    # 3. verify_audit.
    print("\n3. verify_audit: audit.verify.verify() over the whole chain", flush=True)
    chain_ok, verdict_text = measure_verify()
    print(f"  {verdict_text}")
    if not chain_ok:
        raise SystemExit("bench: the loaded chain does not verify")

    print("\nSummary")
    print(
        f"  1. case detail, auditing on/off p95 {ratio95:.2f}x (p50 {ratio50:.2f}x), budget "
        f"{DETAIL_BUDGET}x: {'BUDGET OK' if detail_ok else 'BUDGET MISSED'}"
    )
    figures = ", ".join(
        f"{line.what.split(':')[0]} {percentile(line.times, 95):.1f}" for line in review
    )
    print(
        f"  2. review page p95 ms: {figures}; budget {REVIEW_BUDGET_MS:.0f} ms: "
        f"{'BUDGET OK' if review_ok else 'BUDGET MISSED'}"
    )
    flagged = {what: tables for what, tables in scans.items() if tables}
    if flagged:
        print(f"     sequential scans on the audit table: {flagged}")
    print(f"  3. verify_audit: {verdict_text}")
    return not (detail_ok and review_ok)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return common_args(__doc__, argv, "data size; 0.02 is a smoke run of a minute or two")


def main(argv: list[str] | None = None) -> int:
    return run_main(parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())
