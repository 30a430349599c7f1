"""Duty to warn and protect (DESIGN rule 6; issue 5): a report that someone is at risk
from the person under supervision.

Filing alerts the case team's supervisors and the case's victim representatives at once,
in the app and by an e-mail that carries no case content (teams.notify). Until someone
acknowledges it, recording the action taken, the report escalates to every supervisor of
the team each time DUTY_TO_WARN_ESCALATION_MINUTES pass: a Celery beat task
(casework.tasks.escalate_duty_to_warn) calls `escalate_due`, which claims due rows with
`SELECT ... FOR UPDATE SKIP LOCKED`, one report per short transaction.

Why a repeated or concurrent run alerts nobody twice:
- a report is claimed under a row lock and its next escalation moved on in the same
  transaction, so a second run either skips the locked row or finds it no longer due;
- each alert is a DutyToWarnAlert row, unique per (report, recipient, round), and each
  in-app notification carries a key per (report, round, recipient) (teams.notify).

The alert rows are the report's timeline: who was told, when, in which round, whether
the e-mail went out; the notification's read_at says when they opened it.

Who may do what comes from the policy table (Info.DUTY_TO_WARN): writers file and, if
they also read reports, acknowledge; treatment and polygraph (Access.CREATE) file and
learn only that the report was received.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from audit.models import Action
from audit.services import record
from casework.models import AtRisk, Case, DutyToWarn, DutyToWarnAlert, Urgency
from teams.disclosure import CaseAccess, case_access, restrict
from teams.disclosure.policy import Info, codename, write_codename
from teams.models import Notification, NotificationKind, User
from teams.notify import notify
from teams.roles import Role
from teams.selectors import team_members

READ_CODE = codename(Info.DUTY_TO_WARN)
WRITE_CODE = write_codename(Info.DUTY_TO_WARN)
THREAT_MAX_LENGTH = 5000
ACTION_MAX_LENGTH = 5000
# Reports escalated per task run at most; the rest wait for the next run (a minute).
ESCALATION_BATCH = 200


# --- Who may do what ------------------------------------------------------------------


def may_file(access: CaseAccess) -> bool:
    """Whether the user may file a report on this case: the policy's write permission,
    held through a membership of the case's team (a case guest writes nothing)."""
    return access.has(WRITE_CODE)


def may_read(access: CaseAccess) -> bool:
    return access.has(READ_CODE)


def may_acknowledge(access: CaseAccess, report: DutyToWarn) -> bool:
    """A reader who also writes reports, other than the person who filed it: the
    acknowledgement is someone else's confirmation that the report was acted on."""
    return may_read(access) and may_file(access) and report.reporter_id != access.user_id


def escalation_span() -> dt.timedelta:
    return dt.timedelta(minutes=settings.DUTY_TO_WARN_ESCALATION_MINUTES)


# --- Filing ---------------------------------------------------------------------------


def file(reporter: Any, case: Case, at_risk: str, threat: str, urgency: str) -> DutyToWarn:
    """File a report and alert the case's supervisors and victim representatives at once.
    Bad input raises ValidationError keyed by field, and nothing is saved; a user who may
    not file on this case gets PermissionDenied."""
    access = case_access(reporter, case)
    if not may_file(access):
        raise PermissionDenied("Your role on this case does not file duty-to-warn reports.")
    errors: dict[str, list[str]] = {}
    if at_risk not in AtRisk.values:
        errors["at_risk"] = ["Choose who is at risk from the list."]
    if urgency not in Urgency.values:
        errors["urgency"] = ["Choose how urgent it is from the list."]
    threat = (threat or "").strip()
    if not threat:
        errors["threat"] = ["Describe the threat: what may happen, to whom, and when."]
    elif len(threat) > THREAT_MAX_LENGTH:
        errors["threat"] = [f"Keep the description under {THREAT_MAX_LENGTH} characters."]
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    with transaction.atomic():
        report = DutyToWarn.objects.create(
            case=case,
            reporter=reporter,
            at_risk=at_risk,
            threat=threat,
            urgency=urgency,
            next_escalation_at=now + escalation_span(),
        )
        # The threat is case content and stays out of the trail (read by supervisors and
        # by each actor for their own actions): field names and categories only.
        record(
            reporter,
            Action.CREATE,
            target=report,
            case_id=case.pk,
            detail={
                "fields": ["case", "at_risk", "threat", "urgency"],
                "at_risk": at_risk,
                "urgency": urgency,
            },
        )
        recipients = first_recipients(report, case)
        _alert(report, case, recipients, 0, DutyToWarnAlert.Reason.FILED, actor=reporter)
    return report


