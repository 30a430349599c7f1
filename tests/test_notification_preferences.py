"""E-mail preferences (issue 7, item 6) on the page /notifications/preferences/ and through
/api/v1/notification-preferences/: every kind listed with the setting in force, safety
alerts always e-mailed, saving audited, bad input a field error with nothing saved, each
person their own only. And the person's upcoming reminders on /notifications/, in a
number of queries that does not grow with them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from teams import preferences, reminders
from teams.models import (
    ALWAYS_EMAILED,
    MeetingAttendee,
    MeetingStatus,
    Notification,
    NotificationKind,
    NotificationPreference,
    Reminder,
    ReminderStatus,
    ReviewMeeting,
    User,
)
from teams.notify import notify
from teams.roles import Role
from tests import factories as f
from tests.cast import api_as, signed_in
from tests.cast import text as html

pytestmark = pytest.mark.django_db

PAGE = "/notifications/preferences/"
API = "/api/v1/notification-preferences/"
INBOX = "/notifications/"
CHANGEABLE = [kind for kind in NotificationKind.values if kind not in ALWAYS_EMAILED]


def checkbox(page: str, kind: str) -> str:
    """The <input> tag of a kind's box."""
    match = re.search(rf'<input type="checkbox" name="{kind}"[^>]*>', page)
    assert match, kind
    return match.group(0)


def stored(user: User) -> dict[str, bool]:
    return dict(NotificationPreference.objects.filter(user=user).values_list("kind", "email"))


def effective(user: User) -> dict[str, bool]:
    return {row.kind: row.email for row in preferences.preferences_for(user)}


@pytest.fixture
def me() -> User:
    return f.make_member(f.make_team(), Role.OFFICER)


@pytest.fixture
def other() -> User:
    return f.make_member(f.make_team(), Role.VICTIM_REP)


# --- The page ---------------------------------------------------------------------------


def test_the_page_lists_every_kind_and_safety_alerts_cannot_be_turned_off(me: User) -> None:
    NotificationPreference.objects.create(user=me, kind=NotificationKind.ACTION_DUE, email=False)
    response = signed_in(me).get(PAGE)
    assert response.status_code == 200
    page = html(response)
    for kind, label in NotificationKind.choices:
        assert f'id="preference-{kind}"' in page and escape(label) in page
    assert page.count('type="checkbox"') == len(NotificationKind.values)
    for kind in ALWAYS_EMAILED:
        box = checkbox(page, kind)
        assert " checked" in box and " disabled" in box
    assert page.count(preferences.ALWAYS_EMAILED_REASON) == len(ALWAYS_EMAILED)
    assert " checked" not in checkbox(page, "action_due")
    assert " checked" in checkbox(page, "meeting_reminder")
    assert " disabled" not in checkbox(page, "meeting_reminder")
    event = AuditEvent.objects.filter(actor=me, action=Action.LIST).latest("seq")
    assert event.target_type == "teams.notificationpreference"
    assert event.detail["ids"] == [str(pk) for pk in preferences.stored_ids(me)] != []


def test_the_inbox_links_to_the_page(me: User) -> None:
    assert f'href="{PAGE}"' in html(signed_in(me).get(INBOX))


def test_saving_writes_the_changes_and_is_audited(me: User) -> None:
    ticked = [k for k in CHANGEABLE if k not in ("meeting_reminder", "action_due")]
    response = signed_in(me).post(PAGE, {kind: "on" for kind in ticked})
    assert response.status_code == 302 and response["Location"] == PAGE
    # Only what changed is stored; the safety alerts, not posted (disabled), stay on.
    assert stored(me) == {"meeting_reminder": False, "action_due": False}
    assert all(effective(me)[kind] for kind in ALWAYS_EMAILED)
    row = NotificationPreference.objects.get(user=me, kind="meeting_reminder")
    assert AuditEvent.objects.filter(
        action=Action.CREATE,
        target_type="teams.notificationpreference",
        target_id=str(row.pk),
        actor=me,
    ).exists()

    response = signed_in(me).post(PAGE, {kind: "on" for kind in [*ticked, "meeting_reminder"]})
    assert response.status_code == 302
    assert stored(me) == {"meeting_reminder": True, "action_due": False}
    assert AuditEvent.objects.filter(
        action=Action.UPDATE,
        target_type="teams.notificationpreference",
        target_id=str(row.pk),
        actor=me,
    ).exists()
    page = html(signed_in(me).get(PAGE))
    assert " checked" not in checkbox(page, "action_due")
    assert " checked" in checkbox(page, "meeting_reminder")


def test_posting_a_safety_alert_off_changes_nothing(me: User) -> None:
    response = signed_in(me).post(PAGE, {})  # every box unticked, the disabled ones too
    assert response.status_code == 302
    assert set(stored(me)) == set(CHANGEABLE)
    assert all(effective(me)[kind] for kind in ALWAYS_EMAILED)


