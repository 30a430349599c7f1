"""Emergency access through the API: the same rules as the pages (casework.emergency),
for clients that are not browsers. Only supervisors start, read and sign off."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from audit.services import record_list, record_read
from casework import emergency
from casework.models import EmergencyAccess
from casework.serializers import RejectUnknownFieldsMixin
from teams.api_base import drf_errors
from teams.selectors import is_supervisor


class EmergencyAccessSerializer(serializers.ModelSerializer[EmergencyAccess]):
    case_reference = serializers.CharField(source="case.reference", read_only=True)
    user_name = serializers.CharField(source="user.get_full_name", read_only=True)
    reviewed_by_name = serializers.SerializerMethodField()
    active = serializers.SerializerMethodField()

    class Meta:
        model = EmergencyAccess
        fields = [
            "id",
            "case",
            "case_reference",
            "user",
            "user_name",
            "reason",
            "started_at",
            "expires_at",
            "active",
            "reviewed_by",
            "reviewed_by_name",
            "reviewed_at",
            "review_note",
        ]
        read_only_fields = fields

    def get_reviewed_by_name(self, access: EmergencyAccess) -> str | None:
        return access.reviewed_by.get_full_name() if access.reviewed_by else None

    def get_active(self, access: EmergencyAccess) -> bool:
        return access.is_active


class EmergencyStartSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    reference = serializers.CharField(max_length=30)
    reason = serializers.CharField(max_length=2000)

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


class EmergencyReviewSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    note = serializers.CharField(max_length=2000)

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


@extend_schema_view(
    list=extend_schema(
        description="Your own emergency accesses and those awaiting your sign-off "
        "(supervisors only; everyone else gets an empty list)."
    ),
    create=extend_schema(
        request=EmergencyStartSerializer,
        responses={201: EmergencyAccessSerializer},
        description=(
            "Open a case outside your teams for EMERGENCY_ACCESS_MINUTES, giving a written "
            "reason (at least 20 characters). Supervisors only; every event the access "
            "produces is marked in the audit trail."
        ),
    ),
    review=extend_schema(
        request=EmergencyReviewSerializer,
        responses={200: EmergencyAccessSerializer},
        description="Sign off another supervisor's emergency access, saying what you checked.",
    ),
)
class EmergencyAccessViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = EmergencyAccessSerializer

    def get_queryset(self) -> QuerySet[EmergencyAccess]:
        return emergency.visible_to(self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = list(page if page is not None else self.get_queryset())
        record_list(request.user, EmergencyAccess, [row.pk for row in rows])
        serializer = self.get_serializer(rows, many=True)
        if page is not None:
            return self.get_paginated_response(serializer.data)
        return Response(serializer.data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        access = self.get_object()
        record_read(request.user, access, case_id=access.case_id)
        return Response(self.get_serializer(access).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not is_supervisor(request.user):
            raise PermissionDenied("Only a supervisor can start emergency access.")
        incoming = EmergencyStartSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            access = emergency.start(
                request.user,
                incoming.validated_data["reference"],
                incoming.validated_data["reason"],
            )
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        return Response(self.get_serializer(access).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str | None = None) -> Response:
        access = self.get_object()
        incoming = EmergencyReviewSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            emergency.review(request.user, access, incoming.validated_data["note"])
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        return Response(self.get_serializer(access).data)
