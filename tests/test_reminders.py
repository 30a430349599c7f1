"""The reminder engine (teams.reminders, teams.ics, teams.notify) on PostgreSQL: which rows
are due, planning a meeting's reminders, moving and cancelling a meeting, sending late,
sending exactly once (twice in a row, and from two connections at once), e-mail
preferences, what an e-mail may carry (no case content), failures of the mail server and
of one row, and the number of queries per reminder sent."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import icalendar
import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casework.models import AgendaItem, AgendaReason
from teams import ics, reminders
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
    Rsvp,
    Team,
    User,
)
from teams.notify import notify
from teams.roles import Role
from tests import factories as f

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)
OFFSETS = [48 * 60, 2 * 60]


@pytest.fixture(autouse=True)
def outbox() -> Iterator[None]:
    mail.outbox = []
    yield


def make_meeting(
    team: Team,
    attendees: list[User],
    *,
    starts_in: dt.timedelta = 3 * DAY,
    offsets: list[int] | None = None,
    title: str = "MDT case review",
    **fields: Any,
) -> ReviewMeeting:
    meeting = ReviewMeeting.objects.create(
        team=team,
        title=title,
        starts_at=timezone.now() + starts_in,
        location=fields.pop("location", "Conference room B"),
        reminder_offsets=OFFSETS if offsets is None else offsets,
        **fields,
    )
    MeetingAttendee.objects.bulk_create(
        [MeetingAttendee(meeting=meeting, user=user) for user in attendees]
    )
    return meeting


def make_reminder(
    user: User,
    *,
    send_at: dt.datetime,
    kind: str = NotificationKind.ACTION_DUE,
    status: str = ReminderStatus.PENDING,
    meeting: ReviewMeeting | None = None,
    offset: int | None = None,
) -> Reminder:
    return Reminder.objects.create(
        key=f.unique("test:reminder:"),
        kind=kind,
        recipient=user,
        meeting=meeting,
        offset_minutes=offset,
        title=f.unique("Reminder "),
        link="/cases/",
        send_at=send_at,
        status=status,
    )


def make_due(row: Reminder, behind: dt.timedelta = MINUTE) -> None:
    """Let the clock pass the row's time: its `send_at` now lies `behind` in the past."""
    Reminder.objects.filter(pk=row.pk).update(send_at=timezone.now() - behind)


def meeting_rows(meeting: ReviewMeeting) -> dict[tuple[int, int], Reminder]:
    """(recipient, offset) -> the meeting's reminder row."""
    return {
        (row.recipient_id, row.offset_minutes or 0): row
        for row in Reminder.objects.filter(meeting=meeting, kind=NotificationKind.MEETING_REMINDER)
    }


def notifications_of(row: Reminder) -> list[Notification]:
    return list(Notification.objects.filter(key__startswith=f"reminder:{row.pk}:").order_by("id"))


@pytest.fixture
def team() -> Team:
    return f.make_team()


@pytest.fixture
def people(team: Team) -> list[User]:
    return [f.make_member(team, role) for role in (Role.OFFICER, Role.SUPERVISOR, Role.VICTIM_REP)]


# --- Which rows are due -------------------------------------------------------------------


def test_only_pending_rows_whose_time_has_come_are_sent_in_time_order(
    people: list[User],
) -> None:
    user = people[0]
    now = timezone.now()
    # Created out of order: the order sent is by time, not by id.
    second = make_reminder(user, send_at=now - 2 * MINUTE)
    third = make_reminder(user, send_at=now - MINUTE)
    first = make_reminder(user, send_at=now - 3 * MINUTE)
    untouched = [
        make_reminder(user, send_at=now + HOUR),
        make_reminder(user, send_at=now - HOUR, status=ReminderStatus.SENT),
        make_reminder(user, send_at=now - HOUR, status=ReminderStatus.CANCELLED),
        make_reminder(user, send_at=now - HOUR, status=ReminderStatus.SKIPPED),
    ]
    before = {row.pk: (row.status, row.updated_at) for row in untouched}
    assert list(reminders.due()) == [first, second, third]

    report = reminders.send_due()

    assert (report.sent, report.skipped, report.late, report.failed) == (3, 0, 0, 0)
    sent = [notifications_of(row)[0] for row in (first, second, third)]
    assert [n.pk for n in sent] == sorted(n.pk for n in sent)  # in the order they fell due
    assert [m.to for m in mail.outbox] == [[user.email]] * 3
    for row in untouched:
        row.refresh_from_db()
        assert (row.status, row.updated_at) == before[row.pk]
        assert notifications_of(row) == []
    assert list(reminders.due()) == []


