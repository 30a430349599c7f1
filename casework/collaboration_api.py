"""/api/v1/collaboration-measures/: the collaboration measures of the teams the signed-in
user supervises (403 for anyone who supervises none; `?team=<id>` narrows to one of
them, and any other team answers 404). Numbers only."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from casework import collaboration
from teams.api_base import int_query_param
from teams.selectors import is_supervisor


def _share(help_text: str) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, help_text=help_text)


class MonthFiguresSerializer(serializers.Serializer[Any]):
    month = serializers.DateField(help_text="The first day of the month.")
    decisions_finalised = serializers.IntegerField(
        help_text="Victim-touching decisions finalised in the month."
    )
    with_input = serializers.IntegerField(help_text="… with the representative's input.")
    with_proceed_reason = serializers.IntegerField(
        help_text="… with a reason recorded for proceeding without it."
    )
    share_with_input = _share("with_input / decisions_finalised; null when none.")
    share_with_proceed_reason = _share("with_proceed_reason / decisions_finalised.")
    inputs_timed = serializers.IntegerField(
        help_text="Decisions whose first input (since proposal) came in the month."
    )
    median_hours_to_input = _share("Median hours from proposal to that first input.")
    requests_due = serializers.IntegerField(
        help_text="Victims' questions due in the month, up to today."
    )
    requests_on_time = serializers.IntegerField(help_text="… answered by their due date.")
    share_on_time = _share("requests_on_time / requests_due; null when none were due.")
    attendance_recorded = serializers.IntegerField(
        help_text="Victim representatives' places at review meetings with attendance recorded."
    )
    attended = serializers.IntegerField(help_text="… where they attended.")
    attendance_share = _share("attended / attendance_recorded; null when none recorded.")


class TeamFiguresSerializer(serializers.Serializer[Any]):
    team_id = serializers.IntegerField()
    team_name = serializers.CharField()
    months = MonthFiguresSerializer(many=True)


class CollaborationMeasuresSerializer(serializers.Serializer[Any]):
    months = serializers.IntegerField(help_text="How many months each team's list covers.")
    teams = TeamFiguresSerializer(many=True)


TEAM_FILTER = OpenApiParameter(
    "team", OpenApiTypes.INT, description="Only this team (one you supervise).", required=False
)


class CollaborationMeasuresView(APIView):
    """Per team and month (the last six, oldest first): victim-touching decisions
    finalised with the representative's input or with a reason to proceed without it,
    the median time from proposal to that input, victims' questions answered on time,
    and representatives' attendance at review meetings. For the teams' supervisors."""

    @extend_schema(parameters=[TEAM_FILTER], responses=CollaborationMeasuresSerializer)
    def get(self, request: Request) -> Response:
        if not is_supervisor(request.user):
            return Response({"detail": "Only supervisors see collaboration measures."}, status=403)
        wanted = int_query_param(request, "team")
        teams = collaboration.supervised_teams(request.user)
        if wanted is not None:
            teams = [team for team in teams if team[0] == wanted]
            if not teams:
                raise Http404("You supervise no such team.")
        figures = collaboration.team_measures(teams)
        collaboration.record_figures_read(request.user, figures)
        return Response(
            CollaborationMeasuresSerializer({"months": collaboration.MONTHS, "teams": figures}).data
        )
