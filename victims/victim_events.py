"""Casework events that registered victims hear of, turned into notifications exactly
once (issue 6, item 4).

RULES is the one table: which casework event is which NotificationEvent, and the words
the victim is told (the event and its date, nothing else: no name, no case reference,
no place; a change of residence area says only that the area changed).

Where the events come from: the audit trail. The write-capture triggers
(audit.database) record every INSERT and UPDATE of casework.case and
casework.casedecision with the old and new values of status and of the case's dates
(their `audit_write.values_for`), whatever made the change: the officer's form, the
API, the admin, a bulk `QuerySet.update()`, raw SQL. So a status change made by a bulk
update is an event like any other, and no code path can change a case without the
notifications seeing it. Each run reads the case and decision events of the last
LOOKBACK on the cases that have active registrations.

Why a run twice, or two runs at once, create nothing twice: each notification carries
an `event_key` naming its event (a decision, or the audit event of a status or date
change), and (victim, event_key) is unique in the database. A run skips the keys that
exist and inserts the others one by one; a concurrent run's insert of the same key
fails on the constraint and is skipped, so exactly one run creates it and only that run
delivers it. No high-water mark is kept: re-reading a short window is cheap, and the
constraint, not a mark, is what makes it exactly once.

Which events a registration hears of: those after it was made (or last reactivated),
judged by position in the trail (the registration's own create or reactivation event),
so that registering today does not bring last week's news; if that event was archived,
by the registration's creation time. A victim who no longer wants contact (their
VictimPreferences) gets no new notifications.

End of supervision is one event per case: a discharge decision and the case being
closed share the key `case:<id>:end_of_supervision`, so the victim is told once. A
worker stopped for longer than LOOKBACK misses the events before it; the beat runs the
task every minute.

Delivery: `relay` notifications wait in the representatives' queue
(/victim-services/notifications/) and the case's representatives are told in the app
(NotificationKind.VICTIM_NOTIFICATION; its e-mail carries no case content). `email`
notifications are sent to the registration's address with the message and a signature
only; `emailed_at` records it. A failed send leaves the notification in the relay queue
and tells the representatives.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEvent
from audit.services import record
from casework.models import Case, CaseDecision, CaseStatus, DecisionKind, DecisionStatus
from teams.disclosure.policy import role_codenames
from teams.models import Membership, NotificationKind, User
from teams.notify import notify
from teams.roles import Role
from victims.models import (
    CaseVictim,
    Delivery,
    NotificationEvent,
    NotificationRegistration,
    VictimNotification,
)
from victims.registrations import WRITE_CODE

logger = logging.getLogger(__name__)

LOOKBACK = dt.timedelta(days=7)
CASE_TYPE = Case._meta.label_lower
DECISION_TYPE = CaseDecision._meta.label_lower
REGISTRATION_TYPE = NotificationRegistration._meta.label_lower

EMAIL_SUBJECT = "A notification you asked for"
# The e-mail's whole signature: no one's name, no office, no case.
EMAIL_SIGNATURE = (
    "Victim services\n\n"
    "You receive this because you asked to be told of such events. To stop, or to be "
    "told another way, contact your victim representative."
)


class Trigger(StrEnum):
    DECISION_FINAL = "decision_final"  # a decision of this kind became final
    CASE_STATUS = "case_status"  # the case's status changed to this value
    CASE_DATE = "case_date"  # this date of the case was set (or changed)


@dataclass(frozen=True)
class Rule:
    event: NotificationEvent
    message: str  # what the victim is told; `{date}` is all that is filled in


_E = NotificationEvent
RULES: dict[tuple[Trigger, str], Rule] = {
    (Trigger.DECISION_FINAL, DecisionKind.SANCTION): Rule(
        _E.VIOLATION_FINDING, "A violation of the conditions of supervision was found on {date}."
    ),
    (Trigger.DECISION_FINAL, DecisionKind.RESIDENCE): Rule(
        _E.RESIDENCE_AREA_CHANGE,
        "The residence area of the person under supervision changed on {date}.",
    ),
    (Trigger.DECISION_FINAL, DecisionKind.SUPERVISION_LEVEL): Rule(
        _E.SUPERVISION_LEVEL_CHANGE, "The level of supervision changed on {date}."
    ),
    (Trigger.DECISION_FINAL, DecisionKind.DISCHARGE): Rule(
        _E.END_OF_SUPERVISION, "Supervision ended on {date}."
    ),
    (Trigger.CASE_STATUS, CaseStatus.ABSCONDED): Rule(
        _E.ABSCONDING_OR_WARRANT,
        "The person under supervision was recorded as having absconded on {date}.",
    ),
    (Trigger.CASE_STATUS, CaseStatus.WARRANT): Rule(
        _E.ABSCONDING_OR_WARRANT, "A warrant was issued on {date}."
    ),
    (Trigger.CASE_STATUS, CaseStatus.CLOSED): Rule(
        _E.END_OF_SUPERVISION, "Supervision ended on {date}."
    ),
    # Set or changed (not cleared): the new hearing date is the news.
    (Trigger.CASE_DATE, "next_hearing_on"): Rule(
        _E.HEARING_DATE, "A hearing is scheduled for {date}."
    ),
    # Set where it was empty: a correction of the date is not a second end of treatment.
    (Trigger.CASE_DATE, "treatment_ended_on"): Rule(
        _E.END_OF_TREATMENT, "Treatment ended on {date}."
    ),
}


def spoken(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


@dataclass(frozen=True)
class Found:
    """One casework event that registered victims may hear of."""

    case_id: int
    event: NotificationEvent
    key: str
    message: str
    occurred_at: dt.datetime
    seq: int  # position in the audit trail


# --- Finding events in the trail ------------------------------------------------------


def _values(row: Any) -> dict[str, Any]:
    detail = row["detail"] if isinstance(row["detail"], dict) else {}
    values = detail.get("values")
    return values if isinstance(values, dict) else {}


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _local_day(moment: dt.datetime) -> dt.date:
    return timezone.localdate(moment)


def find_events(since: dt.datetime, after_seq: int = 0) -> list[Found]:
    """The events on cases with active registrations, recorded since `since` and after
    trail position `after_seq`, in trail order."""
    rows: list[Any] = list(
        AuditEvent.objects.filter(
            case_id__in=NotificationRegistration.objects.filter(active=True)
            .order_by()
            .values("case_id"),
            target_type__in=(CASE_TYPE, DECISION_TYPE),
            action__in=(Action.CREATE, Action.UPDATE),
            occurred_at__gte=since,
            seq__gt=after_seq,
        )
        .order_by("seq")
        .values(
            "pk", "seq", "target_type", "target_id", "case_id", "action", "occurred_at", "detail"
        )
    )
    decision_ids = [
        int(row["target_id"])
        for row in rows
        if row["target_type"] == DECISION_TYPE
        and (_values(row).get("status") or {}).get("new") == DecisionStatus.FINAL
    ]
    decisions = {
        values["pk"]: values
        for values in CaseDecision.objects.filter(pk__in=decision_ids).values(
            "pk", "kind", "finalised_at"
        )
    }
    closing = [
        row["case_id"]
        for row in rows
        if row["target_type"] == CASE_TYPE
        and (_values(row).get("status") or {}).get("new") == CaseStatus.CLOSED
    ]
    ends = dict(Case.objects.filter(pk__in=closing).values_list("pk", "supervision_end"))
    found: list[Found] = []
    for row in rows:
        if row["target_type"] == DECISION_TYPE:
            decision = decisions.get(int(row["target_id"]))
            if decision is not None:
                found.extend(_decision_event(row, decision))
        elif row["action"] == Action.UPDATE:
            found.extend(_case_events(row, ends.get(row["case_id"])))
    return found


def _decision_event(row: Any, decision: Any) -> list[Found]:
    rule = RULES.get((Trigger.DECISION_FINAL, decision["kind"]))
    if rule is None:
        return []
    day = _local_day(decision["finalised_at"] or row["occurred_at"])
    key = (
        f"case:{row['case_id']}:end_of_supervision"
        if rule.event == NotificationEvent.END_OF_SUPERVISION
        else f"decision:{decision['pk']}"
    )
    return [_found(row, rule, key, day)]


def _case_events(row: Any, supervision_end: dt.date | None) -> list[Found]:
    values = _values(row)
    case_id = row["case_id"]
    day = _local_day(row["occurred_at"])
    found: list[Found] = []
    status = (values.get("status") or {}).get("new")
    rule = RULES.get((Trigger.CASE_STATUS, status)) if isinstance(status, str) else None
    if rule is not None:
        if rule.event == NotificationEvent.END_OF_SUPERVISION:
            end = _date((values.get("supervision_end") or {}).get("new")) or supervision_end
            # A planned end still ahead is not when it ended: closing the case ends it.
            when = end if end is not None and end <= day else day
            found.append(_found(row, rule, f"case:{case_id}:end_of_supervision", when))
        else:
            key = f"case:{case_id}:status:{status}:{row['pk']}"
            found.append(_found(row, rule, key, day))
    for field in ("next_hearing_on", "treatment_ended_on"):
        change = values.get(field)
        if not isinstance(change, dict):
            continue
        new = _date(change.get("new"))
        if new is None or (field == "treatment_ended_on" and change.get("old") is not None):
            continue
        rule = RULES[(Trigger.CASE_DATE, field)]
        found.append(_found(row, rule, f"case:{case_id}:{field}:{new}:{row['pk']}", new))
    return found


def _found(row: Any, rule: Rule, key: str, day: dt.date) -> Found:
    return Found(
        case_id=int(row["case_id"]),
        event=rule.event,
        key=key,
        message=rule.message.format(date=spoken(day)),
        occurred_at=row["occurred_at"],
        seq=int(row["seq"]),
    )


# --- Matching events to registrations -------------------------------------------------


def _activations(registrations: list[NotificationRegistration]) -> dict[int, int]:
    """Per registration, the trail position of its creation or latest reactivation."""
    if not registrations:
        return {}
    rows = (
        AuditEvent.objects.filter(
            target_type=REGISTRATION_TYPE,
            target_id__in=[str(registration.pk) for registration in registrations],
        )
        .filter(Q(action=Action.CREATE) | Q(action=Action.UPDATE, detail__values__active__new=True))
        .values("target_id")
        .annotate(last=Max("seq"))
        .order_by()
    )
    return {int(row["target_id"]): int(row["last"]) for row in rows if row["last"] is not None}


def _live_registrations() -> list[NotificationRegistration]:
    """Active registrations of victims who have not asked not to be contacted."""
    return list(
        NotificationRegistration.objects.filter(active=True)
        .exclude(victim__preferences__wants_contact=False)
        .order_by("pk")
    )


def pending(now: dt.datetime | None = None) -> list[tuple[NotificationRegistration, Found]]:
    """Each (registration, event) that should be a notification and is not yet one."""
    now = now or timezone.now()
    registrations = _live_registrations()
    if not registrations:
        return []
    activations = _activations(registrations)
    # Events before every registration's start are nobody's news.
    known = [activations[r.pk] for r in registrations if r.pk in activations]
    after = min(known) if len(known) == len(registrations) else 0
    by_case_event: dict[tuple[int, str], list[Found]] = defaultdict(list)
    for found in find_events(now - LOOKBACK, after):
        by_case_event[(found.case_id, found.event)].append(found)
    wanted: list[tuple[NotificationRegistration, Found]] = []
    for registration in registrations:
        start = activations.get(registration.pk)
        for found in by_case_event.get((registration.case_id, registration.event), []):
            if start is not None and found.seq <= start:
                continue
            if start is None and found.occurred_at < registration.created_at:
                continue
            wanted.append((registration, found))
    if not wanted:
        return []
    existing = set(
        VictimNotification.objects.filter(
            victim_id__in={registration.victim_id for registration, _ in wanted},
            event_key__in={found.key for _, found in wanted},
        ).values_list("victim_id", "event_key")
    )
    return [(r, found) for r, found in wanted if (r.victim_id, found.key) not in existing]


def create_notifications(now: dt.datetime | None = None) -> list[VictimNotification]:
    """Create the notifications still missing; returns those this run created (each
    exactly once across runs, see the module's docstring)."""
    created: list[VictimNotification] = []
    for registration, found in pending(now):
        try:
            with transaction.atomic():
                row = VictimNotification.objects.create(
                    registration=registration,
                    case_id=registration.case_id,
                    victim_id=registration.victim_id,
                    event=found.event,
                    message=found.message,
                    event_key=found.key,
                    occurred_at=found.occurred_at,
                    delivery=registration.delivery,
                )
        except IntegrityError:
            continue  # another run created it (or this run, from a twin event)
        created.append(row)
    return created


def notify_victims(now: dt.datetime | None = None) -> int:
    """The task's work: create what is missing and deliver what this run created."""
    created = create_notifications(now)
    for notification in created:
        deliver(notification)
    return len(created)


# --- Delivery -------------------------------------------------------------------------


def email_body(notification: VictimNotification) -> str:
    """The message and the signature: nothing else about the case or anyone."""
    return f"{notification.message}\n\n{EMAIL_SIGNATURE}\n"


def _send(notification: VictimNotification) -> bool:
    address = notification.registration.email
    if not address:
        return False
    message = EmailMessage(subject=EMAIL_SUBJECT, body=email_body(notification), to=[address])
    try:
        sent = get_connection().send_messages([message])
    except OSError as error:
        # Not the exception's text: a mail server's refusal can quote the address.
        logger.warning(
            "victim notification %s could not be e-mailed (%s)",
            notification.pk,
            type(error).__name__,
        )
        return False
    if not sent:
        return False
    now = timezone.now()
    VictimNotification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
        emailed_at=now
    )
    notification.emailed_at = now
    return True


