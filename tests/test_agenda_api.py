"""The agenda in the API (issue 7, A2): agenda items, minutes and action items, each
person's rows exactly as the policy says (the same copy as the meeting page), writes by
who may make them, bad input as 400 with field errors and nothing saved."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from audit.models import Action, AuditEvent, Outcome
from casework import agenda, minutes
from casework.meeting_models import ActionItem, AgendaItem, AgendaReason, MinuteEntry
from teams.disclosure import Info
from teams.disclosure.policy import codename
from teams.models import Reminder, ReminderStatus
from tests.agenda_world import EVERYONE, MEMBERS, World, api, build_world, codes_on, expected_copy

pytestmark = pytest.mark.django_db

ITEMS = "/api/v1/agenda-items/"
MINUTES = "/api/v1/minutes/"
ACTIONS = "/api/v1/action-items/"
KEEPERS = {"officer", "officer2", "supervisor"}


@pytest.fixture
def world() -> World:
    world = build_world()
    agenda.build(world.meeting)
    return world


def review_item(world: World, key: str = "due_never") -> AgendaItem:
    return AgendaItem.objects.get(
        meeting=world.meeting, case=world.cases[key], reason=AgendaReason.REVIEW_DUE
    )


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def in_days(n: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=n)).isoformat()


# --- Reads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_each_persons_items_are_their_copy_of_the_agenda(world: World, who: str) -> None:
    user = world.people[who]
    client = api(user)
    expected = expected_copy(world, who)
    assert ids(client.get(f"{ITEMS}?page_size=100")) == expected
    assert ids(client.get(f"{ITEMS}?meeting={world.meeting.pk}&page_size=100")) == expected
    # The page's copy is the same.
    assert {i.pk for i in agenda.visible_items(world.meeting, user)} == expected
    # The count is of the visible rows only.
    assert client.get(ITEMS).json()["count"] == len(expected)
    for item in AgendaItem.objects.all():
        response = client.get(f"{ITEMS}{item.pk}/")
        assert response.status_code == (200 if item.pk in expected else 404), (who, item.reason)
        if item.pk not in expected:
            assert AuditEvent.objects.filter(
                actor=user, outcome=Outcome.DENIED, target_id=str(item.pk)
            ).exists()
    assert AuditEvent.objects.filter(actor=user, action=Action.LIST).exists()


def test_an_item_shows_no_record_text(world: World) -> None:
    rows = api(world.supervisor).get(f"{ITEMS}?page_size=100").json()["results"]
    assert rows and all("SECRET" not in str(row) for row in rows)
    decision = next(row for row in rows if row["source_id"] == world.proposed.pk)
    assert decision["source_label"] == "casework.casedecision"
    assert decision["title"] == "Decision awaiting discussion: residence approval"


@pytest.mark.parametrize("who", EVERYONE)
def test_minutes_are_listed_by_level_on_visible_items(world: World, who: str) -> None:
    review, hidden = review_item(world), AgendaItem.objects.get(source_id=world.input_reps.pk)
    written = {}
    for level in ("team", "supervision", "supervision_and_victim_services"):
        written[level] = minutes.record_minutes(world.officer, review, level, level).pk
    # Minutes on an item only the representatives see: written by a supervisor who... may
    # not see it either, so stored directly.
    on_hidden = MinuteEntry.objects.create(
        item=hidden, case=hidden.case, author=world.officer, body="hidden", disclosure_level="team"
    )
    codes = codes_on(world, who, review.case)
    expected = {
        pk for level, pk in written.items() if codename(Info.MEETING_MINUTES, level) in codes
    }
    if hidden.pk in expected_copy(world, who):
        expected.add(on_hidden.pk)
    client = api(world.people[who])
    assert ids(client.get(f"{MINUTES}?page_size=100")) == expected
    assert ids(client.get(f"{MINUTES}?item={review.pk}")) == expected - {on_hidden.pk}
    for pk in [*written.values(), on_hidden.pk]:
        assert client.get(f"{MINUTES}{pk}/").status_code == (200 if pk in expected else 404)


@pytest.mark.parametrize("who", EVERYONE)
def test_action_items_on_visible_items_and_ones_own(world: World, who: str) -> None:
    review = review_item(world)
    decision_item = AgendaItem.objects.get(source_id=world.proposed.pk)
    on_review = minutes.create_action(world.officer, review, world.officer, "a", in_days_d(3))
    on_decision = minutes.create_action(
        world.officer, decision_item, world.treatment, "b", in_days_d(3)
    )
    copy = expected_copy(world, who)
    expected = {a.pk for a in (on_review, on_decision) if a.item_id in copy}
    if who == "treatment":
        expected.add(on_decision.pk)  # their own, on an item they cannot see
    client = api(world.people[who])
    assert ids(client.get(f"{ACTIONS}?page_size=100")) == expected
    mine = ids(client.get(f"{ACTIONS}?mine=true"))
    assert mine == {a.pk for a in (on_review, on_decision) if a.owner_id == world.people[who].pk}
    assert client.get(f"{ACTIONS}?mine=perhaps").status_code == 400


def in_days_d(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


# --- Writes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", EVERYONE)
def test_route_permissions(world: World, who: str) -> None:
    user = world.people[who]
    client = api(user)
    review = review_item(world)
    sees = review.pk in expected_copy(world, who)

    # Add a case: an attendee who sees it; the meeting must be theirs.
    response = client.post(
        ITEMS, {"meeting": world.meeting.pk, "case": world.quiet.pk}, format="json"
    )
    assert response.status_code == (201 if who in MEMBERS else 400), (who, response.content)
    if who in MEMBERS:
        assert response.json()["reason"] == "added"
    else:
        # The guest cannot see that case; anyone else does not take part in the meeting.
        assert set(response.json()) == ({"case"} if who == "guest" else {"meeting"})

    # Minutes and actions: officer and supervisor; readers of the item 403; others 400.
    refused = 403 if sees else 400
    response = client.post(
        MINUTES, {"item": review.pk, "body": f"by {who}", "disclosure_level": "team"}, format="json"
    )
    assert response.status_code == (201 if who in KEEPERS else refused), who
    body = {"item": review.pk, "owner": world.rep.pk, "text": f"by {who}", "due_on": in_days(4)}
    response = client.post(ACTIONS, body, format="json")
    assert response.status_code == (201 if who in KEEPERS else refused), who
    saved = 1 if who in KEEPERS else 0
    assert MinuteEntry.objects.filter(body=f"by {who}").count() == saved
    assert ActionItem.objects.filter(text=f"by {who}").count() == saved

    # Done: its owner (the representative), the officer, the supervisor.
    action = minutes.create_action(world.officer, review, world.rep, "owned", in_days_d(4))
    response = client.patch(f"{ACTIONS}{action.pk}/", {"done": True}, format="json")
    allowed = KEEPERS | {"rep"}
    assert response.status_code == (200 if who in allowed else 403 if sees else 404), who
    action.refresh_from_db()
    assert (action.done_at is not None) == (who in allowed)
    # Moving the due date: officer and supervisor only (not the owner).
    response = client.patch(f"{ACTIONS}{action.pk}/", {"due_on": in_days(9)}, format="json")
    assert response.status_code == (200 if who in KEEPERS else 403 if sees else 404), who


def test_signed_out_gets_401(world: World) -> None:
    client = api(None)
    for url in (ITEMS, MINUTES, ACTIONS):
        assert client.get(url).status_code == 401
        assert client.post(url, {}, format="json").status_code == 401


@pytest.mark.parametrize(
    ("url", "body", "fields"),
    [
        (ITEMS, {"meeting": "M", "case": "C", "title": "x"}, {"title"}),
        (ITEMS, {"meeting": "M", "case": "OTHER"}, {"case"}),
        (ITEMS, {"meeting": "M", "case": "CLOSED"}, {"case"}),
        (ITEMS, {"meeting": "M"}, {"case"}),
        (
            MINUTES,
            {"item": "I", "body": "x", "disclosure_level": "restricted"},
            {"disclosure_level"},
        ),
        (
            MINUTES,
            {"item": "I", "body": "x", "disclosure_level": "victim_services"},
            {"disclosure_level"},
        ),
        (MINUTES, {"item": "I", "body": "", "disclosure_level": "team"}, {"body"}),
        (MINUTES, {"item": "I", "body": "x", "disclosure_level": "team", "author": 1}, {"author"}),
        (MINUTES, {"item": 999999, "body": "x", "disclosure_level": "team"}, {"item"}),
        (ACTIONS, {"item": "I", "owner": "U", "text": "x", "due_on": "PAST"}, {"due_on"}),
        (ACTIONS, {"item": "I", "owner": "OUTSIDER", "text": "x", "due_on": "SOON"}, {"owner"}),
        (ACTIONS, {"item": "I", "owner": "U", "text": "", "due_on": "SOON"}, {"text"}),
        (
            ACTIONS,
            {"item": "I", "owner": "U", "text": "x", "due_on": "SOON", "done": True},
            {"done"},
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    world: World, url: str, body: dict[str, Any], fields: set[str]
) -> None:
    values = {
        "M": world.meeting.pk,
        "C": world.quiet.pk,
        "OTHER": world.cases["other_team"].pk,
        "CLOSED": world.closed.pk,
        "I": review_item(world).pk,
        "U": world.treatment.pk,
        "OUTSIDER": world.other_officer.pk,
        "PAST": in_days(-1),
        "SOON": in_days(2),
    }
    payload = {k: values.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    counts = (AgendaItem.objects.count(), MinuteEntry.objects.count(), ActionItem.objects.count())
    response = api(world.officer).post(url, payload, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()) == fields
    after = (AgendaItem.objects.count(), MinuteEntry.objects.count(), ActionItem.objects.count())
    assert after == counts
    assert not Reminder.objects.exists()


def test_patch_refuses_bad_input_and_changes_nothing(world: World) -> None:
    action = minutes.create_action(
        world.officer, review_item(world), world.rep, "owned", in_days_d(4)
    )
    client = api(world.officer)
    for body, fields in (
        ({}, {"non_field_errors"}),
        ({"due_on": in_days(-2)}, {"due_on"}),
        ({"owner": world.officer.pk}, {"owner"}),
        ({"done": "perhaps"}, {"done"}),
    ):
        response = client.patch(f"{ACTIONS}{action.pk}/", body, format="json")
        assert response.status_code == 400, body
        assert set(response.json()) == fields
    action.refresh_from_db()
    assert action.done_at is None and action.due_on == in_days_d(4)
    assert Reminder.objects.get().status == ReminderStatus.PENDING


def test_patch_moves_and_cancels_the_reminder(world: World) -> None:
    action = minutes.create_action(
        world.officer, review_item(world), world.rep, "owned", in_days_d(4)
    )
    client = api(world.supervisor)
    response = client.patch(f"{ACTIONS}{action.pk}/", {"due_on": in_days(8)}, format="json")
    assert response.status_code == 200 and response.json()["due_on"] == in_days(8)
    pending = Reminder.objects.get(status=ReminderStatus.PENDING)
    assert f":due:{in_days(8)}:" in pending.key
    response = api(world.rep).patch(f"{ACTIONS}{action.pk}/", {"done": True}, format="json")
    assert response.status_code == 200 and response.json()["done"] is True
    assert not Reminder.objects.filter(status=ReminderStatus.PENDING).exists()
