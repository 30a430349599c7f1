"""The supervisor's queue (issue 5): decisions awaiting their approval and duty-to-warn
reports nobody has acknowledged, on the cases of the teams they supervise. Both lists
come from the services that own them (casework.decisions, casework.duty_to_warn),
which read through the disclosure policy; this module only narrows them to the
supervisor's own teams, shows them, and records what was shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import record_list
from casework import decisions, duty_to_warn
from casework.decision_serializers import CaseDecisionSerializer
from casework.duty_to_warn_api import DutyToWarnSerializer
from casework.models import CaseDecision, DutyToWarn
from teams.disclosure.queries import team_ids_for
from teams.roles import Role
from teams.selectors import is_supervisor

# A queue longer than this is a staffing problem, not a page to scroll; the page says
# how many more there are.
LIMIT = 100


@dataclass
class Queue:
    decisions: list[CaseDecision]
    decisions_total: int
    reports: list[DutyToWarn]
    reports_total: int

    @property
    def empty(self) -> bool:
        return not (self.decisions_total or self.reports_total)


def queue_for(user: Any) -> Queue:
    awaiting = decisions.awaiting_approval(user)
    supervised = team_ids_for(user, roles=(Role.SUPERVISOR,))
    reports = duty_to_warn.open_reports(user).filter(case__team_id__in=supervised)
    shown_decisions = list(awaiting[:LIMIT])
    shown_reports = list(reports[:LIMIT])
    record_list(user, CaseDecision, [row.pk for row in shown_decisions])
    record_list(user, DutyToWarn, [row.pk for row in shown_reports])
    return Queue(
        decisions=shown_decisions,
        decisions_total=awaiting.count() if len(shown_decisions) == LIMIT else len(shown_decisions),
        reports=shown_reports,
        reports_total=reports.count() if len(shown_reports) == LIMIT else len(shown_reports),
    )


@login_required
def queue_page(request: HttpRequest) -> HttpResponse:
    if not is_supervisor(request.user):
        return render(request, "casework/supervisor_queue.html", {"allowed": False}, status=403)
    return render(
        request,
        "casework/supervisor_queue.html",
        {"allowed": True, "queue": queue_for(request.user)},
    )


class SupervisorQueueView(APIView):
    """Decisions awaiting your approval and unacknowledged duty-to-warn reports, on the
    cases of the teams you supervise (403 for anyone who supervises no team)."""

    @extend_schema(
        responses=inline_serializer(
            "SupervisorQueue",
            {
                "decisions": CaseDecisionSerializer(many=True),
                "decisions_total": serializers.IntegerField(),
                "duty_to_warn": DutyToWarnSerializer(many=True),
                "duty_to_warn_total": serializers.IntegerField(),
            },
        )
    )
    def get(self, request: Request) -> Response:
        if not is_supervisor(request.user):
            return Response({"detail": "Only supervisors have an approval queue."}, status=403)
        queue = queue_for(request.user)
        context = {"request": request}
        return Response(
            {
                "decisions": CaseDecisionSerializer(
                    queue.decisions, many=True, context=context
                ).data,
                "decisions_total": queue.decisions_total,
                "duty_to_warn": DutyToWarnSerializer(
                    queue.reports, many=True, context=context
                ).data,
                "duty_to_warn_total": queue.reports_total,
            }
        )