def relayer_roles() -> tuple[str, ...]:
    """The roles that relay notifications (victim representatives), from the policy."""
    return tuple(role.value for role in Role if WRITE_CODE in role_codenames(role))


def representatives(notification: VictimNotification) -> list[User]:
    """The victim's representative on the case, while they hold the role on the team;
    otherwise every representative of the team (someone must relay it)."""
    case = notification.case
    team = User.objects.filter(
        is_active=True,
        is_staff=False,
        pk__in=Membership.objects.active()
        .filter(team_id=case.team_id, role__in=relayer_roles())
        .order_by()
        .values("user_id"),
    ).order_by("pk")
    named = team.filter(
        pk__in=CaseVictim.objects.filter(
            case_id=notification.case_id, victim_id=notification.victim_id
        ).values("representative_id")
    )
    return list(named) or list(team)


def relay_link(notification: VictimNotification) -> str:
    return f"{reverse('victim-notifications')}#victim-notification-{notification.pk}"


def deliver(notification: VictimNotification) -> None:
    """E-mail it if the victim chose e-mail; otherwise, or if sending failed, tell the
    representatives it is theirs to relay."""
    emailed = notification.delivery == Delivery.EMAIL and _send(notification)
    told: list[User] = []
    if not emailed:
        case = Case.objects.get(pk=notification.case_id)
        notification.case = case
        what = (
            "An e-mail to a victim could not be sent; relay it"
            if notification.delivery == Delivery.EMAIL
            else "An event to relay to a victim"
        )
        told = representatives(notification)
        notify(
            told,
            NotificationKind.VICTIM_NOTIFICATION,
            f"{what} (case {case.reference})",
            relay_link(notification),
            key=f"victim-notification:{notification.pk}",
        )
    record(
        None,
        Action.NOTIFY,
        target=notification,
        case_id=notification.case_id,
        victim_id=notification.victim_id,
        detail={
            "event": notification.event,
            "delivery": notification.delivery,
            "emailed": emailed,
            "recipients": [user.pk for user in told],
        },
    )
