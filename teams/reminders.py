"""Reminders that fire exactly once (issue 7; DESIGN.md "Reminders with Celery").

A reminder is a row (teams.Reminder) with a unique key naming what it is about, who gets
it and, for a meeting, the offset; its `send_at` says when. Planning writes rows and
nothing else (bulk, ignoring keys that exist), so planning twice plans once. Sending is
done by `send_due()`, which the beat task runs every REMINDER_CHECK_SECONDS:

* each row is claimed with SELECT ... FOR UPDATE SKIP LOCKED and sent in its own
  transaction, which also creates the in-app notification and marks the row sent. Two
  workers never take the same row (the second skips it); a worker killed mid-send leaves
  no trace (its transaction rolls back, the lock goes with its connection) and the row
  is sent by the next run;
* the e-mail goes out before the notification row is written, so the audit chain's lock
  (taken by the notification's insert) is held only for the commit, not for the SMTP
  conversation. An e-mail's Message-ID is fixed per row and revision: if a worker dies
  after the mail server took the message and before the commit, the repeated send
  carries the same Message-ID, which mail systems use to drop the copy. The in-app
  notification is created exactly once (its key is unique too);
* a row found after its time (beat or the workers were down) is sent once, marked late
  when it is more than REMINDER_LATE_AFTER_SECONDS behind, except a meeting reminder whose
  meeting has started: that one is marked skipped.

No ETA or countdown task is ever queued: the schedule lives in the database, where a
restart of Redis or of the workers cannot lose it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from teams import ics
from teams.models import (
    MeetingAttendee,
    MeetingStatus,
    Notification,
    NotificationKind,
    Reminder,
    ReminderStatus,
    ReviewMeeting,
    User,
)
from teams.notify import email_off, message

logger = logging.getLogger(__name__)

# Kinds about a meeting: their e-mail carries the team, time and place, and an invitation.
MEETING_KINDS: frozenset[str] = frozenset(
    {
        NotificationKind.MEETING_SCHEDULED,
        NotificationKind.MEETING_REMINDER,
        NotificationKind.MEETING_MOVED,
        NotificationKind.MEETING_CANCELLED,
    }
)


# --- Planning -------------------------------------------------------------------------


def offset_label(minutes: int) -> str:
    """48 hours, 2 hours, 1 day 6 hours, 30 minutes."""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    for value, unit in ((days, "day"), (hours, "hour"), (mins, "minute")):
        if value:
            parts.append(f"{value} {unit}{'s' if value != 1 else ''}")
    if days and not mins and hours == 0 and days <= 2:
        return f"{days * 24} hours"
    return " ".join(parts) or "0 minutes"


def meeting_reminder_key(meeting_id: int, offset: int, user_id: int) -> str:
    return f"meeting:{meeting_id}:before:{offset}:user:{user_id}"


def _meeting_title(meeting: ReviewMeeting, what: str) -> str:
    local = timezone.localtime(meeting.starts_at)
    return f"{what}: {meeting.team.name}, {local:%a %d %b %Y %H:%M}"[:200]


def _attendee_ids(meeting: ReviewMeeting) -> list[int]:
    return list(
        MeetingAttendee.objects.filter(meeting=meeting, user__is_active=True)
        .exclude(rsvp="declined")
        .values_list("user_id", flat=True)
    )


def plan_meeting(meeting: ReviewMeeting, now: dt.datetime | None = None) -> int:
    """Rows for each attendee and offset of a scheduled meeting whose time is still ahead.
    Idempotent: call it after any change of attendees or offsets. Offsets whose time has
    passed get no row (a meeting scheduled at short notice is announced by its
    invitation instead). Returns the number of rows created."""
    now = now or timezone.now()
    if meeting.status != MeetingStatus.SCHEDULED:
        return 0
    link = ics.meeting_link(meeting)
    rows = []
    for offset in sorted(set(meeting.reminder_offsets), reverse=True):
        send_at = meeting.starts_at - dt.timedelta(minutes=offset)
        if send_at <= now:
            continue
        title = _meeting_title(meeting, f"Review meeting in {offset_label(offset)}")
        for user_id in _attendee_ids(meeting):
            rows.append(
                Reminder(
                    key=meeting_reminder_key(meeting.pk, offset, user_id),
                    kind=NotificationKind.MEETING_REMINDER,
                    recipient_id=user_id,
                    meeting=meeting,
                    offset_minutes=offset,
                    title=title,
                    link=link,
                    send_at=send_at,
                )
            )
    return len(Reminder.objects.bulk_create(rows, ignore_conflicts=True))


def announce(
    meeting: ReviewMeeting,
    kind: NotificationKind,
    user_ids: Iterable[int] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """A notice of the meeting (invitation, move, cancellation) to its attendees, or to
    `user_ids`, sent by the next run of the task. One per person and meeting sequence."""
    now = now or timezone.now()
    what = {
        NotificationKind.MEETING_SCHEDULED: "Invitation to a review meeting",
        NotificationKind.MEETING_MOVED: "Review meeting moved",
        NotificationKind.MEETING_CANCELLED: "Review meeting cancelled",
    }[kind]
    ids = _attendee_ids(meeting) if user_ids is None else list(user_ids)
    title = _meeting_title(meeting, what)
    rows = [
        Reminder(
            key=f"meeting:{meeting.pk}:{kind.value}:{meeting.sequence}:user:{user_id}",
            kind=kind,
            recipient_id=user_id,
            meeting=meeting,
            title=title,
            link=ics.meeting_link(meeting),
            send_at=now,
        )
        for user_id in ids
    ]
    return len(Reminder.objects.bulk_create(rows, ignore_conflicts=True))


def move_meeting_reminders(meeting: ReviewMeeting, now: dt.datetime | None = None) -> int:
    """After a meeting moved: each of its reminders follows the new start. One whose new
    time is ahead waits again (sent ones too: a reminder of the old time says nothing of
    the new one); one whose new time has passed, and was not sent, is skipped. Then rows
    are added for attendees or offsets that had none. Returns the rows changed."""
    now = now or timezone.now()
    changed = 0
    rows = list(
        Reminder.objects.select_for_update()
        .filter(meeting=meeting, kind=NotificationKind.MEETING_REMINDER)
        .exclude(status=ReminderStatus.CANCELLED)
    )
    for row in rows:
        assert row.offset_minutes is not None
        send_at = meeting.starts_at - dt.timedelta(minutes=row.offset_minutes)
        row.title = _meeting_title(meeting, f"Review meeting in {offset_label(row.offset_minutes)}")
        if send_at > now:
            if row.status != ReminderStatus.PENDING:
                row.revision += 1
            row.status, row.sent_at, row.late = ReminderStatus.PENDING, None, False
            row.send_at = send_at
        elif row.status == ReminderStatus.PENDING:
            row.status, row.send_at = ReminderStatus.SKIPPED, send_at
        else:
            continue
        changed += 1
    Reminder.objects.bulk_update(
        rows, ["title", "status", "sent_at", "late", "send_at", "revision", "updated_at"]
    )
    plan_meeting(meeting, now)
    return changed


def cancel_meeting_reminders(meeting: ReviewMeeting) -> int:
    """A cancelled meeting's pending reminders are cancelled (its notices still go)."""
    return Reminder.objects.filter(
        meeting=meeting,
        kind=NotificationKind.MEETING_REMINDER,
        status=ReminderStatus.PENDING,
    ).update(status=ReminderStatus.CANCELLED, updated_at=timezone.now())


