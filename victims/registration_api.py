"""Notification registrations and victim notifications through the API: the same rules
as the pages (victims.registrations). Only the case's victim representatives see either
(DESIGN rule 2): for anyone else the lists are empty and every record answers 404."""

from __future__ import annotations

from typing import Any

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

from casework.serializers import RejectUnknownFieldsMixin, VisibleCaseField
from teams.api_base import RestrictedReadOnlyViewSet, drf_errors, int_query_param
from teams.disclosure import case_access
from victims import registrations
from victims.models import (
    Delivery,
    NotificationEvent,
    NotificationRegistration,
    Victim,
    VictimNotification,
)

CASE_FILTER = OpenApiParameter(
    "case", OpenApiTypes.INT, description="Only records of this case.", required=False
)
VICTIM_FILTER = OpenApiParameter(
    "victim", OpenApiTypes.INT, description="Only records of this victim.", required=False
)
TO_RELAY_FILTER = OpenApiParameter(
    "to_relay",
    OpenApiTypes.BOOL,
    description="`true`: only notifications neither relayed nor e-mailed.",
    required=False,
)


class RegistrationSerializer(serializers.ModelSerializer[NotificationRegistration]):
    class Meta:
        model = NotificationRegistration
        fields = [
            "id",
            "case",
            "victim",
            "event",
            "delivery",
            "email",
            "active",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class VisibleVictimField(serializers.PrimaryKeyRelatedField[Victim]):
    """A victim id; one the user may not see is answered like one that does not exist."""

    queryset = Victim.objects.all()  # the model, for the schema; get_queryset() restricts

    def get_queryset(self) -> Any:
        from victims.selectors import victims_for

        return victims_for(self.context["request"].user)


class RegistrationCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """A victim's registration for one or more events on a case. An event already
    registered is updated (and reactivated), not duplicated."""

    case = VisibleCaseField()
    victim = VisibleVictimField()
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=NotificationEvent.choices),
        help_text="At least one event.",
    )
    delivery = serializers.ChoiceField(choices=Delivery.choices, default=Delivery.RELAY)
    email = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        help_text="Required with `email` delivery; kept only while e-mail is chosen.",
    )

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


class RegistrationChangeSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """Fields left out keep their values; `active: false` stops the notifications."""

    delivery = serializers.ChoiceField(choices=Delivery.choices, required=False)
    email = serializers.CharField(allow_blank=True, required=False)
    active = serializers.BooleanField(required=False)

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                {"non_field_errors": ["Send delivery, email or active."]}
            )
        return attrs


def _filter(request: Request, queryset: QuerySet[Any]) -> QuerySet[Any]:
    case_id = int_query_param(request, "case")
    if case_id is not None:
        queryset = queryset.filter(case_id=case_id)
    victim_id = int_query_param(request, "victim")
    if victim_id is not None:
        queryset = queryset.filter(victim_id=victim_id)
    return queryset


@extend_schema_view(
    list=extend_schema(parameters=[CASE_FILTER, VICTIM_FILTER]),
    create=extend_schema(
        request=RegistrationCreateSerializer,
        responses={201: RegistrationSerializer(many=True)},
        description=(
            "Register a victim of a case for one or more events; returns one registration "
            "per event. Only the case's victim representatives may; a 400 names each bad "
            "field (no event, e-mail delivery without an address, a victim who asked not "
            "to be contacted) and nothing is saved."
        ),
    ),
    partial_update=extend_schema(
        request=RegistrationChangeSerializer,
        responses={200: RegistrationSerializer},
        description="Change the delivery or address, or stop (`active: false`) or resume.",
    ),
)
class NotificationRegistrationViewSet(RestrictedReadOnlyViewSet):
    """Victims' registrations for notifications (victim representatives only);
    `?case=<id>` and `?victim=<id>` narrow the list."""

    base_queryset = NotificationRegistration.objects.order_by("case_id", "victim_id", "event")
    serializer_class = RegistrationSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return _filter(self.request, queryset)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = RegistrationCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        if not registrations.may_manage(case_access(request.user, data["case"])):
            # They see the case (or the field would have answered 400) but do not represent
            # its victims; the victim's registrations are none of their business.
            raise PermissionDenied(registrations.NOT_A_REPRESENTATIVE)
        try:
            rows = registrations.register(
                request.user,
                data["case"],
                data["victim"],
                data["events"],
                data["delivery"],
                data["email"],
            )
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        body = RegistrationSerializer(rows, many=True).data
        return Response(body, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        registration = self.get_object()  # hidden: 404, recorded as denied
        if not registrations.may_manage(case_access(request.user, registration.case)):
            # Checked before the body: validation messages tell such a reader nothing.
            raise PermissionDenied("Only the case's victim representatives change it.")
        incoming = RegistrationChangeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            registrations.change_registration(
                request.user,
                registration,
                delivery=data.get("delivery"),
                email=data.get("email"),
                active=data.get("active"),
            )
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        return Response(RegistrationSerializer(registration).data)


class VictimNotificationSerializer(serializers.ModelSerializer[VictimNotification]):
    status = serializers.SerializerMethodField(help_text="`to_relay`, `emailed` or `relayed`.")

    class Meta:
        model = VictimNotification
        fields = [
            "id",
            "registration",
            "case",
            "victim",
            "event",
            "message",
            "occurred_at",
            "created_at",
            "delivery",
            "status",
            "emailed_at",
            "relayed_by",
            "relayed_at",
            "relay_note",
        ]
        read_only_fields = fields

    def get_status(self, notification: VictimNotification) -> str:
        return registrations.status_of(notification)


class RelaySerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    relay_note = serializers.CharField(
        allow_blank=True, help_text="How it was relayed, for example: by phone, and when."
    )

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


@extend_schema_view(
    list=extend_schema(parameters=[CASE_FILTER, VICTIM_FILTER, TO_RELAY_FILTER]),
    relay=extend_schema(
        request=RelaySerializer,
        responses={200: VictimNotificationSerializer},
        description="Record that you told the victim, and how. Once only.",
    ),
)
class VictimNotificationViewSet(RestrictedReadOnlyViewSet):
    """Notifications of events to victims (victim representatives only), newest first."""

    base_queryset = VictimNotification.objects.order_by("-occurred_at", "-id")
    serializer_class = VictimNotificationSerializer
    http_method_names = ["get", "post", "head", "options"]

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = _filter(self.request, queryset)
        to_relay = self.request.query_params.get("to_relay", "")
        if to_relay.lower() in ("true", "1"):
            queryset = queryset.filter(relayed_at__isnull=True, emailed_at__isnull=True)
        elif to_relay not in ("", "false", "0", "False"):
            raise serializers.ValidationError({"to_relay": ["Use true or false."]})
        return queryset

    @action(detail=True, methods=["post"])
    def relay(self, request: Request, pk: str | None = None) -> Response:
        notification = self.get_object()  # hidden: 404, recorded as denied
        if not registrations.may_manage(case_access(request.user, notification.case)):
            raise PermissionDenied("Only the case's victim representatives relay notifications.")
        incoming = RelaySerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            registrations.relay(request.user, notification, incoming.validated_data["relay_note"])
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        return Response(VictimNotificationSerializer(notification).data)


def register(router: BaseRouter) -> None:
    router.register(
        "notification-registrations",
        NotificationRegistrationViewSet,
        basename="notification-registration",
    )
    router.register(
        "victim-notifications", VictimNotificationViewSet, basename="victim-notification"
    )