def test_limit_stops_after_that_many_rows(people: list[User]) -> None:
    rows = [make_reminder(people[0], send_at=timezone.now() - MINUTE) for _ in range(3)]
    assert reminders.send_due(limit=2).sent == 2
    assert reminders.send_due().sent == 1
    assert all(len(notifications_of(row)) == 1 for row in rows)


# --- Planning a meeting ---------------------------------------------------------------------


def test_plan_meeting_is_idempotent(team: Team, people: list[User]) -> None:
    meeting = make_meeting(team, people)
    assert reminders.plan_meeting(meeting) == len(people) * len(OFFSETS)
    first = {row.pk: row.key for row in Reminder.objects.filter(meeting=meeting)}
    assert reminders.plan_meeting(meeting) == 0
    assert {row.pk: row.key for row in Reminder.objects.filter(meeting=meeting)} == first
    rows = meeting_rows(meeting)
    assert set(rows) == {(user.pk, offset) for user in people for offset in OFFSETS}
    for (user_id, offset), row in rows.items():
        assert row.key == f"meeting:{meeting.pk}:before:{offset}:user:{user_id}"
        assert row.send_at == meeting.starts_at - dt.timedelta(minutes=offset)
        assert row.status == ReminderStatus.PENDING
        assert row.link == ics.meeting_link(meeting)
        assert meeting.team.name in row.title
    assert "Review meeting in 48 hours" in rows[(people[0].pk, 48 * 60)].title
    assert "Review meeting in 2 hours" in rows[(people[0].pk, 120)].title


def test_offsets_whose_time_has_passed_get_no_row(team: Team, people: list[User]) -> None:
    meeting = make_meeting(team, people, starts_in=HOUR, offsets=[48 * 60, 120, 30])
    assert reminders.plan_meeting(meeting) == len(people)
    assert {offset for _, offset in meeting_rows(meeting)} == {30}


def test_declined_and_inactive_attendees_get_none(team: Team, people: list[User]) -> None:
    declined, inactive = f.make_member(team, Role.TREATMENT), f.make_member(team, Role.POLYGRAPH)
    meeting = make_meeting(team, [*people, declined, inactive])
    MeetingAttendee.objects.filter(meeting=meeting, user=declined).update(rsvp=Rsvp.DECLINED)
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    reminders.plan_meeting(meeting)
    assert {user_id for user_id, _ in meeting_rows(meeting)} == {user.pk for user in people}


def test_planning_again_follows_attendees_and_offsets(team: Team, people: list[User]) -> None:
    """Declining cancels a person's pending rows; accepting again brings them back (their
    key exists, so a plain insert would plan nothing); an offset taken away is cancelled."""
    meeting = make_meeting(team, people)
    reminders.plan_meeting(meeting)
    someone = people[1]
    MeetingAttendee.objects.filter(meeting=meeting, user=someone).update(rsvp=Rsvp.DECLINED)
    assert reminders.cancel_for_attendee(meeting, someone.pk) == len(OFFSETS)
    assert reminders.plan_meeting(meeting) == 0
    assert {
        row.status for (user_id, _), row in meeting_rows(meeting).items() if user_id == someone.pk
    } == {ReminderStatus.CANCELLED}

    MeetingAttendee.objects.filter(meeting=meeting, user=someone).update(rsvp=Rsvp.ATTENDING)
    reminders.plan_meeting(meeting)
    rows = meeting_rows(meeting)
    assert {row.status for row in rows.values()} == {ReminderStatus.PENDING}

    meeting.reminder_offsets = [120]
    meeting.save()
    reminders.plan_meeting(meeting)
    rows = meeting_rows(meeting)
    assert {rows[(u.pk, 48 * 60)].status for u in people} == {ReminderStatus.CANCELLED}
    assert {rows[(u.pk, 120)].status for u in people} == {ReminderStatus.PENDING}


