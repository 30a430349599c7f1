"""The glossary and the role cards through the API. Everyone signed in reads both; a
supervisor of any team adds and changes glossary terms. Neither carries case content."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from audit.services import record_list, record_read
from teams import glossary, role_cards
from teams.api_base import RejectUnknownFieldsMixin, drf_errors
from teams.disclosure.policy import Access, DisclosureLevel, Info
from teams.models import Discipline, GlossaryTerm
from teams.roles import Role


class GlossaryTermSerializer(serializers.ModelSerializer[GlossaryTerm]):
    updated_by_name = serializers.SerializerMethodField()

    class Meta:
        model = GlossaryTerm
        fields = [
            "id",
            "term",
            "slug",
            "discipline",
            "definition",
            "updated_by",
            "updated_by_name",
            "updated_at",
        ]
        read_only_fields = fields

    def get_updated_by_name(self, obj: GlossaryTerm) -> str:
        return str(obj.updated_by) if obj.updated_by is not None else ""


class GlossaryTermWriteSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """A term and its definition; the slug (the page anchor) follows from the term."""

    term = serializers.CharField(max_length=glossary.TERM_MAX, allow_blank=True)
    discipline = serializers.ChoiceField(choices=Discipline.choices)
    definition = serializers.CharField(max_length=glossary.DEFINITION_MAX, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        self.validate_unknown()
        return attrs


class GlossaryViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The glossary, alphabetical. Supervisors of any team add (POST) and change (PUT,
    PATCH) terms; others get 403 for a write."""

    serializer_class = GlossaryTermSerializer

    def get_queryset(self) -> QuerySet[GlossaryTerm]:
        return glossary.terms()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = list(page if page is not None else self.get_queryset())
        record_list(request.user, GlossaryTerm, [row.pk for row in rows])
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        row = self.get_object()
        record_read(request.user, row, case_id=None)
        return Response(self.get_serializer(row).data)

    @extend_schema(request=GlossaryTermWriteSerializer, responses={201: GlossaryTermSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        row = self._save(request, None, partial=False)
        return Response(self.get_serializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=GlossaryTermWriteSerializer, responses=GlossaryTermSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        existing = self.get_object()
        row = self._save(request, existing, partial=kwargs.get("partial", False))
        return Response(self.get_serializer(row).data)

    @extend_schema(request=GlossaryTermWriteSerializer, responses=GlossaryTermSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def _save(self, request: Request, existing: GlossaryTerm | None, partial: bool) -> Any:
        # Refused before the input is looked at: a non-supervisor learns nothing from
        # the answer (not even whether a term exists already).
        if not glossary.may_edit(request.user):
            raise PermissionDenied("Only supervisors keep the glossary.")
        payload = GlossaryTermWriteSerializer(data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data

        def current(name: str) -> str:
            return str(getattr(existing, name)) if existing is not None else ""

        try:
            return glossary.save_term(
                request.user,
                data.get("term", current("term")),
                data.get("discipline", current("discipline")),
                data.get("definition", current("definition")),
                existing,
            )
        except DjangoPermissionDenied as error:
            raise PermissionDenied(str(error)) from None
        except DjangoValidationError as error:
            raise drf_errors(error) from None


# --- Role cards ------------------------------------------------------------------------


class LevelSerializer(serializers.Serializer[Any]):
    value = serializers.ChoiceField(choices=DisclosureLevel.choices)
    name = serializers.CharField(source="label")
    suggested = serializers.BooleanField(
        source="default", help_text="The level suggested when writing."
    )


class SeesSerializer(serializers.Serializer[Any]):
    information = serializers.ChoiceField(choices=[(i.value, i.value) for i in Info])
    name = serializers.CharField(source="label")
    access = serializers.ChoiceField(choices=[(a.value, a.value) for a in Access])
    access_label = serializers.CharField()
    levels = LevelSerializer(
        many=True, help_text="For access by level: the levels whose audience includes the role."
    )


class SharesSerializer(serializers.Serializer[Any]):
    information = serializers.ChoiceField(choices=[(i.value, i.value) for i in Info])
    name = serializers.CharField(source="label")
    levels = LevelSerializer(many=True)


class RoleCardSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Role.choices)
    name = serializers.CharField(source="label")
    description = serializers.CharField()
    sees = SeesSerializer(many=True)
    shares = SharesSerializer(many=True)


ROLE_LOOKUP = OpenApiParameter(
    "role", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(Role.values)
)


class RoleCardViewSet(viewsets.ViewSet):
    """What each team role does, and what it may see and share, generated from the
    disclosure policy's table (the rules the app enforces)."""

    lookup_field = "role"
    lookup_value_regex = "[a-z_]+"
    serializer_class = RoleCardSerializer

    @extend_schema(responses=RoleCardSerializer(many=True))
    def list(self, request: Request) -> Response:
        return Response(RoleCardSerializer(role_cards.all_cards(), many=True).data)

    @extend_schema(parameters=[ROLE_LOOKUP], responses=RoleCardSerializer)
    def retrieve(self, request: Request, role: str | None = None) -> Response:
        if role not in Role.values:
            raise Http404("No such role.")
        return Response(RoleCardSerializer(role_cards.card(role)).data)


def register(router: BaseRouter) -> None:
    router.register("glossary", GlossaryViewSet, basename="glossary-term")
    router.register("roles", RoleCardViewSet, basename="role-card")
