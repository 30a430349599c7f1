"""New-victim reports through the API: the same rules as the pages
(victims.new_victim_reports). Supervisors and victim representatives of the case list,
read and acknowledge them; whoever the policy lets file (treatment, polygraph) files one
and gets back only that it was received; anyone else finds nothing."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
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
from rest_framework.routers import BaseRouter

from casework.serializers import RejectUnknownFieldsMixin, VisibleCaseField
from teams.api_base import RestrictedReadOnlyViewSet, drf_errors, int_query_param
from teams.disclosure import case_access
from victims import new_victim_reports
from victims.models import DisclosureContext, NewVictimReport

CASE_FILTER = OpenApiParameter(
    "case", OpenApiTypes.INT, description="Only reports on this case.", required=False
)


class NewVictimReportSerializer(serializers.ModelSerializer[NewVictimReport]):
    case_reference = serializers.CharField(source="case.reference", read_only=True)
    reporter_name = serializers.CharField(source="reporter.__str__", read_only=True)
    acknowledged_by_name = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField(help_text="`open` or `acknowledged`.")

    class Meta:
        model = NewVictimReport
        fields = [
            "id",
            "case",
            "case_reference",
            "reporter",
            "reporter_name",
            "context",
            "disclosed_on",
            "description",
            "created_at",
            "status",
            "acknowledged_by",
            "acknowledged_by_name",
            "acknowledged_at",
        ]
        read_only_fields = fields

    def get_acknowledged_by_name(self, report: NewVictimReport) -> str | None:
        return str(report.acknowledged_by) if report.acknowledged_by else None

    def get_status(self, report: NewVictimReport) -> str:
        return "acknowledged" if report.acknowledged_at else "open"


class NewVictimReportReceiptSerializer(serializers.ModelSerializer[NewVictimReport]):
    """What a reporter who may not read reports gets back: that it was received."""

    status = serializers.SerializerMethodField(help_text="Always `received`.")

    class Meta:
        model = NewVictimReport
        fields = ["id", "case", "created_at", "status"]
        read_only_fields = fields

    def get_status(self, report: NewVictimReport) -> str:
        return "received"


class NewVictimReportCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """A new report. The reporter is the signed-in user; any other field is a 400."""

    case = VisibleCaseField()
    # Named as the model's field; DRF's metaclass moves declared fields off the class,
    # so `self.context` (the request's) is not shadowed.
    context = serializers.ChoiceField(  # type: ignore[assignment]
        choices=DisclosureContext.choices,
        error_messages={"invalid_choice": "Choose where it was disclosed from the list."},
    )
    disclosed_on = serializers.DateField()
    description = serializers.CharField(
        allow_blank=True, max_length=new_victim_reports.DESCRIPTION_MAX_LENGTH
    )

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


CREATED = PolymorphicProxySerializer(
    component_name="NewVictimReportCreated",
    serializers=[NewVictimReportSerializer, NewVictimReportReceiptSerializer],
    resource_type_field_name=None,
)


@extend_schema_view(
    list=extend_schema(
        parameters=[CASE_FILTER],
        description="Reports the signed-in user may read (supervisors and victim "
        "representatives of the case), newest first.",
    ),
    create=extend_schema(
        request=NewVictimReportCreateSerializer,
        responses={
            201: OpenApiResponse(
                CREATED,
                description="The report, for those who may read reports; for anyone else "
                "(treatment, polygraph) only its id, case, time and `status: received`.",
            )
        },
        description=(
            "Report that a possible new victim was disclosed. The case's supervisors and "
            "victim representatives are told at once; a 400 names a bad field and nothing "
            "is saved."
        ),
    ),
    acknowledge=extend_schema(
        request=None,
        responses={200: NewVictimReportSerializer},
        description="Acknowledge the report: you are taking it in hand. Once only.",
    ),
)
class NewVictimReportViewSet(RestrictedReadOnlyViewSet):
    """Reports of a possible new victim; `?case=<id>` narrows to one case."""

    base_queryset = NewVictimReport.objects.select_related(
        "case", "reporter", "acknowledged_by"
    ).order_by("-created_at", "-id")
    serializer_class = NewVictimReportSerializer
    http_method_names = ["get", "post", "head", "options"]

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        if case_id is not None:
            queryset = queryset.filter(case_id=case_id)
        return queryset

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = NewVictimReportCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            report = new_victim_reports.file(
                request.user,
                data["case"],
                data["context"],
                data["disclosed_on"],
                data["description"],
            )
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        if not new_victim_reports.may_read(case_access(request.user, report.case)):
            body = NewVictimReportReceiptSerializer(report).data
            return Response(body, status=status.HTTP_201_CREATED)
        fresh = self.base_queryset.get(pk=report.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        report = self.get_object()  # a report the user may not read is a 404
        if not new_victim_reports.may_acknowledge(case_access(request.user, report.case), report):
            raise PermissionDenied("Your role on this case does not acknowledge these reports.")
        try:
            new_victim_reports.acknowledge(request.user, report)
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        fresh = self.base_queryset.get(pk=report.pk)
        return Response(self.get_serializer(fresh).data)


def register(router: BaseRouter) -> None:
    router.register("new-victim-reports", NewVictimReportViewSet, basename="new-victim-report")
