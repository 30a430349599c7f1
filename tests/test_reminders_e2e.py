"""Reminders end to end on real parts, and under faults (issue 7, "Tests"; DESIGN.md
"Reminders with Celery").

Each test starts its own processes (tests/processes.py): a redis-server on a port of its
own (so that the test can stop it and start it again), a separate `celery beat` (so that
beat can be stopped alone) and Celery workers, all on the test database (committed rows:
transaction=True), with REMINDER_CHECK_SECONDS=1 and EMAIL_MODE=file, so that the
outbox is the files under the test's VAR_DIR/mail. Meetings are planned so that their
reminders fall due a few seconds later; offsets are whole minutes, so two offsets of one
meeting fall due a minute apart. Two tests, five scenarios (sharing the waits that
whole-minute offsets impose, which would otherwise be idle):

1. a, d and e on one start of two workers (concurrency 2 each) and beat: the happy
   path's first offset; while its second offset is a minute away, 300 rows due at once
   claimed by both workers, beat and tasks sent by hand (d), then Redis stopped across a
   reminder's time and started again (e); then the happy path's second offset, on time.
2. b then c: a worker SIGKILLed in the middle of a send, before the e-mail is written,
   and again after it is written but before the commit, a worker started again each
   time (b); then beat stopped across a reminder's time and across a meeting's start,
   and started again (c: at least a minute, since a meeting starts an offset after its
   reminder). Only rows that are due can be sent, so c's rows are planned once b is
   done, and b's rows are sent before c's fall due.

Each asserts that no reminder is lost and none is sent twice: one notification per
reminder key and revision, one e-mail per Message-ID (the one exception, which b shows,
is a worker killed after the mail server took the message and before the commit: the
copy carries the same Message-ID) and nothing more in total. Each prints the lateness of
the reminders (sent_at - send_at) and its maximum.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from icalendar import Calendar

from bench.measure import percentile
from config.celery_app import app as celery_app
from teams import ics
from teams.models import (
    MeetingAttendee,
    Notification,
    Reminder,
    ReminderStatus,
    ReviewMeeting,
    Team,
    User,
)
from teams.reminders import message_id, plan_meeting
from teams.roles import Role
from tests import factories as f
from tests.processes import Processes, Service, database_url
from tests.slow_mail import SENDING, SENT, steps_path

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

TASK = "teams.tasks.send_due_reminders"
# A reminder falls due this long after its meeting is planned: time to plan it, and to
# stop beat or Redis before it.
LEAD_SECONDS = 4
# Beat sends the task every second; a reminder sent within this is on time. Generous,
# because the suite runs on two busy cores beside these processes.
ON_TIME_SECONDS = 10.0
SEND_TIMEOUT = 60.0
# Markers that must never reach an e-mail: the case, the person under supervision, the
# meeting's free-text title (someone may type a name into it).
REFERENCE = "C-E2EMARK-7731"
SUPERVISEE = ("Supe2efirst", "Supe2elast")
TITLE = "TITLEMARK review of Supe2efirst"
MARKERS = (REFERENCE, *SUPERVISEE, "TITLEMARK")
ROLES = (Role.OFFICER, Role.SUPERVISOR, Role.VICTIM_REP, Role.TREATMENT, Role.POLYGRAPH)
SUCCEEDED = re.compile(rf"Task {re.escape(TASK)}\[[^\]]+\] succeeded in [\d.]+s: (\d+)")


# --- The processes -------------------------------------------------------------------


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    """A Redis of the test's own; workers and beat are started by the test, on the test
    database, and all of it is ended even when the test fails."""
    if connection.vendor != "postgresql":
        pytest.skip("the workers share the test database: PostgreSQL only (make test)")
    processes = Processes(tmp_path, {})
    try:
        redis = processes.start_redis()
        processes.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": f"{redis.url}/1",
            "REDIS_URL": f"{redis.url}/0",
            "REMINDER_CHECK_SECONDS": "1",
            "EMAIL_MODE": "file",
            "VAR_DIR": str(tmp_path / "var"),
            "LOG_LEVEL": "INFO",
        }
        yield processes
    finally:
        processes.close()
        _no_connections_left()


def _no_connections_left(timeout: float = 10.0) -> None:
    """A killed worker's server process ends when it notices its client is gone; wait for
    that (then end any straggler), so that the test database can be flushed and dropped."""
    others = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute(others)
            pids = [row[0] for row in cursor.fetchall()]
            if not pids:
                return
            if time.monotonic() > deadline:
                for pid in pids:
                    cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
                return
            time.sleep(0.1)


def var_dir(procs: Processes) -> Path:
    return Path(procs.env["VAR_DIR"])


def send_tasks(procs: Processes, count: int) -> None:
    """The reminders task sent by hand, as an operator's `celery call` would, through the
    test's Redis."""
    assert procs.redis is not None
    with celery_app.connection_for_write(procs.env["CELERY_BROKER_URL"]) as broker:
        for _ in range(count):
            celery_app.send_task(TASK, connection=broker)


