"""Emergency access (issue 4): a supervisor opens a case outside their teams with a
written reason, for a limited time; every event is marked; another supervisor signs off."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

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
