"""The disclosure ledger through the API: /api/v1/victims/<id>/ledger/, for the victim's
representatives only (anyone else: 404, recorded as denied). Newest first, a page at a
time: `?before=<seq>` continues from the `older` of the previous page. The victim's name
is not in the answer (the client has the victim's id), so reading it discloses nothing
more."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from teams.api_base import int_query_param
from victims.ledger import ledger, ledger_victim_or_404


class LedgerEntrySerializer(serializers.Serializer[Any]):
    seq = serializers.IntegerField(help_text="The event's position in the audit trail.")
    seen_at = serializers.DateTimeField()
    reader_id = serializers.IntegerField(allow_null=True)
    reader_name = serializers.CharField()
    reader_role = serializers.CharField(help_text="Their role on the case's team that day.")
    shown = serializers.CharField(help_text="What was shown, in words.")
    release_id = serializers.IntegerField(
        allow_null=True, help_text="The release it was shown under; null: the reader's role."
    )
    release = serializers.CharField(help_text="The release, in words.")
    case_id = serializers.IntegerField(allow_null=True)
    case_reference = serializers.CharField()
    emergency = serializers.BooleanField(help_text="Seen under emergency access.")


class LedgerSerializer(serializers.Serializer[Any]):
    victim = serializers.IntegerField(source="victim.pk")
    entries = LedgerEntrySerializer(many=True)
    older = serializers.IntegerField(
        allow_null=True, help_text="Pass as `before` for the next (older) page."
    )


VICTIM_PATH = OpenApiParameter("victim_pk", OpenApiTypes.INT, OpenApiParameter.PATH)
BEFORE = OpenApiParameter(
    "before", OpenApiTypes.INT, description="Only events before this position.", required=False
)


class VictimLedgerViewSet(viewsets.ViewSet):
    """Every time the victim's identity or locating information was shown, by whom,
    when, and under which release, from the audit trail."""

    serializer_class = LedgerSerializer

    @extend_schema(parameters=[VICTIM_PATH, BEFORE], responses=LedgerSerializer)
    def list(self, request: Request, victim_pk: str | None = None) -> Response:
        victim, case_ids = ledger_victim_or_404(request.user, int(victim_pk or 0))
        page = ledger(request.user, victim, case_ids, int_query_param(request, "before"))
        return Response(LedgerSerializer(page).data)


def register(router: BaseRouter) -> None:
    router.register(
        r"victims/(?P<victim_pk>[0-9]+)/ledger", VictimLedgerViewSet, basename="victim-ledger"
    )
