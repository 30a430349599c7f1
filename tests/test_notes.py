"""Case notes: who may write which kind, at which disclosure level, in the pages and the
API; restricted notes and their named members; changing a level (author only, audited);
the "who can see this" panel; and the case page's query count."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from casework.models import Case, CaseNote, DecisionStatus, NoteKind
from teams.disclosure import DisclosureLevel
from teams.disclosure.grants import named_members
from teams.models import Team, User
from teams.roles import Role
from tests import factories as f

pytestmark = pytest.mark.django_db

API = "/api/v1"
L = DisclosureLevel

# What the policy table says each role writes, and the levels it may choose for it
# (teams/disclosure/policy.py, CHOOSABLE), restated here so a change to the table is a
# deliberate change to these tests too.
WRITES: dict[str, dict[str, list[str]]] = {
    Role.OFFICER: {
        NoteKind.SUPERVISION: [
            L.SUPERVISION,
            L.TEAM,
            L.SUPERVISION_AND_VICTIM_SERVICES,
            L.RESTRICTED,
        ],
        NoteKind.GENERAL: [L.SUPERVISION, L.TEAM, L.SUPERVISION_AND_VICTIM_SERVICES, L.RESTRICTED],
    },
    Role.SUPERVISOR: {},
    Role.VICTIM_REP: {},
    Role.TREATMENT: {NoteKind.TREATMENT: [L.SUPERVISION, L.TEAM, L.RESTRICTED]},
    Role.POLYGRAPH: {NoteKind.POLYGRAPH: [L.SUPERVISION, L.RESTRICTED]},
}
ROLE_ATTR = {
    Role.OFFICER: "officer",
    Role.SUPERVISOR: "supervisor",
    Role.VICTIM_REP: "victim_rep",
    Role.TREATMENT: "treatment",
    Role.POLYGRAPH: "polygraph",
}


@dataclass
class Mdt:
    team: Team
    officer: User
    supervisor: User
    victim_rep: User
    treatment: User
    polygraph: User
    case: Case
    outsider: User

    def member(self, role: str) -> User:
        user: User = getattr(self, ROLE_ATTR[Role(role)])
        return user


@pytest.fixture
def mdt() -> Mdt:
    team = f.make_team("Hartford North MDT")
    officer = f.make_member(team, Role.OFFICER, first_name="Olivia", last_name="Ortiz")
    other_team = f.make_team("New Haven MDT")
    return Mdt(
        team=team,
        officer=officer,
        supervisor=f.make_member(team, Role.SUPERVISOR, first_name="Sam", last_name="Sutter"),
        victim_rep=f.make_member(team, Role.VICTIM_REP, first_name="Vera", last_name="Vance"),
        treatment=f.make_member(team, Role.TREATMENT, first_name="Tomas", last_name="Tran"),
        polygraph=f.make_member(team, Role.POLYGRAPH, first_name="Pat", last_name="Price"),
        case=f.make_case(team, officer=officer),
        outsider=f.make_member(other_team, Role.OFFICER),
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


def page(response: Any) -> str:
    content: bytes = response.content
    return content.decode()


def new_note_url(case: Case) -> str:
    return f"/cases/{case.pk}/notes/new/"


def level_url(note: CaseNote) -> str:
    return f"/notes/{note.pk}/level/"


def audience_url(note: CaseNote) -> str:
    return f"/notes/{note.pk}/audience/"


class _Form(HTMLParser):
    """The options of each <select>, the ticked boxes and the textareas of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.options: dict[str, list[str]] = {}
        self.selected: dict[str, list[str]] = {}
        self.checkboxes: dict[str, list[str]] = {}
        self.textareas: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "select":
            self._select = attr.get("name") or ""
            self.options.setdefault(self._select, [])
        elif tag == "option" and self._select is not None:
            self.options[self._select].append(attr.get("value") or "")
            if "selected" in attr:
                self.selected.setdefault(self._select, []).append(attr.get("value") or "")
        elif tag == "input" and attr.get("type") == "checkbox":
            self.checkboxes.setdefault(attr.get("name") or "", []).append(attr.get("value") or "")
        elif tag == "textarea":
            self._textarea = attr.get("name") or ""
            self.textareas[self._textarea] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.textareas[self._textarea] += data


def parse(html: str) -> _Form:
    parser = _Form()
    parser.feed(html)
    return parser


