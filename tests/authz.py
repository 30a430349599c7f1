"""What the authorization matrix and the canary tests share: the people (every role in
every relation to a case's team), a world of records at every disclosure level, the
expected visibility computed from the policy table (never written out by hand), and the
walk over Django's URL resolver that every route must be accounted for in.

Nothing here decides by role: each expectation is `teams.disclosure.policy` applied to
the record's kind and level, the reader's roles on the record's case, and the two
per-record exceptions the policy knows (the author, and a restricted record's named
members).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core import mail
from django.db import connection, models
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from casework import duty_to_warn
from casework.models import (
    AtRisk,
    Case,
    CaseDecision,
    CaseNote,
    DecisionKind,
    DutyToWarn,
    NoteKind,
    Supervisee,
    Urgency,
)
from teams.disclosure.grants import grant_case_access, set_named_members
from teams.disclosure.policy import (
    DECISION_STATUS_INFO,
    LEVELED,
    NOTE_KIND_INFO,
    RELEASE_FIELDS,
    DisclosureLevel,
    Info,
    ReleaseCategory,
    choosable_levels,
    codename,
    pseudonym_codename,
    role_codenames,
    write_codename,
)
from teams.models import Team, User
from teams.roles import Role
from tests import factories as f
from victims import services as victim_services
from victims.models import (
    CaseVictim,
    InputRequest,
    PlaceConflict,
    RelationshipCategory,
    Release,
    Victim,
    VictimInput,
    VictimLocation,
)

# --- People ----------------------------------------------------------------------------

# How a person stands to team A, whose case carries every kind of record:
#   member      an active member of team A in the role
#   other_team  an active member of team B (and nothing on team A) in the role
#   none        no active membership anywhere: a former member of team A in the role,
#               whose membership ended yesterday
#   guest       no membership, but invited to team A's main case alone in the role
#               (a per-case exception, `grant_case_access`)
RELATIONS: tuple[str, ...] = ("member", "other_team", "none", "guest")
ADMIN = "admin"  # the system administrator: staff, and a member of team A besides


@dataclass(frozen=True)
class PersonaSpec:
    """Known before the database exists, so that tests can be parametrized by it."""

    key: str
    role: Role | None
    relation: str


PERSONA_SPECS: tuple[PersonaSpec, ...] = (
    *(PersonaSpec(f"{role.value}-{rel}", role, rel) for role in Role for rel in RELATIONS),
    PersonaSpec(ADMIN, Role.SUPERVISOR, ADMIN),
)
PERSONA_KEYS: tuple[str, ...] = tuple(spec.key for spec in PERSONA_SPECS)


@dataclass(frozen=True)
class Persona:
    spec: PersonaSpec
    user: User
    team_ids: frozenset[int]  # active memberships
    guest_case_ids: frozenset[int]  # per-case exceptions

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def role(self) -> Role | None:
        return self.spec.role


# --- The world -------------------------------------------------------------------------

CANARY_TAG = "7f3a"


@dataclass(frozen=True)
class VictimCanary:
    """Unique marker strings in every locating field and in the name of one victim."""

    locating: dict[str, str]  # VictimLocation field -> marker
    first_name: str
    last_name: str

    @property
    def names(self) -> tuple[str, str]:
        return (self.first_name, self.last_name)


def make_canary(tag: str) -> VictimCanary:
    return VictimCanary(
        locating={
            "address_line1": f"CANARY-ADDR1-{tag}",
            "address_line2": f"CANARY-ADDR2-{tag}",
            "city": f"CANARY-CITY-{tag}",
            "postal_code": f"CNRY-ZIP-{tag}",
            "phone": f"CANARY-PHONE-{tag}",
            "email": f"canary-mail-{tag}@example.org",
            "employer": f"CANARY-EMPLOYER-{tag}",
            "school": f"CANARY-SCHOOL-{tag}",
        },
        first_name=f"Canaryfirst{tag}",
        last_name=f"Canarylast{tag}",
    )


Record = CaseNote | CaseDecision | VictimInput


@dataclass
class World:
    team_a: Team
    team_b: Team
    personas: dict[str, Persona]
    case_a: Case  # team A's case with every kind of record
    case_a2: Case  # a second case of team A, with nothing on it and no guest
    case_b: Case  # team B's case, with the same records written by team B
    notes: list[CaseNote]
    decisions: list[CaseDecision]
    inputs: list[VictimInput]
    victim_a: Victim
    victim_b: Victim
    links: list[CaseVictim]
    named: dict[tuple[str, int], frozenset[int]]
    markers: dict[tuple[str, int], str]  # record -> the unique text shown for it
    canaries: dict[int, VictimCanary]  # victim id -> its markers
    releases: list[Release] = field(default_factory=list)
    mails: list[Any] = field(default_factory=list)  # e-mail sent while building
    # On each team's case: a request for input on a decision, and a place conflict.
    input_requests: list[InputRequest] = field(default_factory=list)
    place_conflicts: list[PlaceConflict] = field(default_factory=list)
    # Duty-to-warn reports, each threat a record marker (see _report).
    reports: list[DutyToWarn] = field(default_factory=list)

    @property
    def teams(self) -> list[Team]:
        return [self.team_a, self.team_b]

    @property
    def cases(self) -> list[Case]:
        return [self.case_a, self.case_a2, self.case_b]

    @property
    def victims(self) -> list[Victim]:
        return [self.victim_a, self.victim_b]

    @property
    def supervisees(self) -> list[Supervisee]:
        return [case.supervisee for case in self.cases]

    @property
    def records(self) -> list[Record]:
        return [*self.notes, *self.decisions, *self.inputs]

    def on_case(self, records: list[Any], case: Case) -> list[Any]:
        return [record for record in records if record.case_id == case.pk]

    def marker(self, obj: models.Model) -> str:
        """The token that shows the record in a page or a response."""
        return self.markers[(obj._meta.label, int(obj.pk))].split(" ", 1)[0]

    def objects_of(self, model: type[models.Model]) -> list[Any]:
        by_model: dict[type[models.Model], list[Any]] = {
            Team: self.teams,
            Case: self.cases,
            Supervisee: self.supervisees,
            CaseNote: self.notes,
            CaseDecision: self.decisions,
            VictimInput: self.inputs,
            Victim: self.victims,
            CaseVictim: self.links,
            Release: self.releases,
            InputRequest: self.input_requests,
            PlaceConflict: self.place_conflicts,
            DutyToWarn: self.reports,
        }
        return by_model.get(model, [])

    def persona(self, role: Role, relation: str) -> Persona:
        return self.personas[f"{role.value}-{relation}"]


_marker_numbers = iter(range(1000, 10000))


def _record_marker(team: str, what: str, *parts: str) -> str:
    """A fixed-width token (no marker is a prefix of another) and a readable label."""
    label = "-".join([team, what, *(part for part in parts if part)])
    return f"REC{next(_marker_numbers)}Z {label}"


def _populate(
    team_label: str,
    case: Case,
    members: dict[Role, User],
    outsider: User,
    markers: dict[tuple[str, int], str],
    named: dict[tuple[str, int], frozenset[int]],
) -> tuple[list[CaseNote], list[CaseDecision], list[VictimInput]]:
    """One record of each kind at every level, written by the role that writes the kind;
    at `restricted`, one naming nobody and one naming a teammate who would not see it by
    role, and someone from the other team (who does not see the case at all)."""
    authors = {
        NoteKind.SUPERVISION: members[Role.OFFICER],
        NoteKind.GENERAL: members[Role.OFFICER],
        NoteKind.TREATMENT: members[Role.TREATMENT],
        NoteKind.POLYGRAPH: members[Role.POLYGRAPH],
    }
    restricted = str(DisclosureLevel.RESTRICTED)
    variants = [(str(level), False) for level in DisclosureLevel.values] + [(restricted, True)]

    def finish(obj: Any, text: str, with_names: bool, author_role: Role) -> None:
        markers[(obj._meta.label, obj.pk)] = text
        names: list[User] = []
        if with_names:
            teammate = Role.TREATMENT if author_role is Role.VICTIM_REP else Role.VICTIM_REP
            names = [members[teammate], outsider]
            set_named_members(obj, names, changed_by=obj.author)
        named[(obj._meta.label, obj.pk)] = frozenset(user.pk for user in names)

    notes = []
    for kind, author in authors.items():
        for level, with_names in variants:
            text = _record_marker(team_label, "note", kind, level, "named" * with_names)
            note = CaseNote.objects.create(
                case=case, author=author, kind=kind, body=text, disclosure_level=level
            )
            role = next(r for r, user in members.items() if user == author)
            finish(note, text, with_names, role)
            notes.append(note)
    decisions = []
    for status in ("draft", "final"):
        for level, with_names in variants:
            text = _record_marker(team_label, "decision", status, level, "named" * with_names)
            decision = CaseDecision.objects.create(
                case=case,
                author=members[Role.OFFICER],
                kind=DecisionKind.TRAVEL,
                status=status,
                summary=text,
                disclosure_level=level,
                finalised_at=timezone.now() if status == "final" else None,
            )
            finish(decision, text, with_names, Role.OFFICER)
            decisions.append(decision)
    inputs = []
    for level, with_names in variants:
        text = _record_marker(team_label, "input", level, "named" * with_names)
        item = VictimInput.objects.create(
            case=case, author=members[Role.VICTIM_REP], body=text, disclosure_level=level
        )
        finish(item, text, with_names, Role.VICTIM_REP)
        inputs.append(item)
    return notes, decisions, inputs


def _victim(canary: VictimCanary) -> Victim:
    victim = Victim.objects.create(
        first_name=canary.first_name,
        last_name=canary.last_name,
        relationship_category=RelationshipCategory.ACQUAINTANCE,
    )
    VictimLocation.objects.create(victim=victim, **canary.locating)
    return victim


def _request_and_conflict(
    team_label: str, case: Case, decision: CaseDecision, victim: Victim
) -> tuple[InputRequest, PlaceConflict]:
    """A request for the representatives' input on one of the case's decisions (its
    summary its own text: what the representatives are told, not the record's marker),
    and a place conflict the blind check found on it."""
    now = timezone.now()
    CaseDecision.objects.filter(pk=decision.pk).update(
        place_description=f"Travel destination {team_label}",
        place_postal_code="06120",
        place_check="possible_conflict",
        place_checked_at=now,
    )
    request = InputRequest.objects.create(
        case=case,
        decision=decision,
        kind_label=decision.get_kind_display(),
        summary=f"IRQ-{team_label}-request: weekend travel to a family event",
        requested_by=decision.author,
        due_at=now + dt.timedelta(days=5),
    )
    conflict = PlaceConflict.objects.create(
        case=case,
        decision=decision,
        victim=victim,
        matched_by=PlaceConflict.MatchedBy.RADIUS,
        distance_m=420,
        checked_by=decision.author,
        checked_at=now,
    )
    return request, conflict


def _report(
    team_label: str, case: Case, reporter: User, markers: dict[tuple[str, int], str]
) -> DutyToWarn:
    """A duty-to-warn report filed the way a team member files one (alerts and e-mails
    included); its threat is a record marker."""
    text = _record_marker(team_label, "duty-to-warn", str(reporter.username))
    report = duty_to_warn.file(reporter, case, AtRisk.VICTIM, text, Urgency.IMMEDIATE)
    markers[(report._meta.label, int(report.pk))] = text
    return report


def build_world() -> World:
    """Two teams; a person in every role and relation; records at every level."""
    mail.outbox = []
    team_a, team_b = f.make_team("Team A MDT"), f.make_team("Team B MDT")
    users: dict[str, User] = {}
    for spec in PERSONA_SPECS:
        users[spec.key] = f.make_user(
            spec.key.replace("_", "-"), is_staff=spec.relation == ADMIN, first_name=spec.key
        )
    team_a_members = {role: users[f"{role.value}-member"] for role in Role}
    team_b_members = {role: users[f"{role.value}-other_team"] for role in Role}
    for role in Role:
        f.make_membership(team_a_members[role], team_a, role)
        f.make_membership(team_b_members[role], team_b, role)
    f.make_membership(users[ADMIN], team_a, Role.SUPERVISOR)
    today = timezone.localdate()
    for role in Role:
        f.make_membership(
            users[f"{role.value}-none"],
            team_a,
            role,
            active_from=today - dt.timedelta(days=90),
            active_to=today - dt.timedelta(days=1),
        )

    case_a = f.make_case(team_a, reference="C-A-MAIN", officer=team_a_members[Role.OFFICER])
    case_a2 = f.make_case(team_a, reference="C-A-SECOND", officer=team_a_members[Role.OFFICER])
    case_b = f.make_case(team_b, reference="C-B-MAIN", officer=team_b_members[Role.OFFICER])
    for role in Role:
        grant_case_access(
            users[f"{role.value}-guest"],
            case_a,
            role,
            granted_by=team_a_members[Role.SUPERVISOR],
            reason="Invited for one case (authorization matrix)",
        )

    markers: dict[tuple[str, int], str] = {}
    named: dict[tuple[str, int], frozenset[int]] = {}
    notes_a, decisions_a, inputs_a = _populate(
        "a", case_a, team_a_members, team_b_members[Role.OFFICER], markers, named
    )
    notes_b, decisions_b, inputs_b = _populate(
        "b", case_b, team_b_members, team_a_members[Role.OFFICER], markers, named
    )

    canary_a, canary_b = make_canary(CANARY_TAG), make_canary("b9e1")
    victim_a, victim_b = _victim(canary_a), _victim(canary_b)
    links = [
        f.link_victim(
            case_a,
            victim_a,
            pseudonym="Person harmed 1",
            representative=team_a_members[Role.VICTIM_REP],
        ),
        f.link_victim(
            case_b,
            victim_b,
            pseudonym="Person harmed 1",
            representative=team_b_members[Role.VICTIM_REP],
        ),
    ]

    # Releases: one active on team B's victim (employer, to team B's officer); on team A's
    # victim one revoked (phone and address, to the officer) and one expired (school, to
    # the supervisor) whose guardian rows are still there: both must grant nothing.
    rep_a, rep_b = team_a_members[Role.VICTIM_REP], team_b_members[Role.VICTIM_REP]
    releases = [
        release_by_service(rep_b, victim_b, case_b, team_b_members[Role.OFFICER], ["employer"]),
        release_by_service(
            rep_a, victim_a, case_a, team_a_members[Role.OFFICER], ["phone", "address"]
        ),
        release_by_service(rep_a, victim_a, case_a, team_a_members[Role.SUPERVISOR], ["school"]),
    ]
    victim_services.revoke_release(rep_a, releases[1], "Withdrawn by the victim")
    expire_release(releases[2])
    request_a, conflict_a = _request_and_conflict("a", case_a, decisions_a[0], victim_a)
    request_b, conflict_b = _request_and_conflict("b", case_b, decisions_b[0], victim_b)
    # Duty to warn: on team A's case one report by the officer and one by the treatment
    # provider (who files but may not read reports); on team B's, one by its polygraph
    # examiner.
    reports = [
        _report("a", case_a, team_a_members[Role.OFFICER], markers),
        _report("a", case_a, team_a_members[Role.TREATMENT], markers),
        _report("b", case_b, team_b_members[Role.POLYGRAPH], markers),
    ]

    personas: dict[str, Persona] = {}
    for spec in PERSONA_SPECS:
        team_ids: frozenset[int] = frozenset()
        if spec.relation in ("member", ADMIN):
            team_ids = frozenset({team_a.pk})
        elif spec.relation == "other_team":
            team_ids = frozenset({team_b.pk})
        guest_cases = frozenset({case_a.pk}) if spec.relation == "guest" else frozenset()
        personas[spec.key] = Persona(spec, users[spec.key], team_ids, guest_cases)
    world = World(
        team_a=team_a,
        team_b=team_b,
        personas=personas,
        case_a=case_a,
        case_a2=case_a2,
        case_b=case_b,
        notes=notes_a + notes_b,
        decisions=decisions_a + decisions_b,
        inputs=inputs_a + inputs_b,
        victim_a=victim_a,
        victim_b=victim_b,
        links=links,
        named=named,
        markers=markers,
        canaries={victim_a.pk: canary_a, victim_b.pk: canary_b},
        releases=list(
            Release.objects.prefetch_related("items").filter(pk__in=[r.pk for r in releases])
        ),
        mails=list(mail.outbox),
        input_requests=[request_a, request_b],
        place_conflicts=[conflict_a, conflict_b],
        reports=reports,
    )
    if connection.vendor == "postgresql":
        # Statistics, as autovacuum keeps them in a running system: without them the
        # planner guesses, and may re-run the restrict() union for every row.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return world


# --- Expectations, from the policy table -----------------------------------------------

CASE_SUMMARY = codename(Info.CASE_SUMMARY)
IDENTITY = codename(Info.VICTIM_IDENTITY)
PSEUDONYM = pseudonym_codename()
LOCATING = codename(Info.VICTIM_LOCATING)


def roles_on(persona: Persona, case: Case) -> frozenset[Role]:
    """The roles the persona holds on the case: by team membership or a case invitation.
    The system administrator holds none, whatever memberships the account carries."""
    if persona.spec.relation == ADMIN or persona.role is None:
        return frozenset()
    if case.team_id in persona.team_ids or case.pk in persona.guest_case_ids:
        return frozenset({persona.role})
    return frozenset()


def codes_on(persona: Persona, case: Case) -> frozenset[str]:
    codes: set[str] = set()
    for role in roles_on(persona, case):
        codes |= role_codenames(role)
    return frozenset(codes)


def record_code(record: Record) -> str:
    """The permission that reads the record, from the policy's own tables."""
    if isinstance(record, CaseNote):
        info = NOTE_KIND_INFO[record.kind]
    elif isinstance(record, CaseDecision):
        info = DECISION_STATUS_INFO.get(record.status, Info.DECISION_DRAFT)
    else:
        info = Info.VICTIM_INPUT
    return codename(info, record.disclosure_level if info in LEVELED else None)


def sees_case(persona: Persona, case: Case) -> bool:
    return CASE_SUMMARY in codes_on(persona, case)


def sees_record(world: World, persona: Persona, record: Record) -> bool:
    codes = codes_on(persona, record.case)
    if CASE_SUMMARY not in codes:
        return False
    if record.author_id == persona.user.pk:
        return True
    if persona.user.pk in world.named[(record._meta.label, int(record.pk))]:
        return True
    return record_code(record) in codes


def victim_cases(world: World, victim: Victim) -> list[Case]:
    case_ids = {link.case_id for link in world.links if link.victim_id == victim.pk}
    return [case for case in world.cases if case.pk in case_ids]


def victim_codes(world: World, persona: Persona, victim: Victim) -> frozenset[str]:
    codes: set[str] = set()
    for case in victim_cases(world, victim):
        codes |= codes_on(persona, case)
    return frozenset(codes)


def sees_victim(world: World, persona: Persona, victim: Victim) -> bool:
    return bool({IDENTITY, PSEUDONYM} & victim_codes(world, persona, victim))


def sees_identity(world: World, persona: Persona, victim: Victim) -> bool:
    if IDENTITY in victim_codes(world, persona, victim):
        return True
    return ReleaseCategory.IDENTITY in released_categories(world, persona, victim)


def sees_locating(world: World, persona: Persona, victim: Victim) -> bool:
    """By role alone; a release adds to this (tested separately)."""
    return LOCATING in victim_codes(world, persona, victim)


def sees_team(persona: Persona, team: Team) -> bool:
    return team.pk in persona.team_ids


def visible(world: World, persona: Persona, obj: models.Model) -> bool:
    if isinstance(obj, Team):
        return sees_team(persona, obj)
    if isinstance(obj, Case):
        return sees_case(persona, obj)
    if isinstance(obj, Supervisee):
        return any(sees_case(persona, case) for case in world.cases if case.supervisee_id == obj.pk)
    if isinstance(obj, CaseNote | CaseDecision | VictimInput):
        return sees_record(world, persona, obj)
    if isinstance(obj, Victim):
        return sees_victim(world, persona, obj)
    if isinstance(obj, CaseVictim):
        return bool({IDENTITY, PSEUDONYM} & codes_on(persona, obj.case))
    if isinstance(obj, Release):
        return codename(Info.RELEASE) in codes_on(persona, obj.case)
    if isinstance(obj, InputRequest):
        return codename(Info.INPUT_REQUEST) in codes_on(persona, obj.case)
    if isinstance(obj, DutyToWarn):
        return codename(Info.DUTY_TO_WARN) in codes_on(persona, obj.case)
    if isinstance(obj, PlaceConflict):  # victim locating information: no release opens it
        return LOCATING in codes_on(persona, obj.case)
    raise TypeError(f"No expectation for {obj._meta.label}.")


def expected_ids(world: World, persona: Persona, model: type[models.Model]) -> set[int]:
    return {int(obj.pk) for obj in world.objects_of(model) if visible(world, persona, obj)}


def forbidden_markers(world: World, persona: Persona) -> dict[str, str]:
    """Marker -> what it is, for every victim marker the persona may not see (by role or
    by an active release naming them)."""
    found: dict[str, str] = {}
    for victim in world.victims:
        canary = world.canaries[victim.pk]
        fields = released_fields(world, persona, victim)
        for name, marker in canary.locating.items():
            if name not in fields:
                found[marker] = f"victim {victim.pk} {name}"
        if not sees_identity(world, persona, victim):
            for marker in canary.names:
                found[marker] = f"victim {victim.pk} name"
    return found


# --- Releases --------------------------------------------------------------------------


def release_by_service(
    rep: User,
    victim: Victim,
    case: Case,
    recipient: User,
    categories: list[str],
    *,
    expires_on: dt.date | None = None,
) -> Release:
    """A release recorded the way a victim representative records one."""
    today = timezone.localdate()
    return victim_services.create_release(
        created_by=rep,
        victim=victim,
        case=case,
        recipient=recipient,
        categories=categories,
        purpose="Safety planning",
        signed_on=today - dt.timedelta(days=1),
        expires_on=expires_on or today + dt.timedelta(days=90),
    )


def expire_release(release: Release) -> None:
    """The release's expiry date passed yesterday; its guardian rows are still there (the
    clean-up task has not run): the date alone must stop it."""
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    Release.objects.filter(pk=release.pk).update(
        signed_on=yesterday - dt.timedelta(days=30), expires_on=yesterday
    )
    release.refresh_from_db()


def release_is_active(release: Release) -> bool:
    return release.revoked_at is None and release.expires_on >= timezone.localdate()


def released_categories(world: World, persona: Persona, victim: Victim) -> set[str]:
    """What the persona's active releases on this victim name, on cases they see."""
    found: set[str] = set()
    for release in world.releases:
        if (
            release.victim_id == victim.pk
            and release.recipient_id == persona.user.pk
            and release_is_active(release)
            and sees_case(persona, release.case)
        ):
            found |= {item.category for item in release.items.all()}  # prefetched
    return found


def released_fields(world: World, persona: Persona, victim: Victim) -> frozenset[str]:
    """The locating fields the persona sees: every one by role (victim representatives),
    otherwise those an active release names."""
    if sees_locating(world, persona, victim):
        return frozenset(name for names in RELEASE_FIELDS.values() for name in names)
    categories = released_categories(world, persona, victim)
    return frozenset(name for c in categories for name in RELEASE_FIELDS.get(c, ()))


# --- The URL resolver ------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedRoute:
    name: str | None  # "namespace:name", or None for an unnamed pattern
    pattern: str


def walk_routes(
    resolver: URLResolver | None = None, prefix: str = "", namespace: str | None = None
) -> Iterator[ResolvedRoute]:
    """Every URL pattern the project serves, with its full name and pattern."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from walk_routes(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = entry.name
            if name and namespace:
                name = f"{namespace}:{name}"
            yield ResolvedRoute(name, prefix + str(entry.pattern))


def find(text: str, needles: Iterable[str]) -> list[str]:
    """The needles found in text, case-insensitively (a marker may change case in a
    template filter or an e-mail header)."""
    lowered = text.lower()
    return [needle for needle in needles if needle.lower() in lowered]


# --- Writes the policy allows ----------------------------------------------------------


def member_roles_on(persona: Persona, case: Case) -> frozenset[Role]:
    """The roles held on the case's team by membership. A case guest reads as the role
    would and writes nothing (`grant_case_access`: "the user reads it as `role` would")."""
    if persona.spec.relation == ADMIN or persona.role is None:
        return frozenset()
    return frozenset({persona.role}) if case.team_id in persona.team_ids else frozenset()


def writable(persona: Persona, case: Case, info: Info) -> list[str]:
    """The levels the persona may give a new record of `info` on the case (empty: none)."""
    if write_codename(info) not in codes_on(persona, case):
        return []
    return choosable_levels(info, member_roles_on(persona, case))


def note_levels(persona: Persona, case: Case, kind: str) -> list[str]:
    return writable(persona, case, NOTE_KIND_INFO[kind])


def writes_notes(persona: Persona, case: Case) -> bool:
    return any(note_levels(persona, case, kind) for kind in NoteKind.values)


def may_relevel(world: World, persona: Persona, record: Record, info: Info) -> bool:
    return (
        sees_record(world, persona, record)
        and record.author_id == persona.user.pk
        and bool(writable(persona, record.case, info))
    )


# --- The route table -------------------------------------------------------------------
#
# Every route the resolver finds is either here, with how to test it, or in EXEMPT with
# the reason it carries no case content. The expectation of each request comes from the
# functions above, never from the table itself.

REFUSED = frozenset({400, 401, 403, 404, 405})


def body_of(response: Any) -> str:
    content: bytes = response.content
    return content.decode(errors="replace")


def pk_kwargs(obj: Any) -> dict[str, Any]:
    return {"pk": obj.pk}


@dataclass
class Visit:
    """One persona's requests to one route."""

    world: World
    persona: Persona
    client: Any  # django.test.Client for pages, rest_framework.test.APIClient for the API
    name: str
    spec: RouteSpec

    def url(self, obj: Any = None) -> str:
        return reverse(self.name, kwargs=self.spec.kwargs(obj) if obj is not None else None)

    def where(self, obj: Any = None) -> str:
        what = f" {obj._meta.label}#{obj.pk}" if obj is not None else ""
        return f"{self.persona.key} on {self.name}{what}"


@dataclass(frozen=True)
class RouteSpec:
    """How to test one named route.

    kind     "page": one URL without an object; "list": an API list, whose ids must be
             exactly the permitted set; "detail": one URL per object, 200 or 404 as the
             policy says (or what `expect` computes from the policy).
    model    the model the route shows, which decides the expectation.
    objects  the objects a detail route is requested for (default: every object of team
             A's main case, and one of team B's).
    content  further checks on a 200 answer.
    writes   the writes the route takes and who may make them; None for a read-only API
             route (every write refused) or a page.
    full     request every object rather than one per distinct expected answer.
    """

    kind: str
    model: type[models.Model] | None = None
    objects: Callable[[World], list[Any]] | None = None
    kwargs: Callable[[Any], dict[str, Any]] = pk_kwargs
    expect: Callable[[World, Persona, Any], int] | None = None
    content: Callable[[Visit, Any, Any], None] | None = None
    writes: Callable[[Visit], None] | None = None
    full: bool = False  # request every object, not one per expected answer

    def targets(self, world: World) -> list[Any]:
        if self.objects is not None:
            return self.objects(world)
        assert self.model is not None
        rows = world.objects_of(self.model)
        if rows and hasattr(rows[0], "case_id"):
            on_a = [row for row in rows if row.case_id == world.case_a.pk]
            return on_a + [row for row in rows if row.case_id != world.case_a.pk][:1]
        return rows

    def expected_status(self, world: World, persona: Persona, obj: Any) -> int:
        if self.expect is not None:
            return self.expect(world, persona, obj)
        return 200 if visible(world, persona, obj) else 404


def every_marker(world: World) -> list[str]:
    """Every record's token and every victim marker in the world."""
    found = [world.marker(record) for record in [*world.records, *world.reports]]
    found += [case.reference for case in world.cases]
    for canary in world.canaries.values():
        found += [*canary.locating.values(), *canary.names]
    return found


def hidden_record_markers(world: World, persona: Persona) -> list[str]:
    """The records the persona may not read, and the references of cases they may not see
    (a case's existence is case content too)."""
    found = [world.marker(r) for r in world.records if not sees_record(world, persona, r)]
    found += [world.marker(r) for r in world.reports if not visible(world, persona, r)]
    return found + [case.reference for case in world.cases if not sees_case(persona, case)]


def assert_nothing_hidden(world: World, persona: Persona, text: str, where: str) -> None:
    """No victim marker the persona may not see, and no record they may not read."""
    forbidden = forbidden_markers(world, persona)
    leaked = find(text, forbidden)
    assert not leaked, f"{where} shows {[forbidden[m] for m in leaked]}: {leaked}"
    leaked = find(text, hidden_record_markers(world, persona))
    assert not leaked, f"{where} shows records or cases the policy hides: {leaked}"


# Content checks -------------------------------------------------------------------------


def check_case_list(v: Visit, obj: Any, response: Any) -> None:
    html = body_of(response)
    shown = {case.reference for case in v.world.cases if case.reference in html}
    wanted = {case.reference for case in v.world.cases if sees_case(v.persona, case)}
    assert shown == wanted, v.where()
    noun = "case" if len(wanted) == 1 else "cases"
    assert f"{len(wanted)} {noun} found." in html, v.where()


def check_dashboard(v: Visit, obj: Any, response: Any) -> None:
    html = body_of(response)
    shown = {case.reference for case in v.world.cases if case.reference in html}
    allowed = {case.reference for case in v.world.cases if sees_case(v.persona, case)}
    assert shown <= allowed, f"{v.where()} lists {shown - allowed}"


def check_case_page(v: Visit, case: Case, response: Any) -> None:
    """Exactly the case's records the persona may read; the victims as they may see them."""
    html = body_of(response)
    for record in v.world.records:
        wanted = record.case_id == case.pk and sees_record(v.world, v.persona, record)
        assert (v.world.marker(record) in html) == wanted, v.where(record)
    for link in v.world.links:
        if link.case_id != case.pk:
            continue
        check_victim_html(v, link.victim, html, pseudonym=link.pseudonym)


def check_victim_html(v: Visit, victim: Victim, html: str, pseudonym: str = "") -> None:
    canary = v.world.canaries[victim.pk]
    if sees_identity(v.world, v.persona, victim):
        assert canary.first_name in html and canary.last_name in html, v.where(victim)
    elif pseudonym:
        assert pseudonym in html, v.where(victim)
    fields = released_fields(v.world, v.persona, victim)
    for name, marker in canary.locating.items():
        assert (marker in html) == (name in fields), f"{v.where(victim)} {name}"


def check_victim_page(v: Visit, victim: Victim, response: Any) -> None:
    link = next(link for link in v.world.links if link.victim_id == victim.pk)
    check_victim_html(v, victim, body_of(response), pseudonym=link.pseudonym)


def check_record_shown(v: Visit, record: Any, response: Any) -> None:
    assert v.world.marker(record) in body_of(response), v.where(record)


def check_victim_json(v: Visit, victim: Victim, response: Any) -> None:
    data = response.json()
    canary = v.world.canaries[victim.pk]
    if sees_identity(v.world, v.persona, victim):
        assert (data["first_name"], data["last_name"]) == canary.names, v.where(victim)
    else:  # the pseudonym and the relationship only
        assert (data["first_name"], data["last_name"]) == (None, None), v.where(victim)
        pseudonyms = {link.pseudonym for link in v.world.links if link.victim_id == victim.pk}
        assert data.get("display_name") in pseudonyms, v.where(victim)
    location = data["location"]
    fields = released_fields(v.world, v.persona, victim)
    if not fields:
        assert location is None, v.where(victim)
    else:
        shown = {name for name, value in location.items() if value in canary.locating.values()}
        assert shown == set(fields), v.where(victim)


# Expectations of the form pages ----------------------------------------------------------


def expect_note_form(world: World, persona: Persona, case: Case) -> int:
    if not sees_case(persona, case):
        return 404
    return 200 if writes_notes(persona, case) else 403


def expect_note_level(world: World, persona: Persona, note: CaseNote) -> int:
    if not sees_record(world, persona, note):
        return 404
    return 200 if may_relevel(world, persona, note, NOTE_KIND_INFO[note.kind]) else 403


# Writes ---------------------------------------------------------------------------------


def _snapshot(obj: models.Model) -> dict[str, Any]:
    return type(obj)._default_manager.filter(pk=obj.pk).values().get()


def sample(v: Visit, candidates: list[Any]) -> list[Any]:
    """One object per distinct expected answer (200, 403, 404, ...), picked by the persona
    and route in turn, so that across the matrix every record, at every level, is asked
    for on some route. The lists and the case page check every record every time."""
    if v.spec.full:
        return candidates
    groups: dict[int, list[Any]] = {}
    for obj in candidates:
        groups.setdefault(v.spec.expected_status(v.world, v.persona, obj), []).append(obj)
    seed = zlib.crc32(f"{v.persona.key} {v.name}".encode())
    return [objs[seed % len(objs)] for _, objs in sorted(groups.items())]


def refuse_every_write(v: Visit) -> None:
    """A read-only API route: every write is refused and changes nothing."""
    if v.spec.kind == "list":
        assert v.spec.model is not None
        count = v.spec.model._default_manager.count()
        response = v.client.post(v.url(), {}, format="json")
        assert response.status_code in REFUSED, f"{v.where()} POST {response.status_code}"
        assert v.spec.model._default_manager.count() == count, v.where()
        return
    for obj in sample(v, v.spec.targets(v.world))[:1]:
        before = _snapshot(obj)
        for method in ("put", "patch", "delete"):
            response = getattr(v.client, method)(v.url(obj), {"id": 1}, format="json")
            status = response.status_code
            assert status in REFUSED, f"{v.where(obj)} {method} {status}"
            assert _snapshot(obj) == before, f"{v.where(obj)} {method}"


def _refuse_other_methods(v: Visit, obj: Any, methods: tuple[str, ...]) -> None:
    before = _snapshot(obj)
    for method in methods:
        response = getattr(v.client, method)(v.url(obj), {}, format="json")
        assert response.status_code in REFUSED, f"{v.where(obj)} {method}"
        assert _snapshot(obj) == before, f"{v.where(obj)} {method}"


def _try_note_create(v: Visit, case: Case, kind: str, level: str) -> tuple[int, int]:
    body = f"written by {v.persona.key} on case {case.pk} as {kind} at {level} via {v.name}"
    fields = {"kind": kind, "body": body, "disclosure_level": level}
    if v.name.startswith("api:"):
        response = v.client.post(v.url(), {"case": case.pk, **fields}, format="json")
    else:
        response = v.client.post(v.url(case), fields)
    saved = CaseNote.objects.filter(case=case, body=body, author=v.persona.user)
    return response.status_code, saved.count()


def write_notes(v: Visit) -> None:
    """On team A's case, every kind of information at every level: created exactly where
    the persona's role may choose that level for that kind, refused with nothing saved
    everywhere else (a general note is a supervision note to the policy: tried once)."""
    api = v.name.startswith("api:")
    case = v.world.case_a
    if not writes_notes(v.persona, case):
        status, saved = _try_note_create(v, case, NoteKind.SUPERVISION, "supervision")
        wanted = REFUSED if api else {expect_note_form(v.world, v.persona, case)}
        assert status in wanted and saved == 0, f"{v.where(case)} {status}"
        return
    tries = [(kind, str(level)) for kind in NOTE_KINDS_BY_INFO for level in DisclosureLevel]
    general = note_levels(v.persona, case, NoteKind.GENERAL)
    tries.append((NoteKind.GENERAL, general[0] if general else DisclosureLevel.TEAM))
    for kind, level in tries:
        allowed = note_levels(v.persona, case, kind)
        status, saved = _try_note_create(v, case, kind, level)
        what = f"{v.where(case)} {kind}@{level}"
        if level in allowed:
            assert (status, saved) == ((201, 1) if api else (302, 1)), f"{what} {status}"
        else:
            assert (status, saved) == (400, 0), f"{what} {status}"


# One note kind per kind of information (general notes are supervision notes).
NOTE_KINDS_BY_INFO: list[str] = list(
    {info: kind for kind, info in reversed(NOTE_KIND_INFO.items())}.values()
)


def _try_level(v: Visit, obj: Any, level: str) -> int:
    if v.name.startswith("api:"):
        response = v.client.patch(v.url(obj), {"disclosure_level": level}, format="json")
    else:
        response = v.client.post(v.url(obj), {"disclosure_level": level})
    return int(response.status_code)


def _relevel_every_way(v: Visit, obj: Any, allowed: list[str], refused: set[int]) -> None:
    """Ask for every level in turn: each allowed one is taken, any other refused."""
    api = v.name.startswith("api:")
    model = type(obj)
    for level in DisclosureLevel.values:
        current = model._default_manager.get(pk=obj.pk).disclosure_level
        status = _try_level(v, obj, level)
        after = model._default_manager.get(pk=obj.pk).disclosure_level
        what = f"{v.where(obj)} -> {level}: {status}"
        if level in allowed:
            assert status == (200 if api else 302), what
            assert after == level, what
        else:
            assert status in refused, what
            assert after == current, what


def _refuse_level(v: Visit, obj: Any, wanted: set[int]) -> None:
    before = _snapshot(obj)
    status = _try_level(v, obj, DisclosureLevel.TEAM)
    assert status in wanted, f"{v.where(obj)}: {status}"
    assert _snapshot(obj) == before, v.where(obj)


def write_note_levels(v: Visit) -> None:
    """Only the author changes a note's level, to a level their role may choose for its
    kind; a reader is refused (403), anyone else finds no note (404)."""
    api = v.name.startswith("api:")
    mine: dict[Info, CaseNote] = {}
    for note in v.world.on_case(v.world.notes, v.world.case_a):
        if may_relevel(v.world, v.persona, note, NOTE_KIND_INFO[note.kind]):
            mine.setdefault(NOTE_KIND_INFO[note.kind], note)
    for note in mine.values():
        allowed = note_levels(v.persona, note.case, note.kind)
        _relevel_every_way(v, note, allowed, {400})
    others = [
        note
        for note in v.spec.targets(v.world)
        if not may_relevel(v.world, v.persona, note, NOTE_KIND_INFO[note.kind])
    ]
    for note in sample(v, others):
        wanted = 404 if not sees_record(v.world, v.persona, note) else 403
        _refuse_level(v, note, {wanted})
    if api:
        _refuse_other_methods(v, v.spec.targets(v.world)[0], ("put", "delete"))


def may_write_release(persona: Persona, case: Case) -> bool:
    """Releases carry no level: the role must write them, as a member of the team."""
    code = write_codename(Info.RELEASE)
    return any(code in role_codenames(role) for role in member_roles_on(persona, case))


def case_of(world: World, victim: Victim) -> Case:
    return victim_cases(world, victim)[0]


def expect_release_form(world: World, persona: Persona, victim: Victim) -> int:
    if not sees_victim(world, persona, victim):
        return 404
    writer = any(may_write_release(persona, case) for case in victim_cases(world, victim))
    return 200 if writer else 403


def expect_release_revoke(world: World, persona: Persona, release: Release) -> int:
    if not visible(world, persona, release):
        return 404
    return 200 if may_write_release(persona, release.case) else 403


def expect_input_form(world: World, persona: Persona, case: Case) -> int:
    if not sees_case(persona, case):
        return 404
    return 200 if writable(persona, case, Info.VICTIM_INPUT) else 403


def expect_input_level(world: World, persona: Persona, item: VictimInput) -> int:
    if not sees_record(world, persona, item):
        return 404
    return 200 if writable(persona, item.case, Info.VICTIM_INPUT) else 403


def _recipient(world: World, persona: Persona, case: Case) -> User:
    relation = "member" if case.team_id == world.team_a.pk else "other_team"
    officer = world.persona(Role.OFFICER, relation).user
    return world.persona(Role.SUPERVISOR, relation).user if officer == persona.user else officer


def write_releases(v: Visit) -> None:
    """On team A's victim: only a victim representative of the case's team records a
    release; anyone else is refused, with nothing saved."""
    api = v.name.startswith("api:")
    today = timezone.localdate()
    for victim in (v.world.victim_a,):
        case = case_of(v.world, victim)
        writer = may_write_release(v.persona, case)
        fields: dict[str, Any] = {
            "case": case.pk,
            "recipient": _recipient(v.world, v.persona, case).pk,
            "categories": ["email"],
            "purpose": f"release by {v.persona.key}",
            "signed_on": today.isoformat(),
            "expires_on": (today + dt.timedelta(days=30)).isoformat(),
        }
        if api:
            response = v.client.post(v.url(), {"victim": victim.pk, **fields}, format="json")
        else:
            response = v.client.post(v.url(victim), fields)
        saved = Release.objects.filter(
            victim=victim, created_by=v.persona.user, purpose=fields["purpose"]
        ).count()
        what = f"{v.where(victim)} POST {response.status_code}"
        if writer:
            assert response.status_code == (201 if api else 302), what
            assert saved == 1, what
        else:
            wanted = REFUSED if api else {expect_release_form(v.world, v.persona, victim)}
            assert response.status_code in wanted, what
            assert saved == 0, what


def write_revocations(v: Visit) -> None:
    """Only a victim representative of the case's team revokes a release; a reader of it
    is refused, anyone who cannot see it finds nothing (404)."""
    api = v.name.startswith("api:")
    for victim in (v.world.victim_a,):
        case = case_of(v.world, victim)
        writer = may_write_release(v.persona, case)
        relation = "member" if case.team_id == v.world.team_a.pk else "other_team"
        rep = v.world.persona(Role.VICTIM_REP, relation)
        release = release_by_service(
            rep.user, victim, case, _recipient(v.world, rep, case), ["email"]
        )
        if api:
            response = v.client.post(v.url(release), {"reason": "withdrawn"}, format="json")
        else:
            response = v.client.post(v.url(release), {"reason": "withdrawn"})
        release.refresh_from_db()
        what = f"{v.where(release)} POST {response.status_code}"
        if writer:
            assert response.status_code == (200 if api else 302), what
            assert release.revoked_at is not None, what
        else:
            wanted = 404 if not visible(v.world, v.persona, release) else 403
            assert response.status_code in ({wanted, 400} if api else {wanted}), what
            assert release.revoked_at is None, what


def write_victim_inputs(v: Visit) -> None:
    """Victim input on team A's case at every level: saved exactly at the levels the
    persona's role may choose; refused with nothing saved for anyone else."""
    api = v.name.startswith("api:")
    for case in (v.world.case_a,):
        allowed = writable(v.persona, case, Info.VICTIM_INPUT)
        for level in DisclosureLevel.values if allowed else [DisclosureLevel.TEAM]:
            body = f"input by {v.persona.key} on {case.pk} at {level} via {v.name}"
            fields = {"body": body, "disclosure_level": level}
            if api:
                response = v.client.post(v.url(), {"case": case.pk, **fields}, format="json")
            else:
                response = v.client.post(v.url(case), fields)
            saved = VictimInput.objects.filter(case=case, body=body).count()
            what = f"{v.where(case)} {level} POST {response.status_code}"
            if level in allowed:
                assert response.status_code == (201 if api else 302), what
                assert saved == 1, what
            else:
                wanted: set[int] | frozenset[int]
                if api:
                    wanted = REFUSED
                elif allowed:  # a level the form does not offer: the form again
                    wanted = {200, 400}
                else:
                    wanted = {expect_input_form(v.world, v.persona, case)}
                assert response.status_code in wanted, what
                assert saved == 0, what


def write_input_levels(v: Visit) -> None:
    """A victim representative of the team changes who sees victim input, to a level the
    role may choose; a reader is refused, anyone else finds nothing (404)."""
    api = v.name.startswith("api:")
    mine = [
        item
        for item in v.world.on_case(v.world.inputs, v.world.case_a)
        if sees_record(v.world, v.persona, item)
        and writable(v.persona, item.case, Info.VICTIM_INPUT)
    ][:1]
    for item in mine:
        allowed = writable(v.persona, item.case, Info.VICTIM_INPUT)
        _relevel_every_way(v, item, allowed, {400} if api else {200, 400})
    others = [item for item in v.spec.targets(v.world) if item not in mine]
    for item in sample(v, others):
        if not sees_record(v.world, v.persona, item):
            wanted = {404}
        elif writable(v.persona, item.case, Info.VICTIM_INPUT):
            continue
        else:
            wanted = {400, 403} if api else {403}
        _refuse_level(v, item, wanted)
    if api:
        _refuse_other_methods(v, v.spec.targets(v.world)[0], ("put", "delete"))


def expect_post_only(world: World, persona: Persona, obj: Any) -> int:
    return 405


# The victim representative's queue and answers (victims.queue_views) -------------------


def in_queue(world: World, persona: Persona, obj: InputRequest | PlaceConflict) -> bool:
    """The queue lists what the persona may read on the cases of the teams where they
    are a victim representative by membership (a guest reads, but answers nothing)."""
    return visible(world, persona, obj) and Role.VICTIM_REP in member_roles_on(persona, obj.case)


def check_queue(v: Visit, obj: Any, response: Any) -> None:
    html = body_of(response)
    for request in v.world.input_requests:
        wanted = in_queue(v.world, v.persona, request)
        assert (request.summary in html) == wanted, v.where(request)
    for conflict in v.world.place_conflicts:
        wanted = in_queue(v.world, v.persona, conflict)
        assert (f'id="place-conflict-{conflict.pk}"' in html) == wanted, v.where(conflict)
        if wanted:  # the victim by the name the representative sees
            row = html.split(f'id="place-conflict-{conflict.pk}"', 1)[1].split("</tr>", 1)[0]
            assert conflict.victim.full_name in row, v.where(conflict)


def check_request_shown(v: Visit, request: InputRequest, response: Any) -> None:
    assert request.summary in body_of(response), v.where(request)


def check_conflict_json(v: Visit, conflict: PlaceConflict, response: Any) -> None:
    data = response.json()
    assert (data["victim"], data["matched_by"]) == (conflict.victim_id, "radius"), v.where()
    assert data["victim_name"] == conflict.victim.full_name, v.where(conflict)


def expect_answer_form(world: World, persona: Persona, request: InputRequest) -> int:
    if not visible(world, persona, request):
        return 404
    return 200 if writable(persona, request.case, Info.VICTIM_INPUT) else 403


def write_answers(v: Visit) -> None:
    """Answering a request on team A's case: a victim representative of the team records
    input linked to the decision; a reader of the request is refused (403), anyone else
    finds nothing (404), with nothing saved."""
    for request in v.world.on_case(v.world.input_requests, v.world.case_a):
        body = f"answer by {v.persona.key} to request {request.pk}"
        response = v.client.post(v.url(request), {"body": body, "disclosure_level": "team"})
        saved = VictimInput.objects.filter(body=body, decision_id=request.decision_id).count()
        what = f"{v.where(request)} POST {response.status_code}"
        if writable(v.persona, request.case, Info.VICTIM_INPUT):
            assert (response.status_code, saved) == (302, 1), what
        else:
            wanted = expect_answer_form(v.world, v.persona, request)
            assert (response.status_code, saved) == (wanted, 0), what


# Duty to warn (casework.duty_to_warn_views, casework.duty_to_warn_api) -----------------


def files_reports(persona: Persona, case: Case) -> bool:
    """Any member of the case's team whose role the policy lets write reports (treatment
    and polygraph included: Access.CREATE); a guest writes nothing."""
    code = write_codename(Info.DUTY_TO_WARN)
    return any(code in role_codenames(role) for role in member_roles_on(persona, case))


def expect_report_form(world: World, persona: Persona, case: Case) -> int:
    if not sees_case(persona, case):
        return 404
    return 200 if files_reports(persona, case) else 403


def expect_receipt(world: World, persona: Persona, report: DutyToWarn) -> int:
    """Only the person who filed it, while they see the case; anyone else finds nothing."""
    mine = report.reporter_id == persona.user.pk
    return 200 if mine and sees_case(persona, report.case) else 404


def may_acknowledge(world: World, persona: Persona, report: DutyToWarn) -> bool:
    return (
        visible(world, persona, report)
        and files_reports(persona, report.case)
        and report.reporter_id != persona.user.pk
    )


RECEIPT_FIELDS = {"id", "case", "created_at", "status"}


def write_reports(v: Visit) -> None:
    """Filing on team A's case: saved for every member whose role files reports; a reader
    who may not read reports gets a receipt with nothing of the report; anyone else is
    refused with nothing saved."""
    api = v.name.startswith("api:")
    case = v.world.case_a
    threat = f"threat reported by {v.persona.key} via {v.name}"
    fields = {"at_risk": AtRisk.CHILD, "threat": threat, "urgency": Urgency.HOURS}
    if api:
        response = v.client.post(v.url(), {"case": case.pk, **fields}, format="json")
    else:
        response = v.client.post(v.url(case), fields)
    saved = DutyToWarn.objects.filter(case=case, threat=threat, reporter=v.persona.user)
    what = f"{v.where(case)} POST {response.status_code}"
    if not files_reports(v.persona, case):
        wanted = REFUSED if api else {expect_report_form(v.world, v.persona, case)}
        assert response.status_code in wanted and not saved.exists(), what
        return
    assert response.status_code == (201 if api else 302) and saved.count() == 1, what
    report = saved.get()
    reads = codename(Info.DUTY_TO_WARN) in codes_on(v.persona, case)
    if api and not reads:
        assert set(response.json()) == RECEIPT_FIELDS, what
        assert response.json()["status"] == "received", what
        assert threat not in body_of(response), what
    elif not api:
        name = "duty-to-warn-detail" if reads else "duty-to-warn-receipt"
        assert response["Location"] == reverse(name, args=[report.pk]), what


def write_acknowledgements(v: Visit) -> None:
    """On team A's reports: a reader whose role writes reports, other than the reporter,
    acknowledges with the action taken; a reader who may not is refused (403), anyone
    else finds nothing (404), with nothing changed."""
    api = v.name.startswith("api:")
    for report in v.world.on_case(v.world.reports, v.world.case_a):
        action = f"action by {v.persona.key} via {v.name}"
        if api:
            response = v.client.post(v.url(report), {"action_taken": action}, format="json")
        else:
            response = v.client.post(v.url(report), {"action_taken": action})
        after = DutyToWarn.objects.get(pk=report.pk)
        what = f"{v.where(report)} POST {response.status_code}"
        if may_acknowledge(v.world, v.persona, report):
            assert response.status_code == (200 if api else 302), what
            assert (after.acknowledged_by_id, after.action_taken) == (v.persona.user.pk, action)
            assert after.next_escalation_at is None, what
        else:
            wanted = 404 if not visible(v.world, v.persona, report) else 403
            assert response.status_code == wanted, what
            assert after.acknowledged_at is None and after.action_taken == "", what


def check_inbox(v: Visit, obj: Any, response: Any) -> None:
    """The person's own notifications, and no one else's."""
    from teams.models import Notification

    html = body_of(response)
    own = Notification.objects.filter(recipient=v.persona.user)
    assert html.count('<tr id="notification-') == min(own.count(), 25), v.where()
    for other in Notification.objects.exclude(recipient=v.persona.user):
        assert f'id="notification-{other.pk}"' not in html, v.where()


# Decisions (casework.decisions) ----------------------------------------------------------


def decision_levels(persona: Persona, case: Case) -> list[str]:
    """An officer of the case's team writes drafts; the levels are those a final decision
    may carry for the persona's roles there (a guest writes nothing)."""
    if write_codename(Info.DECISION_DRAFT) not in codes_on(persona, case):
        return []
    return choosable_levels(Info.DECISION_FINAL, member_roles_on(persona, case))


def expect_decision_form(world: World, persona: Persona, case: Case) -> int:
    if not sees_case(persona, case):
        return 404
    return 200 if decision_levels(persona, case) else 403


def expect_decision_edit(world: World, persona: Persona, decision: CaseDecision) -> int:
    """Only the author changes a draft; a final decision is never changed."""
    if not sees_record(world, persona, decision):
        return 404
    author = decision.author_id == persona.user.pk and bool(decision_levels(persona, decision.case))
    return 200 if author and decision.status == "draft" else 403


def write_decisions(v: Visit) -> None:
    """A draft on team A's case at every level: saved exactly at the levels the persona
    may choose; refused with nothing saved everywhere else."""
    api = v.name.startswith("api:")
    case = v.world.case_a
    allowed = decision_levels(v.persona, case)
    for level in DisclosureLevel.values if allowed else [DisclosureLevel.TEAM]:
        summary = f"decision by {v.persona.key} at {level} via {v.name}"
        fields = {"kind": "sanction", "summary": summary, "disclosure_level": level}
        if api:
            response = v.client.post(v.url(), {"case": case.pk, **fields}, format="json")
        else:
            response = v.client.post(v.url(case), fields)
        saved = CaseDecision.objects.filter(case=case, summary=summary).count()
        what = f"{v.where(case)} {level} POST {response.status_code}"
        if level in allowed:
            assert response.status_code == (201 if api else 302), what
            assert saved == 1, what
        else:
            wanted = REFUSED if api or allowed else {expect_decision_form(v.world, v.persona, case)}
            assert response.status_code in wanted, what
            assert saved == 0, what


ROUTES: dict[str, RouteSpec] = {
    # Pages
    "dashboard": RouteSpec("page", content=check_dashboard),
    "case-list": RouteSpec("page", model=Case, content=check_case_list),
    # Team A's main case (every record) and team B's; the empty second case only lists.
    "case-detail": RouteSpec(
        "detail",
        Case,
        objects=lambda world: [world.case_a, world.case_b],
        content=check_case_page,
        full=True,
    ),
    "note-create": RouteSpec("detail", Case, expect=expect_note_form, writes=write_notes),
    "note-level": RouteSpec("detail", CaseNote, expect=expect_note_level, writes=write_note_levels),
    "note-audience": RouteSpec("detail", CaseNote),
    "decision-audience": RouteSpec("detail", CaseDecision, content=check_record_shown),
    "decision-detail": RouteSpec("detail", CaseDecision, content=check_record_shown),
    "decision-create": RouteSpec(
        "detail", Case, expect=expect_decision_form, writes=write_decisions
    ),
    "decision-edit": RouteSpec("detail", CaseDecision, expect=expect_decision_edit),
    "api:decision-list": RouteSpec("list", CaseDecision, writes=write_decisions),
    "api:decision-detail": RouteSpec("detail", CaseDecision, content=check_record_shown),
    "victim-detail": RouteSpec("detail", Victim, content=check_victim_page),
    "release-create": RouteSpec(
        "detail", Victim, expect=expect_release_form, writes=write_releases
    ),
    "release-revoke": RouteSpec(
        "detail", Release, expect=expect_release_revoke, writes=write_revocations
    ),
    "victim-input-create": RouteSpec(
        "detail", Case, expect=expect_input_form, writes=write_victim_inputs
    ),
    "victim-input-level": RouteSpec(
        "detail", VictimInput, expect=expect_input_level, writes=write_input_levels
    ),
    "victim-queue": RouteSpec("page", content=check_queue),
    "input-request-answer": RouteSpec(
        "detail", InputRequest, expect=expect_answer_form, writes=write_answers
    ),
    "duty-to-warn-create": RouteSpec(
        "detail", Case, expect=expect_report_form, writes=write_reports
    ),
    "duty-to-warn-detail": RouteSpec(
        "detail", DutyToWarn, content=check_record_shown, writes=write_acknowledgements
    ),
    "duty-to-warn-receipt": RouteSpec("detail", DutyToWarn, expect=expect_receipt),
    "notifications": RouteSpec("page", content=check_inbox),
    # API
    "api:team-list": RouteSpec("list", Team),
    "api:team-detail": RouteSpec("detail", Team),
    "api:case-list": RouteSpec("list", Case),
    "api:case-detail": RouteSpec("detail", Case),
    "api:supervisee-list": RouteSpec("list", Supervisee),
    "api:supervisee-detail": RouteSpec("detail", Supervisee),
    "api:note-list": RouteSpec("list", CaseNote, writes=write_notes),
    "api:note-detail": RouteSpec(
        "detail", CaseNote, content=check_record_shown, writes=write_note_levels
    ),
    "api:note-audience": RouteSpec("detail", CaseNote),
    "api:victim-list": RouteSpec("list", Victim),
    "api:victim-detail": RouteSpec("detail", Victim, content=check_victim_json),
    "api:release-list": RouteSpec("list", Release, writes=write_releases),
    "api:release-detail": RouteSpec("detail", Release),
    # POST only: a GET is refused (405) for everyone; the revocation is the write.
    "api:release-revoke": RouteSpec(
        "detail", Release, expect=expect_post_only, writes=write_revocations
    ),
    "api:victim-input-list": RouteSpec("list", VictimInput, writes=write_victim_inputs),
    "api:victim-input-detail": RouteSpec(
        "detail", VictimInput, content=check_record_shown, writes=write_input_levels
    ),
    "api:input-request-list": RouteSpec("list", InputRequest),
    "api:input-request-detail": RouteSpec("detail", InputRequest, content=check_request_shown),
    "api:place-conflict-list": RouteSpec("list", PlaceConflict),
    "api:place-conflict-detail": RouteSpec("detail", PlaceConflict, content=check_conflict_json),
    "api:duty-to-warn-list": RouteSpec("list", DutyToWarn, writes=write_reports),
    "api:duty-to-warn-detail": RouteSpec("detail", DutyToWarn, content=check_record_shown),
    # POST only: a GET is refused (405) for everyone; the acknowledgement is the write.
    "api:duty-to-warn-acknowledge": RouteSpec(
        "detail", DutyToWarn, expect=expect_post_only, writes=write_acknowledgements
    ),
}

# Routes that carry no case content, each with the reason. `admin:*` is exempt as a group
# (the admin is tested on its own: the system administrator sees no case rows there).
EXEMPT: dict[str, str] = {
    "login": "the sign-in form",
    "logout": "signs out; shows nothing",
    "healthz": "liveness: database and scheduler state only",
    "schema": "the OpenAPI document: endpoints and fields, no rows",
    "swagger-ui": "the API documentation page, no rows",
    "api:api-token": "exchanges credentials for a token; no case content",
    "api:api-root": "links to the API's endpoints, no rows",
    # The audit trail is scoped by audit.scopes (own actions; a supervisor's teams; the
    # administrator's account events), not by the case matrix: tests/test_audit_review.py.
    "audit-review": "the audit trail, scoped by audit.scopes (test_audit_review)",
    "audit-export": "the audit trail as CSV, scoped by audit.scopes (test_audit_review)",
    "api:audit-event-list": "the audit trail API, scoped by audit.scopes (test_audit_review)",
    "api:audit-event-detail": "the audit trail API, scoped by audit.scopes (test_audit_review)",
    # Emergency access opens a case outside the matrix on purpose, for supervisors only,
    # with a reason and a time limit: tests/test_emergency_access.py.
    "emergency-start": "a form; supervisors only (test_emergency_access)",
    "emergency-queue": "sign-off queue; supervisors only (test_emergency_access)",
    "emergency-review": "sign-off form; supervisors only (test_emergency_access)",
    "api:emergency-access-list": "supervisors only (test_emergency_access)",
    "api:emergency-access-detail": "supervisors only (test_emergency_access)",
    "api:emergency-access-review": "supervisors only (test_emergency_access)",
    # A person's own notifications: not the case matrix (each answers only its recipient,
    # and carries a link, never content): tests/test_notifications.py.
    "notification-open": "POST only; one's own notifications (test_notifications)",
    "api:notification-list": "one's own notifications (test_notifications)",
    "api:notification-detail": "one's own notifications (test_notifications)",
    "api:notification-read": "marks one's own notification read (test_notifications)",
    # One's own e-mail preferences: no case content, nobody else's can be named:
    # tests/test_notification_preferences.py.
    "notification-preferences": "one's own e-mail preferences (test_notification_preferences)",
    "api:notification-preferences": "one's own (test_notification_preferences)",
    # A decision's lifecycle actions: every action, person and state, through the page
    # and the API, in tests/test_decisions.py (the generic matrix reads; these write).
    "decision-transition": "POST only; lifecycle (test_decisions::test_action_permissions)",
    "api:decision-propose": "POST only (test_decisions::test_action_permissions)",
    "api:decision-approve": "POST only (test_decisions::test_action_permissions)",
    "api:decision-return": "POST only (test_decisions::test_action_permissions)",
    "api:decision-finalise": "POST only (test_decisions::test_action_permissions)",
    "api:decision-withdraw": "POST only (test_decisions::test_action_permissions)",
    "api:decision-supersede": "POST only (test_decisions::test_supersede_and_edit_permissions)",
    # The supervisor's own queue: supervisors only, their teams only, built from the
    # decision and duty-to-warn selectors (which read through the policy).
    "supervisor-queue": "supervisors only, their teams (test_supervisor_queue)",
    "api:supervisor-queue": "supervisors only, their teams (test_supervisor_queue)",
    # Victims' questions (issue 6, item 3): every route, each role as a member, of another
    # team, a former member, a guest, the administrator and signed out, with the denied
    # 404s recorded: tests/test_information_requests.py::test_route_permissions.
    "information-request-create": "reps of the case's team ask (test_information_requests)",
    "information-request-list": "each role's own section (test_information_requests)",
    "information-request-detail": "answer / relay forms by role (test_information_requests)",
    "api:information-request-list": "officer, supervisor, rep read (test_information_requests)",
    "api:information-request-detail": "officer, supervisor, rep (test_information_requests)",
    "api:information-request-answer": "POST; the holding officer (test_information_requests)",
    "api:information-request-relay": "POST; the case's reps (test_information_requests)",
    # Issue 6, items 6, 7, 9 and 10: each route, each role as a member, of another team,
    # a former member, a guest, the administrator and signed out, in its own test file.
    "release-form": "the case's reps only; 404 + denied (test_release_forms)",
    "victim-ledger": "the victim's reps only; 404 + denied (test_disclosure_ledger)",
    "api:victim-ledger-list": "the victim's reps only (test_disclosure_ledger)",
    "api:collaboration-measures": "supervisors, their teams; numbers (test_collaboration)",
    "glossary": "no case content; everyone signed in (test_glossary_and_roles)",
    "glossary-term-create": "supervisors only (test_glossary_and_roles)",
    "glossary-term-edit": "supervisors only (test_glossary_and_roles)",
    "api:glossary-term-list": "read by all; supervisors write (test_glossary_and_roles)",
    "api:glossary-term-detail": "read by all; supervisors write (test_glossary_and_roles)",
    "role-cards": "the policy table in words, no records (test_glossary_and_roles)",
    "role-card": "the policy table in words, no records (test_glossary_and_roles)",
    "api:role-card-list": "the policy table, no records (test_glossary_and_roles)",
    "api:role-card-detail": "the policy table, no records (test_glossary_and_roles)",
    # Issue 6, items 4 and 5: the case summary update, notification registrations, the
    # relay queue and new-victim reports; every route, each role as a member, of another
    # team, a former member, a guest, the administrator and signed out, with the denied
    # 404s recorded, in test_victim_registrations and test_new_victim_reports.
    "case-edit": "the case's officers update it (test_victim_registrations)",
    "notification-registration-create": "the case's reps only (test_victim_registrations)",
    "notification-registration-edit": "the case's reps only (test_victim_registrations)",
    "victim-notifications": "the relay queue; reps only (test_victim_registrations)",
    "victim-notification-relay": "the case's reps only (test_victim_registrations)",
    "api:notification-registration-list": "reps only (test_victim_registrations)",
    "api:notification-registration-detail": "reps only (test_victim_registrations)",
    "api:victim-notification-list": "reps only (test_victim_registrations)",
    "api:victim-notification-detail": "reps only (test_victim_registrations)",
    "api:victim-notification-relay": "POST; the case's reps (test_victim_registrations)",
    "new-victim-report-create": "who the policy lets file (test_new_victim_reports)",
    "new-victim-report-list": "readers only (test_new_victim_reports::test_route_permissions)",
    "new-victim-report-detail": "supervisors and reps; 404 + denied (test_new_victim_reports)",
    "new-victim-report-receipt": "the reporter only (test_new_victim_reports)",
    "api:new-victim-report-list": "supervisors and reps read (test_new_victim_reports)",
    "api:new-victim-report-detail": "supervisors and reps read (test_new_victim_reports)",
    "api:new-victim-report-acknowledge": "POST; supervisors, reps (test_new_victim_reports)",
    # Issue 6, items 1 and 2: the victim's record on a case and the officer's
    # acknowledgement of input; every route, each role as a member, of another team, a
    # former member, a guest, the administrator and signed out, with the denied 404s
    # recorded: tests/test_victim_records.py::test_route_permissions (and the writes,
    # person by person, in the same file).
    "victim-create": "the case's reps only (test_victim_records)",
    "victim-link": "the case's reps; their own victims only (test_victim_records)",
    "victim-edit": "the victim's reps only (test_victim_records)",
    "victim-preferences": "the victim's reps only (test_victim_records)",
    "protective-order-create": "the case's reps only (test_victim_records)",
    "victim-input-acknowledge": "POST; decision author / assigned officer (test_victim_records)",
    "api:victim-link": "POST; the case's reps (test_victim_records)",
    "api:victim-input-acknowledge": "POST; author / assigned officer (test_victim_records)",
    "api:victim-preference-list": "the victim's reps only (test_victim_records)",
    "api:victim-preference-detail": "the victim's reps only (test_victim_records)",
    "api:protective-order-list": "who sees the victim; pseudonym (test_victim_records)",
    "api:protective-order-detail": "who sees the victim; pseudonym (test_victim_records)",
    # Issue 7, the agenda (A2): each route, each role as a member, of another team, a
    # guest for one case, signed out and the administrator, in tests/test_agenda.py and
    # tests/test_agenda_api.py (test_route_permissions); each person's copy of an agenda
    # is computed from the policy in tests/test_agenda.py.
    "agenda-add-case": "POST; the meeting's attendees (test_agenda)",
    "agenda-item-minutes": "POST; the team's officer, supervisor (test_agenda)",
    "agenda-item-action": "POST; the team's officer, supervisor (test_agenda)",
    "agenda-action-done": "POST; owner, officer, supervisor (test_agenda)",
    "api:agenda-item-list": "items by the policy; attendees add (test_agenda_api)",
    "api:agenda-item-detail": "items by the policy (test_agenda_api)",
    "api:minute-entry-list": "minutes by level; officer, supervisor write (test_agenda_api)",
    "api:minute-entry-detail": "minutes by level (test_agenda_api)",
    "api:action-item-list": "actions on visible items, one's own (test_agenda_api)",
    "api:action-item-detail": "PATCH: owner, officer, supervisor (test_agenda_api)",
    # Issue 7, meetings (A1): not case records but a team's; seen by its members and its
    # guests. Each route, each role as a member, of another team, a guest, signed out
    # and the administrator, with the denied 404s recorded: test_route_permissions in
    # tests/test_meetings.py (pages) and tests/test_meeting_api.py (API).
    "meeting-list": "one's teams' meetings and one's guest invitations (test_meetings)",
    "meeting-create": "the team's officers and supervisors (test_meetings)",
    "meeting-series-create": "the team's officers and supervisors (test_meetings)",
    "meeting-series-end": "the team's officers, supervisors, the creator (test_meetings)",
    "meeting-detail": "the team's members and the meeting's guests (test_meetings)",
    "meeting-edit": "officers, supervisors, the creator (test_meetings)",
    "meeting-cancel": "officers, supervisors, the creator (test_meetings)",
    "meeting-rsvp": "POST; the people invited (test_meetings)",
    "meeting-attendance": "the team's officers and supervisors (test_meetings)",
    "meeting-ics": "the people invited; team, time, place only (test_meetings)",
    "api:meeting-list": "members and guests (test_meeting_api)",
    "api:meeting-detail": "members and guests; PATCH moves (test_meeting_api)",
    "api:meeting-cancel": "POST; officers, supervisors, the creator (test_meeting_api)",
    "api:meeting-rsvp": "POST; the people invited (test_meeting_api)",
    "api:meeting-attendance": "POST; officers and supervisors (test_meeting_api)",
    "api:meeting-ics": "the people invited (test_meeting_api)",
    "api:meeting-series-list": "the team's members (test_meeting_api)",
    "api:meeting-series-detail": "the team's members (test_meeting_api)",
    "api:meeting-series-end": "POST; officers, supervisors, the creator (test_meeting_api)",
}
EXEMPT_PREFIXES: dict[str, str] = {"admin:": "Django admin (tested separately)"}


def is_exempt(name: str) -> bool:
    return name in EXEMPT or any(name.startswith(prefix) for prefix in EXEMPT_PREFIXES)


def uncovered_routes() -> list[str]:
    missing = []
    for route in walk_routes():
        if route.name is None:
            if not route.pattern.startswith("admin/"):
                missing.append(f"(unnamed) {route.pattern}")
            continue
        if route.name not in ROUTES and not is_exempt(route.name):
            missing.append(f"{route.name} {route.pattern}")
    return sorted(set(missing))
