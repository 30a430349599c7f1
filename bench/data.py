"""Bulk data for bench/permissions.py: teams with their role groups and grants, people,
memberships, supervisees, cases and notes, written with PostgreSQL COPY.

Rows are written as the app would leave them (the same group names, grants and group
rows that `apply_team_policy` and the membership signal create), but without signals,
audit events or password hashing. Ids are explicit and the sequences are moved past
them at the end, so the app can insert afterwards.

Layout, at scale 1:
- 500 teams; per team 5 role groups holding `policy.role_codenames(role)` on the team;
- per team 8 officers (each on that team only), 1 victim representative, 1 treatment
  provider, 1 polygraph examiner (those three from pools, so each is on 1-2 teams) and
  1 supervisor; a supervisor covers 50 consecutive teams (10 supervisors);
- 5,000 users; 200 cases per team (100,000), each with its own supervisee; cases are
  dealt round-robin to teams, so one team's cases are spread over the table as they
  would be after years of intake;
- 10 notes per case (1,000,000), written in rounds over all cases (a case's notes are
  spread over the table too); kinds and levels mixed, about 5% restricted.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models

from casework.models import Case, CaseNote, CaseStatus, RiskLevel, Supervisee, SupervisionLevel
from teams.disclosure.policy import CHOOSABLE, NOTE_KIND_INFO, DisclosureLevel, role_codenames
from teams.models import Membership, Team, TeamGroupObjectPermission, TeamRoleGroup, User
from teams.roles import Role

ROLES: tuple[Role, ...] = tuple(Role)  # group id = team_index * len(ROLES) + role index + 1
OFFICERS_PER_TEAM = 8
CASES_PER_TEAM = 200
NOTES_PER_CASE = 10
SEED = 20250101
UNUSABLE_PASSWORD = "!bench-unusable-password"  # starts with "!": never matches a password

FIRST_NAMES = (  # noqa: SIM905
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy "
    "Anthony Betty Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell "
    "Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes "
    "Stewart"
).split()
SENTENCES = (
    "Reported as scheduled and answered every question.",
    "Home visit completed; no concerns at the address.",
    "Employment verified with the employer by phone.",
    "Attended group session and participated fully.",
    "Discussed travel request; more information needed.",
    "Curfew check completed without issues.",
    "Missed an appointment and rescheduled for next week.",
    "Treatment provider reports steady progress on goals.",
    "Examination completed; results consistent with disclosures.",
    "Reviewed conditions of supervision together.",
    "Safety plan updated after discussion with the team.",
    "Drug screen collected; result pending.",
)
CONDITIONS = (
    "No contact with the victim",
    "No unsupervised contact with minors",
    "Attend sex offense specific treatment",
    "Submit to polygraph examinations",
    "Curfew 21:00 to 06:00",
    "No internet use without approval",
    "Register as required by law",
    "Maintain employment",
)


@dataclass(frozen=True)
class Shape:
    teams: int
    users: int
    cases_per_team: int = CASES_PER_TEAM
    notes_per_case: int = NOTES_PER_CASE
    supervisor_teams: int = 50

    @classmethod
    def at(cls, scale: float) -> Shape:
        teams = max(2, round(500 * scale))
        supervisor_teams = max(1, round(teams / 10))
        supervisors = math.ceil(teams / supervisor_teams)
        # Officers, supervisors, and at least one person per other role.
        users = max(round(5000 * scale), teams * OFFICERS_PER_TEAM + supervisors + 3)
        return cls(teams=teams, users=users, supervisor_teams=supervisor_teams)

    @property
    def supervisors(self) -> int:
        return math.ceil(self.teams / self.supervisor_teams)

    @property
    def cases(self) -> int:
        return self.teams * self.cases_per_team

    @property
    def notes(self) -> int:
        return self.cases * self.notes_per_case


@dataclass
class Population:
    """Who the benchmark signs in as, and what they can see."""

    officer_id: int
    officer_team_ids: list[int]
    supervisor_id: int
    supervisor_team_ids: list[int]
    officer_case_ids: list[int] = field(default_factory=list)
    supervisor_case_ids: list[int] = field(default_factory=list)


def officer_id(shape: Shape, team_index: int, k: int) -> int:
    return team_index * OFFICERS_PER_TEAM + k + 1


def supervisor_id(shape: Shape, s: int) -> int:
    return shape.teams * OFFICERS_PER_TEAM + s + 1


def group_id(team_index: int, role: Role) -> int:
    return team_index * len(ROLES) + ROLES.index(role) + 1


def team_of_case(shape: Shape, case_id: int) -> int:
    """0-based team index of a case (cases are dealt round-robin)."""
    return (case_id - 1) % shape.teams


def note_id(shape: Shape, case_id: int, round_: int) -> int:
    """Id of a case's note of a round (notes are written in rounds over all cases)."""
    return round_ * shape.cases + case_id


