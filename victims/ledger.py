"""A victim's disclosure ledger: every time their identity or locating information was
shown, to whom (name, and role on the team at the time), when, what, and under which
release, read from the audit trail's DISCLOSURE events (victims.selectors records one
each time victim_views shows something) and put in words by audit.review.disclosures.

Only the victim representatives of the victim's cases read it (the policy's release
permission, which is theirs alone), and only the events of those cases: a victim linked
to a case of another team has that team's representatives for it, and a reader must not
learn of a case they cannot see. Reading the ledger is itself recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from audit import review
from audit.models import Action, AuditEvent
from audit.services import record
from casework.models import Case
from teams.disclosure.policy import RELEASE_FIELDS, Info, ReleaseCategory, codename
from teams.disclosure.queries import case_ids_with, record_if_hidden
from teams.models import Membership, User
from teams.roles import Role
from victims.models import CaseVictim, Victim

PAGE_SIZE = 200
TRAIL = AuditEvent._meta.label_lower

# What was shown, in the words of the release form: a victim reads "Home address", not
# the four fields it is stored in.
SHOWN_WORDS: dict[str, str] = {
    "identity": "Name",
    **{
        field: str(ReleaseCategory(category).label)
        for category, fields in RELEASE_FIELDS.items()
        for field in fields
    },
}


def ledger_case_ids(user: Any, victim: Victim) -> list[int]:
    """The victim's cases whose ledger the user reads: those where they hold the release
    permission (the case's victim representatives), in one query."""
    return list(
        CaseVictim.objects.filter(
            victim=victim, case_id__in=case_ids_with(user, codename(Info.RELEASE))
        )
        .order_by("case_id")
        .values_list("case_id", flat=True)
    )


def ledger_victim_or_404(user: Any, pk: int) -> tuple[Victim, list[int]]:
    """The victim and the cases of theirs the user represents; anyone else gets the 404 a
    missing victim gets, recorded in the trail as denied when the victim exists."""
    victim = Victim.objects.filter(pk=pk).first()
    case_ids = ledger_case_ids(user, victim) if victim is not None else []
    if victim is None or not case_ids:
        record_if_hidden(Victim, user, pk=pk)
        raise Http404("No victim matches the given query.")
    return victim, case_ids


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    seen_at: dt.datetime
    reader_id: int | None
    reader_name: str
    reader_role: str
    shown: str
    release: str  # in words: "Release #4", or seen in the reader's own role
    release_id: int | None
    case_id: int | None
    case_reference: str
    emergency: bool


@dataclass(frozen=True)
class Ledger:
    victim: Victim
    entries: list[LedgerEntry]
    older: int | None  # `before` for the next (older) page


def disclosure_events(victim: Victim, case_ids: list[int]) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        action=Action.DISCLOSURE, victim_id=victim.pk, case_id__in=case_ids
    )


def ledger(user: Any, victim: Victim, case_ids: list[int], before: int | None = None) -> Ledger:
    """One page of the ledger, newest first: four queries whatever its length (the
    events, their readers, their cases, and the readers' memberships of those cases'
    teams). Records the read."""
    page = review.page_of(disclosure_events(victim, case_ids), before, PAGE_SIZE)
    rows = review.disclosures(page.events, labels=SHOWN_WORDS)
    actor_ids = {row.event.actor_id for row in rows if row.event.actor_id is not None}
    readers = {u.pk: u for u in User.objects.filter(pk__in=actor_ids)} if actor_ids else {}
    event_cases = {row.event.case_id for row in rows if row.event.case_id is not None}
    cases = {
        case.pk: case
        for case in (
            Case.objects.filter(pk__in=event_cases).only("pk", "reference", "team_id")
            if event_cases
            else []
        )
    }
    roles = _roles(actor_ids, {case.team_id for case in cases.values()})
    entries = []
    for row in rows:
        event = row.event
        case = cases.get(event.case_id) if event.case_id is not None else None
        reader = readers.get(event.actor_id) if event.actor_id is not None else None
        release = event.detail.get("release") if isinstance(event.detail, dict) else None
        entries.append(
            LedgerEntry(
                seq=int(event.seq or 0),
                seen_at=event.occurred_at,
                reader_id=event.actor_id,
                reader_name=str(reader) if reader is not None else event.actor_username,
                reader_role=_role_words(event, case, roles),
                shown=row.shown,
                release=row.release,
                release_id=int(release) if isinstance(release, int) else None,
                case_id=event.case_id,
                case_reference=case.reference if case is not None else "",
                emergency=event.emergency,
            )
        )
    record(
        user,
        Action.LIST,
        target_type=TRAIL,
        victim_id=victim.pk,
        detail={
            "ledger": victim.pk,
            "cases": case_ids,
            "before": before,
            "seqs": [entry.seq for entry in entries],
        },
    )
    return Ledger(victim=victim, entries=entries, older=page.older)


Span = tuple[str, dt.date, dt.date | None]


def _roles(actor_ids: set[int], team_ids: set[int]) -> dict[tuple[int, int], list[Span]]:
    """(user, team) -> each (role, from, to) they held, to name the role at a date."""
    found: dict[tuple[int, int], list[Span]] = {}
    if not actor_ids or not team_ids:
        return found
    for user_id, team_id, role, start, end in Membership.objects.filter(
        user_id__in=actor_ids, team_id__in=team_ids
    ).values_list("user_id", "team_id", "role", "active_from", "active_to"):
        found.setdefault((user_id, team_id), []).append((role, start, end))
    return found


def _role_words(
    event: AuditEvent, case: Case | None, roles: dict[tuple[int, int], list[Span]]
) -> str:
    """The reader's role on the case's team on the day they saw it."""
    if event.emergency:
        return "Supervisor, under emergency access"
    if case is None or event.actor_id is None:
        return "Not recorded"
    day = timezone.localdate(event.occurred_at)
    held = {
        role
        for role, start, end in roles.get((event.actor_id, case.team_id), [])
        if start <= day and (end is None or end >= day)
    }
    labels = [str(role.label) for role in Role if role in held]
    return ", ".join(labels) if labels else "Invited to this case (not on its team)"
