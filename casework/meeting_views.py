"""The review meeting pages (issue 7): the list of one's meetings, scheduling a one-off
or recurring meeting, the meeting with its attendees, one's answer and its agenda,
moving, cancelling, attendance, the calendar file, and ending a series.

Thin: teams.meetings and casework.meeting_schedule decide and record. A meeting is seen
by the members of its team and its guests (teams.meetings.meetings_for); anyone else is
answered 404, and the attempt on a meeting that exists is recorded as denied.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from audit.services import record_list, record_read
from casework import meeting_schedule
from casework.agenda_views import agenda_context
from casework.meeting_forms import (
    RSVP_LABELS,
    AttendanceForm,
    CancelForm,
    MeetingForm,
    MoveForm,
    RsvpForm,
    SeriesForm,
    TeamChoiceForm,
)
from casework.meeting_guests import visible_guest_cases
from casework.models import Case, CaseStatus
from teams import ics, meetings, recurrence, reminders
from teams.disclosure import restrict
from teams.models import (
    MeetingAttendee,
    MeetingSeries,
    MeetingStatus,
    Membership,
    ReviewMeeting,
    Rsvp,
    Team,
)
from teams.roles import Role

PAGE_SIZE = 20


def _name(user: Any) -> str:
    return str(user.get_full_name() or user.get_username())


# --- The list ---------------------------------------------------------------------------


def _listed(request: HttpRequest) -> QuerySet[ReviewMeeting]:
    """The user's meetings with their team, series and the user's own answer: one
    statement per page whatever the number of rows."""
    mine = MeetingAttendee.objects.filter(
        meeting_id=OuterRef("pk"), user_id=int(request.user.pk or 0)
    )
    return (
        meetings.meetings_for(request.user)
        .select_related("team", "series")
        .annotate(
            my_rsvp=Subquery(mine.values("rsvp")[:1]),
            my_guest=Subquery(mine.values("is_guest")[:1]),
        )
    )


def _page(rows: QuerySet[ReviewMeeting], number: Any) -> Page[ReviewMeeting]:
    return Paginator(rows, PAGE_SIZE).get_page(number)


@login_required
def meeting_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = _listed(request)
    upcoming = _page(
        rows.filter(starts_at__gte=today).order_by("starts_at", "pk"), request.GET.get("page")
    )
    past = _page(
        rows.filter(starts_at__lt=today).order_by("-starts_at", "-pk"), request.GET.get("past_page")
    )
    for page in (upcoming, past):
        page.object_list = list(page.object_list)
        for meeting in page.object_list:
            rsvp = getattr(meeting, "my_rsvp", None)
            meeting.my_rsvp_label = RSVP_WORDS.get(rsvp, "").capitalize() if rsvp else ""  # type: ignore[attr-defined]
    shown = [*upcoming.object_list, *past.object_list]
    record_list(request.user, ReviewMeeting, [meeting.pk for meeting in shown])
    return render(
        request,
        "casework/meeting_list.html",
        {
            "upcoming": upcoming,
            "past": past,
            "may_schedule": meetings.scheduling_teams(request.user).exists(),
        },
    )


# --- Scheduling -------------------------------------------------------------------------


def _team_for(request: HttpRequest, teams: list[Team]) -> Team | None:
    """The team a scheduling form is for: the only one, or the one named by `team`."""
    if not teams:
        raise PermissionDenied("Meetings are scheduled by a team's officers and supervisors.")
    if len(teams) == 1:
        return teams[0]
    raw = request.POST.get("team") or request.GET.get("team")
    if not raw:
        return None
    found = next((team for team in teams if str(team.pk) == str(raw)), None)
    if found is None:
        raise PermissionDenied(
            "You schedule meetings for the teams where you are an officer or a supervisor only."
        )
    return found


def _choose_team(request: HttpRequest, teams: list[Team], heading: str) -> HttpResponse:
    form = TeamChoiceForm(teams=[(team.pk, team.name) for team in teams])
    return render(request, "casework/meeting_team_choice.html", {"form": form, "heading": heading})


def _members(team: Team) -> list[tuple[int, str]]:
    """The team's members today with their roles, ticked by default: one query."""
    roles: dict[int, list[str]] = defaultdict(list)
    names: dict[int, str] = {}
    rows = (
        Membership.objects.active()
        .filter(team=team, user__is_active=True, user__is_staff=False)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username", "role")
    )
    for membership in rows:
        names[membership.user_id] = _name(membership.user)
        roles[membership.user_id].append(str(Role(membership.role).label))
    return [(pk, f"{name} ({', '.join(roles[pk])})") for pk, name in names.items()]