def test_planning_again_keeps_a_row_that_is_due_but_not_yet_sent(
    team: Team, people: list[User]
) -> None:
    meeting = make_meeting(team, people)
    reminders.plan_meeting(meeting)
    row = meeting_rows(meeting)[(people[0].pk, 48 * 60)]
    make_due(row)
    reminders.plan_meeting(meeting)  # someone was added, say
    row.refresh_from_db()
    assert row.status == ReminderStatus.PENDING
    assert reminders.send_due().sent == 1


def test_a_meeting_that_is_not_scheduled_is_not_planned(team: Team, people: list[User]) -> None:
    meeting = make_meeting(team, people, status=MeetingStatus.CANCELLED)
    assert reminders.plan_meeting(meeting) == 0
    assert not Reminder.objects.filter(meeting=meeting).exists()


def test_plan_counts_only_rows_it_created(people: list[User]) -> None:
    def rows() -> list[Reminder]:
        return [
            Reminder(
                key=f"test:plan:{user.pk}",
                kind=NotificationKind.ACTION_DUE,
                recipient=user,
                title="Action item due",
                link="/cases/",
                send_at=timezone.now(),
            )
            for user in people
        ]

    assert reminders.plan(rows()) == len(people)
    assert reminders.plan(rows()) == 0
    assert Reminder.objects.filter(key__startswith="test:plan:").count() == len(people)
    assert reminders.cancel_keys("test:plan:") == len(people)
    assert reminders.cancel_keys("test:plan:") == 0


# --- Moving a meeting ---------------------------------------------------------------------


def move(meeting: ReviewMeeting, by: dt.timedelta) -> None:
    meeting.starts_at += by
    meeting.sequence += 1
    meeting.save()
    reminders.move_meeting_reminders(meeting)


def test_moving_a_meeting_moves_its_pending_reminders(team: Team, people: list[User]) -> None:
    meeting = make_meeting(team, people)
    reminders.plan_meeting(meeting)
    move(meeting, 2 * DAY)
    for (_, offset), row in meeting_rows(meeting).items():
        assert row.status == ReminderStatus.PENDING and row.revision == 0
        assert row.send_at == meeting.starts_at - dt.timedelta(minutes=offset)


def test_a_sent_reminder_waits_again_when_the_meeting_moves_later(
    team: Team, people: list[User]
) -> None:
    user = people[0]
    meeting = make_meeting(team, [user])
    reminders.plan_meeting(meeting)
    row = meeting_rows(meeting)[(user.pk, 48 * 60)]
    make_due(row)
    assert reminders.send_due().sent == 1
    first_id = mail.outbox[0].extra_headers["Message-ID"]

    move(meeting, 3 * DAY)
    row.refresh_from_db()
    assert (row.status, row.revision, row.sent_at, row.late) == (
        ReminderStatus.PENDING,
        1,
        None,
        False,
    )
    assert row.send_at == meeting.starts_at - 48 * HOUR
    assert reminders.send_due().sent == 0  # its new time is ahead

    make_due(row)
    assert reminders.send_due().sent == 1
    assert [n.key for n in notifications_of(row)] == [
        f"reminder:{row.pk}:0",
        f"reminder:{row.pk}:1",
    ]
    assert len(mail.outbox) == 2
    assert mail.outbox[1].extra_headers["Message-ID"] != first_id
    assert mail.outbox[1].extra_headers["Message-ID"] == reminders.message_id(row)


