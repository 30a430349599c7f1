from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from casework.models import Case, CaseDecision
from teams.api_base import RejectUnknownFieldsMixin
from teams.disclosure.policy import DisclosureLevel, ReleaseCategory
from teams.models import User
from victims.models import (
    CaseVictim,
    InputRequest,
    Release,
    ReleaseStatus,
    Victim,
    VictimInput,
    VictimInputKind,
)
from victims.selectors import LOCATING_FIELD_ORDER, VictimView
from victims.services import NOT_ASKED

# --- Victims ---------------------------------------------------------------------------


class VictimLocationSerializer(serializers.Serializer[Any]):
    """Locating fields the reader may see; the others are null."""

    address_line1 = serializers.CharField(allow_null=True)
    address_line2 = serializers.CharField(allow_null=True)
    city = serializers.CharField(allow_null=True)
    postal_code = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    employer = serializers.CharField(allow_null=True)
    school = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField()


class VictimCaseLinkSerializer(serializers.ModelSerializer[CaseVictim]):
    class Meta:
        model = CaseVictim
        fields = ["case", "pseudonym", "representative"]


class VictimSerializer(serializers.ModelSerializer[Victim]):
    """A victim as the disclosure policy lets the reader see them.

    Treatment and polygraph roles get `first_name` and `last_name` null and the case's
    pseudonym as `display_name`. `location` holds only the locating fields the reader may
    see (the others null), and is null when they may see none."""

    # The view hands in what the policy allowed, computed once per page:
    # `visible_links`, `visible_locations` and `victim_views` (per victim, the combined
    # view of its visible case links).

    display_name = serializers.SerializerMethodField()
    first_name = serializers.SerializerMethodField()
    last_name = serializers.SerializerMethodField()
    cases = serializers.SerializerMethodField()
    location = serializers.SerializerMethodField()

    class Meta:
        model = Victim
        fields = [
            "id",
            "display_name",
            "first_name",
            "last_name",
            "relationship_category",
            "cases",
            "location",
        ]

    def _view(self, victim: Victim) -> VictimView | None:
        view: VictimView | None = self.context.get("victim_views", {}).get(victim.pk)
        return view

    def get_display_name(self, victim: Victim) -> str:
        view = self._view(victim)
        return view.display_name if view is not None else ""

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_first_name(self, victim: Victim) -> str | None:
        view = self._view(victim)
        return victim.first_name if view is not None and view.show_identity else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_last_name(self, victim: Victim) -> str | None:
        view = self._view(victim)
        return victim.last_name if view is not None and view.show_identity else None

    @extend_schema_field(VictimCaseLinkSerializer(many=True))
    def get_cases(self, victim: Victim) -> list[dict[str, Any]]:
        links = self.context.get("visible_links", {}).get(victim.pk, [])
        return list(VictimCaseLinkSerializer(links, many=True).data)

    @extend_schema_field(VictimLocationSerializer(allow_null=True))
    def get_location(self, victim: Victim) -> dict[str, Any] | None:
        view = self._view(victim)
        location = self.context.get("visible_locations", {}).get(victim.pk)
        if view is None or location is None or not view.location_fields:
            return None
        values: dict[str, Any] = {
            field: view.location_value(location, field) for field in LOCATING_FIELD_ORDER
        }
        values["updated_at"] = serializers.DateTimeField().to_representation(location.updated_at)
        return values


# --- Releases of information -----------------------------------------------------------


class ReleaseSerializer(serializers.ModelSerializer[Release]):
    categories = serializers.ListField(
        source="category_list",
        child=serializers.ChoiceField(choices=ReleaseCategory.choices),
        read_only=True,
    )
    recipient_name = serializers.CharField(source="recipient.__str__", read_only=True)
    status = serializers.ChoiceField(choices=ReleaseStatus.choices, read_only=True)

    class Meta:
        model = Release
        fields = [
            "id",
            "victim",
            "case",
            "recipient",
            "recipient_name",
            "categories",
            "purpose",
            "signed_on",
            "expires_on",
            "status",
            "created_by",
            "created_at",
            "revoked_at",
            "revoked_by",
            "revocation_reason",
        ]
        read_only_fields = fields


