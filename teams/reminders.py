"""Reminders that fire exactly once (issue 7; DESIGN.md "Reminders with Celery").

A reminder is a row (teams.Reminder) with a unique key naming what it is about, who gets
it and, for a meeting, the offset; its `send_at` says when. Planning writes rows (bulk,
ignoring keys that exist), so planning twice plans once; planning a meeting again also
cancels the pending rows of people or offsets no longer on it. Sending is done by
`send_due()`, which the beat task runs every REMINDER_CHECK_SECONDS:

* each row is claimed with SELECT ... FOR UPDATE SKIP LOCKED and sent in its own
  transaction, which also creates the in-app notification and marks the row sent. Two
  workers never take the same row (the second skips it); a worker killed mid-send leaves
  no trace (its transaction rolls back, the lock goes with its connection) and the row
  is sent by the next run;
* the e-mail goes out before the notification row is written, so the audit chain's lock
  (taken by the notification's insert) is held only for the commit, not for the SMTP
  conversation. An e-mail's Message-ID is fixed per row and revision: if a worker dies
  after the mail server took the message and before the commit, the repeated send
  carries the same Message-ID (mail programs that deduplicate by it show one copy; an
  SMTP conversation cannot be made part of a database transaction). The in-app
  notification is created exactly once (its key is unique too);
* a row found after its time (beat or the workers were down) is sent once, marked late
  when it is more than REMINDER_LATE_AFTER_SECONDS behind, except a meeting reminder whose
  meeting has started: that one is marked skipped (so is an invitation or a notice of a
  move for a meeting that is cancelled, or over);
* a row whose sending fails is rolled back, stays pending and is set aside for the rest
  of the run: one bad row never blocks the others, and nothing is lost.

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


def _create(rows: list[Reminder]) -> int:
    """Insert the rows whose key does not exist yet; returns how many that was.
    (`bulk_create(ignore_conflicts=True)` returns every row it was given, inserted or
    not, so the count comes from the keys found first. Two planners racing may both
    count a row; the unique key still lets only one of them insert it.)"""
    if not rows:
        return 0
    existing = set(
        Reminder.objects.filter(key__in=[row.key for row in rows]).values_list("key", flat=True)
    )
    new = [row for row in rows if row.key not in existing]
    Reminder.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def plan_meeting(meeting: ReviewMeeting, now: dt.datetime | None = None) -> int:
    """Bring a scheduled meeting's reminders in line with its attendees and offsets:
    a row for each attendee and offset whose time is still ahead; the pending rows of
    people no longer invited (or who declined) and of offsets taken away are cancelled;
    a cancelled row that is wanted again (someone declined, then accepted) waits again.
    Idempotent: call it after any change of attendees or offsets. Offsets whose time has
    passed get no row (a meeting scheduled at short notice is announced by its
    invitation instead). Returns the number of rows created."""
    now = now or timezone.now()
    if meeting.status != MeetingStatus.SCHEDULED:
        return 0
    link = ics.meeting_link(meeting)
    offsets = sorted(set(meeting.reminder_offsets), reverse=True)
    attendees = _attendee_ids(meeting)
    ours = Reminder.objects.filter(meeting=meeting, kind=NotificationKind.MEETING_REMINDER)
    rows = []
    with transaction.atomic():
        # Not by time: a row already due but not yet sent must still go.
        ours.filter(status=ReminderStatus.PENDING).filter(
            ~Q(recipient_id__in=attendees) | ~Q(offset_minutes__in=offsets)
        ).update(status=ReminderStatus.CANCELLED, updated_at=now)
        for offset in offsets:
            send_at = meeting.starts_at - dt.timedelta(minutes=offset)
            if send_at <= now:
                continue
            title = _meeting_title(meeting, f"Review meeting in {offset_label(offset)}")
            # A cancelled row was never sent at its revision: it can simply wait again.
            ours.filter(
                status=ReminderStatus.CANCELLED, offset_minutes=offset, recipient_id__in=attendees
            ).update(
                status=ReminderStatus.PENDING,
                send_at=send_at,
                title=title,
                sent_at=None,
                late=False,
                updated_at=now,
            )
            for user_id in attendees:
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
        return _create(rows)


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
    return _create(rows)


def move_meeting_reminders(meeting: ReviewMeeting, now: dt.datetime | None = None) -> int:
    """After a meeting moved: each of its reminders follows the new start. One whose new
    time is ahead waits again (sent ones too, with the next revision: a reminder of the
    old time says nothing of the new one); one whose new time has passed, and was not
    sent, is skipped. Rows of people no longer invited, or of offsets taken away, do not
    come back. Then plan_meeting() adds rows for attendees or offsets that had none.
    Runs in one transaction (its own, or the caller's). Returns the rows changed."""
    now = now or timezone.now()
    if meeting.status != MeetingStatus.SCHEDULED:
        return 0
    attendees = set(_attendee_ids(meeting))
    offsets = set(meeting.reminder_offsets)
    changed: list[Reminder] = []
    with transaction.atomic():
        # Locked: a row being sent right now is moved after its send commits, so a sent
        # row is always seen as sent and gets its next revision.
        rows = (
            Reminder.objects.select_for_update()
            .filter(meeting=meeting, kind=NotificationKind.MEETING_REMINDER)
            .exclude(status=ReminderStatus.CANCELLED)
        )
        for row in rows:
            assert row.offset_minutes is not None
            if row.recipient_id not in attendees or row.offset_minutes not in offsets:
                continue  # plan_meeting() cancels it if it is still pending
            send_at = meeting.starts_at - dt.timedelta(minutes=row.offset_minutes)
            label = offset_label(row.offset_minutes)
            row.title = _meeting_title(meeting, f"Review meeting in {label}")
            if send_at > now:
                if row.status != ReminderStatus.PENDING:
                    row.revision += 1
                row.status, row.sent_at, row.late = ReminderStatus.PENDING, None, False
                row.send_at = send_at
            elif row.status == ReminderStatus.PENDING:
                row.status, row.send_at = ReminderStatus.SKIPPED, send_at
            else:
                continue
            row.updated_at = now  # bulk_update does not touch auto_now fields
            changed.append(row)
        Reminder.objects.bulk_update(
            changed, ["title", "status", "sent_at", "late", "send_at", "revision", "updated_at"]
        )
        plan_meeting(meeting, now)
    return len(changed)


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
    return _create(list(rows))


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
    failed: int = 0  # raised while sending: left pending for the next run
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
    transaction. Safe to run on many workers at once: see the module's docstring.

    A row whose sending raises is rolled back (it stays pending) and set aside for the
    rest of this run, so that one bad row cannot hold back everyone else's reminders:
    being first in line, it would otherwise be claimed and fail again forever. The next
    run tries it again."""
    report = SendReport()
    stop_at = time.monotonic() + seconds if seconds else None
    failed: list[int] = []
    # Each meeting's calendar file, made once per run (not once per attendee).
    invitations: dict[tuple[int, int], bytes] = {}
    while limit is None or report.sent + report.skipped < limit:
        if stop_at is not None and time.monotonic() > stop_at:
            break
        claimed: int | None = None
        try:
            with transaction.atomic():
                row = (
                    due()
                    .exclude(pk__in=failed)
                    .select_for_update(skip_locked=True, of=("self",))
                    .select_related("recipient", "meeting", "meeting__team")
                    .first()
                )
                if row is None:
                    break
                claimed = row.pk
                _send(row, report, invitations)
        except Exception:
            if claimed is None:
                raise  # the claim itself failed (the database is away): nothing to set aside
            logger.exception("reminder %s could not be sent; it is tried again next run", claimed)
            failed.append(claimed)
            report.failed += 1
    return report


def _send(row: Reminder, report: SendReport, invitations: dict[tuple[int, int], bytes]) -> None:
    now = timezone.now()
    meeting = row.meeting
    if meeting is not None and (
        (
            row.kind == NotificationKind.MEETING_REMINDER
            and (meeting.status != MeetingStatus.SCHEDULED or meeting.starts_at <= now)
        )
        or (
            # An invitation to a meeting that was cancelled, or is over (the workers were
            # down across it), invites to nothing.
            row.kind in (NotificationKind.MEETING_SCHEDULED, NotificationKind.MEETING_MOVED)
            and (meeting.status == MeetingStatus.CANCELLED or meeting.ends_at <= now)
        )
    ):
        row.status = ReminderStatus.SKIPPED
        row.save(update_fields=["status", "updated_at"])
        report.skipped += 1
        return
    if not row.recipient.is_active:
        # The account was closed after the row was planned: nobody to tell.
        row.status = ReminderStatus.CANCELLED
        row.save(update_fields=["status", "updated_at"])
        report.skipped += 1
        return
    behind = (now - row.send_at).total_seconds()
    row.late = behind > settings.REMINDER_LATE_AFTER_SECONDS
    if row.late and row.kind == NotificationKind.MEETING_REMINDER and meeting is not None:
        # "in 48 hours" no longer holds for a reminder sent after an outage: say how long
        # is actually left.
        left = max(int((meeting.starts_at - now).total_seconds() // 60), 1)
        row.title = _meeting_title(meeting, f"Review meeting in {offset_label(left)}")
    emailed_at = _email(row, invitations)
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
    row.notification = notification
    row.save(update_fields=["status", "sent_at", "late", "title", "notification", "updated_at"])
    report.sent += 1
    report.late += int(row.late)
    report.emailed += int(emailed_at is not None)
    report.lateness.append(behind)


def message_id(row: Reminder) -> str:
    host = urlsplit(settings.APP_BASE_URL).hostname or "localhost"
    return f"<reminder-{row.pk}.{row.revision}@{host}>"


def _email(row: Reminder, invitations: dict[tuple[int, int], bytes]) -> dt.datetime | None:
    recipient: User = row.recipient
    if not recipient.email or email_off([recipient.pk], row.kind):
        return None
    details, attachments = "", []
    if row.kind in MEETING_KINDS and row.meeting is not None:
        meeting = row.meeting
        details = ics.details(meeting)
        key = (meeting.pk, meeting.sequence)
        if key not in invitations:
            invitations[key] = ics.invitation(meeting)
        attachments = [(ics.filename(meeting), invitations[key], ics.CONTENT_TYPE)]
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
    """A person's own reminders still to come, soonest first (the notifications page)."""
    return (
        Reminder.objects.filter(recipient_id=user.pk, status=ReminderStatus.PENDING)
        .filter(Q(meeting__isnull=True) | Q(meeting__status=MeetingStatus.SCHEDULED))
        .order_by("send_at", "id")
    )
