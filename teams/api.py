from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import Action
from audit.services import record
from teams.api_base import RestrictedReadOnlyViewSet
from teams.models import Team


class TeamSerializer(serializers.ModelSerializer[Team]):
    class Meta:
        model = Team
        fields = ["id", "name", "office", "jurisdiction"]


class TeamViewSet(RestrictedReadOnlyViewSet):
    """Teams the signed-in user is an active member of."""

    base_queryset = Team.objects.order_by("name")
    serializer_class = TeamSerializer


class TokenRequestSerializer(serializers.Serializer[dict[str, Any]]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class ObtainTokenView(APIView):
    """Exchange a username and password for an API token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
            400: inline_serializer(
                "TokenRequestErrors",
                {
                    "username": serializers.ListField(child=serializers.CharField()),
                    "password": serializers.ListField(child=serializers.CharField()),
                },
            ),
            401: inline_serializer("TokenRefused", {"detail": serializers.CharField()}),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        # authenticate() fires user_login_failed, which the audit trail records.
        user = authenticate(
            request._request,
            username=form.validated_data["username"],
            password=form.validated_data["password"],
        )
        if user is None:
            return Response(
                {"detail": "The username or password is not correct."},
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": "Token"},
            )
        token, _ = Token.objects.get_or_create(user=user)
        record(user, Action.TOKEN_ISSUED, target=user)
        return Response({"token": token.key})
