"""Information on request (issue 6, item 3): a victim asks a question about the case
through the victim representative; the case's officer answers with what may be disclosed;
the representative gives the answer to the victim and records that, and how, it was done.

Who does what (the policy's INFORMATION_REQUEST row: officer and victim representative
write, supervisor reads, treatment and polygraph nothing):

- a victim representative of the case's team (by membership: a guest invited to one case
  reads, but asks nothing) asks, about a victim linked to the case;
- the officer who holds the case answers: the case's assigned officer while they are an
  officer of its team, or, when it has none, any officer of the team. An officer who no
  longer holds the case is told so as a field error, and what they typed stays on the page;
- a victim representative of the case's team records that the answer was relayed.

Due dates count working days (Monday to Friday; public holidays are not counted out):
INFORMATION_REQUEST_WORKING_DAYS after the day it is asked. `remind_overdue` (a Celery beat
task, hourly) reminds the officer once a request is overdue, and the team's supervisors once
INFORMATION_SUPERVISOR_REMINDER_DAYS working days later if it is still unanswered. Each
reminder is claimed by a conditional UPDATE of its `*_reminded_at` column, so a repeated or
concurrent run reminds nobody twice (and each notification carries a key besides).

The database triggers record every write of a request in the audit trail (topic, officer,
due date, who answered and relayed and when; never the question or the answer, which are
case content). What they cannot say is who was told: each notification is recorded as a
NOTIFY event on the request, naming the recipients.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone

from audit.models import Action
from audit.services import record
from casework.decisions import case_representatives
from casework.models import Case
from casework.panels import Panel
from teams.disclosure import CaseAccess, case_access, restrict
from teams.disclosure.policy import Info, codename, write_codename
from teams.disclosure.queries import case_ids_with, team_ids_for
from teams.models import Membership, NotificationKind, User
from teams.notify import notify
from teams.roles import Role
from teams.selectors import team_members
from victims.models import CaseVictim, InformationRequest, RequestTopic, Victim

READ_CODE = codename(Info.INFORMATION_REQUEST)
WRITE_CODE = write_codename(Info.INFORMATION_REQUEST)
TEXT_LIMIT = 5000
# Requests reminded per stage and task run at most; the rest wait for the next run.
REMINDER_BATCH = 500

# What the officer may tell the victim, per topic: shown beside the answer form (and to
# the representative when asking), because the answer goes to the victim as written.
TOPIC_GUIDANCE: dict[str, str] = {
    RequestTopic.SUPERVISION_STATUS: (
        "Say whether the person is under supervision and the case's status (active, "
        "absconded, warrant issued, closed). Not the content of notes or decisions."
    ),
    RequestTopic.COMPLIANCE: (
        "Say in general terms whether the conditions are being followed, and any violation "
        "finding. Nothing from treatment or polygraph examinations."
    ),
    RequestTopic.RESIDENCE_AREA: (
        "Give the area only (town, or part of town), never the street address or any "
        "other detail that locates the person."
    ),
    RequestTopic.END_OF_SUPERVISION: (
        "Give the expected end date of supervision, and say that it can change."
    ),
    RequestTopic.HEARING_DATES: (
        "Give the date, time and court of hearings that are open to the public."
    ),
    RequestTopic.OTHER: (
        "Answer only with what may be disclosed to the victim: nothing from treatment or "
        "polygraph, and no other person's information."
    ),
}
ANSWER_REMINDER = (
    "Your answer goes to the victim, through the victim representative, as you write it. "
    "Write only what may be disclosed to the victim."
)


# --- Working days ----------------------------------------------------------------------


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date `days` working days (Monday to Friday) after `start`: from a Friday, five
    working days is the next Friday; from a Saturday or a Sunday, the Friday after."""
    day = start
    left = days
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def due_date(asked_on: dt.date) -> dt.date:
    return add_working_days(asked_on, settings.INFORMATION_REQUEST_WORKING_DAYS)


