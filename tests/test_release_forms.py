"""Releases the representative's way (issue 6, item 6): the releases on the victim's page
with their printable form and one-click revocation, the form itself (exactly what was
released, to whom, for what and until when, and never a locating value), who may open
it, and the reminder before a release expires (once, however often the task runs)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from audit.models import Action, AuditEvent, Outcome
from casework.models import Case
from teams.disclosure.policy import ReleaseCategory
from teams.models import Notification, NotificationKind, Team, User
from teams.roles import Role
from tests import cast as people
from tests import factories as f
from tests.cast import signed_in, text
from victims import services
from victims.models import Release, Victim
from victims.release_reminders import remind_expiring_releases
from victims.tasks import remind_expiring_releases as reminder_task

pytestmark = pytest.mark.django_db

FIRST, LAST = "Ottoline", "Featherstonehaugh"
ADDRESS = "RFORM-ADDR 19 Juniper Row"
PHONE = "860-555-7319"
PURPOSE = "Safety planning around the new work schedule"
LABELS = dict(ReleaseCategory.choices)
# Every locating value the victim has: none may ever be on a release form.
LOCATING_VALUES = (ADDRESS, PHONE, "06103", "person@example.org")


@dataclass
class World:
    team: Team
    case: Case
    victim: Victim
    rep: User
    officer: User
    supervisor: User
    treatment: User


@pytest.fixture
def world() -> World:
    team = f.make_team("Waterbury MDT")
    rep = f.make_member(team, Role.VICTIM_REP, first_name="Robin", last_name="Rep")
    officer = f.make_member(team, Role.OFFICER, first_name="Olwen", last_name="Officer")
    case = f.make_case(team, officer=officer)
    victim = f.make_victim(first_name=FIRST, last_name=LAST, address_line1=ADDRESS, phone=PHONE)
    f.link_victim(case, victim, pseudonym="Person harmed 1", representative=rep)
    return World(
        team=team,
        case=case,
        victim=victim,
        rep=rep,
        officer=officer,
        supervisor=f.make_member(team, Role.SUPERVISOR),
        treatment=f.make_member(team, Role.TREATMENT),
    )


def today() -> dt.date:
    return timezone.localdate()


def make_release(
    world: World,
    categories: tuple[str, ...],
    recipient: User | None = None,
    expires_in: int = 90,
) -> Release:
    return services.create_release(
        created_by=world.rep,
        victim=world.victim,
        case=world.case,
        recipient=recipient or world.officer,
        categories=categories,
        purpose=PURPOSE,
        signed_on=today() - dt.timedelta(days=3),
        expires_on=today() + dt.timedelta(days=expires_in),
    )


def form_url(release: Release) -> str:
    return reverse("release-form", args=[release.pk])


# --- The form ------------------------------------------------------------------------


def test_the_form_lists_what_to_whom_for_what_and_until_when(world: World) -> None:
    release = make_release(world, ("phone", "address"))

    response = signed_in(world.rep).get(form_url(release))

    assert response.status_code == 200
    page = text(response)
    assert f"Release of information #{release.pk}" in page
    assert f"{FIRST} {LAST}" in page  # the person giving it (the rep sees the name)
    assert LABELS["phone"] in page and LABELS["address"] in page
    # The address category says what it covers, in words.
    assert "Address line 1, address line 2, city, postal code." in page
    assert "Olwen Officer, Probation officer" in page
    assert PURPOSE in page
    signed, expires = release.signed_on, release.expires_on
    assert f"{signed.day} {signed:%B} {signed.year}" in page
    assert f"{expires.day} {expires:%B} {expires.year}" in page
    assert "Active" in page


@pytest.mark.parametrize("released", [c for c in ReleaseCategory.values])
def test_the_form_lists_exactly_the_released_category_and_no_value(
    world: World, released: str
) -> None:
    release = make_release(world, (released,))

    page = text(signed_in(world.rep).get(form_url(release)))

    assert LABELS[released] in page
    for other, label in LABELS.items():
        if other != released:
            assert label not in page, f"{label} is on a form releasing only {released}"
    for value in LOCATING_VALUES:
        assert value not in page


def test_a_form_of_several_categories_lists_them_in_one_order(world: World) -> None:
    release = make_release(world, ("school", "identity", "email"))

    page = text(signed_in(world.rep).get(form_url(release)))

    listed = [LABELS[c] for c in ("identity", "email", "school")]
    positions = [page.index(label) for label in listed]
    assert positions == sorted(positions)
    for other in ("address", "phone", "employer"):
        assert LABELS[other] not in page


def test_a_revoked_release_form_says_when_and_why(world: World) -> None:
    release = make_release(world, ("phone",))
    services.revoke_release(world.rep, release, "The victim withdrew consent by phone")

    page = text(signed_in(world.rep).get(form_url(release)))

    assert "Revoked" in page
    assert "The victim withdrew consent by phone" in page


def test_opening_the_form_is_audited_with_the_disclosure_of_the_name(world: World) -> None:
    release = make_release(world, ("phone",))

    signed_in(world.rep).get(form_url(release))

    assert AuditEvent.objects.filter(
        actor=world.rep,
        action=Action.VIEW,
        target_type="victims.release",
        target_id=str(release.pk),
        outcome=Outcome.ALLOWED,
    ).exists()
    shown = AuditEvent.objects.get(actor=world.rep, action=Action.DISCLOSURE)
    assert shown.victim_id == world.victim.pk
    # No locating value in the trail either.
    details = " ".join(str(e.detail) for e in AuditEvent.objects.filter(actor=world.rep))
    assert not any(value in details for value in LOCATING_VALUES)


def test_the_form_prints_without_navigation() -> None:
    """The print style sheet hides the header, footer and the page's own links."""
    css = (settings.BASE_DIR / "static" / "css" / "app.css").read_text()
    printed = css[css.index("@media print") :]
    for selector in (".site-header", ".site-footer", ".no-print"):
        assert selector in printed


