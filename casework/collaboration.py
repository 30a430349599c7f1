"""Collaboration measures, per team and month, for the team's supervisors: the figures
a team sets goals on (issue 6, item 9). Numbers only: no case, person or text.

- victim-touching decisions finalised in the month (decision_rules.touches_victims, as a
  query): how many with the representative's input (victim input linked to the
  decision), how many with a recorded reason for proceeding without it;
- the median time from a decision's proposal to the first input linked to it, over the
  decisions whose first input came in the month;
- victims' questions (information requests) due in the month, up to today, and how many
  were answered on time (answered on or before the due date, local time);
- victim representatives' attendance at the team's review meetings in the month, where
  attendance was recorded, counting those who held the role on the team that day.

A constant number of queries whatever the data: one per measure, grouped by team and
month in the database (the median from one query's durations, as SQLite has no
percentile function), and one for the teams.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, F, Min, OuterRef, Q
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from audit.models import Action
from audit.services import record
from casework.decisions import touches_victims_condition
from casework.models import CaseDecision, DecisionStatus, ProceedReason
from teams.disclosure.queries import team_ids_for
from teams.models import MeetingAttendee, MeetingStatus, Membership, Team
from teams.roles import Role

MONTHS = 6
NOT_RECORDED = "not recorded yet"


@dataclass
class MonthFigures:
    month: dt.date  # the first day of the month
    decisions_finalised: int = 0
    with_input: int = 0
    with_proceed_reason: int = 0
    inputs_timed: int = 0
    median_hours_to_input: float | None = None
    requests_due: int = 0
    requests_on_time: int = 0
    attendance_recorded: int = 0
    attended: int = 0

    @property
    def share_with_input(self) -> float | None:
        return _share(self.with_input, self.decisions_finalised)

    @property
    def share_with_proceed_reason(self) -> float | None:
        return _share(self.with_proceed_reason, self.decisions_finalised)

    @property
    def share_on_time(self) -> float | None:
        return _share(self.requests_on_time, self.requests_due)

    @property
    def attendance_share(self) -> float | None:
        return _share(self.attended, self.attendance_recorded)


@dataclass
class TeamFigures:
    team_id: int
    team_name: str
    months: list[MonthFigures] = field(default_factory=list)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def month_starts(today: dt.date, count: int = MONTHS) -> list[dt.date]:
    """The first days of the last `count` months, this one included, oldest first."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def supervised_teams(user: Any) -> list[tuple[int, str]]:
    """The teams the user supervises today (one query)."""
    return list(
        Team.objects.filter(pk__in=team_ids_for(user, roles=(Role.SUPERVISOR,)))
        .order_by("name")
        .values_list("pk", "name")
    )


def measures_for(user: Any, today: dt.date | None = None) -> list[TeamFigures]:
    """The figures of every team the user supervises: five queries in all."""
    return team_measures(supervised_teams(user), today)


def team_measures(
    teams: Iterable[tuple[int, str]], today: dt.date | None = None
) -> list[TeamFigures]:
    """The figures of `teams` ((id, name) pairs) for the last MONTHS months: four
    queries, one per measure."""
    teams = list(teams)
    if not teams:
        return []
    today = today or timezone.localdate()
    months = month_starts(today)
    start = timezone.make_aware(dt.datetime.combine(months[0], dt.time.min))
    ids = [team_id for team_id, _ in teams]
    figures = {(team_id, month): MonthFigures(month) for team_id in ids for month in months}

    def cell(team_id: int, month: Any) -> MonthFigures | None:
        day = month.date() if isinstance(month, dt.datetime) else month
        return figures.get((team_id, day))

    for row in _decisions(ids, start):
        found = cell(row["team"], row["month"])
        if found is not None:
            found.decisions_finalised = row["total"]
            found.with_input = row["with_input"]
            found.with_proceed_reason = row["with_reason"]
    hours: dict[tuple[int, dt.date], list[float]] = {}
    for team_id, proposed_at, first_input in _time_to_input(ids, start):
        month = timezone.localtime(first_input).date().replace(day=1)
        waited = (first_input - proposed_at).total_seconds() / 3600
        hours.setdefault((team_id, month), []).append(waited)
    for key, values in hours.items():
        if key in figures:
            figures[key].inputs_timed = len(values)
            figures[key].median_hours_to_input = round(statistics.median(values), 2)
    for row in _requests(ids, months[0], today):
        found = cell(row["team"], row["month"])
        if found is not None:
            found.requests_due = row["due"]
            found.requests_on_time = row["on_time"]
    for row in _attendance(ids, start):
        found = cell(row["team"], row["month"])
        if found is not None:
            found.attendance_recorded = row["recorded"]
            found.attended = row["attended"]
    return [
        TeamFigures(team_id, name, [figures[(team_id, month)] for month in months])
        for team_id, name in teams
    ]


