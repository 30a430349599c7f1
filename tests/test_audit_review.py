"""Supervisor review of the audit trail (issue 4): who reads which events, the filters,
clear errors for bad filters, keyset pages, the CSV export, highlights, and the rule
that reading the trail is itself recorded."""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Action, AuditDay, AuditEvent, Outcome
from audit.review import in_window
from audit.scopes import events_for
from audit.services import build, write
from teams.roles import Role
from tests import factories as f

pytestmark = pytest.mark.django_db

TRAIL = "audit.auditevent"


def event(
    actor: Any,
    action: Action | str = Action.VIEW,
    *,
    occurred_at: dt.datetime | None = None,
    emergency: bool = False,
    **fields: Any,
) -> AuditEvent:
    """One event written at once (outside a request), optionally back-dated."""
    built = build(actor, action, **fields)
    if occurred_at is not None:
        built.occurred_at = occurred_at
    built.emergency = emergency
    write([built])
    return built


def local(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime(year, month, day, hour, minute))


@pytest.fixture
def world() -> dict[str, Any]:
    team_a, team_b = f.make_team("Team A"), f.make_team("Team B")
    sup_a = f.make_member(team_a, Role.SUPERVISOR, username="sup_a")
    off_a = f.make_member(team_a, Role.OFFICER, username="off_a")
    rep_a = f.make_member(team_a, Role.VICTIM_REP, username="rep_a")
    sup_b = f.make_member(team_b, Role.SUPERVISOR, username="sup_b")
    off_b = f.make_member(team_b, Role.OFFICER, username="off_b")
    admin = f.make_user("admin_1", is_staff=True)
    case_a = f.make_case(team_a, officer=off_a)
    case_b = f.make_case(team_b, officer=off_b)
    return {
        "team_a": team_a,
        "team_b": team_b,
        "sup_a": sup_a,
        "off_a": off_a,
        "rep_a": rep_a,
        "sup_b": sup_b,
        "off_b": off_b,
        "admin": admin,
        "case_a": case_a,
        "case_b": case_b,
    }


@pytest.fixture
def events(world: dict[str, Any]) -> dict[str, AuditEvent]:
    case_a, case_b = world["case_a"], world["case_b"]
    return {
        "a_reads_a": event(world["off_a"], target=case_a, case_id=case_a.pk),
        "b_reads_b": event(world["off_b"], target=case_b, case_id=case_b.pk),
        # Someone from another team tried a team A case: team A's supervisor sees it.
        "b_tries_a": event(
            world["off_b"], target=case_a, case_id=case_a.pk, outcome=Outcome.DENIED
        ),
        "a_login": event(world["off_a"], Action.LOGIN, target=world["off_a"]),
        "b_login": event(world["off_b"], Action.LOGIN, target=world["off_b"]),
        "failed": event(None, Action.LOGIN_FAILED, outcome=Outcome.FAILED, username="off_a"),
    }


def seqs(queryset: Any) -> set[int]:
    return set(queryset.values_list("seq", flat=True))