def test_a_pending_reminder_whose_new_time_has_passed_is_skipped(
    team: Team, people: list[User]
) -> None:
    meeting = make_meeting(team, people)
    reminders.plan_meeting(meeting)
    move(meeting, -(3 * DAY) + 3 * HOUR)  # now three hours ahead: 48 hours before is past
    rows = meeting_rows(meeting)
    assert {rows[(u.pk, 48 * 60)].status for u in people} == {ReminderStatus.SKIPPED}
    assert {rows[(u.pk, 120)].status for u in people} == {ReminderStatus.PENDING}
    assert reminders.send_due().sent == 0


def test_moving_brings_back_no_reminder_of_someone_who_declined(
    team: Team, people: list[User]
) -> None:
    user = people[0]
    meeting = make_meeting(team, people)
    reminders.plan_meeting(meeting)
    row = meeting_rows(meeting)[(user.pk, 48 * 60)]
    make_due(row)
    reminders.send_due()
    MeetingAttendee.objects.filter(meeting=meeting, user=user).update(rsvp=Rsvp.DECLINED)
    reminders.cancel_for_attendee(meeting, user.pk)
    move(meeting, DAY)
    rows = meeting_rows(meeting)
    assert rows[(user.pk, 48 * 60)].status == ReminderStatus.SENT
    assert rows[(user.pk, 48 * 60)].revision == 0
    assert rows[(user.pk, 120)].status == ReminderStatus.CANCELLED
    assert {rows[(u.pk, 120)].status for u in people[1:]} == {ReminderStatus.PENDING}


@pytest.mark.django_db(transaction=True)
def test_moving_needs_no_transaction_from_the_caller(team: Team, people: list[User]) -> None:
    """It locks the rows it moves in a transaction of its own: called in autocommit, a
    bare select_for_update() would raise TransactionManagementError."""
    meeting = make_meeting(team, people)
    reminders.plan_meeting(meeting)
    assert not connection.in_atomic_block
    move(meeting, DAY)
    assert {row.send_at for row in meeting_rows(meeting).values()} == {
        meeting.starts_at - dt.timedelta(minutes=offset) for offset in OFFSETS
    }


# --- Cancelling a meeting -----------------------------------------------------------------


def test_cancelling_cancels_pending_reminders_and_still_sends_the_notice(
    team: Team, people: list[User]
) -> None:
    meeting = make_meeting(team, people)
    reminders.plan_meeting(meeting)
    reminders.announce(meeting, NotificationKind.MEETING_SCHEDULED)
    meeting.sequence += 1
    meeting.save()
    reminders.announce(meeting, NotificationKind.MEETING_MOVED)
    # Cancelled before the task ran: the invitation and the move invite to nothing.
    meeting.status, meeting.sequence = MeetingStatus.CANCELLED, meeting.sequence + 1
    meeting.cancelled_at = timezone.now()
    meeting.save()
    assert reminders.cancel_meeting_reminders(meeting) == len(people) * len(OFFSETS)
    assert reminders.announce(meeting, NotificationKind.MEETING_CANCELLED) == len(people)

    report = reminders.send_due()

    assert (report.sent, report.skipped) == (len(people), 2 * len(people))
    assert {row.status for row in meeting_rows(meeting).values()} == {ReminderStatus.CANCELLED}
    kinds = set(
        Reminder.objects.filter(meeting=meeting, status=ReminderStatus.SKIPPED).values_list(
            "kind", flat=True
        )
    )
    assert kinds == {NotificationKind.MEETING_SCHEDULED, NotificationKind.MEETING_MOVED}
    told = Notification.objects.filter(kind=NotificationKind.MEETING_CANCELLED)
    assert sorted(told.values_list("recipient_id", flat=True)) == sorted(u.pk for u in people)
    assert len(mail.outbox) == len(people)
    calendar = icalendar.Calendar.from_ical(attachment_of(mail.outbox[0]))
    assert str(calendar["method"]) == "CANCEL"
    (event,) = calendar.walk("VEVENT")
    assert str(event["status"]) == "CANCELLED" and event.decoded("sequence") == meeting.sequence