def is_overdue(item: InformationRequest, today: dt.date | None = None) -> bool:
    """Unanswered after its due date (the due date itself is still in time)."""
    return item.answered_at is None and item.due_on < (today or timezone.localdate())


def status_of(item: InformationRequest) -> str:
    if item.relayed_at is not None:
        return "relayed"
    if item.answered_at is not None:
        return "answered"
    return "awaiting_answer"


STATUS_LABELS = {
    "awaiting_answer": "Waiting for the officer's answer",
    "answered": "Answered: to relay to the victim",
    "relayed": "Relayed to the victim",
}


# --- Who may do what -------------------------------------------------------------------


def may_read(access: CaseAccess) -> bool:
    return access.has(READ_CODE)


def _writes_as(access: CaseAccess, role: Role) -> bool:
    # The write permission, held through a membership of the case's team in `role`: a
    # guest invited to one case has no role there and writes nothing.
    return access.has(WRITE_CODE) and role in access.roles


def may_ask(access: CaseAccess) -> bool:
    """A victim representative of the case's team asks, and records the relay."""
    return _writes_as(access, Role.VICTIM_REP)


may_relay = may_ask


def is_answering_role(access: CaseAccess) -> bool:
    """An officer of the case's team: whether they hold the case is checked on answering."""
    return _writes_as(access, Role.OFFICER)


def _team_officers(case: Case) -> QuerySet[User]:
    return team_members(case.team_id, Role.OFFICER).order_by("pk")


def holder(case: Case) -> User | None:
    """The officer who holds the case: its assigned officer while they are an officer of
    its team (one query), or None, when any officer of the team answers."""
    if case.assigned_officer_id is None:
        return None
    return _team_officers(case).filter(pk=case.assigned_officer_id).first()


def answerers(case: Case) -> list[User]:
    """Who answers a question on the case, and is told of it."""
    current = holder(case)
    return [current] if current is not None else list(_team_officers(case))


def may_answer(user: Any, access: CaseAccess, current: User | None) -> bool:
    """`current`: the case's holder (see holder()), read once by the caller."""
    return is_answering_role(access) and (current is None or current.pk == user.pk)


# --- Asking ----------------------------------------------------------------------------


def link_to(item: InformationRequest) -> str:
    return reverse("information-request-detail", args=[item.pk])


def _tell(
    item: InformationRequest,
    users: Iterable[User],
    kind: NotificationKind,
    title: str,
    key: str,
    actor: Any,
    **detail: Any,
) -> list[int]:
    """Notify and record who was told (the notification rows name nobody's case)."""
    sent = notify(users, kind, title, link_to(item), key=key)
    recipients = sorted(row.recipient_id for row in sent)
    if recipients:
        record(
            actor,
            Action.NOTIFY,
            target=item,
            detail={"kind": str(kind), "recipients": recipients, **detail},
        )
    return recipients


def ask(
    rep: Any, case: Case, victim: Victim | None, topic: str, question: str
) -> InformationRequest:
    """Record a victim's question, due in INFORMATION_REQUEST_WORKING_DAYS working days,
    and tell the officer who answers it. Bad input raises ValidationError keyed by field,
    and nothing is saved; someone who may not ask on the case gets PermissionDenied."""
    if not may_ask(case_access(rep, case)):
        raise PermissionDenied(
            "Only a victim representative of this case's team asks a question for a victim."
        )
    errors: dict[str, list[str]] = {}
    if victim is None or not CaseVictim.objects.filter(case=case, victim=victim).exists():
        errors["victim"] = ["Choose a victim linked to this case."]
    if topic not in RequestTopic.values:
        errors["topic"] = ["Choose what the question is about from the list."]
    question = (question or "").strip()
    if not question:
        errors["question"] = ["Enter the victim's question."]
    elif len(question) > TEXT_LIMIT:
        errors["question"] = [f"Keep the question under {TEXT_LIMIT} characters."]
    if errors:
        raise ValidationError(errors)
    assert victim is not None
    now = timezone.now()
    with transaction.atomic():
        item = InformationRequest.objects.create(
            case=case,
            victim=victim,
            topic=topic,
            question=question,
            requested_by=rep,
            requested_at=now,
            assigned_officer=holder(case),
            due_on=due_date(timezone.localdate(now)),
        )
        _tell(
            item,
            answerers(case),
            NotificationKind.INFORMATION_REQUESTED,
            f"A victim's question to answer: case {case.reference}",
            f"info-request:{item.pk}",
            rep,
        )
    return item


