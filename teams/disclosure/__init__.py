"""The disclosure policy: what each member of a team may see, record by record.

policy   the table (DESIGN.md section 3) and what is derived from it
queries  `restrict()`, the one way to read protected rows, and per-case access
grants   keeping django-guardian's permission rows in step with teams, memberships,
         case exceptions, restricted records' named members and releases
"""

from teams.disclosure.policy import DisclosureLevel, Info
from teams.disclosure.queries import (
    Audience,
    CaseAccess,
    Protected,
    audience,
    case_access,
    get_visible_or_404,
    may_read_cases,
    restrict,
    team_ids_for,
    visible_case_ids,
    writable_levels,
)

__all__ = [
    "Audience",
    "CaseAccess",
    "DisclosureLevel",
    "Info",
    "Protected",
    "audience",
    "case_access",
    "get_visible_or_404",
    "may_read_cases",
    "restrict",
    "team_ids_for",
    "visible_case_ids",
    "writable_levels",
]