def _decisions(team_ids: list[int], start: dt.datetime) -> Any:
    from victims.models import VictimInput  # victims depends on casework, not the reverse

    has_input = Exists(VictimInput.objects.filter(decision_id=OuterRef("pk")))
    return (
        CaseDecision.objects.order_by()
        .filter(
            touches_victims_condition(),
            status=DecisionStatus.FINAL,
            finalised_at__gte=start,
            case__team_id__in=team_ids,
        )
        .annotate(team=F("case__team_id"), month=TruncMonth("finalised_at"))
        .values("team", "month")
        .annotate(
            total=Count("pk"),
            with_input=Count("pk", filter=Q(has_input)),
            with_reason=Count("pk", filter=~Q(proceed_reason=ProceedReason.NONE)),
        )
    )


def _time_to_input(team_ids: list[int], start: dt.datetime) -> Any:
    """(team, proposed_at, first input) of each decision whose first input since its
    (latest) proposal came in the window. Input given before a re-proposal answered an
    earlier version, and is not counted as the answer to this one."""
    return (
        CaseDecision.objects.order_by()
        .filter(touches_victims_condition(), case__team_id__in=team_ids, proposed_at__isnull=False)
        .annotate(
            first_input=Min(
                "victim_inputs__created_at",
                filter=Q(victim_inputs__created_at__gte=F("proposed_at")),
            )
        )
        .filter(first_input__gte=start)
        .values_list("case__team_id", "proposed_at", "first_input")
    )


def _requests(team_ids: list[int], first_month: dt.date, today: dt.date) -> Any:
    from victims.models import InformationRequest

    return (
        InformationRequest.objects.order_by()
        .filter(case__team_id__in=team_ids, due_on__gte=first_month, due_on__lte=today)
        .alias(answered_on=TruncDate("answered_at"))
        .annotate(team=F("case__team_id"), month=TruncMonth("due_on"))
        .values("team", "month")
        .annotate(
            due=Count("pk"),
            on_time=Count("pk", filter=Q(answered_on__lte=F("due_on"))),
        )
    )


def _attendance(team_ids: list[int], start: dt.datetime) -> Any:
    rep_that_day = Membership.objects.filter(
        user_id=OuterRef("user_id"),
        team_id=OuterRef("meeting__team_id"),
        role=Role.VICTIM_REP,
        active_from__lte=OuterRef("meeting_day"),
    ).filter(Q(active_to__isnull=True) | Q(active_to__gte=OuterRef("meeting_day")))
    return (
        MeetingAttendee.objects.order_by()
        .filter(
            meeting__team_id__in=team_ids,
            meeting__starts_at__gte=start,
            attended__isnull=False,
        )
        .exclude(meeting__status=MeetingStatus.CANCELLED)
        .alias(meeting_day=TruncDate("meeting__starts_at"))
        .filter(Exists(rep_that_day))
        .annotate(team=F("meeting__team_id"), month=TruncMonth("meeting__starts_at"))
        .values("team", "month")
        .annotate(recorded=Count("pk"), attended=Count("pk", filter=Q(attended=True)))
    )


# --- In words, for the dashboard -----------------------------------------------------------


def share_words(part: int, whole: int) -> str:
    if not whole:
        return NOT_RECORDED
    return f"{part} of {whole} ({round(100 * part / whole)}%)"


def duration_words(hours: float | None) -> str:
    if hours is None:
        return NOT_RECORDED
    if hours < 48:
        return f"{hours:.1f} hours"
    return f"{hours / 24:.1f} days"


@dataclass(frozen=True)
class Row:
    label: str
    cells: list[str]


def table(team: TeamFigures) -> list[Row]:
    """The team's figures as the dashboard shows them: one row per measure, one cell
    per month."""
    months = team.months
    return [
        Row(
            "Victim-touching decisions finalised with the victim representative's input",
            [share_words(m.with_input, m.decisions_finalised) for m in months],
        ),
        Row(
            "… finalised with a reason for proceeding without it",
            [share_words(m.with_proceed_reason, m.decisions_finalised) for m in months],
        ),
        Row(
            "Median time from a proposed decision to the representative's input",
            [duration_words(m.median_hours_to_input) for m in months],
        ),
        Row(
            "Victims' questions answered on time (of those due)",
            [share_words(m.requests_on_time, m.requests_due) for m in months],
        ),
        Row(
            "Victim representatives' attendance at review meetings",
            [share_words(m.attended, m.attendance_recorded) for m in months],
        ),
    ]


@dataclass(frozen=True)
class DashboardTeam:
    team_id: int
    team_name: str
    months: list[dt.date]
    rows: list[Row]


def dashboard(user: Any) -> list[DashboardTeam]:
    """The supervisor's dashboard section: each team they supervise, in words. Recorded
    in the audit trail like any figures shown (no case content in them)."""
    teams = measures_for(user)
    record_figures_read(user, teams)
    return [
        DashboardTeam(team.team_id, team.team_name, [m.month for m in team.months], table(team))
        for team in teams
    ]


def record_figures_read(user: Any, teams: list[TeamFigures]) -> None:
    if teams:
        record(
            user,
            Action.LIST,
            target_type="casework.collaboration_measures",
            detail={"teams": [team.team_id for team in teams], "months": MONTHS},
        )
