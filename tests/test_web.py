"""The server-rendered pages: sign-in, dashboards, case list and detail, the one-team
visibility rule, victim locating information and the audit trail of what was shown."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import Action, AuditEvent, Outcome
from casework.models import Case
from teams.models import Team, User
from teams.roles import Role
from tests import factories as f

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
LOGOUT_URL = "/accounts/logout/"
CASES_URL = "/cases/"
CASE_ROW = re.compile(r'<tr>\s*<td><a href="[^"]+">')


def detail_url(case: Case) -> str:
    return f"/cases/{case.pk}/"


def page(response: object) -> str:
    content: bytes = response.content  # type: ignore[attr-defined]
    return content.decode()


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@dataclass
class Team1:
    """One team with a member in every role, a case with a note and a represented victim."""

    team: Team
    officer: User
    supervisor: User
    victim_rep: User
    treatment: User
    polygraph: User
    case: Case
    note_body: str
    address_marker: str
    phone_marker: str


@pytest.fixture
def team1() -> Team1:
    team = f.make_team("Hartford North MDT")
    officer = f.make_member(team, Role.OFFICER)
    supervisor = f.make_member(team, Role.SUPERVISOR)
    victim_rep = f.make_member(team, Role.VICTIM_REP)
    treatment = f.make_member(team, Role.TREATMENT)
    polygraph = f.make_member(team, Role.POLYGRAPH)
    case = f.make_case(
        team,
        reference="C-2024-0101",
        officer=officer,
        supervisee=f.make_supervisee(
            first_name="Marcus", last_name="Bellweather", docket_number="HHD-CR24-006001"
        ),
    )
    note = f.make_note(case, officer, "Home visit completed; residence matches the record.")
    address_marker = "ZZ-ADDRESS-MARKER-9137 Maple Avenue"
    phone_marker = "860-555-7319"
    victim = f.make_victim(address_line1=address_marker, phone=phone_marker)
    f.link_victim(case, victim, pseudonym="Person harmed 1", representative=victim_rep)
    return Team1(
        team=team,
        officer=officer,
        supervisor=supervisor,
        victim_rep=victim_rep,
        treatment=treatment,
        polygraph=polygraph,
        case=case,
        note_body=note.body,
        address_marker=address_marker,
        phone_marker=phone_marker,
    )


@pytest.fixture
def outsider() -> User:
    """An officer on another team, with a case of their own."""
    other = f.make_team("New Haven MDT")
    user = f.make_member(other, Role.OFFICER)
    f.make_case(other, reference="C-2024-0900", officer=user)
    return user


# --- Sign-in ---------------------------------------------------------------------------


def test_sign_in_page_renders_with_labelled_inputs(client: Client) -> None:
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    html = page(response)
    for field in ("username", "password"):
        assert f'<label for="id_{field}">' in html
        assert re.search(rf'<input[^>]+name="{field}"[^>]+id="id_{field}"', html)


def test_wrong_password_shows_a_clear_error_and_the_form_again(client: Client) -> None:
    f.make_user("ortiz")
    response = client.post(LOGIN_URL, {"username": "ortiz", "password": "not-the-password"})
    assert response.status_code == 200
    html = page(response)
    assert "Please enter a correct username and password" in html
    assert 'role="alert"' in html
    assert 'name="password"' in html
    # What the user typed is kept, the password is not echoed.
    assert 'value="ortiz"' in html
    assert "not-the-password" not in html
    assert not is_signed_in(client)


def test_sign_in_redirects_to_the_dashboard(client: Client, team1: Team1) -> None:
    response = client.post(LOGIN_URL, {"username": team1.officer.username, "password": f.PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert is_signed_in(client)


@pytest.mark.parametrize(
    ("role", "heading"),
    [
        ("officer", "My cases"),
        ("victim_rep", "Cases where I represent a victim"),
        ("supervisor", "My teams&#x27; cases"),
        ("treatment", "Cases I provide treatment on"),
        ("polygraph", "Cases I examine on"),
    ],
)
def test_sign_in_then_each_role_sees_its_dashboard_section(
    client: Client, team1: Team1, role: str, heading: str
) -> None:
    user: User = getattr(team1, role)
    client.post(LOGIN_URL, {"username": user.username, "password": f.PASSWORD})
    response = client.get("/")
    assert response.status_code == 200
    html = page(response)
    assert heading in html
    assert team1.case.reference in html
    # Only the sections of the roles the user holds.
    other_headings = {
        "My cases",
        "Cases where I represent a victim",
        "My teams&#x27; cases",
        "Cases I provide treatment on",
        "Cases I examine on",
    } - {heading}
    for other in other_headings:
        assert f">{other} <" not in html


def test_admin_dashboard_shows_accounts_and_teams_and_no_case_content(
    client: Client, team1: Team1
) -> None:
    admin = f.make_user("sysadmin", is_staff=True)
    # Even a membership does not give the administrator case content (rule 8).
    f.make_membership(admin, team1.team, Role.SUPERVISOR)
    client.post(LOGIN_URL, {"username": "sysadmin", "password": f.PASSWORD})
    response = client.get("/")
    assert response.status_code == 200
    html = page(response)
    assert "Accounts and teams" in html
    assert "Hartford North MDT" in html
    for content in (
        team1.case.reference,
        "Marcus",
        "Bellweather",
        "HHD-CR24-006001",
        "Person harmed",
    ):
        assert content not in html
    assert client.get(detail_url(team1.case)).status_code == 404
    assert team1.case.reference not in page(client.get(CASES_URL))


@pytest.mark.parametrize("url", ["/", CASES_URL, "/cases/1/"])
def test_anonymous_user_is_sent_to_sign_in(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next={url}"


def test_deactivated_user_cannot_sign_in(client: Client, team1: Team1) -> None:
    team1.officer.is_active = False
    team1.officer.save()
    response = client.post(LOGIN_URL, {"username": team1.officer.username, "password": f.PASSWORD})
    assert response.status_code == 200
    assert not is_signed_in(client)
    assert client.get("/").status_code == 302


def test_deactivation_ends_an_existing_session(team1: Team1) -> None:
    client = signed_in(team1.officer)
    assert client.get(detail_url(team1.case)).status_code == 200
    team1.officer.is_active = False
    team1.officer.save()
    response = client.get(detail_url(team1.case))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


# --- Case list -------------------------------------------------------------------------


@pytest.fixture
def searchable(team1: Team1) -> list[Case]:
    return [
        team1.case,
        f.make_case(
            team1.team,
            reference="C-2024-0202",
            supervisee=f.make_supervisee(
                first_name="Daniel", last_name="Crusoe", docket_number="NNH-CR23-004444"
            ),
        ),
        f.make_case(
            team1.team,
            reference="C-2023-0303",
            supervisee=f.make_supervisee(
                first_name="Kevin", last_name="Dawlish", docket_number="HHD-CR22-001234"
            ),
        ),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("crusoe", "C-2024-0202"),  # last name, any case
        ("Kevin", "C-2023-0303"),  # first name
        ("NNH-CR23", "C-2024-0202"),  # docket number
        ("C-2023-0303", "C-2023-0303"),  # case reference
        ("006001", "C-2024-0101"),  # part of a docket number
    ],
)
def test_case_list_search(team1: Team1, searchable: list[Case], query: str, expected: str) -> None:
    response = signed_in(team1.officer).get(CASES_URL, {"q": query})
    assert response.status_code == 200
    html = page(response)
    assert "1 case found." in html
    for case in searchable:
        assert (case.reference in html) == (case.reference == expected), case.reference


def test_case_list_without_a_query_shows_every_visible_case(
    team1: Team1, searchable: list[Case]
) -> None:
    html = page(signed_in(team1.supervisor).get(CASES_URL))
    assert "3 cases found." in html
    for case in searchable:
        assert case.reference in html


def test_case_list_search_that_matches_nothing(team1: Team1, searchable: list[Case]) -> None:
    response = signed_in(team1.officer).get(CASES_URL, {"q": "nobody-by-this-name"})
    assert response.status_code == 200
    assert "0 cases found." in page(response)


def test_case_list_pages(team1: Team1) -> None:
    for number in range(29):
        f.make_case(team1.team, reference=f"C-PAGE-{number:03d}")
    client = signed_in(team1.officer)

    first = page(client.get(CASES_URL))
    assert "30 cases found." in first
    assert "Page 1 of 2" in first
    assert len(CASE_ROW.findall(first)) == 25

    second = client.get(CASES_URL, {"page": "2"})
    assert second.status_code == 200
    assert "Page 2 of 2" in page(second)
    assert len(CASE_ROW.findall(page(second))) == 5


@pytest.mark.parametrize(("value", "shown"), [("abc", "Page 1 of 2"), ("999", "Page 2 of 2")])
def test_case_list_bad_page_numbers_do_not_fail(team1: Team1, value: str, shown: str) -> None:
    for number in range(29):
        f.make_case(team1.team, reference=f"C-PAGE-{number:03d}")
    response = signed_in(team1.officer).get(CASES_URL, {"page": value})
    assert response.status_code == 200
    assert shown in page(response)


def test_case_pages_link_to_the_web_case_pages(team1: Team1) -> None:
    """The dashboard, the case list and the navigation lead to the web pages, not to the
    API's JSON (the API's route names must not shadow the pages' names)."""
    client = signed_in(team1.officer)
    expected = f'<a href="{detail_url(team1.case)}">{team1.case.reference}</a>'
    for url in ("/", CASES_URL):
        html = page(client.get(url))
        assert expected in html, url
        assert 'href="/api/v1/cases/' not in html, url
        assert f'<a href="{CASES_URL}"' in html, url