def field_error(html: str, field: str) -> str | None:
    """The text of a field's error, found by the id Django links it with."""
    import re

    found = re.search(rf'<p class="field-error" id="id_{field}_error">([^<]*)</p>', html)
    return found.group(1) if found else None


def note_post(
    kind: str, level: str, body: str = "Met at the office; reports stable housing."
) -> dict[str, Any]:
    return {"kind": kind, "body": body, "disclosure_level": level}


def first_level(role: str, kind: str) -> str:
    return WRITES[role].get(kind, [L.SUPERVISION])[0]


ALL_PAIRS = [(role, kind) for role in WRITES for kind in NoteKind.values]


# --- Each role writing each kind ---------------------------------------------------------


@pytest.mark.parametrize(("role", "kind"), ALL_PAIRS)
def test_each_role_writing_each_kind_in_the_page(mdt: Mdt, role: str, kind: str) -> None:
    user = mdt.member(role)
    body = f"A {kind} note by a {role}."
    response = signed_in(user).post(
        new_note_url(mdt.case), note_post(kind, first_level(role, kind), body)
    )
    saved = CaseNote.objects.filter(body=body)
    if kind in WRITES[role]:
        assert response.status_code == 302
        note = saved.get()
        assert response["Location"] == f"/cases/{mdt.case.pk}/#note-{note.pk}"
        assert (note.author, note.kind, note.disclosure_level) == (
            user,
            kind,
            first_level(role, kind),
        )
    elif WRITES[role]:
        # Writes other kinds: the form is there, the kind is not offered.
        assert response.status_code == 400
        assert field_error(page(response), "kind")
        assert not saved.exists()
    else:
        # Sees the case but writes no notes at all.
        assert response.status_code == 403
        assert not saved.exists()


@pytest.mark.parametrize(("role", "kind"), ALL_PAIRS)
def test_each_role_writing_each_kind_in_the_api(mdt: Mdt, role: str, kind: str) -> None:
    user = mdt.member(role)
    body = f"An API {kind} note by a {role}."
    payload = {"case": mdt.case.pk, **note_post(kind, first_level(role, kind), body)}
    response = api_as(user).post(f"{API}/notes/", payload, format="json")
    saved = CaseNote.objects.filter(body=body)
    if kind in WRITES[role]:
        assert response.status_code == 201, response.content
        row = response.json()
        assert row["author"] == user.pk
        assert row["kind"] == kind
        assert row["disclosure_level"] == first_level(role, kind)
        assert row["named_members"] == []
        assert saved.get().pk == row["id"]
    else:
        assert response.status_code == 400
        assert list(response.json()) == ["kind"]
        assert not saved.exists()


def test_creating_a_note_is_audited_without_its_body(mdt: Mdt) -> None:
    body = "Disclosed a new relationship; follow up at next visit."
    signed_in(mdt.officer).post(
        new_note_url(mdt.case), note_post(NoteKind.SUPERVISION, L.SUPERVISION, body)
    )
    note = CaseNote.objects.get(body=body)
    event = AuditEvent.objects.exclude(detail__has_key="source").get(
        action=Action.CREATE, target_id=str(note.pk)
    )
    assert event.actor == mdt.officer
    assert event.case_id == mdt.case.pk
    assert event.target_type == "casework.casenote"
    assert event.detail["fields"] == ["case", "kind", "body", "disclosure_level"]
    assert event.detail["disclosure_level"] == L.SUPERVISION
    assert body not in str(event.detail)


def test_success_shows_a_message_on_the_case_page(mdt: Mdt) -> None:
    response = signed_in(mdt.officer).post(
        new_note_url(mdt.case),
        note_post(NoteKind.GENERAL, L.TEAM, "Phoned to confirm the appointment."),
        follow=True,
    )
    html = page(response)
    assert "Note added, shared with: Whole team." in html
    assert "Phoned to confirm the appointment." in html


def test_outsider_and_administrator_cannot_reach_the_form(mdt: Mdt) -> None:
    admin = f.make_user(is_staff=True)
    f.make_membership(admin, mdt.team, Role.OFFICER)
    for user in (mdt.outsider, admin):
        client = signed_in(user)
        assert client.get(new_note_url(mdt.case)).status_code == 404
        response = client.post(new_note_url(mdt.case), note_post(NoteKind.GENERAL, L.TEAM))
        assert response.status_code == 404
    assert not CaseNote.objects.exists()


