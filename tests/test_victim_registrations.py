"""Notification registration (issue 6, item 4) and the case events that feed it.

The officer's case summary update (page and API) is where status and date events come
from; a victim representative registers a victim for events (page and API), changes the
delivery, stops it; a Celery task turns casework events into notifications exactly once
per event and victim (twice run, run concurrently, after a bulk update), which land in
the representatives' relay queue or go out by e-mail with the message and a signature
only. Registrations and notifications are seen by the case's victim representatives
alone, on every page and API, for every role. Bad input gets field errors, nothing lost.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import Action, AuditEvent
from casework import case_updates
from casework.models import Case, CaseDecision, CaseStatus, DecisionKind
from teams.models import Notification, NotificationKind, User
from tests import factories as f
from tests.services_world import (
    EVERYONE,
    REFERENCE,
    SEE_CASE,
    SUPERVISEE,
    TEAM_NAME,
    VICTIM,
    World,
    api,
    denied,
    expect_form,
    html,
    make_world,
    web,
)
from victims import registrations, tasks, victim_events
from victims.models import (
    Delivery,
    NotificationEvent,
    NotificationRegistration,
    VictimNotification,
    VictimPreferences,
)

pytestmark = pytest.mark.django_db

E = NotificationEvent
REG_API = "/api/v1/notification-registrations/"
NOTE_API = "/api/v1/victim-notifications/"
QUEUE = "/victim-services/notifications/"
ADDRESS = "inbox-regmark-5520@example.org"
# The case's victim representatives: by membership they write, as a guest they read.
REP_WRITERS = frozenset({"rep", "rep2"})
REP_READERS = REP_WRITERS | {"guest_rep"}


@pytest.fixture
def world() -> World:
    return make_world()


def edit_url(case: Case) -> str:
    return f"/cases/{case.pk}/edit/"


def register_url(world: World) -> str:
    return f"/victims/{world.victim.pk}/notification-registrations/new/"


def change_url(registration: NotificationRegistration) -> str:
    return f"/notification-registrations/{registration.pk}/edit/"


def relay_url(notification: VictimNotification) -> str:
    return f"{QUEUE}{notification.pk}/relay/"


def register_all(world: World, delivery: str = Delivery.RELAY, email: str = "") -> None:
    registrations.register(world.rep, world.case, world.victim, E.values, delivery, email)


def run_twice() -> int:
    first = tasks.notify_victims()
    assert tasks.notify_victims() == 0
    return first


def told(world: World) -> list[tuple[str, str]]:
    return sorted(
        VictimNotification.objects.filter(victim=world.victim).values_list("event", "message")
    )


def today_spoken() -> str:
    return victim_events.spoken(timezone.localdate())


def finalise(decision: CaseDecision) -> None:
    """As the decision lifecycle does it (casework.decisions.finalise): one UPDATE."""
    CaseDecision.objects.filter(pk=decision.pk).update(status="final", finalised_at=timezone.now())


# --- The officer's case summary update ---------------------------------------------------


def test_officer_updates_the_case_summary_through_the_page(world: World) -> None:
    page = web(world.officer)
    response = page.get(edit_url(world.case))
    assert response.status_code == 200
    assert 'name="next_hearing_on"' in html(response)
    response = page.post(
        edit_url(world.case),
        {
            "status": "absconded",
            "supervision_end": "2027-01-31",
            "next_hearing_on": "2027-03-03",
            "treatment_ended_on": "",
            "conditions": "No contact with the victim\n\n  Curfew 21:00  \n",
        },
    )
    assert response.status_code == 302 and response["Location"] == f"/cases/{world.case.pk}/"
    world.case.refresh_from_db()
    assert world.case.status == CaseStatus.ABSCONDED
    assert world.case.supervision_end == dt.date(2027, 1, 31)
    assert world.case.next_hearing_on == dt.date(2027, 3, 3)
    assert world.case.condition_list == ["No contact with the victim", "Curfew 21:00"]
    # Audited by the write-capture trigger, old and new values of the status and dates.
    event = AuditEvent.objects.filter(
        action=Action.UPDATE, target_type="casework.case", target_id=str(world.case.pk)
    ).latest("seq")
    assert event.actor_id == world.officer.pk
    assert event.detail["values"]["status"] == {"old": "active", "new": "absconded"}
    assert event.detail["values"]["next_hearing_on"] == {"old": None, "new": "2027-03-03"}
    shown = html(page.get(f"/cases/{world.case.pk}/"))
    assert "Update the case summary" in shown and "Curfew 21:00" in shown


def test_case_update_bad_input_is_refused_with_field_errors_keeping_what_was_typed(
    world: World,
) -> None:
    before = Case.objects.filter(pk=world.case.pk).values().get()
    page = web(world.officer)
    response = page.post(
        edit_url(world.case),
        {
            "status": "active",
            "supervision_end": "2024-12-31",  # before supervision started (6 Jan 2025)
            "next_hearing_on": "2027-03-03",
            "conditions": "Typed condition TYPEDMARK",
        },
    )
    assert response.status_code == 400
    body = html(response)
    assert "Supervision cannot end before it started" in body
    assert 'id="id_supervision_end_error"' in body
    assert "TYPEDMARK" in body and 'value="2027-03-03"' in body
    response = page.post(edit_url(world.case), {"status": "on_holiday", "conditions": ""})
    assert response.status_code == 400 and "Choose a status from the list." in html(response)
    future = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    response = page.post(edit_url(world.case), {"status": "active", "treatment_ended_on": future})
    assert response.status_code == 400 and "cannot have ended in the future" in html(response)
    assert Case.objects.filter(pk=world.case.pk).values().get() == before


def test_case_update_through_the_api(world: World) -> None:
    client = api(world.officer)
    url = f"/api/v1/cases/{world.case.pk}/"
    response = client.patch(
        url, {"next_hearing_on": "2027-03-03", "conditions": ["Curfew", " "]}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["next_hearing_on"] == "2027-03-03" and body["conditions"] == ["Curfew"]
    assert body["status"] == "active"
    before = Case.objects.filter(pk=world.case.pk).values().get()
    for payload, field in (
        ({"supervision_end": "2024-12-31"}, "supervision_end"),
        ({"status": "on_holiday"}, "status"),
        ({"next_hearing_on": "soon"}, "next_hearing_on"),
        ({"reference": "C-NEW"}, "reference"),
        ({}, "non_field_errors"),
    ):
        response = client.patch(url, payload, format="json")
        assert response.status_code == 400, payload
        assert field in response.json(), (payload, response.json())
    assert client.put(url, {"status": "closed"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    assert Case.objects.filter(pk=world.case.pk).values().get() == before
    message = client.patch(url, {"supervision_end": "2024-12-31"}, format="json").json()
    assert message["supervision_end"] == [
        "Supervision cannot end before it started (on 6 January 2025). Enter a later date."
    ]


@pytest.mark.parametrize("who", EVERYONE)
def test_case_update_permissions(world: World, who: str) -> None:
    user: User = getattr(world, who)
    officers = {"officer"}
    before = Case.objects.filter(pk=world.case.pk).values().get()
    response = web(user).get(edit_url(world.case))
    assert response.status_code == expect_form(who, officers), who
    if response.status_code == 404:
        assert denied(user, world.case), who
    response = web(user).post(edit_url(world.case), {"status": "warrant", "conditions": "x"})
    assert response.status_code == (302 if who in officers else expect_form(who, officers)), who
    response = api(user).patch(
        f"/api/v1/cases/{world.case.pk}/", {"status": "closed"}, format="json"
    )
    assert response.status_code == (200 if who in officers else expect_form(who, officers)), who
    after = Case.objects.filter(pk=world.case.pk).values().get()
    if who in officers:
        assert after["status"] == "closed"
    else:
        assert after == before, who


def test_case_update_signed_out(world: World) -> None:
    response = web(None).get(edit_url(world.case))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = api(None).patch(f"/api/v1/cases/{world.case.pk}/", {"status": "closed"})
    assert response.status_code == 401
    assert Case.objects.get(pk=world.case.pk).status == "active"


# --- Registering: the page and the API ---------------------------------------------------


def test_representative_registers_through_the_page(world: World) -> None:
    page = web(world.rep)
    response = page.get(register_url(world))
    assert response.status_code == 200
    assert f"Register {VICTIM[0]} {VICTIM[1]} for notifications" in html(response)
    response = page.post(
        register_url(world),
        {
            "case": world.case.pk,
            "events": [E.HEARING_DATE, E.END_OF_SUPERVISION],
            "delivery": "email",
            "email": ADDRESS,
        },
    )
    assert response.status_code == 302
    rows = NotificationRegistration.objects.filter(victim=world.victim).order_by("event")
    assert [(r.event, r.delivery, r.email, r.active) for r in rows] == [
        (E.END_OF_SUPERVISION, "email", ADDRESS, True),
        (E.HEARING_DATE, "email", ADDRESS, True),
    ]
    assert {r.created_by_id for r in rows} == {world.rep.pk}
    shown = html(page.get(f"/victims/{world.victim.pk}/"))
    assert 'id="notification-registrations"' in shown and ADDRESS in shown
    # Registering again for one of them updates it; nothing is duplicated.
    page.post(
        register_url(world),
        {"case": world.case.pk, "events": [E.HEARING_DATE], "delivery": "relay", "email": ""},
    )
    assert rows.count() == 2
    hearing = rows.get(event=E.HEARING_DATE)
    assert (hearing.delivery, hearing.email) == ("relay", "")


def test_representative_changes_delivery_and_stops_through_the_page(world: World) -> None:
    (row,) = registrations.register(world.rep, world.case, world.victim, [E.HEARING_DATE], "relay")
    page = web(world.rep2)
    assert page.get(change_url(row)).status_code == 200
    response = page.post(change_url(row), {"delivery": "email", "email": "", "active": "on"})
    assert response.status_code == 400
    assert registrations.NEEDS_ADDRESS in html(response)
    response = page.post(change_url(row), {"delivery": "email", "email": ADDRESS, "active": "on"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.delivery, row.email, row.active) == ("email", ADDRESS, True)
    response = page.post(change_url(row), {"delivery": "relay", "email": ADDRESS})
    assert response.status_code == 302
    row.refresh_from_db()
    # Stopped; and the address is not kept once e-mail is no longer chosen.
    assert (row.delivery, row.email, row.active) == ("relay", "", False)


def test_registration_bad_input_gets_field_errors_and_saves_nothing(world: World) -> None:
    page = web(world.rep)
    response = page.post(
        register_url(world), {"case": world.case.pk, "delivery": "email", "email": ""}
    )
    assert response.status_code == 400
    body = html(response)
    assert registrations.NO_EVENT in body and registrations.NEEDS_ADDRESS in body
    assert 'id="id_email_error"' in body
    response = page.post(
        register_url(world),
        {"case": world.case.pk, "events": [E.HEARING_DATE], "delivery": "email", "email": "x@"},
    )
    assert response.status_code == 400 and "Enter a valid e-mail address." in html(response)
    assert "checked" in html(response)  # the event chosen is kept

    client = api(world.rep)
    base = {"case": world.case.pk, "victim": world.victim.pk, "delivery": "relay"}
    for payload, field in (
        ({**base, "events": []}, "events"),
        (base, "events"),
        ({**base, "events": ["weather"]}, "events"),
        ({**base, "events": [E.HEARING_DATE], "delivery": "email"}, "email"),
        ({**base, "events": [E.HEARING_DATE], "delivery": "pigeon"}, "delivery"),
        ({**base, "events": [E.HEARING_DATE], "victim": world.other_victim.pk}, "victim"),
        ({**base, "events": [E.HEARING_DATE], "note": "x"}, "note"),
    ):
        response = client.post(REG_API, payload, format="json")
        assert response.status_code == 400, payload
        assert field in response.json(), (payload, response.json())
    message = client.post(REG_API, {**base, "events": []}, format="json").json()
    assert message["events"] == [registrations.NO_EVENT]
    message = client.post(
        REG_API, {**base, "events": [E.HEARING_DATE], "delivery": "email"}, format="json"
    ).json()
    assert message["email"] == [registrations.NEEDS_ADDRESS]

    # A victim who asked not to be contacted cannot be registered.
    VictimPreferences.objects.create(victim=world.victim, wants_contact=False)
    response = client.post(REG_API, {**base, "events": [E.HEARING_DATE]}, format="json")
    assert response.status_code == 400
    assert response.json()["victim"] == [registrations.NO_CONTACT]
    response = page.post(
        register_url(world),
        {"case": world.case.pk, "events": [E.HEARING_DATE], "delivery": "relay"},
    )
    assert response.status_code == 400 and "asked not to be contacted" in html(response)
    assert not NotificationRegistration.objects.exists()


def test_registration_through_the_api(world: World) -> None:
    client = api(world.rep)
    response = client.post(
        REG_API,
        {
            "case": world.case.pk,
            "victim": world.victim.pk,
            "events": [E.ABSCONDING_OR_WARRANT, E.HEARING_DATE],
            "delivery": "email",
            "email": ADDRESS,
        },
        format="json",
    )
    assert response.status_code == 201
    created = response.json()
    assert [row["event"] for row in created] == [E.ABSCONDING_OR_WARRANT, E.HEARING_DATE]
    assert {row["email"] for row in created} == {ADDRESS}
    listed = client.get(REG_API, {"case": world.case.pk}).json()
    assert listed["count"] == 2
    assert client.get(REG_API, {"victim": "x"}).status_code == 400
    first = created[0]["id"]
    response = client.patch(f"{REG_API}{first}/", {"delivery": "relay"}, format="json")
    assert response.status_code == 200 and response.json()["email"] == ""
    response = client.patch(f"{REG_API}{first}/", {"delivery": "email"}, format="json")
    assert response.status_code == 400 and "email" in response.json()
    response = client.patch(f"{REG_API}{first}/", {"active": False}, format="json")
    assert response.status_code == 200 and response.json()["active"] is False
    assert client.patch(f"{REG_API}{first}/", {}, format="json").status_code == 400
    assert client.patch(f"{REG_API}{first}/", {"event": "x"}, format="json").status_code == 400
    assert client.delete(f"{REG_API}{first}/").status_code == 405
    assert client.put(f"{REG_API}{first}/", {}, format="json").status_code == 405


# --- Events become notifications, exactly once ---------------------------------------


def test_each_casework_event_is_told_once_however_often_the_task_runs(world: World) -> None:
    register_all(world)
    officer = world.officer
    for kind in (
        DecisionKind.SANCTION,
        DecisionKind.RESIDENCE,
        DecisionKind.SUPERVISION_LEVEL,
        DecisionKind.TRAVEL,  # not an event victims register for
    ):
        finalise(f.make_decision(world.case, officer, kind=kind))
    f.make_decision(world.case, officer, kind=DecisionKind.SANCTION)  # a draft: not an event
    hearing = dt.date(2027, 3, 3)
    ended = timezone.localdate() - dt.timedelta(days=1)
    case_updates.update_summary(officer, world.case, {"status": "absconded"})
    case_updates.update_summary(officer, world.case, {"status": "warrant"})
    case_updates.update_summary(officer, world.case, {"status": "suspended"})  # not an event
    case_updates.update_summary(
        officer, world.case, {"next_hearing_on": hearing, "treatment_ended_on": ended}
    )
    case_updates.update_summary(officer, world.case, {"conditions": "Curfew"})  # not an event
    today = today_spoken()
    found = "A violation of the conditions of supervision was found on"
    moved = "The residence area of the person under supervision changed on"
    absconded = "The person under supervision was recorded as having absconded on"
    expected = sorted(
        [
            (E.VIOLATION_FINDING, f"{found} {today}."),
            (E.RESIDENCE_AREA_CHANGE, f"{moved} {today}."),
            (E.SUPERVISION_LEVEL_CHANGE, f"The level of supervision changed on {today}."),
            (E.ABSCONDING_OR_WARRANT, f"{absconded} {today}."),
            (E.ABSCONDING_OR_WARRANT, f"A warrant was issued on {today}."),
            (E.HEARING_DATE, "A hearing is scheduled for 3 March 2027."),
            (E.END_OF_TREATMENT, f"Treatment ended on {victim_events.spoken(ended)}."),
        ]
    )
    assert run_twice() == len(expected)
    assert told(world) == expected
    # A changed hearing date is news again; a corrected end of treatment is not.
    case_updates.update_summary(
        officer,
        world.case,
        {"next_hearing_on": dt.date(2027, 4, 7), "treatment_ended_on": ended - dt.timedelta(1)},
    )
    case_updates.update_summary(officer, world.case, {"next_hearing_on": None})  # cleared: no
    assert run_twice() == 1
    assert (E.HEARING_DATE, "A hearing is scheduled for 7 April 2027.") in told(world)
    assert len(told(world)) == len(expected) + 1


def test_end_of_supervision_is_told_once_for_a_discharge_and_the_closing(world: World) -> None:
    register_all(world)
    finalise(f.make_decision(world.case, world.officer, kind=DecisionKind.DISCHARGE))
    case_updates.update_summary(
        world.officer, world.case, {"status": "closed", "supervision_end": timezone.localdate()}
    )
    assert run_twice() == 1
    assert told(world) == [(E.END_OF_SUPERVISION, f"Supervision ended on {today_spoken()}.")]
    # A case closed with no discharge decision: the closing alone tells it.
    other = f.make_case(world.team, officer=world.officer, supervision_start=dt.date(2025, 2, 1))
    f.link_victim(other, world.victim, representative=world.rep)
    registrations.register(world.rep, other, world.victim, [E.END_OF_SUPERVISION], "relay")
    Case.objects.filter(pk=other.pk).update(status="closed", supervision_end=dt.date(2026, 5, 4))
    assert run_twice() == 1
    assert VictimNotification.objects.get(case=other).message == "Supervision ended on 4 May 2026."


def test_a_bulk_update_is_seen_like_any_other_change(world: World) -> None:
    """`QuerySet.update()` calls no save() and sends no signal; the write-capture trigger
    still records each row, and each case's victims are told once."""
    second = f.make_case(world.team, officer=world.officer)
    other_victim = f.make_victim()
    f.link_victim(second, other_victim, representative=world.rep2)
    registrations.register(world.rep, world.case, world.victim, [E.ABSCONDING_OR_WARRANT], "relay")
    registrations.register(world.rep, second, other_victim, [E.ABSCONDING_OR_WARRANT], "relay")
    untouched = f.make_case(world.team, officer=world.officer)
    Case.objects.filter(pk__in=[world.case.pk, second.pk, untouched.pk]).update(status="absconded")
    assert run_twice() == 2
    rows = VictimNotification.objects.order_by("case_id")
    assert [(row.case_id, row.victim_id) for row in rows] == sorted(
        [(world.case.pk, world.victim.pk), (second.pk, other_victim.pk)]
    )
    assert len({row.event_key for row in rows}) == 2
    # The same status written again changes nothing, and tells nothing.
    Case.objects.filter(pk__in=[world.case.pk, second.pk]).update(status="absconded")
    assert run_twice() == 0


