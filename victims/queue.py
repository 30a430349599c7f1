"""Reads for the victim representative's queue: requests for input on proposed decisions,
and the place conflicts the blind location check found. Every read goes through
restrict(); the queue page, the dashboard and the API all use these.

A place conflict is shown with the place the officer entered and the decision's kind,
never the rest of the decision (a representative does not read drafts): the fields are
annotated onto the conflict, so no draft row reaches a template or a serializer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)

from casework.models import DecisionKind, DecisionStatus
from teams.disclosure import restrict
from teams.disclosure.queries import team_ids_for
from teams.roles import Role
from victims.models import InputRequest, PlaceConflict, VictimInput
from victims.selectors import victim_links_for, victim_views

CLOSED_STATUSES = (DecisionStatus.FINAL, DecisionStatus.WITHDRAWN)


def _answers(user: Any) -> Exists:
    """Input the user can read, linked to the request's decision."""
    inputs = restrict(VictimInput.objects.all(), user)
    return Exists(inputs.filter(decision_id=OuterRef("decision_id")))


CLOSED = Q(decision__status__in=CLOSED_STATUSES)


def input_requests_for(user: Any) -> QuerySet[InputRequest]:
    """The requests the user may read, each marked `answered` when the user can read
    input linked to its decision, and `decision_closed` once the decision is final or
    withdrawn (all a reader learns of the decision beyond the request itself)."""
    return (
        restrict(InputRequest.objects.all(), user)
        .select_related("case", "case__supervisee", "requested_by")
        .annotate(
            answered=_answers(user),
            decision_closed=ExpressionWrapper(CLOSED, output_field=BooleanField()),
        )
    )


def open_requests(user: Any) -> QuerySet[InputRequest]:
    """Unanswered requests on decisions neither final nor withdrawn."""
    return input_requests_for(user).exclude(CLOSED).exclude(_answers(user))


def answerable_requests(user: Any, case_id: int) -> QuerySet[InputRequest]:
    """The requests on a case the user may answer now (decision neither final nor
    withdrawn), answered or not: more input on a decision is allowed."""
    return input_requests_for(user).filter(case_id=case_id).exclude(CLOSED).order_by("due_at", "id")


def place_conflicts_for(user: Any) -> QuerySet[PlaceConflict]:
    """The conflicts the user may read (victim representatives), with the place the
    officer entered, the decision's kind and the request for input on it, if any."""
    request = restrict(InputRequest.objects.all(), user).filter(decision_id=OuterRef("decision_id"))
    return (
        restrict(PlaceConflict.objects.all(), user)
        .select_related("case", "case__supervisee", "checked_by")
        .annotate(
            decision_kind=F("decision__kind"),
            place_description=F("decision__place_description"),
            place_postal_code=F("decision__place_postal_code"),
            place_latitude=F("decision__place_latitude"),
            place_longitude=F("decision__place_longitude"),
            input_request_id=Subquery(request.values("pk")[:1]),
        )
    )


def representative_team_ids(user: Any) -> QuerySet[Any]:
    """The teams where the user is a victim representative today: the queue is their
    work there (a guest invited to one case reads, but answers nothing)."""
    return team_ids_for(user, roles=(Role.VICTIM_REP,))


@dataclass(frozen=True)
class Queue:
    requests: list[InputRequest]
    request_total: int
    conflicts: list[PlaceConflict]
    conflict_total: int
    victim_names: dict[tuple[int, int], str]  # (case id, victim id) -> name shown

    def victim_name(self, conflict: PlaceConflict) -> str:
        return self.victim_names.get((conflict.case_id, conflict.victim_id), "")


def queue_for(user: Any, limit: int) -> Queue:
    teams = representative_team_ids(user)
    requests = open_requests(user).filter(case__team_id__in=teams).order_by("due_at", "id")
    conflicts = (
        place_conflicts_for(user).filter(case__team_id__in=teams).order_by("-checked_at", "-id")
    )
    shown_conflicts = list(conflicts[:limit])
    return Queue(
        requests=list(requests[:limit]),
        request_total=requests.count(),
        conflicts=shown_conflicts,
        conflict_total=conflicts.count(),
        victim_names=victim_names(user, shown_conflicts),
    )


def victim_names(user: Any, conflicts: Iterable[Any]) -> dict[tuple[int, int], str]:
    """Each conflict's (or other record's with a `case_id` and a `victim_id`) victim by
    the name the user may see (victims.selectors decides, and records the disclosure in
    the victim's ledger)."""
    pairs = {(conflict.case_id, conflict.victim_id) for conflict in conflicts}
    if not pairs:
        return {}
    wanted = Q()
    for case_id, victim_id in pairs:
        wanted |= Q(case_id=case_id, victim_id=victim_id)
    links = list(victim_links_for(user).filter(wanted))
    return {(view.case_id, view.victim.pk): view.display_name for view in victim_views(user, links)}


def decision_label(conflict: PlaceConflict) -> str:
    """The kind of the conflict's decision, as a label (annotated by place_conflicts_for)."""
    kind = getattr(conflict, "decision_kind", "")
    return str(DecisionKind(kind).label) if kind in DecisionKind.values else ""
