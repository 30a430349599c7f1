"""The disclosure policy as data: who may see and write which kind of information, at
which disclosure level. DESIGN.md section 3 is this table; nothing else in the code
decides by role. Grants, queries, forms, the "who can see this" panel and the role
cards are all computed from here.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models

from teams.roles import Role


class DisclosureLevel(models.TextChoices):
    TEAM = "team", "Whole team"
    SUPERVISION = "supervision", "Supervision (officer, supervisor, treatment, polygraph)"
    SUPERVISION_AND_VICTIM_SERVICES = (
        "supervision_and_victim_services",
        "Supervision and victim services (officer, supervisor, victim representatives)",
    )
    VICTIM_SERVICES = "victim_services", "Victim services only"
    RESTRICTED = "restricted", "Restricted (author and named members)"


class Info(StrEnum):
    """Kinds of information the policy distinguishes."""

    CASE_SUMMARY = "case_summary"
    SUPERVISION_NOTE = "supervision_note"
    TREATMENT_NOTE = "treatment_note"
    POLYGRAPH_RESULT = "polygraph_result"
    DECISION_DRAFT = "decision_draft"
    DECISION_FINAL = "decision_final"
    VICTIM_IDENTITY = "victim_identity"
    VICTIM_LOCATING = "victim_locating"
    VICTIM_INPUT = "victim_input"
    RELEASE = "release"
    NOTIFICATION_REGISTRATION = "notification_registration"
    DUTY_TO_WARN = "duty_to_warn"
    INPUT_REQUEST = "input_request"
    INFORMATION_REQUEST = "information_request"
    NEW_VICTIM_REPORT = "new_victim_report"
    MEETING_MINUTES = "meeting_minutes"


INFO_LABELS: dict[Info, str] = {
    Info.CASE_SUMMARY: "Case summary (status, conditions, supervision level, officer)",
    Info.SUPERVISION_NOTE: "Supervision notes",
    Info.TREATMENT_NOTE: "Treatment progress notes",
    Info.POLYGRAPH_RESULT: "Polygraph results",
    Info.DECISION_DRAFT: "Decisions not yet final",
    Info.DECISION_FINAL: "Final decisions",
    Info.VICTIM_IDENTITY: "Victim identity (name, relationship)",
    Info.VICTIM_LOCATING: "Victim locating information",
    Info.VICTIM_INPUT: "Victim input",
    Info.RELEASE: "Releases of information (victim consent)",
    Info.NOTIFICATION_REGISTRATION: "Victim notification registration",
    Info.DUTY_TO_WARN: "Duty-to-warn reports",
    Info.INPUT_REQUEST: "Requests for victim input on a proposed decision",
    Info.INFORMATION_REQUEST: "A victim's questions about the case, and the answers",
    Info.NEW_VICTIM_REPORT: "Reports that a possible new victim was disclosed",
    Info.MEETING_MINUTES: "Minutes of a case's discussion at a review meeting",
}


class Access(StrEnum):
    NONE = "none"
    READ = "read"  # every record of the kind, at any level but restricted
    WRITE = "write"  # read as above, and author records of the kind
    BY_LEVEL = "by_level"  # the records whose level names the role
    PSEUDONYM = "pseudonym"  # victim identity replaced by the case's pseudonym
    RELEASE_ONLY = "release_only"  # only what a victim's active release names
    CREATE = "create"  # files records of the kind but does not read them back


ACCESS_LABELS: dict[Access, str] = {
    Access.NONE: "No access",
    Access.READ: "Reads",
    Access.WRITE: "Reads and writes",
    Access.BY_LEVEL: "Reads what the record's disclosure level includes",
    Access.PSEUDONYM: "Sees a pseudonym and the relationship only",
    Access.RELEASE_ONLY: "Only with the victim's release naming them",
    Access.CREATE: "Files them, and sees only that they were received",
}

_O, _S, _V, _T, _P = Role.OFFICER, Role.SUPERVISOR, Role.VICTIM_REP, Role.TREATMENT, Role.POLYGRAPH
A = Access

# DESIGN.md section 3, row by row.
MATRIX: dict[Info, dict[Role, Access]] = {
    Info.CASE_SUMMARY: {_O: A.WRITE, _S: A.READ, _V: A.READ, _T: A.READ, _P: A.READ},
    Info.SUPERVISION_NOTE: {
        _O: A.WRITE,
        _S: A.READ,
        _V: A.BY_LEVEL,
        _T: A.BY_LEVEL,
        _P: A.BY_LEVEL,
    },
    Info.TREATMENT_NOTE: {_O: A.READ, _S: A.READ, _V: A.BY_LEVEL, _T: A.WRITE, _P: A.READ},
    Info.POLYGRAPH_RESULT: {_O: A.READ, _S: A.READ, _V: A.NONE, _T: A.READ, _P: A.WRITE},
    Info.DECISION_DRAFT: {_O: A.WRITE, _S: A.READ, _V: A.NONE, _T: A.NONE, _P: A.NONE},
    Info.DECISION_FINAL: {_O: A.READ, _S: A.READ, _V: A.BY_LEVEL, _T: A.BY_LEVEL, _P: A.BY_LEVEL},
    Info.VICTIM_IDENTITY: {_O: A.READ, _S: A.READ, _V: A.WRITE, _T: A.PSEUDONYM, _P: A.PSEUDONYM},
    Info.VICTIM_LOCATING: {
        _O: A.RELEASE_ONLY,
        _S: A.RELEASE_ONLY,
        _V: A.WRITE,
        _T: A.NONE,
        _P: A.NONE,
    },
    Info.VICTIM_INPUT: {
        _O: A.BY_LEVEL,
        _S: A.BY_LEVEL,
        _V: A.WRITE,
        _T: A.BY_LEVEL,
        _P: A.BY_LEVEL,
    },
    Info.RELEASE: {_O: A.NONE, _S: A.NONE, _V: A.WRITE, _T: A.NONE, _P: A.NONE},
    Info.NOTIFICATION_REGISTRATION: {_O: A.NONE, _S: A.NONE, _V: A.WRITE, _T: A.NONE, _P: A.NONE},
    # Any team member files a report (issue 5); supervisors and victim representatives
    # read and acknowledge; treatment and polygraph learn only that it was received.
    Info.DUTY_TO_WARN: {_O: A.WRITE, _S: A.WRITE, _V: A.WRITE, _T: A.CREATE, _P: A.CREATE},
    # What the officer shares with the representatives when a decision that touches a
    # victim is proposed: its kind and summary, never the draft's worksheet.
    Info.INPUT_REQUEST: {_O: A.WRITE, _S: A.READ, _V: A.READ, _T: A.NONE, _P: A.NONE},
    # A victim's question, asked through the representative and answered by the officer
    # with what may be disclosed; the supervisor reads it to follow up when it is late.
    Info.INFORMATION_REQUEST: {_O: A.WRITE, _S: A.READ, _V: A.WRITE, _T: A.NONE, _P: A.NONE},
    # Treatment and polygraph report a possible new victim; only the case's supervisors
    # and victim representatives read the report (issue 6).
    Info.NEW_VICTIM_REPORT: {_O: A.NONE, _S: A.READ, _V: A.READ, _T: A.CREATE, _P: A.CREATE},
    # Minutes of a case's discussion at a review meeting (issue 7): the officer or the
    # supervisor keeps them, at a level each entry names, like a note.
    Info.MEETING_MINUTES: {
        _O: A.WRITE,
        _S: A.WRITE,
        _V: A.BY_LEVEL,
        _T: A.BY_LEVEL,
        _P: A.BY_LEVEL,
    },
}

# Kinds whose records each carry a disclosure level chosen by their author.
LEVELED: frozenset[Info] = frozenset(
    {
        Info.SUPERVISION_NOTE,
        Info.TREATMENT_NOTE,
        Info.POLYGRAPH_RESULT,
        Info.DECISION_FINAL,
        Info.VICTIM_INPUT,
        Info.MEETING_MINUTES,
    }
)

# Who a level names. `restricted` names nobody by role: only the author and named members.
AUDIENCE: dict[str, frozenset[Role]] = {
    DisclosureLevel.TEAM: frozenset(Role),
    DisclosureLevel.SUPERVISION: frozenset({_O, _S, _T, _P}),
    DisclosureLevel.SUPERVISION_AND_VICTIM_SERVICES: frozenset({_O, _S, _V}),
    DisclosureLevel.VICTIM_SERVICES: frozenset({_V}),
    DisclosureLevel.RESTRICTED: frozenset(),
}

_L = DisclosureLevel
# The levels a role may choose when it writes a record of a kind. A kind/role pair that
# is missing here cannot be written by that role at all.
CHOOSABLE: dict[tuple[Info, Role], tuple[str, ...]] = {
    (Info.SUPERVISION_NOTE, _O): (
        _L.SUPERVISION,
        _L.TEAM,
        _L.SUPERVISION_AND_VICTIM_SERVICES,
        _L.RESTRICTED,
    ),
    (Info.TREATMENT_NOTE, _T): (_L.SUPERVISION, _L.TEAM, _L.RESTRICTED),
    (Info.POLYGRAPH_RESULT, _P): (_L.SUPERVISION, _L.RESTRICTED),
    (Info.DECISION_FINAL, _O): (
        _L.TEAM,
        _L.SUPERVISION,
        _L.SUPERVISION_AND_VICTIM_SERVICES,
        _L.RESTRICTED,
    ),
    (Info.MEETING_MINUTES, _O): (
        _L.TEAM,
        _L.SUPERVISION,
        _L.SUPERVISION_AND_VICTIM_SERVICES,
    ),
    (Info.MEETING_MINUTES, _S): (
        _L.TEAM,
        _L.SUPERVISION,
        _L.SUPERVISION_AND_VICTIM_SERVICES,
    ),
    (Info.VICTIM_INPUT, _V): (
        _L.TEAM,
        _L.SUPERVISION_AND_VICTIM_SERVICES,
        _L.VICTIM_SERVICES,
        _L.RESTRICTED,
    ),
}

# The level a new record of a kind gets when its author does not choose (DESIGN.md).
DEFAULT_LEVEL: dict[Info, str] = {
    Info.SUPERVISION_NOTE: _L.SUPERVISION,
    Info.TREATMENT_NOTE: _L.SUPERVISION,
    Info.POLYGRAPH_RESULT: _L.SUPERVISION,
    Info.DECISION_FINAL: _L.TEAM,
    Info.VICTIM_INPUT: _L.TEAM,
    Info.MEETING_MINUTES: _L.TEAM,
}


# How a record's kind of information follows from one of its fields.
NOTE_KIND_INFO: dict[str, Info] = {
    "supervision": Info.SUPERVISION_NOTE,
    "general": Info.SUPERVISION_NOTE,
    "treatment": Info.TREATMENT_NOTE,
    "polygraph": Info.POLYGRAPH_RESULT,
}
DECISION_STATUS_INFO: dict[str, Info] = {"final": Info.DECISION_FINAL}  # any other: a draft


# What a victim's release of information can name.
class ReleaseCategory(models.TextChoices):
    IDENTITY = "identity", "Identity (name)"
    ADDRESS = "address", "Home address"
    PHONE = "phone", "Phone number"
    EMAIL = "email", "E-mail address"
    EMPLOYER = "employer", "Employer"
    SCHOOL = "school", "School"


# The locating fields each release category opens (VictimLocation field names).
RELEASE_FIELDS: dict[str, tuple[str, ...]] = {
    ReleaseCategory.ADDRESS: ("address_line1", "address_line2", "city", "postal_code"),
    ReleaseCategory.PHONE: ("phone",),
    ReleaseCategory.EMAIL: ("email",),
    ReleaseCategory.EMPLOYER: ("employer",),
    ReleaseCategory.SCHOOL: ("school",),
}
LOCATING_CATEGORIES: tuple[str, ...] = tuple(RELEASE_FIELDS)


def codename(info: Info, level: str | None = None) -> str:
    """The Team object permission that lets a role read `info` (at `level`)."""
    return f"view_{info.value}__{level}" if level else f"view_{info.value}"


def pseudonym_codename() -> str:
    return f"view_{Info.VICTIM_IDENTITY.value}__pseudonym"


def write_codename(info: Info) -> str:
    return f"add_{info.value}"


def role_codenames(role: Role, matrix: dict[Info, dict[Role, Access]] | None = None) -> set[str]:
    """Every Team permission the role's group holds on each team, derived from the table."""
    table = MATRIX if matrix is None else matrix
    granted: set[str] = set()
    for info, row in table.items():
        access = row.get(role, Access.NONE)
        if access in (Access.READ, Access.WRITE):
            if info in LEVELED:
                granted |= {codename(info, lvl) for lvl in AUDIENCE if lvl != _L.RESTRICTED}
            else:
                granted.add(codename(info))
        elif access is Access.BY_LEVEL:
            granted |= {codename(info, lvl) for lvl, roles in AUDIENCE.items() if role in roles}
        elif access is Access.PSEUDONYM:
            granted.add(pseudonym_codename())
        if access in (Access.WRITE, Access.CREATE):
            granted.add(write_codename(info))
    return granted


