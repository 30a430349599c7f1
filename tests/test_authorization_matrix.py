"""The authorization matrix, generated from the policy table (teams.disclosure.policy).

Matrix checked: 46 routes x 5 roles x 4 relations x 5 disclosure levels = 4600 cells,
plus the system administrator and an anonymous visitor on every route.

- routes: every route found by walking the URL resolver (pages and API), each with an
  entry in `tests.authz.ROUTES` saying how to test it, or in `EXEMPT` with the reason it
  carries no case content; a new route with neither fails `test_every_route_is_covered`;
- relations to team A, whose case carries every kind of record: member; member of team
  B; no active membership (a former member of team A in the role); a guest invited to
  the one case (`grant_case_access`);
- levels: on each team's case, a record of every kind at every level (and, at
  `restricted`, one naming nobody and one naming a teammate and an outsider).

In the style of NetBox's API test mixins: a list returns exactly the permitted set and
the case page shows exactly the permitted records (every record, every level, every
time); a detail answers 200, 403 or 404 as the policy says (per person and route, one
object for each answer expected, taken in turn so that every level is asked for); no
answer shows a record or victim information the reader may not see; writes are made
exactly where the table lets the role write, and refused with nothing saved everywhere
else. Expectations are computed from the policy table, never written out by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from casework.models import CaseNote
from teams.disclosure.policy import DisclosureLevel, Info, roles_that_can_read
from teams.models import Membership
from teams.roles import Role
from tests import authz
from tests import factories as f
from tests.authz import (
    EXEMPT,
    EXEMPT_PREFIXES,
    PERSONA_KEYS,
    RELATIONS,
    ROUTES,
    Visit,
    World,
    assert_nothing_hidden,
    body_of,
    build_world,
    expected_ids,
    sees_record,
    walk_routes,
)

pytestmark = pytest.mark.django_db

MATRIX_SIZE = len(ROUTES) * len(Role) * len(RELATIONS) * len(DisclosureLevel)
MATRIX_TEXT = (
    f"{len(ROUTES)} routes x {len(Role)} roles x {len(RELATIONS)} relations x "
    f"{len(DisclosureLevel)} disclosure levels = {MATRIX_SIZE} cells"
)


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[World]:
    """Built once for the module inside a transaction that is rolled back at its end;
    each test runs in a savepoint of it, so writes made by one test do not leak."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def clients(world: World, django_db_blocker: Any) -> dict[str, tuple[Client, APIClient]]:
    signed_in: dict[str, tuple[Client, APIClient]] = {}
    with django_db_blocker.unblock():
        for key, persona in world.personas.items():
            web = Client()
            web.force_login(persona.user)
            api = APIClient()
            api.force_authenticate(persona.user)
            signed_in[key] = (web, api)
    return signed_in


# --- Every route is in the matrix ------------------------------------------------------


def test_every_route_is_covered() -> None:
    missing = authz.uncovered_routes()
    assert not missing, (
        "Routes with no entry in tests.authz.ROUTES (or EXEMPT, with a reason): "
        + ", ".join(missing)
    )


def test_matrix_names_only_existing_routes() -> None:
    names = {route.name for route in walk_routes() if route.name}
    stale = sorted((set(ROUTES) | set(EXEMPT)) - names)
    assert not stale, f"Matrix entries for routes that no longer exist: {stale}"
    assert all(any(n.startswith(p) for n in names) for p in EXEMPT_PREFIXES)


def test_matrix_size_is_stated(record_property: Any) -> None:
    record_property("authorization_matrix", MATRIX_TEXT)
    assert __doc__ is not None
    assert MATRIX_TEXT in " ".join(__doc__.split()), (
        f"Update the module docstring: the matrix is now {MATRIX_TEXT}."
    )


def test_the_world_tells_the_roles_apart(world: World) -> None:
    """A matrix where every role sees the same is no test: each role's member sees a
    different set of records, and each sees some and misses some."""
    seen = {}
    for role in Role:
        persona = world.persona(role, "member")
        visible = frozenset(r.pk for r in world.notes if sees_record(world, persona, r))
        assert visible and len(visible) < len(world.notes), role
        seen[role] = visible
    assert len(set(seen.values())) == len(Role)


# --- The matrix ------------------------------------------------------------------------