def test_a_refused_change_re_renders_with_the_field_error(
    me: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service is the last word (a kind made always-e-mailed while the page was
    open, say): its field error shows on the page, with a 400, and nothing is saved."""

    def refuse(user: User, changes: dict[str, bool], **kwargs: Any) -> None:
        raise ValidationError({"meeting_reminder": [preferences.ALWAYS_EMAILED_REASON]})

    monkeypatch.setattr(preferences, "set_preferences", refuse)
    response = signed_in(me).post(PAGE, {"action_due": "on"})
    assert response.status_code == 400
    page = html(response)
    assert "Nothing was saved" in page
    assert f'id="id_meeting_reminder_error">{preferences.ALWAYS_EMAILED_REASON}' in page
    assert " checked" in checkbox(page, "action_due")  # as posted
    assert stored(me) == {}


def test_each_person_sees_and_changes_only_their_own(me: User, other: User) -> None:
    NotificationPreference.objects.create(user=other, kind="action_due", email=False)
    assert " checked" in checkbox(html(signed_in(me).get(PAGE)), "action_due")
    signed_in(me).post(PAGE, {})
    assert stored(other) == {"action_due": False}
    api_as(other).patch(API, {"review_overdue": False}, format="json")
    assert stored(me) == {kind: False for kind in CHANGEABLE}
    assert stored(other) == {"action_due": False, "review_overdue": False}


def test_signed_out_visitors_are_sent_to_sign_in(me: User) -> None:
    for response in (Client().get(PAGE), Client().post(PAGE, {})):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert stored(me) == {}
    assert APIClient().get(API).status_code == 401
    assert APIClient().patch(API, {"action_due": False}, format="json").status_code == 401


def test_route_permissions(me: User, other: User) -> None:
    """Everyone signed in, whatever their roles (the administrator too, who reads no
    case content: there is none here), has a page of their own; nobody reaches anyone
    else's, because no route names a person."""
    admin = f.make_user(is_staff=True)
    guest = f.make_user()  # no team at all
    for user in (me, other, admin, guest):
        assert signed_in(user).get(PAGE).status_code == 200
        assert api_as(user).get(API).status_code == 200
        assert signed_in(user).post(PAGE, {}).status_code == 302
        assert stored(user) == {kind: False for kind in CHANGEABLE}
    assert signed_in(me).put(PAGE).status_code == 405
    for method in ("post", "delete"):
        assert getattr(api_as(me), method)(API, {}, format="json").status_code == 405
    inactive = f.make_user(is_active=False)
    assert signed_in(inactive).get(PAGE).status_code == 302


# --- The API ---------------------------------------------------------------------------


def test_api_lists_every_kind_with_the_setting_in_force(me: User) -> None:
    NotificationPreference.objects.create(user=me, kind="action_due", email=False)
    # Stored off directly (the service refuses it): still shown, and in force, as on.
    NotificationPreference.objects.create(user=me, kind="duty_to_warn", email=False)
    body = api_as(me).get(API).json()
    assert [row["kind"] for row in body] == list(NotificationKind.values)
    rows = {row["kind"]: row for row in body}
    assert rows["action_due"] == {
        "kind": "action_due",
        "kind_display": "Action item coming due",
        "email": False,
        "always_emailed": False,
        "reason": "",
    }
    assert rows["duty_to_warn"]["email"] is True and rows["duty_to_warn"]["always_emailed"]
    assert rows["duty_to_warn"]["reason"] == preferences.ALWAYS_EMAILED_REASON
    assert rows["meeting_reminder"]["email"] is True
    assert AuditEvent.objects.filter(
        actor=me, action=Action.LIST, target_type="teams.notificationpreference"
    ).exists()


def test_api_patch_changes_the_kinds_named_and_put_resets_the_others(me: User) -> None:
    response = api_as(me).patch(
        API, {"meeting_reminder": False, "review_overdue": False}, format="json"
    )
    assert response.status_code == 200
    assert {row["kind"]: row["email"] for row in response.json()}["meeting_reminder"] is False
    assert stored(me) == {"meeting_reminder": False, "review_overdue": False}
    response = api_as(me).patch(API, {"meeting_reminder": True}, format="json")
    assert stored(me) == {"meeting_reminder": True, "review_overdue": False}
    response = api_as(me).put(API, {"action_due": False, "duty_to_warn": True}, format="json")
    assert response.status_code == 200
    assert {k for k, v in effective(me).items() if not v} == {"action_due"}
    assert api_as(me).patch(API, {}, format="json").status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"bogus": False, "action_due": False}, "bogus", preferences.UNKNOWN_KIND),
        ({"duty_to_warn": False, "action_due": False}, "duty_to_warn", None),
        ({"duty_to_warn_escalation": False}, "duty_to_warn_escalation", None),
        ({"action_due": "sometimes"}, "action_due", None),
        ({"action_due": None}, "action_due", None),
    ],
)
def test_api_bad_input_is_a_field_error_and_saves_nothing(
    me: User, body: dict[str, Any], field: str, message: str | None
) -> None:
    NotificationPreference.objects.create(user=me, kind="review_overdue", email=False)
    for method in ("patch", "put"):
        response = getattr(api_as(me), method)(API, body, format="json")
        assert response.status_code == 400, response.content
        errors = response.json()
        assert set(errors) == {field}
        if message:
            assert errors[field] == [message]
        if field.startswith("duty_to_warn"):
            assert errors[field] == [preferences.ALWAYS_EMAILED_REASON]
        assert stored(me) == {"review_overdue": False}


