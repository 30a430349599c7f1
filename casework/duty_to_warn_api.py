"""Duty-to-warn reports through the API: the same rules as the pages
(casework.duty_to_warn). Those the policy lets read reports list, read and acknowledge
them; anyone who may file one does, and treatment and polygraph get back only that it
was received."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from casework import duty_to_warn
from casework.models import AtRisk, DutyToWarn, DutyToWarnAlert, Urgency
from casework.serializers import RejectUnknownFieldsMixin, VisibleCaseField
from teams.api_base import RestrictedReadOnlyViewSet, drf_errors, int_query_param
from teams.disclosure import case_access

CASE_FILTER = OpenApiParameter(
    "case", OpenApiTypes.INT, description="Only reports on this case.", required=False
)


class AlertSerializer(serializers.ModelSerializer[DutyToWarnAlert]):
    """One person told about the report, in one round: the timeline."""

    recipient_name = serializers.CharField(source="recipient.__str__", read_only=True)
    read_at = serializers.SerializerMethodField(
        help_text="When they opened the notification (null: not yet)."
    )

    class Meta:
        model = DutyToWarnAlert
        fields = [
            "recipient",
            "recipient_name",
            "round",
            "reason",
            "alerted_at",
            "emailed",
            "read_at",
        ]
        read_only_fields = fields

    def get_read_at(self, alert: DutyToWarnAlert) -> Any:
        reads = self.context.get("read_times", {})
        when = reads.get((alert.report_id, alert.round, alert.recipient_id))
        return serializers.DateTimeField().to_representation(when) if when else None


class DutyToWarnSerializer(serializers.ModelSerializer[DutyToWarn]):
    case_reference = serializers.CharField(source="case.reference", read_only=True)
    reporter_name = serializers.CharField(source="reporter.__str__", read_only=True)
    acknowledged_by_name = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField(help_text="`open` or `acknowledged`.")
    alerts = AlertSerializer(many=True, read_only=True)

    class Meta:
        model = DutyToWarn
        fields = [
            "id",
            "case",
            "case_reference",
            "reporter",
            "reporter_name",
            "at_risk",
            "threat",
            "urgency",
            "created_at",
            "status",
            "acknowledged_by",
            "acknowledged_by_name",
            "acknowledged_at",
            "action_taken",
            "escalation_round",
            "next_escalation_at",
            "alerts",
        ]
        read_only_fields = fields

    def get_acknowledged_by_name(self, report: DutyToWarn) -> str | None:
        return str(report.acknowledged_by) if report.acknowledged_by else None

    def get_status(self, report: DutyToWarn) -> str:
        return "acknowledged" if report.acknowledged_at else "open"


class DutyToWarnReceiptSerializer(serializers.ModelSerializer[DutyToWarn]):
    """What a reporter who may not read reports gets back: that it was received."""

    status = serializers.SerializerMethodField(help_text="Always `received`.")

    class Meta:
        model = DutyToWarn
        fields = ["id", "case", "created_at", "status"]
        read_only_fields = fields

    def get_status(self, report: DutyToWarn) -> str:
        return "received"


class DutyToWarnCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """A new report. The reporter is the signed-in user; any other field is a 400."""

    case = VisibleCaseField()
    at_risk = serializers.ChoiceField(
        choices=AtRisk.choices,
        error_messages={"invalid_choice": "Choose who is at risk from the list."},
    )
    threat = serializers.CharField(max_length=duty_to_warn.THREAT_MAX_LENGTH)
    urgency = serializers.ChoiceField(
        choices=Urgency.choices,
        error_messages={"invalid_choice": "Choose how urgent it is from the list."},
    )

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


class AcknowledgeSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    action_taken = serializers.CharField(
        max_length=duty_to_warn.ACTION_MAX_LENGTH,
        help_text="What you did or are doing now. Acknowledging stops the escalation.",
    )

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


CREATED = PolymorphicProxySerializer(
    component_name="DutyToWarnCreated",
    serializers=[DutyToWarnSerializer, DutyToWarnReceiptSerializer],
    resource_type_field_name=None,
)


@extend_schema_view(
    list=extend_schema(
        parameters=[CASE_FILTER],
        description="Duty-to-warn reports the signed-in user may read (officers, "
        "supervisors and victim representatives of the case's team), newest first, each "
        "with its timeline of alerts.",
    ),
    create=extend_schema(
        request=DutyToWarnCreateSerializer,
        responses={
            201: OpenApiResponse(
                CREATED,
                description="The report, for those who may read reports; for anyone else "
                "(treatment, polygraph) only its id, case, time and `status: received`.",
            )
        },
        description=(
            "File a report: who is at risk (a category), the threat and its urgency. It "
            "alerts the case's supervisors and victim representatives at once and escalates "
            "to every supervisor of the team until acknowledged. Any member of the case's "
            "team may file; a 400 names a bad field and nothing is saved."
        ),
    ),
    acknowledge=extend_schema(
        request=AcknowledgeSerializer,
        responses={200: DutyToWarnSerializer},
        description=(
            "Acknowledge the report, saying what action was taken; the escalation stops. "
            "Once only, and not by the person who filed it."
        ),
    ),
)
class DutyToWarnViewSet(RestrictedReadOnlyViewSet):
    """Duty-to-warn reports; `?case=<id>` narrows to one case."""

    base_queryset = (
        DutyToWarn.objects.select_related("case", "reporter", "acknowledged_by")
        .prefetch_related(
            Prefetch(
                "alerts",
                queryset=DutyToWarnAlert.objects.select_related("recipient").order_by(
                    "alerted_at", "round", "pk"
                ),
            )
        )
        .order_by("-created_at", "-id")
    )
    serializer_class = DutyToWarnSerializer
    http_method_names = ["get", "post", "head", "options"]

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        if case_id is not None:
            queryset = queryset.filter(case_id=case_id)
        return queryset

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        rows = args[0] if args else None
        if rows is not None:
            reports = rows if kwargs.get("many") else [rows]
            alerts = [alert for report in reports for alert in report.alerts.all()]
            kwargs.setdefault("context", self.get_serializer_context())
            kwargs["context"]["read_times"] = duty_to_warn.read_times(alerts)
        return super().get_serializer(*args, **kwargs)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = DutyToWarnCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            report = duty_to_warn.file(
                request.user, data["case"], data["at_risk"], data["threat"], data["urgency"]
            )
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        if not duty_to_warn.may_read(case_access(request.user, report.case)):
            body = DutyToWarnReceiptSerializer(report).data
            return Response(body, status=status.HTTP_201_CREATED)
        fresh = self.base_queryset.get(pk=report.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        report = self.get_object()  # a report the user may not read is a 404
        if not duty_to_warn.may_acknowledge(case_access(request.user, report.case), report):
            # Checked before the body: validation messages tell such a reader nothing.
            if report.reporter_id == request.user.pk:
                raise PermissionDenied(
                    "Someone other than the person who filed the report must acknowledge it."
                )
            raise PermissionDenied("Your role on this case does not acknowledge reports.")
        incoming = AcknowledgeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            duty_to_warn.acknowledge(request.user, report, incoming.validated_data["action_taken"])
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        fresh = self.base_queryset.get(pk=report.pk)
        return Response(self.get_serializer(fresh).data)
