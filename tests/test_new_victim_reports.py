"""New-victim disclosures (issue 6, item 5): a treatment provider or polygraph examiner
reports that a possible new victim was disclosed; the case's supervisors and victim
representatives are told at once (in the app, and by an e-mail with no content), read it
and acknowledge it; the reporter sees only that it was received; officers and anyone
else find nothing, and the attempt is recorded. Through the pages and the API, for every
role; bad input answered with field errors, nothing lost; who files follows the policy
table."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import Action, AuditEvent
from teams.disclosure.grants import apply_team_policy
from teams.disclosure.policy import MATRIX, Access, Info
from teams.models import Notification, NotificationKind, User
from teams.roles import Role
from tests.services_world import (
    EVERYONE,
    REFERENCE,
    SEE_CASE,
    SUPERVISEE,
    World,
    api,
    denied,
    expect_form,
    html,
    make_world,
    web,
)
from victims import new_victim_reports as service
from victims.models import DisclosureContext, NewVictimReport

pytestmark = pytest.mark.django_db

API = "/api/v1/new-victim-reports/"
DESCRIPTION = "DISCLOSEMARK-31: he spoke of a child next door, around 2019."
# Who the policy lets file on the case (by membership), and who reads reports.
FILERS = frozenset({"treatment", "polygraph"})
READERS = frozenset({"supervisor", "rep", "rep2", "guest_supervisor", "guest_rep"})
ACKNOWLEDGERS = frozenset({"supervisor", "rep", "rep2"})  # a guest reads, takes no part


@pytest.fixture
def world() -> World:
    return make_world()


def create_url(world: World) -> str:
    return f"/cases/{world.case.pk}/new-victim-reports/new/"


def detail_url(report: NewVictimReport) -> str:
    return f"/new-victim-reports/{report.pk}/"


def receipt_url(report: NewVictimReport) -> str:
    return f"/new-victim-reports/{report.pk}/received/"


def fields(description: str = DESCRIPTION) -> dict[str, Any]:
    return {
        "context": DisclosureContext.TREATMENT_SESSION,
        "disclosed_on": timezone.localdate().isoformat(),
        "description": description,
    }


def file_as(user: User, world: World, description: str = DESCRIPTION) -> NewVictimReport:
    return service.file(
        user,
        world.case,
        DisclosureContext.POLYGRAPH_EXAM,
        timezone.localdate() - dt.timedelta(days=1),
        description,
    )


# --- Filing: the reporter gets a receipt, nothing more ----------------------------------


def test_treatment_files_through_the_page_and_gets_only_a_receipt(world: World) -> None:
    page = web(world.treatment)
    case_page = html(page.get(f"/cases/{world.case.pk}/"))
    assert "Report a possible new victim" in case_page
    assert 'id="new-victim-reports"' in case_page and "Not acknowledged" not in case_page
    response = page.get(create_url(world))
    assert response.status_code == 200
    response = page.post(create_url(world), fields())
    report = NewVictimReport.objects.get()
    assert response.status_code == 302 and response["Location"] == receipt_url(report)
    assert (report.reporter_id, report.description) == (world.treatment.pk, DESCRIPTION)
    created = AuditEvent.objects.get(
        action=Action.CREATE, target_type="victims.newvictimreport", target_id=str(report.pk)
    )
    assert created.actor_id == world.treatment.pk and "DISCLOSEMARK" not in str(created.detail)
    receipt = page.get(receipt_url(report))
    assert receipt.status_code == 200
    body = html(receipt)
    assert "Received at" in body and "DISCLOSEMARK" not in body
    # The report itself: 404 for the reporter, recorded as denied.
    response = page.get(detail_url(report))
    assert response.status_code == 404 and "DISCLOSEMARK" not in html(response)
    assert denied(world.treatment, report)
    assert api(world.treatment).get(f"{API}{report.pk}/").status_code == 404
    assert api(world.treatment).get(API).json()["count"] == 0
    assert "DISCLOSEMARK" not in html(page.get(f"/cases/{world.case.pk}/"))


def test_polygraph_files_through_the_api_and_gets_only_a_receipt(world: World) -> None:
    response = api(world.polygraph).post(API, {"case": world.case.pk, **fields()}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "case", "created_at", "status"}
    assert body["status"] == "received" and body["case"] == world.case.pk
    assert "DISCLOSEMARK" not in response.content.decode()
    report = NewVictimReport.objects.get(pk=body["id"])
    assert report.context == DisclosureContext.TREATMENT_SESSION
    # The write is in the trail without its description.
    created = AuditEvent.objects.get(
        action=Action.CREATE, target_type="victims.newvictimreport", target_id=str(report.pk)
    )
    assert "DISCLOSEMARK" not in str(created.detail)


def test_the_supervisors_and_representatives_are_told_with_no_content(world: World) -> None:
    mail.outbox = []
    report = file_as(world.polygraph, world)
    told = Notification.objects.filter(kind=NotificationKind.NEW_VICTIM_REPORT)
    assert sorted(told.values_list("recipient_id", flat=True)) == sorted(
        [world.supervisor.pk, world.rep.pk, world.rep2.pk]
    )
    assert {n.link for n in told} == {detail_url(report)}
    assert sorted(address for m in mail.outbox for address in m.to) == sorted(
        [world.supervisor.email, world.rep.email, world.rep2.email]
    )
    for message in mail.outbox:
        text = f"{message.subject}\n{message.body}"
        for marker in ("DISCLOSEMARK", REFERENCE, *SUPERVISEE, "Polygraphfirstmark"):
            assert marker.lower() not in text.lower(), marker
        assert "A report needs your attention." in message.body
    event = AuditEvent.objects.get(action=Action.NOTIFY, target_id=str(report.pk))
    assert sorted(event.detail["recipients"]) == sorted(
        [world.supervisor.pk, world.rep.pk, world.rep2.pk]
    )


def test_supervisor_reads_and_acknowledges_once(world: World) -> None:
    report = file_as(world.treatment, world)
    page = web(world.supervisor)
    shown = html(page.get(f"/cases/{world.case.pk}/"))
    assert f'id="new-victim-report-{report.pk}"' in shown and "Not acknowledged" in shown
    response = page.get(detail_url(report))
    assert response.status_code == 200
    body = html(response)
    assert DESCRIPTION in body and "Acknowledge" in body
    assert page.post(detail_url(report)).status_code == 302
    report.refresh_from_db()
    assert report.acknowledged_by_id == world.supervisor.pk and report.acknowledged_at
    # Someone else, after: told who took it in hand; nothing changes.
    response = web(world.rep).post(detail_url(report))
    assert response.status_code == 400
    assert f"already acknowledged by {world.supervisor}" in html(response)
    response = api(world.rep2).post(f"{API}{report.pk}/acknowledge/")
    assert response.status_code == 400 and "non_field_errors" in response.json()
    report.refresh_from_db()
    assert report.acknowledged_by_id == world.supervisor.pk


def test_the_api_for_readers(world: World) -> None:
    report = file_as(world.treatment, world)
    client = api(world.rep)
    listed = client.get(API, {"case": world.case.pk}).json()
    assert [row["id"] for row in listed["results"]] == [report.pk]
    row = listed["results"][0]
    assert (row["description"], row["status"], row["reporter"]) == (
        DESCRIPTION,
        "open",
        world.treatment.pk,
    )
    assert client.get(API, {"case": "x"}).status_code == 400
    url = f"{API}{report.pk}/acknowledge/"
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 200 and response.json()["status"] == "acknowledged"
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"{API}{report.pk}/", {}).status_code == 405
    # A reader whose role does not file is refused, with nothing saved.
    response = api(world.supervisor).post(API, {"case": world.case.pk, **fields()}, format="json")
    assert response.status_code == 403


def test_bad_input_gets_field_errors_and_nothing_is_saved(world: World) -> None:
    page = web(world.treatment)
    response = page.post(
        create_url(world), {"context": "", "disclosed_on": "", "description": "  "}
    )
    assert response.status_code == 400
    body = html(response)
    for message in (
        "Choose where it was disclosed from the list.",
        "Enter the date it was disclosed.",
        "Describe what was disclosed about the possible victim.",
    ):
        assert message in body, message
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = page.post(
        create_url(world),
        {"context": "treatment_session", "disclosed_on": tomorrow, "description": "TYPEDMARK"},
    )
    assert response.status_code == 400
    assert "cannot be in the future" in html(response) and "TYPEDMARK" in html(response)
    client = api(world.polygraph)
    for payload, field in (
        ({**fields(), "context": "dream"}, "context"),
        ({**fields(), "description": ""}, "description"),
        ({**fields(), "disclosed_on": "yesterday"}, "disclosed_on"),
        ({**fields(), "disclosed_on": tomorrow}, "disclosed_on"),
        ({**fields(), "victim_name": "x"}, "victim_name"),
    ):
        response = client.post(API, {"case": world.case.pk, **payload}, format="json")
        assert response.status_code == 400, payload
        assert field in response.json(), (payload, response.json())
    response = client.post(API, {"case": world.other_case.pk, **fields()}, format="json")
    assert response.status_code == 400 and "case" in response.json()
    assert not NewVictimReport.objects.exists()


def test_who_files_follows_the_policy_table(world: World) -> None:
    """Give officers CREATE in the table: they file, and get a receipt only."""
    row = {**MATRIX[Info.NEW_VICTIM_REPORT], Role.OFFICER: Access.CREATE}
    with mock.patch.dict(MATRIX, {Info.NEW_VICTIM_REPORT: row}):
        apply_team_policy(world.team)
        response = api(world.officer).post(API, {"case": world.case.pk, **fields()}, format="json")
        assert response.status_code == 201 and response.json()["status"] == "received"
        assert "Report a possible new victim" in html(
            web(world.officer).get(f"/cases/{world.case.pk}/")
        )
    apply_team_policy(world.team)
    assert api(world.officer).post(API, {"case": world.case.pk, **fields()}).status_code == 403


# --- Every role, every route --------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_route_permissions(world: World, who: str) -> None:
    user: User = getattr(world, who)
    page, client = web(user), api(user)
    report = file_as(world.treatment, world)
    before = NewVictimReport.objects.count()

    # The case page: the link for filers, the reports for readers, nothing for officers.
    response = page.get(f"/cases/{world.case.pk}/")
    assert response.status_code == (200 if who in SEE_CASE else 404), who
    body = html(response)
    assert ("Report a possible new victim" in body) == (who in FILERS), who
    assert (f'id="new-victim-report-{report.pk}"' in body) == (who in READERS), who
    assert ('id="new-victim-reports"' in body) == (who in FILERS | READERS), who

    # Filing: the form and the API.
    assert page.get(create_url(world)).status_code == expect_form(who, FILERS), who
    response = page.post(create_url(world), fields(f"by {who}"))
    assert response.status_code == (302 if who in FILERS else expect_form(who, FILERS)), who
    response = client.post(API, {"case": world.case.pk, **fields(f"api {who}")}, format="json")
    wanted = 201 if who in FILERS else 403 if who in SEE_CASE else 400
    assert response.status_code == wanted, who
    if who in FILERS:
        assert response.json()["status"] == "received"
    filed = 2 if who in FILERS else 0
    assert NewVictimReport.objects.count() == before + filed, who

    # Reading: the page, the API detail and list; 404 (recorded) for anyone else.
    response = page.get(detail_url(report))
    assert response.status_code == (200 if who in READERS else 404), who
    assert (DESCRIPTION in html(response)) == (who in READERS), who
    if who not in READERS:
        assert denied(user, report), who
    assert client.get(f"{API}{report.pk}/").status_code == (200 if who in READERS else 404)
    listed = client.get(API, {"page_size": 100}).json()
    ids = {row["id"] for row in listed["results"]}
    assert (report.pk in ids) == (who in READERS), who
    if who not in READERS:
        assert listed["count"] == 0, who

    # The list page: the reports the user may read, nothing for anyone else.
    response = page.get("/new-victim-reports/")
    assert response.status_code == 200, who
    assert (detail_url(report) in html(response)) == (who in READERS), who
    assert (DESCRIPTION in html(response)) is False, who  # the list carries no content

    # The receipt: the reporter's alone.
    assert page.get(receipt_url(report)).status_code == (200 if who == "treatment" else 404)

    # Acknowledging: the team's supervisors and representatives; a guest reader 403.
    wanted = 302 if who in ACKNOWLEDGERS else 403 if who in READERS else 404
    assert page.post(detail_url(report)).status_code == wanted, who
    report.refresh_from_db()
    assert (report.acknowledged_by_id == user.pk) == (who in ACKNOWLEDGERS), who
    fresh = file_as(world.polygraph, world)
    response = client.post(f"{API}{fresh.pk}/acknowledge/")
    assert response.status_code == (200 if wanted == 302 else wanted), who
    fresh.refresh_from_db()
    assert (fresh.acknowledged_at is not None) == (who in ACKNOWLEDGERS), who


def test_signed_out(world: World) -> None:
    report = file_as(world.treatment, world)
    page, client = web(None), api(None)
    for url in (create_url(world), detail_url(report), receipt_url(report), "/new-victim-reports/"):
        response = page.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert page.post(detail_url(report)).status_code == 302
    assert client.get(API).status_code == 401
    assert client.post(API, {"case": world.case.pk, **fields()}).status_code == 401
    assert client.post(f"{API}{report.pk}/acknowledge/").status_code == 401
    report.refresh_from_db()
    assert report.acknowledged_at is None and NewVictimReport.objects.count() == 1
