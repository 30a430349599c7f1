"""Which decisions need a supervisor's approval, touch a victim, or concern a place:
one table, read by the lifecycle (casework.decisions), the forms and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from casework.models import DecisionKind


@dataclass(frozen=True)
class KindRule:
    needs_approval: bool  # a supervisor approves every decision of this kind
    touches_victims: bool  # victim input (or a recorded reason) before it is final
    place: str = ""  # what the decision's place is, if it concerns one


K = DecisionKind
RULES: dict[str, KindRule] = {
    K.RESIDENCE: KindRule(needs_approval=False, touches_victims=True, place="Residence"),
    K.EMPLOYMENT: KindRule(needs_approval=False, touches_victims=True, place="Workplace"),
    K.TRAVEL: KindRule(needs_approval=False, touches_victims=True, place="Travel destination"),
    K.CONTACT_VICTIM: KindRule(needs_approval=True, touches_victims=True),
    K.CONTACT_MINORS: KindRule(needs_approval=True, touches_victims=True),
    K.CHAPERONE: KindRule(needs_approval=True, touches_victims=False),
    K.TREATMENT_CHANGE: KindRule(needs_approval=False, touches_victims=False),
    K.SUPERVISION_LEVEL: KindRule(needs_approval=True, touches_victims=False),
    K.SANCTION: KindRule(needs_approval=False, touches_victims=False),
    K.POLYGRAPH_FOLLOW_UP: KindRule(needs_approval=False, touches_victims=False),
    K.CONDITION_RELEASE: KindRule(needs_approval=True, touches_victims=True),
    K.DISCHARGE: KindRule(needs_approval=True, touches_victims=True),
    K.OTHER: KindRule(needs_approval=False, touches_victims=False),
}


def rule(kind: str) -> KindRule:
    return RULES[kind]


def approval_reasons(decision: Any) -> list[str]:
    """Why this decision needs a supervisor's approval (empty: it does not)."""
    reasons = []
    if decision.community_danger:
        reasons.append("it raises community danger")
    if decision.victim_danger:
        reasons.append("it raises victim danger")
    if decision.relaxes_condition:
        reasons.append("it relaxes a condition of supervision")
    if rule(decision.kind).needs_approval:
        reasons.append(f"every {decision.get_kind_display().lower()} needs approval")
    return reasons


def needs_approval(decision: Any) -> bool:
    return bool(approval_reasons(decision))


def touches_victims(decision: Any) -> bool:
    """Rule 5's kinds, and any decision flagged as raising victim danger."""
    return rule(decision.kind).touches_victims or bool(decision.victim_danger)


def concerns_place(kind: str) -> bool:
    return bool(rule(kind).place)