def list_ids(client: APIClient, url: str, where: str) -> tuple[set[int], str]:
    """Every id of an API list across its pages, and the text of every page."""
    ids: list[int] = []
    texts: list[str] = []
    count = -1
    next_url: str | None = f"{url}?page_size=100"
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, f"{where}: {response.status_code}"
        data = response.json()
        ids += [row["id"] for row in data["results"]]
        texts.append(body_of(response))
        next_url = data["next"]
        count = data["count"]
    # A count is a disclosure too: it must be the number of rows the reader gets.
    assert count == len(ids), f"{where}: count {count}, {len(ids)} rows"
    assert len(ids) == len(set(ids)), f"{where} lists a row twice"
    return set(ids), "\n".join(texts)


@pytest.mark.parametrize("route_name", sorted(ROUTES))
@pytest.mark.parametrize("persona_key", PERSONA_KEYS)
def test_matrix(
    world: World,
    clients: dict[str, tuple[Client, APIClient]],
    persona_key: str,
    route_name: str,
) -> None:
    spec = ROUTES[route_name]
    persona = world.personas[persona_key]
    web, api = clients[persona_key]
    v = Visit(world, persona, api if route_name.startswith("api:") else web, route_name, spec)
    if spec.kind == "page":
        response = v.client.get(v.url())
        assert response.status_code == 200, v.where()
        assert_nothing_hidden(world, persona, body_of(response), v.where())
        if spec.content is not None:
            spec.content(v, None, response)
    elif spec.kind == "list":
        assert spec.model is not None
        ids, text = list_ids(v.client, v.url(), v.where())
        assert ids == expected_ids(world, persona, spec.model), v.where()
        assert_nothing_hidden(world, persona, text, v.where())
    else:
        for obj in authz.sample(v, spec.targets(world)):
            response = v.client.get(v.url(obj))
            wanted = spec.expected_status(world, persona, obj)
            assert response.status_code == wanted, f"{v.where(obj)}: {response.status_code}"
            assert_nothing_hidden(world, persona, body_of(response), v.where(obj))
            if wanted == 200 and spec.content is not None:
                spec.content(v, obj, response)
    if spec.writes is not None:
        spec.writes(v)
    elif route_name.startswith("api:"):
        authz.refuse_every_write(v)


# The browsable API (an API URL opened in a browser, or `?format=api`) drew forms whose
# choices came from unrestricted querysets (every case, every user); it is switched off.
BROWSABLE_PERSONAS = ("officer-member", authz.ADMIN)


@pytest.mark.parametrize("route_name", sorted(n for n in ROUTES if n.startswith("api:")))
@pytest.mark.parametrize("persona_key", BROWSABLE_PERSONAS)
def test_browsable_api_shows_nothing_hidden(
    world: World,
    clients: dict[str, tuple[Client, APIClient]],
    persona_key: str,
    route_name: str,
) -> None:
    spec = ROUTES[route_name]
    persona = world.personas[persona_key]
    v = Visit(world, persona, clients[persona_key][1], route_name, spec)
    targets = [None] if spec.kind == "list" else authz.sample(v, spec.targets(world))[:1]
    for obj in targets:
        response = v.client.get(v.url(obj), {"format": "api"})
        # The API renders JSON only: no browsable HTML with forms drawn from unrestricted
        # querysets. Asking for it is a 404, which shows nothing.
        assert response.status_code == 404, v.where(obj)
        assert not response["Content-Type"].startswith("text/html"), v.where(obj)
        assert_nothing_hidden(world, persona, body_of(response), f"{v.where(obj)} (browsable)")


@pytest.mark.parametrize("route_name", sorted(ROUTES))
def test_anonymous_visitor(world: World, route_name: str) -> None:
    """Signed out: a page sends to the sign-in page, the API answers 401, nothing shows."""
    spec = ROUTES[route_name]
    api = route_name.startswith("api:")
    client: Any = APIClient() if api else Client()
    targets = [None] if spec.kind in ("page", "list") else spec.targets(world)[:3]
    for obj in targets:
        url = reverse(route_name, kwargs=spec.kwargs(obj) if obj is not None else None)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if api:
                assert response.status_code == 401, f"{method} {url}"
            else:
                assert response.status_code == 302, f"{method} {url}"
                assert response["Location"].startswith(reverse("login")), url
            assert not authz.find(body_of(response), authz.every_marker(world)), url


# --- The admin -------------------------------------------------------------------------


