from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from victims.models import CaseVictim, Victim, VictimLocation


class VictimLocationSerializer(serializers.ModelSerializer[VictimLocation]):
    class Meta:
        model = VictimLocation
        fields = [
            "address_line1",
            "address_line2",
            "city",
            "postal_code",
            "phone",
            "email",
            "employer",
            "school",
            "updated_at",
        ]


class VictimCaseLinkSerializer(serializers.ModelSerializer[CaseVictim]):
    class Meta:
        model = CaseVictim
        fields = ["case", "pseudonym", "representative"]


class VictimSerializer(serializers.ModelSerializer[Victim]):
    """A victim with the cases the reader may see, and locating information only where the
    disclosure policy allows it (null otherwise). The view hands in what the policy
    allowed, fetched in one query per page: `visible_links` and `visible_locations`."""

    cases = serializers.SerializerMethodField()
    location = serializers.SerializerMethodField()

    class Meta:
        model = Victim
        fields = ["id", "first_name", "last_name", "relationship_category", "cases", "location"]

    @extend_schema_field(VictimCaseLinkSerializer(many=True))
    def get_cases(self, victim: Victim) -> list[dict[str, Any]]:
        links = self.context.get("visible_links", {}).get(victim.pk, [])
        return list(VictimCaseLinkSerializer(links, many=True).data)

    @extend_schema_field(VictimLocationSerializer(allow_null=True))
    def get_location(self, victim: Victim) -> dict[str, Any] | None:
        location = self.context.get("visible_locations", {}).get(victim.pk)
        return dict(VictimLocationSerializer(location).data) if location else None
