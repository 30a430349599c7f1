"""What the decisions API shows and takes. Writes go through casework.decisions, which
checks them against the lifecycle and the policy; these check the shape of the request
and refuse any field an endpoint does not take (RejectUnknownFieldsMixin)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from casework import decision_rules
from casework.decisions import IMPACT_OFF_SCALE
from casework.models import CaseDecision, DecisionKind, ImpactRating, Interest, ProceedReason
from casework.serializers import RejectUnknownFieldsMixin, VisibleCaseField
from teams.disclosure import DisclosureLevel

WORKSHEET = [
    f"{interest}_{part}" for interest in Interest.values for part in ("benefits", "risks", "impact")
]
PLACE = ["place_description", "place_postal_code", "place_latitude", "place_longitude"]


class CaseDecisionSerializer(serializers.ModelSerializer[CaseDecision]):
    author_name = serializers.CharField(source="author.__str__", read_only=True)
    needs_approval = serializers.SerializerMethodField()
    approval_reasons = serializers.SerializerMethodField(
        help_text="Why a supervisor must approve it, from the decision table (empty: no need)."
    )
    touches_victims = serializers.SerializerMethodField(
        help_text="Whether the victim representative's input (or a recorded reason to "
        "proceed without it) is needed before it is final, on a case with a represented victim."
    )
    place_check_label = serializers.CharField(
        source="get_place_check_display",
        read_only=True,
        help_text="All the location check tells: whether there may be a conflict.",
    )
    superseded_by = serializers.SerializerMethodField()
    input_due_at = serializers.SerializerMethodField(
        help_text="When the victim representative's input is due, once it was requested."
    )
    victim_inputs = serializers.SerializerMethodField(
        help_text="Ids of the victim input linked to this decision that you may read."
    )

    class Meta:
        model = CaseDecision
        fields = [
            "id",
            "case",
            "author",
            "author_name",
            "kind",
            "status",
            "summary",
            "rationale",
            *WORKSHEET,
            "community_danger",
            "victim_danger",
            "relaxes_condition",
            *PLACE,
            "place_check",
            "place_check_label",
            "disclosure_level",
            "needs_approval",
            "approval_reasons",
            "touches_victims",
            "created_at",
            "updated_at",
            "proposed_at",
            "approved_by",
            "approved_at",
            "returned_by",
            "returned_at",
            "return_comment",
            "withdrawn_at",
            "withdrawn_reason",
            "proceed_reason",
            "proceed_explanation",
            "finalised_at",
            "supersedes",
            "superseded_by",
            "input_due_at",
            "victim_inputs",
            "agenda_item",
        ]
        read_only_fields = fields

    def get_needs_approval(self, decision: CaseDecision) -> bool:
        return decision_rules.needs_approval(decision)

    def get_approval_reasons(self, decision: CaseDecision) -> list[str]:
        return decision_rules.approval_reasons(decision)

    def get_touches_victims(self, decision: CaseDecision) -> bool:
        return decision_rules.touches_victims(decision)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_superseded_by(self, decision: CaseDecision) -> int | None:
        # Selected with the decision by the viewset: no query per row.
        later = getattr(decision, "superseded_by", None)
        return int(later.pk) if later is not None else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_input_due_at(self, decision: CaseDecision) -> Any:
        request = getattr(decision, "input_request", None)
        return serializers.DateTimeField().to_representation(request.due_at) if request else None

    def get_victim_inputs(self, decision: CaseDecision) -> list[int]:
        inputs: dict[int, list[int]] = self.context.get("victim_inputs", {})
        return inputs.get(int(decision.pk), [])


def _impact_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=ImpactRating.choices,
        allow_null=True,
        required=False,
        error_messages={"invalid_choice": IMPACT_OFF_SCALE},
        help_text="-2 serious harm, -1 some harm, 0 no real effect, 1 some benefit, "
        "2 clear benefit; null: not rated yet.",
    )


def _coordinate(limit: int) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=9,
        decimal_places=6,
        rounding=ROUND_HALF_UP,
        allow_null=True,
        required=False,
        help_text=f"Degrees, -{limit} to {limit}.",
    )


class DecisionFieldsSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """The fields an officer writes on a draft; every one optional here (a change)."""

    kind = serializers.ChoiceField(choices=DecisionKind.choices, required=False)
    summary = serializers.CharField(max_length=200, required=False)
    rationale = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    supervisee_benefits = serializers.CharField(required=False, allow_blank=True)
    supervisee_risks = serializers.CharField(required=False, allow_blank=True)
    supervisee_impact = _impact_field()
    victims_benefits = serializers.CharField(required=False, allow_blank=True)
    victims_risks = serializers.CharField(required=False, allow_blank=True)
    victims_impact = _impact_field()
    community_benefits = serializers.CharField(required=False, allow_blank=True)
    community_risks = serializers.CharField(required=False, allow_blank=True)
    community_impact = _impact_field()
    community_danger = serializers.BooleanField(required=False)
    victim_danger = serializers.BooleanField(required=False)
    relaxes_condition = serializers.BooleanField(required=False)
    place_description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    place_postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    place_latitude = _coordinate(90)
    place_longitude = _coordinate(180)
    disclosure_level = serializers.ChoiceField(
        choices=DisclosureLevel.choices,
        required=False,
        help_text="Who reads it once final; one of the levels the author's role may choose "
        "(default: team). Drafts are read by their author and the team's supervisors only.",
    )

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


class DecisionCreateSerializer(DecisionFieldsSerializer):
    """A new draft. The author is the signed-in user."""

    case = VisibleCaseField()
    kind = serializers.ChoiceField(choices=DecisionKind.choices)
    summary = serializers.CharField(max_length=200)
    supersedes = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="A final decision of the same case that this one replaces once final.",
    )
    agenda_item = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="The review meeting's agenda item (of the same case) the decision is "
        "taken at; it is listed under that item.",
    )


class DecisionUpdateSerializer(DecisionFieldsSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Send a field to change."]})
        return attrs


class EmptySerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """No body: the action needs nothing more than who asks."""

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


class ReturnSerializer(EmptySerializer):
    return_comment = serializers.CharField(
        max_length=20000, help_text="What should change before it is proposed again."
    )


class FinaliseSerializer(EmptySerializer):
    proceed_reason = serializers.ChoiceField(
        choices=ProceedReason.choices,
        required=False,
        allow_blank=True,
        help_text="Only for a decision that touches a victim, on a case with a represented "
        "victim, when the representative has given no input on it. `no_answer` only once "
        "the input was due.",
    )
    proceed_explanation = serializers.CharField(max_length=20000, required=False, allow_blank=True)


class WithdrawSerializer(EmptySerializer):
    withdrawn_reason = serializers.CharField(max_length=20000)