# --- Case detail -----------------------------------------------------------------------


def test_case_detail_shows_the_case_and_its_notes(team1: Team1) -> None:
    response = signed_in(team1.officer).get(detail_url(team1.case))
    assert response.status_code == 200
    html = page(response)
    assert "C-2024-0101" in html
    assert "Marcus Bellweather" in html
    assert "HHD-CR24-006001" in html
    assert "Home visit completed; residence matches the record." in html
    assert "No contact with the victim" in html


def test_case_detail_shows_only_that_cases_notes(team1: Team1) -> None:
    other_case = f.make_case(team1.team)
    f.make_note(other_case, team1.officer, "A note that belongs to another case.")
    html = page(signed_in(team1.officer).get(detail_url(team1.case)))
    assert "A note that belongs to another case." not in html


def test_case_detail_of_a_missing_case_is_404(team1: Team1) -> None:
    assert signed_in(team1.officer).get("/cases/999999/").status_code == 404


# --- The one-team rule -----------------------------------------------------------------


def test_outsider_gets_404_on_case_detail(team1: Team1, outsider: User) -> None:
    response = signed_in(outsider).get(detail_url(team1.case))
    assert response.status_code == 404
    assert team1.case.reference not in page(response)


def test_outsider_case_list_does_not_show_other_teams_cases(team1: Team1, outsider: User) -> None:
    client = signed_in(outsider)
    html = page(client.get(CASES_URL))
    assert "1 case found." in html
    assert "C-2024-0900" in html
    assert team1.case.reference not in html
    searched = page(client.get(CASES_URL, {"q": "Bellweather"}))
    assert "0 cases found." in searched
    assert team1.case.reference not in searched