def test_system_administrator_sees_no_case_rows_in_the_admin(world: World) -> None:
    """Even a superuser: the admin's querysets go through the disclosure policy, and a
    system administrator (staff) reads no case content there (DESIGN rule 8)."""
    superuser = f.make_user("root-admin", is_staff=True)
    superuser.is_superuser = True
    superuser.save()
    for account in (superuser, world.personas[authz.ADMIN].user):
        client = Client()
        client.force_login(account)
        persona = world.personas[authz.ADMIN]
        for model, model_admin in admin.site._registry.items():
            if getattr(model, "disclosure", None) is None:
                continue
            label = f"admin:{model._meta.app_label}_{model._meta.model_name}"
            response = client.get(reverse(f"{label}_changelist"))
            if account is superuser:
                assert response.status_code == 200, label
                assert response.context["cl"].result_count == 0, label
                assert response.context["cl"].full_result_count == 0, label
            assert_nothing_hidden(world, persona, body_of(response), label)
            for obj in world.objects_of(model)[:2]:
                response = client.get(reverse(f"{label}_change", args=[obj.pk]))
                assert response.status_code in (302, 403, 404), label
                assert_nothing_hidden(world, persona, body_of(response), label)
            assert isinstance(model_admin, admin.ModelAdmin)


# --- Access stops on the next request --------------------------------------------------


def _token_client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_access_stops_on_the_next_request(world: World) -> None:
    """Deactivation, an ended membership, a lowered level, a revoked release and an
    expired one each take effect on the very next request of an open session."""
    today = timezone.localdate()
    team = world.team_a
    case = world.case_a
    case_url = reverse("case-detail", args=[case.pk])

    # A lowered level: a note shared with the team, lowered to supervision, leaves the
    # victim representative's view at once (the policy says who reads each level).
    rep = f.make_member(team, Role.VICTIM_REP)
    officer = world.persona(Role.OFFICER, "member").user
    note = CaseNote.objects.create(
        case=case, author=officer, kind="supervision", body="LOWER-ME-4411", disclosure_level="team"
    )
    web, api = Client(), _token_client(rep)
    web.force_login(rep)
    note_url = reverse("api:note-detail", args=[note.pk])
    assert Role.VICTIM_REP in roles_that_can_read(Info.SUPERVISION_NOTE, "team")
    assert Role.VICTIM_REP not in roles_that_can_read(Info.SUPERVISION_NOTE, "supervision")
    assert "LOWER-ME-4411" in body_of(web.get(case_url))
    assert api.get(note_url).status_code == 200
    author = Client()
    author.force_login(officer)
    lowered = author.post(
        reverse("note-level", args=[note.pk]), {"disclosure_level": "supervision"}
    )
    assert lowered.status_code == 302
    assert "LOWER-ME-4411" not in body_of(web.get(case_url))
    assert api.get(note_url).status_code == 404

    # An ended membership: active_to yesterday.
    membership = Membership.objects.get(user=rep, team=team)
    membership.active_from = today - dt.timedelta(days=60)
    membership.active_to = today - dt.timedelta(days=1)
    membership.save()
    assert web.get(case_url).status_code == 404
    assert api.get(reverse("api:case-detail", args=[case.pk])).status_code == 404
    assert api.get(reverse("api:victim-detail", args=[world.victim_a.pk])).status_code == 404

    # Deactivation: the session and the token stop working.
    supervisor = f.make_member(team, Role.SUPERVISOR)
    web, api = Client(), _token_client(supervisor)
    web.force_login(supervisor)
    assert web.get(case_url).status_code == 200
    assert api.get(reverse("api:case-detail", args=[case.pk])).status_code == 200
    supervisor.is_active = False
    supervisor.save()
    response = web.get(case_url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert api.get(reverse("api:case-detail", args=[case.pk])).status_code == 401

    # A release: shown while active; gone after revocation; gone after expiry.
    canary = world.canaries[world.victim_a.pk]
    phone = canary.locating["phone"]
    victim_url = reverse("api:victim-detail", args=[world.victim_a.pk])
    rep_a = world.persona(Role.VICTIM_REP, "member").user
    web, api = Client(), _token_client(officer)
    web.force_login(officer)
    assert phone not in body_of(web.get(case_url))
    release = authz.release_by_service(rep_a, world.victim_a, case, officer, ["phone"])
    assert phone in body_of(web.get(case_url))
    assert api.get(victim_url).json()["location"]["phone"] == phone
    authz.victim_services.revoke_release(rep_a, release, "Withdrawn by the victim")
    assert phone not in body_of(web.get(case_url))
    assert api.get(victim_url).json()["location"] is None

    release = authz.release_by_service(rep_a, world.victim_a, case, officer, ["phone"])
    assert phone in body_of(web.get(case_url))
    authz.expire_release(release)
    assert phone not in body_of(web.get(case_url))
    assert api.get(victim_url).json()["location"] is None