def widens(info: Info, old: str, new: str) -> bool:
    """Whether moving a record of `info` from level `old` to `new` lets a role read it
    that could not before. Levels are not a ladder (supervision and supervision and
    victim services each include a role the other does not), so this asks whether anyone
    is added, not whether the new list is longer."""
    return bool(set(roles_that_can_read(info, new)) - set(roles_that_can_read(info, old)))


def role_read_codenames(role: Role) -> set[str]:
    """What a guest invited to one case in `role` holds there: the role's reads, none
    of its writes (a guest takes part in one case; they author nothing on it)."""
    return {code for code in role_codenames(role) if not code.startswith("add_")}


def all_team_permissions() -> tuple[tuple[str, str], ...]:
    """(codename, name) of every permission the policy can grant on a team."""
    perms: list[tuple[str, str]] = []
    for info in Info:
        if info in LEVELED:
            for level, label in DisclosureLevel.choices:
                if level != _L.RESTRICTED:
                    perms.append((codename(info, level), f"Read {INFO_LABELS[info]} ({label})"))
        else:
            perms.append((codename(info), f"Read {INFO_LABELS[info]}"))
        perms.append((write_codename(info), f"Write {INFO_LABELS[info]}"))
    perms.append((pseudonym_codename(), "Read victims' pseudonyms and relationship"))
    return tuple(perms)


def choosable_levels(info: Info, roles: set[str] | frozenset[str]) -> list[str]:
    """The levels a person holding `roles` may give a new record of `info`, in the
    table's order (the first is the suggested default)."""
    levels: list[str] = []
    for role in Role:
        if role in roles:
            for level in CHOOSABLE.get((info, role), ()):
                if level not in levels:
                    levels.append(level)
    return levels


def roles_that_can_read(info: Info, level: str | None) -> list[Role]:
    """The roles that see a record of `info` at `level` (restricted: none by role)."""
    wanted = codename(info, level if info in LEVELED else None)
    return [role for role in Role if wanted in role_codenames(role)]
