"""API authentication that tells the audit trail who is acting, as soon as it knows.

Session users are known to the request middleware; a token user only once DRF has
authenticated the request, inside the view.
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request

from audit.middleware import bind_user


class AuditedTokenAuthentication(TokenAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None:
            bind_user(result[0])
        return result