def api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def web(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_seqs(user: Any, query: str = "") -> list[int]:
    response = api(user).get(f"/api/v1/audit-events/?page_size=200{query}")
    assert response.status_code == 200, response.content
    assert response.json()["next"] is None
    return [row["seq"] for row in response.json()["results"]]


# --- Scoping --------------------------------------------------------------------------


def test_a_supervisor_reads_their_teams_cases_and_members(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    visible = seqs(events_for(world["sup_a"]))
    assert {
        events["a_reads_a"].seq,
        events["b_tries_a"].seq,
        events["a_login"].seq,
    } <= visible
    assert events["b_reads_b"].seq not in visible
    assert events["b_login"].seq not in visible
    assert events["failed"].seq not in visible
    # The other team's supervisor: the mirror image.
    other = seqs(events_for(world["sup_b"]))
    assert {events["b_reads_b"].seq, events["b_login"].seq, events["b_tries_a"].seq} <= other
    assert events["a_reads_a"].seq not in other
    assert events["a_login"].seq not in other


def test_a_supervisor_whose_membership_ended_reads_only_their_own(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    world["sup_a"].memberships.update(active_to=yesterday)
    assert events["a_reads_a"].seq not in seqs(events_for(world["sup_a"]))


def test_an_officer_reads_only_their_own_actions(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    visible = seqs(events_for(world["off_a"]))
    assert {events["a_reads_a"].seq, events["a_login"].seq} <= visible
    assert not visible & {
        events["b_tries_a"].seq,
        events["b_reads_b"].seq,
        events["b_login"].seq,
        events["failed"].seq,
    }
    assert set(AuditEvent.objects.filter(seq__in=visible).values_list("actor_id", flat=True)) == {
        world["off_a"].pk
    }
    # The API and the page agree with the scope.
    assert set(api_seqs(world["off_a"])) <= visible | seqs(
        AuditEvent.objects.filter(actor_id=world["off_a"].pk)
    )
    assert events["b_tries_a"].seq not in api_seqs(world["off_a"])


def test_the_system_administrator_reads_account_events_but_no_case_events(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    admin = world["admin"]
    # A supervisor membership does not open case events to an administrator account.
    f.make_membership(admin, world["team_a"], Role.SUPERVISOR)
    visible = events_for(admin)
    assert {events["a_login"].seq, events["b_login"].seq, events["failed"].seq} <= seqs(visible)
    assert not seqs(visible) & {
        events["a_reads_a"].seq,
        events["b_reads_b"].seq,
        events["b_tries_a"].seq,
    }
    assert not visible.exclude(actor_id=admin.pk).filter(case_id__isnull=False).exists()
    assert not visible.exclude(actor_id=admin.pk).filter(victim_id__isnull=False).exists()
    actions = set(visible.values_list("action", flat=True))
    assert Action.MEMBERSHIP_CHANGE in actions  # the memberships the fixture created
    # Writes are captured by database triggers.
    assert visible.filter(target_type="teams.user", action=Action.CREATE).exists()


def test_no_one_signed_out_or_deactivated_reads_anything(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert not events_for(AnonymousUser()).exists()
    world["sup_a"].is_active = False
    assert not events_for(world["sup_a"]).exists()
    assert Client().get("/audit/").status_code == 302
    assert APIClient().get("/api/v1/audit-events/").status_code == 401


def test_an_event_outside_the_scope_answers_404_and_the_attempt_is_recorded(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    hidden = events["b_reads_b"]
    response = api(world["off_a"]).get(f"/api/v1/audit-events/{hidden.seq}/")
    assert response.status_code == 404
    denied = AuditEvent.objects.filter(
        actor_id=world["off_a"].pk, target_type=TRAIL, outcome=Outcome.DENIED
    ).get()
    assert denied.target_id == str(hidden.pk)
    mine = events["a_reads_a"]
    response = api(world["off_a"]).get(f"/api/v1/audit-events/{mine.seq}/")
    assert response.status_code == 200
    assert response.json()["seq"] == mine.seq
    assert AuditEvent.objects.filter(
        actor_id=world["off_a"].pk, action=Action.VIEW, target_type=TRAIL, target_id=str(mine.pk)
    ).exists()


# --- Filters --------------------------------------------------------------------------


def test_filter_by_person_by_username_and_by_id(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    sup = world["sup_a"]
    by_name = api_seqs(sup, "&person=off_b")
    by_id = api_seqs(sup, f"&person={world['off_b'].pk}")
    assert by_name == by_id == [events["b_tries_a"].seq]
    # A failed sign-in has no actor; with the action filter the username finds it.
    admin_sees = api_seqs(world["admin"], "&person=off_a&action=login_failed")
    assert admin_sees == [events["failed"].seq]


def test_filter_by_case_shows_the_case_timeline(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    case_a = world["case_a"]
    found = api_seqs(world["sup_a"], f"&case={case_a.pk}")
    assert {events["a_reads_a"].seq, events["b_tries_a"].seq} <= set(found)
    assert set(AuditEvent.objects.filter(seq__in=found).values_list("case_id", flat=True)) == {
        case_a.pk
    }
    response = web(world["sup_a"]).get(f"/audit/?case={case_a.pk}")
    assert response.status_code == 200
    assert "Case timeline" in response.content.decode()


def test_filter_by_action_and_outcome(world: dict[str, Any], events: dict[str, AuditEvent]) -> None:
    sup = world["sup_a"]
    assert api_seqs(sup, "&action=login") == [events["a_login"].seq]
    assert api_seqs(sup, "&outcome=denied") == [events["b_tries_a"].seq]
    assert api_seqs(sup, "&action=view&outcome=denied") == [events["b_tries_a"].seq]
    response = web(sup).get("/audit/?outcome=denied")
    assert [e.seq for e in response.context["page"].events] == [events["b_tries_a"].seq]


def test_filter_by_date_range_includes_whole_days(world: dict[str, Any]) -> None:
    officer, case = world["off_a"], world["case_a"]
    before = event(officer, case_id=case.pk, occurred_at=local(2025, 3, 1, 23, 59))
    first = event(officer, case_id=case.pk, occurred_at=local(2025, 3, 2, 0, 0))
    last = event(officer, case_id=case.pk, occurred_at=local(2025, 3, 5, 23, 59))
    after = event(officer, case_id=case.pk, occurred_at=local(2025, 3, 6, 0, 0))
    found = api_seqs(world["sup_a"], "&date_from=2025-03-02&date_to=2025-03-05")
    assert found == [last.seq, first.seq]
    assert api_seqs(world["sup_a"], "&date_to=2025-03-01&action=view") == [before.seq]
    assert after.seq in api_seqs(world["sup_a"], "&date_from=2025-03-06")
    response = web(world["sup_a"]).get("/audit/?date_from=2025-03-02&date_to=2025-03-05")
    assert [e.seq for e in response.context["page"].events] == [last.seq, first.seq]


def utc(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def in_time(queryset: Any, start: dt.datetime | None, end: dt.datetime | None) -> set[int]:
    """What a window holds by the times alone."""
    if start is not None:
        queryset = queryset.filter(occurred_at__gte=start)
    if end is not None:
        queryset = queryset.filter(occurred_at__lt=end)
    return seqs(queryset)


def test_events_written_out_of_time_order_are_all_found_by_a_date_filter(
    world: dict[str, Any],
) -> None:
    officer, case, sup = world["off_a"], world["case_a"], world["sup_a"]
    newer = [event(officer, case_id=case.pk) for _ in range(2)]
    # Back-dated after the newer ones, in no order: an import, say.
    inside = [
        event(officer, case_id=case.pk, occurred_at=local(2025, 3, 3)),
        event(officer, case_id=case.pk, occurred_at=local(2025, 3, 5, 23, 59)),
        event(officer, case_id=case.pk, occurred_at=local(2025, 3, 2, 0, 0)),
    ]
    outside = [
        event(officer, case_id=case.pk, occurred_at=local(2025, 3, 6, 0, 0)),
        event(officer, case_id=case.pk, occurred_at=local(2025, 3, 1, 23, 59)),
    ]
    newer.append(event(officer, case_id=case.pk))
    # Written last, stamped in the middle of the window, on a UTC day that already has
    # events (7.30 pm in New York is after midnight UTC): it widens that day's range.
    inside.append(event(officer, case_id=case.pk, occurred_at=local(2025, 3, 4, 19, 30)))
    expected = sorted((int(e.seq) for e in inside if e.seq is not None), reverse=True)
    assert api_seqs(sup, "&date_from=2025-03-02&date_to=2025-03-05") == expected
    response = web(sup).get("/audit/?date_from=2025-03-02&date_to=2025-03-05")
    assert [e.seq for e in response.context["page"].events] == expected
    assert {e.seq for e in newer} <= set(api_seqs(sup, "&date_from=2025-03-06"))
    assert {e.seq for e in inside + outside}.isdisjoint(api_seqs(sup, "&date_from=2025-03-07"))
    # Any window, open or closed, at or just after any event's time: exactly the events
    # the times alone put in it.
    everything = AuditEvent.objects.all()
    moments = sorted({e.occurred_at for e in newer + inside + outside})
    starts = [None, *moments, utc(2030, 1, 1), utc(2000, 1, 1)]
    ends = [None, *moments, *(m + dt.timedelta(microseconds=1) for m in moments), utc(2000, 1, 1)]
    for start in starts:
        for end in ends:
            assert seqs(in_window(everything, start, end)) == in_time(everything, start, end), (
                start,
                end,
            )


def audit_days() -> dict[dt.date, tuple[int, int]]:
    return {row.day: (row.first_seq, row.last_seq) for row in AuditDay.objects.all()}


def days_of_events() -> dict[dt.date, tuple[int, int]]:
    """The smallest and largest position of each UTC day's events, as a GROUP BY would."""
    days: dict[dt.date, tuple[int, int]] = {}
    for position, occurred_at in AuditEvent.objects.values_list("seq", "occurred_at"):
        seq = int(position or 0)
        day = occurred_at.astimezone(dt.UTC).date()
        first, last = days.get(day, (seq, seq))
        days[day] = (min(first, seq), max(last, seq))
    return days


def test_the_chain_trigger_keeps_each_days_positions_for_every_way_in(
    world: dict[str, Any],
) -> None:
    officer, case = world["off_a"], world["case_a"]
    # The app's write(): one event at the last microsecond of a UTC day.
    one = event(
        officer,
        case_id=case.pk,
        occurred_at=utc(2024, 6, 1, 23, 59) + dt.timedelta(seconds=59, microseconds=999_999),
    )
    assert audit_days()[dt.date(2024, 6, 1)] == (one.seq, one.seq)
    # Several days in one statement, out of time order.
    batch = [build(officer, Action.VIEW, case_id=case.pk, target_id=i) for i in range(3)]
    for built, moment in zip(
        batch, (utc(2024, 6, 2, 0, 0), utc(2024, 5, 31), utc(2024, 6, 1, 0, 0)), strict=True
    ):
        built.occurred_at = moment
    write(batch)
    # The ORM's bulk_create, bypassing the app's write().
    bulk = build(officer, Action.VIEW, case_id=case.pk)
    bulk.occurred_at = utc(2024, 6, 1, 6)
    AuditEvent.objects.bulk_create([bulk])
    bulk.refresh_from_db()  # SQLite returns the row as inserted, before the trigger's seq
    # Raw SQL, as another program would insert.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (occurred_at, actor_username, action, target_type, "
            "target_id, outcome, ip_address, user_agent, request_id, emergency, detail, "
            "prev_hash, hash) VALUES (%s, 'raw', 'view', '', '', 'allowed', '', '', '', %s, "
            "'{}', '', '')",
            [connection.ops.adapt_datetimefield_value(utc(2024, 5, 31, 0, 0)), False],
        )
    raw = AuditEvent.objects.get(actor_username="raw")
    # A write-capture trigger's event (stamped now, by the database).
    note = f.make_note(case, officer)
    captured = AuditEvent.objects.filter(target_type="casework.casenote", target_id=str(note.pk))
    assert captured.exists()

    days = audit_days()
    assert days == days_of_events()
    seq = {e.occurred_at: e.seq for e in batch}
    assert days[dt.date(2024, 6, 1)] == (one.seq, bulk.seq)
    assert days[dt.date(2024, 6, 2)] == (seq[utc(2024, 6, 2, 0, 0)],) * 2
    assert days[dt.date(2024, 5, 31)] == (seq[utc(2024, 5, 31)], raw.seq)
    last = captured.order_by("-seq").first()
    assert last is not None
    assert days[last.occurred_at.astimezone(dt.UTC).date()][1] == last.seq

    # The migration's backfill, over the same events, gives the same rows.
    backfill = importlib.import_module("audit.migrations.0004_auditday").backfill
    AuditDay.objects.all().delete()
    backfill(apps, SimpleNamespace(connection=connection))
    assert audit_days() == days
    # ... and the trigger keeps on after it.
    later = event(officer, case_id=case.pk, occurred_at=utc(2024, 5, 31, 23))
    assert audit_days()[dt.date(2024, 5, 31)] == (seq[utc(2024, 5, 31)], later.seq)
    assert audit_days() == days_of_events()


def test_who_has_seen_this_victims_information(world: dict[str, Any]) -> None:
    victim = f.make_victim()
    case = world["case_a"]
    f.link_victim(case, victim, representative=world["rep_a"])
    seen = event(
        world["sup_a"],
        Action.DISCLOSURE,
        case_id=case.pk,
        victim_id=victim.pk,
        detail={"shown": ["name", "address"], "release": 7},
    )
    by_role = event(
        world["rep_a"],
        Action.DISCLOSURE,
        case_id=case.pk,
        victim_id=victim.pk,
        detail={"shown": ["phone"], "release": None},
    )
    other = event(world["off_b"], Action.VIEW, case_id=world["case_b"].pk, victim_id=victim.pk)
    found = api_seqs(world["sup_a"], f"&victim={victim.pk}&action=disclosure")
    assert found == [by_role.seq, seen.seq]
    response = web(world["sup_a"]).get(f"/audit/?victim={victim.pk}&action=disclosure")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Who has seen this victim's information" in page
    assert "Under which release" in page
    assert "name, address" in page and "Release #7" in page
    assert "None (seen in their own role)" in page
    assert [row.event.seq for row in response.context["disclosures"]] == [by_role.seq, seen.seq]
    # Team B's event about the same victim is outside team A's supervisor's scope.
    assert other.seq not in api_seqs(world["sup_a"], f"&victim={victim.pk}")


# --- Bad input ------------------------------------------------------------------------

BAD_FILTERS = [
    ("date_from=2025-02-30", "date_from", "Enter a real date"),
    ("date_to=yesterday", "date_to", "Enter a real date"),
    ("date_from=2025-03-10&date_to=2025-03-01", "date_to", "on or after the start date"),
    ("case=999999", "case", "No case with this id"),
    ("case=abc", "case", "whole number"),
    ("case=0", "case", "1 or more"),
    ("case=99999999999999999999999", "case", "too large"),
    ("victim=424242", "victim", "No victim with this id"),
    ("person=nobody-here", "person", "No person with this username"),
    ("person=987654321", "person", "No person with this id"),
    ("action=drop_table", "action", "Choose one of the listed actions"),
    ("outcome=maybe", "outcome", "Choose one of the listed outcomes"),
]


@pytest.mark.parametrize(("query", "field", "message"), BAD_FILTERS)
def test_bad_filters_get_a_clear_field_error_on_the_page(
    world: dict[str, Any], query: str, field: str, message: str
) -> None:
    response = web(world["sup_a"]).get(f"/audit/?{query}")
    assert response.status_code == 400
    form = response.context["form"]
    assert field in form.errors
    assert message in " ".join(form.errors[field])
    page = response.content.decode()
    assert 'class="error-summary"' in page and 'aria-invalid="true"' in page
    # The CSV export refuses the same way.
    assert web(world["sup_a"]).get(f"/audit/export.csv?{query}").status_code == 400


@pytest.mark.parametrize(("query", "field", "message"), BAD_FILTERS)
def test_bad_filters_get_a_400_naming_the_field_in_the_api(
    world: dict[str, Any], query: str, field: str, message: str
) -> None:
    response = api(world["sup_a"]).get(f"/api/v1/audit-events/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert field in body
    assert message in " ".join(body[field])


def test_a_damaged_api_cursor_is_a_400(world: dict[str, Any]) -> None:
    response = api(world["sup_a"]).get("/api/v1/audit-events/?cursor=not-a-cursor")
    assert response.status_code == 400
    assert "cursor" in response.json()


def test_a_case_outside_the_scope_looks_unknown(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    response = web(world["sup_a"]).get(f"/audit/?case={world['case_b'].pk}")
    assert response.status_code == 400
    assert "No case with this id" in " ".join(response.context["form"].errors["case"])


def test_a_bad_page_position_is_a_field_error(world: dict[str, Any]) -> None:
    response = web(world["sup_a"]).get("/audit/?before=first")
    assert response.status_code == 400
    assert "before" in response.context["form"].errors


def test_a_refused_read_is_recorded_too(world: dict[str, Any]) -> None:
    web(world["off_a"]).get("/audit/?case=999999")
    refused = AuditEvent.objects.get(
        actor_id=world["off_a"].pk, action=Action.LIST, target_type=TRAIL
    )
    assert refused.outcome == Outcome.FAILED
    assert refused.detail["filters"] == {"case": "999999"}
    assert refused.detail["errors"] == ["case"]


# --- Keyset pages ---------------------------------------------------------------------


def _many(world: dict[str, Any], count: int = 120) -> list[int]:
    officer, case = world["off_a"], world["case_a"]
    built = [build(officer, Action.VIEW, case_id=case.pk, target_id=i) for i in range(count)]
    write(built)
    return sorted((int(e.seq) for e in built if e.seq is not None), reverse=True)


def test_pages_walk_every_event_once_newest_first(world: dict[str, Any]) -> None:
    expected = _many(world)
    client = web(world["sup_a"])
    shown: list[int] = []
    url = f"/audit/?case={world['case_a'].pk}&action=view"
    sizes = []
    with CaptureQueriesContext(connection) as captured:
        while url:
            response = client.get(url)
            assert response.status_code == 200
            page = response.context["page"]
            sizes.append(len(page.events))
            shown += [int(e.seq) for e in page.events]
            older = response.context["older_url"]
            if older:
                assert "Older events" in response.content.decode()
            url = f"/audit/{older}" if older else ""
    assert sizes == [50, 50, 20]
    assert shown == expected  # no duplicates, no gaps, newest first
    assert not any(" OFFSET " in q["sql"] for q in captured.captured_queries)


def test_the_api_pages_with_a_cursor(world: dict[str, Any]) -> None:
    expected = _many(world)
    client = api(world["sup_a"])
    url: str | None = f"/api/v1/audit-events/?case={world['case_a'].pk}&action=view"
    shown: list[int] = []
    with CaptureQueriesContext(connection) as captured:
        while url:
            response = client.get(url)
            assert response.status_code == 200
            shown += [row["seq"] for row in response.json()["results"]]
            url = response.json()["next"]
    assert shown == expected
    assert not any(" OFFSET " in q["sql"] for q in captured.captured_queries)
    reads = AuditEvent.objects.filter(
        actor_id=world["sup_a"].pk, action=Action.LIST, target_type=TRAIL
    )
    assert reads.count() == 3
    assert sorted(s for r in reads for s in r.detail["seqs"]) == sorted(expected)


# --- Reading the trail is recorded ----------------------------------------------------


def test_reading_the_trail_records_a_list_event(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    response = web(world["sup_a"]).get(f"/audit/?case={world['case_a'].pk}")
    assert response.status_code == 200
    shown = [int(e.seq) for e in response.context["page"].events]
    read = AuditEvent.objects.filter(
        actor_id=world["sup_a"].pk, action=Action.LIST, target_type=TRAIL
    ).get()
    assert read.detail["seqs"] == shown
    assert read.detail["filters"] == {"case": world["case_a"].pk}
    # The read itself then shows up in the reader's own trail.
    response = web(world["off_a"]).get("/audit/")
    api(world["off_a"]).get("/api/v1/audit-events/?action=login")
    reads = AuditEvent.objects.filter(
        actor_id=world["off_a"].pk, action=Action.LIST, target_type=TRAIL
    ).order_by("seq")
    assert [r.detail["filters"] for r in reads] == [{}, {"action": "login"}]


# --- CSV export -----------------------------------------------------------------------


def test_the_csv_export_streams_the_filtered_events_and_is_recorded(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    case = world["case_a"]
    response = web(world["sup_a"]).get(f"/audit/export.csv?case={case.pk}")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    # Recorded before any data left: the EXPORT event is already written.
    export = AuditEvent.objects.get(actor_id=world["sup_a"].pk, action=Action.EXPORT)
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(body)))
    expected = seqs(events_for(world["sup_a"]).filter(case_id=case.pk, seq__lt=export.seq))
    assert [int(row["seq"]) for row in rows] == sorted(expected, reverse=True)
    assert {events["a_reads_a"].seq, events["b_tries_a"].seq} <= expected
    assert {row["case_id"] for row in rows} == {str(case.pk)}
    denied = next(row for row in rows if int(row["seq"]) == events["b_tries_a"].seq)
    assert denied["outcome"] == "denied" and denied["actor_username"] == "off_b"
    assert export.target_type == TRAIL
    assert export.detail["filters"] == {"case": case.pk}
    assert export.detail["rows"] == len(rows)


def test_the_csv_export_defuses_spreadsheet_formulas(world: dict[str, Any]) -> None:
    event(None, Action.LOGIN_FAILED, outcome=Outcome.FAILED, username="=HYPERLINK(1)")
    response = web(world["admin"]).get("/audit/export.csv?action=login_failed")
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(body)))
    assert "'=HYPERLINK(1)" in [row["actor_username"] for row in rows]


def test_the_csv_export_is_scoped_like_the_page(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    response = web(world["off_a"]).get("/audit/export.csv")
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {row["actor_username"] for row in rows} == {"off_a"}
    assert str(events["b_tries_a"].seq) not in {row["seq"] for row in rows}


# --- Highlights -----------------------------------------------------------------------


def test_denied_and_emergency_rows_are_marked(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    event(world["sup_a"], Action.EMERGENCY_ACCESS, case_id=world["case_b"].pk, emergency=True)
    response = web(world["sup_a"]).get("/audit/")
    page = response.content.decode()
    assert 'class="highlight denied"' in page
    assert '<strong class="flag">Denied</strong>' in page
    assert "highlight emergency" in page
    assert '<strong class="flag">Emergency access</strong>' in page


def reads(
    actor: Any, case: Any, count: int, newest_ago: dt.timedelta, step: dt.timedelta
) -> list[AuditEvent]:
    """`count` reads, the newest `newest_ago` before now, `step` apart."""
    now = timezone.now()
    rows = []
    for i in range(count):
        one = build(actor, Action.VIEW, case_id=case.pk, target_id=i)
        one.occurred_at = now - newest_ago - step * i
        rows.append(one)
    return rows


def write_in_time_order(*batches: list[AuditEvent]) -> None:
    """Back-dated events are chained oldest first, as the trail is written."""
    write(sorted((e for batch in batches for e in batch), key=lambda e: e.occurred_at))


def test_unusual_volume_is_noticed(world: dict[str, Any]) -> None:
    case, minute = world["case_a"], dt.timedelta(minutes=1)
    write_in_time_order(
        reads(world["off_a"], case, 30, minute, minute),
        # Someone else on the team: 19 reads in the hour, below the minimum of 20.
        reads(world["rep_a"], case, 19, minute, minute),
    )
    response = web(world["sup_a"]).get("/audit/")
    volumes = response.context["volumes"]
    assert [(v.username, v.last_hour, v.hourly_average) for v in volumes] == [("off_a", 30, 0)]
    page = response.content.decode()
    assert "Unusual volume" in page and "30 reads in the last hour" in page


def test_usual_volume_is_not_noticed(world: dict[str, Any]) -> None:
    case, hour, minute = world["case_a"], dt.timedelta(hours=1), dt.timedelta(minutes=1)
    write_in_time_order(
        # off_a: 216 reads in the 30 days before the last hour (0.3 an hour), then 30.
        reads(world["off_a"], case, 216, 2 * hour, 3 * hour),
        reads(world["off_a"], case, 30, minute, minute),
        # rep_a: a busy month, 4,320 reads (6 an hour): 30 is not more than 5 times that.
        reads(world["rep_a"], case, 4_320, 2 * hour, 9 * minute),
        reads(world["rep_a"], case, 30, minute, minute),
        # Before the month: part of no one's baseline.
        reads(world["off_a"], case, 5, dt.timedelta(days=40), hour),
    )
    response = web(world["sup_a"]).get("/audit/")
    volumes = {v.username: v for v in response.context["volumes"]}
    assert list(volumes) == ["off_a"]
    assert volumes["off_a"].hourly_average == 0.3


# --- Page, navigation, query count ----------------------------------------------------


def test_the_page_is_accessible_and_linked_from_the_navigation(
    world: dict[str, Any], events: dict[str, AuditEvent]
) -> None:
    response = web(world["off_a"]).get("/")
    assert 'href="/audit/"' in response.content.decode()
    assert ">Audit trail</a>" in response.content.decode()
    page = web(world["sup_a"]).get("/audit/").content.decode()
    assert 'role="search"' in page
    for name in ("person", "case", "victim", "action", "outcome", "date_from", "date_to"):
        assert f'<label for="id_{name}">' in page
    assert "<caption" in page and '<th scope="col">Who</th>' in page
    assert 'aria-current="page">Audit trail' in page


def _page_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/audit/")
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_the_page_costs_the_same_queries_whatever_it_shows(world: dict[str, Any]) -> None:
    client = web(world["sup_a"])
    event(world["off_a"], case_id=world["case_a"].pk)
    few = _page_queries(client)
    _many(world, 60)
    many = _page_queries(client)
    # session, user, naming the user for the write triggers, the page of events (one
    # statement with the scope's subqueries), the volume check (one statement), the roles
    # and the unread notification count for the navigation, the audit insert.
    assert few == many
    if connection.vendor == "postgresql":
        assert many == 8
