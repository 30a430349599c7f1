"""The request an audit event belongs to, carried in a context variable so that code far
from the view (services, signal receivers) can stamp events without being handed it,
and the per-request buffer that turns a request's events into one INSERT."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RequestContext:
    request_id: str = ""
    ip_address: str = ""
    user_agent: str = ""
    # The request's user, so events recorded in signal receivers still name who acted;
    # DRF's token authentication sets it once it knows the user.
    user: Any = None
    buffer: list[Any] | None = field(default=None)


current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "audit_request_context", default=None
)
