"""Cases overdue for review (issue 7, item 4): an ACTIVE case whose `next_review_due` is
before today is brought to the officer who holds it, and, if it is still overdue
REVIEW_OVERDUE_SUPERVISOR_DAYS after that, to every supervisor of its team.

Each reminder is a teams.Reminder row, sent by the reminder engine (teams.reminders) in
the app and by an e-mail that carries no case content (a generic line and the link; the
reference is in the in-app title only). Its key names the case, the review date it is
about and the person, so planning every hour plans each reminder once; when the case is
reviewed its review date moves, the old keys stop matching, and nothing further is sent
about the old date.

Planning is set-based: a fixed number of queries whatever the number of cases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from casework.models import Case, CaseStatus
from teams import reminders
from teams.models import Membership, NotificationKind, Reminder
from teams.roles import Role


@dataclass(frozen=True)
class ReviewPlan:
    """The reminders created by one run (zero on a second run)."""

    officers: int = 0
    supervisors: int = 0

    @property
    def total(self) -> int:
        return self.officers + self.supervisors


def reminder_key(case_id: int, due: dt.date, stage: str, user_id: int) -> str:
    return f"review:{case_id}:{due.isoformat()}:{stage}:{user_id}"


def title(reference: str) -> str:
    return f"Case {reference} is overdue for review"


def overdue_cases(today: dt.date) -> list[tuple[int, str, int, int | None, dt.date]]:
    """(id, reference, team, assigned officer, review date) of each overdue case."""
    rows = (
        Case.objects.filter(status=CaseStatus.ACTIVE, next_review_due__lt=today)
        .order_by("next_review_due", "pk")
        .values_list("pk", "reference", "team_id", "assigned_officer_id", "next_review_due")
    )
    return [(pk, ref, team, officer, due) for pk, ref, team, officer, due in rows if due]


def _members(team_ids: set[int], today: dt.date) -> dict[tuple[int, str], list[int]]:
    """(team, role) -> the active officers and supervisors, one query. Like
    teams.selectors.team_members: the system administrator reads no case content and is
    never reminded of one."""
    found: dict[tuple[int, str], list[int]] = {}
    rows = (
        Membership.objects.active(today)
        .filter(
            team_id__in=team_ids,
            role__in=[Role.OFFICER, Role.SUPERVISOR],
            user__is_active=True,
            user__is_staff=False,
        )
        .order_by("team_id", "role", "user_id")
        .values_list("team_id", "role", "user_id")
        .distinct()
    )
    for team_id, role, user_id in rows:
        found.setdefault((team_id, role), []).append(user_id)
    return found


def plan_overdue_reviews(now: dt.datetime | None = None) -> ReviewPlan:
    """Plan, once each, the officer's reminder of every overdue case (the assigned officer
    while they are an officer of the case's team; when not, every officer of the team,
    as victims.information_requests does) and, for a case whose officer was reminded
    REVIEW_OVERDUE_SUPERVISOR_DAYS ago or more and that is still overdue, each supervisor's.
    A case with no officer to remind goes to the supervisors that many days after it fell
    overdue. All are sent at once (by the next run of the sending task)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    cases = overdue_cases(today)
    if not cases:
        return ReviewPlan()
    members = _members({team_id for _, _, team_id, _, _ in cases}, today)
    wait = dt.timedelta(days=settings.REVIEW_OVERDUE_SUPERVISOR_DAYS)

    officers_of: dict[int, list[int]] = {}
    for pk, _, team_id, assigned, _ in cases:
        team_officers = members.get((team_id, Role.OFFICER), [])
        officers_of[pk] = [assigned] if assigned in team_officers else team_officers
    officer_keys = {
        reminder_key(pk, due, "officer", user_id): pk
        for pk, _, _, _, due in cases
        for user_id in officers_of[pk]
    }
    # When each case's officer was first reminded (of this review date).
    reminded: dict[int, dt.datetime] = {}
    for key, created_at in Reminder.objects.filter(key__in=list(officer_keys)).values_list(
        "key", "created_at"
    ):
        pk = officer_keys[key]
        reminded[pk] = min(created_at, reminded.get(pk, created_at))

    officer_rows: list[Reminder] = []
    supervisor_rows: list[Reminder] = []
    for pk, reference, team_id, _, due in cases:
        link = reverse("case-detail", args=[pk])
        for user_id in officers_of[pk]:
            officer_rows.append(
                _row(reminder_key(pk, due, "officer", user_id), user_id, reference, link, now)
            )
        if officers_of[pk]:
            since = reminded.get(pk, now)  # reminded by this run: the clock starts now
        else:
            overdue_from = due + dt.timedelta(days=1)
            since = dt.datetime.combine(
                overdue_from, dt.time.min, tzinfo=timezone.get_current_timezone()
            )
        if since + wait > now:
            continue
        for user_id in members.get((team_id, Role.SUPERVISOR), []):
            supervisor_rows.append(
                _row(reminder_key(pk, due, "supervisor", user_id), user_id, reference, link, now)
            )
    return ReviewPlan(
        officers=reminders.plan(officer_rows), supervisors=reminders.plan(supervisor_rows)
    )


def _row(key: str, user_id: int, reference: str, link: str, now: dt.datetime) -> Reminder:
    return Reminder(
        key=key,
        kind=NotificationKind.REVIEW_OVERDUE,
        recipient_id=user_id,
        title=title(reference),
        link=link,
        send_at=now,
    )
