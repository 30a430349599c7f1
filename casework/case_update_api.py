"""PATCH /api/v1/cases/<id>/: the officer's update of a case summary, through the same
service as the form (casework.case_updates). Mixed into the cases viewset."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from casework import case_updates
from casework.models import CaseStatus
from casework.serializers import CaseSerializer, RejectUnknownFieldsMixin
from teams.api_base import drf_errors
from teams.disclosure import case_access

DATE_ERROR = "Enter a date as YYYY-MM-DD, or null."


class CaseSummaryUpdateSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """What an officer may change of a case; fields left out keep their values, any
    other field is a 400 naming it."""

    status = serializers.ChoiceField(
        choices=CaseStatus.choices,
        required=False,
        error_messages={"invalid_choice": "Choose a status from the list."},
    )
    supervision_end = serializers.DateField(
        required=False, allow_null=True, error_messages={"invalid": DATE_ERROR}
    )
    next_hearing_on = serializers.DateField(
        required=False, allow_null=True, error_messages={"invalid": DATE_ERROR}
    )
    treatment_ended_on = serializers.DateField(
        required=False, allow_null=True, error_messages={"invalid": DATE_ERROR}
    )
    conditions = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="The whole list of conditions, one string each; it replaces the current one.",
    )

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                {"non_field_errors": ["Send at least one field to change."]}
            )
        return attrs


class CaseSummaryUpdateMixin:
    """PATCH on a case: its officers update the summary (403 for other readers, 404 for
    anyone who may not see the case); a 400 names each bad field and nothing is saved."""

    get_object: Any

    @extend_schema(
        request=CaseSummaryUpdateSerializer,
        responses={200: CaseSerializer},
        description=(
            "Update the case summary: status, supervision_end, next_hearing_on, "
            "treatment_ended_on, conditions. Only the case's officers may (403 for other "
            "readers). Status changes to absconded, warrant or closed, a hearing date set "
            "or changed, and the end of treatment are told to registered victims."
        ),
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        case = self.get_object()  # a case the user may not see is a 404, audited
        if not case_updates.may_update(case_access(request.user, case)):
            # Checked before the body: a reader who may not write learns nothing more.
            raise PermissionDenied("Only the case's officers update its summary.")
        incoming = CaseSummaryUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            case_updates.update_summary(request.user, case, incoming.validated_data)
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        return Response(CaseSerializer(case).data)