def test_api_note_on_a_case_the_user_cannot_see_is_a_400_on_case(mdt: Mdt) -> None:
    payload = {"case": mdt.case.pk, **note_post(NoteKind.SUPERVISION, L.SUPERVISION)}
    response = api_as(mdt.outsider).post(f"{API}/notes/", payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["case"]
    # Answered exactly like a case that does not exist.
    missing = api_as(mdt.outsider).post(f"{API}/notes/", {**payload, "case": 999999}, format="json")
    assert (
        missing.json()["case"][0].replace("999999", str(mdt.case.pk))
        == (response.json()["case"][0])
    )
    assert not CaseNote.objects.exists()


# --- Levels outside the role's choices ---------------------------------------------------


@pytest.mark.parametrize(
    ("role", "kind", "level"),
    [
        (Role.POLYGRAPH, NoteKind.POLYGRAPH, L.TEAM),
        (Role.TREATMENT, NoteKind.TREATMENT, L.VICTIM_SERVICES),
        (Role.OFFICER, NoteKind.SUPERVISION, L.VICTIM_SERVICES),
        (Role.OFFICER, NoteKind.GENERAL, "everyone"),
    ],
)
def test_level_outside_the_roles_choices_is_refused_in_the_page(
    mdt: Mdt, role: str, kind: str, level: str
) -> None:
    body = "Text the writer typed and must not lose."
    response = signed_in(mdt.member(role)).post(
        new_note_url(mdt.case), note_post(kind, level, body)
    )
    assert response.status_code == 400
    html = page(response)
    assert field_error(html, "disclosure_level")
    assert 'role="alert"' in html
    assert "Nothing was saved." in html
    assert parse(html).textareas["body"].strip() == body
    assert not CaseNote.objects.exists()
    assert not AuditEvent.objects.filter(
        action=Action.CREATE, target_type="casework.casenote"
    ).exists()


@pytest.mark.parametrize(
    ("role", "kind", "level"),
    [
        (Role.POLYGRAPH, NoteKind.POLYGRAPH, L.TEAM),
        (Role.TREATMENT, NoteKind.TREATMENT, L.SUPERVISION_AND_VICTIM_SERVICES),
        (Role.OFFICER, NoteKind.SUPERVISION, L.VICTIM_SERVICES),
    ],
)
def test_level_outside_the_roles_choices_is_refused_in_the_api(
    mdt: Mdt, role: str, kind: str, level: str
) -> None:
    payload = {"case": mdt.case.pk, **note_post(kind, level)}
    response = api_as(mdt.member(role)).post(f"{API}/notes/", payload, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["disclosure_level"]
    assert "cannot share" in errors["disclosure_level"][0]
    assert not CaseNote.objects.exists()


def test_person_with_two_roles_gets_each_kinds_own_levels(mdt: Mdt) -> None:
    """An officer who is also the team's treatment provider is offered the union of the
    levels, but a treatment note still cannot go to victim services and supervision."""
    f.make_membership(mdt.officer, mdt.team, Role.TREATMENT)
    client = signed_in(mdt.officer)
    form = parse(page(client.get(new_note_url(mdt.case))))
    assert form.options["kind"] == [
        NoteKind.SUPERVISION,
        NoteKind.TREATMENT,
        NoteKind.GENERAL,
    ]
    assert L.SUPERVISION_AND_VICTIM_SERVICES in form.options["disclosure_level"]
    response = client.post(
        new_note_url(mdt.case),
        note_post(NoteKind.TREATMENT, L.SUPERVISION_AND_VICTIM_SERVICES),
    )
    assert response.status_code == 400
    assert "treatment progress note" in (field_error(page(response), "disclosure_level") or "")
    assert not CaseNote.objects.exists()


def test_empty_body_is_a_field_error_and_keeps_the_choices(mdt: Mdt) -> None:
    response = signed_in(mdt.officer).post(
        new_note_url(mdt.case), note_post(NoteKind.GENERAL, L.TEAM, "   ")
    )
    assert response.status_code == 400
    html = page(response)
    assert field_error(html, "body") == "This field is required."
    assert parse(html).selected["disclosure_level"] == [L.TEAM]
    api = api_as(mdt.officer).post(
        f"{API}/notes/",
        {"case": mdt.case.pk, **note_post(NoteKind.GENERAL, L.TEAM, "  ")},
        format="json",
    )
    assert api.status_code == 400
    assert list(api.json()) == ["body"]
    assert not CaseNote.objects.exists()


# --- The forms offer only what the role may choose ----------------------------------------


@pytest.mark.parametrize("role", [Role.OFFICER, Role.TREATMENT, Role.POLYGRAPH])
def test_case_page_form_offers_only_the_roles_kinds_and_levels(mdt: Mdt, role: str) -> None:
    html = page(signed_in(mdt.member(role)).get(f"/cases/{mdt.case.pk}/"))
    assert "Add a note" in html
    form = parse(html)
    assert form.options["kind"] == list(WRITES[role])
    levels = list(dict.fromkeys(level for lv in WRITES[role].values() for level in lv))
    assert form.options["disclosure_level"] == levels
    # The default is the table's default for the first kind: `supervision`.
    assert form.selected["disclosure_level"] == [L.SUPERVISION]
    # Named people: the team's other active members, for a restricted note.
    others = {
        str(u.pk)
        for u in (mdt.officer, mdt.supervisor, mdt.victim_rep, mdt.treatment, mdt.polygraph)
    }
    assert set(form.checkboxes["named_members"]) == others - {str(mdt.member(role).pk)}
    assert str(mdt.outsider.pk) not in form.checkboxes["named_members"]


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.VICTIM_REP])
def test_roles_that_write_no_notes_get_no_form(mdt: Mdt, role: str) -> None:
    client = signed_in(mdt.member(role))
    html = page(client.get(f"/cases/{mdt.case.pk}/"))
    assert "Add a note" not in html
    assert 'name="disclosure_level"' not in html
    assert client.get(new_note_url(mdt.case)).status_code == 403


