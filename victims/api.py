from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.settings import api_settings

from audit.services import record_read
from casework.api import CASE_FILTER
from teams.api_base import RestrictedReadOnlyViewSet, int_query_param
from victims import selectors, services
from victims.acknowledgements import acknowledge_input
from victims.information_request_api import register as register_information_requests
from victims.input_request_api import register as register_input_requests
from victims.ledger_api import register as register_ledger
from victims.models import Release, Victim, VictimInput, VictimInputUserObjectPermission
from victims.new_victim_report_api import register as register_new_victim_reports
from victims.record_api import VictimWritesMixin
from victims.record_api import register as register_records
from victims.registration_api import register as register_registrations
from victims.serializers import (
    ReleaseCreateSerializer,
    ReleaseRevokeSerializer,
    ReleaseSerializer,
    VictimInputCreateSerializer,
    VictimInputLevelSerializer,
    VictimInputSerializer,
    VictimSerializer,
)

T = TypeVar("T")

VICTIM_FILTER = OpenApiParameter(
    "victim", OpenApiTypes.INT, description="Only records of this victim.", required=False
)


def call_service(call: Callable[[], T]) -> T:
    """Run a service; its field errors become a 400 naming the same fields."""
    try:
        return call()
    except DjangoValidationError as error:
        if hasattr(error, "error_dict"):
            detail = {
                (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): msgs
                for field, msgs in error.message_dict.items()
            }
        else:
            detail = {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
        raise ValidationError(detail) from None


@extend_schema_view(list=extend_schema(parameters=[CASE_FILTER]))
class VictimViewSet(VictimWritesMixin, RestrictedReadOnlyViewSet):
    """Victims on the cases the signed-in user may see; `?case=<id>` narrows to one case.
    Treatment and polygraph roles see the case's pseudonym (`display_name`) and no name.
    Locating fields are filled only where the disclosure policy allows (the case's
    victim representatives, or a release naming the reader); the others are null.
    The case's victim representatives add, link and change victims (VictimWritesMixin)."""

    http_method_names = ["get", "post", "patch", "head", "options"]

    base_queryset = Victim.objects.order_by("last_name", "first_name", "id")
    serializer_class = VictimSerializer

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        if case_id is not None:
            queryset = queryset.filter(
                pk__in=selectors.victim_links_for(self.request.user)
                .filter(case_id=case_id)
                .values("victim_id")
            )
        return queryset

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        victim = self.get_object()
        # Filed under the case too when the reader sees the victim on exactly one case,
        # as the victim page does.
        case_ids = set(
            selectors.victim_links_for(request.user)
            .filter(victim_id=victim.pk)
            .values_list("case_id", flat=True)
        )
        case_id = case_ids.pop() if len(case_ids) == 1 else None
        record_read(request.user, victim, case_id=case_id, victim_id=victim.pk)
        return Response(self.get_serializer(victim).data)

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        rows = args[0] if args else None
        if rows is not None:
            victims = rows if isinstance(rows, list) else [rows]
            kwargs.setdefault("context", self.get_serializer_context()).update(
                self._visible_parts([victim.pk for victim in victims])
            )
        return super().get_serializer(*args, **kwargs)

    def _visible_parts(self, victim_ids: list[int]) -> dict[str, Any]:
        user = self.request.user
        links: dict[int, list[Any]] = defaultdict(list)
        all_links = list(selectors.victim_links_for(user).filter(victim_id__in=victim_ids))
        for link in all_links:
            links[link.victim_id].append(link)
        # One view per victim: identity if any visible case shows it, and every
        # locating field any of them (or a release) opens.
        views: dict[int, selectors.VictimView] = {}
        for view in selectors.victim_views(user, all_links):
            seen = views.get(view.victim.pk)
            views[view.victim.pk] = (
                view
                if seen is None
                else dataclasses.replace(
                    seen,
                    show_identity=seen.show_identity or view.show_identity,
                    location_fields=seen.location_fields | view.location_fields,
                )
            )
        shown = [pk for pk, view in views.items() if view.location_fields]
        locations = {
            location.victim_id: location
            for location in selectors.locations_for(user).filter(victim_id__in=shown)
        }
        return {"visible_links": links, "visible_locations": locations, "victim_views": views}


@extend_schema_view(list=extend_schema(parameters=[CASE_FILTER, VICTIM_FILTER]))
class ReleaseViewSet(RestrictedReadOnlyViewSet):
    """Releases of information (victim consents), visible to the case's victim
    representatives only. An active release lets exactly its recipient see exactly the
    categories it names of that victim, until `expires_on` (inclusive) or a revocation."""

    base_queryset = (
        Release.objects.select_related("recipient")
        .prefetch_related("items")
        .order_by("-created_at", "-id")
    )
    serializer_class = ReleaseSerializer

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        if case_id is not None:
            queryset = queryset.filter(case_id=case_id)
        victim_id = int_query_param(self.request, "victim")
        if victim_id is not None:
            queryset = queryset.filter(victim_id=victim_id)
        return queryset

    @extend_schema(request=ReleaseCreateSerializer, responses={201: ReleaseSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = ReleaseCreateSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        release = call_service(
            lambda: services.create_release(
                created_by=request.user,
                victim=data["victim"],
                case=data["case"],
                recipient=data["recipient"],
                categories=data["categories"],
                purpose=data["purpose"],
                signed_on=data["signed_on"],
                expires_on=data["expires_on"],
            )
        )
        return Response(self.get_serializer(release).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReleaseRevokeSerializer, responses=ReleaseSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke the release (the victim withdrew consent); `reason` is required."""
        release = self.get_object()
        payload = ReleaseRevokeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        reason = payload.validated_data["reason"]
        call_service(lambda: services.revoke_release(request.user, release, reason))
        return Response(self.get_serializer(release).data)


@extend_schema_view(list=extend_schema(parameters=[CASE_FILTER]))
class VictimInputViewSet(RestrictedReadOnlyViewSet):
    """Victim input the signed-in user may read (by its disclosure level); `?case=<id>`
    narrows to one case. Victim representatives of the case add input and change its
    level (PATCH `disclosure_level`, and `named_members` for a restricted record)."""

    base_queryset = VictimInput.objects.select_related("author", "acknowledged_by").order_by(
        "-created_at", "-id"
    )
    serializer_class = VictimInputSerializer

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        if case_id is not None:
            queryset = queryset.filter(case_id=case_id)
        return queryset

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        rows = args[0] if args else None
        if rows is not None:
            items = rows if isinstance(rows, list) else [rows]
            named: dict[int, list[int]] = defaultdict(list)
            for item_id, user_id in (
                VictimInputUserObjectPermission.objects.filter(
                    content_object_id__in=[item.pk for item in items]
                )
                .order_by("user_id")
                .values_list("content_object_id", "user_id")
            ):
                named[item_id].append(user_id)
            kwargs.setdefault("context", self.get_serializer_context())["named_members"] = named
        return super().get_serializer(*args, **kwargs)

    @extend_schema(request=VictimInputCreateSerializer, responses={201: VictimInputSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = VictimInputCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        item = call_service(
            lambda: services.create_victim_input(
                request.user,
                data["case"],
                data["body"],
                data.get("disclosure_level"),
                data.get("named_members", []),
                decision=data.get("decision"),
                kind=data.get("kind"),
            )
        )
        return Response(self.get_serializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=VictimInputSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        """Acknowledge input on a pending decision: the decision's author or the case's
        assigned officer, once. The representative who wrote it is told in the app."""
        item = self.get_object()
        try:
            call_service(lambda: acknowledge_input(request.user, item))
        except DjangoPermissionDenied as denied:
            raise PermissionDenied(str(denied)) from None
        return Response(self.get_serializer(item).data)

    @extend_schema(request=VictimInputLevelSerializer, responses=VictimInputSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        item = self.get_object()
        payload = VictimInputLevelSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        call_service(
            lambda: services.change_victim_input_level(
                request.user,
                item,
                data.get("disclosure_level", item.disclosure_level),
                data.get("named_members"),
            )
        )
        return Response(self.get_serializer(item).data)


def register(router: BaseRouter) -> None:
    router.register("victims", VictimViewSet, basename="victim")
    router.register("releases", ReleaseViewSet, basename="release")
    router.register("victim-inputs", VictimInputViewSet, basename="victim-input")
    register_input_requests(router)
    register_records(router)
    register_ledger(router)
    register_information_requests(router)
    register_registrations(router)
    register_new_victim_reports(router)