def _cases(request: HttpRequest, team: Team) -> list[tuple[int, str]]:
    rows = (
        restrict(Case.objects.filter(team=team, status=CaseStatus.ACTIVE), request.user)
        .select_related("supervisee")
        .order_by("reference")
    )
    return [(case.pk, f"{case.reference} ({case.supervisee.full_name})") for case in rows]


@login_required
@require_http_methods(["GET", "POST"])
def meeting_create(request: HttpRequest) -> HttpResponse:
    teams = list(meetings.scheduling_teams(request.user))
    team = _team_for(request, teams)
    if team is None:
        return _choose_team(request, teams, "Schedule a review meeting")
    members, cases = _members(team), _cases(request, team)
    if request.method != "POST":
        form = MeetingForm(members=members, cases=cases)
        return _meeting_form(request, team, form, 200)
    form = MeetingForm(request.POST, members=members, cases=cases)
    if form.is_valid():
        try:
            meeting = meeting_schedule.schedule(
                request.user, team, form.details(), form.member_ids(), form.guests()
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request,
                "The meeting is scheduled. Everyone invited is told, and reminded before it.",
            )
            return redirect("meeting-detail", pk=meeting.pk)
    else:
        form.check_the_rest()
    return _meeting_form(request, team, form, 400)


def _meeting_form(request: HttpRequest, team: Team, form: MeetingForm, status: int) -> HttpResponse:
    return render(
        request, "casework/meeting_form.html", {"team": team, "form": form}, status=status
    )


def _typed_start(request: HttpRequest) -> dt.datetime | None:
    """The first meeting's date as typed, for the pattern choices' words."""
    raw = request.POST.get("starts_at") if request.method == "POST" else None
    if not raw:
        return None
    try:
        value: dt.datetime | None = forms.DateTimeField().clean(raw)
    except ValidationError:
        return None
    return value


@login_required
@require_http_methods(["GET", "POST"])
def series_create(request: HttpRequest) -> HttpResponse:
    teams = list(meetings.scheduling_teams(request.user))
    team = _team_for(request, teams)
    if team is None:
        return _choose_team(request, teams, "Schedule a recurring review meeting")
    if request.method != "POST":
        return _series_form(request, team, SeriesForm(), 200)
    form = SeriesForm(request.POST, start=_typed_start(request))
    if form.is_valid():
        try:
            series, created = meeting_schedule.schedule_series(
                request.user, team, form.details(), form.rule()
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request,
                f"The series is scheduled ({recurrence.describe(series.rule).lower()}): "
                f"{len(created)} meeting{'s' if len(created) != 1 else ''} in the next "
                "months, each with its agenda. Everyone invited is told.",
            )
            if created:
                return redirect("meeting-detail", pk=created[0].pk)
            return redirect("meeting-list")
    else:
        form.check_the_rest()
    return _series_form(request, team, form, 400)


def _series_form(request: HttpRequest, team: Team, form: SeriesForm, status: int) -> HttpResponse:
    return render(
        request, "casework/meeting_series_form.html", {"team": team, "form": form}, status=status
    )


# --- One meeting ------------------------------------------------------------------------


def _visible(request: HttpRequest, pk: int) -> ReviewMeeting:
    rows = ReviewMeeting.objects.select_related("team", "series", "created_by", "cancelled_by")
    meeting: ReviewMeeting = meetings.meeting_or_404(request.user, pk, rows)
    return meeting


def _attendees(request: HttpRequest, meeting: ReviewMeeting) -> list[dict[str, Any]]:
    """Members first, then guests, each with their answer; a guest's case is named only
    to those who may read it. Two queries."""
    rows = list(
        MeetingAttendee.objects.filter(meeting=meeting)
        .select_related("user", "guest_case")
        .order_by("is_guest", "user__last_name", "user__first_name", "user__username")
    )
    cases = visible_guest_cases(
        request.user,
        [row.guest_case.case_id for row in rows if row.is_guest and hasattr(row, "guest_case")],
    )
    found = []
    for row in rows:
        case = None
        if row.is_guest and hasattr(row, "guest_case"):
            case = cases.get(row.guest_case.case_id)
        found.append(
            {
                "row": row,
                "name": _name(row.user),
                "rsvp_label": Rsvp(row.rsvp).label,
                "is_me": row.user_id == request.user.pk,
                "guest_case": case,
            }
        )
    return found