def test_user_without_any_membership_sees_an_empty_case_list(team1: Team1) -> None:
    html = page(signed_in(f.make_user()).get(CASES_URL))
    assert "0 cases found." in html
    assert team1.case.reference not in html


def test_ended_membership_loses_access(team1: Team1) -> None:
    today = timezone.localdate()
    former = f.make_user()
    f.make_membership(
        former,
        team1.team,
        Role.OFFICER,
        active_from=today - dt.timedelta(days=90),
        active_to=today - dt.timedelta(days=1),
    )
    client = signed_in(former)
    assert client.get(detail_url(team1.case)).status_code == 404
    html = page(client.get(CASES_URL))
    assert "0 cases found." in html
    assert team1.case.reference not in html


def test_membership_ending_today_still_gives_access(team1: Team1) -> None:
    today = timezone.localdate()
    leaving = f.make_user()
    f.make_membership(
        leaving,
        team1.team,
        Role.OFFICER,
        active_from=today - dt.timedelta(days=90),
        active_to=today,
    )
    assert signed_in(leaving).get(detail_url(team1.case)).status_code == 200


def test_membership_starting_tomorrow_gives_no_access_yet(team1: Team1) -> None:
    joining = f.make_user()
    f.make_membership(
        joining, team1.team, Role.OFFICER, active_from=timezone.localdate() + dt.timedelta(days=1)
    )
    assert signed_in(joining).get(detail_url(team1.case)).status_code == 404


# --- Victim locating information -------------------------------------------------------