def _readers(report: DutyToWarn, users: Iterable[User]) -> list[User]:
    """Those of `users` the policy lets read the report, so that nobody is sent a link
    that would answer 404, and nobody outside the policy is told. One query each."""
    readers = []
    for user in {user.pk: user for user in users}.values():
        if user.pk == report.reporter_id:
            continue  # they filed it; they cannot acknowledge it
        if restrict(DutyToWarn.objects.filter(pk=report.pk), user).exists():
            readers.append(user)
    return sorted(readers, key=lambda user: user.pk)


def first_recipients(report: DutyToWarn, case: Case) -> list[User]:
    """The team's supervisors, the team's victim representatives and the representatives
    named on the case's victims (casework reaches them by relation name: it imports
    nothing from the victims app)."""
    candidates = [
        *team_members(case.team_id, Role.SUPERVISOR),
        *team_members(case.team_id, Role.VICTIM_REP),
        *User.objects.filter(
            is_active=True, is_staff=False, represented_victims__case=case
        ).distinct(),
    ]
    return _readers(report, candidates)


def escalation_recipients(report: DutyToWarn, case: Case) -> list[User]:
    """Every supervisor of the case's team."""
    return _readers(report, team_members(case.team_id, Role.SUPERVISOR))


def notification_key(report_id: int, round_: int) -> str:
    """teams.notify adds the recipient's id: one notification per report, round, person."""
    return f"dtw:{report_id}:{round_}"


def link_to(report: DutyToWarn) -> str:
    return reverse("duty-to-warn-detail", args=[report.pk])


def _alert(
    report: DutyToWarn,
    case: Case,
    recipients: list[User],
    round_: int,
    reason: DutyToWarnAlert.Reason,
    actor: Any = None,
) -> list[User]:
    """Record one alert per recipient for this round and notify those not yet alerted in
    it. Runs inside the caller's transaction; returns the people alerted now."""
    alerted: list[User] = []
    for user in recipients:
        try:
            with transaction.atomic():
                DutyToWarnAlert.objects.create(
                    report=report, recipient=user, round=round_, reason=reason
                )
        except IntegrityError:
            continue  # told already in this round
        alerted.append(user)
    if reason == DutyToWarnAlert.Reason.FILED:
        kind = NotificationKind.DUTY_TO_WARN
        title = f"Duty-to-warn report on case {case.reference}"
    else:
        kind = NotificationKind.DUTY_TO_WARN_ESCALATION
        title = (
            f"Not acknowledged (escalation {round_}): duty-to-warn report on case {case.reference}"
        )
    # The in-app notification names the case (its readers see it); the e-mail carries only
    # a generic line and the link (teams.notify). The e-mail goes out last, just before
    # the transaction commits, so that a failure before it leaves nothing half-told.
    created = notify(alerted, kind, title, link_to(report), key=notification_key(report.pk, round_))
    emailed = Notification.objects.filter(
        pk__in=[row.pk for row in created], emailed_at__isnull=False
    ).values("recipient_id")
    DutyToWarnAlert.objects.filter(report=report, round=round_, recipient_id__in=emailed).update(
        emailed=True
    )
    record(
        actor,
        Action.NOTIFY if reason == DutyToWarnAlert.Reason.FILED else Action.ESCALATE,
        target=report,
        case_id=case.pk,
        detail={"round": round_, "reason": str(reason), "recipients": [u.pk for u in alerted]},
    )
    return alerted


# --- Acknowledging --------------------------------------------------------------------


def acknowledge(user: Any, report: DutyToWarn, action_taken: str) -> DutyToWarn:
    """Record who acknowledged the report and what they did; escalation stops. Once only.
    Bad input raises ValidationError keyed by field, and nothing changes."""
    access = case_access(user, report.case)
    if not may_read(access):
        raise PermissionDenied("You cannot see this report.")
    if not may_file(access):
        raise PermissionDenied("Your role on this case does not acknowledge duty-to-warn reports.")
    if report.reporter_id == user.pk:
        raise PermissionDenied(
            "Someone other than the person who filed the report must acknowledge it."
        )
    action_taken = (action_taken or "").strip()
    errors: dict[str, list[str]] = {}
    if not action_taken:
        errors["action_taken"] = ["Say what action you took, or are taking, on this report."]
    elif len(action_taken) > ACTION_MAX_LENGTH:
        errors["action_taken"] = [f"Keep the action under {ACTION_MAX_LENGTH} characters."]
    with transaction.atomic():
        # Two people acknowledging at once: the second waits for the first and is told.
        locked = DutyToWarn.objects.select_for_update().get(pk=report.pk)
        if locked.acknowledged_at is not None:
            when = timezone.localtime(locked.acknowledged_at)
            errors["__all__"] = [
                f"This report was already acknowledged by {locked.acknowledged_by} "
                f"at {when:%H:%M} on {when:%d %b %Y}."
            ]
        if errors:
            raise ValidationError(errors)
        locked.acknowledged_by = user
        locked.acknowledged_at = timezone.now()
        locked.action_taken = action_taken
        locked.next_escalation_at = None
        locked.save(
            update_fields=[
                "acknowledged_by",
                "acknowledged_at",
                "action_taken",
                "next_escalation_at",
            ]
        )
        record(
            user,
            Action.ACKNOWLEDGE,
            target=locked,
            case_id=locked.case_id,
            detail={"fields": ["action_taken"], "escalation_round": locked.escalation_round},
        )
    for name in ("acknowledged_by", "acknowledged_at", "action_taken", "next_escalation_at"):
        setattr(report, name, getattr(locked, name))
    return report