def test_form_labels_every_field(mdt: Mdt) -> None:
    html = page(signed_in(mdt.officer).get(new_note_url(mdt.case)))
    for field in ("kind", "body", "disclosure_level"):
        assert f'<label for="id_{field}">' in html
    assert "<legend>Named people</legend>" in html


def test_level_page_offers_only_the_authors_levels(mdt: Mdt) -> None:
    note = f.make_note(mdt.case, mdt.polygraph, kind=NoteKind.POLYGRAPH)
    form = parse(page(signed_in(mdt.polygraph).get(level_url(note))))
    assert form.options["disclosure_level"] == [L.SUPERVISION, L.RESTRICTED]
    assert form.selected["disclosure_level"] == [L.SUPERVISION]


# --- Restricted notes and named members ---------------------------------------------------


@pytest.fixture
def restricted(mdt: Mdt) -> CaseNote:
    response = signed_in(mdt.officer).post(
        new_note_url(mdt.case),
        {
            **note_post(NoteKind.SUPERVISION, L.RESTRICTED, "Only for the treatment provider."),
            "named_members": [mdt.treatment.pk],
        },
    )
    assert response.status_code == 302
    return CaseNote.objects.get(body="Only for the treatment provider.")


def test_restricted_note_is_seen_by_its_named_member_only(mdt: Mdt, restricted: CaseNote) -> None:
    assert named_members(restricted) == [mdt.treatment.pk]
    for user in (mdt.officer, mdt.treatment):
        ids = {row["id"] for row in api_as(user).get(f"{API}/notes/").json()["results"]}
        assert ids == {restricted.pk}, user
        assert api_as(user).get(f"{API}/notes/{restricted.pk}/").status_code == 200
        assert "Only for the treatment provider." in page(
            signed_in(user).get(f"/cases/{mdt.case.pk}/")
        )
        assert signed_in(user).get(audience_url(restricted)).status_code == 200
    for user in (mdt.supervisor, mdt.victim_rep, mdt.polygraph, mdt.outsider):
        assert api_as(user).get(f"{API}/notes/").json()["results"] == [], user
        assert api_as(user).get(f"{API}/notes/{restricted.pk}/").status_code == 404
        assert api_as(user).get(f"{API}/notes/{restricted.pk}/audience/").status_code == 404
        assert signed_in(user).get(audience_url(restricted)).status_code == 404
        assert signed_in(user).get(level_url(restricted)).status_code == 404
    html = page(signed_in(mdt.polygraph).get(f"/cases/{mdt.case.pk}/"))
    assert "Only for the treatment provider." not in html


