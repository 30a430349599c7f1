"""`/api/v1/information-requests/`: victims' questions about a case, asked through the
victim representative, answered by the officer who holds the case and relayed by the
representative. The same rules as the pages (victims.information_requests): the
officers, supervisors and victim representatives of the case's team read them; anyone
else gets an empty list, or a 404 recorded as denied."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from casework.api import CASE_FILTER
from casework.serializers import VisibleCaseField
from teams.api_base import (
    RejectUnknownFieldsMixin,
    RestrictedReadOnlyViewSet,
    drf_errors,
    int_query_param,
)
from teams.disclosure import case_access, restrict
from victims import information_requests as service
from victims.models import InformationRequest, RequestTopic, Victim
from victims.queue import victim_names

OPEN_FILTER = OpenApiParameter(
    "open",
    OpenApiTypes.BOOL,
    description="`true`: only questions not yet relayed to the victim (waiting for the "
    "officer's answer or for the representative's relay); `false`: only relayed ones.",
    required=False,
)


class InformationRequestSerializer(serializers.ModelSerializer[InformationRequest]):
    case_reference = serializers.CharField(source="case.reference", read_only=True)
    victim_name = serializers.SerializerMethodField(
        help_text="The victim as the disclosure policy lets you see them."
    )
    topic_label = serializers.CharField(source="get_topic_display", read_only=True)
    guidance = serializers.SerializerMethodField(
        help_text="What the officer may tell the victim on this topic."
    )
    requested_by_name = serializers.CharField(source="requested_by.__str__", read_only=True)
    status = serializers.SerializerMethodField(
        help_text="`awaiting_answer`, `answered` (to relay) or `relayed`."
    )
    overdue = serializers.SerializerMethodField(
        help_text="Unanswered after its due date (working days)."
    )
    answered_by_name = serializers.SerializerMethodField()
    relayed_by_name = serializers.SerializerMethodField()

    class Meta:
        model = InformationRequest
        fields = [
            "id",
            "case",
            "case_reference",
            "victim",
            "victim_name",
            "topic",
            "topic_label",
            "guidance",
            "question",
            "requested_by",
            "requested_by_name",
            "requested_at",
            "assigned_officer",
            "due_on",
            "overdue",
            "status",
            "answer",
            "answered_by",
            "answered_by_name",
            "answered_at",
            "relayed_by",
            "relayed_by_name",
            "relayed_at",
            "relay_note",
            "officer_reminded_at",
            "supervisor_reminded_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "assigned_officer": {
                "help_text": "The officer the question went to when it was asked (null: the "
                "case had none). If the case was reassigned since, its new officer answers."
            }
        }

    def get_victim_name(self, item: InformationRequest) -> str:
        names: dict[tuple[int, int], str] = self.context.get("victim_names", {})
        return names.get((item.case_id, item.victim_id), "")

    def get_guidance(self, item: InformationRequest) -> str:
        return service.TOPIC_GUIDANCE[item.topic]

    def get_status(self, item: InformationRequest) -> str:
        return service.status_of(item)

    def get_overdue(self, item: InformationRequest) -> bool:
        return service.is_overdue(item)

    def get_answered_by_name(self, item: InformationRequest) -> str | None:
        return str(item.answered_by) if item.answered_by else None

    def get_relayed_by_name(self, item: InformationRequest) -> str | None:
        return str(item.relayed_by) if item.relayed_by else None


class VisibleVictimField(serializers.PrimaryKeyRelatedField[Victim]):
    """A victim id; a victim the user may not see is answered like one that does not
    exist."""

    queryset = Victim.objects.all()  # the model, for the schema; get_queryset() restricts

    def get_queryset(self) -> Any:
        return restrict(Victim.objects.all(), self.context["request"].user)


class InformationAskSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    """A victim's question. The representative is the signed-in user."""

    case = VisibleCaseField()
    victim = VisibleVictimField(help_text="A victim linked to the case.")
    topic = serializers.ChoiceField(
        choices=RequestTopic.choices,
        error_messages={"invalid_choice": "Choose what the question is about from the list."},
    )
    question = serializers.CharField(max_length=service.TEXT_LIMIT)

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


class InformationAnswerSerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    answer = serializers.CharField(
        max_length=service.TEXT_LIMIT,
        help_text="What the victim is told, as written: only what may be disclosed.",
    )

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


class InformationRelaySerializer(RejectUnknownFieldsMixin, serializers.Serializer[Any]):
    relay_note = serializers.CharField(
        max_length=service.TEXT_LIMIT,
        help_text="How and when the answer was given to the victim; no locating information.",
    )

    def to_internal_value(self, data: Any) -> Any:
        self.validate_unknown()
        return super().to_internal_value(data)


@extend_schema_view(
    list=extend_schema(
        parameters=[CASE_FILTER, OPEN_FILTER],
        description="Victims' questions you may read (officers, supervisors and victim "
        "representatives of the case's team), due first.",
    ),
    create=extend_schema(
        request=InformationAskSerializer,
        responses={201: InformationRequestSerializer},
        description="Ask a question for a victim linked to the case (victim "
        "representatives of the case's team). It is due in INFORMATION_REQUEST_WORKING_DAYS "
        "working days and goes to the officer who holds the case. A 400 names a bad field "
        "and nothing is saved.",
    ),
    answer=extend_schema(
        request=InformationAnswerSerializer,
        responses={200: InformationRequestSerializer},
        description="Answer the question, once: the officer who holds the case (its "
        "assigned officer, or any officer of the team when it has none). An officer who no "
        "longer holds the case gets a 400 on `answer` and nothing is saved.",
    ),
    relay=extend_schema(
        request=InformationRelaySerializer,
        responses={200: InformationRequestSerializer},
        description="Record that the answer was given to the victim, and how: a victim "
        "representative of the case's team, once, after the answer.",
    ),
)
class InformationRequestViewSet(RestrictedReadOnlyViewSet):
    """Victims' questions about a case; `?case=<id>` narrows to one case."""

    base_queryset = InformationRequest.objects.all()
    serializer_class = InformationRequestSerializer
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[Any]:
        return service.requests_for(self.request.user).order_by("due_on", "id")

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        case_id = int_query_param(self.request, "case")
        if case_id is not None:
            queryset = queryset.filter(case_id=case_id)
        wanted = self.request.query_params.get("open")
        if wanted is not None and wanted != "":
            if wanted.lower() not in ("true", "false"):
                raise serializers.ValidationError({"open": ["Enter true or false."]})
            queryset = queryset.filter(relayed_at__isnull=wanted.lower() == "true")
        return queryset

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        rows = args[0] if args else None
        if isinstance(rows, InformationRequest | list):
            items = rows if isinstance(rows, list) else [rows]
            kwargs.setdefault("context", self.get_serializer_context())["victim_names"] = (
                victim_names(self.request.user, items)
            )
        return super().get_serializer(*args, **kwargs)

    def _fresh(self, item: InformationRequest) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=item.pk)).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = InformationAskSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            item = service.ask(
                request.user, data["case"], data["victim"], data["topic"], data["question"]
            )
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        response = self._fresh(item)
        response.status_code = status.HTTP_201_CREATED
        return response

    @action(detail=True, methods=["post"])
    def answer(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()  # a request the user may not read is a 404
        if not service.is_answering_role(case_access(request.user, item.case)):
            # Checked before the body: validation messages tell such a reader nothing.
            raise PermissionDenied("Only the officer who holds the case answers the question.")
        incoming = InformationAnswerSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            service.answer(request.user, item, incoming.validated_data["answer"])
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        return self._fresh(item)

    @action(detail=True, methods=["post"])
    def relay(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        if not service.may_relay(case_access(request.user, item.case)):
            raise PermissionDenied("Only the case's victim representatives record the relay.")
        incoming = InformationRelaySerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            service.relay(request.user, item, incoming.validated_data["relay_note"])
        except DjangoValidationError as error:
            raise drf_errors(error) from None
        return self._fresh(item)


def register(router: BaseRouter) -> None:
    router.register(
        "information-requests", InformationRequestViewSet, basename="information-request"
    )
