"""The request an audit event belongs to, carried in a context variable so that code far
from the view (services, signal receivers) can stamp events without being handed it."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip_address: str | None = None
    user_agent: str = ""
    # The request's user (lazy), so that events recorded far from the view, in signal
    # receivers for example, still name who acted.
    user: Any = None


# The default is a frozen dataclass, so sharing one instance between contexts is safe.
current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "audit_request_context",
    default=RequestContext(),  # noqa: B039
)
