"""The victim's record on a case (issue 6, items 1 and 2): victim representatives add a
victim to a case, link one they represent to another case, edit identity and locating
information, contact preferences and safety concerns, and record protective orders;
victim input carries a kind, and the officer acknowledges input on a pending decision.

Each workflow through the pages and the API; every route for each role, another team, a
former member, a guest and a signed-out visitor; treatment and polygraph see the
pseudonym and the orders' terms, never a name; bad input gives field errors and changes
nothing; the audit trail records each write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent, Outcome
from casework.models import Case, DecisionKind
from teams.disclosure.grants import grant_case_access
from teams.models import Notification, NotificationKind, Team, User
from teams.roles import Role
from tests import factories as f
from victims import services
from victims.models import (
    CaseVictim,
    ProtectiveOrder,
    Victim,
    VictimInput,
    VictimLocation,
    VictimPreferences,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
CONDITIONS = "No contact with the victim\nAttend treatment\nStay out of Hartford County"
NAME = ("Rosalind", "Quimby")  # the victim of team A's case: never shown to treatment
NEW_NAME = ("Marguerite", "Okonkwo")


@dataclass
class World:
    team: Team
    officer: User
    supervisor: User
    rep: User
    treatment: User
    polygraph: User
    other_rep: User  # victim representative of team B
    other_officer: User
    former_rep: User  # team A's representative until yesterday
    guest_rep: User  # invited to team A's case alone, as a victim representative
    admin: User  # the system administrator, a member of team A besides
    case: Case
    case2: Case  # a second case of team A, without victims
    other_case: Case  # team B's
    victim: Victim
    other_victim: Victim

    def by_key(self, key: str) -> User | None:
        return None if key == "anonymous" else getattr(self, key)


@pytest.fixture
def world() -> World:
    team, team_b = f.make_team("Hartford North MDT"), f.make_team("New Haven MDT")
    officer = f.make_member(team, Role.OFFICER)
    rep = f.make_member(team, Role.VICTIM_REP)
    case = f.make_case(team, officer=officer, conditions=CONDITIONS)
    victim = f.make_victim(first_name=NAME[0], last_name=NAME[1])
    f.link_victim(case, victim, pseudonym="Person harmed 1", representative=rep)
    other_rep = f.make_member(team_b, Role.VICTIM_REP)
    other_officer = f.make_member(team_b, Role.OFFICER)
    other_case = f.make_case(team_b, officer=other_officer)
    other_victim = f.make_victim(first_name="Othername", last_name="Elsewhere")
    f.link_victim(other_case, other_victim, pseudonym="Person harmed 1", representative=other_rep)
    former = f.make_user()
    today = timezone.localdate()
    f.make_membership(
        former,
        team,
        Role.VICTIM_REP,
        active_from=today - dt.timedelta(days=90),
        active_to=today - dt.timedelta(days=1),
    )
    supervisor = f.make_member(team, Role.SUPERVISOR)
    guest = f.make_user()
    grant_case_access(guest, case, Role.VICTIM_REP, granted_by=supervisor, reason="Invited")
    admin = f.make_user(is_staff=True)
    f.make_membership(admin, team, Role.VICTIM_REP)
    return World(
        team=team,
        officer=officer,
        supervisor=supervisor,
        rep=rep,
        treatment=f.make_member(team, Role.TREATMENT),
        polygraph=f.make_member(team, Role.POLYGRAPH),
        other_rep=other_rep,
        other_officer=other_officer,
        former_rep=former,
        guest_rep=guest,
        admin=admin,
        case=case,
        case2=f.make_case(team, officer=officer),
        other_case=other_case,
        victim=victim,
        other_victim=other_victim,
    )


def web(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def html(response: Any) -> str:
    content: bytes = response.content
    return content.decode()


def counts() -> tuple[int, ...]:
    return (
        Victim.objects.count(),
        CaseVictim.objects.count(),
        VictimLocation.objects.count(),
        VictimPreferences.objects.count(),
        ProtectiveOrder.objects.count(),
    )


def app_event(**lookup: Any) -> AuditEvent:
    """The one event the service recorded (the database's write capture adds its own)."""
    return AuditEvent.objects.filter(**lookup).exclude(detail__has_key="source").get()


def snapshot(victim: Victim) -> tuple[Any, ...]:
    victim.refresh_from_db()
    location = VictimLocation.objects.filter(victim=victim).values().first()
    return victim.first_name, victim.last_name, victim.relationship_category, location


NEW_VICTIM = {
    "first_name": NEW_NAME[0],
    "last_name": NEW_NAME[1],
    "relationship_category": "family_member",
    "pseudonym": "Person harmed 2",
    "address_line1": "12 Asylum Avenue",
    "city": "Hartford",
    "postal_code": "06105",
    "phone": "860-555-0199",
    "email": "m.okonkwo@example.org",
    "latitude": "41.766100",
    "longitude": "-72.683300",
    "protection_radius_m": "750",
}

# Who may record victims on team A's case, and what everyone else gets: 403 for those
# who see the case, 404 for those who do not (recorded as denied), the sign-in page for a
# visitor.
WRITERS = {"rep"}
CASE_READERS = {"officer", "supervisor", "treatment", "polygraph", "guest_rep"}
OUTSIDERS = {"other_rep", "other_officer", "former_rep", "admin"}
EVERYONE = sorted(WRITERS | CASE_READERS | OUTSIDERS | {"anonymous"})


def expected_page_status(key: str) -> int:
    if key == "anonymous":
        return 302
    if key in WRITERS:
        return 200
    return 403 if key in CASE_READERS else 404


# --- Adding a victim to a case -----------------------------------------------------------


def test_rep_adds_a_victim_through_the_page(world: World) -> None:
    client = web(world.rep)
    url = f"/cases/{world.case.pk}/victims/new/"
    page = html(client.get(url))
    assert '<label for="id_first_name"' in page and '<label for="id_latitude"' in page
    assert 'value="Person harmed 2"' in page  # the next free pseudonym is suggested
    response = client.post(url, NEW_VICTIM)
    assert response.status_code == 302
    victim = Victim.objects.get(first_name=NEW_NAME[0])
    assert response["Location"] == f"/victims/{victim.pk}/"
    link = CaseVictim.objects.get(victim=victim)
    assert (link.case, link.pseudonym, link.representative) == (
        world.case,
        "Person harmed 2",
        world.rep,
    )
    location = VictimLocation.objects.get(victim=victim)
    assert (location.city, str(location.latitude), location.protection_radius_m) == (
        "Hartford",
        "41.766100",
        750,
    )
    event = app_event(action=Action.CREATE, target_type="victims.victim", target_id=str(victim.pk))
    assert event.actor == world.rep and event.case_id == world.case.pk
    assert NEW_NAME[0] not in str(event.detail) and "Asylum" not in str(event.detail)
    # The database's write capture recorded the rows too, without the address.
    captured = AuditEvent.objects.filter(
        target_type="victims.victimlocation", detail__source="database"
    )
    if captured.exists():
        assert "Asylum" not in str(list(captured.values_list("detail", flat=True)))
    page = html(client.get(f"/victims/{victim.pk}/"))
    assert "12 Asylum Avenue" in page and "41.766100" in page and "750 m" in page


def test_a_bad_victim_form_keeps_what_was_typed_and_saves_nothing(world: World) -> None:
    before = counts()
    posted = {
        **NEW_VICTIM,
        "first_name": "",
        "email": "not-an-address",
        "longitude": "",
        "pseudonym": "person harmed 1",  # taken on this case (any capitals)
        "protection_radius_m": "0",
    }
    response = web(world.rep).post(f"/cases/{world.case.pk}/victims/new/", posted)
    assert response.status_code == 400
    page = html(response)
    assert "email" in response.context["form"].errors
    assert 'value="12 Asylum Avenue"' in page  # nothing typed is lost
    assert counts() == before
    # With the form's own checks passed, the service's field errors show on their fields.
    posted.update(email="m@example.org", protection_radius_m="750")
    response = web(world.rep).post(f"/cases/{world.case.pk}/victims/new/", posted)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"first_name", "pseudonym", "longitude"} <= set(errors)
    assert "Person harmed 2" in errors["pseudonym"][0]
    assert counts() == before