@pytest.mark.parametrize("role", ["officer", "supervisor", "treatment", "polygraph"])
def test_victim_locating_information_is_hidden_from_other_roles(team1: Team1, role: str) -> None:
    response = signed_in(getattr(team1, role)).get(detail_url(team1.case))
    assert response.status_code == 200
    html = page(response)
    assert "ZZ-ADDRESS-MARKER" not in html
    assert team1.phone_marker not in html
    assert "person@example.org" not in html


def test_victim_locating_information_is_shown_to_the_teams_victim_rep(team1: Team1) -> None:
    response = signed_in(team1.victim_rep).get(detail_url(team1.case))
    assert response.status_code == 200
    html = page(response)
    assert team1.address_marker in html
    assert team1.phone_marker in html


def test_victim_rep_of_another_team_sees_no_locating_information(team1: Team1) -> None:
    other_rep = f.make_member(f.make_team(), Role.VICTIM_REP)
    response = signed_in(other_rep).get(detail_url(team1.case))
    assert response.status_code == 404
    assert "ZZ-ADDRESS-MARKER" not in page(response)


def test_victim_rep_with_an_ended_membership_sees_no_locating_information(
    team1: Team1,
) -> None:
    today = timezone.localdate()
    former_rep = f.make_user()
    f.make_membership(
        former_rep,
        team1.team,
        Role.VICTIM_REP,
        active_from=today - dt.timedelta(days=90),
        active_to=today - dt.timedelta(days=1),
    )
    # Still an officer on the team, so the case itself is visible.
    f.make_membership(former_rep, team1.team, Role.OFFICER)
    response = signed_in(former_rep).get(detail_url(team1.case))
    assert response.status_code == 200
    assert "ZZ-ADDRESS-MARKER" not in page(response)


# --- Audit trail -----------------------------------------------------------------------


def test_sign_in_is_audited(client: Client, team1: Team1) -> None:
    client.post(LOGIN_URL, {"username": team1.officer.username, "password": f.PASSWORD})
    event = AuditEvent.objects.get(action=Action.LOGIN)
    assert event.actor == team1.officer
    assert event.actor_username == team1.officer.username
    assert event.outcome == Outcome.ALLOWED


def test_failed_sign_in_is_audited_without_the_password(client: Client, team1: Team1) -> None:
    client.post(LOGIN_URL, {"username": team1.officer.username, "password": "wrong-guess-4471"})
    event = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert event.actor is None
    assert event.actor_username == team1.officer.username
    assert event.outcome == Outcome.FAILED
    assert "wrong-guess-4471" not in repr(AuditEvent.objects.filter(pk=event.pk).values().get())
    assert not AuditEvent.objects.filter(action=Action.LOGIN).exists()


def test_sign_out_is_audited(team1: Team1) -> None:
    client = signed_in(team1.officer)
    response = client.post(LOGOUT_URL)
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=Action.LOGOUT)
    assert event.actor == team1.officer
    assert not is_signed_in(client)


def test_case_detail_is_audited_as_a_view_with_the_case_id(team1: Team1) -> None:
    signed_in(team1.officer).get(detail_url(team1.case))
    event = AuditEvent.objects.get(action=Action.VIEW)
    assert event.actor == team1.officer
    assert event.case_id == team1.case.pk
    assert event.target_type == "casework.case"
    assert event.target_id == str(team1.case.pk)
    assert event.request_id


def test_hidden_case_detail_is_recorded_as_denied(team1: Team1, outsider: User) -> None:
    signed_in(outsider).get(detail_url(team1.case))
    event = AuditEvent.objects.get(action=Action.VIEW)
    assert event.outcome == "denied"
    assert event.case_id == team1.case.pk


def test_case_list_is_audited_with_the_ids_shown(team1: Team1, outsider: User) -> None:
    second = f.make_case(team1.team)
    signed_in(team1.officer).get(CASES_URL)
    event = AuditEvent.objects.get(action=Action.LIST, actor=team1.officer)
    assert event.target_type == "casework.case"
    assert sorted(event.detail["ids"]) == sorted([str(team1.case.pk), str(second.pk)])


def test_case_list_audit_carries_only_the_page_shown(team1: Team1) -> None:
    for number in range(29):
        f.make_case(team1.team, reference=f"C-PAGE-{number:03d}")
    signed_in(team1.officer).get(CASES_URL, {"page": "2"})
    event = AuditEvent.objects.get(action=Action.LIST, actor=team1.officer)
    assert len(event.detail["ids"]) == 5
