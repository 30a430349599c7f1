"""Duty to warn and protect (DESIGN rule 6; issue 5, item 5).

Filing alerts the case's supervisors and victim representatives at once, in the app and
by e-mail with no case content (a marker-string canary); an acknowledgement records the
action taken and stops the escalation; unacknowledged, a report escalates to every
supervisor of the team after DUTY_TO_WARN_ESCALATION_MINUTES and again after each
further span; repeated and concurrent runs alert nobody twice; who may file, read and
acknowledge, in the pages and the API; bad input; the audit events. Then the end-to-end
test: a real Celery worker with embedded beat, on the run's Redis and PostgreSQL,
escalates a report, and the delay is measured.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent, Outcome
from casework import duty_to_warn
from casework.models import AtRisk, Case, DutyToWarn, DutyToWarnAlert, Urgency
from casework.tasks import escalate_duty_to_warn
from teams.disclosure.grants import grant_case_access
from teams.models import Membership, Notification, NotificationKind, Team, User
from teams.roles import Role
from tests import factories as f
from tests.processes import (
    ROOT,
    Service,
    celery_command,
    database_url,
    require_redis,
    stop,
    tail,
    wait_for,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/duty-to-warn/"
FILED = DutyToWarnAlert.Reason.FILED
ESCALATION = DutyToWarnAlert.Reason.ESCALATION

# Unique markers in everything an e-mail must never carry: the threat, the case, the
# person under supervision, the victim, the reporter, the team, the urgency.
THREAT = "THREATMARK-7c21 said he would wait outside her school on Friday"
REFERENCE = "C-REFMARK-5521"
SUPERVISEE = ("Supfirstmark", "Suplastmark")
VICTIM = ("Vicfirstmark", "Viclastmark")
REPORTER = ("Repfirstmark", "Replastmark")
TEAM_NAME = "Teammark North MDT"


@dataclass
class Mdt:
    team: Team
    case: Case
    officer: User
    supervisor: User
    supervisor2: User
    rep: User  # a victim representative of the team, named on the case's victim
    rep2: User  # another victim representative of the team
    treatment: User
    polygraph: User
    outsider: User  # an officer of another team
    other_supervisor: User  # a supervisor of another team
    former_supervisor: User  # the team's supervisor until yesterday
    admin: User  # the system administrator, with a supervisor membership besides

    @property
    def first_recipients(self) -> set[int]:
        return {self.supervisor.pk, self.supervisor2.pk, self.rep.pk, self.rep2.pk}

    @property
    def supervisors(self) -> set[int]:
        return {self.supervisor.pk, self.supervisor2.pk}


@pytest.fixture
def mdt() -> Mdt:
    team = f.make_team(TEAM_NAME)
    other = f.make_team()
    officer = f.make_member(team, Role.OFFICER, first_name=REPORTER[0], last_name=REPORTER[1])
    rep = f.make_member(team, Role.VICTIM_REP)
    case = f.make_case(
        team,
        reference=REFERENCE,
        officer=officer,
        supervisee=f.make_supervisee(first_name=SUPERVISEE[0], last_name=SUPERVISEE[1]),
    )
    f.link_victim(
        case, f.make_victim(first_name=VICTIM[0], last_name=VICTIM[1]), representative=rep
    )
    former = f.make_user()
    f.make_membership(
        former,
        team,
        Role.SUPERVISOR,
        active_from=timezone.localdate() - dt.timedelta(days=90),
        active_to=timezone.localdate() - dt.timedelta(days=1),
    )
    admin = f.make_user(is_staff=True)
    f.make_membership(admin, team, Role.SUPERVISOR)
    return Mdt(
        team=team,
        case=case,
        officer=officer,
        supervisor=f.make_member(team, Role.SUPERVISOR),
        supervisor2=f.make_member(team, Role.SUPERVISOR),
        rep=rep,
        rep2=f.make_member(team, Role.VICTIM_REP),
        treatment=f.make_member(team, Role.TREATMENT),
        polygraph=f.make_member(team, Role.POLYGRAPH),
        outsider=f.make_member(other, Role.OFFICER),
        other_supervisor=f.make_member(other, Role.SUPERVISOR),
        former_supervisor=former,
        admin=admin,
    )


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_as(user: User) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def html(response: Any) -> str:
    content: bytes = response.content
    return content.decode()


def file_as(user: User, case: Case, **overrides: str) -> DutyToWarn:
    fields = {"at_risk": AtRisk.VICTIM, "threat": THREAT, "urgency": Urgency.IMMEDIATE}
    fields.update(overrides)
    return duty_to_warn.file(user, case, fields["at_risk"], fields["threat"], fields["urgency"])


def create_url(case: Case) -> str:
    return reverse("duty-to-warn-create", args=[case.pk])


def detail_url(report: DutyToWarn) -> str:
    return reverse("duty-to-warn-detail", args=[report.pk])


def receipt_url(report: DutyToWarn) -> str:
    return reverse("duty-to-warn-receipt", args=[report.pk])


def alerted(report: DutyToWarn, round_: int) -> list[int]:
    rows = DutyToWarnAlert.objects.filter(report=report, round=round_)
    return sorted(rows.values_list("recipient_id", flat=True))


def mail_text(messages: list[Any]) -> str:
    return "\n".join(f"{m.subject}\n{m.body}\n{' '.join(m.to)}" for m in messages)


def forbidden_in_mail(mdt: Mdt) -> list[str]:
    # (The recipients' own names are left out: their addresses are in the To line.)
    return [
        THREAT,
        "THREATMARK",
        "outside her school",
        REFERENCE,
        "REFMARK",
        TEAM_NAME,
        "Teammark",
        *SUPERVISEE,
        *VICTIM,
        *REPORTER,
        str(Urgency.IMMEDIATE.label),
        str(AtRisk.VICTIM.label),
        "Person harmed",
    ]


def assert_no_case_content(messages: list[Any], mdt: Mdt) -> None:
    text = mail_text(messages).lower()
    leaked = [marker for marker in forbidden_in_mail(mdt) if marker.lower() in text]
    assert not leaked, f"e-mail carries case content: {leaked}"


# --- Filing ----------------------------------------------------------------------------


def test_filing_alerts_the_supervisors_and_victim_representatives_at_once(mdt: Mdt) -> None:
    mail.outbox = []
    before = timezone.now()
    response = signed_in(mdt.officer).post(
        create_url(mdt.case),
        {"at_risk": AtRisk.VICTIM, "threat": THREAT, "urgency": Urgency.IMMEDIATE},
    )
    report = DutyToWarn.objects.get(case=mdt.case)
    assert response.status_code == 302
    assert response["Location"] == detail_url(report)
    assert (report.reporter, report.threat, report.urgency) == (mdt.officer, THREAT, "immediate")

    # Every supervisor and victim representative of the team (the representative named on
    # the case's victim among them), and nobody else: not the reporter, not treatment or
    # polygraph, not a former supervisor, another team or the system administrator.
    assert alerted(report, 0) == sorted(mdt.first_recipients)
    alerts = DutyToWarnAlert.objects.filter(report=report)
    assert {a.reason for a in alerts} == {FILED}
    assert all(a.emailed and before <= a.alerted_at <= timezone.now() for a in alerts)

    notes = Notification.objects.filter(kind=NotificationKind.DUTY_TO_WARN)
    assert sorted(notes.values_list("recipient_id", flat=True)) == sorted(mdt.first_recipients)
    assert {n.link for n in notes} == {detail_url(report)}
    assert all(n.read_at is None and n.emailed_at is not None for n in notes)

    # By e-mail too, one each, carrying nothing of the case: only a generic line and a link.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        u.email for u in User.objects.filter(pk__in=mdt.first_recipients)
    )
    assert_no_case_content(mail.outbox, mdt)
    link = f"{settings.APP_BASE_URL}{detail_url(report)}"
    assert all(link in m.body for m in mail.outbox)

    span = dt.timedelta(minutes=settings.DUTY_TO_WARN_ESCALATION_MINUTES)
    assert report.next_escalation_at is not None
    assert report.next_escalation_at - report.created_at == pytest.approx(
        span, abs=dt.timedelta(seconds=2)
    )
    assert report.escalation_round == 0 and report.acknowledged_at is None


def test_every_member_whose_role_files_may_file(mdt: Mdt) -> None:
    for user in (mdt.officer, mdt.supervisor, mdt.rep, mdt.treatment, mdt.polygraph):
        file_as(user, mdt.case, threat=f"filed by {user.username}")
    assert DutyToWarn.objects.filter(case=mdt.case).count() == 5
    # A reporter who is also a recipient is not alerted about their own report.
    by_supervisor = DutyToWarn.objects.get(threat=f"filed by {mdt.supervisor.username}")
    assert mdt.supervisor.pk not in alerted(by_supervisor, 0)
    assert mdt.supervisor2.pk in alerted(by_supervisor, 0)


def test_others_may_not_file(mdt: Mdt) -> None:
    guest = f.make_user()
    grant_case_access(guest, mdt.case, Role.SUPERVISOR, granted_by=mdt.supervisor, reason="x")
    for user in (mdt.outsider, mdt.admin, mdt.former_supervisor, guest):
        with pytest.raises(PermissionDenied):
            file_as(user, mdt.case)
    assert not DutyToWarn.objects.exists()
    assert signed_in(mdt.outsider).get(create_url(mdt.case)).status_code == 404
    assert signed_in(guest).get(create_url(mdt.case)).status_code == 403
    assert signed_in(guest).post(create_url(mdt.case), {"threat": "x"}).status_code == 403
    response = api_as(guest).post(
        API, {"case": mdt.case.pk, "at_risk": "victim", "threat": "x", "urgency": "day"}
    )
    assert response.status_code == 403
    response = api_as(mdt.outsider).post(
        API, {"case": mdt.case.pk, "at_risk": "victim", "threat": "x", "urgency": "day"}
    )
    assert response.status_code == 400 and "case" in response.json()
    assert not DutyToWarn.objects.exists()
    assert not Notification.objects.exists()


def test_case_page_offers_filing_to_the_team_and_lists_reports_to_readers(mdt: Mdt) -> None:
    report = file_as(mdt.officer, mdt.case)
    row = f'id="duty-to-warn-{report.pk}"'
    for user in (mdt.officer, mdt.supervisor, mdt.rep):
        page = html(signed_in(user).get(f"/cases/{mdt.case.pk}/"))
        assert "Report a duty to warn" in page and row in page, user
        assert detail_url(report) in page
    for user in (mdt.treatment, mdt.polygraph):
        page = html(signed_in(user).get(f"/cases/{mdt.case.pk}/"))
        assert "Report a duty to warn" in page, user
        assert row not in page and detail_url(report) not in page, user
    guest = f.make_user()
    grant_case_access(guest, mdt.case, Role.SUPERVISOR, granted_by=mdt.supervisor, reason="x")
    page = html(signed_in(guest).get(f"/cases/{mdt.case.pk}/"))
    assert "Report a duty to warn" not in page and row in page


# --- Treatment and polygraph: file, and learn only that it was received ---------------


@pytest.mark.parametrize("role", ["treatment", "polygraph"])
def test_treatment_and_polygraph_file_but_cannot_read(mdt: Mdt, role: str) -> None:
    user: User = getattr(mdt, role)
    client = signed_in(user)
    form = client.get(create_url(mdt.case))
    assert form.status_code == 200
    response = client.post(
        create_url(mdt.case), {"at_risk": AtRisk.CHILD, "threat": THREAT, "urgency": "hours"}
    )
    report = DutyToWarn.objects.get(reporter=user)
    assert response.status_code == 302 and response["Location"] == receipt_url(report)
    assert alerted(report, 0) == sorted(mdt.first_recipients)

    receipt = client.get(receipt_url(report))
    page = html(receipt)
    assert receipt.status_code == 200
    local = timezone.localtime(report.created_at)
    assert "Received at" in page and f"{local:%H:%M} on {local.day} " in page
    assert "The supervisors and victim representatives were alerted." in page
    for shown in ("THREATMARK", "Within hours", "A child or children", VICTIM[0]):
        assert shown not in page, shown

    # The report itself answers 404, and the attempt is recorded as denied.
    assert client.get(detail_url(report)).status_code == 404
    assert client.post(detail_url(report), {"action_taken": "x"}).status_code == 404
    denied = AuditEvent.objects.filter(
        actor=user, outcome=Outcome.DENIED, target_type="casework.dutytowarn"
    )
    assert denied.filter(target_id=str(report.pk)).count() == 2

    api = api_as(user)
    created = api.post(
        API,
        {"case": mdt.case.pk, "at_risk": "community", "threat": THREAT, "urgency": "day"},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "case", "created_at", "status"} and body["status"] == "received"
    assert "THREATMARK" not in html(created)
    assert api.get(f"{API}{body['id']}/").status_code == 404
    assert api.get(API).json()["count"] == 0
    assert api.post(f"{API}{body['id']}/acknowledge/", {"action_taken": "x"}).status_code == 404
    assert DutyToWarn.objects.get(pk=body["id"]).acknowledged_at is None


def test_receipt_is_for_the_reporter_only(mdt: Mdt) -> None:
    report = file_as(mdt.treatment, mdt.case)
    for user in (mdt.polygraph, mdt.supervisor, mdt.outsider, mdt.admin):
        assert signed_in(user).get(receipt_url(report)).status_code == 404, user
    event = AuditEvent.objects.filter(actor=mdt.outsider, outcome=Outcome.DENIED).get()
    assert (event.target_type, event.target_id) == ("casework.dutytowarn", str(report.pk))
    # A reporter whose membership ended no longer sees the case, nor the receipt.
    Membership.objects.filter(user=mdt.treatment).update(
        active_from=timezone.localdate() - dt.timedelta(days=60),
        active_to=timezone.localdate() - dt.timedelta(days=1),
    )
    assert signed_in(mdt.treatment).get(receipt_url(report)).status_code == 404


# --- Reading: who may, and a denied event for anyone else -----------------------------


def test_readers_see_the_report_and_its_timeline(mdt: Mdt) -> None:
    report = file_as(mdt.officer, mdt.case)
    for user in (mdt.officer, mdt.supervisor, mdt.supervisor2, mdt.rep, mdt.rep2):
        response = signed_in(user).get(detail_url(report))
        assert response.status_code == 200, user
        page = html(response)
        assert THREAT in page
        for recipient in User.objects.filter(pk__in=mdt.first_recipients):
            assert str(recipient) in page
        assert page.count("Alerted when it was filed, in the app and by e-mail") == 4
    viewed = AuditEvent.objects.filter(action=Action.VIEW, target_id=str(report.pk))
    assert viewed.filter(outcome=Outcome.ALLOWED).count() == 5


def test_a_user_of_another_team_gets_404_and_a_denied_event(mdt: Mdt) -> None:
    report = file_as(mdt.officer, mdt.case)
    for user in (mdt.outsider, mdt.other_supervisor, mdt.former_supervisor, mdt.admin):
        assert signed_in(user).get(detail_url(report)).status_code == 404, user
        assert api_as(user).get(f"{API}{report.pk}/").status_code == 404, user
        assert api_as(user).get(API).json()["count"] == 0
    denied = AuditEvent.objects.filter(
        actor=mdt.outsider, outcome=Outcome.DENIED, target_id=str(report.pk)
    )
    assert denied.count() == 2
    assert {e.target_type for e in denied} == {"casework.dutytowarn"}
    assert {e.case_id for e in denied} == {mdt.case.pk}
    # A report that does not exist answers the same, with nothing to record.
    assert signed_in(mdt.outsider).get("/duty-to-warn/999999/").status_code == 404


# --- Acknowledging ---------------------------------------------------------------------


def test_acknowledgement_records_the_action_and_stops_the_escalation(mdt: Mdt) -> None:
    report = file_as(mdt.officer, mdt.case)
    client = signed_in(mdt.rep)
    page = html(client.get(detail_url(report)))
    assert "Acknowledge and record the action" in page
    response = client.post(detail_url(report), {"action_taken": "Called the victim; safety plan"})
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.acknowledged_by == mdt.rep
    assert report.action_taken == "Called the victim; safety plan"
    assert report.acknowledged_at is not None and report.next_escalation_at is None

    # Long after its time, nothing escalates.
    later = timezone.now() + dt.timedelta(hours=5)
    mail.outbox = []
    assert duty_to_warn.escalate_due(later) == 0
    assert alerted(report, 1) == [] and mail.outbox == []
    assert not Notification.objects.filter(kind=NotificationKind.DUTY_TO_WARN_ESCALATION)
    assert report not in duty_to_warn.open_reports(mdt.supervisor)

    page = html(signed_in(mdt.supervisor).get(detail_url(report)))
    assert "Acknowledged: Called the victim; safety plan" in page
    assert f"Acknowledged by {mdt.rep}" in page
    assert "Acknowledge and record the action" not in page


def test_the_reporter_and_readers_who_write_nothing_cannot_acknowledge(mdt: Mdt) -> None:
    report = file_as(mdt.officer, mdt.case)
    assert "Acknowledge and record" not in html(signed_in(mdt.officer).get(detail_url(report)))
    assert signed_in(mdt.officer).post(detail_url(report), {"action_taken": "x"}).status_code == 403
    response = api_as(mdt.officer).post(f"{API}{report.pk}/acknowledge/", {"action_taken": "x"})
    assert response.status_code == 403
    guest = f.make_user()
    grant_case_access(guest, mdt.case, Role.SUPERVISOR, granted_by=mdt.supervisor, reason="x")
    assert signed_in(guest).get(detail_url(report)).status_code == 200
    assert signed_in(guest).post(detail_url(report), {"action_taken": "x"}).status_code == 403
    response = api_as(guest).post(f"{API}{report.pk}/acknowledge/", {})
    assert response.status_code == 403  # refused before the body is looked at
    report.refresh_from_db()
    assert report.acknowledged_at is None and report.action_taken == ""
    # Another officer of the team may.
    colleague = f.make_member(mdt.team, Role.OFFICER)
    duty_to_warn.acknowledge(colleague, report, "Warned the school's principal")
    assert report.acknowledged_by == colleague


# --- Bad input: field errors, nothing changed -------------------------------------------


def nothing_changed() -> None:
    assert not DutyToWarn.objects.exists()
    assert not DutyToWarnAlert.objects.exists()
    assert not Notification.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"at_risk": "victim", "threat": THREAT, "urgency": "whenever"}, "urgency"),
        ({"at_risk": "victim", "threat": "   ", "urgency": "day"}, "threat"),
        ({"at_risk": "victim", "threat": "", "urgency": "day"}, "threat"),
        ({"at_risk": "the neighbour", "threat": THREAT, "urgency": "day"}, "at_risk"),
        ({"at_risk": "victim", "threat": "x" * 5001, "urgency": "day"}, "threat"),
    ],
)
def test_bad_report_is_refused_with_field_errors(
    mdt: Mdt, fields: dict[str, str], field: str
) -> None:
    mail.outbox = []
    with pytest.raises(ValidationError) as error:
        duty_to_warn.file(mdt.officer, mdt.case, **fields)
    assert set(error.value.message_dict) == {field}
    response = signed_in(mdt.officer).post(create_url(mdt.case), fields)
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {field}
    page = html(response)
    assert "Nothing was saved." in page
    if fields["threat"].strip() and len(fields["threat"]) <= 5000:
        assert THREAT in page  # what was typed is kept
    refused = api_as(mdt.officer).post(API, {"case": mdt.case.pk, **fields}, format="json")
    assert refused.status_code == 400 and set(refused.json()) == {field}
    refused = api_as(mdt.officer).post(
        API, {"case": mdt.case.pk, **fields, "escalation_round": 7}, format="json"
    )
    assert refused.status_code == 400 and "escalation_round" in refused.json()
    nothing_changed()


def test_acknowledging_without_an_action_or_twice_is_refused(mdt: Mdt) -> None:
    report = file_as(mdt.officer, mdt.case)
    before = DutyToWarn.objects.values().get(pk=report.pk)
    with pytest.raises(ValidationError) as error:
        duty_to_warn.acknowledge(mdt.supervisor, report, "   ")
    assert set(error.value.message_dict) == {"action_taken"}
    response = signed_in(mdt.supervisor).post(detail_url(report), {"action_taken": ""})
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"action_taken"}
    refused = api_as(mdt.supervisor).post(f"{API}{report.pk}/acknowledge/", {}, format="json")
    assert refused.status_code == 400 and set(refused.json()) == {"action_taken"}
    assert DutyToWarn.objects.values().get(pk=report.pk) == before

    duty_to_warn.acknowledge(mdt.supervisor, report, "Notified the police")
    after_first = DutyToWarn.objects.values().get(pk=report.pk)
    with pytest.raises(ValidationError) as error:
        duty_to_warn.acknowledge(mdt.rep, report, "Called the victim")
    assert set(error.value.message_dict) == {"__all__"}
    assert "already acknowledged by" in error.value.message_dict["__all__"][0]
    refused = api_as(mdt.rep).post(
        f"{API}{report.pk}/acknowledge/", {"action_taken": "Called"}, format="json"
    )
    assert refused.status_code == 400 and set(refused.json()) == {"non_field_errors"}
    assert DutyToWarn.objects.values().get(pk=report.pk) == after_first


def test_the_pages_keep_what_was_typed_and_name_the_field(mdt: Mdt) -> None:
    response = signed_in(mdt.officer).post(
        create_url(mdt.case), {"at_risk": "victim", "threat": THREAT, "urgency": "soonish"}
    )
    page = html(response)
    assert response.status_code == 400
    assert "Choose how urgent it is from the list." in page
    assert re.search(r'<input[^>]*value="victim"[^>]*checked', page)
    assert THREAT in page


# --- Escalation ------------------------------------------------------------------------


def test_escalation_after_the_interval_to_every_supervisor_and_again(mdt: Mdt) -> None:
    report = file_as(mdt.officer, mdt.case)
    span = dt.timedelta(minutes=settings.DUTY_TO_WARN_ESCALATION_MINUTES)
    due = report.next_escalation_at
    assert due is not None
    # A supervisor who joins after the filing is one of "every supervisor of the team".
    newcomer = f.make_member(mdt.team, Role.SUPERVISOR)
    mail.outbox = []

    assert duty_to_warn.escalate_due(due - dt.timedelta(seconds=1)) == 0
    assert alerted(report, 1) == [] and mail.outbox == []

    assert duty_to_warn.escalate_due(due) == 1
    report.refresh_from_db()
    assert report.escalation_round == 1 and report.next_escalation_at == due + span
    supervisors = sorted(mdt.supervisors | {newcomer.pk})
    assert alerted(report, 1) == supervisors
    assert {a.reason for a in report.alerts.filter(round=1)} == {ESCALATION}
    escalations = Notification.objects.filter(kind=NotificationKind.DUTY_TO_WARN_ESCALATION)
    assert sorted(escalations.values_list("recipient_id", flat=True)) == supervisors
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        u.email for u in User.objects.filter(pk__in=supervisors)
    )
    assert_no_case_content(mail.outbox, mdt)
    assert "has not been acknowledged" in mail.outbox[0].body

    # And again after another span, not before.
    assert duty_to_warn.escalate_due(due + span - dt.timedelta(seconds=1)) == 0
    assert duty_to_warn.escalate_due(due + span) == 1
    report.refresh_from_db()
    assert report.escalation_round == 2 and report.next_escalation_at == due + 2 * span
    assert alerted(report, 2) == supervisors
    assert len(mail.outbox) == 2 * len(supervisors)

    page = html(signed_in(mdt.supervisor).get(detail_url(report)))
    assert "Alerted: not acknowledged in time (escalation 1)" in page
    assert "Alerted: not acknowledged in time (escalation 2)" in page


def test_after_an_outage_one_round_now_and_the_next_a_full_span_later(mdt: Mdt) -> None:
    report = file_as(mdt.officer, mdt.case)
    span = dt.timedelta(minutes=settings.DUTY_TO_WARN_ESCALATION_MINUTES)
    late = timezone.now() + 10 * span  # the worker was down for ten spans
    assert duty_to_warn.escalate_due(late) == 1
    assert duty_to_warn.escalate_due(late) == 0
    report.refresh_from_db()
    assert report.escalation_round == 1 and report.next_escalation_at == late + span


def test_a_repeated_first_run_alerts_nobody_twice(mdt: Mdt) -> None:
    report = file_as(mdt.officer, mdt.case)
    assert report.next_escalation_at is not None
    now = report.next_escalation_at + dt.timedelta(seconds=5)
    mail.outbox = []
    assert duty_to_warn.escalate_due(now) == 1
    assert duty_to_warn.escalate_due(now) == 0  # the same run, delivered again
    assert escalate_duty_to_warn.apply().get() == 0  # the task itself, run now
    assert alerted(report, 1) == sorted(mdt.supervisors)
    assert DutyToWarnAlert.objects.filter(report=report).count() == 4 + 2
    escalations = Notification.objects.filter(kind=NotificationKind.DUTY_TO_WARN_ESCALATION)
    assert escalations.count() == 2 and len(mail.outbox) == 2
    report.refresh_from_db()
    assert report.escalation_round == 1
    # Even told the same round again (a run that lost its claim), nobody gets a second
    # alert, notification or e-mail: the (report, recipient, round) key holds.
    again = duty_to_warn._alert(
        report, report.case, list(User.objects.filter(pk__in=mdt.supervisors)), 1, ESCALATION
    )
    assert again == []
    assert DutyToWarnAlert.objects.filter(report=report).count() == 6
    assert escalations.count() == 2 and len(mail.outbox) == 2


def test_the_task_is_registered_and_on_the_beat_schedule() -> None:
    from config.celery_app import app

    assert "casework.tasks.escalate_duty_to_warn" in app.tasks
    entries = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "casework.tasks.escalate_duty_to_warn"
    ]
    assert len(entries) == 1


# --- Open reports (the supervisor queue's section) -------------------------------------


def test_open_reports_are_the_unacknowledged_ones_the_user_may_read(mdt: Mdt) -> None:
    first = file_as(mdt.officer, mdt.case)
    second = file_as(mdt.treatment, mdt.case)
    other_case = f.make_case(mdt.team, officer=mdt.officer)
    third = file_as(mdt.officer, other_case)
    assert list(duty_to_warn.open_reports(mdt.supervisor)) == [first, second, third]
    duty_to_warn.acknowledge(mdt.supervisor, second, "Done")
    assert list(duty_to_warn.open_reports(mdt.supervisor)) == [first, third]
    assert list(duty_to_warn.open_reports(mdt.rep)) == [first, third]
    for user in (mdt.treatment, mdt.outsider, mdt.other_supervisor, mdt.admin):
        assert not duty_to_warn.open_reports(user).exists(), user


# --- Audit -----------------------------------------------------------------------------


def test_file_notify_acknowledge_and_escalate_are_audited(mdt: Mdt) -> None:
    signed_in(mdt.officer).post(
        create_url(mdt.case), {"at_risk": "victim", "threat": THREAT, "urgency": "day"}
    )
    report = DutyToWarn.objects.get()
    every = AuditEvent.objects.filter(target_type="casework.dutytowarn", target_id=str(report.pk))
    # The app's own events (the database's write capture records each row change besides).
    events = every.filter(Q(detail__source__isnull=True) | ~Q(detail__source="database"))
    created = events.get(action=Action.CREATE, actor=mdt.officer)
    assert created.case_id == mdt.case.pk
    assert created.detail["fields"] == ["case", "at_risk", "threat", "urgency"]
    notified = events.get(action=Action.NOTIFY)
    assert notified.actor == mdt.officer
    assert sorted(notified.detail["recipients"]) == sorted(mdt.first_recipients)
    assert notified.detail["round"] == 0

    assert report.next_escalation_at is not None
    duty_to_warn.escalate_due(report.next_escalation_at)
    escalated = events.get(action=Action.ESCALATE)
    assert escalated.actor is None  # the scheduler, not a person
    assert sorted(escalated.detail["recipients"]) == sorted(mdt.supervisors)
    assert escalated.detail["round"] == 1 and escalated.case_id == mdt.case.pk

    signed_in(mdt.supervisor).post(detail_url(report), {"action_taken": "Warned the school"})
    acknowledged = events.get(action=Action.ACKNOWLEDGE)
    assert acknowledged.actor == mdt.supervisor
    assert acknowledged.detail == {"fields": ["action_taken"], "escalation_round": 1}
    # The threat and the action are case content: they stay out of the trail.
    assert every.filter(detail__source="database", action="create").count() == 1
    for event in every:
        assert "THREATMARK" not in str(event.detail)
        assert "Warned the school" not in str(event.detail)


# --- The timeline: who was told, when, and whether they opened it -----------------------


def test_the_timeline_shows_when_each_person_opened_the_alert(mdt: Mdt) -> None:
    report = file_as(mdt.officer, mdt.case)
    note = Notification.objects.get(recipient=mdt.supervisor)
    response = signed_in(mdt.supervisor).post(reverse("notification-open", args=[note.pk]))
    assert response.status_code == 302 and response["Location"] == detail_url(report)
    note.refresh_from_db()
    assert note.read_at is not None
    timeline = duty_to_warn.timeline(report)
    assert [entry.what for entry in timeline] == ["filed"] + ["alerted"] * 4
    opened = {entry.who.pk: entry.read_at for entry in timeline if entry.what == "alerted"}
    assert opened[mdt.supervisor.pk] == note.read_at
    assert all(opened[pk] is None for pk in mdt.first_recipients - {mdt.supervisor.pk})

    body = api_as(mdt.rep).get(f"{API}{report.pk}/").json()
    reads = {alert["recipient"]: alert["read_at"] for alert in body["alerts"]}
    assert reads[mdt.supervisor.pk] is not None
    assert [reads[pk] for pk in mdt.first_recipients - {mdt.supervisor.pk}] == [None] * 3
    # Opening the report itself (the e-mail's link) counts too; the page is drawn after.
    page = html(signed_in(mdt.rep).get(detail_url(report)))
    assert page.count("; opened it at") == 2 and page.count("; not opened yet") == 2
    assert Notification.objects.get(recipient=mdt.rep).read_at is not None


# --- The API ---------------------------------------------------------------------------


def test_api_list_detail_create_and_acknowledge(mdt: Mdt) -> None:
    other_case = f.make_case(mdt.team, officer=mdt.officer)
    api = api_as(mdt.officer)
    created = api.post(
        API,
        {"case": mdt.case.pk, "at_risk": "staff", "threat": THREAT, "urgency": "immediate"},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["threat"], body["status"], body["reporter"]) == (THREAT, "open", mdt.officer.pk)
    assert sorted(a["recipient"] for a in body["alerts"]) == sorted(mdt.first_recipients)
    file_as(mdt.officer, other_case)

    listed = api_as(mdt.rep).get(API).json()
    assert listed["count"] == 2
    narrowed = api_as(mdt.rep).get(API, {"case": mdt.case.pk}).json()
    assert [row["id"] for row in narrowed["results"]] == [body["id"]]
    assert api_as(mdt.rep).get(API, {"case": "abc"}).status_code == 400

    url = f"{API}{body['id']}/acknowledge/"
    assert api_as(mdt.supervisor).get(url).status_code == 405
    response = api_as(mdt.supervisor).post(url, {"action_taken": "Police notified"})
    assert response.status_code == 200
    done = response.json()
    assert (done["status"], done["acknowledged_by"], done["action_taken"]) == (
        "acknowledged",
        mdt.supervisor.pk,
        "Police notified",
    )
    assert done["next_escalation_at"] is None
    for method in ("put", "patch", "delete"):
        response = getattr(api_as(mdt.supervisor), method)(f"{API}{body['id']}/", {})
        assert response.status_code == 405, method
    assert APIClient().get(API).status_code == 401


def test_api_list_query_count_does_not_grow_with_reports(mdt: Mdt) -> None:
    for _ in range(3):
        file_as(mdt.officer, mdt.case)
    api = api_as(mdt.supervisor)

    def count() -> int:
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert api.get(API, {"page_size": 100}).status_code == 200
        return len(captured.captured_queries)

    few = count()
    for _ in range(7):
        file_as(mdt.officer, mdt.case)
    assert count() == few


# --- Concurrent runs, on separate connections --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_alert_nobody_twice() -> None:
    """Two runs at once, on two connections, over several due reports: each report is
    escalated by exactly one of them."""
    team = f.make_team()
    officer = f.make_member(team, Role.OFFICER)
    supervisors = [f.make_member(team, Role.SUPERVISOR) for _ in range(3)]
    f.make_member(team, Role.VICTIM_REP)
    reports = [file_as(officer, f.make_case(team, officer=officer)) for _ in range(8)]
    now = max(r.next_escalation_at for r in reports if r.next_escalation_at is not None)
    mail.outbox = []
    barrier = threading.Barrier(3)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(duty_to_warn.escalate_due(now))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sum(results) == len(reports), results
    for report in reports:
        report.refresh_from_db()
        assert report.escalation_round == 1
        assert alerted(report, 1) == sorted(s.pk for s in supervisors)
    escalations = Notification.objects.filter(kind=NotificationKind.DUTY_TO_WARN_ESCALATION)
    assert escalations.count() == len(reports) * len(supervisors)
    assert len(mail.outbox) == len(reports) * len(supervisors)
    assert AuditEvent.objects.filter(action=Action.ESCALATE).count() == len(reports)
    # And again, all at once: nothing is due any more.
    assert duty_to_warn.escalate_due(now) == 0


@pytest.mark.django_db(transaction=True)
def test_a_run_skips_the_report_another_run_holds_and_never_waits() -> None:
    team = f.make_team()
    officer = f.make_member(team, Role.OFFICER)
    supervisor = f.make_member(team, Role.SUPERVISOR)
    report = file_as(officer, f.make_case(team, officer=officer))
    assert report.next_escalation_at is not None
    now = report.next_escalation_at
    locked, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                DutyToWarn.objects.select_for_update().get(pk=report.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert locked.wait(timeout=10)
        started = time.monotonic()
        assert duty_to_warn.escalate_due(now) == 0  # skipped, not waited for
        assert time.monotonic() - started < 5
        assert alerted(report, 1) == []
    finally:
        release.set()
        thread.join(timeout=30)
    assert duty_to_warn.escalate_due(now) == 1
    assert alerted(report, 1) == [supervisor.pk]
    assert duty_to_warn.escalate_due(now) == 0


# --- End to end: a real worker and beat on the run's Redis and PostgreSQL ---------------


E2E_CHECK_SECONDS = 5
E2E_WORKER_NAME = f"pytest-dtw-{os.getpid()}@localhost"


@pytest.fixture
def escalating_worker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """A Celery worker with embedded beat on the run's Redis and the test database, that
    escalates after one minute and looks for due reports every few seconds."""
    require_redis()
    if connection.vendor != "postgresql":
        pytest.skip("the worker shares the test database: PostgreSQL only (make test)")
    log = tmp_path / "worker.log"
    var = tmp_path / "var"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DUTY_TO_WARN_ESCALATION_MINUTES": "1",
        "DUTY_TO_WARN_CHECK_SECONDS": str(E2E_CHECK_SECONDS),
        "EMAIL_MODE": "file",
        "VAR_DIR": str(var),
    }
    command = celery_command(
        "worker",
        "--beat",
        "--loglevel=INFO",
        "--concurrency=1",
        "--schedule",
        str(tmp_path / "beat-schedule"),
        "--hostname",
        E2E_WORKER_NAME,
    )
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, log, var / "mail"
    finally:
        stop(process)


def _wait_for(
    condition: Any, timeout: float, process: subprocess.Popen[bytes], log: Path, what: str
) -> float:
    worker = Service("worker", process, log)
    return wait_for(
        condition, timeout, what, lambda: f"worker log:\n{tail(log, 60)}", [worker], every=0.5
    )


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_end_to_end_a_real_worker_escalates_once_per_supervisor(
    escalating_worker: tuple[subprocess.Popen[bytes], Path, Path],
    settings: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    process, log, mail_dir = escalating_worker
    # The filing side uses the worker's span too: the report's first escalation is due a
    # minute after it is filed.
    settings.DUTY_TO_WARN_ESCALATION_MINUTES = 1
    team = f.make_team(TEAM_NAME)
    officer = f.make_member(team, Role.OFFICER, first_name=REPORTER[0], last_name=REPORTER[1])
    supervisors = [f.make_member(team, Role.SUPERVISOR) for _ in range(3)]
    rep = f.make_member(team, Role.VICTIM_REP)
    case = f.make_case(
        team,
        reference=REFERENCE,
        officer=officer,
        supervisee=f.make_supervisee(first_name=SUPERVISEE[0], last_name=SUPERVISEE[1]),
    )
    # Wait until beat runs inside the worker, so that the delay measured is the app's.
    _wait_for(
        lambda: "beat: Starting" in log.read_text(errors="replace"),
        60,
        process,
        log,
        "beat start",
    )
    _wait_for(lambda: "ready." in log.read_text(errors="replace"), 60, process, log, "worker ready")

    report = file_as(officer, case)
    # A second report, acknowledged at once: it must never escalate.
    quiet = file_as(officer, case, threat="second report")
    duty_to_warn.acknowledge(supervisors[0], quiet, "Handled on the phone")
    filed = time.monotonic()
    first_alerted = {s.pk for s in supervisors} | {rep.pk}
    assert set(alerted(report, 0)) == first_alerted

    def landed(round_: int) -> Any:
        return lambda: len(alerted(report, round_)) >= len(supervisors)

    span = 60.0
    first_seen = _wait_for(landed(1), span + 45, process, log, "the first escalation")
    first = DutyToWarnAlert.objects.filter(report=report, round=1)
    first_delay = max((a.alerted_at - report.created_at).total_seconds() for a in first)
    # Watch a few more runs of the task: nobody is alerted twice.
    time.sleep(3 * E2E_CHECK_SECONDS)
    assert alerted(report, 1) == sorted(s.pk for s in supervisors)
    second_seen = _wait_for(landed(2), span + 45, process, log, "the second escalation")
    second = DutyToWarnAlert.objects.filter(report=report, round=2)
    second_delay = max((a.alerted_at - report.created_at).total_seconds() for a in second)

    report.refresh_from_db()
    assert report.escalation_round == 2
    assert alerted(report, 1) == alerted(report, 2) == sorted(s.pk for s in supervisors)
    for supervisor in supervisors:
        kinds = Notification.objects.filter(recipient=supervisor).values_list("kind", flat=True)
        assert sorted(kinds) == sorted(
            [NotificationKind.DUTY_TO_WARN] * 2  # both reports were filed
            + [NotificationKind.DUTY_TO_WARN_ESCALATION] * 2
        ), supervisor
    assert not DutyToWarnAlert.objects.filter(report=quiet, round__gt=0).exists()
    assert span - 1 <= first_delay <= span + E2E_CHECK_SECONDS + 5, first_delay
    assert 2 * span - 1 <= second_delay <= 2 * span + E2E_CHECK_SECONDS + 5, second_delay

    # The worker's e-mails (EMAIL_MODE=file): one per supervisor and round, no content.
    messages = "\n".join(p.read_text(errors="replace") for p in sorted(mail_dir.glob("*")))
    for supervisor in supervisors:
        assert len(re.findall(rf"^To: {re.escape(supervisor.email)}$", messages, re.M)) == 2
    leaked = [m for m in (THREAT, "THREATMARK", REFERENCE, TEAM_NAME, *SUPERVISEE) if m in messages]
    assert not leaked, leaked

    with capsys.disabled():
        print(
            f"\nduty-to-warn escalation, measured on a real worker and beat "
            f"(escalation span 60 s, check every {E2E_CHECK_SECONDS} s): "
            f"first escalation {first_delay:.1f} s after filing "
            f"(seen by polling {first_seen - filed:.1f} s), "
            f"second {second_delay:.1f} s (seen {second_seen - filed:.1f} s); "
            f"{len(supervisors)} supervisors alerted once per round"
        )