def population(shape: Shape) -> Population:
    """The signed-in users and a sample of their cases (derived from the layout)."""
    officer_teams = [1]
    supervisor_teams = list(range(1, min(shape.teams, shape.supervisor_teams) + 1))
    # Ten cases of the officer's team; ten cases over the supervisor's teams.
    officer_cases = [1 + k * shape.teams for k in range(10)]
    step = max(1, len(supervisor_teams) // 10)
    supervisor_cases = [
        supervisor_teams[(k * step) % len(supervisor_teams)] + (k * 17 % 200) * shape.teams
        for k in range(10)
    ]
    return Population(
        officer_id=officer_id(shape, 0, 0),
        officer_team_ids=officer_teams,
        supervisor_id=supervisor_id(shape, 0),
        supervisor_team_ids=supervisor_teams,
        officer_case_ids=officer_cases,
        supervisor_case_ids=supervisor_cases,
    )


def _esc(value: object) -> str:
    """A value in COPY text format."""
    if value is None:
        return r"\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "")


def _copy(model: type[models.Model], columns: tuple[str, ...], lines: Iterable[str]) -> int:
    """COPY lines ("a\\tb\\n") into the model's table, 100,000 rows per round trip."""
    known = {f.column for f in model._meta.concrete_fields}
    unknown = set(columns) - known
    if unknown:
        raise RuntimeError(f"{model._meta.label} has no columns {sorted(unknown)}")
    table = model._meta.db_table
    quoted = ", ".join(f'"{c}"' for c in columns)
    sql = f'COPY "{table}" ({quoted}) FROM STDIN'
    total = 0
    with connection.cursor() as cursor:
        raw: Any = cursor.cursor  # the psycopg2 cursor, for copy_expert

        def send(buffer: io.StringIO) -> None:
            buffer.seek(0)
            raw.copy_expert(sql, buffer)

        buffer = io.StringIO()
        rows = 0
        for line in lines:
            buffer.write(line)
            rows += 1
            if rows == 100_000:
                send(buffer)
                total += rows
                buffer, rows = io.StringIO(), 0
        if rows:
            send(buffer)
            total += rows
    return total


def _reset_sequences(models_: Iterable[type[models.Model]]) -> None:
    with connection.cursor() as cursor:
        for model in models_:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'COALESCE((SELECT MAX(id) FROM "{table}"), 1))'
            )


class Timer:
    def __init__(self) -> None:
        self.parts: list[tuple[str, float, str]] = []

    def run(self, label: str, step: Callable[[], str]) -> None:
        started = time.perf_counter()
        detail = step()
        seconds = time.perf_counter() - started
        self.parts.append((label, seconds, detail))
        print(f"  {label:<34} {seconds:7.1f} s  {detail}", flush=True)

    @property
    def total(self) -> float:
        return sum(seconds for _, seconds, _ in self.parts)


def load(shape: Shape) -> Timer:
    """Write the whole data set; prints and returns the time of each part."""
    rng = random.Random(SEED)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = now.isoformat()
    timer = Timer()
    timer.run("teams, role groups, grants", lambda: _teams(shape, stamp))
    timer.run("users", lambda: _users(shape, stamp))
    timer.run("memberships, group rows", lambda: _memberships(shape, stamp))
    timer.run("supervisees", lambda: _supervisees(shape, rng, stamp))
    timer.run("cases", lambda: _cases(shape, rng, stamp))
    timer.run("notes", lambda: _notes(shape, rng, now))
    timer.run("sequences, VACUUM ANALYZE", _finish)
    return timer


def _teams(shape: Shape, stamp: str) -> str:
    team_ct = ContentType.objects.get_for_model(Team)
    wanted = {role: role_codenames(role) for role in ROLES}
    perms = dict(
        Permission.objects.filter(
            content_type=team_ct, codename__in=set().union(*wanted.values())
        ).values_list("codename", "id")
    )
    missing = set().union(*wanted.values()) - set(perms)
    if missing:
        raise RuntimeError(f"Permissions missing; has migrate run? {sorted(missing)}")
    role_perm_ids = {role: sorted(perms[code] for code in codes) for role, codes in wanted.items()}
    n = _copy(
        Team,
        ("id", "name", "office", "jurisdiction", "created_at"),
        (
            f"{t + 1}\tBench team {t + 1:04d}\tOffice {t % 37 + 1}\tCounty {t % 61 + 1}\t{stamp}\n"
            for t in range(shape.teams)
        ),
    )
    _copy(
        Group,
        ("id", "name"),
        (
            f"{group_id(t, role)}\tteam-{t + 1}-{role.value}\n"
            for t in range(shape.teams)
            for role in ROLES
        ),
    )
    _copy(
        TeamRoleGroup,
        ("id", "team_id", "role", "group_id"),
        (
            f"{group_id(t, role)}\t{t + 1}\t{role.value}\t{group_id(t, role)}\n"
            for t in range(shape.teams)
            for role in ROLES
        ),
    )

    def grants() -> Iterator[str]:
        pk = 0
        for t in range(shape.teams):
            for role in ROLES:
                for perm_id in role_perm_ids[role]:
                    pk += 1
                    yield f"{pk}\t{group_id(t, role)}\t{perm_id}\t{t + 1}\n"

    g = _copy(
        TeamGroupObjectPermission,
        ("id", "group_id", "permission_id", "content_object_id"),
        grants(),
    )
    return f"{n:,} teams, {n * len(ROLES):,} groups, {g:,} grants"


