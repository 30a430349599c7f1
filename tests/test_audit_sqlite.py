"""On SQLite the database records every write and chains every event too (audit.sqlite):
ORM saves, bulk updates and creates and raw SQL become events naming the acting user and
the changed fields without sensitive values, the trail refuses UPDATE and DELETE, a
connection without the app's functions cannot write, and tampering is caught.

The suite runs on PostgreSQL, so this module builds its own SQLite database: one
subprocess migrates a new file and makes the writes (SCRIPT); the tests then read the
file with the standard library, as someone holding the file would.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CANARIES = ("CANARY-BODY", "CANARY-STREET", "CANARY-PHONE")

SCRIPT = r"""
import json
import sys

import django

django.setup()

from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import F

call_command("migrate", verbosity=0)

from audit.database import bind_session
from audit.models import Action, AuditEvent
from audit.services import record
from audit.verify import verify
from casework.models import CaseNote, NoteKind
from teams.roles import Role
from tests import factories as f

out = {}


def head():
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def step(name, action):
    after = head()
    out[name] = {"after": after, **(action() or {}), "through": head()}


team = f.make_team()
officer = f.make_member(team, Role.OFFICER)
case = f.make_case(team, officer=officer)
victim = f.make_victim(address_line1="CANARY-STREET-0", phone="CANARY-PHONE-0")
bind_session(officer.pk, officer.get_username(), "203.0.113.7", "sqlite-test-agent", "req-1")
out["officer"] = {"id": officer.pk, "username": officer.get_username()}
out["case"] = case.pk
out["victim"] = victim.pk


def save():
    note = CaseNote(case=case, author=officer, body="CANARY-BODY-1")
    note.save()
    return {"ids": [note.pk]}


def update():
    CaseNote.objects.filter(pk=out["save"]["ids"][0]).update(
        disclosure_level="team", body="CANARY-BODY-2"
    )


def bulk_create():
    notes = CaseNote.objects.bulk_create(
        [CaseNote(case=case, author=officer, body=f"CANARY-BODY-bulk-{i}") for i in range(3)]
    )
    return {"ids": [note.pk for note in notes]}


def bulk_update():
    notes = list(CaseNote.objects.filter(pk__in=out["bulk_create"]["ids"]))
    for note in notes:
        note.kind = NoteKind.GENERAL
    CaseNote.objects.bulk_update(notes, ["kind"])


def unchanged():
    CaseNote.objects.update(kind=F("kind"))


def raw_update():
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE victims_victimlocation SET address_line1 = 'CANARY-STREET-1', "
            "phone = 'CANARY-PHONE-1' WHERE victim_id = %s",
            [victim.pk],
        )


def raw_delete():
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM casework_casenote WHERE id = %s", out["bulk_create"]["ids"][:1])


def app_event():
    event = record(None, Action.LOGIN_FAILED, username="someone")
    return {"event": [event.pk, event.seq, event.prev_hash, event.hash]}


for name, action in [
    ("save", save),
    ("update", update),
    ("bulk_create", bulk_create),
    ("bulk_update", bulk_update),
    ("unchanged", unchanged),
    ("raw_update", raw_update),
    ("raw_delete", raw_delete),
    ("app_event", app_event),
]:
    step(name, action)

refused = {}
for name, sql in [
    ("update", "UPDATE audit_auditevent SET actor_username = 'forged' WHERE seq = 2"),
    ("delete", "DELETE FROM audit_auditevent WHERE seq = 2"),
    ("insert_positioned", "INSERT INTO audit_auditevent (seq, occurred_at, actor_username, "
     "action, target_type, target_id, outcome, ip_address, user_agent, request_id, emergency, "
     "detail, prev_hash, hash) VALUES (99999, '2020-01-01 00:00:00', 'x', 'view', '', '', "
     "'allowed', '', '', '', 0, '{}', '', '')"),
]:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    except DatabaseError as error:
        refused[name] = str(error)
try:
    with transaction.atomic():
        AuditEvent.objects.filter(seq=3).update(action="view")
except DatabaseError as error:
    refused["orm_update"] = str(error)
out["refused"] = refused