def cancel_for_attendee(meeting: ReviewMeeting, user_id: int) -> int:
    """Someone removed from a meeting, or who declined it, is not reminded of it."""
    return Reminder.objects.filter(
        meeting=meeting,
        recipient_id=user_id,
        kind=NotificationKind.MEETING_REMINDER,
        status=ReminderStatus.PENDING,
    ).update(status=ReminderStatus.CANCELLED, updated_at=timezone.now())


def plan(rows: Iterable[Reminder]) -> int:
    """Rows planned by other apps (action items, reviews): created unless their key
    exists. Returns the number created."""
    return len(Reminder.objects.bulk_create(list(rows), ignore_conflicts=True))


def cancel_keys(prefix: str) -> int:
    """Cancel the pending rows whose key starts with `prefix` (an action item done)."""
    return Reminder.objects.filter(key__startswith=prefix, status=ReminderStatus.PENDING).update(
        status=ReminderStatus.CANCELLED, updated_at=timezone.now()
    )


# --- Sending --------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    late: int = 0
    skipped: int = 0
    emailed: int = 0
    lateness: list[float] = field(default_factory=list)  # seconds behind, per row sent

    @property
    def max_lateness(self) -> float:
        return max(self.lateness, default=0.0)


def due() -> Any:
    """The rows to send now, in the order they fell due."""
    return Reminder.objects.filter(
        status=ReminderStatus.PENDING, send_at__lte=timezone.now()
    ).order_by("send_at", "id")