def test_a_cancelled_meeting_reminder_still_pending_is_skipped(
    team: Team, people: list[User]
) -> None:
    """A meeting cancelled without cancelling its rows (or a race with the task): the
    sender checks the meeting itself."""
    meeting = make_meeting(team, people[:1])
    reminders.plan_meeting(meeting)
    row = meeting_rows(meeting)[(people[0].pk, 48 * 60)]
    make_due(row)
    ReviewMeeting.objects.filter(pk=meeting.pk).update(status=MeetingStatus.CANCELLED)
    assert reminders.send_due().skipped == 1
    row.refresh_from_db()
    assert row.status == ReminderStatus.SKIPPED and notifications_of(row) == []


# --- Late sending ---------------------------------------------------------------------------


def test_rows_far_behind_are_sent_once_and_marked_late(settings: Any, people: list[User]) -> None:
    settings.REMINDER_LATE_AFTER_SECONDS = 300
    user = people[0]
    now = timezone.now()
    far = make_reminder(user, send_at=now - 3 * DAY)
    behind = make_reminder(user, send_at=now - 301 * dt.timedelta(seconds=1))
    within = make_reminder(user, send_at=now - 200 * dt.timedelta(seconds=1))

    report = reminders.send_due()

    assert (report.sent, report.late) == (3, 2)
    assert report.max_lateness >= 3 * DAY.total_seconds()
    for row, late in ((far, True), (behind, True), (within, False)):
        row.refresh_from_db()
        assert (row.status, row.late) == (ReminderStatus.SENT, late)
        assert len(notifications_of(row)) == 1
    assert reminders.send_due().sent == 0


def test_a_meeting_reminder_after_the_start_is_skipped_not_sent(
    team: Team, people: list[User]
) -> None:
    user = people[0]
    meeting = make_meeting(team, [user])
    reminders.plan_meeting(meeting)
    rows = meeting_rows(meeting)
    # The workers were down from before the first reminder until after the start.
    ReviewMeeting.objects.filter(pk=meeting.pk).update(starts_at=timezone.now() - MINUTE)
    for row in rows.values():
        make_due(row, behind=HOUR)
    report = reminders.send_due()
    assert (report.sent, report.skipped) == (0, 2)
    assert not Notification.objects.filter(recipient=user).exists()
    assert mail.outbox == []


def test_an_invitation_to_a_meeting_that_is_over_is_skipped(team: Team, people: list[User]) -> None:
    meeting = make_meeting(team, people[:1], starts_in=-2 * HOUR)
    reminders.announce(meeting, NotificationKind.MEETING_SCHEDULED, now=timezone.now() - 3 * HOUR)
    assert reminders.send_due().skipped == 1
    assert mail.outbox == []


def test_other_kinds_are_sent_however_late(people: list[User]) -> None:
    row = make_reminder(people[0], send_at=timezone.now() - 10 * DAY)
    assert reminders.send_due().late == 1
    row.refresh_from_db()
    assert row.status == ReminderStatus.SENT and row.late
    assert len(mail.outbox) == 1


# --- Exactly once ---------------------------------------------------------------------------


