"""Cases overdue for review (casework.review_reminders, casework.tasks.plan_case_reminders):
which cases, the officer first and the team's supervisors REVIEW_OVERDUE_SUPERVISOR_DAYS
later, each reminder once, nothing more once the case is reviewed, a fixed number of
queries whatever the number of cases, and end to end through the sending task into the
notification table, with an e-mail that carries no case reference."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from casework import agenda, tasks
from casework.models import Case, CaseStatus
from casework.review_reminders import ReviewPlan, plan_overdue_reviews, reminder_key
from teams import reminders
from teams.models import Membership, Notification, NotificationKind, Reminder, Team, User
from teams.roles import Role
from tests import factories as f

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def outbox() -> None:
    mail.outbox = []


@pytest.fixture
def team() -> Team:
    return f.make_team()


@pytest.fixture
def officer(team: Team) -> User:
    return f.make_member(team, Role.OFFICER)


@pytest.fixture
def supervisors(team: Team) -> list[User]:
    return [f.make_member(team, Role.SUPERVISOR) for _ in range(2)]


def case_due(
    team: Team, officer: User | None, days_ago: int, status: str = CaseStatus.ACTIVE
) -> Case:
    """A case whose review was due `days_ago` days ago (0: due today, still in time)."""
    case = f.make_case(team, officer=officer)
    Case.objects.filter(pk=case.pk).update(
        next_review_due=timezone.localdate() - dt.timedelta(days=days_ago), status=status
    )
    case.refresh_from_db()
    return case


def planned(case: Case) -> dict[str, int]:
    """stage -> number of reminders planned for the case."""
    found: dict[str, int] = {}
    for key in Reminder.objects.filter(key__startswith=f"review:{case.pk}:").values_list(
        "key", flat=True
    ):
        stage = key.split(":")[3]
        found[stage] = found.get(stage, 0) + 1
    return found


def test_only_active_cases_past_their_review_date_are_overdue(team: Team, officer: User) -> None:
    overdue = case_due(team, officer, 1)
    today = case_due(team, officer, 0)
    ahead = case_due(team, officer, -5)
    closed = case_due(team, officer, 30, CaseStatus.CLOSED)
    absconded = case_due(team, officer, 30, CaseStatus.ABSCONDED)
    never = f.make_case(team, officer=officer)  # no review date
    assert plan_overdue_reviews() == ReviewPlan(officers=1, supervisors=0)
    assert planned(overdue) == {"officer": 1}
    for case in (today, ahead, closed, absconded, never):
        assert planned(case) == {}
    (row,) = Reminder.objects.filter(key__startswith=f"review:{overdue.pk}:")
    assert row.key == f"review:{overdue.pk}:{overdue.next_review_due}:officer:{officer.pk}"
    assert overdue.next_review_due is not None
    assert row.key == reminder_key(overdue.pk, overdue.next_review_due, "officer", officer.pk)
    assert row.kind == NotificationKind.REVIEW_OVERDUE
    assert row.recipient_id == officer.pk
    assert row.title == f"Case {overdue.reference} is overdue for review"
    assert row.link == reverse("case-detail", args=[overdue.pk])
    assert row.send_at <= timezone.now()


def test_officer_first_then_the_supervisors_days_later(
    settings: Any, team: Team, officer: User, supervisors: list[User]
) -> None:
    settings.REVIEW_OVERDUE_SUPERVISOR_DAYS = 7
    # Long overdue: still, the officer has the first N days.
    case = case_due(team, officer, 40)
    assert plan_overdue_reviews() == ReviewPlan(officers=1, supervisors=0)
    almost = timezone.now() + 7 * DAY - dt.timedelta(minutes=5)
    assert plan_overdue_reviews(now=almost) == ReviewPlan()
    later = timezone.now() + 7 * DAY
    assert plan_overdue_reviews(now=later) == ReviewPlan(officers=0, supervisors=2)
    assert planned(case) == {"officer": 1, "supervisor": 2}
    recipients = set(
        Reminder.objects.filter(key__contains=":supervisor:").values_list("recipient_id", flat=True)
    )
    assert recipients == {s.pk for s in supervisors}
    assert plan_overdue_reviews(now=later + DAY) == ReviewPlan()


def test_planning_twice_plans_once(team: Team, officer: User, supervisors: list[User]) -> None:
    cases = [case_due(team, officer, 2) for _ in range(3)]
    assert plan_overdue_reviews().officers == 3
    assert plan_overdue_reviews() == ReviewPlan()
    assert plan_overdue_reviews(now=timezone.now() + 30 * DAY).supervisors == 6
    assert plan_overdue_reviews(now=timezone.now() + 30 * DAY) == ReviewPlan()
    assert all(planned(case) == {"officer": 1, "supervisor": 2} for case in cases)


def test_reviewed_cases_get_nothing_further(team: Team, officer: User) -> None:
    case = case_due(team, officer, 3)
    plan_overdue_reviews()
    reminders.send_due()
    # Reviewed at a meeting: next due in three months.
    Case.objects.filter(pk=case.pk).update(next_review_due=timezone.localdate() + 90 * DAY)
    assert plan_overdue_reviews(now=timezone.now() + 30 * DAY) == ReviewPlan()
    assert Notification.objects.filter(recipient=officer).count() == 1
    # Overdue again, for the new date: a new reminder, for that date.
    Case.objects.filter(pk=case.pk).update(next_review_due=timezone.localdate() - DAY)
    assert plan_overdue_reviews().officers == 1
    assert planned(case) == {"officer": 2}


def test_who_is_reminded(team: Team, officer: User, supervisors: list[User]) -> None:
    """The assigned officer while they are an officer of the team; otherwise every
    officer of the team; never the system administrator, an inactive account or a former
    member; with no officer at all, the supervisors once the wait has passed."""
    other_officer = f.make_member(team, Role.OFFICER)
    former = f.make_member(team, Role.OFFICER)
    Membership.objects.filter(user=former).update(active_to=timezone.localdate() - DAY)
    inactive = f.make_member(team, Role.SUPERVISOR, is_active=False)
    admin = f.make_member(team, Role.SUPERVISOR, is_staff=True)
    assigned = case_due(team, officer, 1)
    departed = case_due(team, former, 1)
    unassigned = case_due(team, None, 1)
    plan_overdue_reviews()

    def recipients(case: Case) -> set[int]:
        return set(
            Reminder.objects.filter(key__startswith=f"review:{case.pk}:").values_list(
                "recipient_id", flat=True
            )
        )

    assert recipients(assigned) == {officer.pk}
    assert recipients(departed) == recipients(unassigned) == {officer.pk, other_officer.pk}

    lone = f.make_team()
    lone_supervisor = f.make_member(lone, Role.SUPERVISOR)
    recent, old = case_due(lone, None, 2), case_due(lone, None, 30)
    plan_overdue_reviews()
    assert recipients(recent) == set() and recipients(old) == {lone_supervisor.pk}
    everyone = set(Reminder.objects.values_list("recipient_id", flat=True))
    assert not everyone & {former.pk, inactive.pk, admin.pk}


def queries_to_plan() -> int:
    with CaptureQueriesContext(connection) as captured:
        plan_overdue_reviews(now=timezone.now() + 30 * DAY)
    return len(captured.captured_queries)


def test_planning_takes_the_same_queries_whatever_the_number_of_cases() -> None:
    """The overdue cases; the officers and supervisors of their teams; the officers'
    reminders already planned; then, per stage, the keys that exist and the insert."""
    team = f.make_team()
    officer = f.make_member(team, Role.OFFICER)
    f.make_member(team, Role.SUPERVISOR)
    case_due(team, officer, 1)
    few = queries_to_plan()
    Reminder.objects.all().delete()
    for _ in range(3):
        other = f.make_team()
        officers = [f.make_member(other, Role.OFFICER) for _ in range(2)]
        f.make_member(other, Role.SUPERVISOR)
        for number in range(10):
            case_due(other, officers[number % 2] if number % 3 else None, number + 1)
    many = queries_to_plan()
    print(f"\nqueries to plan: {few} for 1 overdue case, {many} for 31")
    assert few == many == 5
    assert Reminder.objects.count() > 31


def test_nothing_overdue_takes_one_query() -> None:
    with CaptureQueriesContext(connection) as captured:
        assert plan_overdue_reviews() == ReviewPlan()
    assert len(captured.captured_queries) == 1


def test_end_to_end_through_the_sending_task(
    team: Team, officer: User, supervisors: list[User], monkeypatch: pytest.MonkeyPatch
) -> None:
    refreshed: list[bool] = []

    def refresh_upcoming() -> int:
        refreshed.append(True)
        return 0

    monkeypatch.setattr(agenda, "refresh_upcoming", refresh_upcoming)
    case = case_due(team, officer, 1)
    assert tasks.plan_case_reminders() == 1
    assert refreshed == [True]
    assert tasks.plan_case_reminders() == 0

    from teams.tasks import send_due_reminders

    assert send_due_reminders() == 1
    (notification,) = Notification.objects.filter(kind=NotificationKind.REVIEW_OVERDUE)
    assert notification.recipient_id == officer.pk
    assert notification.title == f"Case {case.reference} is overdue for review"
    assert notification.link == f"/cases/{case.pk}/"
    (message,) = mail.outbox
    assert message.to == [officer.email]
    assert case.reference not in f"{message.subject}\n{message.body}"
    assert case.supervisee.last_name not in message.body
    assert "A case is overdue for review." in message.body
    assert message.body.rstrip().endswith(f"/cases/{case.pk}/")
    assert send_due_reminders() == 0


def test_the_task_brings_the_coming_agendas_up_to_date(team: Team, officer: User) -> None:
    """The real refresh: a meeting in the coming days gets the overdue case on its agenda."""
    from teams.models import ReviewMeeting

    case = case_due(team, officer, 1)
    meeting = ReviewMeeting.objects.create(
        team=team, starts_at=timezone.now() + 3 * DAY, location="Room 1"
    )
    tasks.plan_case_reminders()
    assert meeting.agenda_items.filter(case=case).exists()
