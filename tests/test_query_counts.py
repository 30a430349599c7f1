"""Query counts must not grow with the number of rows shown (issue 3).

Each test loads a page once with a few rows and once with ten times as many, and asserts
the same number of queries; the comments name each query so that a regression says
which one multiplied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from casework.models import NoteKind
from teams.roles import Role
from tests.factories import make_case, make_member, make_note, make_team

pytestmark = pytest.mark.django_db


def count_queries(request: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = request()
    assert response.status_code == 200, response.content[:300]
    return len(captured.captured_queries)


@pytest.fixture
def officer_world() -> dict[str, Any]:
    team = make_team()
    officer = make_member(team, Role.OFFICER)
    make_member(team, Role.SUPERVISOR)
    return {"team": team, "officer": officer}


def _add_cases(world: dict[str, Any], count: int) -> None:
    for _ in range(count):
        make_case(team=world["team"], officer=world["officer"])


def test_case_list_queries_do_not_grow_with_rows(officer_world: dict[str, Any]) -> None:
    client = Client()
    client.force_login(officer_world["officer"])
    _add_cases(officer_world, 5)
    few = count_queries(lambda: client.get("/cases/"))
    _add_cases(officer_world, 45)
    many = count_queries(lambda: client.get("/cases/"))
    # session, user, the roles for the navigation, the count of the restricted cases,
    # page 1 of the restricted cases with supervisee/team/officer joined, the audit
    # insert of the ids shown: the same whether 5 or 25 rows are on the page.
    assert few == many


def test_case_list_api_queries_do_not_grow_with_rows(officer_world: dict[str, Any]) -> None:
    client = APIClient()
    client.force_authenticate(officer_world["officer"])
    _add_cases(officer_world, 5)
    few = count_queries(lambda: client.get("/api/v1/cases/"))
    _add_cases(officer_world, 45)
    many = count_queries(lambda: client.get("/api/v1/cases/?page_size=100"))
    # count, page of cases with joins, audit insert
    assert few == many


def test_note_list_api_queries_do_not_grow_with_rows(officer_world: dict[str, Any]) -> None:
    case = make_case(team=officer_world["team"], officer=officer_world["officer"])
    client = APIClient()
    client.force_authenticate(officer_world["officer"])
    for _ in range(5):
        make_note(case, officer_world["officer"], kind=NoteKind.SUPERVISION)
    few = count_queries(lambda: client.get(f"/api/v1/notes/?case={case.pk}"))
    for _ in range(45):
        make_note(case, officer_world["officer"], kind=NoteKind.GENERAL)
    many = count_queries(lambda: client.get(f"/api/v1/notes/?case={case.pk}&page_size=100"))
    # count of the restricted notes, the page of notes with authors joined, audit insert
    assert few == many


def test_case_detail_queries_do_not_grow_with_notes(officer_world: dict[str, Any]) -> None:
    case = make_case(team=officer_world["team"], officer=officer_world["officer"])
    client = Client()
    client.force_login(officer_world["officer"])
    for _ in range(5):
        make_note(case, officer_world["officer"])
    few = count_queries(lambda: client.get(f"/cases/{case.pk}/"))
    for _ in range(45):
        make_note(case, officer_world["officer"])
    many = count_queries(lambda: client.get(f"/cases/{case.pk}/"))
    # the case (restricted), the user's permission codenames on it (team grants united
    # with case grants), their roles there, the restricted records naming them, all
    # notes of the case, all decisions, the victim links, the victim input, the audit
    # insert: judged in memory, so the same for 5 or 50 notes.
    assert few == many
