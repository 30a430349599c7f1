"""Decisions in the API: read through the disclosure policy (drafts by their author and
the team's supervisors only), drafts written by their author, and the lifecycle's
transitions as actions. casework.decisions decides and records; this maps its answers to
HTTP: a field error is a 400 naming the field, acting outside one's role a 403, a
decision one may not read a 404."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from casework import decisions
from casework.api import CASE_FILTER
from casework.decision_serializers import (
    CaseDecisionSerializer,
    DecisionCreateSerializer,
    DecisionFieldsSerializer,
    DecisionUpdateSerializer,
    EmptySerializer,
    FinaliseSerializer,
    ReturnSerializer,
    WithdrawSerializer,
)
from casework.models import CaseDecision
from teams.api_base import RestrictedReadOnlyViewSet, call_service, int_query_param
from teams.disclosure import restrict


def visible_inputs(user: Any, decision_ids: list[int]) -> dict[int, list[int]]:
    """decision id -> ids of the victim input linked to it that the user may read: one
    restricted query for a whole page."""
    from victims.models import VictimInput  # victims depends on casework, not the reverse

    if not decision_ids:
        return {}
    found: dict[int, list[int]] = {}
    rows = restrict(VictimInput.objects.filter(decision_id__in=decision_ids), user)
    for decision_id, pk in rows.order_by("created_at", "pk").values_list("decision_id", "pk"):
        found.setdefault(int(decision_id), []).append(int(pk))
    return found


def _action_schema(request: Any, description: str, code: int = 200) -> Any:
    return extend_schema(
        request=request, responses={code: CaseDecisionSerializer}, description=description
    )


@extend_schema_view(
    list=extend_schema(parameters=[CASE_FILTER]),
    create=extend_schema(
        request=DecisionCreateSerializer,
        responses={201: CaseDecisionSerializer},
        description=(
            "Start a draft decision on a case: an officer of the case's team. A residence, "
            "employment or travel decision needs its place (a postal code or both "
            "coordinates), which is checked blind against the victims' protected locations. "
            "Bad input is a 400 naming the field; nothing is saved."
        ),
    ),
    partial_update=extend_schema(
        request=DecisionUpdateSerializer,
        responses={200: CaseDecisionSerializer},
        description=(
            "Change a draft: its author only (403 for other readers). A decision that is "
            "not a draft is a 400 on `status`: a final decision is never changed, it is "
            "superseded."
        ),
    ),
)
class CaseDecisionViewSet(RestrictedReadOnlyViewSet):
    """Decisions on the cases the signed-in user may see; `?case=<id>` narrows to one case."""

    base_queryset = CaseDecision.objects.select_related(
        "author", "case", "superseded_by", "input_request"
    ).order_by("-created_at", "-id")
    serializer_class = CaseDecisionSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        if case_id is not None:
            queryset = queryset.filter(case_id=case_id)
        return queryset

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if args and args[0] is not None:
            rows = list(args[0]) if kwargs.get("many") else [args[0]]
            context = kwargs.setdefault("context", self.get_serializer_context())
            context["victim_inputs"] = visible_inputs(self.request.user, [r.pk for r in rows])
        return super().get_serializer(*args, **kwargs)

    def _read(self, pk: int, code: int = status.HTTP_200_OK) -> Response:
        decision = self.base_queryset.get(pk=pk)
        return Response(self.get_serializer(decision).data, status=code)

    def _body(self, serializer_class: type[serializers.Serializer[Any]]) -> dict[str, Any]:
        incoming = serializer_class(data=self.request.data, context={"request": self.request})
        incoming.is_valid(raise_exception=True)
        return dict(incoming.validated_data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self._body(DecisionCreateSerializer)
        case = data.pop("case")
        supersedes = data.pop("supersedes", None)
        item = data.pop("agenda_item", None)
        decision = self._run(
            decisions.create_decision, case, data, supersedes=supersedes, agenda_item=item
        )
        return self._read(decision.pk, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        decision = self.get_object()
        if not decisions.is_author(request.user, decision):
            # Before the body, so a reader learns nothing from validation messages.
            raise PermissionDenied("Only the decision's author can change it.")
        data = self._body(DecisionUpdateSerializer)
        self._run(decisions.update_decision, decision, data)
        return self._read(decision.pk)

    def _run(self, service: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the lifecycle as the signed-in user; its answers as HTTP errors."""
        return call_service(self.request, service, *args, **kwargs)

    @_action_schema(
        EmptySerializer,
        "Draft -> proposed, by its author. The victim representatives are asked for input "
        "when it touches a victim, the team's supervisors for approval when it needs it.",
    )
    @action(detail=True, methods=["post"])
    def propose(self, request: Request, pk: str | None = None) -> Response:
        decision = self.get_object()
        self._body(EmptySerializer)
        self._run(decisions.propose, decision)
        return self._read(decision.pk)

    @_action_schema(
        EmptySerializer,
        "Proposed -> approved, by a supervisor of the case's team; approving your own "
        "decision is a 400 on `approved_by`.",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        decision = self.get_object()
        self._body(EmptySerializer)
        self._run(decisions.approve, decision)
        return self._read(decision.pk)

    @_action_schema(
        ReturnSerializer,
        "Proposed -> draft with comments, by a supervisor of the case's team.",
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_decision(self, request: Request, pk: str | None = None) -> Response:
        decision = self.get_object()
        data = self._body(ReturnSerializer)
        self._run(decisions.return_decision, decision, data["return_comment"])
        return self._read(decision.pk)

    @_action_schema(
        FinaliseSerializer,
        "Make it final, by its author: from proposed when no approval is needed, else from "
        "approved. A decision that touches a victim, on a case with a represented victim, "
        "needs the representative's input linked to it or a `proceed_reason` with a "
        "`proceed_explanation`.",
    )
    @action(detail=True, methods=["post"])
    def finalise(self, request: Request, pk: str | None = None) -> Response:
        decision = self.get_object()
        data = self._body(FinaliseSerializer)
        self._run(
            decisions.finalise,
            decision,
            data.get("proceed_reason", ""),
            data.get("proceed_explanation", ""),
        )
        return self._read(decision.pk)

    @_action_schema(
        WithdrawSerializer,
        "Withdraw a decision that is not final, with a reason: its author or a supervisor "
        "of the case's team.",
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        decision = self.get_object()
        data = self._body(WithdrawSerializer)
        self._run(decisions.withdraw, decision, data["withdrawn_reason"])
        return self._read(decision.pk)

    @_action_schema(
        DecisionFieldsSerializer,
        "Start a new draft that supersedes this final decision once it is final itself: "
        "a copy of it, with the fields sent applied over it (an empty body copies it).",
        code=201,
    )
    @action(detail=True, methods=["post"])
    def supersede(self, request: Request, pk: str | None = None) -> Response:
        decision = self.get_object()
        data = self._body(DecisionFieldsSerializer)
        created = self._run(decisions.supersede, decision, data)
        return self._read(created.pk, status.HTTP_201_CREATED)