def _is_open(meeting: ReviewMeeting) -> bool:
    return meeting.status == MeetingStatus.SCHEDULED and meeting.starts_at > timezone.now()


def _detail_page(
    request: HttpRequest,
    meeting: ReviewMeeting,
    rsvp_form: RsvpForm | None = None,
    status: int = 200,
) -> HttpResponse:
    attendees = _attendees(request, meeting)
    mine = next((entry["row"] for entry in attendees if entry["is_me"]), None)
    if rsvp_form is None and mine is not None and _is_open(meeting):
        initial = {"rsvp": mine.rsvp} if mine.rsvp != Rsvp.PENDING else {}
        rsvp_form = RsvpForm(initial=initial)
    # One query for the common case: the team's officers and supervisors do everything.
    schedules = meetings.may_schedule(request.user, meeting.team_id)
    may_manage = schedules or meetings.may_manage(request.user, meeting)
    series = meeting.series
    context: dict[str, Any] = {
        "meeting": meeting,
        "attendees": attendees,
        "mine": mine,
        "rsvp_form": rsvp_form if mine is not None and _is_open(meeting) else None,
        "my_rsvp_label": Rsvp(mine.rsvp).label if mine is not None else "",
        "may_move": may_manage and meeting.status == MeetingStatus.SCHEDULED,
        "may_record_attendance": schedules
        and meeting.status != MeetingStatus.CANCELLED
        and meeting.starts_at <= timezone.now(),
        "series": series,
        "series_words": recurrence.describe(series.rule) if series else "",
        "may_end_series": series is not None
        and series.ended_at is None
        and (schedules or meetings.may_end_series(request.user, series)),
        "offsets": [
            reminders.offset_label(m) for m in sorted(set(meeting.reminder_offsets), reverse=True)
        ],
    }
    context.update(agenda_context(request, meeting))
    return render(request, "casework/meeting_detail.html", context, status=status)


@login_required
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _visible(request, pk)
    record_read(request.user, meeting, case_id=None)
    return _detail_page(request, meeting)


@login_required
@require_POST
def meeting_rsvp(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _visible(request, pk)
    form = RsvpForm(request.POST)
    if form.is_valid():
        try:
            meetings.answer(request.user, meeting, form.cleaned_data["rsvp"])
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request, f"Your answer is saved: {RSVP_LABELS[form.cleaned_data['rsvp']].lower()}."
            )
            return redirect("meeting-detail", pk=meeting.pk)
    elif meetings.attendee_of(meeting, request.user) is None:
        raise PermissionDenied("Only the people invited to a meeting answer its invitation.")
    record_read(request.user, meeting, case_id=None)
    return _detail_page(request, meeting, rsvp_form=form, status=400)


def _managed(request: HttpRequest, pk: int) -> ReviewMeeting:
    meeting = _visible(request, pk)
    if not meetings.may_manage(request.user, meeting):
        raise PermissionDenied("Only the team's officers and supervisors change its meetings.")
    return meeting


@login_required
@require_http_methods(["GET", "POST"])
def meeting_edit(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    if request.method != "POST":
        record_read(request.user, meeting, case_id=None)
        form = MoveForm(
            initial={
                "starts_at": timezone.localtime(meeting.starts_at),
                "duration_minutes": meeting.duration_minutes,
                "location": meeting.location,
                "call_link": meeting.call_link,
            }
        )
        return _simple(request, "casework/meeting_move.html", meeting, form, 200)
    form = MoveForm(request.POST)
    if form.is_valid():
        try:
            moved = meeting_schedule.move(request.user, meeting, form.changes())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request,
                "The meeting is moved; its attendees are told and their reminders follow it."
                if moved
                else "Nothing was changed.",
            )
            return redirect("meeting-detail", pk=meeting.pk)
    return _simple(request, "casework/meeting_move.html", meeting, form, 400)


