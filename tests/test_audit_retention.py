"""Retention, archiving and the nightly verification (issue 4)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit.models import Action, AuditEvent, ChainAnchor
from audit.services import build, write
from audit.tasks import verify_chain
from audit.verify import verify
from config.env import env_int
from teams.roles import Role
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_retention_is_never_under_a_year() -> None:
    with pytest.raises(ImproperlyConfigured, match="AUDIT_RETENTION_DAYS"):
        env_int(
            "AUDIT_RETENTION_DAYS", 7 * 365, environ={"AUDIT_RETENTION_DAYS": "30"}, minimum=365
        )


def test_archive_moves_old_events_to_a_verified_file_and_keeps_the_chain(tmp_path: Path) -> None:
    long_ago = timezone.now() - dt.timedelta(days=8 * 365)
    old = [build(None, Action.LOGIN_FAILED, username=f"old{i}") for i in range(5)]
    for event in old:
        event.occurred_at = long_ago
    write(old)
    write([build(None, Action.LOGIN_FAILED, username=f"new{i}") for i in range(3)])
    before = AuditEvent.objects.count()
    call_command("archive_audit", "--output", str(tmp_path))
    assert AuditEvent.objects.count() == before - 5 + 1  # the ARCHIVE event itself
    anchor = ChainAnchor.objects.get()
    assert anchor.archived_count == 5
    lines = Path(anchor.archive_file).read_text().splitlines()
    assert [json.loads(line)["actor_username"] for line in lines] == [f"old{i}" for i in range(5)]
    verdict = verify()
    assert verdict.ok, verdict.problem


def test_nightly_verification_alerts_admins_and_supervisors(mailoutbox: list[Any]) -> None:
    team = f.make_team()
    supervisor = f.make_member(team, Role.SUPERVISOR)
    admin = f.make_user(is_staff=True)
    officer = f.make_member(team, Role.OFFICER)
    write([build(None, Action.LOGIN_FAILED, username=f"x{i}") for i in range(3)])
    assert verify_chain()["ok"] is True
    assert mailoutbox == []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("UPDATE audit_auditevent SET actor_username = 'forged' WHERE seq = 2")
            cursor.execute("SET session_replication_role = DEFAULT")
    else:
        # Whoever can edit the file can drop the append-only trigger (rolled back with
        # the test).
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER audit_append_only_update")
            cursor.execute("UPDATE audit_auditevent SET actor_username = 'forged' WHERE seq = 2")
    result = verify_chain()
    assert result["ok"] is False and result["first_bad_seq"] == 2
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert set(message.to) == {supervisor.email, admin.email}
    assert officer.email not in message.to
    assert "#2" in message.body
