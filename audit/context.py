"""The request an audit event belongs to, carried in a context variable so that code far
from the view (services, signal receivers) can stamp events without being handed it."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip_address: str | None = None
    user_agent: str = ""


# The default is a frozen dataclass, so sharing one instance between contexts is safe.
current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "audit_request_context",
    default=RequestContext(),  # noqa: B039
)