def test_only_events_after_the_registration_are_told(world: World) -> None:
    case_updates.update_summary(world.officer, world.case, {"status": "absconded"})
    registrations.register(world.rep, world.case, world.victim, [E.ABSCONDING_OR_WARRANT], "relay")
    assert run_twice() == 0
    case_updates.update_summary(world.officer, world.case, {"status": "warrant"})
    assert run_twice() == 1
    assert told(world) == [(E.ABSCONDING_OR_WARRANT, f"A warrant was issued on {today_spoken()}.")]


def test_stopped_registrations_and_victims_who_want_no_contact_hear_nothing(
    world: World,
) -> None:
    (row,) = registrations.register(world.rep, world.case, world.victim, [E.HEARING_DATE], "relay")
    registrations.change_registration(world.rep, row, active=False)
    case_updates.update_summary(world.officer, world.case, {"next_hearing_on": dt.date(2027, 1, 5)})
    assert run_twice() == 0
    # Resumed: only what happens from now on.
    registrations.change_registration(world.rep, row, active=True)
    assert run_twice() == 0
    case_updates.update_summary(world.officer, world.case, {"next_hearing_on": dt.date(2027, 2, 9)})
    assert run_twice() == 1
    # The victim then asks not to be contacted at all: nothing more, and no resuming.
    VictimPreferences.objects.create(victim=world.victim, wants_contact=False)
    case_updates.update_summary(world.officer, world.case, {"next_hearing_on": dt.date(2027, 3, 9)})
    assert run_twice() == 0
    registrations.change_registration(world.rep, row, active=False)
    with pytest.raises(Exception, match="asked not to be contacted"):
        registrations.change_registration(world.rep, row, active=True)