def _others(shape: Shape) -> dict[Role, list[int]]:
    """Victim representatives, treatment providers and polygraph examiners: the users left
    after officers and supervisors, in three pools."""
    first = shape.teams * OFFICERS_PER_TEAM + shape.supervisors + 1
    ids = list(range(first, shape.users + 1))
    roles = (Role.VICTIM_REP, Role.TREATMENT, Role.POLYGRAPH)
    return {role: ids[i :: len(roles)] for i, role in enumerate(roles)}


def _users(shape: Shape, stamp: str) -> str:
    others = _others(shape)
    kind: dict[int, str] = {}
    for role, ids in others.items():
        for pk in ids:
            kind[pk] = role.value

    def lines() -> Iterator[str]:
        for pk in range(1, shape.users + 1):
            if pk <= shape.teams * OFFICERS_PER_TEAM:
                t, k = divmod(pk - 1, OFFICERS_PER_TEAM)
                username, title = f"officer-{t + 1:04d}-{k + 1}", "Probation officer"
            elif pk <= shape.teams * OFFICERS_PER_TEAM + shape.supervisors:
                s = pk - shape.teams * OFFICERS_PER_TEAM
                username, title = f"supervisor-{s:03d}", "Supervisor"
            else:
                username, title = f"{kind[pk]}-{pk:05d}", kind[pk].replace("_", " ").title()
            first = FIRST_NAMES[pk % len(FIRST_NAMES)]
            last = LAST_NAMES[(pk * 7) % len(LAST_NAMES)]
            yield (
                f"{pk}\t{UNUSABLE_PASSWORD}\t\\N\tf\t{username}\t{first}\t{last}\t"
                f"{username}@bench.invalid\tf\tt\t{stamp}\t{title}\t\n"
            )

    n = _copy(
        User,
        (
            "id",
            "password",
            "last_login",
            "is_superuser",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_staff",
            "is_active",
            "date_joined",
            "job_title",
            "phone",
        ),
        lines(),
    )
    return f"{n:,} users"


def _membership_rows(shape: Shape) -> Iterator[tuple[int, int, Role]]:
    """(user id, 0-based team index, role) of every membership."""
    for t in range(shape.teams):
        for k in range(OFFICERS_PER_TEAM):
            yield officer_id(shape, t, k), t, Role.OFFICER
        yield supervisor_id(shape, t // shape.supervisor_teams), t, Role.SUPERVISOR
    for role, ids in _others(shape).items():
        for t in range(shape.teams):
            yield ids[t % len(ids)], t, role


def _memberships(shape: Shape, stamp: str) -> str:
    rows = list(_membership_rows(shape))
    n = _copy(
        Membership,
        ("id", "user_id", "team_id", "role", "active_from", "active_to", "created_at"),
        (
            f"{i}\t{user}\t{t + 1}\t{role.value}\t2020-01-01\t\\N\t{stamp}\n"
            for i, (user, t, role) in enumerate(rows, start=1)
        ),
    )
    # What sync_membership_groups does for each active membership.
    user_groups = User.groups.through
    _copy(
        user_groups,
        ("id", "user_id", "group_id"),
        (f"{i}\t{user}\t{group_id(t, role)}\n" for i, (user, t, role) in enumerate(rows, start=1)),
    )
    return f"{n:,} memberships and group rows"


def _supervisees(shape: Shape, rng: random.Random, stamp: str) -> str:
    risks = RiskLevel.values
    levels = SupervisionLevel.values

    def lines() -> Iterator[str]:
        for pk in range(1, shape.cases + 1):
            born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 50))
            yield (
                f"{pk}\t{rng.choice(FIRST_NAMES)}\t{rng.choice(LAST_NAMES)}\t{born}\t"
                f"DKT-{pk:08d}\t{rng.choice(risks)}\t{rng.choice(levels)}\t{stamp}\t{stamp}\n"
            )

    n = _copy(
        Supervisee,
        (
            "id",
            "first_name",
            "last_name",
            "date_of_birth",
            "docket_number",
            "risk_level",
            "supervision_level",
            "created_at",
            "updated_at",
        ),
        lines(),
    )
    return f"{n:,} supervisees"


