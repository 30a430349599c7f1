"""The disclosure ledger (issue 6, item 7): for one victim, every time their identity or
locating information was seen, by whom, in which role, when, what, and under which
release, drawn from the audit trail and matching it exactly; printable; read by the
victim's representatives only, and itself audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent, Outcome
from casework.models import Case
from teams.disclosure.grants import grant_case_access
from teams.disclosure.policy import RELEASE_FIELDS, ReleaseCategory
from teams.models import Team, User
from teams.roles import Role
from tests import cast as people
from tests import factories as f
from tests.cast import api_as, signed_in, text
from victims import ledger as ledger_module
from victims import services
from victims.models import Release, Victim

pytestmark = pytest.mark.django_db

FIRST, LAST = "Philippa", "Armitage-Quell"
ADDRESS = "LEDGER-ADDR 7 Birch Close"
PHONE = "860-555-6611"
WORDS = {"identity": "Name"} | {
    field: str(ReleaseCategory(category).label)
    for category, fields in RELEASE_FIELDS.items()
    for field in fields
}


@dataclass
class World:
    team: Team
    case: Case
    victim: Victim
    rep: User
    officer: User
    supervisor: User
    treatment: User
    release: Release


@pytest.fixture
def world() -> World:
    team = f.make_team("Norwich MDT")
    rep = f.make_member(team, Role.VICTIM_REP, first_name="Rowan", last_name="Rep")
    officer = f.make_member(team, Role.OFFICER, first_name="Oona", last_name="Officer")
    case = f.make_case(team, officer=officer)
    victim = f.make_victim(first_name=FIRST, last_name=LAST, address_line1=ADDRESS, phone=PHONE)
    f.link_victim(case, victim, pseudonym="Person harmed 1", representative=rep)
    release = services.create_release(
        created_by=rep,
        victim=victim,
        case=case,
        recipient=officer,
        categories=("phone",),
        purpose="Safety planning",
        signed_on=timezone.localdate() - dt.timedelta(days=2),
        expires_on=timezone.localdate() + dt.timedelta(days=60),
    )
    return World(
        team=team,
        case=case,
        victim=victim,
        rep=rep,
        officer=officer,
        supervisor=f.make_member(team, Role.SUPERVISOR, first_name="Sol", last_name="Sup"),
        treatment=f.make_member(team, Role.TREATMENT),
        release=release,
    )


def ledger_url(victim: Victim) -> str:
    return reverse("victim-ledger", args=[victim.pk])


def api_url(victim: Victim) -> str:
    return f"/api/v1/victims/{victim.pk}/ledger/"


def read_by_several_roles(world: World) -> None:
    """The officer under the release (case page), the supervisor in their role (victim
    page and API), the treatment provider (a pseudonym: nothing disclosed), the
    representative (everything), and a guest officer invited to the case."""
    signed_in(world.officer).get(reverse("case-detail", args=[world.case.pk]))
    signed_in(world.supervisor).get(reverse("victim-detail", args=[world.victim.pk]))
    api_as(world.supervisor).get(f"/api/v1/victims/{world.victim.pk}/")
    signed_in(world.treatment).get(reverse("case-detail", args=[world.case.pk]))
    signed_in(world.rep).get(reverse("victim-detail", args=[world.victim.pk]))
    guest = f.make_user(first_name="Gwen", last_name="Guest")
    grant_case_access(
        guest, world.case, Role.OFFICER, granted_by=world.supervisor, reason="Transfer review"
    )
    signed_in(guest).get(reverse("case-detail", args=[world.case.pk]))


def trail(world: World) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(action=Action.DISCLOSURE, victim_id=world.victim.pk).order_by(
            "-seq"
        )
    )


def words(shown: list[str]) -> str:
    """In the order of the release categories, each named once."""
    named = {WORDS[item] for item in shown}
    return ", ".join(word for word in dict.fromkeys(WORDS.values()) if word in named)


def test_the_api_ledger_matches_the_audit_trail_exactly(world: World) -> None:
    read_by_several_roles(world)
    events = trail(world)
    assert len(events) >= 5

    response = api_as(world.rep).get(api_url(world.victim))

    assert response.status_code == 200
    entries = response.json()["entries"]
    assert [e["seq"] for e in entries] == [event.seq for event in events]
    for entry, event in zip(entries, events, strict=True):
        assert entry["reader_id"] == event.actor_id
        assert entry["release_id"] == event.detail["release"]
        assert entry["shown"] == words(event.detail["shown"])
        assert entry["case_id"] == event.case_id == world.case.pk
        assert entry["case_reference"] == world.case.reference
    by_reader = {e["reader_id"]: e for e in entries}
    officer = by_reader[world.officer.pk]
    assert officer["shown"] == "Name, Phone number"
    assert officer["release_id"] == world.release.pk
    assert officer["release"] == f"Release #{world.release.pk}"
    assert officer["reader_name"] == "Oona Officer"
    assert officer["reader_role"] == "Probation officer"
    assert by_reader[world.supervisor.pk]["reader_role"] == "Supervisor"
    assert by_reader[world.supervisor.pk]["shown"] == "Name"
    assert by_reader[world.supervisor.pk]["release_id"] is None
    assert by_reader[world.rep.pk]["reader_role"] == "Victim representative"
    assert by_reader[world.rep.pk]["shown"] == "Name, " + ", ".join(
        str(ReleaseCategory(c).label) for c in RELEASE_FIELDS
    )
    guest = [e for e in entries if e["reader_name"] == "Gwen Guest"]
    assert guest and guest[0]["reader_role"] == "Invited to this case (not on its team)"
    # The treatment provider saw a pseudonym: nothing was disclosed to them.
    assert world.treatment.pk not in by_reader
    assert response.json()["older"] is None


def test_the_page_ledger_matches_the_audit_trail_exactly(world: World) -> None:
    read_by_several_roles(world)
    events = trail(world)

    response = signed_in(world.rep).get(ledger_url(world.victim))

    assert response.status_code == 200
    page = text(response)
    rows = page.split('<tr id="ledger-')[1:]
    assert [int(row.split('"', 1)[0]) for row in rows] == [event.seq for event in events]
    for row, event in zip(rows, events, strict=True):
        assert words(event.detail["shown"]) in row
        when = timezone.localtime(event.occurred_at)
        assert f"{when.day} {when:%b %Y, %H:%M}" in row
        if event.detail["release"]:
            assert f"Release #{event.detail['release']}" in row
            assert reverse("release-form", args=[event.detail["release"]]) in row
        else:
            assert "None (seen in their own role)" in row
    assert f"Who has seen {FIRST} {LAST}" in page
    # What was seen is named, never its value.
    assert ADDRESS not in page and PHONE not in page


def test_reading_the_ledger_is_audited(world: World) -> None:
    read_by_several_roles(world)
    seqs = [event.seq for event in trail(world)]

    signed_in(world.rep).get(ledger_url(world.victim))
    api_as(world.rep).get(api_url(world.victim))

    reads = AuditEvent.objects.filter(
        actor=world.rep, action=Action.LIST, target_type="audit.auditevent"
    ).order_by("seq")
    assert reads.count() == 2
    for read in reads:
        assert read.victim_id == world.victim.pk
        assert read.detail["ledger"] == world.victim.pk
    page_read, api_read = reads
    assert page_read.detail["seqs"] == seqs
    # The page showed the representative the victim's name: itself a disclosure, which
    # the next read of the ledger lists first.
    assert api_read.detail["seqs"] == [trail(world)[0].seq, *seqs]


def test_the_ledger_is_printable(world: World) -> None:
    page = text(signed_in(world.rep).get(ledger_url(world.victim)))
    assert "window.print()" in page
    assert 'class="no-print"' in page
    assert "Prepared on" in page and "Rowan Rep" in page


def test_the_ledger_pages_backwards(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    read_by_several_roles(world)
    events = trail(world)
    monkeypatch.setattr(ledger_module, "PAGE_SIZE", 2)

    first = api_as(world.rep).get(api_url(world.victim)).json()
    second = api_as(world.rep).get(api_url(world.victim), {"before": first["older"]}).json()

    assert [e["seq"] for e in first["entries"]] == [e.seq for e in events[:2]]
    assert [e["seq"] for e in second["entries"]] == [e.seq for e in events[2:4]]
    page = text(signed_in(world.rep).get(ledger_url(world.victim)))
    assert f'href="?before={first["older"]}"' in page


def test_a_bad_before_is_a_400(world: World) -> None:
    response = api_as(world.rep).get(api_url(world.victim), {"before": "soon"})
    assert response.status_code == 400
    assert "before" in response.json()


def test_another_teams_case_stays_out_of_the_ledger(world: World) -> None:
    """The same person harmed on a case of another team: that team's disclosures belong
    to that team's representatives; this one's do not see the other case at all."""
    other = f.make_team("Other MDT")
    other_rep = f.make_member(other, Role.VICTIM_REP)
    other_officer = f.make_member(other, Role.OFFICER)
    other_case = f.make_case(other, officer=other_officer, reference="C-OTHER-0099")
    f.link_victim(other_case, world.victim, pseudonym="Person harmed 1", representative=other_rep)
    signed_in(other_officer).get(reverse("case-detail", args=[other_case.pk]))
    signed_in(world.officer).get(reverse("case-detail", args=[world.case.pk]))

    ours = api_as(world.rep).get(api_url(world.victim)).json()["entries"]
    theirs = api_as(other_rep).get(api_url(world.victim)).json()["entries"]

    assert {e["case_id"] for e in ours} == {world.case.pk}
    assert {e["case_id"] for e in theirs} == {other_case.pk}
    assert other_officer.pk in {e["reader_id"] for e in theirs}
    page = text(signed_in(world.rep).get(ledger_url(world.victim)))
    assert "C-OTHER-0099" not in page


def test_the_ledger_costs_the_same_queries_however_long(world: World) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            victim, case_ids = ledger_module.ledger_victim_or_404(world.rep, world.victim.pk)
            ledger_module.ledger(world.rep, victim, case_ids)
        return len(captured)

    signed_in(world.officer).get(reverse("case-detail", args=[world.case.pk]))
    few = queries()
    for _ in range(3):
        for user in (world.officer, world.supervisor, world.rep):
            signed_in(user).get(reverse("victim-detail", args=[world.victim.pk]))
    many = queries()
    assert few == many
    # The victim, the cases they may read it for, the page of events, the readers,
    # the cases, the memberships; and the read is recorded (a task-less write).
    assert many <= 8


# --- Who reads it --------------------------------------------------------------------


def expected_status(key: str) -> int:
    role, relation = people.role_of(key), people.relation_of(key)
    return 200 if role == Role.VICTIM_REP and relation in ("member", "guest") else 404


@pytest.mark.parametrize("key", people.KEYS)
def test_only_the_victims_representatives_read_the_ledger(world: World, key: str) -> None:
    cast = people.cast(world.team, world.case, f.make_team(), granted_by=world.supervisor)
    user = cast[key]
    signed_in(world.officer).get(reverse("case-detail", args=[world.case.pk]))
    wanted = expected_status(key)

    page = signed_in(user).get(ledger_url(world.victim))
    api = api_as(user).get(api_url(world.victim))

    assert page.status_code == wanted
    assert api.status_code == wanted
    denied = AuditEvent.objects.filter(
        actor=user,
        action=Action.VIEW,
        outcome=Outcome.DENIED,
        target_type="victims.victim",
        target_id=str(world.victim.pk),
    )
    assert denied.count() == (2 if wanted == 404 else 0)
    if wanted == 404:
        assert "Oona Officer" not in text(page) + text(api)


@pytest.mark.parametrize("who", ["officer", "supervisor", "treatment"])
def test_the_team_is_refused(world: World, who: str) -> None:
    assert signed_in(getattr(world, who)).get(ledger_url(world.victim)).status_code == 404
    assert api_as(getattr(world, who)).get(api_url(world.victim)).status_code == 404


def test_signed_out_is_refused(world: World) -> None:
    page = Client().get(ledger_url(world.victim))
    assert page.status_code == 302 and page["Location"].startswith(reverse("login"))
    assert APIClient().get(api_url(world.victim)).status_code == 401


def test_a_missing_victim_is_a_plain_404(world: World) -> None:
    assert signed_in(world.rep).get(reverse("victim-ledger", args=[987654])).status_code == 404
    assert api_as(world.rep).get("/api/v1/victims/987654/ledger/").status_code == 404
    assert not AuditEvent.objects.filter(outcome=Outcome.DENIED).exists()


def test_the_ledger_takes_no_writes(world: World) -> None:
    assert signed_in(world.rep).post(ledger_url(world.victim)).status_code == 405
    for method in ("post", "put", "patch", "delete"):
        response = getattr(api_as(world.rep), method)(api_url(world.victim), {})
        assert response.status_code == 405, method


def test_the_victim_page_links_the_ledger_for_representatives_only(world: World) -> None:
    url = reverse("victim-detail", args=[world.victim.pk])
    assert ledger_url(world.victim) in text(signed_in(world.rep).get(url))
    assert ledger_url(world.victim) not in text(signed_in(world.officer).get(url))
