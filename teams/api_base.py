"""The base every read-only API viewset builds on: the disclosure policy restricts the
queryset, hidden rows answer 404, and each page or record shown is audited."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from rest_framework import serializers, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from audit.services import record_list, record_read
from teams.disclosure import restrict
from teams.disclosure.queries import case_id_of, record_if_hidden


def int_query_param(request: Request, name: str) -> int | None:
    """Read an optional integer filter; a bad value is a 400 naming the parameter."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"Enter a whole number, not {raw!r}."]}) from None
    if value < 1:
        raise ValidationError({name: ["Enter a positive id."]})
    return value


def drf_errors(error: DjangoValidationError) -> serializers.ValidationError:
    """A service's field-keyed ValidationError as the API's 400 with field errors."""
    if hasattr(error, "error_dict"):
        # Django's form-wide key is "__all__"; DRF clients expect "non_field_errors".
        return serializers.ValidationError(
            {
                ("non_field_errors" if field == "__all__" else field): messages
                for field, messages in error.message_dict.items()
            }
        )
    return serializers.ValidationError({"non_field_errors": error.messages})


def call_service(request: Request, service: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a service as the signed-in user; its answers as HTTP errors: a field error is
    a 400 naming the field, acting outside one's role a 403."""
    try:
        return service(request.user, *args, **kwargs)
    except DjangoValidationError as error:
        raise drf_errors(error) from None
    except DjangoPermissionDenied as error:
        raise PermissionDenied(str(error)) from None


class RejectUnknownFieldsMixin:
    """A field the endpoint does not take is a 400 naming it, not silently ignored."""

    initial_data: Any
    fields: Any

    def validate_unknown(self) -> None:
        if not isinstance(self.initial_data, dict):
            return
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: ["This field cannot be set here."] for name in unknown}
            )


class RestrictedReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    base_queryset: QuerySet[Any]
    serializer_class: type[serializers.BaseSerializer]

    def get_queryset(self) -> QuerySet[Any]:
        return restrict(self.base_queryset.all(), self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        record_list(request.user, queryset.model, [row.pk for row in rows])
        serializer = self.get_serializer(rows, many=True)
        if page is not None:
            return self.get_paginated_response(serializer.data)
        return Response(serializer.data)

    def get_object(self) -> Any:
        try:
            return super().get_object()
        except Http404:
            lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
            record_if_hidden(self.base_queryset.model, self.request.user, pk=lookup)
            raise

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        record_read(request.user, instance, case_id=case_id_of(instance))
        return Response(self.get_serializer(instance).data)