def _simple(
    request: HttpRequest, template: str, meeting: ReviewMeeting, form: Any, status: int
) -> HttpResponse:
    return render(
        request,
        template,
        {
            "meeting": meeting,
            "form": form,
            "is_scheduled": meeting.status == MeetingStatus.SCHEDULED,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def meeting_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _managed(request, pk)
    if request.method != "POST":
        record_read(request.user, meeting, case_id=None)
        return _simple(request, "casework/meeting_cancel.html", meeting, CancelForm(), 200)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            meetings.cancel(request.user, meeting, form.cleaned_data["reason"])
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "The meeting is cancelled; its attendees are told.")
            return redirect("meeting-detail", pk=meeting.pk)
    return _simple(request, "casework/meeting_cancel.html", meeting, form, 400)


@login_required
@require_http_methods(["GET", "POST"])
def meeting_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _visible(request, pk)
    if not meetings.may_record_attendance(request.user, meeting):
        raise PermissionDenied("Only the team's officers and supervisors record attendance.")
    rows = list(
        MeetingAttendee.objects.filter(meeting=meeting)
        .select_related("user")
        .order_by("is_guest", "user__last_name", "user__first_name", "user__username")
    )
    people = [
        (
            row.user_id,
            f"{_name(row.user)}{' (guest)' if row.is_guest else ''}"
            f" · {RSVP_WORDS.get(row.rsvp, row.rsvp)}",
        )
        for row in rows
    ]
    if request.method != "POST":
        record_read(request.user, meeting, case_id=None)
        recorded = any(row.attended is not None for row in rows)
        ticked = [
            str(row.user_id)
            for row in rows
            if (row.attended if recorded else row.rsvp != Rsvp.DECLINED)
        ]
        form = AttendanceForm(people=people, initial={"attended": ticked})
        return _attendance_page(request, meeting, form, 200)
    form = AttendanceForm(request.POST, people=people)
    if form.is_valid():
        try:
            meeting_schedule.record_attendance(request.user, meeting, form.cleaned_data["attended"])
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "Attendance is recorded; the meeting is marked as held.")
            return redirect("meeting-detail", pk=meeting.pk)
    return _attendance_page(request, meeting, form, 400)


RSVP_WORDS: dict[str, str] = {str(value): str(label).lower() for value, label in Rsvp.choices}


def _attendance_page(
    request: HttpRequest, meeting: ReviewMeeting, form: AttendanceForm, status: int
) -> HttpResponse:
    return render(
        request,
        "casework/meeting_attendance.html",
        {
            "meeting": meeting,
            "form": form,
            "started": meeting.starts_at <= timezone.now(),
            "is_cancelled": meeting.status == MeetingStatus.CANCELLED,
        },
        status=status,
    )


@login_required
def meeting_ics(request: HttpRequest, pk: int) -> HttpResponse:
    """The invitation, for the people invited: team, time, place and a link; never the
    title, the agenda or a case (teams.ics)."""
    meeting = _visible(request, pk)
    if meetings.attendee_of(meeting, request.user) is None:
        raise PermissionDenied("The calendar invitation is for the people invited.")
    record_read(request.user, meeting, case_id=None)
    return calendar_file(meeting)


def calendar_file(meeting: ReviewMeeting) -> HttpResponse:
    """The invitation as a download (the page and the API answer the same)."""
    response = HttpResponse(
        ics.invitation(meeting), content_type=f"{ics.CONTENT_TYPE}; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{ics.filename(meeting)}"'
    return response


# --- A series ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def series_end(request: HttpRequest, pk: int) -> HttpResponse:
    series: MeetingSeries = meetings.series_or_404(request.user, pk)
    if not meetings.may_end_series(request.user, series):
        raise PermissionDenied("Only the team's officers and supervisors end its series.")
    upcoming = series.meetings.filter(
        status=MeetingStatus.SCHEDULED, starts_at__gt=timezone.now()
    ).order_by("starts_at")
    context = {
        "series": series,
        "words": recurrence.describe(series.rule),
        "upcoming": list(upcoming[:50]),
        "error": "",
    }
    if request.method != "POST":
        record_read(request.user, series, case_id=None)
        return render(request, "casework/meeting_series_end.html", context)
    try:
        cancelled = meetings.end_series(request.user, series)
    except ValidationError as error:
        context["error"] = " ".join(error.messages)
        return render(request, "casework/meeting_series_end.html", context, status=400)
    count = len(cancelled)
    messages.success(
        request,
        f"The series is ended: {count} future meeting{'s' if count != 1 else ''} cancelled, "
        "and their attendees told.",
    )
    return redirect("meeting-list")
