#!/usr/bin/env python3
"""How fast reminders go out, and that each goes out once: 10,000 reminders falling due
at the same moment, sent by two Celery workers, on PostgreSQL and Redis.

    .venv/bin/python bench/reminders.py [--count 10000] [--keep]

Starts a throwaway PostgreSQL cluster (scripts/run_tests.py's, through bench/measure.py)
unless DATABASE_URL is set, and a redis-server of its own (tests/processes.py), migrates,
and bulk-creates what the sending reads: 10 people per team, 10 meetings per team a few
hours ahead, and for each meeting one reminder per person (the 2-hour offset): --count
rows (10,000 by default) with the same send_at, the moment just after they are all in.
Two Celery worker processes (the app's settings, concurrency 1 each, EMAIL_MODE=file:
each e-mail, with its invitation, is a file) start meanwhile. At that moment the script
sends the reminders task twice, then once a second (as beat does with
REMINDER_CHECK_SECONDS=1) until no row is pending. It prints:

- the time from the first task sent until the last row was committed, and the sends per
  second;
- the rows each worker sent (each task logs how many it sent);
- the duplicates, which must be 0: notification rows beyond one per reminder key and
  revision, and e-mails beyond one per Message-ID; and any row lost (not sent, or sent
  without its notification or its e-mail). Either makes the exit status 1;
- the lateness of the rows (sent_at - send_at; sent_at is stamped when a row is
  claimed): p50, p95 and max.

With DATABASE_URL set, the rows are added to that database; only this run's are counted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, Python puts bench/ first on sys.path: take it out (bench/audit.py does
# the same), and put the project first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.measure import main as run_main  # noqa: E402
from bench.measure import percentile, persistent_connection  # noqa: E402
from tests.processes import Processes, Service  # noqa: E402

COUNT = 10_000
PER_MEETING = 10  # attendees of a meeting: the team's people
MEETINGS_PER_TEAM = 10
OFFSET_MINUTES = 120
WORKERS = 2
TASK = "teams.tasks.send_due_reminders"
SEND_TIMEOUT = 1800.0  # a bound, not a budget: 10,000 rows at 6 per second
SUCCEEDED = re.compile(rf"Task {re.escape(TASK)}\[[^\]]+\] succeeded in [\d.]+s: (\d+)")
MESSAGE_ID = re.compile(rb"^Message-ID: (\S+)", re.MULTILINE)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=COUNT, help="reminders due at once")
    parser.add_argument(
        "--keep", action="store_true", help="leave the PostgreSQL cluster running afterwards"
    )
    args = parser.parse_args(argv)
    if args.count < WORKERS:
        parser.error(f"--count must be at least {WORKERS}")
    # A duplicate or a lost reminder always fails the run (bench/measure.py's main exits
    # 1 only for a failure under --strict).
    args.strict = True
    return args


def create_meetings(count: int, stamp: str) -> list[tuple[Any, list[Any]]]:
    """Teams of PER_MEETING people with MEETINGS_PER_TEAM meetings each, two hours ahead,
    enough for `count` reminders, in bulk. Returns each meeting with its attendees."""
    from django.utils import timezone

    from teams.models import ReviewMeeting, Team, User

    meetings_needed = -(-count // PER_MEETING)
    teams = Team.objects.bulk_create(
        Team(name=f"Bench {stamp} team {t}", office="Bench office", jurisdiction="Bench county")
        for t in range(-(-meetings_needed // MEETINGS_PER_TEAM))
    )
    people = {
        team.pk: User.objects.bulk_create(
            User(
                username=f"bench-{stamp}-{team.pk}-{i}",
                email=f"bench-{stamp}-{team.pk}-{i}@example.invalid",
                password="!",  # unusable: nobody signs in as them
            )
            for i in range(PER_MEETING)
        )
        for team in teams
    }
    # Far enough ahead that no reminder is skipped for a meeting that has started.
    starts_at = timezone.now() + dt.timedelta(minutes=OFFSET_MINUTES, hours=1)
    meetings = ReviewMeeting.objects.bulk_create(
        ReviewMeeting(
            team=teams[m // MEETINGS_PER_TEAM],
            starts_at=starts_at,
            location="Conference room B",
            reminder_offsets=[OFFSET_MINUTES],
        )
        for m in range(meetings_needed)
    )
    return [(meeting, people[meeting.team_id]) for meeting in meetings]


def create_reminders(
    count: int, meetings: list[tuple[Any, list[Any]]], due: dt.datetime
) -> tuple[int, int]:
    """`count` reminders, one per attendee of each meeting, all due at `due`, in bulk
    (rows like those teams.reminders.plan_meeting writes). Returns the first and last id."""
    from django.utils import timezone

    from teams import ics
    from teams.models import NotificationKind, Reminder
    from teams.reminders import meeting_reminder_key, offset_label

    rows = []
    for meeting, people in meetings:
        local = timezone.localtime(meeting.starts_at)
        title = f"Review meeting in {offset_label(OFFSET_MINUTES)}: {meeting.team.name}"
        rows += [
            Reminder(
                key=meeting_reminder_key(meeting.pk, OFFSET_MINUTES, user.pk),
                kind=NotificationKind.MEETING_REMINDER,
                recipient=user,
                meeting=meeting,
                offset_minutes=OFFSET_MINUTES,
                title=f"{title}, {local:%a %d %b %Y %H:%M}"[:200],
                link=ics.meeting_link(meeting),
                send_at=due,
            )
            for user in people
        ]
    created = Reminder.objects.bulk_create(rows[:count], batch_size=2_000)
    ids = [row.pk for row in created]
    return min(ids), max(ids)


def pending(first: int, last: int) -> int:
    from teams.models import Reminder, ReminderStatus

    return Reminder.objects.filter(
        pk__gte=first, pk__lte=last, status=ReminderStatus.PENDING
    ).count()


def sent_by(service: Service) -> int:
    return sum(int(n) for n in SUCCEEDED.findall(service.text()))


def outbox_ids(mail_dir: Path) -> Counter[str]:
    """Message-ID of every e-mail written (one file per send; the header is enough)."""
    ids: Counter[str] = Counter()
    for path in mail_dir.glob("*"):
        ids.update(m.decode() for m in MESSAGE_ID.findall(path.read_bytes()))
    return ids


def check(first: int, last: int, stamp: str, mail_dir: Path) -> dict[str, Any]:
    """Duplicates and losses among this run's rows, and their lateness. A notification
    key is unique, so a duplicate could only be one made under another key: count every
    reminder notification this run's people got."""
    from teams.models import Notification, NotificationKind, Reminder, ReminderStatus
    from teams.reminders import message_id

    rows = list(
        Reminder.objects.filter(pk__gte=first, pk__lte=last).only(
            "pk", "revision", "status", "send_at", "sent_at", "updated_at"
        )
    )
    sent = [row for row in rows if row.status == ReminderStatus.SENT]
    notified = Counter(
        Notification.objects.filter(
            recipient__username__startswith=f"bench-{stamp}-",
            kind=NotificationKind.MEETING_REMINDER,
        ).values_list("key", flat=True)
    )
    keys = {row.pk: f"reminder:{row.pk}:{row.revision}" for row in sent}
    ids = outbox_ids(mail_dir)
    ours = {message_id(row) for row in rows}
    return {
        "rows": len(rows),
        "sent": len(sent),
        "not_sent": len(rows) - len(sent),
        "notification_duplicates": sum(notified.values()) - len(set(keys.values()) & set(notified)),
        "notifications_missing": sum(1 for key in keys.values() if not notified[key]),
        "email_duplicates": sum(n - 1 for mid, n in ids.items() if mid in ours and n > 1),
        "emails_missing": sum(1 for row in sent if not ids[message_id(row)]),
        "emails_foreign": sum(n for mid, n in ids.items() if mid not in ours),
        "lateness": [(row.sent_at - row.send_at).total_seconds() for row in sent if row.sent_at],
        "last_commit": max((row.updated_at for row in sent), default=None),
    }


