"""Canary: a victim whose every locating field, and whose name, holds a unique marker.

Checked: 46 routes of the matrix (every list, and every detail for each case, victim
and release) plus 5 exempt pages and the admin, x 8 people who may not see the victim's
locating information, x 10 markers; the e-mail outbox and the log as well. Then a
release of one category to one recipient: only that recipient sees only that category,
and after revocation or expiry nobody does, on the next request.

The people come from the policy table and are checked against the world of the
authorization matrix (tests/authz.py): team A's members whose role does not open
locating information (officer, supervisor, treatment provider, polygraph examiner),
team B's victim representative, a former victim representative of team A whose
membership has ended, a treatment provider invited to the case as a guest, and the
system administrator. Nobody else in that world lacks locating information but repeats
one of these relations. Treatment and polygraph must not see the victim's name either.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from casework.models import Case
from teams.disclosure.policy import RELEASE_FIELDS, Info, codename, role_codenames
from teams.roles import Role
from tests import authz
from tests.authz import (
    ROUTES,
    Persona,
    Visit,
    World,
    body_of,
    build_world,
    find,
    release_by_service,
    released_fields,
    sees_identity,
)
from victims.models import Release, Victim, VictimUserObjectPermission

pytestmark = pytest.mark.django_db

# Exempt routes a person can GET (logout is a POST, and would end the session).
EXEMPT_PAGES = ("login", "healthz", "schema", "swagger-ui", "api:api-root")
# Routes whose every object is requested; for the others one object per expected answer.
EVERY_OBJECT = {Case, Victim, Release}
OTHER_RELATIONS = ("other_team", "none", "guest")


def canary_personas() -> list[str]:
    """From the policy table, before the database exists (pytest parametrizes with it):
    every role of team A whose codenames do not open locating information; the victim
    representative of team B and a former one of team A (whose membership has ended),
    for whom the role does open it elsewhere or once did; a guest treatment provider;
    and the system administrator. A test checks each against the world."""
    locating = codename(Info.VICTIM_LOCATING)
    blind = [role for role in Role if locating not in role_codenames(role)]
    return [
        *(f"{role.value}-member" for role in blind),
        f"{Role.VICTIM_REP.value}-other_team",
        f"{Role.VICTIM_REP.value}-none",
        f"{Role.TREATMENT.value}-guest",
        authz.ADMIN,
    ]


PERSONAS = canary_personas()
MARKERS = len(authz.make_canary("x").locating) + 2  # every locating field, and the name
CANARY_TEXT = (
    f"{len(ROUTES)} routes of the matrix (every list, and every detail for each case, victim "
    f"and release) plus {len(EXEMPT_PAGES)} exempt pages and the admin, x {len(PERSONAS)} "
    f"people who may not see the victim's locating information, x {MARKERS} markers"
)


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[World]:
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


def may_not_locate(world: World, persona: Persona) -> bool:
    return not released_fields(world, persona, world.victim_a)


def markers(world: World) -> dict[str, str]:
    canary = world.canaries[world.victim_a.pk]
    found = {marker: name for name, marker in canary.locating.items()}
    found.update({marker: "name" for marker in canary.names})
    return found


def forbidden(world: World, persona: Persona) -> dict[str, str]:
    """Every locating marker; the name too where the persona may not see the identity."""
    found = markers(world)
    if sees_identity(world, persona, world.victim_a):
        found = {marker: what for marker, what in found.items() if what != "name"}
    return found


def clients_for(persona: Persona) -> tuple[Client, APIClient]:
    web = Client()
    web.force_login(persona.user)
    api = APIClient()
    api.force_authenticate(persona.user)
    return web, api


def urls_to_visit(
    world: World, persona: Persona, clients: tuple[Client, APIClient]
) -> Iterator[tuple[Any, str, str]]:
    """(client, url, searched) for every GET the persona can make: each route of the
    matrix; every list, also narrowed to the victim's case and as the browsable API; the
    case search for each marker where the case is visible; each case, victim and release,
    and one other object per route (one the persona may see, if any); the exempt pages;
    the admin (for the system administrator). `searched` is the marker a search was made
    for: the page echoes it in the search box, as the searcher's own input."""
    web, api = clients
    for name, spec in ROUTES.items():
        client = api if name.startswith("api:") else web
        visit = Visit(world, persona, client, name, spec)
        if spec.kind == "page":
            yield web, visit.url(), ""
            if name == "case-list" and authz.sees_case(persona, world.case_a):
                for marker in markers(world):
                    yield web, f"{visit.url()}?{urlencode({'q': marker})}", marker
        elif spec.kind == "list":
            yield api, f"{visit.url()}?page_size=100", ""
            yield api, f"{visit.url()}?page_size=100&case={world.case_a.pk}", ""
            yield api, f"{visit.url()}?format=api", ""  # the browsable API, with its forms
        else:
            targets = spec.targets(world)
            if spec.model not in EVERY_OBJECT:  # one, that the persona may see if any
                targets = authz.sample(visit, targets)[:1]
            for obj in targets:
                yield client, visit.url(obj), ""
    for name in EXEMPT_PAGES:
        yield (api if name.startswith("api:") else web), reverse(name), ""
    if persona.spec.relation != authz.ADMIN:
        return  # anyone else is sent to the admin's sign-in page
    yield web, reverse("admin:index"), ""
    for model in admin.site._registry:
        label = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        yield web, reverse(f"{label}_changelist"), ""
        for obj in world.objects_of(model)[:1]:
            yield web, reverse(f"{label}_change", args=[obj.pk]), ""


def assert_no_marker(text: str, wanted_absent: dict[str, str], where: str) -> None:
    leaked = find(text, wanted_absent)
    assert not leaked, f"{where} shows {[wanted_absent[m] for m in leaked]}: {leaked}"


