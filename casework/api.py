from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.routers import BaseRouter

from casework.models import Case, CaseNote, Supervisee
from casework.serializers import CaseNoteSerializer, CaseSerializer, SuperviseeSerializer
from teams.api_base import RestrictedReadOnlyViewSet, int_query_param


class CaseViewSet(RestrictedReadOnlyViewSet):
    """Cases the signed-in user may see."""

    base_queryset = Case.objects.select_related("supervisee", "team", "assigned_officer").order_by(
        "reference"
    )
    serializer_class = CaseSerializer


class SuperviseeViewSet(RestrictedReadOnlyViewSet):
    """People under supervision on the cases the signed-in user may see."""

    base_queryset = Supervisee.objects.order_by("last_name", "first_name", "id")
    serializer_class = SuperviseeSerializer


CASE_FILTER = OpenApiParameter(
    "case", OpenApiTypes.INT, description="Only records of this case.", required=False
)


@extend_schema_view(list=extend_schema(parameters=[CASE_FILTER]))
class CaseNoteViewSet(RestrictedReadOnlyViewSet):
    """Notes on the cases the signed-in user may see; `?case=<id>` narrows to one case."""

    base_queryset = CaseNote.objects.select_related("author").order_by("-created_at", "-id")
    serializer_class = CaseNoteSerializer

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        if case_id is not None:
            queryset = queryset.filter(case_id=case_id)
        return queryset


def register(router: BaseRouter) -> None:
    router.register("cases", CaseViewSet, basename="case")
    router.register("supervisees", SuperviseeViewSet, basename="supervisee")
    router.register("notes", CaseNoteViewSet, basename="note")
