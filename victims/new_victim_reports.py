"""New-victim disclosures (issue 6, item 5): a treatment provider or polygraph examiner
reports that a possible new victim was disclosed.

Who may do what comes from the policy table (Info.NEW_VICTIM_REPORT): a role whose row
says CREATE or WRITE files reports (treatment and polygraph today), through a
membership of the case's team; a role that reads them (supervisors and victim
representatives) reads every report of the case and acknowledges it; the reporter
learns only that it was received; anyone else (officers included) finds nothing, and an
attempt on a report that exists is recorded as denied (get_visible_or_404).

Filing tells the case's supervisors and victim representatives in the app, and by an
e-mail that carries no content (teams.notify). The description stays out of the audit
trail and of every notification.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from audit.models import Action
from audit.services import record
from casework.models import Case
from teams.disclosure import CaseAccess, case_access, restrict
from teams.disclosure.policy import Info, codename, role_codenames, write_codename
from teams.models import Membership, NotificationKind, User
from teams.notify import notify
from teams.roles import Role
from victims.models import CaseVictim, DisclosureContext, NewVictimReport

READ_CODE = codename(Info.NEW_VICTIM_REPORT)
WRITE_CODE = write_codename(Info.NEW_VICTIM_REPORT)
DESCRIPTION_MAX_LENGTH = 5000


# --- Who may do what ------------------------------------------------------------------


def may_file(access: CaseAccess) -> bool:
    """The policy's write permission (CREATE or WRITE), held through a membership of the
    case's team: a guest invited to one case holds no write permission."""
    return access.has(WRITE_CODE)


def may_read(access: CaseAccess) -> bool:
    return access.has(READ_CODE)


def reader_roles() -> tuple[str, ...]:
    return tuple(role.value for role in Role if READ_CODE in role_codenames(role))


def may_acknowledge(access: CaseAccess, report: NewVictimReport) -> bool:
    """A reader who holds a reading role on the case's team (a guest reads, but takes no
    part in the team's work), other than the reporter."""
    return (
        may_read(access)
        and bool(access.roles & set(reader_roles()))
        and report.reporter_id != access.user_id
    )


# --- Filing ---------------------------------------------------------------------------


def file(
    reporter: Any,
    case: Case,
    context: str,
    disclosed_on: dt.date | None,
    description: str,
) -> NewVictimReport:
    """File a report and tell the case's supervisors and victim representatives. Bad
    input raises ValidationError keyed by field and nothing is saved; a user who may not
    file on this case gets PermissionDenied."""
    if not may_file(case_access(reporter, case)):
        raise PermissionDenied("Your role on this case does not report new victims.")
    errors: dict[str, list[str]] = {}
    if context not in DisclosureContext.values:
        errors["context"] = ["Choose where it was disclosed from the list."]
    if disclosed_on is None:
        errors["disclosed_on"] = ["Enter the date it was disclosed."]
    elif disclosed_on > timezone.localdate():
        errors["disclosed_on"] = ["The date it was disclosed cannot be in the future."]
    description = (description or "").strip()
    if not description:
        errors["description"] = ["Describe what was disclosed about the possible victim."]
    elif len(description) > DESCRIPTION_MAX_LENGTH:
        errors["description"] = [f"Keep the description under {DESCRIPTION_MAX_LENGTH} characters."]
    if errors:
        raise ValidationError(errors)
    assert disclosed_on is not None
    # Saved, and the people told, in one transaction: the write is captured by the
    # trigger; the notifications are keyed, so nobody is told twice.
    with transaction.atomic():
        report = NewVictimReport.objects.create(
            case=case,
            reporter=reporter,
            context=context,
            disclosed_on=disclosed_on,
            description=description,
        )
        told = notify(
            recipients(report, case),
            NotificationKind.NEW_VICTIM_REPORT,
            f"A possible new victim was disclosed on case {case.reference}",
            link_to(report),
            key=f"new-victim-report:{report.pk}",
        )
        record(
            reporter,
            Action.NOTIFY,
            target=report,
            case_id=case.pk,
            detail={"recipients": sorted(row.recipient_id for row in told)},
        )
    return report


def link_to(report: NewVictimReport) -> str:
    return reverse("new-victim-report-detail", args=[report.pk])


def _readers(report: NewVictimReport, users: Iterable[User]) -> list[User]:
    """Those of `users` the policy lets read the report, so that nobody is sent a link
    that would answer 404. One query each."""
    found = []
    for user in {user.pk: user for user in users}.values():
        if user.pk == report.reporter_id:
            continue
        if restrict(NewVictimReport.objects.filter(pk=report.pk), user).exists():
            found.append(user)
    return sorted(found, key=lambda user: user.pk)


def recipients(report: NewVictimReport, case: Case) -> list[User]:
    """The team's members in the roles that read reports (supervisors, victim
    representatives) and the representatives named on the case's victims."""
    members = Membership.objects.active().filter(team_id=case.team_id, role__in=reader_roles())
    named = CaseVictim.objects.filter(case=case).values("representative_id")
    candidates = User.objects.filter(is_active=True, is_staff=False).filter(
        pk__in=members.order_by().values("user_id")
    ) | User.objects.filter(is_active=True, is_staff=False, pk__in=named)
    return _readers(report, candidates.distinct())


# --- Acknowledging --------------------------------------------------------------------


def acknowledge(user: Any, report: NewVictimReport) -> NewVictimReport:
    """Record who took the report in hand. Once only; the second person is told who."""
    if not may_acknowledge(case_access(user, report.case), report):
        raise PermissionDenied("Your role on this case does not acknowledge these reports.")
    now = timezone.now()
    done = NewVictimReport.objects.filter(pk=report.pk, acknowledged_at__isnull=True).update(
        acknowledged_by=user, acknowledged_at=now
    )
    report.refresh_from_db()
    if not done:
        when = timezone.localtime(report.acknowledged_at or now)
        raise ValidationError(
            {
                "__all__": [
                    f"This report was already acknowledged by {report.acknowledged_by} "
                    f"at {when:%H:%M} on {when:%d %b %Y}."
                ]
            }
        )
    return report


# --- Reading --------------------------------------------------------------------------


def reports_for(user: Any) -> QuerySet[NewVictimReport]:
    return restrict(NewVictimReport.objects.all(), user).select_related(
        "case", "reporter", "acknowledged_by"
    )


def open_reports(user: Any) -> QuerySet[NewVictimReport]:
    """Unacknowledged reports the user may read, oldest first (for a dashboard)."""
    return reports_for(user).filter(acknowledged_at__isnull=True).order_by("created_at", "pk")