def mail_text(messages: list[Any]) -> str:
    parts: list[str] = []
    for message in messages:
        parts += [message.subject, message.body, " ".join(message.to)]
        parts += [str(content) for content, _ in getattr(message, "alternatives", [])]
    return "\n".join(parts)


def test_canary_size_is_stated(record_property: Any) -> None:
    record_property("canary", CANARY_TEXT)
    assert __doc__ is not None
    assert CANARY_TEXT in " ".join(__doc__.split()), f"Update the docstring: {CANARY_TEXT}."


def test_the_canary_people_are_those_the_policy_keeps_from_the_victims_location(
    world: World,
) -> None:
    victim_a = world.victim_a
    for key in PERSONAS:
        assert may_not_locate(world, world.personas[key]), key
    for key, persona in world.personas.items():
        if key not in PERSONAS and may_not_locate(world, persona):
            # Left out only as a repeat of a relation the canary already has.
            assert persona.spec.relation in OTHER_RELATIONS, key
    rep = world.persona(Role.VICTIM_REP, "member")
    assert not may_not_locate(world, rep)
    assert codename(Info.VICTIM_LOCATING) in authz.victim_codes(world, rep, victim_a)


@pytest.mark.parametrize("persona_key", PERSONAS)
def test_no_marker_on_any_get_route(
    world: World, persona_key: str, mailoutbox: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    persona = world.personas[persona_key]
    absent = forbidden(world, persona)
    if persona.role in (Role.TREATMENT, Role.POLYGRAPH):
        assert set(world.canaries[world.victim_a.pk].names) <= set(absent)
    visited = 0
    for client, url, search in urls_to_visit(world, persona, clients_for(persona)):
        response = client.get(url)
        assert response.status_code < 500, f"{persona_key} {url}: {response.status_code}"
        shown = {m: what for m, what in absent.items() if m != search}
        assert_no_marker(body_of(response), shown, f"{persona_key} GET {url}")
        if search:  # a count is a leak too: the case must not be found by the marker
            assert "0 cases found." in body_of(response), f"{persona_key} {url} finds it"
        visited += 1
    assert visited > len(ROUTES)
    assert_no_marker(mail_text(mailoutbox) + mail_text(world.mails), markers(world), "e-mail")
    assert_no_marker(caplog.text, markers(world), "the log")


# --- A release to one recipient --------------------------------------------------------


def locating_shown(world: World, text: str) -> set[str]:
    canary = world.canaries[world.victim_a.pk]
    return {name for name, marker in canary.locating.items() if marker.lower() in text.lower()}


def what_they_see(world: World, persona: Persona) -> dict[str, set[str]]:
    """The locating fields shown to the persona on the case page, the victim page and
    the API's victim detail and list."""
    web, api = clients_for(persona)
    seen: dict[str, set[str]] = {}
    pages = {
        "case page": (web, reverse("case-detail", args=[world.case_a.pk])),
        "victim page": (web, reverse("victim-detail", args=[world.victim_a.pk])),
        "api detail": (api, reverse("api:victim-detail", args=[world.victim_a.pk])),
        "api list": (api, reverse("api:victim-list") + f"?case={world.case_a.pk}"),
    }
    for label, (client, url) in pages.items():
        response = client.get(url)
        seen[label] = (
            locating_shown(world, body_of(response)) if response.status_code == 200 else set()
        )
    return seen


VIEWS = ("case page", "victim page", "api detail", "api list")


def fields_of(*categories: str) -> set[str]:
    return {name for category in categories for name in RELEASE_FIELDS[category]}


def test_a_release_opens_one_category_to_its_recipient_only(
    world: World, mailoutbox: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    rep = world.persona(Role.VICTIM_REP, "member").user
    officer = world.persona(Role.OFFICER, "member")
    others = [world.personas[key] for key in PERSONAS if key != officer.key]
    nothing: dict[str, set[str]] = {key: set() for key in VIEWS}

    assert what_they_see(world, officer) == nothing
    release = release_by_service(rep, world.victim_a, world.case_a, officer.user, ["phone"])

    phone_only = {key: fields_of("phone") for key in VIEWS}
    assert what_they_see(world, officer) == phone_only
    api = clients_for(officer)[1]
    location = api.get(reverse("api:victim-detail", args=[world.victim_a.pk])).json()["location"]
    canary = world.canaries[world.victim_a.pk]
    assert location["phone"] == canary.locating["phone"]
    assert all(location[name] is None for name in canary.locating if name != "phone")
    for persona in others:
        assert what_they_see(world, persona) == nothing, persona.key

    authz.victim_services.revoke_release(rep, release, "The victim withdrew consent")
    assert not VictimUserObjectPermission.objects.filter(user=officer.user).exists()
    assert what_they_see(world, officer) == nothing

    assert_no_marker(mail_text(mailoutbox), markers(world), "e-mail")
    assert_no_marker(caplog.text, markers(world), "the log")


def test_an_expired_release_opens_nothing_even_before_its_grants_are_removed(
    world: World,
) -> None:
    rep = world.persona(Role.VICTIM_REP, "member").user
    officer = world.persona(Role.OFFICER, "member")
    release = release_by_service(
        rep, world.victim_a, world.case_a, officer.user, ["phone", "address", "email"]
    )
    assert what_they_see(world, officer)["case page"] == fields_of("phone", "address", "email")
    authz.expire_release(release)
    assert VictimUserObjectPermission.objects.filter(user=officer.user).count() == 3
    seen = what_they_see(world, officer)
    assert seen == {key: set() for key in VIEWS}, seen