def test_the_beat_runs_the_task_every_minute() -> None:
    entries = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "victims.tasks.notify_victims"
    ]
    assert len(entries) == 1
    assert str(entries[0]["schedule"]) == "<crontab: * * * * * (m/h/dM/MY/d)>"


# --- Delivery ---------------------------------------------------------------------------


def _markers(world: World) -> list[str]:
    """What a victim's e-mail must never carry: the case, anyone's name, the team."""
    return [
        REFERENCE,
        *SUPERVISEE,
        *VICTIM,
        TEAM_NAME,
        # The team's members, by their marked first names ("Officerfirstmark", ...).
        *(user.first_name for user in world.people.values() if "mark" in user.first_name),
    ]


def test_email_delivery_sends_the_message_and_a_signature_only(world: World) -> None:
    register_all(world, delivery=Delivery.EMAIL, email=ADDRESS)
    mail.outbox = []
    case_updates.update_summary(
        world.officer, world.case, {"status": "warrant", "next_hearing_on": dt.date(2027, 3, 3)}
    )
    assert run_twice() == 2
    to_victim = [message for message in mail.outbox if ADDRESS in message.to]
    assert len(to_victim) == 2 and len(mail.outbox) == 2  # nobody else was e-mailed
    bodies = sorted(message.body for message in to_victim)
    assert bodies == sorted(
        f"{text}\n\n{victim_events.EMAIL_SIGNATURE}\n"
        for text in (
            f"A warrant was issued on {today_spoken()}.",
            "A hearing is scheduled for 3 March 2027.",
        )
    )
    for message in to_victim:
        text = f"{message.subject}\n{message.body}\n{message.from_email}"
        for marker in _markers(world):
            assert marker.lower() not in text.lower(), marker
    rows = VictimNotification.objects.all()
    assert all(row.emailed_at is not None and row.delivery == "email" for row in rows)
    assert not registrations.awaiting_relay(world.rep).exists()
    assert not Notification.objects.filter(kind=NotificationKind.VICTIM_NOTIFICATION).exists()
    # The trail says it was e-mailed; never the address or the message.
    event = AuditEvent.objects.get(
        action=Action.NOTIFY, target_type="victims.victimnotification", target_id=str(rows[0].pk)
    )
    assert event.detail["emailed"] is True
    assert ADDRESS not in str(event.detail) and "warrant" not in str(event.detail).lower()