def test_the_form_page_marks_its_links_not_for_print(world: World) -> None:
    page = text(signed_in(world.rep).get(form_url(make_release(world, ("phone",)))))
    assert 'class="no-print"' in page
    assert "window.print()" in page


# --- Who opens it --------------------------------------------------------------------


def expected_form_status(key: str) -> int:
    """Releases are read by the case's victim representatives: its team's, and one
    invited to the case (who reads as the role would); anyone else gets a 404."""
    role, relation = people.role_of(key), people.relation_of(key)
    return 200 if role == Role.VICTIM_REP and relation in ("member", "guest") else 404


@pytest.mark.parametrize("key", people.KEYS)
def test_only_representatives_open_the_form(world: World, key: str) -> None:
    other = f.make_team()
    cast = people.cast(world.team, world.case, other, granted_by=world.supervisor)
    release = make_release(world, ("phone",))
    user = cast[key]

    response = signed_in(user).get(form_url(release))

    wanted = expected_form_status(key)
    assert response.status_code == wanted
    denied = AuditEvent.objects.filter(
        actor=user,
        action=Action.VIEW,
        outcome=Outcome.DENIED,
        target_type="victims.release",
        target_id=str(release.pk),
    )
    assert denied.exists() == (wanted == 404)
    if wanted == 404:
        assert PURPOSE not in text(response)
        assert LAST not in text(response)


@pytest.mark.parametrize("who", ["officer", "supervisor", "treatment"])
def test_the_recipient_and_the_team_get_a_404(world: World, who: str) -> None:
    release = make_release(world, ("phone",))
    response = signed_in(getattr(world, who)).get(form_url(release))
    assert response.status_code == 404


def test_signed_out_is_sent_to_sign_in(world: World) -> None:
    release = make_release(world, ("phone",))
    response = Client().get(form_url(release))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_missing_release_is_a_plain_404(world: World) -> None:
    response = signed_in(world.rep).get(reverse("release-form", args=[999999]))
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(outcome=Outcome.DENIED).exists()


def test_the_form_takes_no_post(world: World) -> None:
    release = make_release(world, ("phone",))
    assert signed_in(world.rep).post(form_url(release)).status_code == 405


# --- The victim's page: releases on file, the form, one-click revocation -------------


def test_the_victim_page_lists_each_release_with_its_form_and_revocation(world: World) -> None:
    active = make_release(world, ("phone",))
    revoked = make_release(world, ("employer",), recipient=world.supervisor)
    services.revoke_release(world.rep, revoked, "Withdrawn")
    expired = make_release(world, ("school",))
    Release.objects.filter(pk=expired.pk).update(
        signed_on=today() - dt.timedelta(days=40), expires_on=today() - dt.timedelta(days=1)
    )

    page = text(signed_in(world.rep).get(reverse("victim-detail", args=[world.victim.pk])))

    for release in (active, revoked, expired):
        assert form_url(release) in page
    assert "Active" in page and "Revoked" in page and "Expired" in page
    # Revocation is offered on the active release only, and asks for a reason.
    assert reverse("release-revoke", args=[active.pk]) in page
    assert reverse("release-revoke", args=[revoked.pk]) not in page
    assert reverse("release-revoke", args=[expired.pk]) not in page
    confirm = signed_in(world.rep).get(reverse("release-revoke", args=[active.pk]))
    assert confirm.status_code == 200
    assert 'name="reason"' in text(confirm)


