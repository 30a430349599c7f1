"""The victim's record through the API, with the same rules as the pages
(victims.records):

- `POST /api/v1/victims/` adds a person harmed to a case, `POST /api/v1/victims/<id>/link/`
  links one the user represents to another case, `PATCH /api/v1/victims/<id>/` changes
  identity and locating information (victims.api.VictimViewSet takes these from
  `VictimWritesMixin`);
- `/api/v1/victim-preferences/`: contact preferences and safety concerns, read and
  written by the victim's representatives only;
- `/api/v1/protective-orders/`: orders, read by whoever sees the victim on the case
  (treatment and polygraph under the pseudonym), recorded by the representatives.

A 400 names the bad field (locating fields under `location`) and nothing is saved.
"""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from casework.api import CASE_FILTER
from casework.serializers import RejectUnknownFieldsMixin, VisibleCaseField
from teams.api_base import RestrictedReadOnlyViewSet, drf_errors, int_query_param
from victims import records
from victims.models import (
    ContactMethod,
    OrderKind,
    ProtectiveOrder,
    RelationshipCategory,
    Victim,
    VictimPreferences,
)
from victims.queue import victim_names
from victims.selectors import victims_for
from victims.serializers import VictimSerializer

VICTIM_FILTER = OpenApiParameter(
    "victim", OpenApiTypes.INT, description="Only records of this victim.", required=False
)


def service_errors(error: DjangoValidationError) -> serializers.ValidationError:
    """A service's field errors as a 400; locating fields go under `location`, as they
    were posted."""
    if not hasattr(error, "error_dict"):
        return drf_errors(error)
    flat: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    for field, messages in error.message_dict.items():
        if field in records.LOCATION_FIELDS:
            nested[field] = messages
        else:
            flat["non_field_errors" if field == "__all__" else field] = messages
    if nested:
        flat["location"] = nested
    return serializers.ValidationError(flat)


class StrictSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """A field the endpoint does not take is a 400 naming it, nested ones included."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["This field cannot be set here."] for name in unknown}
                )
        return super().to_internal_value(data)


class LocationInputSerializer(StrictSerializer):
    """Locating information; absent fields keep their values."""

    address_line1 = serializers.CharField(required=False, allow_blank=True, max_length=200)
    address_line2 = serializers.CharField(required=False, allow_blank=True, max_length=200)
    city = serializers.CharField(required=False, allow_blank=True, max_length=120)
    postal_code = serializers.CharField(required=False, allow_blank=True, max_length=20)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    email = serializers.EmailField(required=False, allow_blank=True)
    employer = serializers.CharField(required=False, allow_blank=True, max_length=200)
    school = serializers.CharField(required=False, allow_blank=True, max_length=200)
    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, required=False, allow_null=True
    )
    longitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, required=False, allow_null=True
    )
    protection_radius_m = serializers.IntegerField(
        required=False, min_value=1, max_value=records.MAX_RADIUS_M
    )


class VictimCreateSerializer(StrictSerializer):
    case = VisibleCaseField(help_text="A case on which you are a victim representative.")
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    relationship_category = serializers.ChoiceField(choices=RelationshipCategory.choices)
    pseudonym = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="The case's pseudonym for this person; default: the next free "
        '"Person harmed N".',
    )
    location = LocationInputSerializer(required=False, allow_null=True)


class VictimUpdateSerializer(StrictSerializer):
    """Absent fields keep their values."""

    first_name = serializers.CharField(required=False, allow_blank=True)
    last_name = serializers.CharField(required=False, allow_blank=True)
    relationship_category = serializers.ChoiceField(
        choices=RelationshipCategory.choices, required=False
    )
    location = LocationInputSerializer(required=False)


class VictimLinkSerializer(StrictSerializer):
    case = VisibleCaseField(help_text="The case to link the person to.")
    pseudonym = serializers.CharField(required=False, allow_blank=True)


class VictimWritesMixin:
    """Writes of VictimViewSet (victims.api): create, link and partial update."""

    request: Any
    get_object: Any
    get_serializer: Any
    get_serializer_context: Any

    @extend_schema(request=VictimCreateSerializer, responses={201: VictimSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Add a person harmed to a case; you become their representative there."""
        payload = VictimCreateSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        case = data["case"]
        try:
            link = records.create_victim(
                request.user,
                case,
                identity={name: data.get(name) for name in records.IDENTITY_FIELDS},
                pseudonym=data.get("pseudonym") or records.next_pseudonym(case),
                location=data.get("location") or None,
            )
        except DjangoValidationError as error:
            raise service_errors(error) from None
        victim = Victim.objects.get(pk=link.victim_id)
        return Response(self.get_serializer(victim).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=VictimLinkSerializer, responses={201: VictimSerializer})
    @action(detail=True, methods=["post"])
    def link(self, request: Request, pk: str | None = None) -> Response:
        """Link this person, whom you represent on another case, to `case`."""
        victim = self.get_object()
        payload = VictimLinkSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        case = payload.validated_data["case"]
        pseudonym = payload.validated_data.get("pseudonym") or records.next_pseudonym(case)
        try:
            records.link_victim(request.user, case, victim, pseudonym)
        except DjangoValidationError as error:
            raise service_errors(error) from None
        return Response(self.get_serializer(victim).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=VictimUpdateSerializer, responses=VictimSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change identity (`first_name`, `last_name`, `relationship_category`) and
        locating information (`location`); the victim's representatives only."""
        victim = self.get_object()
        user = request.user
        if not (
            records.writer_case_ids(user, victim, records.IDENTITY_WRITE)
            or records.writer_case_ids(user, victim, records.LOCATING_WRITE)
        ):
            # Checked before the body: validation messages would tell such a reader nothing
            # they need.
            raise PermissionDenied("Only the victim's representatives change their record.")
        payload = VictimUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        identity = {name: data[name] for name in records.IDENTITY_FIELDS if name in data}
        try:
            records.update_victim(
                user, victim, identity=identity or None, location=data.get("location") or None
            )
        except DjangoValidationError as error:
            raise service_errors(error) from None
        victim.refresh_from_db()
        return Response(self.get_serializer(victim).data)


# --- Contact preferences -----------------------------------------------------------------


class PreferencesSerializer(serializers.ModelSerializer[VictimPreferences]):
    class Meta:
        model = VictimPreferences
        fields = [
            "id",
            "victim",
            "wants_contact",
            "preferred_method",
            "preferred_times",
            "safety_concerns",
            "updated_at",
        ]
        read_only_fields = fields


class PreferencesWriteSerializer(StrictSerializer):
    """Absent fields keep their values (a new record starts from the defaults)."""

    wants_contact = serializers.BooleanField(
        required=False, help_text="If false, nobody contacts the victim, not even to notify."
    )
    preferred_method = serializers.ChoiceField(choices=ContactMethod.choices, required=False)
    preferred_times = serializers.CharField(required=False, allow_blank=True, max_length=200)
    safety_concerns = serializers.CharField(required=False, allow_blank=True)


class PreferencesCreateSerializer(PreferencesWriteSerializer):
    victim = serializers.PrimaryKeyRelatedField(queryset=Victim.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # A victim the user may not see answers exactly like a missing one.
            victim: Any = self.fields["victim"]
            victim.queryset = victims_for(request.user)


@extend_schema_view(list=extend_schema(parameters=[VICTIM_FILTER]))
class VictimPreferencesViewSet(RestrictedReadOnlyViewSet):
    """A victim's contact preferences and safety concerns: the victim's representatives
    only (anyone else gets an empty list, or a 404). `?victim=<id>` narrows to one."""

    base_queryset = VictimPreferences.objects.order_by("victim_id")
    serializer_class = PreferencesSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        victim_id = int_query_param(self.request, "victim")
        if victim_id is not None:
            queryset = queryset.filter(victim_id=victim_id)
        return queryset

    @extend_schema(
        request=PreferencesCreateSerializer,
        responses={200: PreferencesSerializer, 201: PreferencesSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record the victim's preferences (201), or change them if recorded (200)."""
        payload = PreferencesCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        payload.is_valid(raise_exception=True)
        values = dict(payload.validated_data)
        victim = values.pop("victim")
        try:
            row, created = records.set_preferences(request.user, victim, values)
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(row).data, status=code)

    @extend_schema(request=PreferencesWriteSerializer, responses=PreferencesSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        row = self.get_object()
        payload = PreferencesWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            row, _ = records.set_preferences(request.user, row.victim, payload.validated_data)
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        return Response(self.get_serializer(row).data)


# --- Protective and no-contact orders -----------------------------------------------------


class OrderSerializer(serializers.ModelSerializer[ProtectiveOrder]):
    case_reference = serializers.CharField(source="case.reference", read_only=True)
    victim_name = serializers.SerializerMethodField(
        help_text="The victim as you may see them: a pseudonym for treatment and polygraph."
    )
    active = serializers.SerializerMethodField(help_text="Not past its expiry date.")
    created_by_name = serializers.CharField(source="created_by.__str__", read_only=True)

    class Meta:
        model = ProtectiveOrder
        fields = [
            "id",
            "case",
            "case_reference",
            "victim",
            "victim_name",
            "kind",
            "court",
            "order_number",
            "issued_on",
            "expires_on",
            "active",
            "terms",
            "related_condition",
            "created_by",
            "created_by_name",
            "created_at",
        ]
        read_only_fields = fields

    def get_victim_name(self, order: ProtectiveOrder) -> str:
        names: dict[tuple[int, int], str] = self.context.get("victim_names", {})
        return names.get((order.case_id, order.victim_id), "")

    def get_active(self, order: ProtectiveOrder) -> bool:
        return records.order_is_active(order)


class OrderCreateSerializer(StrictSerializer):
    case = VisibleCaseField()
    victim = serializers.PrimaryKeyRelatedField(
        queryset=Victim.objects.none(), help_text="A victim of the case."
    )
    kind = serializers.ChoiceField(choices=OrderKind.choices)
    court = serializers.CharField(required=False, allow_blank=True)
    order_number = serializers.CharField(required=False, allow_blank=True)
    issued_on = serializers.DateField()
    expires_on = serializers.DateField(required=False, allow_null=True)
    terms = serializers.CharField(allow_blank=True, help_text="What the order forbids.")
    related_condition = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="One of the case's conditions of supervision, exactly as written, or empty.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            victim: Any = self.fields["victim"]
            victim.queryset = victims_for(request.user)


@extend_schema_view(list=extend_schema(parameters=[CASE_FILTER, VICTIM_FILTER]))
class ProtectiveOrderViewSet(RestrictedReadOnlyViewSet):
    """Protective and no-contact orders on the cases where you see the victim, newest
    first; `?case=<id>` and `?victim=<id>` narrow the list. The case's victim
    representatives record them."""

    base_queryset = ProtectiveOrder.objects.select_related("case", "created_by").order_by(
        "-issued_on", "-id"
    )
    serializer_class = OrderSerializer
    http_method_names = ["get", "post", "head", "options"]

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        if case_id is not None:
            queryset = queryset.filter(case_id=case_id)
        victim_id = int_query_param(self.request, "victim")
        if victim_id is not None:
            queryset = queryset.filter(victim_id=victim_id)
        return queryset

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        rows = args[0] if args else None
        if rows is not None:
            orders = rows if isinstance(rows, list) else [rows]
            # The names victim_views allows, for every row at once (and in the ledger).
            kwargs.setdefault("context", self.get_serializer_context())["victim_names"] = (
                # Orders carry case_id and victim_id, all that victim_names reads.
                victim_names(self.request.user, cast(Any, orders))
            )
        return super().get_serializer(*args, **kwargs)

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = OrderCreateSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            order = records.create_order(
                request.user,
                data["case"],
                data["victim"],
                kind=data["kind"],
                issued_on=data["issued_on"],
                expires_on=data.get("expires_on"),
                terms=data["terms"],
                court=data.get("court", ""),
                order_number=data.get("order_number", ""),
                related_condition=data.get("related_condition", ""),
            )
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        fresh = self.base_queryset.get(pk=order.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)


def register(router: BaseRouter) -> None:
    router.register("victim-preferences", VictimPreferencesViewSet, basename="victim-preference")
    router.register("protective-orders", ProtectiveOrderViewSet, basename="protective-order")
