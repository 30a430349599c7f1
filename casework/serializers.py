from __future__ import annotations

from rest_framework import serializers

from casework.models import Case, CaseNote, Supervisee


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
        ]

    def get_assigned_officer_name(self, case: Case) -> str | None:
        return str(case.assigned_officer) if case.assigned_officer else None


class CaseNoteSerializer(serializers.ModelSerializer[CaseNote]):
    author_name = serializers.CharField(source="author.__str__", read_only=True)

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
            "created_at",
            "updated_at",
        ]
