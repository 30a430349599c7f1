"""Releases of information (victim consents): who may record and see them, what an
active release opens (exactly its categories of its victim to its recipient), and how
revocation and expiry close it on the very next request, with the audit trail of each."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from casework.models import Case
from teams.disclosure.grants import grant_case_access
from teams.models import Team, User
from teams.roles import Role
from tests import factories as f
from victims import services
from victims.models import Release, ReleaseItem, Victim, VictimUserObjectPermission
from victims.tasks import expire_grants

pytestmark = pytest.mark.django_db

API = "/api/v1"
FIRST_NAME = "Zelphinia"
LAST_NAME = "Quarrington"
ADDRESS = "REL-ADDRESS-MARKER 44 Chestnut Lane"
PHONE = "860-555-8842"
PURPOSE = "Safety planning with the supervising officer"


@dataclass
class World:
    team: Team
    officer: User
    officer2: User
    supervisor: User
    rep: User
    treatment: User
    polygraph: User
    outsider: User
    case: Case
    victim: Victim


@pytest.fixture
def world() -> World:
    team = f.make_team("Hartford North MDT")
    rep = f.make_member(team, Role.VICTIM_REP)
    officer = f.make_member(team, Role.OFFICER)
    case = f.make_case(team, officer=officer)
    victim = f.make_victim(
        first_name=FIRST_NAME, last_name=LAST_NAME, address_line1=ADDRESS, phone=PHONE
    )
    f.link_victim(case, victim, pseudonym="Person harmed 1", representative=rep)
    other = f.make_team("New Haven MDT")
    return World(
        team=team,
        officer=officer,
        officer2=f.make_member(team, Role.OFFICER),
        supervisor=f.make_member(team, Role.SUPERVISOR),
        rep=rep,
        treatment=f.make_member(team, Role.TREATMENT),
        polygraph=f.make_member(team, Role.POLYGRAPH),
        outsider=f.make_member(other, Role.OFFICER),
        case=case,
        victim=victim,
    )


def today() -> dt.date:
    return timezone.localdate()


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


def release(
    world: World,
    recipient: User | None = None,
    categories: tuple[str, ...] = ("phone",),
    expires_on: dt.date | None = None,
) -> Release:
    return services.create_release(
        created_by=world.rep,
        victim=world.victim,
        case=world.case,
        recipient=recipient or world.officer,
        categories=categories,
        purpose=PURPOSE,
        signed_on=today() - dt.timedelta(days=30),
        expires_on=expires_on or today() + dt.timedelta(days=90),
    )


def counts() -> tuple[int, int, int, int]:
    """Every row a release writes: the release, its items, its grants, its audit event."""
    return (
        Release.objects.count(),
        ReleaseItem.objects.count(),
        VictimUserObjectPermission.objects.count(),
        AuditEvent.objects.filter(action=Action.RELEASE_CHANGE).count(),
    )


def release_events(change: str) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(action=Action.RELEASE_CHANGE, detail__change=change).order_by(
            "id"
        )
    )


def case_url(world: World) -> str:
    return f"/cases/{world.case.pk}/"


def victim_url(world: World) -> str:
    return f"/victims/{world.victim.pk}/"


def new_release_url(world: World) -> str:
    return f"/victims/{world.victim.pk}/releases/new/"


def form_data(world: World, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "case": world.case.pk,
        "recipient": world.officer.pk,
        "categories": ["phone"],
        "purpose": PURPOSE,
        "signed_on": today().isoformat(),
        "expires_on": (today() + dt.timedelta(days=90)).isoformat(),
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def api_data(world: World, **changes: Any) -> dict[str, Any]:
    data = form_data(world, **changes)
    data["victim"] = world.victim.pk
    return data


# --- Recording a release ---------------------------------------------------------------


def test_victim_rep_records_a_release_in_the_web_form(world: World) -> None:
    client = signed_in(world.rep)
    form = client.get(new_release_url(world))
    assert form.status_code == 200
    page = html(form)
    for label in ("Recipient", "Information released", "Purpose", "Date signed", "Expiry date"):
        assert label in page
    assert '<label for="id_expires_on"' in page
    assert "<legend" in page  # the categories are a group of checkboxes with a legend

    response = client.post(new_release_url(world), form_data(world, categories=["phone", "email"]))
    assert response.status_code == 302
    assert response["Location"] == victim_url(world)
    created = Release.objects.get()
    assert created.recipient == world.officer
    assert sorted(created.category_list) == ["email", "phone"]
    assert created.created_by == world.rep
    codes = set(
        VictimUserObjectPermission.objects.filter(
            user=world.officer, content_object=world.victim
        ).values_list("permission__codename", flat=True)
    )
    assert codes == {"view_released_phone", "view_released_email"}


def test_creation_is_audited_without_locating_values(world: World) -> None:
    created = release(world, categories=("phone", "address"))
    (event,) = release_events("created")
    assert event.actor == world.rep
    assert event.case_id == world.case.pk
    assert event.target_type == "victims.release"
    assert event.target_id == str(created.pk)
    assert event.detail["recipient"] == world.officer.pk
    assert sorted(event.detail["categories"]) == ["address", "phone"]
    assert event.detail["expires_on"] == created.expires_on.isoformat()
    text = json.dumps(event.detail)
    for secret in (ADDRESS, PHONE, FIRST_NAME, LAST_NAME, PURPOSE):
        assert secret not in text


BAD_INPUTS: dict[str, tuple[dict[str, Any], str]] = {
    "no expiry": ({"expires_on": None}, "expires_on"),
    "empty expiry": ({"expires_on": ""}, "expires_on"),
    "expiry in the past": ({"expires_on": "PAST"}, "expires_on"),
    "expiry more than a year ahead": ({"expires_on": "FAR"}, "expires_on"),
    "recipient not on the team": ({"recipient": "OUTSIDER"}, "recipient"),
    "recipient is the creator": ({"recipient": "REP"}, "recipient"),
    "no categories": ({"categories": []}, "categories"),
    "no purpose": ({"purpose": "  "}, "purpose"),
    "signed in the future": ({"signed_on": "FUTURE"}, "signed_on"),
}


def resolve(world: World, changes: dict[str, Any]) -> dict[str, Any]:
    values = {
        "PAST": (today() - dt.timedelta(days=1)).isoformat(),
        "FAR": (today() + dt.timedelta(days=366)).isoformat(),
        "FUTURE": (today() + dt.timedelta(days=1)).isoformat(),
        "OUTSIDER": world.outsider.pk,
        "REP": world.rep.pk,
    }
    return {
        key: values.get(value, value) if isinstance(value, str) else value
        for key, value in changes.items()
    }


@pytest.mark.parametrize("case_name", list(BAD_INPUTS))
def test_bad_release_in_the_web_form_shows_a_field_error_and_saves_nothing(
    world: World, case_name: str
) -> None:
    changes, field = BAD_INPUTS[case_name]
    before = counts()
    response = signed_in(world.rep).post(
        new_release_url(world), form_data(world, **resolve(world, changes))
    )
    assert response.status_code == 200
    page = html(response)
    assert f'id="id_{field}_error"' in page, page
    assert 'role="alert"' in page
    assert counts() == before
    # What the user typed is still in the form.
    assert PURPOSE in page or field == "purpose"


@pytest.mark.parametrize("case_name", list(BAD_INPUTS))
def test_bad_release_in_the_api_is_a_400_naming_the_field_and_saves_nothing(
    world: World, case_name: str
) -> None:
    changes, field = BAD_INPUTS[case_name]
    before = counts()
    response = api_as(world.rep).post(
        f"{API}/releases/", api_data(world, **resolve(world, changes)), format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert counts() == before


def test_every_problem_is_reported_at_once(world: World) -> None:
    api = api_as(world.rep).post(
        f"{API}/releases/",
        api_data(world, categories=[], purpose="", expires_on=None),
        format="json",
    )
    assert api.status_code == 400
    # The serializer reports the missing expiry; the rest needs the service.
    assert "expires_on" in api.json()
    web = signed_in(world.rep).post(
        new_release_url(world), form_data(world, categories=[], purpose="", expires_on="")
    )
    page = html(web)
    for field in ("categories", "purpose", "expires_on"):
        assert f'id="id_{field}_error"' in page


def test_expiry_today_and_exactly_one_year_ahead_are_accepted(world: World) -> None:
    release(world, expires_on=today())
    release(world, expires_on=today() + dt.timedelta(days=365), recipient=world.officer2)
    assert Release.objects.count() == 2


@pytest.mark.parametrize("role", ["officer", "supervisor", "treatment", "polygraph"])
def test_only_victim_reps_may_record_a_release_web(world: World, role: str) -> None:
    client = signed_in(getattr(world, role))
    before = counts()
    assert client.get(new_release_url(world)).status_code == 403
    assert client.post(new_release_url(world), form_data(world)).status_code == 403
    assert counts() == before


def test_outsider_gets_404_on_the_release_form(world: World) -> None:
    client = signed_in(world.outsider)
    assert client.get(new_release_url(world)).status_code == 404
    assert client.post(new_release_url(world), form_data(world)).status_code == 404
    assert Release.objects.count() == 0


@pytest.mark.parametrize("role", ["officer", "supervisor", "treatment"])
def test_only_victim_reps_may_record_a_release_api(world: World, role: str) -> None:
    before = counts()
    response = api_as(getattr(world, role)).post(
        f"{API}/releases/", api_data(world, recipient=world.officer2.pk), format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["case"]
    assert counts() == before


def test_outsider_cannot_name_a_hidden_victim_or_case_in_the_api(world: World) -> None:
    before = counts()
    response = api_as(world.outsider).post(f"{API}/releases/", api_data(world), format="json")
    assert response.status_code == 400
    assert {"victim", "case"} <= set(response.json())
    assert counts() == before


def test_victim_must_be_linked_to_the_case(world: World) -> None:
    other_case = f.make_case(world.team, officer=world.officer)
    before = counts()
    response = api_as(world.rep).post(
        f"{API}/releases/", api_data(world, case=other_case.pk), format="json"
    )
    assert response.status_code == 400
    assert "victim" in response.json()
    assert counts() == before


def test_api_creates_a_release(world: World) -> None:
    response = api_as(world.rep).post(
        f"{API}/releases/", api_data(world, categories=["phone"]), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["recipient"] == world.officer.pk
    assert body["categories"] == ["phone"]
    assert body["status"] == "active"
    assert body["revoked_at"] is None
    assert Release.objects.filter(pk=body["id"]).exists()


# --- What an active release opens ------------------------------------------------------


def test_release_for_phone_shows_that_officer_only_the_phone(world: World) -> None:
    release(world, categories=("phone",))
    page = html(signed_in(world.officer).get(case_url(world)))
    assert PHONE in page
    assert ADDRESS not in page
    assert "06103" not in page  # postal code belongs to the address category
    assert "person@example.org" not in page

    detail = api_as(world.officer).get(f"{API}/victims/{world.victim.pk}/").json()
    location = detail["location"]
    assert location["phone"] == PHONE
    assert location["address_line1"] is None
    assert location["postal_code"] is None
    assert location["email"] is None
    listed = api_as(world.officer).get(f"{API}/victims/").json()["results"]
    assert [row["location"]["phone"] for row in listed] == [PHONE]
    assert ADDRESS.encode() not in api_as(world.officer).get(f"{API}/victims/").content

    victim_page = html(signed_in(world.officer).get(victim_url(world)))
    assert PHONE in victim_page
    assert ADDRESS not in victim_page


@pytest.mark.parametrize("role", ["officer2", "supervisor", "treatment", "polygraph"])
def test_release_to_one_officer_shows_nothing_to_anyone_else(world: World, role: str) -> None:
    release(world, categories=("phone", "address"))
    user = getattr(world, role)
    for response in (
        signed_in(user).get(case_url(world)),
        signed_in(user).get(victim_url(world)),
        api_as(user).get(f"{API}/victims/{world.victim.pk}/"),
        api_as(user).get(f"{API}/victims/"),
    ):
        assert response.status_code == 200
        assert PHONE.encode() not in response.content
        assert ADDRESS.encode() not in response.content
    assert api_as(user).get(f"{API}/victims/{world.victim.pk}/").json()["location"] is None


def test_release_opens_only_its_own_victim(world: World) -> None:
    other = f.make_victim(address_line1="OTHER-VICTIM-ADDRESS 3 Birch Way", phone="860-555-1234")
    f.link_victim(world.case, other, pseudonym="Person harmed 2", representative=world.rep)
    release(world, categories=("phone", "address"))
    page = html(signed_in(world.officer).get(case_url(world)))
    assert PHONE in page
    assert "860-555-1234" not in page
    assert "OTHER-VICTIM-ADDRESS" not in page
    detail = api_as(world.officer).get(f"{API}/victims/{other.pk}/").json()
    assert detail["location"] is None


def test_identity_cannot_be_released_to_a_treatment_provider(world: World) -> None:
    """DESIGN rule 3: treatment and polygraph see a pseudonym, whatever a release says."""
    before = Release.objects.count()
    with pytest.raises(ValidationError) as raised:
        release(world, recipient=world.treatment, categories=("identity",))
    assert "categories" in raised.value.message_dict
    assert Release.objects.count() == before
    assert FIRST_NAME not in html(signed_in(world.treatment).get(case_url(world)))


def test_revocation_closes_access_on_the_next_request(world: World) -> None:
    created = release(world, categories=("phone",))
    officer = signed_in(world.officer)
    assert PHONE in html(officer.get(case_url(world)))

    response = signed_in(world.rep).post(
        f"/releases/{created.pk}/revoke/", {"reason": "The victim withdrew consent by phone."}
    )
    assert response.status_code == 302
    assert PHONE not in html(officer.get(case_url(world)))
    assert PHONE not in html(officer.get(victim_url(world)))
    assert api_as(world.officer).get(f"{API}/victims/{world.victim.pk}/").json()["location"] is None
    assert not VictimUserObjectPermission.objects.filter(user=world.officer).exists()
    created.refresh_from_db()
    assert created.revoked_by == world.rep
    assert created.revocation_reason == "The victim withdrew consent by phone."
    (event,) = release_events("revoked")
    assert event.actor == world.rep
    assert event.target_id == str(created.pk)
    assert "withdrew" not in json.dumps(event.detail)


def test_revocation_needs_a_reason(world: World) -> None:
    created = release(world)
    response = signed_in(world.rep).post(f"/releases/{created.pk}/revoke/", {"reason": " "})
    assert response.status_code == 200
    assert 'id="id_reason_error"' in html(response)
    api = api_as(world.rep).post(f"{API}/releases/{created.pk}/revoke/", {}, format="json")
    assert api.status_code == 400
    assert "reason" in api.json()
    created.refresh_from_db()
    assert created.revoked_at is None
    assert release_events("revoked") == []
    assert PHONE in html(signed_in(world.officer).get(case_url(world)))


def test_api_revokes_once(world: World) -> None:
    created = release(world)
    client = api_as(world.rep)
    url = f"{API}/releases/{created.pk}/revoke/"
    response = client.post(url, {"reason": "Consent withdrawn"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked"
    again = client.post(url, {"reason": "Again"}, format="json")
    assert again.status_code == 400
    assert "non_field_errors" in again.json()
    assert len(release_events("revoked")) == 1


def test_revoking_one_release_keeps_what_another_active_release_names(world: World) -> None:
    first = release(world, categories=("phone", "address"))
    release(world, categories=("phone",), expires_on=today() + dt.timedelta(days=200))
    services.revoke_release(world.rep, first, "Replaced by the phone-only release")
    page = html(signed_in(world.officer).get(case_url(world)))
    assert PHONE in page
    assert ADDRESS not in page


def test_expiry_closes_access_without_any_task(world: World) -> None:
    created = release(world, categories=("phone", "address"))
    Release.objects.filter(pk=created.pk).update(expires_on=today() - dt.timedelta(days=1))
    # The grant rows are still there: the query itself checks the date.
    assert VictimUserObjectPermission.objects.filter(user=world.officer).count() == 2
    for response in (
        signed_in(world.officer).get(case_url(world)),
        signed_in(world.officer).get(victim_url(world)),
        api_as(world.officer).get(f"{API}/victims/{world.victim.pk}/"),
        api_as(world.officer).get(f"{API}/victims/"),
    ):
        assert response.status_code == 200
        assert PHONE.encode() not in response.content
        assert ADDRESS.encode() not in response.content


def test_release_expiring_today_still_works_today(world: World) -> None:
    release(world, expires_on=today())
    assert PHONE in html(signed_in(world.officer).get(case_url(world)))


def test_expire_task_removes_rows_and_audits_each_release_once(world: World) -> None:
    first = release(world, categories=("phone", "address"))
    second = release(world, recipient=world.officer2, categories=("email",))
    kept = release(world, recipient=world.supervisor, categories=("phone",))
    Release.objects.filter(pk__in=[first.pk, second.pk]).update(
        expires_on=today() - dt.timedelta(days=1)
    )
    guest = f.make_user()
    grant_case_access(
        guest,
        world.case,
        Role.OFFICER,
        granted_by=world.supervisor,
        reason="Covering officer",
        expires_at=timezone.now() - dt.timedelta(minutes=1),
    )

    guest_rows = grant_rows(guest)
    assert guest_rows > 0
    assert expire_grants() == {"releases": 2, "case_grants": guest_rows}
    assert grant_rows(guest) == 0
    assert expire_grants() == {"releases": 0, "case_grants": 0}

    assert not VictimUserObjectPermission.objects.filter(
        user__in=[world.officer, world.officer2]
    ).exists()
    assert VictimUserObjectPermission.objects.filter(user=world.supervisor).count() == 1
    events = release_events("expired")
    assert sorted(int(event.target_id) for event in events) == sorted([first.pk, second.pk])
    assert all(event.actor is None for event in events)
    assert kept.pk not in {int(event.target_id) for event in events}
    assert PHONE in html(signed_in(world.supervisor).get(case_url(world)))


def grant_rows(user: User) -> int:
    from casework.models import CaseUserObjectPermission

    return CaseUserObjectPermission.objects.filter(user=user).count()


def test_expiry_of_a_release_whose_rows_another_release_needs_is_audited_once(
    world: World,
) -> None:
    old = release(world, categories=("phone",))
    release(world, categories=("phone",), expires_on=today() + dt.timedelta(days=300))
    Release.objects.filter(pk=old.pk).update(expires_on=today() - dt.timedelta(days=1))
    expire_grants()
    expire_grants()
    assert len(release_events("expired")) == 1
    # The renewal still holds the shared row.
    assert PHONE in html(signed_in(world.officer).get(case_url(world)))


def test_expire_task_is_on_the_beat_schedule() -> None:
    entries = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "victims.tasks.expire_grants"
    ]
    assert len(entries) == 1
    schedule: Any = entries[0]["schedule"]
    assert schedule.minute == {0, 15, 30, 45}


# --- Who sees releases -----------------------------------------------------------------


def test_releases_are_listed_for_victim_reps_only(world: World) -> None:
    created = release(world)
    rep = api_as(world.rep)
    assert [row["id"] for row in rep.get(f"{API}/releases/").json()["results"]] == [created.pk]
    assert rep.get(f"{API}/releases/{created.pk}/").status_code == 200
    assert [
        row["id"]
        for row in rep.get(f"{API}/releases/", {"victim": world.victim.pk}).json()["results"]
    ] == [created.pk]
    for user in (world.officer, world.supervisor, world.treatment, world.outsider):
        client = api_as(user)
        listed = client.get(f"{API}/releases/")
        assert listed.status_code == 200
        assert listed.json()["count"] == 0
        assert client.get(f"{API}/releases/{created.pk}/").status_code == 404
        revoke = client.post(f"{API}/releases/{created.pk}/revoke/", {"reason": "x"}, format="json")
        assert revoke.status_code == 404
        assert signed_in(user).get(f"/releases/{created.pk}/revoke/").status_code == 404
    created.refresh_from_db()
    assert created.revoked_at is None


def test_victim_page_lists_releases_with_their_status_for_the_rep(world: World) -> None:
    active = release(world)
    revoked = release(world, recipient=world.officer2)
    services.revoke_release(world.rep, revoked, "Consent withdrawn")
    expired = release(world, recipient=world.supervisor)
    Release.objects.filter(pk=expired.pk).update(expires_on=today() - dt.timedelta(days=2))
    response = signed_in(world.rep).get(victim_url(world))
    assert response.status_code == 200
    page = html(response)
    assert "Releases of information" in page
    assert f"/releases/{active.pk}/revoke/" in page
    assert f"/releases/{revoked.pk}/revoke/" not in page
    assert f"/releases/{expired.pk}/revoke/" not in page
    for status in ("Active", "Revoked", "Expired"):
        assert f"<td>{status}" in page
    assert new_release_url(world) in page
    # The rep sees identity and every locating field.
    assert FIRST_NAME in page and ADDRESS in page and PHONE in page


def test_victim_page_shows_no_releases_to_the_recipient(world: World) -> None:
    release(world)
    page = html(signed_in(world.officer).get(victim_url(world)))
    assert "Releases of information" not in page
    assert PURPOSE not in page
    assert new_release_url(world) not in page


def test_victim_page_is_404_for_outsiders_and_audited_for_readers(world: World) -> None:
    assert signed_in(world.outsider).get(victim_url(world)).status_code == 404
    assert signed_in(world.officer).get(victim_url(world)).status_code == 200
    event = AuditEvent.objects.get(action=Action.VIEW, actor=world.officer)
    assert event.target_type == "victims.victim"
    assert event.case_id == world.case.pk


def test_case_panel_links_to_the_victim_page(world: World) -> None:
    assert victim_url(world) in html(signed_in(world.officer).get(case_url(world)))


# --- Pseudonyms ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["treatment", "polygraph"])
def test_treatment_and_polygraph_see_only_the_pseudonym(world: World, role: str) -> None:
    user = getattr(world, role)
    for url in (case_url(world), victim_url(world)):
        response = signed_in(user).get(url)
        assert response.status_code == 200
        page = html(response)
        assert "Person harmed 1" in page
        assert FIRST_NAME not in page
        assert LAST_NAME not in page
        assert ADDRESS not in page
    client = api_as(user)
    detail = client.get(f"{API}/victims/{world.victim.pk}/")
    body = detail.json()
    assert body["display_name"] == "Person harmed 1"
    assert body["first_name"] is None
    assert body["last_name"] is None
    assert body["relationship_category"] == "acquaintance"
    assert body["location"] is None
    listed = client.get(f"{API}/victims/")
    for api_response in (detail, listed):
        assert FIRST_NAME.encode() not in api_response.content
        assert LAST_NAME.encode() not in api_response.content


@pytest.mark.parametrize("role", ["officer", "supervisor", "rep"])
def test_other_roles_see_the_name(world: World, role: str) -> None:
    body = api_as(getattr(world, role)).get(f"{API}/victims/{world.victim.pk}/").json()
    assert body["first_name"] == FIRST_NAME
    assert body["last_name"] == LAST_NAME
    assert body["display_name"] == f"{FIRST_NAME} {LAST_NAME}"
    assert FIRST_NAME in html(signed_in(getattr(world, role)).get(victim_url(world)))


def test_case_guest_in_the_rep_role_reads_releases_but_records_and_revokes_none(
    world: World,
) -> None:
    guest = f.make_user()
    grant_case_access(
        guest, world.case, Role.VICTIM_REP, granted_by=world.supervisor, reason="Cover"
    )
    created = release(world)
    client = api_as(guest)
    assert [row["id"] for row in client.get(f"{API}/releases/").json()["results"]] == [created.pk]
    before = counts()
    response = client.post(
        f"{API}/releases/", api_data(world, recipient=world.officer2.pk), format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["case"]
    assert signed_in(guest).get(new_release_url(world)).status_code == 403
    revoke_url = f"/releases/{created.pk}/revoke/"
    assert signed_in(guest).post(revoke_url, {"reason": "x"}).status_code == 403
    api_revoke = client.post(f"{API}{revoke_url}", {"reason": "x"}, format="json")
    assert api_revoke.status_code == 400
    assert counts() == before
    page = html(signed_in(guest).get(victim_url(world)))
    assert "Releases of information" in page
    assert revoke_url not in page
    assert new_release_url(world) not in page


def test_disclosures_are_recorded_for_the_victims_ledger(world: World) -> None:
    """Every showing of a victim's identity or locating information is an audit event
    naming what was shown and under which release (issue 4: who has seen this victim)."""
    created = release(world, categories=("phone",))
    signed_in(world.officer).get(case_url(world))
    signed_in(world.treatment).get(case_url(world))
    api_as(world.supervisor).get(f"{API}/victims/{world.victim.pk}/")
    ledger = AuditEvent.objects.filter(action=Action.DISCLOSURE, victim_id=world.victim.pk)
    by_actor = {event.actor_id: event for event in ledger}
    officer_event = by_actor[world.officer.pk]
    assert officer_event.detail["shown"] == ["identity", "phone"]
    assert officer_event.detail["release"] == created.pk
    assert officer_event.case_id == world.case.pk
    assert by_actor[world.supervisor.pk].detail == {
        "shown": ["identity"],
        "release": None,
        "releases": [],
    }
    # The treatment provider saw the pseudonym only: nothing was disclosed.
    assert world.treatment.pk not in by_actor
    # The supervisor reviewing the trail sees the ledger, with the release named.
    page = signed_in(world.supervisor).get(
        "/audit/", {"victim": str(world.victim.pk), "action": Action.DISCLOSURE.value}
    )
    assert page.status_code == 200
    text = html(page)
    assert "Who has seen this victim" in text
    assert f"Release #{created.pk}" in text
    assert PHONE not in text
