"""Victim input: only the case's victim representatives record it, at the levels the
policy lets them choose; each level decides who reads it; changing the level is audited
with whether it widened the audience."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from casework.models import Case
from teams.disclosure.grants import named_members
from teams.disclosure.policy import DisclosureLevel
from teams.models import Team, User
from teams.roles import Role
from tests import factories as f
from victims import services
from victims.models import VictimInput

pytestmark = pytest.mark.django_db

API = "/api/v1"
REP_LEVELS = [
    DisclosureLevel.TEAM,
    DisclosureLevel.SUPERVISION_AND_VICTIM_SERVICES,
    DisclosureLevel.VICTIM_SERVICES,
    DisclosureLevel.RESTRICTED,
]


@dataclass
class World:
    team: Team
    officer: User
    supervisor: User
    rep: User
    rep2: User
    treatment: User
    polygraph: User
    outsider: User
    case: Case


@pytest.fixture
def world() -> World:
    team = f.make_team("Hartford North MDT")
    officer = f.make_member(team, Role.OFFICER)
    rep = f.make_member(team, Role.VICTIM_REP)
    case = f.make_case(team, officer=officer)
    f.link_victim(case, f.make_victim(), pseudonym="Person harmed 1", representative=rep)
    return World(
        team=team,
        officer=officer,
        supervisor=f.make_member(team, Role.SUPERVISOR),
        rep=rep,
        rep2=f.make_member(team, Role.VICTIM_REP),
        treatment=f.make_member(team, Role.TREATMENT),
        polygraph=f.make_member(team, Role.POLYGRAPH),
        outsider=f.make_member(f.make_team("New Haven MDT"), Role.OFFICER),
        case=case,
    )


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_as(user: User) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def html(response: Any) -> str:
    content: bytes = response.content
    return content.decode()


def new_url(world: World) -> str:
    return f"/cases/{world.case.pk}/victim-input/new/"


def case_url(world: World) -> str:
    return f"/cases/{world.case.pk}/"


def write(world: World, body: str, level: str, named: tuple[User, ...] = ()) -> VictimInput:
    return services.create_victim_input(world.rep, world.case, body, level, named)


def row_counts() -> tuple[int, int]:
    return VictimInput.objects.count(), AuditEvent.objects.filter(action=Action.CREATE).count()


# --- Recording -------------------------------------------------------------------------


def test_form_offers_exactly_the_reps_levels(world: World) -> None:
    response = signed_in(world.rep).get(new_url(world))
    assert response.status_code == 200
    page = html(response)
    offered = [level for level in DisclosureLevel.values if f'value="{level}"' in page]
    assert offered == REP_LEVELS
    assert '<label for="id_body"' in page
    assert "<legend" in page


@pytest.mark.parametrize("level", REP_LEVELS)
def test_rep_records_input_at_each_allowed_level(world: World, level: str) -> None:
    body = f"INPUT-MARKER-{level}: the victim asks for no contact at work."
    response = signed_in(world.rep).post(new_url(world), {"body": body, "disclosure_level": level})
    assert response.status_code == 302
    assert response["Location"] == case_url(world)
    item = VictimInput.objects.get()
    assert (item.body, item.disclosure_level, item.author) == (body, level, world.rep)
    event = AuditEvent.objects.exclude(detail__has_key="source").get(action=Action.CREATE)
    assert event.actor == world.rep
    assert event.target_id == str(item.pk)
    assert event.case_id == world.case.pk
    assert event.detail == {"disclosure_level": level, "kind": "information"}
    assert body in html(signed_in(world.rep).get(case_url(world)))


def test_level_outside_the_reps_choices_is_refused_in_the_form(world: World) -> None:
    before = row_counts()
    response = signed_in(world.rep).post(
        new_url(world), {"body": "Kept text", "disclosure_level": DisclosureLevel.SUPERVISION}
    )
    assert response.status_code == 400
    page = html(response)
    assert 'id="id_disclosure_level_error"' in page
    assert "Kept text" in page
    assert row_counts() == before


def test_empty_input_is_refused_in_the_form(world: World) -> None:
    before = row_counts()
    response = signed_in(world.rep).post(new_url(world), {"body": " ", "disclosure_level": "team"})
    assert response.status_code == 400
    assert 'id="id_body_error"' in html(response)
    assert row_counts() == before


@pytest.mark.parametrize("role", ["officer", "supervisor", "treatment", "polygraph"])
def test_other_roles_cannot_record_input_web(world: World, role: str) -> None:
    client = signed_in(getattr(world, role))
    before = row_counts()
    assert client.get(new_url(world)).status_code == 403
    response = client.post(new_url(world), {"body": "x", "disclosure_level": "team"})
    assert response.status_code == 403
    assert row_counts() == before
    assert new_url(world) not in html(client.get(case_url(world)))


def test_outsider_gets_404(world: World) -> None:
    assert signed_in(world.outsider).get(new_url(world)).status_code == 404


def test_case_page_offers_the_form_to_the_rep(world: World) -> None:
    assert new_url(world) in html(signed_in(world.rep).get(case_url(world)))


def test_api_rep_creates_input(world: World) -> None:
    response = api_as(world.rep).post(
        f"{API}/victim-inputs/",
        {"case": world.case.pk, "body": "API input", "disclosure_level": "victim_services"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["disclosure_level"] == "victim_services"
    assert body["author"] == world.rep.pk
    assert VictimInput.objects.filter(pk=body["id"], body="API input").exists()


def test_api_default_level_is_team(world: World) -> None:
    response = api_as(world.rep).post(
        f"{API}/victim-inputs/", {"case": world.case.pk, "body": "Default"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["disclosure_level"] == "team"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"disclosure_level": "everyone"}, "disclosure_level"),
        ({"disclosure_level": "supervision"}, "disclosure_level"),
        ({"body": ""}, "body"),
        ({"disclosure_level": "team", "named_members": ["OFFICER"]}, "named_members"),
        ({"disclosure_level": "restricted", "named_members": ["OUTSIDER"]}, "named_members"),
    ],
)
def test_api_bad_input_is_a_400_naming_the_field(
    world: World, payload: dict[str, Any], field: str
) -> None:
    ids = {"OFFICER": world.officer.pk, "OUTSIDER": world.outsider.pk}
    data: dict[str, Any] = {"case": world.case.pk, "body": "Some input", **payload}
    if "named_members" in data:
        data["named_members"] = [ids[name] for name in data["named_members"]]
    before = row_counts()
    response = api_as(world.rep).post(f"{API}/victim-inputs/", data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert row_counts() == before


@pytest.mark.parametrize("role", ["officer", "supervisor", "treatment", "polygraph"])
def test_api_other_roles_are_refused(world: World, role: str) -> None:
    before = row_counts()
    response = api_as(getattr(world, role)).post(
        f"{API}/victim-inputs/",
        {"case": world.case.pk, "body": "x", "disclosure_level": "team"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["case"]
    assert row_counts() == before


def test_api_outsider_cannot_name_a_hidden_case(world: World) -> None:
    response = api_as(world.outsider).post(
        f"{API}/victim-inputs/", {"case": world.case.pk, "body": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "case" in response.json()
    assert VictimInput.objects.count() == 0


# --- Reading by level ------------------------------------------------------------------

READERS: dict[str, set[str]] = {
    DisclosureLevel.TEAM: {"officer", "supervisor", "rep", "rep2", "treatment", "polygraph"},
    DisclosureLevel.SUPERVISION_AND_VICTIM_SERVICES: {"officer", "supervisor", "rep", "rep2"},
    DisclosureLevel.VICTIM_SERVICES: {"rep", "rep2"},
    DisclosureLevel.RESTRICTED: {"rep"},
}


@pytest.mark.parametrize("level", REP_LEVELS)
def test_each_level_decides_who_reads_the_input(world: World, level: str) -> None:
    marker = f"READ-MARKER-{level}"
    item = write(world, marker, level)
    for name in ("officer", "supervisor", "rep", "rep2", "treatment", "polygraph", "outsider"):
        user = getattr(world, name)
        expected = name in READERS[level]
        listed = api_as(user).get(f"{API}/victim-inputs/", {"case": world.case.pk})
        assert listed.status_code == 200
        assert ([row["id"] for row in listed.json()["results"]] == [item.pk]) is expected, name
        detail = api_as(user).get(f"{API}/victim-inputs/{item.pk}/")
        assert detail.status_code == (200 if expected else 404), name
        if name != "outsider":
            assert (marker in html(signed_in(user).get(case_url(world)))) is expected, name


def test_restricted_input_is_read_by_its_named_members(world: World) -> None:
    item = write(world, "NAMED-MARKER", DisclosureLevel.RESTRICTED, (world.officer,))
    assert named_members(item) == [world.officer.pk]
    assert "NAMED-MARKER" in html(signed_in(world.officer).get(case_url(world)))
    assert "NAMED-MARKER" not in html(signed_in(world.supervisor).get(case_url(world)))
    detail = api_as(world.officer).get(f"{API}/victim-inputs/{item.pk}/").json()
    assert detail["named_members"] == [world.officer.pk]


# --- Changing the level ----------------------------------------------------------------


def level_events() -> list[dict[str, Any]]:
    return [
        event.detail
        for event in AuditEvent.objects.filter(action=Action.LEVEL_CHANGE).order_by("id")
    ]


def test_api_patch_changes_the_level_and_audits_narrowing_and_widening(world: World) -> None:
    item = write(world, "Level change", DisclosureLevel.TEAM)
    client = api_as(world.rep)
    url = f"{API}/victim-inputs/{item.pk}/"
    response = client.patch(url, {"disclosure_level": "victim_services"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["disclosure_level"] == "victim_services"
    assert api_as(world.officer).get(url).status_code == 404
    response = client.patch(url, {"disclosure_level": "team"}, format="json")
    assert response.status_code == 200
    assert api_as(world.officer).get(url).status_code == 200
    assert level_events() == [
        {"old": "team", "new": "victim_services", "widened": False},
        {"old": "victim_services", "new": "team", "widened": True},
    ]


def test_api_patch_to_a_level_outside_the_choices_is_a_400(world: World) -> None:
    item = write(world, "Level change", DisclosureLevel.TEAM)
    url = f"{API}/victim-inputs/{item.pk}/"
    for level in ("nonsense", "supervision"):
        response = api_as(world.rep).patch(url, {"disclosure_level": level}, format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["disclosure_level"]
    item.refresh_from_db()
    assert item.disclosure_level == DisclosureLevel.TEAM
    assert level_events() == []


def test_api_patch_by_an_officer_is_refused(world: World) -> None:
    item = write(world, "Level change", DisclosureLevel.TEAM)
    url = f"{API}/victim-inputs/{item.pk}/"
    response = api_as(world.officer).patch(url, {"disclosure_level": "restricted"}, format="json")
    assert response.status_code == 400
    assert "disclosure_level" in response.json()
    assert api_as(world.outsider).patch(url, {"disclosure_level": "team"}).status_code == 404
    item.refresh_from_db()
    assert item.disclosure_level == DisclosureLevel.TEAM
    assert level_events() == []


def test_api_put_and_delete_are_not_offered(world: World) -> None:
    item = write(world, "Level change", DisclosureLevel.TEAM)
    url = f"{API}/victim-inputs/{item.pk}/"
    client = api_as(world.rep)
    assert client.put(url, {"disclosure_level": "team"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405


def test_restricting_with_named_members_and_back(world: World) -> None:
    item = write(world, "Named", DisclosureLevel.TEAM)
    url = f"{API}/victim-inputs/{item.pk}/"
    client = api_as(world.rep)
    response = client.patch(
        url, {"disclosure_level": "restricted", "named_members": [world.officer.pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["named_members"] == [world.officer.pk]
    assert api_as(world.officer).get(url).status_code == 200
    assert api_as(world.supervisor).get(url).status_code == 404
    response = client.patch(url, {"disclosure_level": "victim_services"}, format="json")
    assert response.status_code == 200
    assert named_members(item) == []
    assert api_as(world.officer).get(url).status_code == 404
    assert [event["widened"] for event in level_events()] == [False, True]


def test_web_level_change(world: World) -> None:
    item = write(world, "Web level", DisclosureLevel.TEAM)
    url = f"/victim-input/{item.pk}/level/"
    client = signed_in(world.rep)
    form = client.get(url)
    assert form.status_code == 200
    assert 'value="supervision"' not in html(form)
    assert url in html(client.get(case_url(world)))
    response = client.post(url, {"disclosure_level": "supervision"})
    assert response.status_code == 200
    assert 'id="id_disclosure_level_error"' in html(response)
    response = client.post(url, {"disclosure_level": "victim_services"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.disclosure_level == DisclosureLevel.VICTIM_SERVICES
    assert level_events() == [{"old": "team", "new": "victim_services", "widened": False}]
    assert signed_in(world.officer).get(url).status_code == 404


def test_web_level_change_refused_to_an_officer_who_reads_it(world: World) -> None:
    item = write(world, "Web level", DisclosureLevel.TEAM)
    url = f"/victim-input/{item.pk}/level/"
    client = signed_in(world.officer)
    assert client.get(url).status_code == 403
    assert client.post(url, {"disclosure_level": "restricted"}).status_code == 403
    item.refresh_from_db()
    assert item.disclosure_level == DisclosureLevel.TEAM
