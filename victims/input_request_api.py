"""`/api/v1/input-requests/` and `/api/v1/place-conflicts/`: the victim representative's
side of a proposed decision, read-only. Input requests are read by the officer, the
supervisor and the victim representatives (the policy's INPUT_REQUEST row); place
conflicts are victim locating information, read by the victim representatives only.
Anyone else gets an empty list, or a 404 recorded as denied. Answering a request is a
POST to `/api/v1/victim-inputs/` with its `decision`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema as schema
from drf_spectacular.utils import extend_schema_field, extend_schema_view
from rest_framework import serializers
from rest_framework.routers import BaseRouter

from casework.api import CASE_FILTER
from casework.models import DecisionKind
from teams.api_base import RestrictedReadOnlyViewSet, int_query_param
from victims.models import InputRequest, PlaceConflict
from victims.queue import decision_label, input_requests_for, place_conflicts_for, victim_names


class InputRequestSerializer(serializers.ModelSerializer[InputRequest]):
    requested_by_name = serializers.CharField(source="requested_by.__str__", read_only=True)
    overdue = serializers.SerializerMethodField()
    answered = serializers.BooleanField(
        read_only=True, help_text="Whether you can read input given on this decision."
    )
    open = serializers.SerializerMethodField(
        help_text="Unanswered, and the decision is neither final nor withdrawn."
    )

    class Meta:
        model = InputRequest
        fields = [
            "id",
            "case",
            "decision",
            "kind_label",
            "summary",
            "requested_by",
            "requested_by_name",
            "requested_at",
            "due_at",
            "overdue",
            "answered",
            "open",
        ]
        read_only_fields = fields

    def get_overdue(self, item: InputRequest) -> bool:
        return bool(self.get_open(item) and item.due_at < timezone.now())

    def get_open(self, item: InputRequest) -> bool:
        return not (item.answered or item.decision_closed)  # type: ignore[attr-defined]


@extend_schema_view(list=schema(parameters=[CASE_FILTER]))
class InputRequestViewSet(RestrictedReadOnlyViewSet):
    """Requests for the victim representatives' input on proposed decisions that touch a
    victim: the decision's kind and summary and when an answer is due (never the draft
    itself); `?case=<id>` narrows to one case."""

    base_queryset = InputRequest.objects.all()
    serializer_class = InputRequestSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return input_requests_for(self.request.user).order_by("due_at", "id")

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        return queryset.filter(case_id=case_id) if case_id is not None else queryset


class PlaceConflictSerializer(serializers.ModelSerializer[PlaceConflict]):
    victim_name = serializers.SerializerMethodField()
    matched_by_label = serializers.CharField(source="get_matched_by_display", read_only=True)
    decision_kind = serializers.ChoiceField(choices=DecisionKind.choices, read_only=True)
    decision_kind_label = serializers.SerializerMethodField()
    place_description = serializers.CharField(read_only=True)
    place_postal_code = serializers.CharField(read_only=True)
    place_latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, read_only=True, allow_null=True
    )
    place_longitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, read_only=True, allow_null=True
    )
    input_request = serializers.IntegerField(
        source="input_request_id", read_only=True, allow_null=True
    )

    class Meta:
        model = PlaceConflict
        fields = [
            "id",
            "case",
            "decision",
            "decision_kind",
            "decision_kind_label",
            "input_request",
            "victim",
            "victim_name",
            "matched_by",
            "matched_by_label",
            "distance_m",
            "place_description",
            "place_postal_code",
            "place_latitude",
            "place_longitude",
            "checked_by",
            "checked_at",
        ]
        read_only_fields = fields

    def get_decision_kind_label(self, conflict: PlaceConflict) -> str:
        return decision_label(conflict)

    @extend_schema_field(serializers.CharField())
    def get_victim_name(self, conflict: PlaceConflict) -> str:
        names: dict[tuple[int, int], str] = self.context.get("victim_names", {})
        return names.get((conflict.case_id, conflict.victim_id), "")


@extend_schema_view(list=schema(parameters=[CASE_FILTER]))
class PlaceConflictViewSet(RestrictedReadOnlyViewSet):
    """Places in decisions that the blind location check found near a victim's protected
    location: which victim, matched by postal code or within the protection radius, the
    distance when both sides have coordinates, and the place the officer entered. Victim
    representatives of the case only; `?case=<id>` narrows to one case."""

    base_queryset = PlaceConflict.objects.all()
    serializer_class = PlaceConflictSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return place_conflicts_for(self.request.user).order_by("-checked_at", "-id")

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        return queryset.filter(case_id=case_id) if case_id is not None else queryset

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        rows = args[0] if args else None
        if rows is not None:
            conflicts = rows if isinstance(rows, list) else [rows]
            kwargs.setdefault("context", self.get_serializer_context())["victim_names"] = (
                victim_names(self.request.user, conflicts)
            )
        return super().get_serializer(*args, **kwargs)


def register(router: BaseRouter) -> None:
    router.register("input-requests", InputRequestViewSet, basename="input-request")
    router.register("place-conflicts", PlaceConflictViewSet, basename="place-conflict")