def sent_by(service: Service, since: int = 0) -> int:
    """Rows the worker reports sent (its task's return value, logged at INFO), in its log
    from character `since` on."""
    return sum(int(n) for n in SUCCEEDED.findall(service.text()[since:]))


# --- The data --------------------------------------------------------------------------


@dataclass
class Mdt:
    team: Team
    people: list[User]


def make_mdt(size: int) -> Mdt:
    """A team of `size` members, with a case whose markers must stay out of e-mail."""
    team = f.make_team()
    people = [f.make_member(team, ROLES[i % len(ROLES)]) for i in range(size)]
    f.make_case(
        team,
        reference=f"{REFERENCE}-{team.pk}",
        officer=people[0],
        supervisee=f.make_supervisee(first_name=SUPERVISEE[0], last_name=SUPERVISEE[1]),
    )
    return Mdt(team, people)


def starting_in(offsets: Iterable[int], lead: float) -> dt.datetime:
    """The start that puts the earliest reminder `lead` seconds ahead (whole seconds: the
    invitation's DTSTART has no fraction)."""
    start = timezone.now() + dt.timedelta(minutes=max(offsets), seconds=lead)
    return start.replace(microsecond=0) + dt.timedelta(seconds=1)


def plan(
    mdt: Mdt, offsets: list[int], starts_at: dt.datetime, people: list[User] | None = None
) -> tuple[ReviewMeeting, list[Reminder]]:
    """A meeting of the team with its members (or `people`) attending, and its reminders
    planned by the engine. Rows in id order."""
    attendees = people if people is not None else mdt.people
    meeting = ReviewMeeting.objects.create(
        team=mdt.team,
        title=TITLE,
        starts_at=starts_at,
        location="Conference room B",
        reminder_offsets=offsets,
    )
    MeetingAttendee.objects.bulk_create(
        [MeetingAttendee(meeting=meeting, user=user) for user in attendees]
    )
    plan_meeting(meeting)
    rows = list(Reminder.objects.filter(meeting=meeting).order_by("id"))
    assert len(rows) == len(offsets) * len(attendees), [(r.key, r.send_at) for r in rows]
    assert all(r.send_at > timezone.now() for r in rows), "planned too slowly: raise the lead"
    return meeting, rows


def fresh(rows: Iterable[Reminder]) -> list[Reminder]:
    return list(Reminder.objects.filter(pk__in=[r.pk for r in rows]).order_by("id"))


def statuses(rows: Iterable[Reminder]) -> Counter[str]:
    return Counter(r.status for r in fresh(rows))


def settled(rows: list[Reminder]) -> bool:
    """None of the rows is waiting any more (sent, or skipped)."""
    return not Reminder.objects.filter(
        pk__in=[r.pk for r in rows], status=ReminderStatus.PENDING
    ).exists()


def wait_settled(procs: Processes, rows: list[Reminder], what: str, timeout: float) -> float:
    return procs.wait_for(lambda: settled(rows), timeout, f"{what}: {len(rows)} reminders sent")


