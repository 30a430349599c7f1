"""The trail is complete and tamper-evident (issue 4): writes by any path are recorded by
the database, the chain names the first event changed, removed or moved, and the
application cannot rewrite history."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import Action, AuditEvent, Outcome
from audit.services import record
from audit.verify import verify
from casework.models import CaseNote
from teams.roles import Role
from tests import factories as f
from victims.models import VictimLocation

pytestmark = pytest.mark.django_db
# These tamper or bind as PostgreSQL allows (session_replication_role, set_config);
# tests/test_audit_sqlite.py covers the same on SQLite.
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="uses PostgreSQL-only SQL"
)


@pytest.fixture
def world() -> dict[str, object]:
    team = f.make_team()
    officer = f.make_member(team, Role.OFFICER)
    case = f.make_case(team=team, officer=officer)
    note = f.make_note(case, officer, body="Home visit: SECRET-BODY-4711")
    return {"team": team, "officer": officer, "case": case, "note": note}


def _superuser_sql(sql: str, params: list[Any] | None = None) -> None:
    """Tamper as a database superuser would: with triggers switched off for the session."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params or [])
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def test_a_fresh_chain_verifies(world: dict[str, object]) -> None:
    record(world["officer"], Action.VIEW, target=world["case"])
    verdict = verify()
    assert verdict.ok, verdict.problem
    assert verdict.checked == AuditEvent.objects.count()
    call_command("verify_audit")


def test_bulk_update_is_recorded_with_field_names_and_safe_values(world: dict[str, object]) -> None:
    note = world["note"]
    before = AuditEvent.objects.count()
    CaseNote.objects.filter(pk=note.pk).update(disclosure_level="team", body="changed")  # type: ignore[attr-defined]
    event = AuditEvent.objects.exclude(pk__in=[]).order_by("-seq").first()
    assert AuditEvent.objects.count() == before + 1
    assert event is not None
    assert event.action == Action.UPDATE
    assert event.target_type == "casework.casenote"
    assert event.target_id == str(note.pk)  # type: ignore[attr-defined]
    assert event.case_id == world["case"].pk  # type: ignore[attr-defined]
    assert set(event.detail["fields"]) >= {"disclosure_level", "body"}
    assert event.detail["values"]["disclosure_level"] == {"old": "supervision", "new": "team"}
    # The body is named as changed, but neither its old nor its new text is copied.
    assert "body" not in event.detail["values"]
    assert "SECRET-BODY-4711" not in str(event.detail)


def test_bulk_create_and_raw_sql_are_recorded(world: dict[str, object]) -> None:
    case, officer = world["case"], world["officer"]
    before = AuditEvent.objects.filter(
        action=Action.CREATE, target_type="casework.casenote"
    ).count()
    CaseNote.objects.bulk_create(
        [CaseNote(case=case, author=officer, body=f"bulk {i}") for i in range(3)]  # type: ignore[misc]
    )
    after = AuditEvent.objects.filter(action=Action.CREATE, target_type="casework.casenote").count()
    assert after == before + 3
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE casework_casenote SET kind = 'general' WHERE id = %s",
            [world["note"].pk],  # type: ignore[attr-defined]
        )
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None and event.action == Action.UPDATE
    assert event.detail["values"]["kind"] == {"old": "supervision", "new": "general"}
    assert verify().ok


@postgresql_only
def test_locating_values_never_enter_the_trail(world: dict[str, object]) -> None:
    victim = f.make_victim()
    location = VictimLocation.objects.get(victim=victim)
    VictimLocation.objects.filter(pk=location.pk).update(
        phone="CANARY-PHONE-555", address_line1="CANARY-STREET-1"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT string_agg(detail::text || target_id, ' ') FROM audit_auditevent")
        everything = cursor.fetchone()[0]
    assert "CANARY" not in everything
    event = AuditEvent.objects.filter(target_type="victims.victimlocation").order_by("-seq")[0]
    assert set(event.detail["fields"]) >= {"phone", "address_line1"}
    assert event.victim_id == victim.pk


def test_the_application_cannot_update_or_delete_events(world: dict[str, object]) -> None:
    record(None, Action.LOGIN_FAILED, username="someone")
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="view")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent")


def _events(n: int) -> list[AuditEvent]:
    for i in range(n):
        record(None, Action.LOGIN_FAILED, username=f"try{i}")
    return list(AuditEvent.objects.order_by("seq"))


@postgresql_only
def test_verify_names_a_changed_event(world: dict[str, object]) -> None:
    events = _events(5)
    victim = events[-3]
    _superuser_sql(
        "UPDATE audit_auditevent SET actor_username = 'someone-else' WHERE id = %s", [victim.pk]
    )
    verdict = verify()
    assert not verdict.ok
    assert verdict.first_bad_seq == victim.seq
    assert "changed" in verdict.problem
    with pytest.raises(CommandError, match=f"#{victim.seq}"):
        call_command("verify_audit")


@postgresql_only
def test_verify_names_a_removed_event(world: dict[str, object]) -> None:
    events = _events(5)
    gone = events[-3]
    _superuser_sql("DELETE FROM audit_auditevent WHERE id = %s", [gone.pk])
    verdict = verify()
    assert not verdict.ok
    assert f"#{gone.seq} is missing" in verdict.problem


@postgresql_only
def test_verify_names_swapped_events(world: dict[str, object]) -> None:
    events = _events(5)
    first, second = events[-3], events[-2]
    _superuser_sql(
        "UPDATE audit_auditevent SET seq = CASE id WHEN %s THEN -1 ELSE seq END WHERE id = %s",
        [first.pk, first.pk],
    )
    _superuser_sql("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [first.seq, second.pk])
    _superuser_sql("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [second.seq, first.pk])
    verdict = verify()
    assert not verdict.ok
    assert verdict.first_bad_seq == first.seq


def test_a_request_writes_its_read_events_in_one_insert(world: dict[str, object]) -> None:
    client = Client()
    client.force_login(world["officer"])  # type: ignore[arg-type]
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/cases/")
    assert response.status_code == 200
    inserts = [
        q
        for q in captured.captured_queries
        if q["sql"].startswith('INSERT INTO "audit_auditevent"')
    ]
    assert len(inserts) == 1


@postgresql_only
def test_writes_in_a_request_name_the_acting_user(world: dict[str, object]) -> None:
    officer = world["officer"]
    client = Client()
    client.force_login(officer)  # type: ignore[arg-type]
    # Signing in updates last_login; that write is captured with the request's user.
    client.get("/cases/")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('mdt.actor_id', %s, false)", [str(officer.pk)])  # type: ignore[attr-defined]
    CaseNote.objects.filter(pk=world["note"].pk).update(kind="general")  # type: ignore[attr-defined]
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None and event.actor_id == officer.pk  # type: ignore[attr-defined]


def test_a_hidden_record_is_recorded_as_denied(world: dict[str, object]) -> None:
    outsider = f.make_member(f.make_team(), Role.OFFICER)
    client = Client()
    client.force_login(outsider)
    case = world["case"]
    assert client.get(f"/cases/{case.pk}/").status_code == 404  # type: ignore[attr-defined]
    assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 404  # type: ignore[attr-defined]
    denied = AuditEvent.objects.filter(
        actor=outsider,
        outcome=Outcome.DENIED,
        target_type="casework.case",
        case_id=case.pk,  # type: ignore[attr-defined]
    )
    assert denied.count() == 2
    # A record that does not exist is not "denied": there was nothing to hide.
    client.get("/cases/999999/")
    assert denied.count() == 2
