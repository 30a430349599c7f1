"""What a supervisor reads of the audit trail: the events of their teams' cases, and
every action of the people on their teams (DESIGN section 3, last row).

Registered with the audit app from CaseworkConfig.ready(); the audit app itself knows
nothing of teams, cases or roles. The filter is built from subqueries, so reading the
trail stays one statement however large the teams are.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from casework.models import Case
from teams.disclosure.queries import may_read_cases, team_ids_for
from teams.models import Membership
from teams.roles import Role


def supervisor_scope(user: Any) -> Q | None:
    # The system administrator reads no case content, whatever memberships the account
    # may also carry (DESIGN rule 8): account events only, from the audit app's own rule.
    if not may_read_cases(user):
        return None
    teams = team_ids_for(user, roles=(Role.SUPERVISOR,))
    cases = Case.objects.order_by().filter(team_id__in=teams).values("pk")
    members = Membership.objects.active().order_by().filter(team_id__in=teams).values("user_id")
    return Q(case_id__in=cases) | Q(actor_id__in=members)