# --- The outbox ----------------------------------------------------------------------


def outbox(procs: Processes) -> list[EmailMessage]:
    """Every message Django's file backend wrote (one file per send; a file can hold
    several messages, each followed by a line of 79 dashes)."""
    messages = []
    for path in sorted((var_dir(procs) / "mail").glob("*")):
        for chunk in re.split(rb"\n-{79}\n", path.read_bytes()):
            if chunk.strip():
                parsed = email.message_from_bytes(chunk, policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                messages.append(parsed)
    return messages


def message_ids(procs: Processes) -> Counter[str]:
    return Counter(str(m["Message-ID"]) for m in outbox(procs))


def text_of(message: EmailMessage) -> str:
    """Headers and every part, decoded (the invitation included)."""
    parts = [str(message)]
    for part in message.walk():
        if not part.is_multipart():
            content = part.get_payload(decode=True)
            parts.append(content.decode(errors="replace") if isinstance(content, bytes) else "")
    return "\n".join(parts)


# --- What every scenario asserts ------------------------------------------------------


def assert_once(
    procs: Processes, rows: Iterable[Reminder], copies: Mapping[int, int] | None = None
) -> list[Reminder]:
    """Each row sent, with exactly one in-app notification for its key and revision, and
    one e-mail with its Message-ID (or `copies[row.pk]`). Returns the rows as stored."""
    stored = fresh(rows)
    assert [r.key for r in stored if r.status != ReminderStatus.SENT] == [], statuses(stored)
    keys = {r.pk: f"reminder:{r.pk}:{r.revision}" for r in stored}
    notifications = Counter(
        Notification.objects.filter(key__in=keys.values()).values_list("key", flat=True)
    )
    assert {r.key: notifications[keys[r.pk]] for r in stored} == {r.key: 1 for r in stored}
    for r in stored:
        assert r.notification is not None and r.notification.key == keys[r.pk], r.key
        assert r.notification.recipient_id == r.recipient_id, r.key
    ids = message_ids(procs)
    wanted = {r.key: (copies or {}).get(r.pk, 1) for r in stored}
    assert {r.key: ids[message_id(r)] for r in stored} == wanted
    return stored


def assert_nothing_else(procs: Processes, copies: int = 0) -> None:
    """In total, no notification and no e-mail beyond one per sent reminder (plus the
    `copies` a scenario expects)."""
    sent = list(Reminder.objects.filter(status=ReminderStatus.SENT))
    assert Notification.objects.count() == len(sent)
    messages = outbox(procs)
    assert len(messages) == len(sent) + copies
    assert {str(m["Message-ID"]) for m in messages} == {message_id(r) for r in sent}


def lateness(rows: Iterable[Reminder]) -> list[float]:
    out = []
    for row in rows:
        assert row.sent_at is not None, row.key
        out.append((row.sent_at - row.send_at).total_seconds())
    return out


def report(capsys: pytest.CaptureFixture[str], scenario: str, rows: list[Reminder]) -> float:
    """Print each reminder's lateness (or, for many, the percentiles) and the maximum."""
    times = lateness(rows)
    late = sum(r.late for r in rows)
    if len(times) <= 12:
        each = ", ".join(f"{t:.2f}" for t in times)
    else:
        each = f"p50 {percentile(times, 50):.2f}, p95 {percentile(times, 95):.2f}"
    with capsys.disabled():
        print(
            f"\n  reminders e2e, {scenario}: {len(rows)} sent, lateness (s) {each}; "
            f"max {max(times):.2f} s; marked late: {late}",
            flush=True,
        )
    return max(times)


# --- 1. Happy path; two workers at once; Redis restarted --------------------------------


def test_happy_path_two_workers_claiming_at_once_and_redis_restarted(
    procs: Processes, capsys: pytest.CaptureFixture[str]
) -> None:
    """(a) one reminder per attendee and offset, on time, in the inbox and the outbox
    with the invitation and without case content; (d) 300 rows due at once, claimed by
    two workers of two processes each, by beat's task and by 8 sent by hand: each once;
    (e) Redis stopped across a reminder's time and started again on its port: the
    workers and beat reconnect (broker_connection_retry, on by default) and it is sent
    once; then the happy path's second offset is on time too."""
    beat = procs.beat(wait=False)
    workers = [procs.worker(name, concurrency=2, wait=False) for name in ("w1", "w2")]
    procs.wait_ready(beat, *workers)
    mdt = make_mdt(3)

    # a. The happy path: two offsets, the first due in a few seconds, the second a
    # minute later.
    meeting, rows = plan(mdt, [2, 1], starting_in([2], LEAD_SECONDS))
    first = [r for r in rows if r.offset_minutes == 2]
    second = [r for r in rows if r.offset_minutes == 1]
    wait_settled(procs, first, "a, the first offset", LEAD_SECONDS + SEND_TIMEOUT)
    sent = assert_once(procs, first)
    check_happy_path(procs, meeting, mdt, sent)
    report(capsys, "a. happy path, offset 2 minutes", sent)

    # d. Two workers claiming at once: 30 meetings of 10 attendees, one offset, all due
    # at the same second; beat's task and 8 more sent by hand when they fall due.
    crowd = make_mdt(10)
    due_at = starting_in([1], LEAD_SECONDS + 2)
    many = [r for _ in range(30) for r in plan(crowd, [1], due_at)[1]]
    marks = [len(w.text()) for w in workers]
    time.sleep(max(0.0, (many[0].send_at - timezone.now()).total_seconds()))
    send_tasks(procs, 8)
    wait_settled(procs, many, "d, 300 rows due at once", SEND_TIMEOUT)
    sent = assert_once(procs, many)
    assert not any(r.late for r in sent)
    procs.wait_for(
        lambda: sum(sent_by(w, m) for w, m in zip(workers, marks, strict=True)) >= len(many),
        15,
        "d, the workers' logs accounting for every row",
    )
    per_worker = [sent_by(w, m) for w, m in zip(workers, marks, strict=True)]
    assert sum(per_worker) == len(many), per_worker
    report(capsys, "d. 300 rows due at once, two workers of two processes", sent)
    with capsys.disabled():
        print(f"    rows sent per worker (from their logs): w1 {per_worker[0]}, w2 {per_worker[1]}")

    # e. Redis stopped before a reminder's time (in-flight tasks finish in milliseconds)
    # and started again on the same port after it: the reminder waits in the database.
    assert procs.redis is not None
    _, outage = plan(mdt, [1], starting_in([1], LEAD_SECONDS))
    procs.redis.stop()
    down = time.monotonic()
    wait_until(outage[0].send_at + dt.timedelta(seconds=3))
    assert statuses(outage) == {ReminderStatus.PENDING: len(outage)}
    for worker in workers:
        assert "Connection to broker lost" in worker.text(), worker.tail()
    marks = [len(w.text()) for w in workers]
    procs.redis.start()
    back = time.monotonic()
    sent_seen = wait_settled(procs, outage, "e, after Redis came back", SEND_TIMEOUT)
    sent = assert_once(procs, outage)
    # Beat reconnected (it alone sends tasks now) and the workers run them again
    # (broker_connection_retry is on by default: retries 2, 4, 6... s apart). At least one
    # worker must; a worker that kombu's Redis transport leaves stuck after the restart (a
    # known, intermittent kombu failure in restore_unacked) is reported, not hidden: what
    # the reminders need is that nothing is lost or doubled, which holds either way, and
    # in production the worker container's health check (celery inspect ping) flags it.
    procs.wait_for(
        lambda: any(SUCCEEDED.search(w.text(), m) for w, m in zip(workers, marks, strict=True)),
        SEND_TIMEOUT,
        "e, a worker running beat's tasks again",
    )
    time.sleep(3)
    resumed = [bool(SUCCEEDED.search(w.text(), m)) for w, m in zip(workers, marks, strict=True)]
    report(capsys, "e. Redis restarted across the reminder's time", sent)
    with capsys.disabled():
        print(
            f"    Redis down {back - down:.1f} s; reminders sent {sent_seen - back:.1f} s "
            f"after it came back; beat reconnected; workers running tasks again: "
            f"{sum(resumed)} of {len(resumed)}"
        )

    # a, continued: the second offset, on time, after all of that.
    wait_settled(procs, second, "a, the second offset", SEND_TIMEOUT + 60)
    sent = assert_once(procs, second)
    check_happy_path(procs, meeting, mdt, sent)
    report(capsys, "a. happy path, offset 1 minute", sent)
    assert_nothing_else(procs)


def check_happy_path(
    procs: Processes, meeting: ReviewMeeting, mdt: Mdt, rows: list[Reminder]
) -> None:
    """One per attendee, on time, each e-mail to its recipient with the meeting's
    invitation, the team, the place and the link, and no case content."""
    assert sorted(r.recipient_id for r in rows) == sorted(u.pk for u in mdt.people)
    assert max(lateness(rows)) < ON_TIME_SECONDS, lateness(rows)
    assert not any(r.late for r in rows)
    by_id = {str(m["Message-ID"]): m for m in outbox(procs)}
    for row in rows:
        mail = by_id[message_id(row)]
        assert str(mail["To"]) == row.recipient.email
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        assert f"Team: {mdt.team.name}" in text and "Conference room B" in text
        assert f"{settings.APP_BASE_URL}{ics.meeting_link(meeting)}" in text
        invitations = [
            p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"
        ]
        assert [p.get_filename() for p in invitations] == [ics.filename(meeting)]
        invitation = invitations[0].get_payload(decode=True)
        assert isinstance(invitation, bytes)
        event = Calendar.from_ical(invitation).walk("VEVENT")[0]
        assert str(event["UID"]) == ics.uid(meeting)
        assert event.decoded("DTSTART") == meeting.starts_at
        leaked = [m for m in MARKERS if m in text_of(mail)]
        assert not leaked, leaked


def wait_until(moment: dt.datetime) -> None:
    time.sleep(max(0.0, (moment - timezone.now()).total_seconds()))


# --- 2. A worker killed in the middle of a send; beat stopped ------------------------


def steps(procs: Processes) -> list[tuple[str, str]]:
    """(step, Message-ID) of each step tests/slow_mail.py logged, in order."""
    path = steps_path(var_dir(procs))
    if not path.exists():
        return []
    return [
        (parts[0], parts[1])
        for parts in (line.split() for line in path.read_text().splitlines())
        if len(parts) == 3
    ]


def claimable(row: Reminder) -> bool:
    """Pending, and not locked by anyone (its claimer's transaction is gone)."""
    try:
        with transaction.atomic():
            query = Reminder.objects.select_for_update(nowait=True).filter(
                pk=row.pk, status=ReminderStatus.PENDING
            )
            return len(query) == 1
    except DatabaseError:
        return False


def test_worker_killed_mid_send_then_beat_stopped_across_a_reminders_time(
    procs: Processes, capsys: pytest.CaptureFixture[str]
) -> None:
    """(b) The worker (tests/e2e_settings.py: its e-mail backend pauses 2 s before and
    after writing each message) is SIGKILLed with its pool while it sends the first
    reminder, before the e-mail is written: the row is still pending and unlocked,
    nothing went out, and the next worker sends it once. That worker is killed in its
    turn after the second reminder's e-mail is written, before the commit: the row is
    pending again and the next worker (the app's own settings) sends it again, with the
    same Message-ID (the engine's documented window: a mail system may drop the copy by
    its Message-ID; the app's inbox has one).

    (c) Then beat is stopped before two meetings' reminders fall due, and started again
    a minute later: the reminder whose meeting is still ahead is sent once, marked late
    (the worker's REMINDER_LATE_AFTER_SECONDS is 5); the one whose meeting started while
    beat was down is skipped, never sent."""
    late_after = {"REMINDER_LATE_AFTER_SECONDS": "5"}
    slow = {
        **late_after,
        "DJANGO_SETTINGS_MODULE": "tests.e2e_settings",
        "SLOW_MAIL_BEFORE_SECONDS": "2",
        "SLOW_MAIL_AFTER_SECONDS": "2",
    }
    beat = procs.beat(wait=False)
    worker = procs.worker("w", env=slow, wait=False)
    procs.wait_ready(beat, worker)
    mdt = make_mdt(2)
    _, rows = plan(mdt, [1], starting_in([1], LEAD_SECONDS))
    first, second = rows
    first_id, second_id = message_id(first), message_id(second)

    # b. Killed before the e-mail is written: the row's transaction rolls back.
    procs.wait_for(
        lambda: (SENDING, first_id) in steps(procs),
        LEAD_SECONDS + SEND_TIMEOUT,
        "the worker sending the first reminder",
    )
    procs.kill(worker)
    assert statuses(rows) == {ReminderStatus.PENDING: 2}
    procs.wait_for(lambda: claimable(first), 15, "the killed worker's lock released", alive=[])
    assert message_ids(procs)[first_id] == 0
    assert not Notification.objects.exists()

    # Started again: the first is sent; killed again once the second's e-mail is out.
    worker = procs.worker("w", env=slow)
    procs.wait_for(
        lambda: (SENT, second_id) in steps(procs), SEND_TIMEOUT, "the second e-mail written"
    )
    procs.kill(worker)
    assert_once(procs, [first])
    assert fresh([second])[0].status == ReminderStatus.PENDING
    procs.wait_for(lambda: claimable(second), 15, "the killed worker's lock released", alive=[])
    assert message_ids(procs)[second_id] == 1
    assert Notification.objects.count() == 1

    # Started again, with the app's own settings: the second is sent, its e-mail again.
    worker = procs.worker("w", env=late_after)
    wait_settled(procs, rows, "b, after the second restart", SEND_TIMEOUT)
    sent = assert_once(procs, rows, copies={second.pk: 2})
    assert_nothing_else(procs, copies=1)
    assert [step for step, mid in steps(procs) if mid == first_id] == [SENDING, SENDING, SENT]
    report(capsys, "b. worker killed mid-send (before, then after the e-mail), restarted", sent)

    # c. Beat stopped before two meetings' reminders fall due; started again once the
    # second meeting (reminded one minute ahead) has started.
    ahead, ahead_rows = plan(mdt, [2], starting_in([2], LEAD_SECONDS))
    started, started_rows = plan(mdt, [1], starting_in([1], LEAD_SECONDS))
    procs.stop(beat)
    assert timezone.now() < min(r.send_at for r in ahead_rows + started_rows), "too slow"
    stopped = time.monotonic()
    wait_until(started.starts_at + dt.timedelta(seconds=1))
    assert worker.running(), worker.tail()
    assert statuses(ahead_rows + started_rows) == {ReminderStatus.PENDING: 4}
    procs.beat()
    back = time.monotonic()
    wait_settled(procs, ahead_rows + started_rows, "c, after beat came back", SEND_TIMEOUT)

    sent = assert_once(procs, ahead_rows)
    assert all(r.late for r in sent), [(r.key, r.late) for r in sent]
    assert ahead.starts_at > max(r.sent_at for r in sent if r.sent_at is not None)
    skipped = fresh(started_rows)
    assert {r.status for r in skipped} == {ReminderStatus.SKIPPED}
    assert all(r.sent_at is None and r.notification_id is None for r in skipped)
    assert not any(message_ids(procs)[message_id(r)] for r in skipped)
    assert_nothing_else(procs, copies=1)
    report(capsys, "c. beat stopped across the reminder's time, started again", sent)
    with capsys.disabled():
        print(
            f"    beat down {back - stopped:.1f} s; {len(skipped)} reminders of the meeting "
            "that started meanwhile skipped, none sent"
        )