class ReleaseCreateSerializer(serializers.Serializer[Any]):
    """What a victim representative records. The shape is checked here; the rules
    (team, dates, the creator's role) by victims.services.create_release."""

    victim = serializers.PrimaryKeyRelatedField(queryset=Victim.objects.none())
    case = serializers.PrimaryKeyRelatedField(queryset=Case.objects.none())
    recipient = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True))
    categories = serializers.ListField(child=serializers.ChoiceField(ReleaseCategory.choices))
    purpose = serializers.CharField(allow_blank=True)
    signed_on = serializers.DateField()
    expires_on = serializers.DateField(
        error_messages={
            "required": "Enter the expiry date; a release must expire within one year.",
            "null": "Enter the expiry date; a release must expire within one year.",
        }
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from casework.selectors import cases_for
        from victims.selectors import victims_for

        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # Rows the user may not see answer exactly like missing ones.
            fields: Any = self.fields
            fields["victim"].queryset = victims_for(request.user)
            fields["case"].queryset = cases_for(request.user)


class ReleaseRevokeSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(allow_blank=True)


# --- Victim input ----------------------------------------------------------------------


class VictimInputSerializer(serializers.ModelSerializer[VictimInput]):
    author_name = serializers.CharField(source="author.__str__", read_only=True)
    named_members = serializers.SerializerMethodField()
    acknowledged_by_name = serializers.SerializerMethodField(
        help_text="Who acknowledged input on a pending decision (the officer), if anyone."
    )

    class Meta:
        model = VictimInput
        fields = [
            "id",
            "case",
            "author",
            "author_name",
            "body",
            "disclosure_level",
            "named_members",
            "kind",
            "decision",
            "acknowledged_by",
            "acknowledged_by_name",
            "acknowledged_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_acknowledged_by_name(self, item: VictimInput) -> str | None:
        return str(item.acknowledged_by) if item.acknowledged_by_id else None

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_named_members(self, item: VictimInput) -> list[int]:
        named: dict[int, list[int]] = self.context.get("named_members", {})
        return named.get(item.pk, [])


class VictimInputCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    case = serializers.PrimaryKeyRelatedField(queryset=Case.objects.none())
    body = serializers.CharField(allow_blank=True)
    disclosure_level = serializers.ChoiceField(choices=DisclosureLevel.choices, required=False)
    named_members = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), many=True, required=False
    )
    kind = serializers.ChoiceField(
        choices=VictimInputKind.choices,
        required=False,
        help_text="Default: `decision_input` with a `decision`, `information` without. "
        "`decision_input` needs a `decision`, and a `decision` needs `decision_input`.",
    )
    decision = serializers.PrimaryKeyRelatedField(
        queryset=CaseDecision.objects.none(),
        required=False,
        allow_null=True,
        help_text="The proposed decision this input answers: one of the same case on which "
        "your input was requested (see /api/v1/input-requests/).",
        error_messages={"does_not_exist": NOT_ASKED, "incorrect_type": NOT_ASKED},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from casework.selectors import cases_for
        from teams.disclosure import restrict

        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            fields: Any = self.fields
            fields["case"].queryset = cases_for(request.user)
            # The decisions the user was asked about: any other answers like a missing
            # one (drafts are not theirs to read). The service checks the case.
            asked = restrict(InputRequest.objects.all(), request.user)
            fields["decision"].queryset = CaseDecision.objects.filter(
                pk__in=asked.values("decision_id")
            )

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


class VictimInputLevelSerializer(serializers.Serializer[Any]):
    """Absent fields keep their current values."""

    disclosure_level = serializers.ChoiceField(choices=DisclosureLevel.choices, required=False)
    named_members = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), many=True, required=False
    )
