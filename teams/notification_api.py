"""The notifications inbox through the API: the signed-in person's own notifications
only (another person's answers 404), and marking one read."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from audit.services import record_list
from teams.models import Notification
from teams.notification_views import own_notifications

UNREAD_FILTER = OpenApiParameter(
    "unread",
    OpenApiTypes.BOOL,
    description="`true`: only notifications not yet read; `false`: only those read.",
    required=False,
)


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "kind_display", "title", "link", "created_at", "read_at"]
        read_only_fields = fields


def _bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    value = raw.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise ValidationError({name: [f"Enter true or false, not {raw!r}."]})


@extend_schema_view(
    list=extend_schema(
        parameters=[UNREAD_FILTER],
        description="Your own notifications, newest first. A title names the kind of event "
        "and the case reference; `link` is the page in the app that shows the rest, under "
        "that page's own access checks.",
    ),
    retrieve=extend_schema(description="One of your own notifications."),
    read=extend_schema(
        request=None,
        responses={200: NotificationSerializer},
        description="Mark the notification read (the first time is kept).",
    ),
)
class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = NotificationSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        return own_notifications(self.request.user)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        unread = _bool_param(self.request, "unread")
        if unread is not None:
            queryset = queryset.filter(read_at__isnull=unread)
        return queryset

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        record_list(request.user, Notification, [row.pk for row in rows])
        serializer = self.get_serializer(rows, many=True)
        if page is not None:
            return self.get_paginated_response(serializer.data)
        return Response(serializer.data)

    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        notification = self.get_object()
        if notification.read_at is None:
            Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
                read_at=timezone.now()
            )
            notification.refresh_from_db(fields=["read_at"])
        return Response(self.get_serializer(notification).data)


def register(router: BaseRouter) -> None:
    router.register("notifications", NotificationViewSet, basename="notification")
