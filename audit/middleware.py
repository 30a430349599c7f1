from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit import database, services
from audit.context import RequestContext, current


def client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is set by whoever sends the request, so trusting it
    # would let anyone write any address into the trail. Behind a proxy, the proxy must
    # set REMOTE_ADDR (gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR") or ""


def bind_user(user: object) -> None:
    """Name the acting user for the events and database write triggers of this request.
    Called for session users here and by the API's token authentication."""
    context = current.get()
    if context is None:
        return
    context.user = user
    authenticated = bool(getattr(user, "is_authenticated", False))
    database.bind_session(
        getattr(user, "pk", None) if authenticated else None,
        user.get_username() if authenticated else "",  # type: ignore[attr-defined]
        context.ip_address,
        context.user_agent,
        context.request_id,
    )


class RequestContextMiddleware:
    """Gives each request an id, buffers its audit events and writes them in one INSERT
    when the response is ready; the id is echoed in the X-Request-ID header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        context = RequestContext(
            request_id=str(uuid.uuid4()),
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            buffer=[],
        )
        token = current.set(context)
        try:
            # Always bound, anonymous included: a kept-open connection must not carry
            # the previous request's user into this one's write triggers.
            bind_user(getattr(request, "user", None))
            response = self.get_response(request)
        finally:
            try:
                services.write(context.buffer or [])
            finally:
                current.reset(token)
        response["X-Request-ID"] = context.request_id
        return response
