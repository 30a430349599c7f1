"""Reads of victim information, every one restricted by the disclosure policy."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from casework.models import Case
from casework.panels import Panel
from teams.disclosure import can_see_locating_information, restrict
from victims.models import CaseVictim, Victim, VictimInput, VictimLocation


def victims_for(user: Any) -> QuerySet[Victim]:
    return restrict(Victim.objects.all(), user)


def locations_for(user: Any) -> QuerySet[VictimLocation]:
    return restrict(VictimLocation.objects.all(), user)


def victim_links_for(user: Any) -> QuerySet[CaseVictim]:
    return restrict(CaseVictim.objects.all(), user).select_related("victim", "representative")


def victim_inputs_for(user: Any) -> QuerySet[VictimInput]:
    return restrict(VictimInput.objects.all(), user).select_related("author")


def case_victims_panel(case: Case, user: Any) -> Panel:
    """The victims section of a case page: identity for the team, locating information
    only where the policy allows it, fetched through the policy in one query."""
    links = list(victim_links_for(user).filter(case=case))
    shows_locating = can_see_locating_information(user, case.pk)
    locations: dict[int, VictimLocation] = {}
    if shows_locating and links:
        locations = {
            location.victim_id: location
            for location in locations_for(user).filter(victim_id__in=[v.victim_id for v in links])
        }
    rows = [{"link": link, "location": locations.get(link.victim_id)} for link in links]
    inputs = list(victim_inputs_for(user).filter(case=case))
    return Panel(
        template="victims/case_panel.html",
        context={"victim_rows": rows, "shows_locating": shows_locating, "victim_inputs": inputs},
    )
