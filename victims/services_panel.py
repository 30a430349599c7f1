"""The case page's victim-services section (registered as a casework panel): reporting a
possible new victim (those the policy lets file), the case's new-victim reports (those
who read them), and the victims' notification registrations (the case's victim
representatives alone, DESIGN rule 2). Judged from the case's loaded permissions; a
reader who may see none of it gets no section and costs no query."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from casework.models import Case
from casework.panels import Panel
from teams.disclosure import CaseAccess
from victims import new_victim_reports, registrations
from victims.models import CaseVictim, NewVictimReport, NotificationRegistration


def case_panel(case: Case, user: Any, access: CaseAccess) -> Panel:
    can_file = new_victim_reports.may_file(access)
    reads_reports = new_victim_reports.may_read(access)
    reads_registrations = registrations.may_read(access)
    reports: list[NewVictimReport] = []
    if reads_reports:
        reports = list(
            NewVictimReport.objects.filter(case=case)
            .select_related("reporter", "acknowledged_by")
            .order_by("-created_at", "-id")
        )
    registered: list[dict[str, Any]] = []
    if reads_registrations:
        registered = _registered_victims(case, access)
    return Panel(
        template="victims/case_services_panel.html",
        context={
            "case": case,
            "can_file": can_file,
            "reads_reports": reads_reports,
            "reports": reports,
            "reads_registrations": reads_registrations,
            "registered": registered,
        },
    )


def _registered_victims(case: Case, access: CaseAccess) -> list[dict[str, Any]]:
    """Per victim of the case with active registrations: the case's pseudonym (not the
    name: the victims section above shows who that is, and a second showing would be a
    second entry in the victim's disclosure ledger) and the events. Two queries."""
    events: dict[int, list[NotificationRegistration]] = defaultdict(list)
    for row in NotificationRegistration.objects.filter(case=case, active=True).order_by("event"):
        events[row.victim_id].append(row)
    if not events:
        return []
    links = access.filter(
        CaseVictim.objects.filter(case=case, victim_id__in=list(events)).order_by("pseudonym")
    )
    return [{"link": link, "registrations": events[link.victim_id]} for link in links]
