"""Shared language and clear roles (issue 6, item 10): the glossary (read by everyone
signed in, kept by supervisors, audited, linked from the pages where its terms appear,
seeded by seed_demo) and the role cards, generated from the disclosure policy's table so
that changing the table changes the card."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.template import Context, Template
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from casework.models import Case, NoteKind
from teams import role_cards
from teams.disclosure import policy
from teams.disclosure.policy import Access, DisclosureLevel, Info
from teams.glossary import anchor_for
from teams.models import Discipline, GlossaryTerm, Team, User
from teams.roles import ROLE_DESCRIPTIONS, Role
from tests import cast as people
from tests import factories as f
from tests.cast import api_as, signed_in, text

pytestmark = pytest.mark.django_db

API = "/api/v1/glossary/"


@pytest.fixture
def team() -> Team:
    return f.make_team("Bristol MDT")


@pytest.fixture
def supervisor(team: Team) -> User:
    return f.make_member(team, Role.SUPERVISOR)


@pytest.fixture
def officer(team: Team) -> User:
    return f.make_member(team, Role.OFFICER)


@pytest.fixture
def case(team: Team, officer: User) -> Case:
    return f.make_case(team, officer=officer)


@pytest.fixture
def duty(supervisor: User) -> GlossaryTerm:
    return GlossaryTerm.objects.create(
        term="duty to warn",
        slug="duty-to-warn",
        discipline=Discipline.SHARED,
        definition="Act at once on a credible threat to an identifiable person.",
        updated_by=supervisor,
    )


# --- Reading the glossary --------------------------------------------------------------


@pytest.mark.parametrize("key", people.KEYS)
def test_everyone_signed_in_reads_the_glossary(
    team: Team, case: Case, supervisor: User, duty: GlossaryTerm, key: str
) -> None:
    user = people.cast(team, case, f.make_team(), granted_by=supervisor)[key]

    page = signed_in(user).get(reverse("glossary"))
    api = api_as(user).get(API)

    assert page.status_code == 200
    assert 'id="duty-to-warn"' in text(page)
    assert duty.definition in text(page)
    assert api.status_code == 200
    assert [row["slug"] for row in api.json()["results"]] == ["duty-to-warn"]
    assert api.json()["count"] == 1
    assert api_as(user).get(f"{API}{duty.pk}/").json()["term"] == "duty to warn"
    assert AuditEvent.objects.filter(
        actor=user, action=Action.LIST, target_type="teams.glossaryterm"
    ).exists()


def test_signed_out_is_refused(duty: GlossaryTerm) -> None:
    page = Client().get(reverse("glossary"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("login"))
    assert APIClient().get(API).status_code == 401
    assert APIClient().post(API, {"term": "x"}).status_code == 401
    assert Client().get(reverse("role-cards")).status_code == 302
    assert APIClient().get("/api/v1/roles/").status_code == 401


# --- Keeping it: supervisors only --------------------------------------------------------


def may_edit(key: str) -> bool:
    """A supervisor of any team, today."""
    return people.role_of(key) == Role.SUPERVISOR and people.relation_of(key) in (
        "member",
        "other",
    )


@pytest.mark.parametrize("key", people.KEYS)
def test_only_supervisors_add_and_edit_terms(
    team: Team, case: Case, supervisor: User, duty: GlossaryTerm, key: str
) -> None:
    user = people.cast(team, case, f.make_team(), granted_by=supervisor)[key]
    web, api = signed_in(user), api_as(user)
    new = {"term": "containment", "discipline": "supervision", "definition": "Team approach."}

    pages = [
        web.get(reverse("glossary-term-create")),
        web.get(reverse("glossary-term-edit", args=[duty.pk])),
        web.post(reverse("glossary-term-create"), new),
    ]
    created = api.post(API, {**new, "term": "safety planning"}, format="json")
    changed = api.patch(f"{API}{duty.pk}/", {"definition": "Changed."}, format="json")

    if may_edit(key):
        assert [p.status_code for p in pages] == [200, 200, 302]
        assert (created.status_code, changed.status_code) == (201, 200)
        assert GlossaryTerm.objects.filter(slug="containment", updated_by=user).exists()
        duty.refresh_from_db()
        assert duty.definition == "Changed." and duty.updated_by == user
    else:
        assert [p.status_code for p in pages] == [403, 403, 403]
        assert (created.status_code, changed.status_code) == (403, 403)
        assert list(GlossaryTerm.objects.values_list("slug", flat=True)) == ["duty-to-warn"]
        duty.refresh_from_db()
        assert duty.definition.startswith("Act at once")


def test_adding_a_term_is_audited_with_the_supervisor(supervisor: User) -> None:
    response = signed_in(supervisor).post(
        reverse("glossary-term-create"),
        {"term": " Maintenance   polygraph ", "discipline": "polygraph", "definition": "Periodic."},
    )
    term = GlossaryTerm.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("glossary") + "#maintenance-polygraph"
    assert (term.term, term.slug) == ("Maintenance polygraph", "maintenance-polygraph")
    write = AuditEvent.objects.get(
        action=Action.CREATE, target_type="teams.glossaryterm", target_id=str(term.pk)
    )
    assert write.actor_id == supervisor.pk


def test_editing_a_term_is_audited(supervisor: User, duty: GlossaryTerm) -> None:
    response = signed_in(supervisor).post(
        reverse("glossary-term-edit", args=[duty.pk]),
        {"term": "duty to warn", "discipline": "shared", "definition": "A new definition."},
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(
        action=Action.UPDATE,
        target_type="teams.glossaryterm",
        target_id=str(duty.pk),
        actor=supervisor,
    ).exists()


def test_bad_input_keeps_what_was_typed_and_saves_nothing(supervisor: User) -> None:
    response = signed_in(supervisor).post(
        reverse("glossary-term-create"),
        {"term": "", "discipline": "astrology", "definition": "Typed by the supervisor."},
    )
    assert response.status_code == 400
    page = text(response)
    assert "Enter the term." in page
    assert "Typed by the supervisor." in page
    assert not GlossaryTerm.objects.exists()


def test_a_term_already_there_is_refused_whatever_its_case(
    supervisor: User, duty: GlossaryTerm
) -> None:
    response = signed_in(supervisor).post(
        reverse("glossary-term-create"),
        {"term": "Duty To Warn", "discipline": "shared", "definition": "Again."},
    )
    assert response.status_code == 400
    assert "already in the glossary" in text(response)
    api = api_as(supervisor).post(
        API, {"term": "DUTY to warn", "discipline": "shared", "definition": "x"}, format="json"
    )
    assert api.status_code == 400 and "term" in api.json()
    assert GlossaryTerm.objects.count() == 1


def test_the_api_names_bad_and_unknown_fields(supervisor: User) -> None:
    client = api_as(supervisor)
    empty = client.post(API, {"term": "", "discipline": "shared", "definition": ""}, format="json")
    assert empty.status_code == 400
    assert set(empty.json()) == {"term", "definition"}
    unknown = client.post(
        API,
        {"term": "MDT", "discipline": "shared", "definition": "Team.", "slug": "x"},
        format="json",
    )
    assert unknown.status_code == 400 and "slug" in unknown.json()
    wrong = client.post(API, {"term": "MDT", "discipline": "x", "definition": "T"}, format="json")
    assert wrong.status_code == 400 and "discipline" in wrong.json()
    assert not GlossaryTerm.objects.exists()
    assert client.delete(f"{API}1/").status_code == 405


# --- The {% term %} tag and the pages that use it ----------------------------------------


def test_the_term_tag_links_to_the_glossary_without_a_query() -> None:
    template = Template(
        '{% load glossary %}{% term "duty to warn" %} / {% term "MDT" "the team" %}'
    )
    with CaptureQueriesContext(connection) as captured:
        html = template.render(Context({}))
    assert len(captured) == 0
    assert '<a class="term" href="/glossary/#duty-to-warn"' in html
    assert ">duty to warn</a>" in html
    assert 'href="/glossary/#mdt"' in html and ">the team</a>" in html


def test_the_term_tag_escapes_its_words() -> None:
    html = Template("{% load glossary %}{% term words %}").render(Context({"words": "<b>x</b>"}))
    assert "<b>" not in html and "&lt;b&gt;" in html


def test_the_case_page_links_duty_to_warn(case: Case, officer: User) -> None:
    page = text(signed_in(officer).get(reverse("case-detail", args=[case.pk])))
    assert 'href="/glossary/#duty-to-warn"' in page
    assert 'href="/glossary/#disclosure-level"' in page  # the note form's level field


def test_the_note_form_links_the_maintenance_polygraph(team: Team, case: Case) -> None:
    examiner = f.make_member(team, Role.POLYGRAPH)
    page = text(signed_in(examiner).get(reverse("note-create", args=[case.pk])))
    assert 'href="/glossary/#maintenance-polygraph"' in page
    assert NoteKind.POLYGRAPH.label in page


def test_the_release_pages_link_release_of_information(case: Case, officer: User) -> None:
    rep = f.make_member(case.team, Role.VICTIM_REP)
    victim = f.make_victim()
    f.link_victim(case, victim, representative=rep)
    for url in (
        reverse("victim-detail", args=[victim.pk]),
        reverse("release-create", args=[victim.pk]),
    ):
        assert 'href="/glossary/#release-of-information"' in text(signed_in(rep).get(url))


def test_every_term_the_pages_use_is_seeded(settings: SettingsWrapper) -> None:
    """Each {% term %} in the templates has its entry once seed_demo has run."""
    settings.DEBUG = True
    call_command("seed_demo", "--password", "demo-password-for-tests", stdout=StringIO())
    seeded = set(GlossaryTerm.objects.values_list("slug", flat=True))
    assert {
        "containment",
        "maintenance-polygraph",
        "safety-planning",
        "release-of-information",
        "duty-to-warn",
        "harm-prevention",
        "disclosure-level",
        "pseudonym",
        "victim-representative",
        "mdt",
    } <= seeded
    used = set()
    for path in (settings.BASE_DIR / "templates").rglob("*.html"):
        used |= set(re.findall(r'{% term "([^"]+)"', path.read_text()))
    assert used, "no template uses the term tag"
    assert {anchor_for(words) for words in used} <= seeded
    assert all(term.updated_by is not None for term in GlossaryTerm.objects.all())


# --- Role cards ------------------------------------------------------------------------


def card_row(page: str, kind: str, info: Info) -> str:
    start = page.index(f'<tr id="{kind}-{info.value}"')
    return page[start : page.index("</tr>", start)]


def test_the_role_index_lists_every_role(officer: User) -> None:
    page = text(signed_in(officer).get(reverse("role-cards")))
    for role in Role:
        assert reverse("role-card", args=[role.value]) in page
        assert str(role.label) in page


@pytest.mark.parametrize("role", list(Role))
def test_each_card_says_what_the_policy_table_says(officer: User, role: Role) -> None:
    page = text(signed_in(officer).get(reverse("role-card", args=[role.value])))
    assert escape(ROLE_DESCRIPTIONS[role]) in page
    for info in Info:
        access = policy.MATRIX[info].get(role, Access.NONE)
        row = card_row(page, "sees", info)
        assert f'data-access="{access.value}"' in row
        assert escape(policy.ACCESS_LABELS[access]) in row
        if access is Access.BY_LEVEL:
            for level in DisclosureLevel:
                included = role in policy.roles_that_can_read(info, level)
                assert (escape(level.label) in row) == included, (info, level)
    for info in Info:
        levels = policy.CHOOSABLE.get((info, role), ())
        if not levels:
            assert f'id="shares-{info.value}"' not in page
            continue
        row = card_row(page, "shares", info)
        for level in DisclosureLevel:
            assert (escape(level.label) in row) == (level in levels), (info, level)
        if policy.DEFAULT_LEVEL.get(info) in levels:
            assert "(suggested)" in row


def test_changing_the_table_changes_the_card(
    officer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = reverse("role-card", args=[Role.VICTIM_REP.value])
    before = text(signed_in(officer).get(url))
    assert 'data-access="none"' in card_row(before, "sees", Info.POLYGRAPH_RESULT)

    monkeypatch.setitem(policy.MATRIX[Info.POLYGRAPH_RESULT], Role.VICTIM_REP, Access.READ)
    monkeypatch.setitem(
        policy.CHOOSABLE,
        (Info.VICTIM_INPUT, Role.VICTIM_REP),
        (DisclosureLevel.VICTIM_SERVICES,),
    )
    after = text(signed_in(officer).get(url))

    row = card_row(after, "sees", Info.POLYGRAPH_RESULT)
    assert 'data-access="read"' in row and escape(policy.ACCESS_LABELS[Access.READ]) in row
    shares = card_row(after, "shares", Info.VICTIM_INPUT)
    assert escape(DisclosureLevel.VICTIM_SERVICES.label) in shares
    assert escape(DisclosureLevel.TEAM.label) not in shares
    api = api_as(officer).get(f"/api/v1/roles/{Role.VICTIM_REP.value}/").json()
    seen = {row["information"]: row["access"] for row in api["sees"]}
    assert seen[Info.POLYGRAPH_RESULT.value] == "read"
    chosen = {row["information"]: row["levels"] for row in api["shares"]}
    assert [lvl["value"] for lvl in chosen[Info.VICTIM_INPUT.value]] == ["victim_services"]


def test_a_role_that_may_choose_no_level_says_so(
    officer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(policy.CHOOSABLE, (Info.POLYGRAPH_RESULT, Role.POLYGRAPH))
    page = text(signed_in(officer).get(reverse("role-card", args=[Role.POLYGRAPH.value])))
    assert "writes no records that carry a disclosure level" in page


def test_the_suggested_level_follows_the_default(
    officer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(policy.DEFAULT_LEVEL, Info.VICTIM_INPUT, DisclosureLevel.RESTRICTED)
    card = role_cards.card(Role.VICTIM_REP)
    (shares,) = [row for row in card.shares if row.information == Info.VICTIM_INPUT]
    assert [level.value for level in shares.levels if level.default] == ["restricted"]


def test_an_unknown_role_is_a_404(officer: User) -> None:
    assert signed_in(officer).get("/roles/auditor/").status_code == 404
    assert api_as(officer).get("/api/v1/roles/auditor/").status_code == 404


@pytest.mark.parametrize("key", people.KEYS)
def test_everyone_signed_in_reads_the_role_cards(
    team: Team, case: Case, supervisor: User, key: str
) -> None:
    user = people.cast(team, case, f.make_team(), granted_by=supervisor)[key]
    assert signed_in(user).get(reverse("role-cards")).status_code == 200
    assert signed_in(user).get(reverse("role-card", args=["officer"])).status_code == 200
    listed = api_as(user).get("/api/v1/roles/")
    assert listed.status_code == 200
    assert [card["role"] for card in listed.json()] == list(Role.values)
    assert api_as(user).post("/api/v1/roles/", {}).status_code == 405


def test_role_descriptions_cover_every_role() -> None:
    assert set(ROLE_DESCRIPTIONS) == set(Role)