def test_sending_twice_sends_once(team: Team, people: list[User]) -> None:
    meeting = make_meeting(team, people)
    reminders.plan_meeting(meeting)
    for row in meeting_rows(meeting).values():
        make_due(row)
    assert reminders.send_due().sent == len(people) * len(OFFSETS)
    assert reminders.send_due().sent == 0
    for row in meeting_rows(meeting).values():
        assert len(notifications_of(row)) == 1
        assert row.notification_id == notifications_of(row)[0].pk
    assert len(mail.outbox) == len(people) * len(OFFSETS)


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_row_once(settings: Any) -> None:
    """Two runs on two connections over 200 due rows: every row is sent by exactly one
    of them, one notification and one e-mail each."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    team = f.make_team()
    users = [f.make_member(team, Role.OFFICER) for _ in range(10)]
    past = timezone.now() - MINUTE
    Reminder.objects.bulk_create(
        Reminder(
            key=f"test:race:{number}",
            kind=NotificationKind.ACTION_DUE,
            recipient=users[number % len(users)],
            title=f"Action item {number}",
            link="/cases/",
            send_at=past,
        )
        for number in range(200)
    )
    barrier = threading.Barrier(2)
    results: list[reminders.SendReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(reminders.send_due())
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == 2
    assert sum(report.sent for report in results) == 200
    print(f"\nsent by each worker: {[report.sent for report in results]}")
    rows = Reminder.objects.filter(key__startswith="test:race:")
    assert set(rows.values_list("status", flat=True)) == {ReminderStatus.SENT}
    keys = list(Notification.objects.values_list("key", flat=True))
    assert len(keys) == len(set(keys)) == 200
    assert set(keys) == {f"reminder:{pk}:0" for pk in rows.values_list("pk", flat=True)}
    assert len(mail.outbox) == 200
    assert len({m.extra_headers["Message-ID"] for m in mail.outbox}) == 200
    assert reminders.send_due().sent == 0


# --- E-mail preferences ---------------------------------------------------------------------


def test_email_off_means_in_app_only(people: list[User]) -> None:
    user, other = people[0], people[1]
    NotificationPreference.objects.create(user=user, kind=NotificationKind.ACTION_DUE, email=False)
    mine = make_reminder(user, send_at=timezone.now() - MINUTE)
    theirs = make_reminder(other, send_at=timezone.now() - MINUTE)
    assert reminders.send_due().emailed == 1
    (notification,) = notifications_of(mine)
    assert notification.emailed_at is None
    assert notifications_of(theirs)[0].emailed_at is not None
    assert [m.to for m in mail.outbox] == [[other.email]]


@pytest.mark.parametrize("kind", sorted(ALWAYS_EMAILED))
def test_safety_alerts_are_emailed_whatever_the_preference(people: list[User], kind: str) -> None:
    user = people[0]
    # Written directly: the preference services refuse it, the engine must not rely on that.
    NotificationPreference.objects.create(user=user, kind=kind, email=False)
    row = make_reminder(user, send_at=timezone.now() - MINUTE, kind=kind)
    assert reminders.send_due().emailed == 1
    assert notifications_of(row)[0].emailed_at is not None
    (sent,) = notify([user], NotificationKind(kind), "Duty-to-warn report", "/cases/", key="t")
    assert Notification.objects.get(pk=sent.pk).emailed_at is not None
    assert [m.to for m in mail.outbox] == [[user.email]] * 2


def test_notify_honours_the_preference(people: list[User]) -> None:
    user, other = people[0], people[1]
    NotificationPreference.objects.create(
        user=user, kind=NotificationKind.APPROVAL_REQUESTED, email=False
    )
    # Turned off for another kind only: still e-mailed for this one.
    NotificationPreference.objects.create(user=other, kind=NotificationKind.ACTION_DUE, email=False)
    sent = notify([user, other], NotificationKind.APPROVAL_REQUESTED, "Approve", "/", key="p")
    emailed = {
        row.recipient_id: row.emailed_at
        for row in Notification.objects.filter(pk__in=[row.pk for row in sent])
    }
    assert emailed[user.pk] is None and emailed[other.pk] is not None
    assert [m.to for m in mail.outbox] == [[other.email]]


# --- What an e-mail carries -----------------------------------------------------------------

MARKERS = ("CASEMARK", "TITLEMARK", "AGENDAMARK", "SUPMARK", "VICMARK", "CONDMARK")


def attachment_of(message: Any) -> bytes:
    ((_, content, mimetype),) = message.attachments
    assert mimetype.startswith("text/calendar")
    return content.encode() if isinstance(content, str) else bytes(content)


def test_a_meeting_reminder_carries_team_time_place_and_invitation_only(
    team: Team, people: list[User]
) -> None:
    user = people[0]
    supervisee = f.make_supervisee(first_name="SUPMARKfirst", last_name="SUPMARKlast")
    case = f.make_case(
        team, supervisee=supervisee, reference="CASEMARK-1", officer=user, conditions="CONDMARK"
    )
    f.link_victim(case, f.make_victim(first_name="VICMARKfirst", last_name="VICMARKlast"))
    meeting = make_meeting(
        team, [user], title="TITLEMARK review of SUPMARK", call_link="https://call.example/x"
    )
    AgendaItem.objects.create(
        meeting=meeting, case=case, reason=AgendaReason.ADDED, title="AGENDAMARK item"
    )
    reminders.plan_meeting(meeting)
    row = meeting_rows(meeting)[(user.pk, 120)]
    make_due(row)
    reminders.send_due()

    (message,) = mail.outbox
    body, subject, invitation = str(message.body), str(message.subject), attachment_of(message)
    everything = "\n".join(
        [subject, body, invitation.decode(), *map(str, message.extra_headers.values())]
    )
    for marker in MARKERS:
        assert marker not in everything, marker
    local = timezone.localtime(meeting.starts_at)
    assert f"Team: {team.name}" in body
    assert f"{local:%A %d %B %Y, %H:%M}" in body
    assert "Where: Conference room B" in body and "Call link: https://call.example/x" in body
    assert body.rstrip().endswith(f"{ics.meeting_link(meeting)}")
    assert subject == "MDT casework: Review meeting reminder"
    # The in-app title names the team and the time, not the meeting's free-text title.
    (notification,) = notifications_of(row)
    assert "TITLEMARK" not in notification.title and team.name in notification.title

    calendar = icalendar.Calendar.from_ical(invitation)
    (event,) = calendar.walk("VEVENT")
    assert str(event["uid"]) == ics.uid(meeting)
    assert event.decoded("sequence") == meeting.sequence == 0
    # iCalendar times are to the second.
    assert event.decoded("dtstart") == meeting.starts_at.replace(microsecond=0)
    assert event.decoded("dtend") == meeting.ends_at.replace(microsecond=0)
    assert str(event["location"]) == "Conference room B"
    assert str(event["summary"]) == f"{team.name}: MDT review meeting"


def test_other_reminders_carry_the_generic_line_and_the_link_only(people: list[User]) -> None:
    user = people[0]
    row = make_reminder(user, send_at=timezone.now() - MINUTE, kind=NotificationKind.ACTION_DUE)
    Reminder.objects.filter(pk=row.pk).update(title="CASEMARK-2: call the treatment provider")
    reminders.send_due()
    (message,) = mail.outbox
    assert "CASEMARK" not in f"{message.subject}\n{message.body}"
    assert message.attachments == []
    assert "An action item of yours is coming due." in message.body


def test_message_id_is_stable_per_row_and_revision(
    people: list[User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that dies after the mail server took the message, before its commit:
    the send is repeated with the same Message-ID (mail systems drop the copy), and the
    in-app notification is created once. Here the notification's insert fails once."""
    row = make_reminder(people[0], send_at=timezone.now() - MINUTE)
    real_create = Notification.objects.create
    calls = []

    def create_failing_once(**kwargs: Any) -> Notification:
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("the worker died here")
        return real_create(**kwargs)

    monkeypatch.setattr(Notification.objects, "create", create_failing_once)
    first = reminders.send_due()
    assert (first.sent, first.failed) == (0, 1)
    row.refresh_from_db()
    assert row.status == ReminderStatus.PENDING and notifications_of(row) == []

    assert reminders.send_due().sent == 1
    assert len(mail.outbox) == 2
    ids = {m.extra_headers["Message-ID"] for m in mail.outbox}
    assert ids == {reminders.message_id(row)} == {f"<reminder-{row.pk}.0@localhost>"}
    assert len(notifications_of(row)) == 1