def test_a_failed_email_is_left_for_the_representatives_to_relay(world: World) -> None:
    register_all(world, delivery=Delivery.EMAIL, email=ADDRESS)
    case_updates.update_summary(world.officer, world.case, {"status": "absconded"})
    mail.outbox = []
    broken = mock.Mock()
    broken.send_messages.side_effect = OSError(f"550 {ADDRESS} rejected")
    with mock.patch("victims.victim_events.get_connection", return_value=broken):
        assert run_twice() == 1
    notification = VictimNotification.objects.get()
    assert notification.emailed_at is None
    assert list(registrations.awaiting_relay(world.rep)) == [notification]
    alerts = Notification.objects.filter(kind=NotificationKind.VICTIM_NOTIFICATION)
    assert [a.recipient_id for a in alerts] == [world.rep.pk]  # the victim's representative
    assert "could not be sent" in alerts[0].title
    # Their e-mail says only that something waits, with a link.
    (message,) = mail.outbox
    assert message.to == [world.rep.email]
    for marker in [*_markers(world), "absconded"]:
        assert marker.lower() not in message.body.lower(), marker


def test_relay_delivery_lands_in_the_queue_and_is_marked_relayed(world: World) -> None:
    register_all(world)
    case_updates.update_summary(world.officer, world.case, {"status": "absconded"})
    mail.outbox = []
    assert run_twice() == 1
    notification = VictimNotification.objects.get()
    alert = Notification.objects.get(kind=NotificationKind.VICTIM_NOTIFICATION)
    assert alert.recipient_id == world.rep.pk
    assert alert.link == f"{QUEUE}#victim-notification-{notification.pk}"
    assert [m.to for m in mail.outbox] == [[world.rep.email]]
    assert "An event is waiting for you to relay to a victim." in mail.outbox[0].body

    page = web(world.rep2)  # any representative of the team relays
    shown = html(page.get(QUEUE))
    assert f'id="victim-notification-{notification.pk}"' in shown
    assert notification.message in shown and f"{VICTIM[0]} {VICTIM[1]}" in shown
    response = page.post(relay_url(notification), {"relay_note": "  "})
    assert response.status_code == 400 and "Say how it was relayed" in html(response)
    response = page.post(relay_url(notification), {"relay_note": "Phoned her at 14:30"})
    assert response.status_code == 302
    notification.refresh_from_db()
    assert notification.relayed_by_id == world.rep2.pk
    assert notification.relay_note == "Phoned her at 14:30" and notification.relayed_at
    again = page.post(relay_url(notification), {"relay_note": "Again"})
    assert again.status_code == 400 and "already relayed" in html(again)
    notification.refresh_from_db()
    assert notification.relay_note == "Phoned her at 14:30"
    assert 'id="to-relay"' in html(page.get(QUEUE))
    assert f"Relayed by {world.rep2}" in html(page.get(QUEUE))

    # Through the API.
    case_updates.update_summary(world.officer, world.case, {"status": "warrant"})
    assert run_twice() == 1
    client = api(world.rep)
    waiting = client.get(NOTE_API, {"to_relay": "true"}).json()
    assert waiting["count"] == 1
    (row,) = waiting["results"]
    assert row["status"] == "to_relay" and row["message"].startswith("A warrant was issued")
    url = f"{NOTE_API}{row['id']}/relay/"
    assert client.get(url).status_code == 405
    assert client.post(url, {"relay_note": ""}, format="json").status_code == 400
    assert client.post(url, {"relay_note": "x", "when": "now"}, format="json").status_code == 400
    response = client.post(url, {"relay_note": "Told in person"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "relayed"
    again = client.post(url, {"relay_note": "Again"}, format="json")
    assert again.status_code == 400 and "non_field_errors" in again.json()
    assert client.get(NOTE_API, {"to_relay": "true"}).json()["count"] == 0
    assert client.get(NOTE_API, {"to_relay": "maybe"}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_create_and_send_each_notification_once() -> None:
    world = make_world()
    register_all(world, delivery=Delivery.EMAIL, email=ADDRESS)
    for status in ("absconded", "warrant", "active", "absconded"):
        case_updates.update_summary(world.officer, world.case, {"status": status})
    mail.outbox = []
    barrier = threading.Barrier(3)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(victim_events.notify_victims())
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sum(results) == 3, results  # absconded twice (two events) and the warrant
    assert VictimNotification.objects.count() == 3
    assert len([m for m in mail.outbox if ADDRESS in m.to]) == 3
    assert victim_events.notify_victims() == 0


# --- Nobody but the case's victim representatives sees any of it -------------------------


@pytest.fixture
def registered(world: World) -> dict[str, Any]:
    """On each team's case: a registration (e-mail, to a marked address) and a
    notification waiting to be relayed (its e-mail failed)."""
    (mine,) = registrations.register(
        world.rep, world.case, world.victim, [E.ABSCONDING_OR_WARRANT], "email", ADDRESS
    )
    (theirs,) = registrations.register(
        world.other_rep, world.other_case, world.other_victim, [E.ABSCONDING_OR_WARRANT], "relay"
    )
    Case.objects.filter(pk__in=[world.case.pk, world.other_case.pk]).update(status="warrant")
    broken = mock.Mock()
    broken.send_messages.side_effect = OSError("down")
    with mock.patch("victims.victim_events.get_connection", return_value=broken):
        assert tasks.notify_victims() == 2
    return {
        "registration": mine,
        "other_registration": theirs,
        "notification": VictimNotification.objects.get(case=world.case),
        "other_notification": VictimNotification.objects.get(case=world.other_case),
    }


@pytest.mark.parametrize("who", EVERYONE)
def test_only_the_cases_representatives_see_registrations_and_notifications(
    world: World, registered: dict[str, Any], who: str
) -> None:
    user: User = getattr(world, who)
    page, client = web(user), api(user)
    mine, notification = registered["registration"], registered["notification"]
    reads = who in REP_READERS
    other = who == "other_rep"

    # The case page and the victim page: the section, the address, only for them.
    response = page.get(f"/cases/{world.case.pk}/")
    assert response.status_code == (200 if who in SEE_CASE else 404), who
    body = html(response)
    assert ('id="victim-registrations"' in body) == reads, who
    response = page.get(f"/victims/{world.victim.pk}/")
    assert response.status_code == (200 if who in SEE_CASE else 404), who
    body = html(response)
    assert ('id="notification-registrations"' in body) == reads, who
    assert (ADDRESS in body) == reads, who
    assert (f'id="victim-notification-{notification.pk}"' in body) == reads, who

    # The API lists, counts included, and the records.
    mine_ids = {mine.pk} if reads else {registered["other_registration"].pk} if other else set()
    listed = client.get(REG_API, {"page_size": 100}).json()
    assert {row["id"] for row in listed["results"]} == mine_ids and listed["count"] == len(mine_ids)
    theirs = {registered["other_notification"].pk} if other else set()
    note_ids = {notification.pk} if reads else theirs
    listed = client.get(NOTE_API, {"page_size": 100}).json()
    assert {row["id"] for row in listed["results"]} == note_ids
    assert listed["count"] == len(note_ids), who
    for url, obj in (
        (f"{REG_API}{mine.pk}/", mine),
        (f"{NOTE_API}{notification.pk}/", notification),
    ):
        response = client.get(url)
        assert response.status_code == (200 if reads else 404), who
        if not reads:
            assert denied(user, obj), who

    # The relay queue: the case's notification for the team's representatives only.
    body = html(page.get(QUEUE))
    assert (f'id="victim-notification-{notification.pk}"' in body) == (who in REP_WRITERS), who
    if not other:  # the other team's representative has a notification of the same words
        assert (notification.message in body) == (who in REP_WRITERS), who
    else:
        assert f'id="victim-notification-{registered["other_notification"].pk}"' in body

    # Forms: the representatives of the case's team; a guest representative reads only.
    writes = who in REP_WRITERS
    assert page.get(register_url(world)).status_code == expect_form(who, REP_WRITERS), who
    forbidden = 403 if reads else 404
    for url in (change_url(mine), relay_url(notification)):
        response = page.get(url)
        assert response.status_code == (200 if writes else forbidden), (who, url)
        if response.status_code == 404:
            assert ADDRESS not in html(response)

    # Writes: made by them alone; refused with nothing changed for everyone else.
    stored = NotificationRegistration.objects.filter(pk=mine.pk).values().get()
    response = client.patch(f"{REG_API}{mine.pk}/", {"active": False}, format="json")
    assert response.status_code == (200 if writes else forbidden), who
    response = page.post(change_url(mine), {"delivery": "relay", "email": ""})
    assert response.status_code == (302 if writes else forbidden), who
    if not writes:
        assert NotificationRegistration.objects.filter(pk=mine.pk).values().get() == stored
    response = client.post(
        f"{NOTE_API}{notification.pk}/relay/", {"relay_note": f"by {who}"}, format="json"
    )
    assert response.status_code == (200 if writes else forbidden), who
    assert VictimNotification.objects.get(pk=notification.pk).relayed_at is not None or not writes
    response = client.post(
        REG_API,
        {
            "case": world.case.pk,
            "victim": world.victim.pk,
            "events": [E.HEARING_DATE],
            "delivery": "relay",
        },
        format="json",
    )
    assert response.status_code == (201 if writes else 403 if who in SEE_CASE else 400), who
    response = page.post(
        register_url(world),
        {"case": world.case.pk, "events": [E.END_OF_TREATMENT], "delivery": "relay"},
    )
    assert response.status_code == (302 if writes else expect_form(who, REP_WRITERS)), who
    made = NotificationRegistration.objects.filter(case=world.case).count()
    assert made == (3 if writes else 1), who


def test_only_the_representative_is_told_in_the_app(
    world: World, registered: dict[str, Any]
) -> None:
    alerts = Notification.objects.filter(kind=NotificationKind.VICTIM_NOTIFICATION)
    assert sorted(alerts.values_list("recipient_id", flat=True)) == sorted(
        [world.rep.pk, world.other_rep.pk]
    )


def test_signed_out_visitors_are_sent_to_sign_in(world: World, registered: dict[str, Any]) -> None:
    page, client = web(None), api(None)
    for url in (
        register_url(world),
        change_url(registered["registration"]),
        QUEUE,
        relay_url(registered["notification"]),
    ):
        response = page.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    for url in (REG_API, NOTE_API, f"{REG_API}{registered['registration'].pk}/"):
        assert client.get(url).status_code == 401, url
    response = client.post(f"{NOTE_API}{registered['notification'].pk}/relay/", {"relay_note": "x"})
    assert response.status_code == 401


# --- Query counts ------------------------------------------------------------------------


def _queries(call: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = call()
        assert response.status_code == 200
    return len(captured.captured_queries)


def test_queue_and_lists_cost_the_same_whatever_the_number_of_notifications(
    world: World,
) -> None:
    register_all(world)
    page, client = web(world.rep), api(world.rep)

    def grow(times: int) -> None:
        for index in range(times):
            case_updates.update_summary(
                world.officer, world.case, {"next_hearing_on": dt.date(2027, 1, 1 + index)}
            )
        tasks.notify_victims()

    grow(2)
    few = (
        _queries(lambda: page.get(QUEUE)),
        _queries(lambda: client.get(NOTE_API)),
        _queries(lambda: client.get(REG_API)),
        _queries(lambda: page.get(f"/victims/{world.victim.pk}/")),
    )
    grow(6)
    many = (
        _queries(lambda: page.get(QUEUE)),
        _queries(lambda: client.get(NOTE_API)),
        _queries(lambda: client.get(REG_API)),
        _queries(lambda: page.get(f"/victims/{world.victim.pk}/")),
    )
    assert VictimNotification.objects.count() == 8
    assert few == many, (few, many)
    print("queries (relay queue, notifications API, registrations API, victim page):", few)