def run(args: argparse.Namespace) -> bool:
    """Redis, the rows, two workers, the timed send, the report. True when a reminder
    was sent twice or lost."""
    workdir = Path(os.environ["VAR_DIR"]).parent  # bench/measure.py's, removed at the end
    processes = Processes(workdir, {})
    try:
        return measure(args, processes)
    finally:
        processes.close()


def measure(args: argparse.Namespace, processes: Processes) -> bool:
    redis = processes.start_redis()
    # Read by the settings at django.setup(), here and in the workers.
    os.environ["CELERY_BROKER_URL"] = f"{redis.url}/1"
    os.environ["REDIS_URL"] = f"{redis.url}/0"
    os.environ["EMAIL_MODE"] = "file"
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from config.celery_app import app

    print(f"PostgreSQL {persistent_connection()}; Redis at {redis.url}", flush=True)
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"  migrate {time.perf_counter() - started:7.1f} s", flush=True)

    processes.env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # The workers' log says how many rows each task sent.
        "LOG_LEVEL": "INFO",
    }
    # The workers start while the meetings are made; the reminders are made once they are
    # ready, due at that moment, and the first task goes right after.
    workers = [processes.worker(f"bench-w{i + 1}", wait=False) for i in range(WORKERS)]
    started = time.perf_counter()
    stamp = timezone.now().strftime("%Y%m%d%H%M%S")
    meetings = create_meetings(args.count, stamp)
    print(
        f"  {len(meetings):,} meetings of {PER_MEETING} people, bulk-created in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    processes.wait_ready(*workers)
    print(f"  {WORKERS} workers ready (concurrency 1 each)", flush=True)
    # Due a moment after they are all in (about 3 s for 10,000 rows): the first task goes
    # at that moment, so that the lateness measures the sending, not the loading.
    due = timezone.now() + dt.timedelta(seconds=max(2.0, args.count / 2_000))
    started = time.perf_counter()
    first, last = create_reminders(args.count, meetings, due)
    loaded = time.perf_counter() - started
    wait = (due - timezone.now()).total_seconds()
    print(
        f"  {args.count:,} reminders bulk-created in {loaded:.1f} s, all due at the same "
        f"moment, {max(0.0, wait):.1f} s later"
        + ("" if wait >= 0 else f" (WARNING: {-wait:.1f} s before they were all in)"),
        flush=True,
    )
    time.sleep(max(0.0, wait))

    load = os.getloadavg()[0]
    first_sent = timezone.now()
    clock = time.monotonic()
    for _ in range(WORKERS):
        app.send_task(TASK)
    tasks, next_task = WORKERS, clock + 1
    left = args.count
    while left:
        if time.monotonic() - clock > SEND_TIMEOUT:
            print(f"bench: {left:,} rows still pending after {SEND_TIMEOUT:.0f} s")
            print(processes.logs())
            return True
        if time.monotonic() >= next_task:
            app.send_task(TASK)  # beat's every-second run
            tasks, next_task = tasks + 1, next_task + 1
        time.sleep(0.2)
        left = pending(first, last)
        for worker in workers:
            if not worker.running():
                print(f"bench: {worker.name} exited\n{processes.logs()}")
                return True
    seen = time.monotonic() - clock
    print(f"  all sent; {tasks} tasks sent", flush=True)

    # Each task logs its count when it returns, a moment after its last commit.
    processes.wait_for(
        lambda: sum(sent_by(w) for w in workers) >= args.count, 60, "the workers' task logs"
    )
    per_worker = [sent_by(w) for w in workers]
    found = check(first, last, stamp, Path(os.environ["VAR_DIR"]) / "mail")
    elapsed = (found["last_commit"] - first_sent).total_seconds()
    lateness = found["lateness"]
    duplicates = found["notification_duplicates"] + found["email_duplicates"]
    lost = found["not_sent"] + found["notifications_missing"] + found["emails_missing"]

    print("\nSummary")
    print(
        f"  {found['rows']:,} reminders due at once, {WORKERS} workers (concurrency 1), "
        f"load average before {load:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"  time from the first task sent until the last row committed: {elapsed:.1f} s "
        f"(seen by polling: {seen:.1f} s)"
    )
    print(f"  sends per second: {found['sent'] / elapsed:.0f}")
    print(
        "  rows per worker (their task logs): "
        + ", ".join(f"{w.name} {n:,}" for w, n in zip(workers, per_worker, strict=True))
    )
    print(
        f"  duplicates: {duplicates} (notifications beyond one per reminder key and "
        f"revision: {found['notification_duplicates']}; e-mails beyond one per Message-ID: "
        f"{found['email_duplicates']})"
    )
    print(
        f"  lost: {lost} (not sent {found['not_sent']}, sent without a notification "
        f"{found['notifications_missing']}, without an e-mail {found['emails_missing']}); "
        f"e-mails not from these rows: {found['emails_foreign']}"
    )
    print(
        f"  lateness (sent_at - send_at): p50 {percentile(lateness, 50):.1f} s, "
        f"p95 {percentile(lateness, 95):.1f} s, max {max(lateness):.1f} s"
    )
    failed = bool(duplicates or lost or found["emails_foreign"])
    print(f"  {'FAILED: a reminder sent twice or lost' if failed else 'each reminder sent once'}")
    return failed


def main(argv: list[str] | None = None) -> int:
    return run_main(parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())
