"""The models and the rules the database itself enforces."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import Action
from audit.services import record
from casework.models import DecisionKind, DecisionStatus, NoteKind
from teams.models import MeetingAttendee, Membership, ReviewMeeting
from teams.roles import Role
from tests import factories as f
from victims.models import CaseVictim, VictimInput

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 3, 10)


# --- Membership ------------------------------------------------------------------------


def test_membership_ending_before_it_starts_is_refused() -> None:
    user, team = f.make_user(), f.make_team()
    with pytest.raises(IntegrityError), transaction.atomic():
        f.make_membership(
            user, team, Role.OFFICER, active_from=TODAY, active_to=TODAY - dt.timedelta(days=1)
        )


def test_membership_ending_on_the_day_it_starts_is_allowed() -> None:
    membership = f.make_membership(
        f.make_user(), f.make_team(), Role.OFFICER, active_from=TODAY, active_to=TODAY
    )
    assert membership.pk is not None


def test_two_open_memberships_for_the_same_user_team_and_role_are_refused() -> None:
    user, team = f.make_user(), f.make_team()
    f.make_membership(user, team, Role.OFFICER)
    with pytest.raises(IntegrityError), transaction.atomic():
        f.make_membership(user, team, Role.OFFICER)


def test_an_ended_membership_does_not_block_a_new_open_one_nor_does_another_role() -> None:
    user, team = f.make_user(), f.make_team()
    f.make_membership(
        user, team, Role.OFFICER, active_from=TODAY - dt.timedelta(days=60), active_to=TODAY
    )
    f.make_membership(user, team, Role.OFFICER)
    f.make_membership(user, team, Role.SUPERVISOR)
    assert Membership.objects.filter(user=user, team=team).count() == 3


def test_active_memberships_respect_active_from_and_active_to() -> None:
    team = f.make_team()
    day = dt.timedelta(days=1)
    open_ended = f.make_membership(f.make_user(), team, Role.OFFICER, active_from=TODAY - 10 * day)
    ends_today = f.make_membership(
        f.make_user(), team, Role.OFFICER, active_from=TODAY - 10 * day, active_to=TODAY
    )
    starts_today = f.make_membership(f.make_user(), team, Role.OFFICER, active_from=TODAY)
    ended = f.make_membership(
        f.make_user(), team, Role.OFFICER, active_from=TODAY - 10 * day, active_to=TODAY - day
    )
    future = f.make_membership(f.make_user(), team, Role.OFFICER, active_from=TODAY + day)

    active = set(Membership.objects.active(on=TODAY))
    assert active == {open_ended, ends_today, starts_today}
    assert ended not in active
    assert future not in active
    # A later day sees the future membership start and the others end.
    assert set(Membership.objects.active(on=TODAY + day)) == {open_ended, starts_today, future}


def test_active_memberships_default_to_today() -> None:
    today = timezone.localdate()
    team = f.make_team()
    current = f.make_membership(f.make_user(), team, Role.OFFICER, active_from=today)
    f.make_membership(
        f.make_user(),
        team,
        Role.OFFICER,
        active_from=today - dt.timedelta(days=5),
        active_to=today - dt.timedelta(days=1),
    )
    f.make_membership(f.make_user(), team, Role.OFFICER, active_from=today + dt.timedelta(days=1))
    assert list(Membership.objects.active()) == [current]


# --- Review meetings -------------------------------------------------------------------


def test_meeting_without_location_or_call_link_is_refused() -> None:
    team = f.make_team()
    with pytest.raises(IntegrityError), transaction.atomic():
        f.make_meeting(team, location="", call_link="")


def test_meeting_with_only_a_location_or_only_a_call_link_is_allowed() -> None:
    team = f.make_team()
    f.make_meeting(team, location="Room 4", call_link="")
    f.make_meeting(team, location="", call_link="https://meet.example.org/mdt")
    assert ReviewMeeting.objects.filter(team=team).count() == 2


# --- Casework --------------------------------------------------------------------------


def test_case_ending_before_it_starts_is_refused() -> None:
    team = f.make_team()
    with pytest.raises(IntegrityError), transaction.atomic():
        f.make_case(
            team, supervision_start=dt.date(2024, 6, 1), supervision_end=dt.date(2024, 5, 31)
        )


def test_case_ending_after_it_starts_is_allowed() -> None:
    case = f.make_case(
        f.make_team(), supervision_start=dt.date(2024, 6, 1), supervision_end=dt.date(2024, 6, 1)
    )
    assert case.pk is not None


def test_final_decision_without_finalised_at_is_refused() -> None:
    case = f.make_case(f.make_team())
    author = f.make_user()
    with pytest.raises(IntegrityError), transaction.atomic():
        f.make_decision(case, author, status=DecisionStatus.FINAL, finalised_at=None)


def test_final_decision_with_finalised_at_and_draft_without_are_allowed() -> None:
    case = f.make_case(f.make_team())
    author = f.make_user()
    final = f.make_decision(case, author, status=DecisionStatus.FINAL, finalised_at=timezone.now())
    draft = f.make_decision(case, author, status=DecisionStatus.DRAFT)
    assert final.pk is not None and draft.pk is not None


def test_docket_number_is_unique() -> None:
    f.make_supervisee(docket_number="HHD-CR24-000001")
    with pytest.raises(IntegrityError), transaction.atomic():
        f.make_supervisee(docket_number="HHD-CR24-000001")


def test_case_reference_is_unique() -> None:
    team = f.make_team()
    f.make_case(team, reference="C-2024-0001")
    with pytest.raises(IntegrityError), transaction.atomic():
        f.make_case(team, reference="C-2024-0001")


# --- Victims ---------------------------------------------------------------------------


def test_pseudonym_is_unique_per_case() -> None:
    team = f.make_team()
    case = f.make_case(team)
    f.link_victim(case, f.make_victim(), pseudonym="Person harmed 1")
    with pytest.raises(IntegrityError), transaction.atomic():
        f.link_victim(case, f.make_victim(), pseudonym="Person harmed 1")


def test_the_same_pseudonym_on_another_case_is_allowed() -> None:
    team = f.make_team()
    f.link_victim(f.make_case(team), f.make_victim(), pseudonym="Person harmed 1")
    f.link_victim(f.make_case(team), f.make_victim(), pseudonym="Person harmed 1")
    assert CaseVictim.objects.filter(pseudonym="Person harmed 1").count() == 2


def test_a_victim_is_linked_to_a_case_only_once() -> None:
    case = f.make_case(f.make_team())
    victim = f.make_victim()
    f.link_victim(case, victim, pseudonym="Person harmed 1")
    with pytest.raises(IntegrityError), transaction.atomic():
        f.link_victim(case, victim, pseudonym="Person harmed 2")


def test_one_victim_can_be_linked_to_several_cases() -> None:
    team = f.make_team()
    victim = f.make_victim()
    f.link_victim(f.make_case(team), victim)
    f.link_victim(f.make_case(team), victim)
    assert victim.case_links.count() == 2


def test_victim_input_must_have_a_body() -> None:
    case = f.make_case(f.make_team())
    author = f.make_user()
    with pytest.raises(IntegrityError), transaction.atomic():
        VictimInput.objects.create(case=case, author=author, body="")


# --- __str__ ---------------------------------------------------------------------------


def test_user_str_is_the_full_name_or_else_the_username() -> None:
    assert str(f.make_user("ortiz", first_name="Olivia", last_name="Ortiz")) == "Olivia Ortiz"
    assert str(f.make_user("nameless", first_name="", last_name="")) == "nameless"


def test_team_membership_meeting_and_attendee_str() -> None:
    team = f.make_team("Hartford North MDT")
    user = f.make_user("ortiz", first_name="Olivia", last_name="Ortiz")
    membership = f.make_membership(user, team, Role.OFFICER)
    meeting = f.make_meeting(
        team,
        title="Monthly MDT case review",
        starts_at=dt.datetime(2025, 4, 1, 14, 0, tzinfo=dt.UTC),
    )
    attendee = MeetingAttendee.objects.create(meeting=meeting, user=user)

    assert str(team) == "Hartford North MDT"
    assert str(membership) == "Olivia Ortiz - Probation officer on Hartford North MDT"
    assert str(meeting) == ("Hartford North MDT - Monthly MDT case review (2025-04-01 14:00 UTC)")
    assert str(attendee) == f"Olivia Ortiz at {meeting}"


def test_casework_str() -> None:
    team = f.make_team()
    supervisee = f.make_supervisee(first_name="Marcus", last_name="Bell")
    case = f.make_case(team, supervisee=supervisee, reference="C-2024-0042")
    author = f.make_user()
    note = f.make_note(case, author, kind=NoteKind.TREATMENT)
    decision = f.make_decision(case, author, kind=DecisionKind.TRAVEL, summary="Trip to see family")

    assert str(supervisee) == "Marcus Bell"
    assert supervisee.full_name == "Marcus Bell"
    assert str(case) == "C-2024-0042"
    assert str(note) == f"Treatment progress note on C-2024-0042 ({note.created_at:%Y-%m-%d})"
    assert str(decision) == "Travel permission: Trip to see family"


def test_victim_str_and_locating_information_str_never_shows_the_address() -> None:
    case = f.make_case(f.make_team(), reference="C-2024-0007")
    victim = f.make_victim(
        first_name="Emily", last_name="Hart", address_line1="742 Evergreen Terrace"
    )
    location = victim.location
    link = f.link_victim(case, victim, pseudonym="Person harmed 1")
    victim_input = f.make_victim_input(case, f.make_user())

    assert str(victim) == "Emily Hart"
    assert str(location) == f"Locating information #{location.pk}"
    for secret in ("742", "Evergreen", "Hartford", "06103", "860-555", "person@example.org"):
        assert secret not in str(location)
    assert str(link) == "Person harmed 1 on C-2024-0007"
    assert str(victim_input) == (
        f"Victim input on C-2024-0007 ({victim_input.created_at:%Y-%m-%d})"
    )


def test_audit_event_str() -> None:
    user = f.make_user("ortiz")
    event = record(user, Action.VIEW, target_type="casework.case")
    anonymous = record(None, Action.LOGIN_FAILED)
    assert str(event) == f"{event.occurred_at:%Y-%m-%d %H:%M:%S} ortiz view casework.case"
    assert str(anonymous).endswith(" anonymous login_failed ")
