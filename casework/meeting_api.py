"""Review meetings in the API (issue 7): meetings (list, read, schedule, move, cancel,
answer, attendance, the calendar file) and meeting series (list, read, schedule, end).

The same services as the pages (casework.meeting_schedule, teams.meetings) and the same
rules: a meeting is seen by the members of its team and its guests, anyone else gets a
404 (recorded as denied when the meeting exists); acting outside one's role is a 403;
bad input a 400 naming the field, with nothing saved.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from audit.services import record_read
from casework import meeting_schedule
from casework.meeting_guests import GuestRequest, visible_guest_cases
from casework.meeting_serializers import (
    AttendanceSerializer,
    CancelSerializer,
    EndSeriesSerializer,
    MeetingCreateSerializer,
    MeetingMoveSerializer,
    MeetingSerializer,
    RsvpSerializer,
    SeriesCreateSerializer,
    SeriesSerializer,
)
from casework.meeting_views import calendar_file
from teams import ics, meetings
from teams.api_base import (
    RestrictedReadOnlyViewSet,
    call_service,
    int_query_param,
)
from teams.meetings import Details
from teams.models import MeetingAttendee, MeetingSeries, MeetingStatus, ReviewMeeting


class ICalendarRenderer(BaseRenderer):
    """The calendar file, as it is (an error on that route is shown as JSON text)."""

    media_type = ics.CONTENT_TYPE
    format = "ics"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        if isinstance(data, bytes):
            return data
        return json.dumps(data).encode()


def _body(request: Request, serializer_class: type[serializers.Serializer[Any]]) -> dict[str, Any]:
    incoming = serializer_class(data=request.data, context={"request": request})
    incoming.is_valid(raise_exception=True)
    return dict(incoming.validated_data)


def _details(data: dict[str, Any]) -> Details:
    details = Details(
        starts_at=data.get("starts_at"),
        duration_minutes=data.get("duration_minutes", 60),
        location=data.get("location") or "",
        call_link=data.get("call_link") or "",
        title=data.get("title") or meetings.DEFAULT_TITLE,
    )
    if "reminder_offsets" in data:
        details.reminder_offsets = list(data["reminder_offsets"])
    return details


MEETING_FILTERS = [
    OpenApiParameter("team", int, description="Only this team's meetings."),
    OpenApiParameter("series", int, description="Only this series' meetings."),
    OpenApiParameter(
        "status", str, enum=MeetingStatus.values, description="Only meetings in this status."
    ),
    OpenApiParameter(
        "upcoming",
        bool,
        description="true: meetings starting from now on, soonest first; false: the others.",
    ),
]


@extend_schema_view(
    list=extend_schema(
        parameters=MEETING_FILTERS,
        description="The meetings of your teams and those you are a guest at, latest first.",
    ),
    create=extend_schema(
        request=MeetingCreateSerializer,
        responses={201: MeetingSerializer},
        description=(
            "Schedule a one-off meeting: an officer or supervisor of the team. Attendees are "
            "the team's active members (or those listed); a guest from another team is "
            "invited for one case to which they already hold an invitation. Everyone invited "
            "is told and reminded; the agenda is built. Bad input is a 400 naming the field; "
            "nothing is saved."
        ),
    ),
    partial_update=extend_schema(
        request=MeetingMoveSerializer,
        responses={200: MeetingSerializer},
        description=(
            "Move: a new start, length or place (the team's officers and supervisors, or "
            "who scheduled it). Reminders follow, attendees are told, the sequence goes up. "
            "A held or cancelled meeting is a 400 on `status`."
        ),
    ),
)
# The audited list and read of RestrictedReadOnlyViewSet, over what teams.meetings
# restricts: a meeting or a series is a team's, not a case record.
class MeetingViewSet(RestrictedReadOnlyViewSet):
    """Review meetings of your teams, and those you are invited to as a guest."""

    serializer_class = MeetingSerializer
    base_queryset = ReviewMeeting.objects.all()  # get_queryset() restricts
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[ReviewMeeting]:
        attendance = MeetingAttendee.objects.select_related("user", "guest_case").order_by(
            "is_guest", "user__last_name", "user__first_name", "user__username"
        )
        return (
            meetings.meetings_for(self.request.user)
            .select_related("team")
            .prefetch_related(Prefetch("attendance", queryset=attendance))
            .order_by("-starts_at", "-pk")
        )

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        for name in ("team", "series"):
            value = int_query_param(self.request, name)
            if value is not None:
                queryset = queryset.filter(**{f"{name}_id": value})
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in MeetingStatus.values:
                raise serializers.ValidationError(
                    {"status": [f"One of {', '.join(MeetingStatus.values)}."]}
                )
            queryset = queryset.filter(status=wanted)
        upcoming = self.request.query_params.get("upcoming")
        if upcoming is not None and upcoming != "":
            if upcoming not in ("true", "false"):
                raise serializers.ValidationError({"upcoming": ["true or false."]})
            now = timezone.now()
            queryset = (
                queryset.filter(starts_at__gte=now).order_by("starts_at", "pk")
                if upcoming == "true"
                else queryset.filter(starts_at__lt=now)
            )
        return queryset

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if args and args[0] is not None:
            rows = list(args[0]) if kwargs.get("many") else [args[0]]
            guest_cases = [
                row.guest_case.case_id
                for meeting in rows
                for row in meeting.attendance.all()
                if row.is_guest and hasattr(row, "guest_case")
            ]
            context = kwargs.setdefault("context", self.get_serializer_context())
            context["guest_cases"] = set(visible_guest_cases(self.request.user, guest_cases))
        return super().get_serializer(*args, **kwargs)

    def _read(self, pk: int, code: int = status.HTTP_200_OK) -> Response:
        meeting = self.get_queryset().get(pk=pk)
        return Response(self.get_serializer(meeting).data, status=code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _body(request, MeetingCreateSerializer)
        guests = [GuestRequest(person=g["user"], case=g["case"]) for g in data.get("guests", [])]
        meeting = call_service(
            request,
            meeting_schedule.schedule,
            data["team"],
            _details(data),
            data.get("attendees"),
            guests,
        )
        return self._read(meeting.pk, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        meeting = self.get_object()
        if not meetings.may_manage(request.user, meeting):
            # Before the body, so a reader learns nothing from validation messages.
            raise PermissionDenied("Only the team's officers and supervisors move its meetings.")
        data = _body(request, MeetingMoveSerializer)
        call_service(request, meeting_schedule.move, meeting, data)
        return self._read(meeting.pk)

    @extend_schema(
        request=CancelSerializer,
        responses={200: MeetingSerializer},
        description="Cancel with a reason: the team's officers and supervisors, or who "
        "scheduled it. Pending reminders are cancelled and attendees told.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        meeting = self.get_object()
        if not meetings.may_manage(request.user, meeting):
            raise PermissionDenied("Only the team's officers and supervisors cancel its meetings.")
        data = _body(request, CancelSerializer)
        call_service(request, meetings.cancel, meeting, data["reason"])
        return self._read(meeting.pk)

    @extend_schema(
        request=RsvpSerializer,
        responses={200: MeetingSerializer},
        description="Your answer to the invitation (the people invited only; 403 otherwise).",
    )
    @action(detail=True, methods=["post"])
    def rsvp(self, request: Request, pk: str | None = None) -> Response:
        meeting = self.get_object()
        if meetings.attendee_of(meeting, request.user) is None:
            raise PermissionDenied("Only the people invited to a meeting answer its invitation.")
        data = _body(request, RsvpSerializer)
        call_service(request, meetings.answer, meeting, data["rsvp"])
        return self._read(meeting.pk)

    @extend_schema(
        request=AttendanceSerializer,
        responses={200: MeetingSerializer},
        description="Who attended, once the meeting has started: the team's officers and "
        "supervisors. The meeting is then held, and the cases discussed get their next "
        "review date.",
    )
    @action(detail=True, methods=["post"])
    def attendance(self, request: Request, pk: str | None = None) -> Response:
        meeting = self.get_object()
        if not meetings.may_record_attendance(request.user, meeting):
            raise PermissionDenied("Only the team's officers and supervisors record attendance.")
        data = _body(request, AttendanceSerializer)
        call_service(request, meeting_schedule.record_attendance, meeting, data["attended"])
        return self._read(meeting.pk)

    @extend_schema(
        responses={
            (200, ics.CONTENT_TYPE): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The calendar invitation: the team, the time, the place and a "
                "link; never the title, the agenda or a case.",
            )
        },
        description="The meeting's calendar invitation (RFC 5545), for the people invited.",
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="ics",
        url_name="ics",
        renderer_classes=[JSONRenderer, ICalendarRenderer],
    )
    def ics(self, request: Request, pk: str | None = None) -> HttpResponse:
        meeting = self.get_object()
        if meetings.attendee_of(meeting, request.user) is None:
            raise PermissionDenied("The calendar invitation is for the people invited.")
        record_read(request.user, meeting, case_id=None)
        return calendar_file(meeting)


@extend_schema_view(
    list=extend_schema(description="The recurring meetings of your teams."),
    create=extend_schema(
        request=SeriesCreateSerializer,
        responses={201: SeriesSerializer},
        description=(
            "Schedule a recurring meeting: an officer or supervisor of the team. Its "
            "meetings up to the horizon are made at once, each planned, announced and given "
            "its agenda. A rule that is malformed, or never gives a date after now, is a 400 "
            "on `rule`."
        ),
    ),
)
class MeetingSeriesViewSet(RestrictedReadOnlyViewSet):
    """Recurring review meetings of your teams."""

    serializer_class = SeriesSerializer
    base_queryset = MeetingSeries.objects.all()  # get_queryset() restricts
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[MeetingSeries]:
        return (
            meetings.series_for(self.request.user)
            .select_related("team")
            .order_by("team__name", "starts_at", "pk")
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _body(request, SeriesCreateSerializer)
        series, _created = call_service(
            request, meeting_schedule.schedule_series, data["team"], _details(data), data["rule"]
        )
        fresh = self.get_queryset().get(pk=series.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=EndSeriesSerializer,
        responses={200: SeriesSerializer},
        description="End the series: its future meetings are cancelled and their attendees "
        "told. An ended series is a 400 on `ended_at`.",
    )
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str | None = None) -> Response:
        series = self.get_object()
        if not meetings.may_end_series(request.user, series):
            raise PermissionDenied("Only the team's officers and supervisors end its series.")
        _body(request, EndSeriesSerializer)
        call_service(request, meetings.end_series, series)
        fresh = self.get_queryset().get(pk=series.pk)
        return Response(self.get_serializer(fresh).data)


def register(router: BaseRouter) -> None:
    router.register("meetings", MeetingViewSet, basename="meeting")
    router.register("meeting-series", MeetingSeriesViewSet, basename="meeting-series")
