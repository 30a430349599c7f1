"""The blind location check (issue 5, item 4).

When an officer saves the place a residence, employment or travel decision concerns,
`check_place` compares it with the protected locations of the case's victims: the same
postal code (ignoring case and spaces), or, when both sides have coordinates, a distance
within the radius the victim representative set for that location. The officer learns
only the `PlaceCheck` value, whose labels are exactly what they may be told; the details
(which victim, how it matched, how far) go to `PlaceConflict` rows, which only the case's
victim representatives read (their queue, victims.queue_views, and the API).

Nothing this module returns, raises, records for the officer or e-mails carries the
location, the victim or the distance. The one place validation (`validate_place`) is
shared with the decisions service and forms, so both refuse the same input the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import Action
from audit.services import record
from casework.decision_rules import concerns_place
from casework.models import CaseDecision, DecisionStatus, PlaceCheck
from teams.models import Membership, NotificationKind, User
from teams.notify import notify
from teams.roles import Role
from victims.models import CaseVictim, PlaceConflict, VictimLocation

# The decision's fields, as the forms and the API name them.
POSTAL_CODE_FIELD = "place_postal_code"
LATITUDE_FIELD = "place_latitude"
LONGITUDE_FIELD = "place_longitude"

NEEDS_A_PLACE = "Enter a postal code or both coordinates."
EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


def normalise_postal_code(value: str | None) -> str:
    """Postal codes compare without case and spaces: "sw1a 1aa" is "SW1A1AA"."""
    return "".join((value or "").split()).upper()


def _coordinate(value: Any, field: str, limit: int, errors: dict[str, list[str]]) -> Any:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors.setdefault(field, []).append("Enter a number.")
        return None
    if not number.is_finite() or not -limit <= number <= limit:
        errors.setdefault(field, []).append(f"Enter a number between -{limit} and {limit}.")
        return None
    return number


def validate_place(postal_code: str | None, latitude: Any, longitude: Any) -> None:
    """Raise ValidationError (keyed by the decision's place fields) unless the place has
    a postal code or both coordinates, and coordinates on the globe. Used by the
    decisions service and forms as well as by `check_place`."""
    errors: dict[str, list[str]] = {}
    lat = _coordinate(latitude, LATITUDE_FIELD, 90, errors)
    lon = _coordinate(longitude, LONGITUDE_FIELD, 180, errors)
    if errors:
        raise ValidationError(errors)
    if (lat is None) != (lon is None):
        missing = LONGITUDE_FIELD if lon is None else LATITUDE_FIELD
        errors[missing] = ["Enter both coordinates, or neither."]
    if not normalise_postal_code(postal_code) and (lat is None or lon is None):
        errors.setdefault(POSTAL_CODE_FIELD, []).append(NEEDS_A_PLACE)
    if errors:
        raise ValidationError(errors)


def distance_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp = p2 - p1
    dl = math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Match:
    victim_id: int
    matched_by: str
    distance_m: int | None


def _match(decision: CaseDecision, location: VictimLocation) -> Match | None:
    """How the decision's place meets one protected location, if it does."""
    distance: int | None = None
    have_both = None not in (
        decision.place_latitude,
        decision.place_longitude,
        location.latitude,
        location.longitude,
    )
    if have_both:
        exact = distance_m(
            decision.place_latitude,
            decision.place_longitude,
            location.latitude,
            location.longitude,
        )
        distance = round(exact)
        if exact <= location.protection_radius_m:
            return Match(location.victim_id, PlaceConflict.MatchedBy.RADIUS, distance)
    place_code = normalise_postal_code(decision.place_postal_code)
    if place_code and place_code == normalise_postal_code(location.postal_code):
        return Match(location.victim_id, PlaceConflict.MatchedBy.POSTAL_CODE, distance)
    return None


def _matches(decision: CaseDecision) -> list[Match]:
    # Read without restrict() on purpose: the check is blind, run for an officer who may
    # not read these rows; nothing read here leaves this module except as a PlaceConflict.
    locations = VictimLocation.objects.filter(
        victim_id__in=CaseVictim.objects.filter(case_id=decision.case_id).values("victim_id")
    ).order_by("victim_id")
    return [match for location in locations if (match := _match(decision, location))]


def check_place(decision: CaseDecision, actor: Any) -> str:
    """Check the decision's (saved) place against the case's protected locations and
    return the PlaceCheck value: all the officer may learn. Replaces the decision's
    conflict rows, stamps the result on the decision, audits the check for the officer
    (result only) and, on a possible conflict, notifies the case's representatives.

    Raises ValidationError on the place fields for a place with neither a postal code
    nor both coordinates; nothing is changed then. Call it inside the transaction that
    saves the place, so that both stand or fall together."""
    if decision.status in (DecisionStatus.FINAL, DecisionStatus.WITHDRAWN):
        raise ValidationError({NON_FIELD_ERRORS: ["A final or withdrawn decision is not changed."]})
    if not concerns_place(decision.kind):
        raise ValidationError({NON_FIELD_ERRORS: ["This kind of decision has no place."]})
    validate_place(decision.place_postal_code, decision.place_latitude, decision.place_longitude)
    matches = _matches(decision)
    result = PlaceCheck.POSSIBLE_CONFLICT if matches else PlaceCheck.NO_CONFLICT
    now = timezone.now()
    with transaction.atomic():
        # Captured row by row by the write triggers (with the victim's id), so the
        # trail keeps every earlier conflict after it is replaced.
        PlaceConflict.objects.filter(decision=decision).delete()
        PlaceConflict.objects.bulk_create(
            [
                PlaceConflict(
                    case_id=decision.case_id,
                    decision=decision,
                    victim_id=match.victim_id,
                    matched_by=match.matched_by,
                    distance_m=match.distance_m,
                    checked_by=actor,
                    checked_at=now,
                )
                for match in matches
            ]
        )
        decision.place_check = result
        decision.place_checked_at = now
        decision.save(update_fields=["place_check", "place_checked_at"])
        record(
            actor,
            Action.LOCATION_CHECK,
            target=decision,
            case_id=decision.case_id,
            detail={"result": str(result), "decision": decision.pk},
        )
        if matches:
            _notify_representatives(decision, now)
    return str(result)


def _representatives(decision: CaseDecision) -> list[User]:
    """Who is told: the representatives of the case's victims who are victim
    representatives of its team today; when there are none, every victim representative
    of the team. Never only those of the victims that matched: who was told is in the
    trail the officer reads, and must not say which victim lives near the place."""
    reps_today = Membership.objects.active().filter(
        team_id=decision.case.team_id, role=Role.VICTIM_REP
    )
    team_reps = User.objects.filter(is_active=True, pk__in=reps_today.values("user_id"))
    assigned = CaseVictim.objects.filter(case_id=decision.case_id).values("representative_id")
    return list(team_reps.filter(pk__in=assigned).order_by("pk")) or list(team_reps.order_by("pk"))


def _notify_representatives(decision: CaseDecision, at: Any) -> None:
    # The title names the kind of event and the case, as every notification does; the
    # e-mail carries only teams.notify's generic line and the link to the queue.
    notify(
        _representatives(decision),
        NotificationKind.PLACE_CONFLICT,
        f"Possible conflict with a protected location on case {decision.case.reference}",
        reverse("victim-queue") + "#place-conflicts",
        key=f"place-conflict:{decision.pk}:{at.isoformat()}",
    )
