"""`/api/v1/audit-events/`: the audit trail, read-only, scoped and filtered like the
review page, paged by a cursor on `seq` (keyset, never OFFSET). Every read is recorded."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from audit.forms import AuditFilterForm
from audit.models import Action, AuditEvent, Outcome
from audit.scopes import events_for
from audit.services import record
from audit.views import TRAIL, record_refused_read, record_trail_read


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    class Meta:
        model = AuditEvent
        fields = [
            "seq",
            "occurred_at",
            "actor",
            "actor_username",
            "action",
            "outcome",
            "emergency",
            "target_type",
            "target_id",
            "case_id",
            "victim_id",
            "ip_address",
            "user_agent",
            "request_id",
            "detail",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class AuditCursorPagination(CursorPagination):
    ordering = "-seq"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request: Request) -> Any:
        # A damaged cursor is bad input: a 400 naming it, like the filters.
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {self.cursor_query_param: ["This page link is damaged; start from the first page."]}
            ) from None


FILTER_PARAMETERS = [
    OpenApiParameter(
        "person", OpenApiTypes.STR, description="Username or user id of the person who acted."
    ),
    OpenApiParameter("case", OpenApiTypes.INT, description="Only events of this case id."),
    OpenApiParameter("victim", OpenApiTypes.INT, description="Only events of this victim id."),
    OpenApiParameter(
        "action", OpenApiTypes.STR, enum=Action.values, description="Only this kind of event."
    ),
    OpenApiParameter(
        "outcome", OpenApiTypes.STR, enum=Outcome.values, description="Only this outcome."
    ),
    OpenApiParameter(
        "date_from", OpenApiTypes.DATE, description="On or after this day (YYYY-MM-DD)."
    ),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="On or before this day."),
]
FILTER_ERRORS = inline_serializer(
    "AuditFilterErrors",
    {
        name: serializers.ListField(child=serializers.CharField(), required=False)
        for name in AuditFilterForm.FILTERS
    },
)


@extend_schema_view(
    list=extend_schema(
        parameters=FILTER_PARAMETERS,
        responses={200: AuditEventSerializer(many=True), 400: FILTER_ERRORS},
    ),
    retrieve=extend_schema(
        parameters=[
            OpenApiParameter(
                "seq",
                OpenApiTypes.INT,
                OpenApiParameter.PATH,
                description="The event's position in the chain.",
            )
        ]
    ),
)
class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Audit events the signed-in user may read: their own actions; a supervisor also
    their teams' cases and members; the system administrator sign-ins and accounts.
    Newest first. Reading the trail is itself recorded."""

    serializer_class = AuditEventSerializer
    pagination_class = AuditCursorPagination
    lookup_field = "seq"
    # At most 18 digits: always a valid bigint, so no id can make the database raise.
    lookup_value_regex = r"[0-9]{1,18}"
    queryset = AuditEvent.objects.none()  # for the schema; get_queryset() is what serves
    filters_used: dict[str, Any]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return events_for(self.request.user).exclude(seq=None)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.action != "list":
            return queryset
        params = self.request.query_params
        data = {name: params.get(name) for name in AuditFilterForm.FILTERS if name in params}
        form = AuditFilterForm(data, user=self.request.user)
        if not form.is_valid():
            record_refused_read(self.request.user, form)
            raise ValidationError(
                {name: [str(message) for message in errors] for name, errors in form.errors.items()}
            )
        self.filters_used = form.filters()
        return form.apply(queryset)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        events = list(page if page is not None else queryset)
        record_trail_read(
            request.user, self.filters_used, [int(e.seq) for e in events if e.seq is not None]
        )
        data = self.get_serializer(events, many=True).data
        if page is not None:
            return self.get_paginated_response(data)
        return Response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        seq = self.kwargs["seq"]
        try:
            event = self.get_object()
        except Http404:
            hidden = AuditEvent.objects.filter(seq=seq).values_list("pk", flat=True).first()
            if hidden is not None:
                record(
                    request.user,
                    Action.VIEW,
                    target_type=TRAIL,
                    target_id=hidden,
                    outcome=Outcome.DENIED,
                    detail={"seq": int(seq)},
                )
            raise
        record(request.user, Action.VIEW, target=event, detail={"seq": event.seq})
        return Response(self.get_serializer(event).data)
