from __future__ import annotations

from typing import Any

from rest_framework import serializers

from casework.models import Case, CaseNote, NoteKind, Supervisee

# Re-exported: the casework serializers have always imported it from here.
from teams.api_base import RejectUnknownFieldsMixin as RejectUnknownFieldsMixin
from teams.disclosure import DisclosureLevel, restrict


class SuperviseeSerializer(serializers.ModelSerializer[Supervisee]):
    class Meta:
        model = Supervisee
        fields = [
            "id",
            "first_name",
            "last_name",
            "date_of_birth",
            "docket_number",
            "risk_level",
            "supervision_level",
        ]


class CaseSerializer(serializers.ModelSerializer[Case]):
    supervisee = SuperviseeSerializer(read_only=True)
    team_name = serializers.CharField(source="team.name", read_only=True)
    assigned_officer_name = serializers.SerializerMethodField()
    conditions = serializers.ListField(
        source="condition_list", child=serializers.CharField(), read_only=True
    )

    class Meta:
        model = Case
        fields = [
            "id",
            "reference",
            "supervisee",
            "team",
            "team_name",
            "assigned_officer",
            "assigned_officer_name",
            "status",
            "supervision_start",
            "supervision_end",
            "conditions",
            "next_review_due",
            "next_hearing_on",
            "treatment_ended_on",
        ]

    def get_assigned_officer_name(self, case: Case) -> str | None:
        return str(case.assigned_officer) if case.assigned_officer else None


class CaseNoteSerializer(serializers.ModelSerializer[CaseNote]):
    author_name = serializers.CharField(source="author.__str__", read_only=True)
    named_members = serializers.SerializerMethodField(
        help_text="Ids of the people a restricted note names (empty otherwise)."
    )

    class Meta:
        model = CaseNote
        fields = [
            "id",
            "case",
            "author",
            "author_name",
            "kind",
            "body",
            "disclosure_level",
            "named_members",
            "created_at",
            "updated_at",
        ]

    def get_named_members(self, note: CaseNote) -> list[int]:
        # Prefetched by the viewset: one query per page, not per note.
        grants: Any = note.casenoteuserobjectpermission_set
        return sorted(grant.user_id for grant in grants.all())


class VisibleCaseField(serializers.PrimaryKeyRelatedField[Case]):
    """A case id; a case the user may not see is answered like one that does not exist."""

    queryset = Case.objects.all()  # the model, for the schema; get_queryset() restricts

    def get_queryset(self) -> Any:
        request = self.context["request"]
        return restrict(Case.objects.all(), request.user)


NAMED_MEMBERS_HELP = (
    "Only with `restricted`: ids of active members of the case's team who may read the "
    "note besides its author."
)


class CaseNoteCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """A new note. The author is the signed-in user; any other field is a 400 naming it."""

    case = VisibleCaseField()
    kind = serializers.ChoiceField(choices=NoteKind.choices)
    body = serializers.CharField(max_length=20000)
    disclosure_level = serializers.ChoiceField(
        choices=DisclosureLevel.choices,
        help_text="Must be one of the levels the author's role may choose for the kind.",
    )
    named_members = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        help_text=NAMED_MEMBERS_HELP,
    )

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


class CaseNoteLevelSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """What a note's author may change: who can see it. Nothing else of a note changes."""

    disclosure_level = serializers.ChoiceField(
        choices=DisclosureLevel.choices,
        required=False,
        help_text="Left out: the note keeps its level.",
    )
    named_members = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text=NAMED_MEMBERS_HELP + " Left out: kept while the note stays restricted.",
    )

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                {"disclosure_level": ["Send disclosure_level, named_members or both."]}
            )
        return attrs


class PersonSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="__str__")


class AudienceSerializer(serializers.Serializer[Any]):
    """Who can see one record, computed by the disclosure policy that enforces it."""

    roles = serializers.ListField(child=serializers.CharField())
    members = PersonSerializer(many=True)
    named = PersonSerializer(many=True)
    guests = PersonSerializer(many=True)
    author = PersonSerializer(allow_null=True)
