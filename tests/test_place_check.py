"""The blind location check (issue 5, item 4): a decision's place is compared with the
protected locations of the case's victims, by postal code (ignoring case and spaces) or
within the radius the representative set, when both sides have coordinates. The officer
learns only the PlaceCheck value; the representative gets the details in their queue.

The canary: the victim's every locating field and coordinates hold marker strings, and no
response to the officer or the supervisor on any GET route (pages and API), no e-mail,
no notification and no audit event they may read shows one of them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from audit import database
from audit.models import Action, AuditEvent
from audit.scopes import events_for
from casework.models import Case, CaseDecision, DecisionKind, PlaceCheck
from teams.models import Notification, NotificationKind, User
from teams.roles import Role
from tests import factories as f
from tests.authz import find, walk_routes
from victims.models import PlaceConflict, Victim, VictimLocation
from victims.place_check import NEEDS_A_PLACE, check_place, distance_m, validate_place

pytestmark = pytest.mark.django_db

LOCATING = {
    "address_line1": "PLCK-ADDR1-9x4q",
    "address_line2": "PLCK-ADDR2-9x4q",
    "city": "PLCK-CITY-9x4q",
    "postal_code": "Pq9 4xz",  # the officer enters "pq94xz": the same code, normalised
    "phone": "PLCK-PHONE-9x4q",
    "email": "plck-mail-9x4q@example.org",
    "employer": "PLCK-EMPLOYER-9x4q",
    "school": "PLCK-SCHOOL-9x4q",
}
VICTIM_LAT, VICTIM_LON = Decimal("41.763712"), Decimal("-72.685093")
MARKERS = [*LOCATING.values(), str(VICTIM_LAT), str(VICTIM_LON).lstrip("-")]
# About 500 m and 1,500 m north of the victim (a degree of latitude is ~111.2 km), and
# 34 m west: the officer's place never repeats one of the victim's coordinates.
NEAR_LAT, FAR_LAT, PLACE_LON = Decimal("41.768209"), Decimal("41.777202"), Decimal("-72.685500")
MATCH_LABELS = [str(label) for label in PlaceConflict.MatchedBy.labels]


@dataclass
class World:
    officer: User
    supervisor: User
    rep: User
    treatment: User
    case: Case
    victim: Victim
    location: VictimLocation
    other_victim: Victim  # no coordinates, another postal code


@pytest.fixture
def world() -> World:
    team = f.make_team("Hartford North MDT")
    officer = f.make_member(team, Role.OFFICER)
    rep = f.make_member(team, Role.VICTIM_REP)
    case = f.make_case(team, officer=officer)
    victim = f.make_victim(with_location=False)
    location = VictimLocation.objects.create(
        victim=victim, latitude=VICTIM_LAT, longitude=PLACE_LON, **LOCATING
    )
    f.link_victim(case, victim, pseudonym="Person harmed 1", representative=rep)
    other_victim = f.make_victim()  # postal code 06103, no coordinates
    f.link_victim(case, other_victim, pseudonym="Person harmed 2", representative=rep)
    return World(
        officer=officer,
        supervisor=f.make_member(team, Role.SUPERVISOR),
        rep=rep,
        treatment=f.make_member(team, Role.TREATMENT),
        case=case,
        victim=victim,
        location=location,
        other_victim=other_victim,
    )


def decision_with_place(
    world: World,
    *,
    postal_code: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    kind: DecisionKind = DecisionKind.RESIDENCE,
) -> CaseDecision:
    decision = f.make_decision(world.case, world.officer, kind=kind, summary="Move to new flat")
    decision.place_description = "Flat 2, new building"
    decision.place_postal_code = postal_code
    decision.place_latitude = latitude
    decision.place_longitude = longitude
    decision.save()
    return decision


def check(world: World, decision: CaseDecision) -> str:
    # What the request middleware does for a page: name the actor for the write triggers.
    database.bind_session(world.officer.pk, world.officer.get_username(), "", "", "")
    return check_place(decision, world.officer)


def conflicts(decision: CaseDecision) -> list[tuple[int, str, int | None]]:
    return sorted(
        (c.victim_id, c.matched_by, c.distance_m)
        for c in PlaceConflict.objects.filter(decision=decision)
    )


def web(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def body(response: Any) -> str:
    """The response's text, a streamed one (the audit trail's CSV export) included."""
    content: bytes = (
        b"".join(response.streaming_content) if response.streaming else response.content
    )
    return content.decode(errors="replace")


# --- Finding conflicts -------------------------------------------------------------------


def test_the_same_postal_code_is_a_possible_conflict(world: World) -> None:
    decision = decision_with_place(world, postal_code=" pq94XZ ")
    assert check(world, decision) == PlaceCheck.POSSIBLE_CONFLICT
    decision.refresh_from_db()
    assert decision.place_check == PlaceCheck.POSSIBLE_CONFLICT
    assert decision.place_checked_at is not None
    assert conflicts(decision) == [(world.victim.pk, "postal_code", None)]


def test_a_place_within_the_radius_is_a_possible_conflict(world: World) -> None:
    decision = decision_with_place(world, latitude=NEAR_LAT, longitude=PLACE_LON)
    assert check(world, decision) == PlaceCheck.POSSIBLE_CONFLICT
    [(victim_id, matched_by, distance)] = conflicts(decision)
    assert (victim_id, matched_by) == (world.victim.pk, "radius")
    assert distance is not None and 495 <= distance <= 505


def test_the_radius_is_the_one_the_representative_set(world: World) -> None:
    decision = decision_with_place(world, latitude=FAR_LAT, longitude=PLACE_LON)
    assert check(world, decision) == PlaceCheck.NO_CONFLICT  # 1,500 m; radius 1,000 m
    assert conflicts(decision) == []
    world.location.protection_radius_m = 2000
    world.location.save()
    assert check(world, decision) == PlaceCheck.POSSIBLE_CONFLICT
    assert [c[1] for c in conflicts(decision)] == ["radius"]


def test_a_different_postal_code_is_no_conflict(world: World) -> None:
    decision = decision_with_place(world, postal_code="PQ9 4XY")
    assert check(world, decision) == PlaceCheck.NO_CONFLICT
    assert conflicts(decision) == []


def test_coordinates_on_one_side_only_are_not_compared(world: World) -> None:
    # The other victim has no coordinates: a place right where the first one lives is
    # compared with the first only (and the first is matched).
    decision = decision_with_place(world, latitude=VICTIM_LAT, longitude=PLACE_LON)
    assert check(world, decision) == PlaceCheck.POSSIBLE_CONFLICT
    assert conflicts(decision) == [(world.victim.pk, "radius", 0)]
    # A place with a postal code only, near the first victim's coordinates in reality:
    # without coordinates on the place's side, only the postal codes are compared.
    decision = decision_with_place(world, postal_code="06120")
    assert check(world, decision) == PlaceCheck.NO_CONFLICT


def test_the_postal_code_still_matches_outside_the_radius(world: World) -> None:
    decision = decision_with_place(
        world, postal_code="PQ94XZ", latitude=FAR_LAT, longitude=PLACE_LON
    )
    assert check(world, decision) == PlaceCheck.POSSIBLE_CONFLICT
    [(_, matched_by, distance)] = conflicts(decision)
    assert matched_by == "postal_code" and distance is not None and distance > 1000


def test_each_matching_victim_is_recorded_and_a_recheck_replaces_them(world: World) -> None:
    decision = decision_with_place(world, postal_code="06103")  # the other victim's code
    assert check(world, decision) == PlaceCheck.POSSIBLE_CONFLICT
    assert conflicts(decision) == [(world.other_victim.pk, "postal_code", None)]
    decision.place_postal_code = "pq9 4xz"
    decision.save()
    check(world, decision)
    assert conflicts(decision) == [(world.victim.pk, "postal_code", None)]
    decision.place_postal_code = "99999"
    decision.save()
    assert check(world, decision) == PlaceCheck.NO_CONFLICT
    assert conflicts(decision) == []


def test_distance_is_the_great_circle_distance() -> None:
    # Hartford to New Haven, about 54 km.
    assert 53_000 < distance_m(41.7637, -72.6851, 41.3083, -72.9279) < 55_000
    assert distance_m(0, 0, 0, 0) == 0


# --- Bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("postal_code", "latitude", "longitude", "errors"),
    [
        ("", None, None, {"place_postal_code": [NEEDS_A_PLACE]}),
        ("  ", None, None, {"place_postal_code": [NEEDS_A_PLACE]}),
        (
            "",
            "41.5",
            None,
            {
                "place_longitude": ["Enter both coordinates, or neither."],
                "place_postal_code": [NEEDS_A_PLACE],
            },
        ),
        ("06103", None, "-72.1", {"place_latitude": ["Enter both coordinates, or neither."]}),
        ("", "91", "10", {"place_latitude": ["Enter a number between -90 and 90."]}),
        ("", "10", "-180.5", {"place_longitude": ["Enter a number between -180 and 180."]}),
        ("", "north", "10", {"place_latitude": ["Enter a number."]}),
    ],
)
def test_a_place_needs_a_postal_code_or_both_coordinates(
    postal_code: str, latitude: Any, longitude: Any, errors: dict[str, list[str]]
) -> None:
    with pytest.raises(ValidationError) as raised:
        validate_place(postal_code, latitude, longitude)
    assert raised.value.message_dict == errors


def test_valid_places_pass() -> None:
    validate_place("06103", None, None)
    validate_place("", Decimal("41.5"), Decimal("-72.1"))
    validate_place("", "0", "0")


def test_a_bad_place_changes_nothing(world: World) -> None:
    decision = decision_with_place(world, postal_code="pq94xz")
    check(world, decision)
    before = (conflicts(decision), AuditEvent.objects.count(), Notification.objects.count())
    decision.refresh_from_db()
    checked_at = decision.place_checked_at
    decision.place_postal_code = ""
    decision.place_latitude = Decimal("41.1")  # and no longitude
    with pytest.raises(ValidationError) as raised:
        check(world, decision)
    assert set(raised.value.message_dict) == {"place_postal_code", "place_longitude"}
    decision.refresh_from_db()
    assert (decision.place_check, decision.place_checked_at) == (
        PlaceCheck.POSSIBLE_CONFLICT,
        checked_at,
    )
    assert (conflicts(decision), AuditEvent.objects.count(), Notification.objects.count()) == (
        before
    )


def test_the_decisions_service_runs_the_check_and_refuses_a_bad_place(world: World) -> None:
    from casework import decisions

    data = {"kind": DecisionKind.RESIDENCE, "summary": "Move", "place_postal_code": "PQ9 4XZ"}
    decision = decisions.create_decision(world.officer, world.case, data)
    assert decision.place_check == PlaceCheck.POSSIBLE_CONFLICT
    assert conflicts(decision) == [(world.victim.pk, "postal_code", None)]

    count = CaseDecision.objects.count()
    with pytest.raises(ValidationError) as raised:
        decisions.create_decision(
            world.officer, world.case, {**data, "place_postal_code": "", "summary": "Other"}
        )
    assert raised.value.message_dict["place_postal_code"] == [NEEDS_A_PLACE]
    assert CaseDecision.objects.count() == count


# --- Both sides audited, the representatives told ----------------------------------------


def test_both_sides_of_the_check_are_audited(world: World) -> None:
    decision = decision_with_place(world, latitude=NEAR_LAT, longitude=PLACE_LON)
    check(world, decision)
    # The officer's side: the result only.
    event = AuditEvent.objects.get(action=Action.LOCATION_CHECK)
    assert (event.actor_id, event.case_id, event.victim_id) == (
        world.officer.pk,
        world.case.pk,
        None,
    )
    assert event.detail == {"result": "possible_conflict", "decision": decision.pk}
    # The conflict rows, captured by the write triggers without the victim's id, how it
    # matched or the distance (the officer reads their own actions in the trail).
    conflict = PlaceConflict.objects.get(decision=decision)
    written = AuditEvent.objects.get(
        action=Action.CREATE, target_type="victims.placeconflict", target_id=str(conflict.pk)
    )
    assert (written.actor_id, written.case_id, written.victim_id) == (
        world.officer.pk,
        world.case.pk,
        None,
    )
    assert set(written.detail["values"]) <= {"decision_id", "checked_by_id"}
    # Replacing them is captured too.
    decision.place_latitude, decision.place_longitude = None, None
    decision.place_postal_code = "99999"
    decision.save()
    check(world, decision)
    assert AuditEvent.objects.filter(
        action=Action.DELETE, target_type="victims.placeconflict", target_id=str(conflict.pk)
    ).exists()


def test_the_representatives_are_told_without_content(world: World) -> None:
    mail.outbox = []
    decision = decision_with_place(world, postal_code="pq94xz")
    check(world, decision)
    [note] = Notification.objects.filter(kind=NotificationKind.PLACE_CONFLICT)
    assert note.recipient_id == world.rep.pk
    assert note.link == "/victim-services/queue/#place-conflicts"
    assert [message.to for message in mail.outbox] == [[world.rep.email]]
    message = mail.outbox[0]
    text = f"{message.subject}\n{message.body}"
    assert not find(text, [*MARKERS, "pq94xz", "Flat 2", world.victim.last_name])
    assert "may conflict with a protected location" in message.body
    # No conflict: nobody is told.
    decision.place_postal_code = "99999"
    decision.save()
    check(world, decision)
    assert Notification.objects.filter(kind=NotificationKind.PLACE_CONFLICT).count() == 1


# --- The officer is told the result, never the location ---------------------------------


def _route_params(pattern: str) -> list[str]:
    return re.findall(r"\(\?P<(\w+)>|<(?:\w+:)?(\w+)>", pattern)


def get_urls(objects: dict[str, int]) -> list[str]:
    """Every GET route the project serves without parameters, and each route taking one
    `pk` of an object of this world (chosen by the route's name)."""
    urls = []
    for route in walk_routes():
        name = route.name
        if not name or name.startswith("admin:") or name == "logout":
            continue
        params = ["".join(pair) for pair in _route_params(route.pattern)]
        if not params:
            urls.append(reverse(name))
        elif params == ["pk"]:
            for key, pk in objects.items():
                if key in name:
                    urls.append(reverse(name, kwargs={"pk": pk}))
                    break
    return urls


def audit_text(user: User) -> str:
    rows = list(events_for(user).values())
    return json.dumps(rows, default=str)


@pytest.mark.parametrize("who", ["officer", "supervisor"])
def test_the_officer_and_supervisor_never_see_the_location(world: World, who: str) -> None:
    mail.outbox = []
    by_postal = decision_with_place(world, postal_code="pq94xz")
    by_radius = decision_with_place(
        world, latitude=NEAR_LAT, longitude=PLACE_LON, kind=DecisionKind.TRAVEL
    )
    for decision in (by_postal, by_radius):
        assert check(world, decision) == PlaceCheck.POSSIBLE_CONFLICT
    conflict = PlaceConflict.objects.filter(decision=by_radius).get()
    user = getattr(world, who)
    web_client = web(user)
    api_client = APIClient()
    api_client.force_authenticate(user)
    objects = {
        "decision": by_radius.pk,
        "place-conflict": conflict.pk,
        "victim": world.victim.pk,
        "case": world.case.pk,
    }
    urls = get_urls(objects)
    assert reverse("case-detail", args=[world.case.pk]) in urls
    assert reverse("decision-audience", args=[by_radius.pk]) in urls
    forbidden = [*MARKERS, *MATCH_LABELS]
    for url in urls:
        client = api_client if url.startswith("/api/") else web_client
        response = client.get(url)
        assert response.status_code < 500, f"{who} GET {url}: {response.status_code}"
        # The API's schema documents the choices; it shows no rows.
        leaked = find(body(response), MARKERS if url == reverse("schema") else forbidden)
        assert not leaked, f"{who} GET {url} shows {leaked}"
    assert api_client.get(f"/api/v1/place-conflicts/{conflict.pk}/").status_code == 404
    names = {route.name for route in walk_routes()}
    if "decision-detail" in names:  # the colleague's decision page tells the result
        page = body(web_client.get(reverse("decision-detail", args=[by_postal.pk])))
        assert str(PlaceCheck.POSSIBLE_CONFLICT.label) in page
    # Nothing sent to them, nothing in what they read of the trail.
    notes = Notification.objects.filter(recipient=user)
    assert not notes.filter(kind=NotificationKind.PLACE_CONFLICT).exists()
    assert not find(" ".join(f"{n.title} {n.link}" for n in notes), forbidden)
    outbox = "\n".join(f"{m.subject}\n{m.body}\n{m.to}" for m in mail.outbox)
    assert user.email not in outbox
    assert not find(outbox, MARKERS)
    trail = audit_text(user)
    assert not find(trail, MARKERS)
    for event in events_for(user).filter(target_type="victims.placeconflict"):
        assert "distance_m" not in event.detail.get("values", {})


def test_the_representative_sees_the_details_in_the_queue(world: World) -> None:
    by_postal = decision_with_place(world, postal_code="pq94xz")
    by_radius = decision_with_place(
        world, latitude=NEAR_LAT, longitude=PLACE_LON, kind=DecisionKind.TRAVEL
    )
    check(world, by_postal)
    check(world, by_radius)
    response = web(world.rep).get("/victim-services/queue/")
    page = body(response)
    for decision in (by_postal, by_radius):
        conflict = PlaceConflict.objects.get(decision=decision)
        row = page.split(f'id="place-conflict-{conflict.pk}"')[1].split("</tr>")[0]
        assert world.victim.full_name in row
        assert "Flat 2, new building" in row
        assert decision.get_kind_display() in row
        if decision is by_postal:
            assert "Same postal code" in row and "pq94xz" in row
        else:
            assert "Within the protection radius" in row
            assert f"{conflict.distance_m} m" in row
    event = AuditEvent.objects.get(
        actor=world.rep, action=Action.LIST, target_type="victims.placeconflict"
    )
    assert sorted(event.detail["ids"]) == sorted(
        str(pk) for pk in PlaceConflict.objects.values_list("pk", flat=True)
    )
    # The victim's ledger records that the representative saw who it concerns.
    assert AuditEvent.objects.filter(
        actor=world.rep, action=Action.DISCLOSURE, victim_id=world.victim.pk
    ).exists()

    api_client = APIClient()
    api_client.force_authenticate(world.rep)
    rows = api_client.get("/api/v1/place-conflicts/").json()["results"]
    by_decision = {row["decision"]: row for row in rows}
    radius = by_decision[by_radius.pk]
    assert radius["matched_by"] == "radius" and 495 <= radius["distance_m"] <= 505
    assert radius["victim_name"] == world.victim.full_name
    assert radius["place_latitude"] == str(NEAR_LAT)
    assert by_decision[by_postal.pk]["place_postal_code"] == "pq94xz"


def test_the_officers_trail_does_not_say_which_victim_matched(world: World) -> None:
    decision = decision_with_place(world, postal_code="pq94xz")
    check(world, decision)
    for user in (world.officer, world.supervisor):
        readable = events_for(user).filter(target_type="victims.placeconflict")
        assert readable.exists()  # the check itself is on the record
        assert not readable.filter(victim_id=world.victim.pk).exists()
        for event in readable:
            assert "postal_code" not in str(event.detail.get("values", {}))
            assert "radius" not in str(event.detail.get("values", {}))