def test_a_failing_row_does_not_hold_back_the_others(
    team: Team, people: list[User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first row in line raises every time: the rows behind it are still sent, and
    it stays pending for the next run."""
    bad_meeting = make_meeting(team, people[:1])
    reminders.plan_meeting(bad_meeting)
    bad = meeting_rows(bad_meeting)[(people[0].pk, 48 * 60)]
    make_due(bad, behind=HOUR)
    good = [make_reminder(user, send_at=timezone.now() - MINUTE) for user in people]
    real_details = ics.details

    def details(meeting: ReviewMeeting) -> str:
        if meeting.pk == bad_meeting.pk:
            raise ValueError("a broken meeting")
        return real_details(meeting)

    monkeypatch.setattr(ics, "details", details)
    for _ in range(2):
        report = reminders.send_due()
        bad.refresh_from_db()
        assert bad.status == ReminderStatus.PENDING and report.failed == 1
    assert all(len(notifications_of(row)) == 1 for row in good)
    monkeypatch.setattr(ics, "details", real_details)
    assert reminders.send_due().sent == 1
    assert len(notifications_of(bad)) == 1


def test_an_unreachable_mail_server_still_leaves_the_notification(
    people: list[User], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: EmailMessage, fail_silently: bool = False) -> int:
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(EmailMessage, "send", refuse)
    row = make_reminder(people[0], send_at=timezone.now() - MINUTE)
    report = reminders.send_due()
    assert (report.sent, report.emailed) == (1, 0)
    row.refresh_from_db()
    assert row.status == ReminderStatus.SENT
    (notification,) = notifications_of(row)
    assert notification.emailed_at is None
    assert mail.outbox == []


def test_an_inactive_recipient_gets_nothing(people: list[User]) -> None:
    user = people[0]
    row = make_reminder(user, send_at=timezone.now() - MINUTE)
    User.objects.filter(pk=user.pk).update(is_active=False)
    reminders.send_due()
    assert not Notification.objects.filter(recipient=user).exists()
    assert mail.outbox == []
    row.refresh_from_db()
    assert row.status != ReminderStatus.PENDING  # not tried again every minute


def test_a_recipient_without_an_address_is_told_in_the_app(people: list[User]) -> None:
    user = people[0]
    User.objects.filter(pk=user.pk).update(email="")
    row = make_reminder(user, send_at=timezone.now() - MINUTE)
    reminders.send_due()
    assert len(notifications_of(row)) == 1 and mail.outbox == []


# --- Queries per reminder -------------------------------------------------------------------


def queries_to_send(team: Team, count: int) -> int:
    users = [f.make_member(team, Role.OFFICER) for _ in range(count)]
    meeting = make_meeting(team, users, offsets=[120])
    reminders.plan_meeting(meeting)
    Reminder.objects.filter(meeting=meeting).update(send_at=timezone.now() - MINUTE)
    with CaptureQueriesContext(connection) as captured:
        report = reminders.send_due()
    assert report.sent == report.emailed == count
    return len(captured.captured_queries)


def test_queries_per_reminder_are_constant(team: Team) -> None:
    """Per row: SAVEPOINT, claim (row, recipient, meeting and team in one SELECT ...
    FOR UPDATE SKIP LOCKED), the recipient's e-mail preference, the notification's
    INSERT, the row's UPDATE, RELEASE SAVEPOINT. The run ends with one claim that finds
    nothing (and its savepoint pair)."""
    few, many = queries_to_send(team, 5), queries_to_send(team, 50)
    per_row, rest = divmod(many - few, 45)
    print(f"\nqueries to send 5 reminders: {few}, 50: {many}, per reminder: {per_row}")
    assert rest == 0
    assert few - 5 * per_row == many - 50 * per_row  # the same fixed part
    assert per_row <= 6
