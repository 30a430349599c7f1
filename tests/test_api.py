"""The read-only REST API: token sign-in, the one-team rule on every endpoint, victim
locating information, pagination, and the OpenAPI schema and its documentation page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from casework.models import Case, CaseNote
from teams.models import Team, User
from teams.roles import Role
from tests import factories as f
from victims.models import Victim

pytestmark = pytest.mark.django_db

API = "/api/v1"
TOKEN_URL = f"{API}/auth/token/"


def api_as(user: User) -> APIClient:
    """A client that authenticates the way API consumers do, with a token header."""
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def data(response: Any) -> Any:
    return response.json()


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in data(response)["results"]}


@dataclass
class World:
    """Two teams, each with a case, a note and a victim with locating information."""

    team_a: Team
    team_b: Team
    officer_a: User
    supervisor_a: User
    rep_a: User
    treatment_a: User
    polygraph_a: User
    outsider: User
    case_a: Case
    case_a2: Case
    case_b: Case
    note_a: CaseNote
    note_a2: CaseNote
    note_b: CaseNote
    victim_a: Victim
    victim_b: Victim


@pytest.fixture
def world() -> World:
    team_a, team_b = f.make_team("Hartford North MDT"), f.make_team("New Haven MDT")
    officer_a = f.make_member(team_a, Role.OFFICER)
    rep_a = f.make_member(team_a, Role.VICTIM_REP)
    outsider = f.make_member(team_b, Role.OFFICER)
    case_a = f.make_case(team_a, officer=officer_a)
    case_a2 = f.make_case(team_a, officer=officer_a)
    case_b = f.make_case(team_b, officer=outsider)
    victim_a = f.make_victim(address_line1="API-ADDRESS-MARKER-5521 Oak Street")
    victim_b = f.make_victim(address_line1="API-ADDRESS-MARKER-B 17 Pine Road")
    f.link_victim(case_a, victim_a, representative=rep_a)
    f.link_victim(case_b, victim_b)
    return World(
        team_a=team_a,
        team_b=team_b,
        officer_a=officer_a,
        supervisor_a=f.make_member(team_a, Role.SUPERVISOR),
        rep_a=rep_a,
        treatment_a=f.make_member(team_a, Role.TREATMENT),
        polygraph_a=f.make_member(team_a, Role.POLYGRAPH),
        outsider=outsider,
        case_a=case_a,
        case_a2=case_a2,
        case_b=case_b,
        note_a=f.make_note(case_a, officer_a),
        note_a2=f.make_note(case_a2, officer_a),
        note_b=f.make_note(case_b, outsider),
        victim_a=victim_a,
        victim_b=victim_b,
    )


# --- Token sign-in ---------------------------------------------------------------------


def test_token_for_correct_credentials() -> None:
    user = f.make_user("ortiz")
    response = APIClient().post(
        TOKEN_URL, {"username": "ortiz", "password": f.PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert data(response) == {"token": Token.objects.get(user=user).key}
    assert AuditEvent.objects.filter(action=Action.TOKEN_ISSUED, actor=user).exists()


def test_token_is_the_same_on_a_second_request() -> None:
    f.make_user("ortiz")
    client = APIClient()
    body = {"username": "ortiz", "password": f.PASSWORD}
    first = data(client.post(TOKEN_URL, body, format="json"))["token"]
    second = data(client.post(TOKEN_URL, body, format="json"))["token"]
    assert first == second


def test_token_refused_for_a_wrong_password() -> None:
    f.make_user("ortiz")
    response = APIClient().post(
        TOKEN_URL, {"username": "ortiz", "password": "wrong-password-1"}, format="json"
    )
    assert response.status_code == 401
    assert "not correct" in data(response)["detail"]
    assert "token" not in data(response)
    assert not Token.objects.exists()
    assert AuditEvent.objects.filter(action=Action.LOGIN_FAILED, actor_username="ortiz").exists()


def test_token_refused_for_a_deactivated_user() -> None:
    f.make_user("ortiz", is_active=False)
    response = APIClient().post(
        TOKEN_URL, {"username": "ortiz", "password": f.PASSWORD}, format="json"
    )
    assert response.status_code == 401
    assert not Token.objects.exists()


@pytest.mark.parametrize("missing", ["username", "password"])
def test_token_request_missing_a_field_is_a_400_naming_it(missing: str) -> None:
    body = {"username": "ortiz", "password": f.PASSWORD}
    del body[missing]
    response = APIClient().post(TOKEN_URL, body, format="json")
    assert response.status_code == 400
    errors = data(response)
    assert list(errors) == [missing]
    assert errors[missing] == ["This field is required."]


# --- Authentication --------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["teams", "cases", "supervisees", "notes", "victims"])
def test_requests_without_a_token_answer_401(endpoint: str) -> None:
    response = APIClient().get(f"{API}/{endpoint}/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_request_with_an_unknown_token_answers_401() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert client.get(f"{API}/cases/").status_code == 401


def test_request_with_a_token_works(world: World) -> None:
    response = api_as(world.officer_a).get(f"{API}/cases/")
    assert response.status_code == 200
    assert ids(response) == {world.case_a.pk, world.case_a2.pk}


def test_token_of_a_deactivated_user_stops_working(world: World) -> None:
    client = api_as(world.officer_a)
    world.officer_a.is_active = False
    world.officer_a.save()
    assert client.get(f"{API}/cases/").status_code == 401


# --- The one-team rule on every endpoint -----------------------------------------------


def test_teams_list_and_detail(world: World) -> None:
    member, outsider = api_as(world.officer_a), api_as(world.outsider)
    assert ids(member.get(f"{API}/teams/")) == {world.team_a.pk}
    assert ids(outsider.get(f"{API}/teams/")) == {world.team_b.pk}
    response = member.get(f"{API}/teams/{world.team_a.pk}/")
    assert response.status_code == 200
    assert data(response)["name"] == "Hartford North MDT"
    assert member.get(f"{API}/teams/{world.team_b.pk}/").status_code == 404


def test_cases_list_and_detail(world: World) -> None:
    member, outsider = api_as(world.supervisor_a), api_as(world.outsider)
    assert ids(member.get(f"{API}/cases/")) == {world.case_a.pk, world.case_a2.pk}
    response = member.get(f"{API}/cases/{world.case_a.pk}/")
    assert response.status_code == 200
    body = data(response)
    assert body["reference"] == world.case_a.reference
    assert body["supervisee"]["docket_number"] == world.case_a.supervisee.docket_number
    assert body["conditions"] == ["No contact with the victim", "Attend treatment"]

    assert ids(outsider.get(f"{API}/cases/")) == {world.case_b.pk}
    assert outsider.get(f"{API}/cases/{world.case_a.pk}/").status_code == 404
    assert member.get(f"{API}/cases/{world.case_b.pk}/").status_code == 404


def test_supervisees_list_and_detail(world: World) -> None:
    member, outsider = api_as(world.treatment_a), api_as(world.outsider)
    visible = {world.case_a.supervisee_id, world.case_a2.supervisee_id}
    assert ids(member.get(f"{API}/supervisees/")) == visible
    assert member.get(f"{API}/supervisees/{world.case_a.supervisee_id}/").status_code == 200
    assert member.get(f"{API}/supervisees/{world.case_b.supervisee_id}/").status_code == 404
    assert ids(outsider.get(f"{API}/supervisees/")) == {world.case_b.supervisee_id}
    assert outsider.get(f"{API}/supervisees/{world.case_a.supervisee_id}/").status_code == 404


def test_supervisee_with_cases_on_two_teams_is_listed_once(world: World) -> None:
    f.make_case(world.team_a, supervisee=world.case_a.supervisee)
    response = api_as(world.officer_a).get(f"{API}/supervisees/")
    rows = data(response)["results"]
    assert [row["id"] for row in rows].count(world.case_a.supervisee_id) == 1
    assert data(response)["count"] == len(rows) == 2


def test_notes_list_detail_and_case_filter(world: World) -> None:
    member, outsider = api_as(world.polygraph_a), api_as(world.outsider)
    assert ids(member.get(f"{API}/notes/")) == {world.note_a.pk, world.note_a2.pk}
    assert ids(member.get(f"{API}/notes/", {"case": world.case_a.pk})) == {world.note_a.pk}
    assert ids(member.get(f"{API}/notes/", {"case": world.case_b.pk})) == set()
    response = member.get(f"{API}/notes/{world.note_a.pk}/")
    assert response.status_code == 200
    assert data(response)["body"] == world.note_a.body
    assert member.get(f"{API}/notes/{world.note_b.pk}/").status_code == 404

    assert ids(outsider.get(f"{API}/notes/", {"case": world.case_a.pk})) == set()
    assert outsider.get(f"{API}/notes/{world.note_a.pk}/").status_code == 404


def test_victims_list_detail_and_case_filter(world: World) -> None:
    member, outsider = api_as(world.officer_a), api_as(world.outsider)
    assert ids(member.get(f"{API}/victims/")) == {world.victim_a.pk}
    assert ids(member.get(f"{API}/victims/", {"case": world.case_a.pk})) == {world.victim_a.pk}
    assert ids(member.get(f"{API}/victims/", {"case": world.case_a2.pk})) == set()
    assert ids(member.get(f"{API}/victims/", {"case": world.case_b.pk})) == set()
    assert member.get(f"{API}/victims/{world.victim_a.pk}/").status_code == 200
    assert member.get(f"{API}/victims/{world.victim_b.pk}/").status_code == 404

    assert ids(outsider.get(f"{API}/victims/", {"case": world.case_a.pk})) == set()
    assert outsider.get(f"{API}/victims/{world.victim_a.pk}/").status_code == 404


def test_victim_on_two_teams_cases_shows_only_the_visible_case_links(world: World) -> None:
    f.link_victim(world.case_b, world.victim_a)
    response = api_as(world.officer_a).get(f"{API}/victims/{world.victim_a.pk}/")
    assert [link["case"] for link in data(response)["cases"]] == [world.case_a.pk]


@pytest.mark.parametrize("endpoint", ["teams", "cases", "supervisees", "notes", "victims"])
def test_user_without_membership_sees_empty_lists(world: World, endpoint: str) -> None:
    response = api_as(f.make_user()).get(f"{API}/{endpoint}/")
    assert response.status_code == 200
    assert data(response)["count"] == 0
    assert data(response)["results"] == []


def test_system_administrator_sees_no_cases_even_with_a_membership(world: World) -> None:
    admin = f.make_user(is_staff=True)
    f.make_membership(admin, world.team_a, Role.SUPERVISOR)
    client = api_as(admin)
    for endpoint in ("cases", "supervisees", "notes", "victims"):
        assert ids(client.get(f"{API}/{endpoint}/")) == set(), endpoint
    assert client.get(f"{API}/cases/{world.case_a.pk}/").status_code == 404


@pytest.mark.parametrize("endpoint", ["notes", "victims"])
@pytest.mark.parametrize("value", ["abc", "1.5", "0", "-3"])
def test_bad_case_filter_is_a_400_naming_the_parameter(
    world: World, endpoint: str, value: str
) -> None:
    response = api_as(world.officer_a).get(f"{API}/{endpoint}/", {"case": value})
    assert response.status_code == 400
    errors = data(response)
    assert list(errors) == ["case"]
    assert isinstance(errors["case"], list) and errors["case"]


def test_list_and_detail_are_audited(world: World) -> None:
    client = api_as(world.officer_a)
    client.get(f"{API}/cases/")
    client.get(f"{API}/cases/{world.case_a.pk}/")
    listed = AuditEvent.objects.get(action=Action.LIST, actor=world.officer_a)
    assert sorted(listed.detail["ids"]) == sorted([str(world.case_a.pk), str(world.case_a2.pk)])
    viewed = AuditEvent.objects.get(action=Action.VIEW, actor=world.officer_a)
    assert viewed.case_id == world.case_a.pk


# --- Victim locating information -------------------------------------------------------


@pytest.mark.parametrize("role", ["officer_a", "supervisor_a", "treatment_a", "polygraph_a"])
def test_victim_location_is_null_for_other_roles(world: World, role: str) -> None:
    client = api_as(getattr(world, role))
    listed = data(client.get(f"{API}/victims/"))["results"]
    assert [row["location"] for row in listed] == [None]
    detail = client.get(f"{API}/victims/{world.victim_a.pk}/")
    assert data(detail)["location"] is None
    assert b"API-ADDRESS-MARKER" not in detail.content


def test_victim_location_is_filled_for_the_victim_rep(world: World) -> None:
    client = api_as(world.rep_a)
    listed = data(client.get(f"{API}/victims/", {"case": world.case_a.pk}))["results"]
    assert listed[0]["location"]["address_line1"] == "API-ADDRESS-MARKER-5521 Oak Street"
    detail = data(client.get(f"{API}/victims/{world.victim_a.pk}/"))
    assert detail["location"]["address_line1"] == "API-ADDRESS-MARKER-5521 Oak Street"
    assert detail["location"]["phone"] == "860-555-0100"
    # The other team's victim stays out of reach entirely.
    assert b"API-ADDRESS-MARKER-B" not in client.get(f"{API}/victims/").content


# --- Pagination ------------------------------------------------------------------------


def test_lists_are_paginated(world: World) -> None:
    for _ in range(28):
        f.make_case(world.team_a)
    client = api_as(world.officer_a)
    first = data(client.get(f"{API}/cases/"))
    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 30
    assert len(first["results"]) == 25
    assert first["previous"] is None
    assert first["next"] is not None and "page=2" in first["next"]

    second = data(client.get(first["next"]))
    assert len(second["results"]) == 5
    assert second["next"] is None
    assert second["previous"] is not None
    seen = {row["id"] for row in first["results"]} | {row["id"] for row in second["results"]}
    assert len(seen) == 30


def test_page_size_is_capped(world: World) -> None:
    for _ in range(110):
        f.make_case(world.team_a)
    response = api_as(world.officer_a).get(f"{API}/cases/", {"page_size": 1000})
    assert len(data(response)["results"]) == 100


def test_page_beyond_the_end_is_a_404_not_a_500(world: World) -> None:
    client = api_as(world.officer_a)
    assert client.get(f"{API}/cases/", {"page": 999}).status_code == 404
    assert client.get(f"{API}/cases/", {"page": "abc"}).status_code == 404


# --- Schema and documentation ----------------------------------------------------------


def test_schema_is_served_as_openapi_3() -> None:
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert str(schema["openapi"]).startswith("3.")
    assert schema["info"]["title"] == "MDT casework API"
    for path in ("cases", "notes", "victims", "supervisees", "teams"):
        assert f"/api/v1/{path}/" in schema["paths"]
    assert "/api/v1/auth/token/" in schema["paths"]


def test_schema_generates_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert str(schema["openapi"]).startswith("3.")
    # The victim's location is documented as nullable: null is a real answer.
    victim = schema["components"]["schemas"]["Victim"]
    assert "location" in victim["properties"]


def test_docs_page_uses_only_local_assets() -> None:
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r"<(?:script|link)\b[^>]*?\b(?:src|href)=[\"']([^\"']+)[\"']", html)
    assert any(asset.endswith(".js") for asset in assets), assets
    for asset in assets:
        assert not asset.startswith(("http:", "https:", "//")), asset
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a local file"
    assert not re.search(r"https?://[^\"'\s]*(cdn|unpkg|jsdelivr)", html)