@pytest.mark.parametrize("key", EVERYONE)
def test_who_may_add_or_link_a_victim(world: World, key: str) -> None:
    before = counts()
    client = web(world.by_key(key))
    wanted = expected_page_status(key)
    for url in (f"/cases/{world.case.pk}/victims/new/", f"/cases/{world.case.pk}/victims/link/"):
        response = client.get(url)
        assert response.status_code == wanted, (key, url)
        if wanted == 200:
            continue
        response = client.post(url, {**NEW_VICTIM, "victim": world.victim.pk})
        assert response.status_code == wanted, (key, url)
        if wanted == 404:
            assert NAME[0] not in html(response)
    assert counts() == before


def test_rep_adds_a_victim_through_the_api(world: World) -> None:
    payload = {
        "case": world.case.pk,
        "first_name": NEW_NAME[0],
        "last_name": NEW_NAME[1],
        "relationship_category": "stranger",
        "location": {"phone": "860-555-0111", "latitude": "41.7", "longitude": "-72.6"},
    }
    response = api(world.rep).post(f"{API}/victims/", payload, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["first_name"], data["last_name"]) == NEW_NAME
    assert data["location"]["phone"] == "860-555-0111"
    assert data["cases"] == [
        {"case": world.case.pk, "pseudonym": "Person harmed 2", "representative": world.rep.pk}
    ]
    assert VictimLocation.objects.get(victim_id=data["id"]).protection_radius_m == 1000


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"first_name": ""}, "first_name"),
        ({"relationship_category": "neighbour"}, "relationship_category"),
        ({"pseudonym": "Person harmed 1"}, "pseudonym"),
        ({"location": {"email": "nope"}}, "location"),
        ({"location": {"latitude": "41.7"}}, "location"),
        ({"location": {"floor": "3"}}, "location"),
        ({"nickname": "Roz"}, "nickname"),
    ],
)
def test_bad_api_victims_are_field_errors(world: World, change: dict[str, Any], field: str) -> None:
    before = counts()
    payload = {
        "case": world.case.pk,
        "first_name": "A",
        "last_name": "B",
        "relationship_category": "stranger",
        **change,
    }
    response = api(world.rep).post(f"{API}/victims/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert counts() == before


def test_the_latitude_without_longitude_error_names_the_nested_field(world: World) -> None:
    payload = {
        "case": world.case.pk,
        "first_name": "A",
        "last_name": "B",
        "relationship_category": "stranger",
        "location": {"latitude": "41.7"},
    }
    response = api(world.rep).post(f"{API}/victims/", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["location"]) == {"longitude"}


@pytest.mark.parametrize("key", [k for k in EVERYONE if k != "rep"])
def test_only_the_cases_reps_add_victims_through_the_api(world: World, key: str) -> None:
    before = counts()
    payload = {
        "case": world.case.pk,
        "first_name": "A",
        "last_name": "B",
        "relationship_category": "stranger",
    }
    response = api(world.by_key(key)).post(f"{API}/victims/", payload, format="json")
    assert response.status_code in (400, 401, 403)
    assert counts() == before


# --- Linking a victim to another case ------------------------------------------------------


def test_rep_links_a_victim_they_represent_to_another_case(world: World) -> None:
    client = web(world.rep)
    url = f"/cases/{world.case2.pk}/victims/link/"
    page = html(client.get(url))
    assert f"{NAME[0]} {NAME[1]}" in page and world.case.reference in page
    assert "Othername" not in page  # never the agency's other victims
    assert NAME[0] not in html(client.get(url + "?q=nobody-like-this"))
    assert NAME[0] in html(client.get(url + f"?q={NAME[1][:4].lower()}"))
    listed = AuditEvent.objects.filter(actor=world.rep, action=Action.LIST)
    assert listed.filter(target_type="victims.victim", detail__ids=[str(world.victim.pk)]).exists()
    response = client.post(url, {"victim": world.victim.pk, "pseudonym": "Person harmed A"})
    assert response.status_code == 302
    link = CaseVictim.objects.get(case=world.case2, victim=world.victim)
    assert (link.pseudonym, link.representative) == ("Person harmed A", world.rep)
    assert AuditEvent.objects.filter(
        action=Action.CREATE, target_type="victims.casevictim", target_id=str(link.pk)
    ).exists()
    # Now on both cases: the victim page lists both.
    page = html(client.get(f"/victims/{world.victim.pk}/"))
    assert world.case.reference in page and world.case2.reference in page


@pytest.mark.parametrize(
    ("victim", "pseudonym", "field"),
    [("other", "Person harmed 9", "victim"), ("none", "P", "victim"), ("mine", "", "pseudonym")],
)
def test_linking_refuses_with_field_errors(
    world: World, victim: str, pseudonym: str, field: str
) -> None:
    before = counts()
    chosen = {"other": world.other_victim.pk, "none": "", "mine": world.victim.pk}[victim]
    response = web(world.rep).post(
        f"/cases/{world.case2.pk}/victims/link/", {"victim": chosen, "pseudonym": pseudonym}
    )
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert "Othername" not in html(response)
    assert counts() == before


def test_a_victim_already_on_the_case_is_not_linked_twice(world: World) -> None:
    response = api(world.rep).post(
        f"{API}/victims/{world.victim.pk}/link/", {"case": world.case.pk}, format="json"
    )
    assert response.status_code == 400
    assert "already linked" in response.json()["victim"][0]


def test_linking_through_the_api(world: World) -> None:
    response = api(world.rep).post(
        f"{API}/victims/{world.victim.pk}/link/", {"case": world.case2.pk}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert {row["case"] for row in response.json()["cases"]} == {world.case.pk, world.case2.pk}
    # Another team's victim is not there for this representative at all.
    response = api(world.rep).post(
        f"{API}/victims/{world.other_victim.pk}/link/", {"case": world.case2.pk}, format="json"
    )
    assert response.status_code == 404
    # The officer sees the victim but does not link.
    response = api(world.officer).post(
        f"{API}/victims/{world.victim.pk}/link/", {"case": world.case2.pk}, format="json"
    )
    assert response.status_code == 400
    assert CaseVictim.objects.filter(victim=world.victim).count() == 2


# --- Editing identity and locating information ---------------------------------------------


def test_rep_edits_identity_and_locating_information(world: World) -> None:
    client = web(world.rep)
    url = f"/victims/{world.victim.pk}/edit/"
    page = html(client.get(url))
    assert f'value="{NAME[0]}"' in page and 'name="address_line1"' in page
    response = client.post(
        url,
        {
            "first_name": NAME[0],
            "last_name": "Quimby-Hale",
            "relationship_category": "intimate_partner",
            "address_line1": "7 Elm Street",
            "city": "West Hartford",
            "postal_code": "06107",
            "email": "r@example.org",
            "latitude": "41.76",
            "longitude": "-72.74",
            "protection_radius_m": "1500",
        },
    )
    assert response.status_code == 302
    _, last, category, location = snapshot(world.victim)
    assert (last, category) == ("Quimby-Hale", "intimate_partner")
    assert location is not None
    assert (location["address_line1"], location["protection_radius_m"]) == ("7 Elm Street", 1500)
    event = app_event(
        action=Action.UPDATE,
        target_type="victims.victim",
        target_id=str(world.victim.pk),
        actor=world.rep,
    )
    assert event.detail["identity"] == ["last_name", "relationship_category"]
    assert "Elm" not in str(event.detail) and "Quimby" not in str(event.detail)


def test_a_bad_edit_changes_nothing(world: World) -> None:
    before = snapshot(world.victim)
    response = web(world.rep).post(
        f"/victims/{world.victim.pk}/edit/",
        {
            "first_name": NAME[0],
            "last_name": "",
            "relationship_category": "acquaintance",
            "address_line1": "Somewhere new",
            "latitude": "95",
            "longitude": "-72",
            "protection_radius_m": "1000",
        },
    )
    assert response.status_code == 400
    assert {"last_name", "latitude"} <= set(response.context["form"].errors)
    assert 'value="Somewhere new"' in html(response)
    assert snapshot(world.victim) == before


@pytest.mark.parametrize("key", EVERYONE)
def test_who_may_edit_a_victim(world: World, key: str) -> None:
    before = snapshot(world.victim)
    user = world.by_key(key)
    # The victim is seen by everyone who sees the case (the guest included).
    wanted = expected_page_status(key)
    for url in (f"/victims/{world.victim.pk}/edit/", f"/victims/{world.victim.pk}/preferences/"):
        response: Any = web(user).get(url)
        assert response.status_code == wanted, (key, url)
        if wanted != 200:
            response = web(user).post(url, {"first_name": "X", "wants_contact": "no"})
            assert response.status_code == wanted, (key, url)
    api_wanted = {200: 200, 302: 401, 403: 403, 404: 404}[wanted]
    response = api(user).patch(
        f"{API}/victims/{world.victim.pk}/", {"last_name": "Changed"}, format="json"
    )
    assert response.status_code == api_wanted, key
    if api_wanted == 200:
        assert response.json()["last_name"] == "Changed"
        return
    assert snapshot(world.victim) == before
    assert not VictimPreferences.objects.exists()


def test_patching_through_the_api(world: World) -> None:
    client = api(world.rep)
    url = f"{API}/victims/{world.victim.pk}/"
    response = client.patch(
        url, {"location": {"employer": "Aetna", "protection_radius_m": 2000}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["location"]["employer"] == "Aetna"
    assert VictimLocation.objects.get(victim=world.victim).protection_radius_m == 2000
    before = snapshot(world.victim)
    for bad, field in (
        ({"id": 1}, "id"),
        ({"first_name": ""}, "first_name"),
        ({"location": {"longitude": "200"}}, "location"),
        ({"location": {"protection_radius_m": 0}}, "location"),
    ):
        response = client.patch(url, bad, format="json")
        assert response.status_code == 400 and field in response.json(), bad
    assert client.put(url, {"first_name": "Y"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    assert snapshot(world.victim) == before


# --- Contact preferences and safety concerns -----------------------------------------------


def test_rep_records_preferences_and_only_reps_see_them(world: World) -> None:
    concern = "PREF-MARKER: fears the brother of the person under supervision."
    client = web(world.rep)
    response = client.post(
        f"/victims/{world.victim.pk}/preferences/",
        {
            "wants_contact": "no",
            "preferred_method": "phone",
            "preferred_times": "Evenings",
            "safety_concerns": concern,
        },
    )
    assert response.status_code == 302
    prefs = VictimPreferences.objects.get(victim=world.victim)
    assert (prefs.wants_contact, prefs.preferred_method) == (False, "phone")
    page = html(client.get(f"/victims/{world.victim.pk}/"))
    assert concern in page and "nobody contacts them" in page
    for user in (world.officer, world.supervisor, world.treatment, world.polygraph):
        assert concern not in html(web(user).get(f"/victims/{world.victim.pk}/"))
        assert api(user).get(f"{API}/victim-preferences/").json()["results"] == []
        assert api(user).get(f"{API}/victim-preferences/{prefs.pk}/").status_code == 404
    assert api(world.rep).get(f"{API}/victim-preferences/{prefs.pk}/").json()["safety_concerns"]
    assert AuditEvent.objects.filter(
        action=Action.CREATE, target_type="victims.victimpreferences", actor=world.rep
    ).exists()


def test_preferences_through_the_api(world: World) -> None:
    client = api(world.rep)
    url = f"{API}/victim-preferences/"
    response = client.post(url, {"victim": world.victim.pk, "wants_contact": False}, format="json")
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    response = client.post(
        url, {"victim": world.victim.pk, "preferred_times": "Mornings"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["wants_contact"] is False  # kept
    response = client.patch(f"{url}{pk}/", {"safety_concerns": "Dog at home"}, format="json")
    assert response.status_code == 200
    assert client.get(f"{url}?victim={world.victim.pk}").json()["count"] == 1
    # The other team's representative cannot reach this victim's preferences.
    other = api(world.other_rep)
    assert other.get(f"{url}{pk}/").status_code == 404
    response = other.post(url, {"victim": world.victim.pk}, format="json")
    assert response.status_code == 400 and "victim" in response.json()
    assert (
        api(world.officer).patch(f"{url}{pk}/", {"safety_concerns": "x"}, format="json").status_code
        == 404
    )
    assert VictimPreferences.objects.get(pk=pk).safety_concerns == "Dog at home"


def test_a_way_of_contact_needs_what_it_uses(world: World) -> None:
    VictimLocation.objects.filter(victim=world.victim).update(email="")
    before = counts()
    response: Any = api(world.rep).post(
        f"{API}/victim-preferences/",
        {"victim": world.victim.pk, "preferred_method": "email", "unknown": 1},
        format="json",
    )
    assert response.status_code == 400 and "unknown" in response.json()
    response = api(world.rep).post(
        f"{API}/victim-preferences/",
        {"victim": world.victim.pk, "preferred_method": "email"},
        format="json",
    )
    assert response.status_code == 400
    assert "e-mail address" in response.json()["preferred_method"][0]
    response = web(world.rep).post(
        f"/victims/{world.victim.pk}/preferences/",
        {"wants_contact": "yes", "preferred_method": "email", "preferred_times": "Noon"},
    )
    assert response.status_code == 400
    assert "preferred_method" in response.context["form"].errors
    assert 'value="Noon"' in html(response)
    assert counts() == before


# --- Protective and no-contact orders ------------------------------------------------------

TODAY = timezone.localdate()
ORDER = {
    "kind": "no_contact",
    "court": "Hartford Superior Court",
    "order_number": "HHD-CR24-0001",
    "issued_on": (TODAY - dt.timedelta(days=200)).isoformat(),
    "expires_on": (TODAY + dt.timedelta(days=500)).isoformat(),
    "terms": "ORDER-TERMS-MARKER: no contact in person, by phone or online.",
    "related_condition": "No contact with the victim",
}


def test_rep_records_an_order_and_the_team_sees_it(world: World) -> None:
    client = web(world.rep)
    url = f"/cases/{world.case.pk}/protective-orders/new/"
    page = html(client.get(url + f"?victim={world.victim.pk}"))
    assert "Stay out of Hartford County" in page  # the case's conditions are offered
    response = client.post(url, {**ORDER, "victim": world.victim.pk})
    assert response.status_code == 302
    order = ProtectiveOrder.objects.get()
    assert (order.victim, order.related_condition, order.created_by) == (
        world.victim,
        "No contact with the victim",
        world.rep,
    )
    event = app_event(action=Action.CREATE, target_type="victims.protectiveorder", actor=world.rep)
    assert event.victim_id == world.victim.pk and "MARKER" not in str(event.detail)
    # Officers enforce it: the case page shows it with the victim's name.
    for user in (world.officer, world.supervisor, world.rep):
        page = html(web(user).get(f"/cases/{world.case.pk}/"))
        assert "ORDER-TERMS-MARKER" in page and f"{NAME[0]} {NAME[1]}" in page
    # Treatment and polygraph: the terms under the pseudonym, never a name.
    for user in (world.treatment, world.polygraph):
        for url in (f"/cases/{world.case.pk}/", f"/victims/{world.victim.pk}/"):
            page = html(web(user).get(url))
            assert "ORDER-TERMS-MARKER" in page and "Person harmed 1" in page, url
            assert NAME[0] not in page and NAME[1] not in page, url
    # Another team sees nothing of it.
    assert "ORDER-TERMS-MARKER" not in html(web(world.other_rep).get("/"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"related_condition": "Curfew at 9 pm"}, "related_condition"),
        ({"expires_on": (TODAY - dt.timedelta(days=300)).isoformat()}, "expires_on"),
        ({"terms": ""}, "terms"),
        ({"kind": ""}, "kind"),
        ({"issued_on": ""}, "issued_on"),
        ({"victim": ""}, "victim"),
    ],
)
def test_bad_orders_are_field_errors(world: World, change: dict[str, Any], field: str) -> None:
    before = counts()
    posted = {**ORDER, "victim": world.victim.pk, **change}
    response: Any = web(world.rep).post(f"/cases/{world.case.pk}/protective-orders/new/", posted)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert "Hartford Superior Court" in html(response)
    api_posted = {**posted, "case": world.case.pk}
    api_posted = {k: v for k, v in api_posted.items() if v != "" or k in ("terms",)}
    response = api(world.rep).post(f"{API}/protective-orders/", api_posted, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert counts() == before


def test_an_order_for_a_victim_of_another_case_is_refused(world: World) -> None:
    response = api(world.rep).post(
        f"{API}/protective-orders/",
        {**ORDER, "case": world.case2.pk, "victim": world.victim.pk},
        format="json",
    )
    assert response.status_code == 400 and "victim" in response.json()
    assert not ProtectiveOrder.objects.exists()


def test_orders_through_the_api(world: World) -> None:
    payload = {**ORDER, "case": world.case.pk, "victim": world.victim.pk}
    response = api(world.rep).post(f"{API}/protective-orders/", payload, format="json")
    assert response.status_code == 201, response.json()
    order_id = response.json()["id"]
    assert response.json()["active"] is True
    for user, name in (
        (world.officer, f"{NAME[0]} {NAME[1]}"),
        (world.supervisor, f"{NAME[0]} {NAME[1]}"),
        (world.treatment, "Person harmed 1"),
        (world.polygraph, "Person harmed 1"),
        (world.guest_rep, f"{NAME[0]} {NAME[1]}"),
    ):
        client = api(user)
        listed = client.get(f"{API}/protective-orders/?case={world.case.pk}").json()["results"]
        assert [row["id"] for row in listed] == [order_id]
        detail = client.get(f"{API}/protective-orders/{order_id}/")
        assert detail.status_code == 200
        assert detail.json()["victim_name"] == name
        assert "ORDER-TERMS-MARKER" in detail.json()["terms"]
        if user in (world.treatment, world.polygraph):
            assert NAME[0] not in html(detail) and NAME[1] not in html(detail)
    for user in (world.other_rep, world.other_officer, world.former_rep):
        assert api(user).get(f"{API}/protective-orders/").json()["results"] == []
        assert api(user).get(f"{API}/protective-orders/{order_id}/").status_code == 404
    assert api(None).get(f"{API}/protective-orders/").status_code == 401
    assert AuditEvent.objects.filter(
        action=Action.VIEW, target_type="victims.protectiveorder", actor=world.treatment
    ).exists()
    listed_event = AuditEvent.objects.filter(
        action=Action.LIST, target_type="victims.protectiveorder", actor=world.officer
    ).first()
    assert listed_event is not None and listed_event.detail["ids"] == [str(order_id)]


@pytest.mark.parametrize("key", [k for k in EVERYONE if k != "rep"])
def test_only_the_cases_reps_record_orders(world: World, key: str) -> None:
    user = world.by_key(key)
    response: Any = web(user).post(
        f"/cases/{world.case.pk}/protective-orders/new/", {**ORDER, "victim": world.victim.pk}
    )
    assert response.status_code == expected_page_status(key)
    payload = {**ORDER, "case": world.case.pk, "victim": world.victim.pk}
    response = api(user).post(f"{API}/protective-orders/", payload, format="json")
    assert response.status_code in (400, 401, 403)
    for method in ("put", "patch", "delete"):
        assert getattr(api(world.rep), method)(f"{API}/protective-orders/1/").status_code in (
            404,
            405,
        )
    assert not ProtectiveOrder.objects.exists()


# --- Victim input: its kind, and the officer's acknowledgement -------------------------------


def proposed_decision(world: World) -> Any:
    decision = f.make_decision(
        world.case, world.officer, kind=DecisionKind.RESIDENCE, status="proposed"
    )
    f.make_input_request(decision, summary="Move to an apartment on Park Street")
    return decision


def test_input_kinds_through_the_form(world: World) -> None:
    client = web(world.rep)
    url = f"/cases/{world.case.pk}/victim-input/new/"
    page = html(client.get(url))
    assert 'value="safety_concern"' in page and 'value="decision_input"' not in page
    response = client.post(
        url,
        {"body": "Afraid of the bus stop.", "kind": "safety_concern", "disclosure_level": "team"},
    )
    assert response.status_code == 302
    assert VictimInput.objects.get(body="Afraid of the bus stop.").kind == "safety_concern"
    # With a decision to answer, the kinds and the decision go together.
    decision = proposed_decision(world)
    page = html(client.get(url))
    assert 'value="decision_input"' in page
    before = VictimInput.objects.count()
    for posted, field in (
        ({"kind": "decision_input"}, "decision"),
        ({"kind": "information", "decision": decision.pk}, "kind"),
    ):
        response = client.post(url, {"body": "Typed text", "disclosure_level": "team", **posted})
        assert response.status_code == 400
        assert field in response.context["form"].errors, posted
        assert "Typed text" in html(response)
    assert VictimInput.objects.count() == before
    response = client.post(
        url,
        {
            "body": "Park Street is near her work.",
            "kind": "decision_input",
            "decision": decision.pk,
            "disclosure_level": "team",
        },
    )
    assert response.status_code == 302
    assert VictimInput.objects.get(decision=decision).kind == "decision_input"


def test_input_kinds_through_the_api(world: World) -> None:
    client = api(world.rep)
    url = f"{API}/victim-inputs/"
    decision = proposed_decision(world)
    before = VictimInput.objects.count()
    for payload, field in (
        ({"kind": "decision_input"}, "decision"),
        ({"kind": "condition_request", "decision": decision.pk}, "kind"),
        ({"kind": "gossip"}, "kind"),
    ):
        response = client.post(url, {"case": world.case.pk, "body": "x", **payload}, format="json")
        assert response.status_code == 400 and field in response.json(), payload
    assert VictimInput.objects.count() == before
    response = client.post(
        url,
        {
            "case": world.case.pk,
            "body": "A no-contact zone at her school.",
            "kind": "condition_request",
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["kind"] == "condition_request"
    assert response.json()["acknowledged_at"] is None
    # Without a kind: input on the decision when one is named (the queue's answer page).
    response = client.post(
        url, {"case": world.case.pk, "body": "On the move", "decision": decision.pk}, format="json"
    )
    assert response.status_code == 201 and response.json()["kind"] == "decision_input"


def test_the_officer_acknowledges_input_and_the_rep_sees_it(world: World) -> None:
    decision = proposed_decision(world)
    item = services.create_victim_input(
        world.rep, world.case, "ACK-MARKER: she works on Park Street.", "team", decision=decision
    )
    officer = web(world.officer)
    page = html(officer.get(f"/decisions/{decision.pk}/"))
    assert "ACK-MARKER" in page and f"/victim-input/{item.pk}/acknowledge/" in page
    response: Any = officer.post(f"/victim-input/{item.pk}/acknowledge/")
    assert response.status_code == 302
    assert response["Location"] == f"/decisions/{decision.pk}/#victim-input-{item.pk}"
    item.refresh_from_db()
    assert item.acknowledged_by == world.officer and item.acknowledged_at is not None
    assert "Acknowledged by" in html(officer.get(f"/decisions/{decision.pk}/"))
    event = app_event(action=Action.ACKNOWLEDGE, target_type="victims.victiminput")
    assert (event.actor, event.case_id) == (world.officer, world.case.pk)
    # The representative is told in the app, with a link to the input, and sees who and when.
    note = Notification.objects.get(recipient=world.rep, kind=NotificationKind.INPUT_ACKNOWLEDGED)
    assert note.link == f"/cases/{world.case.pk}/#victim-input-{item.pk}"
    when = timezone.localtime(item.acknowledged_at).strftime("%-d %b %Y")
    page = html(web(world.rep).get(f"/cases/{world.case.pk}/"))
    assert f"Acknowledged by {world.officer} on {when}" in page
    assert f"Acknowledged by {world.officer}" in html(
        web(world.rep).get(f"/victim-input/{item.pk}/level/")
    )
    data = api(world.rep).get(f"{API}/victim-inputs/{item.pk}/").json()
    assert (data["acknowledged_by"], data["acknowledged_by_name"]) == (
        world.officer.pk,
        str(world.officer),
    )
    # Once only: a second acknowledgement changes nothing and says by whom.
    stamp = item.acknowledged_at
    response = officer.post(f"/victim-input/{item.pk}/acknowledge/")
    assert response.status_code == 400 and "already acknowledged" in html(response)
    response = api(world.officer).post(f"{API}/victim-inputs/{item.pk}/acknowledge/")
    assert response.status_code == 400 and "already acknowledged" in str(response.json())
    item.refresh_from_db()
    assert item.acknowledged_at == stamp
    assert Notification.objects.filter(kind=NotificationKind.INPUT_ACKNOWLEDGED).count() == 1


def test_acknowledging_through_the_api(world: World) -> None:
    decision = proposed_decision(world)
    item = services.create_victim_input(
        world.rep, world.case, "On the move", "team", decision=decision
    )
    plain = services.create_victim_input(world.rep, world.case, "For the team", "team")
    client = api(world.officer)
    response = client.post(f"{API}/victim-inputs/{plain.pk}/acknowledge/")
    assert response.status_code == 400
    assert client.get(f"{API}/victim-inputs/{item.pk}/acknowledge/").status_code == 405
    response = client.post(f"{API}/victim-inputs/{item.pk}/acknowledge/")
    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == world.officer.pk


@pytest.mark.parametrize(
    ("key", "wanted"),
    [
        ("supervisor", 403),  # reads the input, but is neither author nor assigned officer
        ("rep", 403),
        ("treatment", 403),  # reads team-level input
        ("polygraph", 403),
        ("guest_rep", 403),
        ("other_rep", 404),
        ("other_officer", 404),
        ("former_rep", 404),
        ("anonymous", 302),
    ],
)
def test_who_may_acknowledge(world: World, key: str, wanted: int) -> None:
    decision = proposed_decision(world)
    item = services.create_victim_input(world.rep, world.case, "Input", "team", decision=decision)
    user = world.by_key(key)
    assert web(user).post(f"/victim-input/{item.pk}/acknowledge/").status_code == wanted
    api_wanted = {302: 401}.get(wanted, wanted)
    response = api(user).post(f"{API}/victim-inputs/{item.pk}/acknowledge/")
    assert response.status_code == api_wanted
    item.refresh_from_db()
    assert item.acknowledged_at is None


def test_the_assigned_officer_acknowledges_a_colleagues_decision_input(world: World) -> None:
    colleague = f.make_member(world.team, Role.OFFICER)
    decision = f.make_decision(
        world.case, colleague, kind=DecisionKind.RESIDENCE, status="proposed"
    )
    f.make_input_request(decision)
    item = services.create_victim_input(world.rep, world.case, "Input", "team", decision=decision)
    # Input the officer may not read answers like a missing one.
    hidden = services.create_victim_input(
        world.rep, world.case, "Reps only", "victim_services", decision=decision
    )
    assert web(world.officer).post(f"/victim-input/{hidden.pk}/acknowledge/").status_code == 404
    assert web(world.officer).post(f"/victim-input/{item.pk}/acknowledge/").status_code == 302
    other = f.make_decision(world.case, colleague, kind=DecisionKind.RESIDENCE, status="proposed")
    f.make_input_request(other)
    mine = services.create_victim_input(world.rep, world.case, "More", "team", decision=other)
    assert web(colleague).post(f"/victim-input/{mine.pk}/acknowledge/").status_code == 302


# --- Every route, for everyone -------------------------------------------------------------

# Who sees team A's victim, and so its orders: everyone who sees the case.
SEE_VICTIM = WRITERS | CASE_READERS


def denied(user: User | None, obj: Any) -> bool:
    return AuditEvent.objects.filter(
        actor=user,
        outcome=Outcome.DENIED,
        target_type=obj._meta.label_lower,
        target_id=str(obj.pk),
    ).exists()


@pytest.mark.parametrize("key", EVERYONE)
def test_route_permissions(world: World, key: str) -> None:
    """Every route of the victim's record, read by each person: 200 where the policy lets
    them, 403 where they see the case or victim but may not change it, 404 (recorded as
    denied) where they do not see it, the sign-in page or 401 for a visitor."""
    user = world.by_key(key)
    page, client = web(user), api(user)
    order = ProtectiveOrder.objects.create(
        case=world.case,
        victim=world.victim,
        kind="no_contact",
        issued_on=TODAY,
        terms="ROUTE-ORDER",
        created_by=world.rep,
    )
    prefs = VictimPreferences.objects.create(victim=world.victim, safety_concerns="ROUTE-PREFS")
    decision = proposed_decision(world)
    item = services.create_victim_input(
        world.rep, world.case, "ROUTE-INPUT", "team", decision=decision
    )
    wanted = expected_page_status(key)
    for url, target in (
        (f"/cases/{world.case.pk}/victims/new/", world.case),
        (f"/cases/{world.case.pk}/victims/link/", world.case),
        (f"/cases/{world.case.pk}/protective-orders/new/", world.case),
        (f"/victims/{world.victim.pk}/edit/", world.victim),
        (f"/victims/{world.victim.pk}/preferences/", world.victim),
    ):
        response = page.get(url)
        assert response.status_code == wanted, (key, url)
        if wanted == 404:
            assert denied(user, target), (key, url)
            assert NAME[0] not in html(response)
    # POST only: a GET changes nothing, and is refused.
    assert page.get(f"/victim-input/{item.pk}/acknowledge/").status_code == (
        302 if user is None else 405
    )
    visitor = 401 if user is None else None
    for url in (
        f"{API}/victim-inputs/{item.pk}/acknowledge/",
        f"{API}/victims/{world.victim.pk}/link/",
    ):
        assert client.get(url).status_code == (visitor or 405), (key, url)

    # Orders: read by whoever sees the victim on the case.
    listed = client.get(f"{API}/protective-orders/")
    detail = client.get(f"{API}/protective-orders/{order.pk}/")
    if user is None:
        assert (listed.status_code, detail.status_code) == (401, 401)
    elif key in SEE_VICTIM:
        assert [row["id"] for row in listed.json()["results"]] == [order.pk], key
        assert detail.status_code == 200, key
    else:
        assert listed.json()["results"] == [] and detail.status_code == 404, key
        assert denied(user, order), key
    # Preferences: the victim's representatives only (a guest invited to the case as one
    # reads as the role does, and writes nothing).
    listed = client.get(f"{API}/victim-preferences/")
    detail = client.get(f"{API}/victim-preferences/{prefs.pk}/")
    if user is None:
        assert (listed.status_code, detail.status_code) == (401, 401)
    elif key in WRITERS | {"guest_rep"}:
        assert [row["id"] for row in listed.json()["results"]] == [prefs.pk], key
        assert detail.json()["safety_concerns"] == "ROUTE-PREFS"
    else:
        assert listed.json()["results"] == [] and detail.status_code == 404, key
        assert "ROUTE-PREFS" not in html(detail)
        assert denied(user, prefs), key
    # Nothing was written by reading.
    item.refresh_from_db()
    assert item.acknowledged_at is None
    assert (ProtectiveOrder.objects.count(), VictimPreferences.objects.count()) == (1, 1)
