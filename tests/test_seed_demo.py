"""The demo data command: what it creates, that a second run changes nothing, and that it
refuses to run on a production-like configuration."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from casework.models import Case, CaseNote, Supervisee
from teams.models import Membership, ReviewMeeting, Team, User
from teams.roles import Role
from victims.models import CaseVictim, Victim, VictimLocation

pytestmark = pytest.mark.django_db

DEMO_USERNAMES = {
    "officer",
    "officer2",
    "supervisor",
    "advocate",
    "treatment",
    "polygraph",
    "admin",
}
DEMO_PASSWORD = "demo-password-for-tests"


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def row_counts() -> dict[str, int]:
    """Rows of every model, the automatic many-to-many tables included."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models(include_auto_created=True)
    }


def password_hashes() -> dict[str, str]:
    return dict(User.objects.values_list("username", "password"))


@pytest.fixture
def debug_on(settings: SettingsWrapper) -> SettingsWrapper:
    settings.DEBUG = True
    return settings


def test_seed_demo_creates_the_demo_agency(debug_on: SettingsWrapper) -> None:
    seed("--password", DEMO_PASSWORD)

    assert set(User.objects.values_list("username", flat=True)) == DEMO_USERNAMES
    assert Team.objects.count() == 2
    assert 15 <= Case.objects.count() <= 25
    assert Supervisee.objects.count() == Case.objects.count()
    assert CaseNote.objects.exists()

    # Victims, every one with locating information and linked to at least one case.
    assert Victim.objects.count() >= 5
    assert VictimLocation.objects.count() == Victim.objects.count()
    assert not Victim.objects.filter(case_links__isnull=True).exists()
    assert CaseVictim.objects.exclude(representative=None).exists()

    # An upcoming review meeting, with attendees.
    upcoming = ReviewMeeting.objects.filter(starts_at__gt=timezone.now())
    assert upcoming.exists()
    assert all(meeting.attendance.exists() for meeting in upcoming)


def test_seed_demo_gives_each_account_its_role(debug_on: SettingsWrapper) -> None:
    seed("--password", DEMO_PASSWORD)

    def roles(username: str) -> set[str]:
        return set(
            Membership.objects.active()
            .filter(user__username=username)
            .values_list("role", flat=True)
        )

    assert roles("officer") == {Role.OFFICER}
    assert roles("officer2") == {Role.OFFICER}
    assert roles("supervisor") == {Role.SUPERVISOR}
    assert roles("advocate") == {Role.VICTIM_REP}
    assert roles("treatment") == {Role.TREATMENT}
    assert roles("polygraph") == {Role.POLYGRAPH}
    admin = User.objects.get(username="admin")
    assert admin.is_staff
    assert not User.objects.exclude(username="admin").filter(is_staff=True).exists()
    # Every demo case is worked by one of the two demo officers.
    assert not Case.objects.exclude(assigned_officer__username__in=["officer", "officer2"]).exists()


def test_seed_demo_sets_the_password_given(debug_on: SettingsWrapper) -> None:
    seed("--password", DEMO_PASSWORD)

    for username in DEMO_USERNAMES:
        assert authenticate(username=username, password=DEMO_PASSWORD) is not None, username
        assert authenticate(username=username, password="demo") is None, username


def test_seed_demo_password_option_changes_an_existing_password(
    debug_on: SettingsWrapper,
) -> None:
    seed("--password", DEMO_PASSWORD)
    seed("--password", "another-demo-password")

    officer = User.objects.get(username="officer")
    assert officer.check_password("another-demo-password")
    assert not officer.check_password(DEMO_PASSWORD)


def test_seed_demo_twice_changes_nothing(debug_on: SettingsWrapper) -> None:
    seed("--password", DEMO_PASSWORD)
    counts, hashes = row_counts(), password_hashes()

    output = seed("--password", DEMO_PASSWORD)

    assert row_counts() == counts
    # Not even a rehash: the same salt and hash as after the first run.
    assert password_hashes() == hashes
    assert "nothing changed" in output


def test_seed_demo_refuses_with_debug_off(settings: SettingsWrapper) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        seed("--password", DEMO_PASSWORD)
    assert not User.objects.exists()
    assert not Case.objects.exists()


def test_seed_demo_runs_with_debug_off_when_forced(settings: SettingsWrapper) -> None:
    settings.DEBUG = False
    seed("--password", DEMO_PASSWORD, "--force")
    assert set(User.objects.values_list("username", flat=True)) == DEMO_USERNAMES