def send_due(limit: int | None = None, seconds: float | None = None) -> SendReport:
    """Send every due row (at most `limit`, for at most `seconds`), each in its own
    transaction. Safe to run on many workers at once: see the module's docstring."""
    report = SendReport()
    stop_at = time.monotonic() + seconds if seconds else None
    while limit is None or report.sent + report.skipped < limit:
        if stop_at is not None and time.monotonic() > stop_at:
            break
        with transaction.atomic():
            row = (
                due()
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("recipient", "meeting", "meeting__team")
                .first()
            )
            if row is None:
                break
            _send(row, report)
    return report


def _send(row: Reminder, report: SendReport) -> None:
    now = timezone.now()
    meeting = row.meeting
    if meeting is not None and (
        (
            row.kind == NotificationKind.MEETING_REMINDER
            and (meeting.status != MeetingStatus.SCHEDULED or meeting.starts_at <= now)
        )
        or (
            row.kind in (NotificationKind.MEETING_SCHEDULED, NotificationKind.MEETING_MOVED)
            and meeting.status == MeetingStatus.CANCELLED
        )
    ):
        row.status = ReminderStatus.SKIPPED
        row.save(update_fields=["status", "updated_at"])
        report.skipped += 1
        return
    behind = (now - row.send_at).total_seconds()
    emailed_at = _email(row) if row.recipient.is_active else None
    notification = None
    if row.recipient.is_active:
        notification = Notification.objects.create(
            recipient=row.recipient,
            kind=row.kind,
            title=row.title,
            link=row.link,
            key=f"reminder:{row.pk}:{row.revision}",
            emailed_at=emailed_at,
        )
    row.status = ReminderStatus.SENT
    row.sent_at = now
    row.late = behind > settings.REMINDER_LATE_AFTER_SECONDS
    row.notification = notification
    row.save(update_fields=["status", "sent_at", "late", "notification", "updated_at"])
    report.sent += 1
    report.late += int(row.late)
    report.emailed += int(emailed_at is not None)
    report.lateness.append(behind)


def message_id(row: Reminder) -> str:
    host = urlsplit(settings.APP_BASE_URL).hostname or "localhost"
    return f"<reminder-{row.pk}.{row.revision}@{host}>"


def _email(row: Reminder) -> dt.datetime | None:
    recipient: User = row.recipient
    if not recipient.email or email_off([recipient.pk], row.kind):
        return None
    details, attachments = "", []
    if row.kind in MEETING_KINDS and row.meeting is not None:
        details = ics.details(row.meeting)
        attachments = [(ics.filename(row.meeting), ics.invitation(row.meeting), ics.CONTENT_TYPE)]
    mail = message(
        row.kind,
        recipient.email,
        row.link,
        details=details,
        attachments=attachments,
        message_id=message_id(row),
    )
    try:
        mail.send()
    except OSError:
        # The in-app notification stands; an unreachable mail server must not hold back
        # everyone else's reminders.
        logger.exception("reminder e-mail %s could not be sent", row.pk)
        return None
    return timezone.now()


def pending_for(user: Any) -> Any:
    """A person's own reminders still to come (their reminders page)."""
    return Reminder.objects.filter(recipient_id=user.pk, status=ReminderStatus.PENDING).filter(
        Q(meeting__isnull=True) | Q(meeting__status=MeetingStatus.SCHEDULED)
    )