def test_named_members_are_audited_as_a_permission_change(mdt: Mdt, restricted: CaseNote) -> None:
    event = AuditEvent.objects.get(action=Action.PERMISSION_CHANGE, target_id=str(restricted.pk))
    assert event.actor == mdt.officer
    assert event.detail["named_members"] == [mdt.treatment.pk]


def test_named_member_must_be_on_the_cases_team(mdt: Mdt) -> None:
    payload = {
        "case": mdt.case.pk,
        **note_post(NoteKind.SUPERVISION, L.RESTRICTED),
        "named_members": [mdt.outsider.pk],
    }
    response = api_as(mdt.officer).post(f"{API}/notes/", payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["named_members"]
    assert not CaseNote.objects.exists()
    # In the page, someone off the team is not even a choice.
    page_response = signed_in(mdt.officer).post(
        new_note_url(mdt.case),
        {**note_post(NoteKind.SUPERVISION, L.RESTRICTED), "named_members": [mdt.outsider.pk]},
    )
    assert page_response.status_code == 400
    assert field_error(page(page_response), "named_members")
    assert not CaseNote.objects.exists()


def test_named_members_only_with_restricted(mdt: Mdt) -> None:
    payload = {
        "case": mdt.case.pk,
        **note_post(NoteKind.SUPERVISION, L.SUPERVISION),
        "named_members": [mdt.victim_rep.pk],
    }
    response = api_as(mdt.officer).post(f"{API}/notes/", payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["named_members"]
    page_response = signed_in(mdt.officer).post(
        new_note_url(mdt.case),
        {**note_post(NoteKind.SUPERVISION, L.SUPERVISION), "named_members": [mdt.victim_rep.pk]},
    )
    assert page_response.status_code == 400
    assert field_error(page(page_response), "named_members")
    assert not CaseNote.objects.exists()


def test_named_member_whose_membership_ended_is_refused(mdt: Mdt) -> None:
    import datetime as dt

    from django.utils import timezone

    former = f.make_user()
    today = timezone.localdate()
    f.make_membership(
        former,
        mdt.team,
        Role.TREATMENT,
        active_from=today - dt.timedelta(days=60),
        active_to=today - dt.timedelta(days=1),
    )
    payload = {
        "case": mdt.case.pk,
        **note_post(NoteKind.SUPERVISION, L.RESTRICTED),
        "named_members": [former.pk],
    }
    response = api_as(mdt.officer).post(f"{API}/notes/", payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["named_members"]


def test_api_restricted_note_with_named_members(mdt: Mdt) -> None:
    payload = {
        "case": mdt.case.pk,
        **note_post(NoteKind.POLYGRAPH, L.RESTRICTED, "Examiner's private note."),
        "named_members": [mdt.officer.pk],
    }
    response = api_as(mdt.polygraph).post(f"{API}/notes/", payload, format="json")
    assert response.status_code == 201
    assert response.json()["named_members"] == [mdt.officer.pk]
    note_id = response.json()["id"]
    assert api_as(mdt.officer).get(f"{API}/notes/{note_id}/").status_code == 200
    assert api_as(mdt.treatment).get(f"{API}/notes/{note_id}/").status_code == 404


# --- Changing a note's level --------------------------------------------------------------


def test_author_changes_the_level_in_the_page_and_it_is_audited(mdt: Mdt) -> None:
    note = f.make_note(mdt.case, mdt.officer, "Curfew check; present.")
    client = signed_in(mdt.officer)
    assert client.get(level_url(note)).status_code == 200
    response = client.post(level_url(note), {"disclosure_level": L.TEAM}, follow=True)
    assert response.redirect_chain == [(f"/cases/{mdt.case.pk}/#note-{note.pk}", 302)]
    assert "The note is now shared with: Whole team." in page(response)
    note.refresh_from_db()
    assert note.disclosure_level == L.TEAM
    event = AuditEvent.objects.get(action=Action.LEVEL_CHANGE)
    assert event.actor == mdt.officer
    assert (event.target_type, event.target_id) == ("casework.casenote", str(note.pk))
    assert event.case_id == mdt.case.pk
    assert event.detail == {
        "field": "disclosure_level",
        "old": L.SUPERVISION,
        "new": L.TEAM,
        "widened": True,
    }
    # The victim representative now sees it.
    assert "Curfew check; present." in page(signed_in(mdt.victim_rep).get(f"/cases/{mdt.case.pk}/"))


@pytest.mark.parametrize(
    ("old", "new", "widened"),
    [
        (L.TEAM, L.SUPERVISION, False),
        (L.SUPERVISION, L.RESTRICTED, False),
        (L.RESTRICTED, L.SUPERVISION, True),
        # Not a ladder: victim representatives are added, treatment and polygraph dropped.
        (L.SUPERVISION, L.SUPERVISION_AND_VICTIM_SERVICES, True),
    ],
)
def test_api_level_change_is_audited_with_old_new_and_widened(
    mdt: Mdt, old: str, new: str, widened: bool
) -> None:
    note = f.make_note(mdt.case, mdt.officer)
    CaseNote.objects.filter(pk=note.pk).update(disclosure_level=old)
    response = api_as(mdt.officer).patch(
        f"{API}/notes/{note.pk}/", {"disclosure_level": new}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["disclosure_level"] == new
    event = AuditEvent.objects.get(action=Action.LEVEL_CHANGE)
    assert (event.detail["old"], event.detail["new"], event.detail["widened"]) == (
        old,
        new,
        widened,
    )


def test_same_level_again_records_no_level_change(mdt: Mdt) -> None:
    note = f.make_note(mdt.case, mdt.officer)
    response = api_as(mdt.officer).patch(
        f"{API}/notes/{note.pk}/", {"disclosure_level": L.SUPERVISION}, format="json"
    )
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action=Action.LEVEL_CHANGE).exists()


def test_leaving_restricted_drops_the_named_members(mdt: Mdt, restricted: CaseNote) -> None:
    """A named grant opens a note whatever its level, so it must go with `restricted`:
    at `supervision and victim services` the treatment provider no longer reads it."""
    response = api_as(mdt.officer).patch(
        f"{API}/notes/{restricted.pk}/",
        {"disclosure_level": L.SUPERVISION_AND_VICTIM_SERVICES},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["named_members"] == []
    assert named_members(restricted) == []
    assert api_as(mdt.treatment).get(f"{API}/notes/{restricted.pk}/").status_code == 404
    assert api_as(mdt.victim_rep).get(f"{API}/notes/{restricted.pk}/").status_code == 200


def test_author_changes_named_members_of_a_restricted_note(mdt: Mdt, restricted: CaseNote) -> None:
    response = api_as(mdt.officer).patch(
        f"{API}/notes/{restricted.pk}/", {"named_members": [mdt.polygraph.pk]}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["disclosure_level"] == L.RESTRICTED
    assert named_members(restricted) == [mdt.polygraph.pk]
    assert api_as(mdt.polygraph).get(f"{API}/notes/{restricted.pk}/").status_code == 200
    assert api_as(mdt.treatment).get(f"{API}/notes/{restricted.pk}/").status_code == 404


def test_level_page_post_with_a_level_outside_the_choices(mdt: Mdt) -> None:
    note = f.make_note(mdt.case, mdt.polygraph, kind=NoteKind.POLYGRAPH)
    response = signed_in(mdt.polygraph).post(level_url(note), {"disclosure_level": L.TEAM})
    assert response.status_code == 400
    assert field_error(page(response), "disclosure_level")
    note.refresh_from_db()
    assert note.disclosure_level == L.SUPERVISION
    assert not AuditEvent.objects.filter(action=Action.LEVEL_CHANGE).exists()
    api = api_as(mdt.polygraph).patch(
        f"{API}/notes/{note.pk}/", {"disclosure_level": L.TEAM}, format="json"
    )
    assert api.status_code == 400
    assert list(api.json()) == ["disclosure_level"]


@pytest.mark.parametrize("field", ["body", "kind", "case", "author"])
def test_patch_of_any_other_field_is_a_400_naming_it(mdt: Mdt, field: str) -> None:
    note = f.make_note(mdt.case, mdt.officer, "Stays as written.")
    value: Any = {"body": "Rewritten", "kind": NoteKind.GENERAL, "case": 1, "author": 1}[field]
    response = api_as(mdt.officer).patch(
        f"{API}/notes/{note.pk}/", {field: value, "disclosure_level": L.TEAM}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == [field]
    note.refresh_from_db()
    assert (note.body, note.kind, note.disclosure_level) == (
        "Stays as written.",
        NoteKind.SUPERVISION,
        L.SUPERVISION,
    )


def test_put_and_delete_are_not_allowed(mdt: Mdt) -> None:
    note = f.make_note(mdt.case, mdt.officer)
    client = api_as(mdt.officer)
    assert client.put(f"{API}/notes/{note.pk}/", {}, format="json").status_code == 405
    assert client.delete(f"{API}/notes/{note.pk}/").status_code == 405
    assert CaseNote.objects.filter(pk=note.pk).exists()


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.TREATMENT, Role.POLYGRAPH])
def test_reader_who_is_not_the_author_gets_403(mdt: Mdt, role: str) -> None:
    """They can see the note (supervision level), so a 404 would be untrue; they may not
    change it."""
    note = f.make_note(mdt.case, mdt.officer)
    user = mdt.member(role)
    client = signed_in(user)
    assert client.get(level_url(note)).status_code == 403
    assert client.post(level_url(note), {"disclosure_level": L.TEAM}).status_code == 403
    api = api_as(user).patch(f"{API}/notes/{note.pk}/", {"disclosure_level": L.TEAM}, format="json")
    assert api.status_code == 403
    # Refused before the body is read: no validation messages for a non-author.
    other = api_as(user).patch(f"{API}/notes/{note.pk}/", {"body": "x"}, format="json")
    assert other.status_code == 403
    note.refresh_from_db()
    assert note.disclosure_level == L.SUPERVISION
    assert not AuditEvent.objects.filter(action=Action.LEVEL_CHANGE).exists()


def test_another_officer_on_the_team_is_not_the_author(mdt: Mdt) -> None:
    note = f.make_note(mdt.case, mdt.officer)
    colleague = f.make_member(mdt.team, Role.OFFICER)
    assert signed_in(colleague).get(level_url(note)).status_code == 403
    api = api_as(colleague).patch(
        f"{API}/notes/{note.pk}/", {"disclosure_level": L.TEAM}, format="json"
    )
    assert api.status_code == 403
    # The case page offers the change only to the author.
    assert level_url(note) not in page(signed_in(colleague).get(f"/cases/{mdt.case.pk}/"))
    assert level_url(note) in page(signed_in(mdt.officer).get(f"/cases/{mdt.case.pk}/"))


@pytest.mark.parametrize("role", [Role.VICTIM_REP])
def test_reader_who_cannot_see_the_note_gets_404(mdt: Mdt, role: str) -> None:
    note = f.make_note(mdt.case, mdt.officer)  # `supervision`: not victim services
    user = mdt.member(role)
    assert signed_in(user).get(level_url(note)).status_code == 404
    api = api_as(user).patch(f"{API}/notes/{note.pk}/", {"disclosure_level": L.TEAM}, format="json")
    assert api.status_code == 404
    assert (
        api_as(mdt.outsider)
        .patch(f"{API}/notes/{note.pk}/", {"disclosure_level": L.TEAM}, format="json")
        .status_code
        == 404
    )


# --- Who can see this ---------------------------------------------------------------------


def test_audience_page_lists_the_roles_and_people(mdt: Mdt) -> None:
    note = f.make_note(mdt.case, mdt.officer)  # `supervision`
    response = signed_in(mdt.supervisor).get(audience_url(note))
    assert response.status_code == 200
    html = page(response)
    assert "<details" in html
    assert "Probation officer, Supervisor, Treatment provider, Polygraph examiner" in html
    for person in ("Olivia Ortiz", "Sam Sutter", "Tomas Tran", "Pat Price"):
        assert f"<li>{person}</li>" in html
    assert "Vera Vance" not in html
    assert AuditEvent.objects.filter(
        action=Action.VIEW, actor=mdt.supervisor, target_id=str(note.pk)
    ).exists()


def test_audience_page_of_a_restricted_note(mdt: Mdt, restricted: CaseNote) -> None:
    html = page(signed_in(mdt.treatment).get(audience_url(restricted)))
    assert "No role: only the author and the people named" in html
    assert "<li>Tomas Tran</li>" in html  # named
    assert "Olivia Ortiz" in html  # author
    for person in ("Sam Sutter", "Vera Vance", "Pat Price"):
        assert person not in html


def test_audience_api(mdt: Mdt, restricted: CaseNote) -> None:
    note = f.make_note(mdt.case, mdt.treatment, kind=NoteKind.TREATMENT)
    CaseNote.objects.filter(pk=note.pk).update(disclosure_level=L.TEAM)
    response = api_as(mdt.officer).get(f"{API}/notes/{note.pk}/audience/")
    assert response.status_code == 200
    body = response.json()
    assert body["roles"] == [
        "Probation officer",
        "Supervisor",
        "Victim representative",
        "Treatment provider",
        "Polygraph examiner",
    ]
    assert {row["id"] for row in body["members"]} == {
        mdt.officer.pk,
        mdt.supervisor.pk,
        mdt.victim_rep.pk,
        mdt.treatment.pk,
        mdt.polygraph.pk,
    }
    assert body["named"] == []
    assert body["guests"] == []
    assert body["author"] == {"id": mdt.treatment.pk, "name": "Tomas Tran"}

    restricted_body = api_as(mdt.treatment).get(f"{API}/notes/{restricted.pk}/audience/").json()
    assert restricted_body["roles"] == []
    assert restricted_body["members"] == []
    assert restricted_body["named"] == [{"id": mdt.treatment.pk, "name": "Tomas Tran"}]
    assert restricted_body["author"] == {"id": mdt.officer.pk, "name": "Olivia Ortiz"}
    assert AuditEvent.objects.filter(
        action=Action.VIEW, actor=mdt.treatment, target_id=str(restricted.pk)
    ).exists()


def test_decision_audience_page(mdt: Mdt) -> None:
    from django.utils import timezone

    draft = f.make_decision(mdt.case, mdt.officer, summary="Draft residence approval")
    final = f.make_decision(
        mdt.case,
        mdt.officer,
        summary="Final travel permission",
        status=DecisionStatus.FINAL,
        finalised_at=timezone.now(),
    )
    html = page(signed_in(mdt.supervisor).get(f"/decisions/{draft.pk}/audience/"))
    assert "<dd>Probation officer, Supervisor</dd>" in html
    assert "Vera Vance" not in html
    final_html = page(signed_in(mdt.victim_rep).get(f"/decisions/{final.pk}/audience/"))
    assert (
        "Probation officer, Supervisor, Victim representative, Treatment provider, "
        "Polygraph examiner" in final_html
    )
    # A draft is for the officer and supervisor only.
    assert signed_in(mdt.victim_rep).get(f"/decisions/{draft.pk}/audience/").status_code == 404
    assert signed_in(mdt.outsider).get(f"/decisions/{final.pk}/audience/").status_code == 404


def test_case_page_shows_the_roles_of_each_record_and_links_to_the_full_panel(mdt: Mdt) -> None:
    note = f.make_note(mdt.case, mdt.officer)
    decision = f.make_decision(mdt.case, mdt.officer)
    html = page(signed_in(mdt.supervisor).get(f"/cases/{mdt.case.pk}/"))
    assert (
        "Probation officer, Supervisor, Treatment provider, Polygraph examiner, and the author."
        in html
    )
    assert f'href="{audience_url(note)}"' in html
    assert f'href="/decisions/{decision.pk}/audience/"' in html
    assert html.count("<summary>Who can see this</summary>") == 2


# --- Query counts -------------------------------------------------------------------------


@pytest.mark.parametrize("notes", [5, 50])
def test_case_page_query_count_does_not_grow_with_notes(
    mdt: Mdt, notes: int, django_assert_num_queries: Any
) -> None:
    for number in range(notes):
        kind = NoteKind.SUPERVISION if number % 2 else NoteKind.GENERAL
        f.make_note(mdt.case, mdt.officer, kind=kind)
    f.make_note(mdt.case, mdt.treatment, kind=NoteKind.TREATMENT)
    f.make_decision(mdt.case, mdt.officer)
    client = signed_in(mdt.officer)
    # 1 session, 2 the signed-in user, 3 naming the user for the database's write
    # triggers (PostgreSQL), 4 the case by its key, 5 the user's permission codenames on
    # it (team grants united with case grants), 6 their roles on its team, 7 the
    # restricted records of the case naming them, 8 the notes with their authors,
    # 9 the decisions with their authors, 10-11 the victims panel (victim links, victim
    # input), 12 the victims' questions (for their readers), 13 the case's duty-to-warn
    # reports, 14 the navigation's roles, 15 its count of unread notifications, 16 the
    # team members the note form can name, 17 whether the read is under emergency
    # access, 18 the audit insert of the read.
    expected = 18 if connection.vendor == "postgresql" else 17
    with django_assert_num_queries(expected):
        response = client.get(f"/cases/{mdt.case.pk}/")
    assert response.status_code == 200
    assert page(response).count('<li id="note-') == notes + 1