# --- Answering -------------------------------------------------------------------------


def _locked(item: InformationRequest) -> InformationRequest:
    """Re-read the request under a row lock: of two answers (or relays) at once, the
    second waits for the first and is told it was given."""
    return (
        InformationRequest.objects.select_for_update(of=("self",))
        .select_related("case", "answered_by", "relayed_by")
        .get(pk=item.pk)
    )


def answer(officer: Any, item: InformationRequest, text: str) -> InformationRequest:
    """The officer who holds the case answers, once. An officer of the team who does not
    hold it (it was reassigned since they opened the page) gets a field error and nothing
    is saved; anyone else gets PermissionDenied."""
    with transaction.atomic():
        locked = _locked(item)
        case = locked.case  # read now: who holds the case is decided by this row
        access = case_access(officer, case)
        if not is_answering_role(access):
            raise PermissionDenied("Only the officer who holds the case answers the question.")
        errors: dict[str, list[str]] = {}
        text = (text or "").strip()
        if not text:
            errors["answer"] = ["Enter the answer to give the victim."]
        elif len(text) > TEXT_LIMIT:
            errors["answer"] = [f"Keep the answer under {TEXT_LIMIT} characters."]
        current = holder(case)
        if current is not None and current.pk != officer.pk:
            errors.setdefault("answer", []).append(
                f"You no longer hold this case: it is assigned to {current}, who answers "
                "this question. Nothing was sent."
            )
        if locked.answered_at is not None:
            when = timezone.localtime(locked.answered_at)
            errors[NON_FIELD_ERRORS] = [
                f"This question was already answered by {locked.answered_by} on "
                f"{when:%d %b %Y} at {when:%H:%M}."
            ]
        if errors:
            raise ValidationError(errors)
        locked.answer = text
        locked.answered_by = officer
        locked.answered_at = timezone.now()
        locked.save(update_fields=["answer", "answered_by", "answered_at"])
        _tell(
            locked,
            _representatives(locked),
            NotificationKind.INFORMATION_ANSWERED,
            f"A victim's question was answered: case {case.reference}",
            f"info-answered:{locked.pk}",
            officer,
        )
    for name in ("answer", "answered_by", "answered_at"):
        setattr(item, name, getattr(locked, name))
    return item


def _representatives(item: InformationRequest) -> list[User]:
    """The representative who asked while they still represent victims on the case's
    team; otherwise the representatives of the case's victims."""
    asked = User.objects.filter(
        pk=item.requested_by_id,
        is_active=True,
        pk__in=Membership.objects.active()
        .filter(team_id=item.case.team_id, role=Role.VICTIM_REP)
        .values("user_id"),
    ).first()
    return [asked] if asked is not None else list(case_representatives(item.case))


# --- Relaying --------------------------------------------------------------------------


