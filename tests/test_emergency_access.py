"""Emergency access (issue 4): a supervisor opens a case outside their teams with a
written reason, for a limited time; every event is marked; another supervisor signs off."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from casework.models import EmergencyAccess
from teams.roles import Role
from tests import factories as f

pytestmark = pytest.mark.django_db

REASON = "Police report a threat to the victim tonight; need the residence conditions now."


@pytest.fixture
def world() -> dict[str, object]:
    home, other = f.make_team(), f.make_team()
    supervisor = f.make_member(home, Role.SUPERVISOR)
    reviewer = f.make_member(home, Role.SUPERVISOR)
    officer = f.make_member(other, Role.OFFICER)
    case = f.make_case(team=other, officer=officer, reference="C-EMERG-1")
    return {"supervisor": supervisor, "reviewer": reviewer, "officer": officer, "case": case}


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_needs_a_reason_and_changes_nothing_without_one(world: dict[str, object]) -> None:
    client = _client(world["supervisor"])
    response = client.post("/emergency-access/", {"reference": "C-EMERG-1", "reason": "urgent"})
    assert response.status_code == 400
    assert "Write why you need this case now" in response.content.decode()
    assert EmergencyAccess.objects.count() == 0
    assert client.get(f"/cases/{world['case'].pk}/").status_code == 404  # type: ignore[attr-defined]


def test_only_supervisors_and_only_outside_their_teams(world: dict[str, object]) -> None:
    response = _client(world["officer"]).post(
        "/emergency-access/", {"reference": "C-EMERG-1", "reason": REASON}
    )
    assert response.status_code == 400
    assert EmergencyAccess.objects.count() == 0
    response = _client(world["supervisor"]).post(
        "/emergency-access/", {"reference": "NO-SUCH-CASE", "reason": REASON}
    )
    assert response.status_code == 400
    assert "No case has this reference" in response.content.decode()


def test_opens_the_case_marks_events_and_expires(world: dict[str, object]) -> None:
    client = _client(world["supervisor"])
    case = world["case"]
    response = client.post("/emergency-access/", {"reference": "C-EMERG-1", "reason": REASON})
    assert response.status_code == 302
    assert client.get(f"/cases/{case.pk}/").status_code == 200  # type: ignore[attr-defined]
    started = AuditEvent.objects.get(action=Action.EMERGENCY_ACCESS)
    assert started.case_id == case.pk  # type: ignore[attr-defined]
    views = AuditEvent.objects.filter(
        action=Action.VIEW,
        case_id=case.pk,  # type: ignore[attr-defined]
        actor_id=world["supervisor"].pk,  # type: ignore[attr-defined]
    )
    assert views.exists() and all(event.emergency for event in views)
    # When the time is up the case closes again, on the next request, with no task run.
    EmergencyAccess.objects.update(
        started_at=timezone.now() - dt.timedelta(hours=2),
        expires_at=timezone.now() - dt.timedelta(hours=1),
    )
    from casework.models import CaseUserObjectPermission

    CaseUserObjectPermission.objects.update(expires_at=timezone.now() - dt.timedelta(hours=1))
    assert client.get(f"/cases/{case.pk}/").status_code == 404  # type: ignore[attr-defined]


def test_another_supervisor_signs_it_off(world: dict[str, object]) -> None:
    _client(world["supervisor"]).post(
        "/emergency-access/", {"reference": "C-EMERG-1", "reason": REASON}
    )
    access = EmergencyAccess.objects.get()
    own = _client(world["supervisor"])
    assert "C-EMERG-1" not in own.get("/emergency-access/review/").content.decode()
    assert own.post(f"/emergency-access/{access.pk}/review/", {"note": "ok"}).status_code == 404
    other = _client(world["reviewer"])
    assert "C-EMERG-1" in other.get("/emergency-access/review/").content.decode()
    assert other.post(f"/emergency-access/{access.pk}/review/", {"note": ""}).status_code == 400
    response = other.post(
        f"/emergency-access/{access.pk}/review/", {"note": "Checked with the police report."}
    )
    assert response.status_code == 302
    access.refresh_from_db()
    assert access.reviewed_by == world["reviewer"]
    assert AuditEvent.objects.filter(action=Action.EMERGENCY_REVIEW).count() == 1


def _api(user: object) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)  # type: ignore[arg-type]
    return client


def test_api_start_read_and_sign_off(world: dict[str, object]) -> None:
    case = world["case"]
    supervisor = _api(world["supervisor"])
    refused = supervisor.post(
        "/api/v1/emergency-access/", {"reference": "C-EMERG-1", "reason": "urgent"}, format="json"
    )
    assert refused.status_code == 400 and "reason" in refused.json()
    assert EmergencyAccess.objects.count() == 0
    unknown = supervisor.post(
        "/api/v1/emergency-access/",
        {"reference": "C-EMERG-1", "reason": REASON, "minutes": 600},
        format="json",
    )
    assert unknown.status_code == 400 and "minutes" in unknown.json()
    started = supervisor.post(
        "/api/v1/emergency-access/", {"reference": "C-EMERG-1", "reason": REASON}, format="json"
    )
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["case"] == case.pk and body["active"] is True  # type: ignore[attr-defined]
    # The case opens through the API too, and what is read is marked.
    assert supervisor.get(f"/api/v1/cases/{case.pk}/").status_code == 200  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(
        action=Action.VIEW, target_type="casework.case", emergency=True
    ).exists()
    # The supervisor who started it cannot sign it off; another one can.
    own = supervisor.post(
        f"/api/v1/emergency-access/{body['id']}/review/", {"note": "fine"}, format="json"
    )
    assert own.status_code == 400
    assert "Another supervisor" in own.json()["non_field_errors"][0]
    reviewer = _api(world["reviewer"])
    listed = reviewer.get("/api/v1/emergency-access/").json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    assert (
        reviewer.post(
            f"/api/v1/emergency-access/{body['id']}/review/", {"note": ""}, format="json"
        ).status_code
        == 400
    )
    signed = reviewer.post(
        f"/api/v1/emergency-access/{body['id']}/review/",
        {"note": "Checked with the police report."},
        format="json",
    )
    assert signed.status_code == 200 and signed.json()["reviewed_by"] == world["reviewer"].pk  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(action=Action.EMERGENCY_REVIEW).count() == 1
    # Signed off, it leaves the reviewer's list but stays in the starter's own.
    assert reviewer.get("/api/v1/emergency-access/").json()["results"] == []
    assert supervisor.get(f"/api/v1/emergency-access/{body['id']}/").status_code == 200
    assert AuditEvent.objects.filter(
        action=Action.VIEW, target_type="casework.emergencyaccess"
    ).exists()


def test_api_is_for_supervisors_only(world: dict[str, object]) -> None:
    _api(world["supervisor"]).post(
        "/api/v1/emergency-access/", {"reference": "C-EMERG-1", "reason": REASON}, format="json"
    )
    access = EmergencyAccess.objects.get()
    officer = _api(world["officer"])
    response = officer.post(
        "/api/v1/emergency-access/", {"reference": "C-EMERG-1", "reason": REASON}, format="json"
    )
    assert response.status_code == 403
    assert officer.get("/api/v1/emergency-access/").json()["results"] == []
    assert officer.get(f"/api/v1/emergency-access/{access.pk}/").status_code == 404
    assert (
        officer.post(
            f"/api/v1/emergency-access/{access.pk}/review/", {"note": "x"}, format="json"
        ).status_code
        == 404
    )
    assert APIClient().get("/api/v1/emergency-access/").status_code == 401
    assert EmergencyAccess.objects.count() == 1


def test_navigation_offers_emergency_access_to_supervisors_only(world: dict[str, object]) -> None:
    assert (
        'href="/emergency-access/review/"' in _client(world["supervisor"]).get("/").content.decode()
    )
    assert (
        'href="/emergency-access/review/"'
        not in _client(world["officer"]).get("/").content.decode()
    )