# --- Escalating -----------------------------------------------------------------------


def escalate_due(now: dt.datetime | None = None) -> int:
    """Escalate every unacknowledged report whose time has come, each in its own short
    transaction; returns how many were escalated. Safe to run twice, or concurrently."""
    now = now or timezone.now()
    escalated = 0
    for _ in range(ESCALATION_BATCH):
        with transaction.atomic():
            report = (
                DutyToWarn.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("case")
                .filter(acknowledged_at__isnull=True, next_escalation_at__lte=now)
                .order_by("next_escalation_at", "pk")
                .first()
            )
            if report is None:
                break
            _escalate(report, now)
        escalated += 1
    return escalated


def _escalate(report: DutyToWarn, now: dt.datetime) -> None:
    span = escalation_span()
    assert report.next_escalation_at is not None  # the claim filtered on it
    # Every span after the last, on the same cadence; after an outage (the worker was
    # down), one round now and the next a full span later, not a burst of rounds.
    upcoming = report.next_escalation_at + span
    report.escalation_round += 1
    report.next_escalation_at = upcoming if upcoming > now else now + span
    report.save(update_fields=["escalation_round", "next_escalation_at"])
    _alert(
        report,
        report.case,
        escalation_recipients(report, report.case),
        report.escalation_round,
        DutyToWarnAlert.Reason.ESCALATION,
    )


# --- Reading --------------------------------------------------------------------------


def reports_for(user: Any) -> QuerySet[DutyToWarn]:
    """The reports the user may read."""
    return restrict(DutyToWarn.objects.all(), user).select_related(
        "case", "reporter", "acknowledged_by"
    )


def open_reports(user: Any) -> QuerySet[DutyToWarn]:
    """Unacknowledged reports on the cases the user may read them on, oldest first: the
    supervisor queue's section."""
    return reports_for(user).filter(acknowledged_at__isnull=True).order_by("created_at", "pk")


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    what: str  # "filed", "alerted", "acknowledged"
    who: Any
    round: int = 0
    reason: str = ""
    emailed: bool = False
    read_at: dt.datetime | None = None
    detail: str = ""


def read_times(alerts: Iterable[DutyToWarnAlert]) -> dict[tuple[int, int, int], dt.datetime]:
    """When each alerted person opened the notification, keyed by (report, round,
    recipient): one query for any number of alerts."""
    keys = {
        f"{notification_key(alert.report_id, alert.round)}:{alert.recipient_id}": (
            alert.report_id,
            alert.round,
            alert.recipient_id,
        )
        for alert in alerts
    }
    if not keys:
        return {}
    rows = Notification.objects.filter(key__in=list(keys), read_at__isnull=False).values_list(
        "key", "read_at"
    )
    return {keys[key]: read_at for key, read_at in rows if key in keys and read_at is not None}


def timeline(report: DutyToWarn) -> list[TimelineEntry]:
    """Who was told, when, and what they did: the filing, every alert (with whether the
    e-mail went out and when the person opened it), the acknowledgement."""
    alerts = list(report.alerts.select_related("recipient").order_by("alerted_at", "round", "pk"))
    reads = read_times(alerts)
    entries = [TimelineEntry(report.created_at, "filed", report.reporter)]
    for alert in alerts:
        entries.append(
            TimelineEntry(
                alert.alerted_at,
                "alerted",
                alert.recipient,
                round=alert.round,
                reason=alert.reason,
                emailed=alert.emailed,
                read_at=reads.get((report.pk, alert.round, alert.recipient_id)),
            )
        )
    if report.acknowledged_at is not None:
        entries.append(
            TimelineEntry(
                report.acknowledged_at,
                "acknowledged",
                report.acknowledged_by,
                round=report.escalation_round,
                detail=report.action_taken,
            )
        )
    return sorted(entries, key=lambda entry: entry.at)


def mark_seen(user: Any, report: DutyToWarn) -> int:
    """The reader opened the report (perhaps from the e-mail's link, not the inbox): their
    alerts about it count as read, for the timeline. One conditional UPDATE."""
    return Notification.objects.filter(
        recipient_id=user.pk, link=link_to(report), read_at__isnull=True
    ).update(read_at=timezone.now())


def alerted_count(report: DutyToWarn) -> int:
    """How many people the filing alerted: all the reporter's receipt may say."""
    return report.alerts.filter(round=0).count()