def relay(rep: Any, item: InformationRequest, note: str) -> InformationRequest:
    """Record that the answer was given to the victim, and how. Once, after the answer."""
    with transaction.atomic():
        locked = _locked(item)
        if not may_relay(case_access(rep, locked.case)):
            raise PermissionDenied(
                "Only a victim representative of this case's team records the relay."
            )
        errors: dict[str, list[str]] = {}
        note = (note or "").strip()
        if not note:
            errors["relay_note"] = [
                "Say how the answer was given to the victim (for example, by phone)."
            ]
        elif len(note) > TEXT_LIMIT:
            errors["relay_note"] = [f"Keep the note under {TEXT_LIMIT} characters."]
        if locked.answered_at is None:
            errors[NON_FIELD_ERRORS] = [
                "The officer has not answered yet: there is nothing to relay."
            ]
        elif locked.relayed_at is not None:
            when = timezone.localtime(locked.relayed_at)
            errors[NON_FIELD_ERRORS] = [
                f"The answer was already relayed by {locked.relayed_by} on {when:%d %b %Y}."
            ]
        if errors:
            raise ValidationError(errors)
        locked.relay_note = note
        locked.relayed_by = rep
        locked.relayed_at = timezone.now()
        locked.save(update_fields=["relay_note", "relayed_by", "relayed_at"])
    for name in ("relay_note", "relayed_by", "relayed_at"):
        setattr(item, name, getattr(locked, name))
    return item


# --- Reminders -------------------------------------------------------------------------


