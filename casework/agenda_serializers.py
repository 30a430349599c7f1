"""What the agenda API shows and takes (issue 7). Writes go through casework.agenda and
casework.minutes, which check them against the policy; these check the shape of the
request and refuse any field an endpoint does not take."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from casework.meeting_models import ActionItem, AgendaItem, MinuteEntry
from teams.api_base import RejectUnknownFieldsMixin
from teams.disclosure import DisclosureLevel


class _Strict(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


class AgendaItemSerializer(serializers.ModelSerializer[AgendaItem]):
    case_reference = serializers.CharField(source="case.reference", read_only=True)
    reason_label = serializers.CharField(source="get_reason_display", read_only=True)

    class Meta:
        model = AgendaItem
        fields = [
            "id",
            "meeting",
            "case",
            "case_reference",
            "reason",
            "reason_label",
            "title",
            "source_label",
            "source_id",
            "added_by",
            "position",
            "discussed_at",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "source_label": {
                "help_text": "The kind of record that put the case on the agenda "
                "(`casework.casedecision`, `casework.dutytowarn`, `victims.victiminput`); "
                "empty for a review that is due and a case a member added."
            },
            "title": {"help_text": "What the item is about, from non-sensitive fields only."},
        }


class AgendaItemCreateSerializer(_Strict):
    """A member adds a case to a meeting's agenda."""

    meeting = serializers.IntegerField(min_value=1, help_text="A meeting you attend.")
    case = serializers.IntegerField(
        min_value=1, help_text="An active case of the meeting's team that you may see."
    )


class MinuteEntrySerializer(serializers.ModelSerializer[MinuteEntry]):
    author_name = serializers.CharField(source="author.__str__", read_only=True)

    class Meta:
        model = MinuteEntry
        fields = ["id", "item", "case", "author", "author_name", "body", "disclosure_level"]
        fields += ["created_at"]
        read_only_fields = fields


class MinuteEntryCreateSerializer(_Strict):
    item = serializers.IntegerField(min_value=1, help_text="An agenda item you may see.")
    body = serializers.CharField(max_length=20000)
    disclosure_level = serializers.ChoiceField(
        choices=DisclosureLevel.choices,
        help_text="One of the levels the writer's role may choose for minutes (never restricted).",
    )


class ActionItemSerializer(serializers.ModelSerializer[ActionItem]):
    meeting = serializers.IntegerField(source="item.meeting_id", read_only=True)
    owner_name = serializers.CharField(source="owner.__str__", read_only=True)
    done = serializers.SerializerMethodField()

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "item",
            "meeting",
            "case",
            "owner",
            "owner_name",
            "text",
            "due_on",
            "done",
            "done_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_done(self, action: ActionItem) -> bool:
        return action.done_at is not None


class ActionItemCreateSerializer(_Strict):
    item = serializers.IntegerField(min_value=1, help_text="An agenda item you may see.")
    owner = serializers.IntegerField(
        min_value=1,
        help_text="A member of the meeting's team, or the guest invited for the item's case.",
    )
    text = serializers.CharField(max_length=300)
    due_on = serializers.DateField(help_text="Today or later.")


class ActionItemUpdateSerializer(_Strict):
    done = serializers.BooleanField(
        required=False, help_text="Done (its owner, the officer or the supervisor)."
    )
    due_on = serializers.DateField(
        required=False, help_text="A new due date, today or later (the officer or supervisor)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Send a field to change."]})
        return attrs
