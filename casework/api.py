from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from audit.services import record_read
from casework import services
from casework.case_update_api import CaseSummaryUpdateMixin
from casework.duty_to_warn_api import DutyToWarnViewSet
from casework.emergency_api import EmergencyAccessViewSet
from casework.models import Case, CaseNote, Supervisee
from casework.serializers import (
    AudienceSerializer,
    CaseNoteCreateSerializer,
    CaseNoteLevelSerializer,
    CaseNoteSerializer,
    CaseSerializer,
    SuperviseeSerializer,
)
from teams.api_base import RestrictedReadOnlyViewSet, drf_errors, int_query_param
from teams.disclosure import audience


class CaseViewSet(CaseSummaryUpdateMixin, RestrictedReadOnlyViewSet):
    """Cases the signed-in user may see; their officers update the summary (PATCH)."""

    base_queryset = Case.objects.select_related("supervisee", "team", "assigned_officer").order_by(
        "reference"
    )
    serializer_class = CaseSerializer
    http_method_names = ["get", "patch", "head", "options"]


class SuperviseeViewSet(RestrictedReadOnlyViewSet):
    """People under supervision on the cases the signed-in user may see."""

    base_queryset = Supervisee.objects.order_by("last_name", "first_name", "id")
    serializer_class = SuperviseeSerializer


CASE_FILTER = OpenApiParameter(
    "case", OpenApiTypes.INT, description="Only records of this case.", required=False
)


@extend_schema_view(
    list=extend_schema(parameters=[CASE_FILTER]),
    create=extend_schema(
        request=CaseNoteCreateSerializer,
        responses={201: CaseNoteSerializer},
        description=(
            "Add a note to a case. The kind must be one the author's role writes, and the "
            "disclosure level one the role may choose for it; otherwise a 400 names the field "
            "and nothing is saved."
        ),
    ),
    partial_update=extend_schema(
        request=CaseNoteLevelSerializer,
        responses={200: CaseNoteSerializer},
        description=(
            "Change who can see a note: its disclosure level and, for `restricted`, its "
            "named members. Only the author may (403 for other readers); any other field "
            "is a 400 naming it. Every change of level is audited."
        ),
    ),
)
class CaseNoteViewSet(RestrictedReadOnlyViewSet):
    """Notes on the cases the signed-in user may see; `?case=<id>` narrows to one case."""

    base_queryset = (
        CaseNote.objects.select_related("author", "case")
        .prefetch_related("casenoteuserobjectpermission_set")
        .order_by("-created_at", "-id")
    )
    serializer_class = CaseNoteSerializer
    # Notes are added and their level changed; they are never replaced or deleted.
    http_method_names = ["get", "post", "patch", "head", "options"]

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        if case_id is not None:
            queryset = queryset.filter(case_id=case_id)
        return queryset

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = CaseNoteCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            note = services.create_note(
                request.user,
                data["case"],
                data["kind"],
                data["body"],
                data["disclosure_level"],
                data["named_members"],
            )
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        return Response(self._read(note.pk), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        note = self.get_object()  # a note the user may not read is a 404
        if note.author_id != request.user.pk:
            # Checked before the body, so a reader who is not the author learns nothing
            # from validation messages.
            raise PermissionDenied("Only the author of a note can change who it is shared with.")
        incoming = CaseNoteLevelSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            services.change_note_level(
                request.user,
                note,
                data.get("disclosure_level", note.disclosure_level),
                data.get("named_members"),
            )
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        return Response(self._read(note.pk))

    def _read(self, pk: int) -> Any:
        return CaseNoteSerializer(self.base_queryset.get(pk=pk)).data

    @extend_schema(
        responses={200: AudienceSerializer},
        description=(
            "Who can see this note: the roles the policy lets read it, the people now "
            "holding them on the case's team, its named members, case guests and its author."
        ),
    )
    @action(detail=True, methods=["get"])
    def audience(self, request: Request, pk: str | None = None) -> Response:
        note = self.get_object()
        record_read(request.user, note, case_id=note.case_id)
        return Response(AudienceSerializer(audience(note)).data)


def register(router: BaseRouter) -> None:
    router.register("cases", CaseViewSet, basename="case")
    router.register("supervisees", SuperviseeViewSet, basename="supervisee")
    router.register("notes", CaseNoteViewSet, basename="note")
    from casework.decision_api import CaseDecisionViewSet  # it reuses this module's filter

    router.register("decisions", CaseDecisionViewSet, basename="decision")
    router.register("emergency-access", EmergencyAccessViewSet, basename="emergency-access")
    router.register("duty-to-warn", DutyToWarnViewSet, basename="duty-to-warn")