def remind_overdue(now: dt.datetime | None = None) -> dict[str, int]:
    """Remind the officer of each unanswered request past its due date, once; and the
    team's supervisors, once, INFORMATION_SUPERVISOR_REMINDER_DAYS working days after the
    officer's reminder if it is still unanswered. Safe to run twice, or concurrently."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    officers = 0
    due_for_officer = (
        InformationRequest.objects.filter(
            answered_at__isnull=True, officer_reminded_at__isnull=True, due_on__lt=today
        )
        .order_by("due_on", "pk")
        .values_list("pk", flat=True)[:REMINDER_BATCH]
    )
    for pk in list(due_for_officer):
        officers += _remind(pk, now, "officer")
    # Working days are at least as many calendar days: the database narrows the rows to
    # reminders given `span` calendar days ago or more (before the local midnight that
    # starts day today - span + 1), Python counts the working days.
    span = settings.INFORMATION_SUPERVISOR_REMINDER_DAYS
    cutoff = dt.datetime.combine(
        today - dt.timedelta(days=span - 1), dt.time.min, tzinfo=timezone.get_current_timezone()
    )
    candidates = (
        InformationRequest.objects.filter(
            answered_at__isnull=True,
            supervisor_reminded_at__isnull=True,
            officer_reminded_at__lt=cutoff,
        )
        .order_by("officer_reminded_at", "pk")
        .values_list("pk", "officer_reminded_at")[:REMINDER_BATCH]
    )
    supervisors = 0
    for pk, reminded_at in list(candidates):
        if add_working_days(timezone.localdate(reminded_at), span) <= today:
            supervisors += _remind(pk, now, "supervisor")
    return {"officer_reminders": officers, "supervisor_reminders": supervisors}


def _remind(pk: int, now: dt.datetime, stage: str) -> int:
    """Claim one reminder with a conditional UPDATE (a second run, or a second worker,
    finds the column set and claims nothing) and send it in the same transaction."""
    column = f"{stage}_reminded_at"
    with transaction.atomic():
        claimed = InformationRequest.objects.filter(
            pk=pk, answered_at__isnull=True, **{f"{column}__isnull": True}
        ).update(**{column: now})
        if not claimed:
            return 0
        item = InformationRequest.objects.select_related("case").get(pk=pk)
        case = item.case
        if stage == "officer":
            users: list[User] = answerers(case)
            title = f"Overdue: a victim's question on case {case.reference}"
        else:
            users = list(team_members(case.team_id, Role.SUPERVISOR).order_by("pk"))
            title = f"Still unanswered: a victim's question on case {case.reference}"
        _tell(
            item,
            users,
            NotificationKind.INFORMATION_OVERDUE,
            title,
            f"info-overdue:{pk}:{stage}",
            None,
            stage=stage,
            due_on=item.due_on.isoformat(),
        )
    return 1


# --- Reading ---------------------------------------------------------------------------


def requests_for(user: Any) -> QuerySet[InformationRequest]:
    """The requests the user may read (officers, supervisors and victim representatives
    of the case's team, through restrict())."""
    return restrict(InformationRequest.objects.all(), user).select_related(
        "case", "requested_by", "answered_by", "relayed_by"
    )


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    empty: str
    rows: list[InformationRequest]
    total: int


def sections_for(user: Any, roles: set[str], limit: int, *, everything: bool) -> list[Section]:
    """The list page, one section per role the user holds: a representative's requests on
    the cases of their teams (not yet relayed), an officer's to answer (on the cases they
    hold, or that nobody holds, on their teams), a supervisor's overdue ones on their
    teams. `everything` adds the finished ones to the first two."""
    today = timezone.localdate()
    found: list[Section] = []
    base = requests_for(user)
    if Role.VICTIM_REP in roles:
        rows = base.filter(case__team_id__in=team_ids_for(user, roles=(Role.VICTIM_REP,)))
        if not everything:
            rows = rows.filter(relayed_at__isnull=True)
        found.append(
            _section(
                "representative",
                "Questions asked for victims on your cases",
                "No questions waiting for an answer or a relay.",
                rows,
                limit,
            )
        )
    if Role.OFFICER in roles:
        rows = base.filter(
            Q(case__assigned_officer=user) | Q(case__assigned_officer__isnull=True),
            case__team_id__in=team_ids_for(user, roles=(Role.OFFICER,)),
        )
        if not everything:
            rows = rows.filter(answered_at__isnull=True)
        found.append(
            _section(
                "officer",
                "Questions for you to answer",
                "No questions waiting for your answer.",
                rows,
                limit,
            )
        )
    if Role.SUPERVISOR in roles:
        rows = base.filter(
            case__team_id__in=team_ids_for(user, roles=(Role.SUPERVISOR,)),
            answered_at__isnull=True,
            due_on__lt=today,
        )
        found.append(
            _section(
                "supervisor",
                "Overdue questions on your teams",
                "No overdue questions on your teams.",
                rows,
                limit,
            )
        )
    return found


def _section(
    key: str, title: str, empty: str, rows: QuerySet[InformationRequest], limit: int
) -> Section:
    shown = list(rows.order_by("due_on", "pk")[:limit])
    total = len(shown) if len(shown) < limit else rows.count()
    return Section(key, title, empty, shown, total)


def case_panel(case: Case, user: Any, access: CaseAccess) -> Panel:
    """The case page's section of victims' questions (registered with casework.panels):
    for those who read them, the case's questions, each victim by the case's pseudonym
    (the question's own page shows the name the reader may see); for the case's victim
    representatives, the link to ask one. One query, for readers; none otherwise."""
    rows = _case_rows(case) if may_read(access) else []
    today = timezone.localdate()
    for row in rows:
        row.overdue = is_overdue(row, today)  # type: ignore[attr-defined]
        row.status_label = STATUS_LABELS[status_of(row)]  # type: ignore[attr-defined]
    return Panel(
        template="victims/information_request_case_panel.html",
        context={
            "case": case,
            "rows": rows,
            "readable": may_read(access),
            "can_ask": may_ask(access),
        },
    )


def _case_rows(case: Case) -> list[InformationRequest]:
    pseudonym = CaseVictim.objects.filter(
        case_id=OuterRef("case_id"), victim_id=OuterRef("victim_id")
    ).values("pseudonym")[:1]
    return list(
        InformationRequest.objects.filter(case=case)
        .select_related("requested_by")
        .annotate(pseudonym=Subquery(pseudonym))
        .order_by("-requested_at", "-pk")
    )


def asking_cases(user: Any, victim: Victim) -> QuerySet[Case]:
    """The cases of `victim` on which the user may ask a question for them (see may_ask),
    for the victim page. One query."""
    return (
        Case.objects.filter(
            pk__in=case_ids_with(user, WRITE_CODE),
            team_id__in=team_ids_for(user, roles=(Role.VICTIM_REP,)),
            victim_links__victim=victim,
        )
        .order_by("reference")
        .only("pk", "reference")
    )