verdict = verify()
out["verify"] = {"ok": verdict.ok, "checked": verdict.checked, "problem": verdict.problem}
out["events"] = AuditEvent.objects.count()
call_command("verify_audit", verbosity=0)
with open(sys.argv[1], "w") as handle:
    json.dump(out, handle)
"""


def _env(database: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VAR_DIR": str(database.parent / "var"),
    }


def _run(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=_env(database),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The database file after SCRIPT ran, and what SCRIPT reported."""
    directory = tmp_path_factory.mktemp("audit-sqlite")
    database = directory / "db.sqlite3"
    report = directory / "report.json"
    result = _run(database, "-c", SCRIPT, str(report))
    assert result.returncode == 0, result.stderr[-4000:]
    return database, json.loads(report.read_text())


@pytest.fixture(scope="module")
def trail(built: tuple[Path, dict[str, Any]]) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"file:{built[0]}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def report(built: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    return built[1]


def _copy(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    """A copy of the database to tamper with (the backup API copes with WAL)."""
    target = tmp_path / "copy.sqlite3"
    source = sqlite3.connect(built[0])
    copy = sqlite3.connect(target)
    source.backup(copy)
    source.close()
    copy.close()
    return target


def _events(trail: sqlite3.Connection, step: dict[str, Any]) -> list[dict[str, Any]]:
    rows = trail.execute(
        "SELECT * FROM audit_auditevent WHERE seq > ? AND seq <= ? ORDER BY seq",
        [step["after"], step["through"]],
    )
    return [{**dict(row), "detail": json.loads(row["detail"])} for row in rows]


def _by_the_officer(event: dict[str, Any], report: dict[str, Any]) -> bool:
    return (
        event["actor_id"] == report["officer"]["id"]
        and event["actor_username"] == report["officer"]["username"]
        and (event["ip_address"], event["user_agent"], event["request_id"])
        == ("203.0.113.7", "sqlite-test-agent", "req-1")
    )


def test_an_orm_save_is_recorded_with_the_acting_user(
    trail: sqlite3.Connection, report: dict[str, Any]
) -> None:
    [event] = _events(trail, report["save"])
    assert (event["action"], event["target_type"]) == ("create", "casework.casenote")
    assert event["target_id"] == str(report["save"]["ids"][0])
    assert event["case_id"] == report["case"]
    assert _by_the_officer(event, report)
    assert event["detail"]["source"] == "database"
    assert {"body", "kind", "author_id", "case_id"} <= set(event["detail"]["fields"])
    assert event["detail"]["values"] == {
        "author_id": {"old": None, "new": report["officer"]["id"]},
        "disclosure_level": {"old": None, "new": "supervision"},
        "kind": {"old": None, "new": "supervision"},
    }


def test_a_bulk_update_names_the_changed_fields_and_keeps_only_safe_values(
    trail: sqlite3.Connection, report: dict[str, Any]
) -> None:
    [event] = _events(trail, report["update"])
    assert event["action"] == "update" and _by_the_officer(event, report)
    assert event["detail"]["fields"] == ["body", "disclosure_level"]
    # The body is named as changed; neither its old nor its new text is copied.
    assert event["detail"]["values"] == {"disclosure_level": {"old": "supervision", "new": "team"}}


def test_bulk_create_and_bulk_update_are_recorded_row_by_row(
    trail: sqlite3.Connection, report: dict[str, Any]
) -> None:
    ids = [str(pk) for pk in report["bulk_create"]["ids"]]
    created = _events(trail, report["bulk_create"])
    assert [(e["action"], e["target_id"]) for e in created] == [("create", pk) for pk in ids]
    updated = _events(trail, report["bulk_update"])
    assert sorted(e["target_id"] for e in updated) == sorted(ids)
    for event in updated:
        assert event["action"] == "update" and _by_the_officer(event, report)
        assert event["detail"]["fields"] == ["kind"]
        assert event["detail"]["values"] == {"kind": {"old": "supervision", "new": "general"}}
    # An UPDATE that changes nothing records nothing.
    assert _events(trail, report["unchanged"]) == []


def test_raw_sql_update_and_delete_are_recorded(
    trail: sqlite3.Connection, report: dict[str, Any]
) -> None:
    [update] = _events(trail, report["raw_update"])
    assert (update["action"], update["target_type"]) == ("update", "victims.victimlocation")
    assert update["victim_id"] == report["victim"] and _by_the_officer(update, report)
    assert update["detail"]["fields"] == ["address_line1", "phone"]
    assert update["detail"]["values"] == {}  # locating information: names only
    [delete] = _events(trail, report["raw_delete"])
    assert (delete["action"], delete["target_type"]) == ("delete", "casework.casenote")
    assert delete["target_id"] == str(report["bulk_create"]["ids"][0])
    assert delete["case_id"] == report["case"] and _by_the_officer(delete, report)
    assert delete["detail"] == {"source": "database", "fields": [], "values": {}}


def test_no_note_body_or_locating_value_enters_the_trail(trail: sqlite3.Connection) -> None:
    everything = " ".join(
        str(value) for row in trail.execute("SELECT * FROM audit_auditevent") for value in row
    )
    assert "address_line1" in everything  # the field is named, its value is not copied
    for canary in CANARIES:
        assert canary not in everything


def test_the_chain_verifies_and_the_app_gets_each_events_position(
    trail: sqlite3.Connection, report: dict[str, Any]
) -> None:
    assert report["verify"]["ok"], report["verify"]["problem"]
    assert report["verify"]["checked"] == report["events"]
    pk, seq, prev_hash, digest = report["app_event"]["event"]
    row = trail.execute("SELECT seq, prev_hash, hash FROM audit_auditevent WHERE id = ?", [pk])
    assert tuple(row.fetchone()) == (seq, prev_hash, digest)
    assert seq == report["app_event"]["through"]
    unchained = trail.execute("SELECT count(*) FROM audit_auditevent WHERE seq IS NULL")
    assert unchained.fetchone()[0] == 0


def test_the_application_cannot_change_or_remove_events(report: dict[str, Any]) -> None:
    refused = report["refused"]
    assert "append-only: UPDATE refused" in refused["update"]
    assert "append-only: UPDATE refused" in refused["orm_update"]
    assert "append-only: DELETE refused" in refused["delete"]
    assert "chained by the database" in refused["insert_positioned"]


def test_a_connection_without_the_apps_functions_cannot_write(
    built: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    plain = sqlite3.connect(_copy(built, tmp_path))
    with pytest.raises(sqlite3.OperationalError, match="no such function"):
        plain.execute("UPDATE casework_casenote SET kind = 'treatment'")
    with pytest.raises(sqlite3.OperationalError, match="no such function"):
        plain.execute("DELETE FROM audit_auditevent")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        plain.execute("UPDATE audit_auditevent SET actor_username = 'forged' WHERE seq = 2")
    plain.close()


def _verify_audit(database: Path) -> subprocess.CompletedProcess[str]:
    return _run(database, "manage.py", "verify_audit")


def test_tampering_with_the_triggers_dropped_is_caught(
    built: tuple[Path, dict[str, Any]], report: dict[str, Any], tmp_path: Path
) -> None:
    changed = report["update"]["through"]
    database = _copy(built, tmp_path)
    with sqlite3.connect(database) as plain:
        plain.execute("DROP TRIGGER audit_append_only_update")
        plain.execute(
            "UPDATE audit_auditevent SET actor_username = 'someone-else' WHERE seq = ?", [changed]
        )
    plain.close()
    result = _verify_audit(database)
    assert result.returncode != 0
    assert f"Audit chain broken at event #{changed} " in result.stderr
    assert "was changed after it was recorded" in result.stderr


def test_a_removed_event_is_caught(
    built: tuple[Path, dict[str, Any]], report: dict[str, Any], tmp_path: Path
) -> None:
    gone = report["raw_delete"]["through"]
    database = _copy(built, tmp_path)
    with sqlite3.connect(database) as plain:
        plain.execute("DROP TRIGGER audit_append_only_delete")
        plain.execute("DELETE FROM audit_auditevent WHERE seq = ?", [gone])
    plain.close()
    result = _verify_audit(database)
    assert result.returncode != 0
    assert f"event #{gone} is missing" in result.stderr