def _cases(shape: Shape, rng: random.Random, stamp: str) -> str:
    statuses = [
        (CaseStatus.ACTIVE, 70),
        (CaseStatus.SUSPENDED, 5),
        (CaseStatus.ABSCONDED, 3),
        (CaseStatus.WARRANT, 2),
        (CaseStatus.CLOSED, 20),
    ]
    values = [status.value for status, _ in statuses]
    weights = [weight for _, weight in statuses]
    today = dt.date.today()

    def lines() -> Iterator[str]:
        for pk in range(1, shape.cases + 1):
            t = team_of_case(shape, pk)
            officer = officer_id(shape, t, ((pk - 1) // shape.teams) % OFFICERS_PER_TEAM)
            status = rng.choices(values, weights)[0]
            start = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3650))
            end = start + dt.timedelta(days=rng.randrange(30, 2000)) if status == "closed" else None
            review = today + dt.timedelta(days=rng.randrange(-30, 180)) if not end else None
            conditions = "\n".join(rng.sample(CONDITIONS, rng.randrange(2, 5)))
            yield (
                f"{pk}\tCASE-{pk:07d}\t{pk}\t{t + 1}\t{officer}\t{status}\t{start}\t{_esc(end)}\t"
                f"{_esc(conditions)}\t{_esc(review)}\t{stamp}\t{stamp}\n"
            )

    n = _copy(
        Case,
        (
            "id",
            "reference",
            "supervisee_id",
            "team_id",
            "assigned_officer_id",
            "status",
            "supervision_start",
            "supervision_end",
            "conditions",
            "next_review_due",
            "created_at",
            "updated_at",
        ),
        lines(),
    )
    return f"{n:,} cases"


def _notes(shape: Shape, rng: random.Random, now: dt.datetime) -> str:
    others = _others(shape)
    kinds = [("supervision", 50), ("general", 20), ("treatment", 20), ("polygraph", 10)]
    kind_values = [kind for kind, _ in kinds]
    kind_weights = [weight for _, weight in kinds]
    author_role = {
        "supervision": Role.OFFICER,
        "general": Role.OFFICER,
        "treatment": Role.TREATMENT,
        "polygraph": Role.POLYGRAPH,
    }
    # Levels the author may choose, restricted about 5% of the time.
    choosable = {
        kind: [
            level
            for level in CHOOSABLE[(NOTE_KIND_INFO[kind], author_role[kind])]
            if level != DisclosureLevel.RESTRICTED
        ]
        for kind in kind_values
    }
    start = now - dt.timedelta(seconds=shape.notes * 60)

    def lines() -> Iterator[str]:
        pk = 0
        for round_ in range(shape.notes_per_case):
            kinds_drawn = rng.choices(kind_values, kind_weights, k=shape.cases)
            for index, kind in enumerate(kinds_drawn):
                case_id = index + 1
                pk += 1
                t = team_of_case(shape, case_id)
                role = author_role[kind]
                if role is Role.OFFICER:
                    author = officer_id(shape, t, (case_id + round_) % OFFICERS_PER_TEAM)
                else:
                    pool = others[role]
                    author = pool[t % len(pool)]
                if rng.random() < 0.05:
                    level = DisclosureLevel.RESTRICTED.value
                else:
                    level = str(rng.choice(choosable[kind]))
                body = f"{SENTENCES[pk % len(SENTENCES)]} {SENTENCES[(pk * 7) % len(SENTENCES)]}"
                created = (start + dt.timedelta(seconds=pk * 60)).isoformat()
                yield f"{pk}\t{case_id}\t{author}\t{kind}\t{body}\t{level}\t{created}\t{created}\n"

    n = _copy(
        CaseNote,
        (
            "id",
            "case_id",
            "author_id",
            "kind",
            "body",
            "disclosure_level",
            "created_at",
            "updated_at",
        ),
        lines(),
    )
    return f"{n:,} notes"


LOADED: tuple[type[models.Model], ...] = (
    Team,
    Group,
    TeamRoleGroup,
    TeamGroupObjectPermission,
    User,
    Membership,
    User.groups.through,
    Supervisee,
    Case,
    CaseNote,
)


def _finish() -> str:
    _reset_sequences(LOADED)
    with connection.cursor() as cursor:
        for model in LOADED:
            cursor.execute(f'VACUUM (ANALYZE) "{model._meta.db_table}"')
    return f"{len(LOADED)} tables"