def test_api_rejects_a_body_that_is_not_an_object(me: User) -> None:
    response = api_as(me).patch(API, [{"action_due": False}], format="json")
    assert response.status_code == 400 and "non_field_errors" in response.json()
    assert stored(me) == {}


def test_the_service_refuses_what_the_api_refuses(me: User) -> None:
    with pytest.raises(ValidationError) as error:
        preferences.set_preferences(me, {"bogus": False, "duty_to_warn": False, "action_due": 1})
    assert set(error.value.message_dict) == {"bogus", "duty_to_warn", "action_due"}
    assert stored(me) == {}


def test_a_saved_preference_is_what_the_engine_honours(me: User) -> None:
    mail.outbox = []
    api_as(me).patch(API, {"approval_requested": False}, format="json")
    notify([me], NotificationKind.APPROVAL_REQUESTED, "Approve", "/", key="pref")
    notify([me], NotificationKind.DECISION_RETURNED, "Returned", "/", key="pref2")
    assert len(mail.outbox) == 1 and "returned" in mail.outbox[0].body


# --- Upcoming reminders on the inbox ------------------------------------------------------


def make_meeting(user: User, status: str = MeetingStatus.SCHEDULED) -> ReviewMeeting:
    team = f.make_team()
    meeting = ReviewMeeting.objects.create(
        team=team,
        starts_at=timezone.now() + dt.timedelta(days=5),
        location="Room 4",
        status=status,
    )
    MeetingAttendee.objects.create(meeting=meeting, user=user)
    return meeting


def add_reminders(user: User, count: int, *, start: dt.timedelta = dt.timedelta(hours=1)) -> None:
    now = timezone.now()
    reminders.plan(
        Reminder(
            key=f.unique("test:upcoming:"),
            kind=NotificationKind.ACTION_DUE,
            recipient=user,
            title=f"Upcoming {number:02d}",
            link="/cases/",
            send_at=now + start + dt.timedelta(minutes=number),
        )
        for number in range(count)
    )


def test_the_inbox_shows_own_upcoming_reminders_soonest_first(me: User, other: User) -> None:
    add_reminders(me, 25)
    add_reminders(other, 2)
    Reminder.objects.filter(recipient=other).update(title="Secret reminder")
    now = timezone.now()
    sent = Reminder.objects.create(
        key="test:sent",
        kind="action_due",
        recipient=me,
        title="Already sent",
        link="/",
        send_at=now - dt.timedelta(hours=1),
        status=ReminderStatus.SENT,
    )
    cancelled_meeting = make_meeting(me, MeetingStatus.CANCELLED)
    Reminder.objects.create(
        key="test:cancelled-meeting",
        kind="meeting_reminder",
        recipient=me,
        meeting=cancelled_meeting,
        offset_minutes=120,
        title="Of a cancelled meeting",
        link="/",
        send_at=now + dt.timedelta(minutes=1),
    )
    page = html(signed_in(me).get(INBOX))
    assert page.count('<tr id="reminder-') == 20
    assert page.index("Upcoming 00") < page.index("Upcoming 01") < page.index("Upcoming 19")
    assert "Upcoming 20" not in page
    for absent in ("Secret reminder", "Already sent", "Of a cancelled meeting"):
        assert absent not in page
    assert f'id="reminder-{sent.pk}"' not in page
    event = AuditEvent.objects.filter(
        actor=me, action=Action.LIST, target_type="teams.reminder"
    ).latest("seq")
    assert len(event.detail["ids"]) == 20


def test_the_inbox_says_when_no_reminder_is_to_come(me: User) -> None:
    assert "No reminders to come." in html(signed_in(me).get(INBOX))


def queries_for_inbox(user: User) -> int:
    client = signed_in(user)
    client.get(INBOX)  # the session and the like, loaded once
    with CaptureQueriesContext(connection) as captured:
        assert client.get(INBOX).status_code == 200
    return len(captured.captured_queries)


def test_the_inbox_takes_the_same_queries_however_many_reminders(me: User) -> None:
    """Session and user; the unread count; the page's count and rows; its LIST event;
    the reminders (with their meetings' status, in one query); their LIST event."""
    add_reminders(me, 1)
    notify([me], NotificationKind.ACTION_DUE, "One", "/", key="q1", email=False)
    few = queries_for_inbox(me)
    add_reminders(me, 30)
    for number in range(30):
        notify([me], NotificationKind.ACTION_DUE, f"N{number}", "/", key=f"qn{number}")
    meeting = make_meeting(me)
    reminders.plan_meeting(meeting)
    many = queries_for_inbox(me)
    print(f"\nqueries for the inbox: {few} with one reminder, {many} with 33")
    assert few == many
    assert Notification.objects.filter(recipient=me).count() == 31
