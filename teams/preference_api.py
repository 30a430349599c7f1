"""E-mail preferences through the API: `/api/v1/notification-preferences/`, the signed-in
person's own only (there is no way to name anyone else).

GET lists every kind of notification with the setting in force. PATCH takes an object
whose keys are kinds and whose values say whether to e-mail (`{"meeting_reminder":
false}`) and changes those kinds only; PUT takes the same and puts every kind it does not
name back to the default (e-mailed). Both answer with the full list. An unknown kind, a
value that is not true or false, or turning off a kind that is always e-mailed (safety
alerts) is a 400 naming the kind, and nothing is saved.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import record_list
from teams import preferences
from teams.api_base import RejectUnknownFieldsMixin, drf_errors
from teams.models import ALWAYS_EMAILED, NotificationKind, NotificationPreference


class NotificationPreferenceSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=NotificationKind.choices, read_only=True)
    kind_display = serializers.CharField(source="label", read_only=True)
    email = serializers.BooleanField(
        read_only=True, help_text="E-mailed as well as shown in the app."
    )
    always_emailed = serializers.BooleanField(
        read_only=True, help_text="A safety alert: always e-mailed, and cannot be turned off."
    )
    reason = serializers.CharField(
        read_only=True, help_text="Why the setting cannot be changed, when it cannot."
    )


class NotificationPreferencesWriteSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """One optional true/false per kind, named by the kind."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            kind: serializers.BooleanField(
                required=False,
                help_text=f"{label}."
                + (f" {preferences.ALWAYS_EMAILED_REASON}" if kind in ALWAYS_EMAILED else ""),
            )
            for kind, label in NotificationKind.choices
        }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [preferences.UNKNOWN_KIND] for name in unknown}
                )
        return super().to_internal_value(data)


def _listed(user: Any, rows: list[preferences.Preference]) -> Response:
    record_list(user, NotificationPreference, preferences.stored_ids(user))
    return Response(NotificationPreferenceSerializer(rows, many=True).data)


class NotificationPreferencesView(APIView):
    """Your own e-mail preferences, one entry per kind of notification."""

    @extend_schema(responses=NotificationPreferenceSerializer(many=True))
    def get(self, request: Request) -> Response:
        return _listed(request.user, preferences.preferences_for(request.user))

    @extend_schema(
        request=NotificationPreferencesWriteSerializer,
        responses=NotificationPreferenceSerializer(many=True),
        description="Set every kind: those not named go back to being e-mailed.",
    )
    def put(self, request: Request) -> Response:
        return self._change(request, reset_others=True)

    @extend_schema(
        request=NotificationPreferencesWriteSerializer,
        responses=NotificationPreferenceSerializer(many=True),
        description="Change the kinds named; the others stay as they are.",
    )
    def patch(self, request: Request) -> Response:
        return self._change(request, reset_others=False)

    def _change(self, request: Request, *, reset_others: bool) -> Response:
        payload = NotificationPreferencesWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            rows = preferences.set_preferences(
                request.user, dict(payload.validated_data), reset_others=reset_others
            )
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        return _listed(request.user, rows)