def test_revoking_from_the_confirmation_step_takes_effect(world: World) -> None:
    release = make_release(world, ("phone",))
    response = signed_in(world.rep).post(
        reverse("release-revoke", args=[release.pk]), {"reason": "The victim asked today"}
    )
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.revoked_at is not None


def test_the_victim_page_shows_no_release_links_to_the_officer(world: World) -> None:
    release = make_release(world, ("phone",))
    page = text(signed_in(world.officer).get(reverse("victim-detail", args=[world.victim.pk])))
    assert form_url(release) not in page


# --- The reminder before expiry -----------------------------------------------------------


def reminders() -> Any:
    return Notification.objects.filter(kind=NotificationKind.RELEASE_EXPIRING)


def test_the_reminder_goes_once_however_often_the_task_runs(world: World) -> None:
    soon = make_release(world, ("phone",), expires_in=10)
    make_release(world, ("email",), expires_in=40)  # not yet
    mail.outbox = []

    first = reminder_task()
    second = reminder_task()
    third = remind_expiring_releases()

    assert (first, second, third) == (1, 0, 0)
    row = reminders().get()
    assert row.recipient == world.rep
    assert row.link == form_url(soon)
    assert world.case.reference in row.title
    # Nothing about the victim or what was released in the title or the e-mail.
    assert LAST not in row.title and LABELS["phone"] not in row.title
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert LAST not in body and world.case.reference not in body and PHONE not in body
    notified = AuditEvent.objects.filter(
        action=Action.NOTIFY, target_type="victims.release", target_id=str(soon.pk)
    )
    assert notified.count() == 1


def test_the_window_is_the_setting_inclusive(world: World, settings: SettingsWrapper) -> None:
    assert settings.RELEASE_EXPIRY_REMINDER_DAYS == 14
    on_the_day = make_release(world, ("phone",), expires_in=14)
    make_release(world, ("email",), expires_in=15)
    today_last = make_release(world, ("school",), expires_in=0)

    remind_expiring_releases()

    assert {row.link for row in reminders()} == {form_url(on_the_day), form_url(today_last)}
    settings.RELEASE_EXPIRY_REMINDER_DAYS = 15
    assert remind_expiring_releases() == 1


def test_revoked_and_expired_releases_are_not_reminded(world: World) -> None:
    revoked = make_release(world, ("phone",), expires_in=5)
    services.revoke_release(world.rep, revoked, "Withdrawn")
    expired = make_release(world, ("email",), expires_in=5)
    Release.objects.filter(pk=expired.pk).update(
        signed_on=today() - dt.timedelta(days=40), expires_on=today() - dt.timedelta(days=1)
    )

    assert remind_expiring_releases() == 0


def test_the_recorder_and_the_victims_representative_are_reminded(world: World) -> None:
    recorder = f.make_member(world.team, Role.VICTIM_REP)
    release = services.create_release(
        created_by=recorder,
        victim=world.victim,
        case=world.case,
        recipient=world.officer,
        categories=("phone",),
        purpose=PURPOSE,
        signed_on=today(),
        expires_on=today() + dt.timedelta(days=3),
    )
    f.make_member(world.team, Role.VICTIM_REP)  # another rep of the team: not reminded

    assert remind_expiring_releases() == 2
    assert set(reminders().values_list("recipient", flat=True)) == {world.rep.pk, recorder.pk}
    assert all(row.link == form_url(release) for row in reminders())


def test_when_neither_is_still_a_representative_the_teams_are(world: World) -> None:
    make_release(world, ("phone",), expires_in=3)
    world.rep.memberships.update(active_to=today() - dt.timedelta(days=1))
    newcomer = f.make_member(world.team, Role.VICTIM_REP)

    assert remind_expiring_releases() == 1
    assert reminders().get().recipient == newcomer


def test_the_reminder_is_on_the_beat_schedule() -> None:
    entries = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "victims.tasks.remind_expiring_releases" in entries
