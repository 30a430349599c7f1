"""The agenda in the API (issue 7): agenda items, minutes and action items.

Reads follow the same rule as the meeting page: an item is listed when its meeting is the
person's, its case is readable and so is the record that put it there
(casework.agenda.items_for, one statement, so that pages and counts are of visible rows
only); minutes by their level on the items the person sees; action items on those items,
and one's own. Writes go through casework.agenda and casework.minutes: a field error is a
400 naming the field, acting outside one's role a 403, a record one may not read a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from casework import agenda, minutes
from casework.agenda_serializers import (
    ActionItemCreateSerializer,
    ActionItemSerializer,
    ActionItemUpdateSerializer,
    AgendaItemCreateSerializer,
    AgendaItemSerializer,
    MinuteEntryCreateSerializer,
    MinuteEntrySerializer,
)
from casework.meeting_models import ActionItem, AgendaItem, MinuteEntry
from teams.api_base import RestrictedReadOnlyViewSet, call_service, int_query_param
from teams.disclosure import restrict
from teams.models import ReviewMeeting

MEETING_FILTER = OpenApiParameter(
    "meeting", OpenApiTypes.INT, description="Only this meeting's.", required=False
)
ITEM_FILTER = OpenApiParameter(
    "item", OpenApiTypes.INT, description="Only this agenda item's.", required=False
)
MINE_FILTER = OpenApiParameter(
    "mine", OpenApiTypes.BOOL, description="Only the action items you own.", required=False
)


def _body(request: Request, serializer_class: type[serializers.Serializer[Any]]) -> Any:
    incoming = serializer_class(data=request.data, context={"request": request})
    incoming.is_valid(raise_exception=True)
    return dict(incoming.validated_data)


def _item_field(request: Request, pk: int) -> AgendaItem:
    """The agenda item a write names; one the person may not see is a 400 naming the
    field, exactly like one that does not exist."""
    try:
        return agenda.visible_item_or_404(request.user, pk)
    except Http404:
        raise serializers.ValidationError(
            {"item": ["Choose an agenda item you can see."]}
        ) from None


class _Agenda(RestrictedReadOnlyViewSet):
    # The writes are POST (and PATCH on action items); nothing is deleted.
    http_method_names = ["get", "post", "head", "options"]

    def _read(self, pk: int, code: int = status.HTTP_200_OK) -> Response:
        row = self.base_queryset.get(pk=pk)
        return Response(self.get_serializer(row).data, status=code)


@extend_schema_view(
    list=extend_schema(parameters=[MEETING_FILTER]),
    create=extend_schema(
        request=AgendaItemCreateSerializer,
        responses={201: AgendaItemSerializer},
        description="Add a case to a meeting's agenda: an attendee of the meeting who may "
        "see the case (an active case of the meeting's team), while it is scheduled.",
    ),
)
class AgendaItemViewSet(_Agenda):
    """The agenda items you may see: the meeting is yours, and you may read the case and
    the record that put it on the agenda. `?meeting=<id>` narrows to one meeting."""

    base_queryset = AgendaItem.objects.select_related("case").order_by(
        "meeting__starts_at", "meeting_id", "position", "id"
    )
    serializer_class = AgendaItemSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return (
            agenda.items_for(self.request.user)
            .select_related("case")
            .order_by("meeting__starts_at", "meeting_id", "position", "id")
        )

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        meeting = int_query_param(self.request, "meeting")
        return queryset if meeting is None else queryset.filter(meeting_id=meeting)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _body(request, AgendaItemCreateSerializer)
        meeting = ReviewMeeting.objects.filter(
            pk=data["meeting"], pk__in=agenda.meeting_ids_for(request.user)
        ).first()
        if meeting is None:
            raise serializers.ValidationError({"meeting": ["Choose a meeting you attend."]})
        item = call_service(request, agenda.add_case, meeting, data["case"])
        return self._read(item.pk, status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(parameters=[ITEM_FILTER, MEETING_FILTER]),
    create=extend_schema(
        request=MinuteEntryCreateSerializer,
        responses={201: MinuteEntrySerializer},
        description="Record minutes on an agenda item: the officer or supervisor of the "
        "case's team, at a level their role may choose. Marks the item discussed.",
    ),
)
class MinuteEntryViewSet(_Agenda):
    """Minutes you may read (by their level) on the agenda items you may see."""

    base_queryset = MinuteEntry.objects.select_related("author").order_by("created_at", "id")
    serializer_class = MinuteEntrySerializer

    def get_queryset(self) -> QuerySet[Any]:
        items = agenda.items_for(self.request.user).values("pk")
        return restrict(self.base_queryset.filter(item_id__in=items), self.request.user)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        item = int_query_param(self.request, "item")
        meeting = int_query_param(self.request, "meeting")
        if item is not None:
            queryset = queryset.filter(item_id=item)
        if meeting is not None:
            queryset = queryset.filter(item__meeting_id=meeting)
        return queryset

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _body(request, MinuteEntryCreateSerializer)
        item = _item_field(request, data["item"])
        entry = call_service(
            request, minutes.record_minutes, item, data["body"], data["disclosure_level"]
        )
        return self._read(entry.pk, status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(parameters=[ITEM_FILTER, MEETING_FILTER, MINE_FILTER]),
    create=extend_schema(
        request=ActionItemCreateSerializer,
        responses={201: ActionItemSerializer},
        description="An action agreed on an agenda item: the officer or supervisor of the "
        "case's team. Its owner is reminded before the due date.",
    ),
    partial_update=extend_schema(
        request=ActionItemUpdateSerializer,
        responses={200: ActionItemSerializer},
        description="`done`: its owner, the officer or the supervisor (the reminder is "
        "cancelled). `due_on`: the officer or the supervisor (the reminder moves).",
    ),
)
class ActionItemViewSet(_Agenda):
    """The action items on the agenda items you may see, and those you own."""

    base_queryset = ActionItem.objects.select_related("item", "owner").order_by("due_on", "id")
    serializer_class = ActionItemSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Any]:
        user = self.request.user
        items = agenda.items_for(user).values("pk")
        rows = self.base_queryset.filter(Q(item_id__in=items) | Q(owner_id=user.pk))
        return restrict(rows, user)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        item = int_query_param(self.request, "item")
        meeting = int_query_param(self.request, "meeting")
        if item is not None:
            queryset = queryset.filter(item_id=item)
        if meeting is not None:
            queryset = queryset.filter(item__meeting_id=meeting)
        mine = self.request.query_params.get("mine", "").lower()
        if mine in ("1", "true", "yes"):
            queryset = queryset.filter(owner_id=self.request.user.pk)
        elif mine not in ("", "0", "false", "no"):
            raise serializers.ValidationError({"mine": ["Enter true or false."]})
        return queryset

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _body(request, ActionItemCreateSerializer)
        item = _item_field(request, data["item"])
        action = call_service(
            request, minutes.create_action, item, data["owner"], data["text"], data["due_on"]
        )
        return self._read(action.pk, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        action = self.get_object()
        data = _body(request, ActionItemUpdateSerializer)
        call_service(
            request, minutes.update_action, action, done=data.get("done"), due_on=data.get("due_on")
        )
        return self._read(action.pk)


def register(router: BaseRouter) -> None:
    router.register("agenda-items", AgendaItemViewSet, basename="agenda-item")
    router.register("minutes", MinuteEntryViewSet, basename="minute-entry")
    router.register("action-items", ActionItemViewSet, basename="action-item")
