"""The hash chain that makes the trail tamper-evident.

Each event stores the hash of the event before it (by `seq`) and its own hash over a
canonical form of its fields. The same canonical form is computed by PostgreSQL (the
BEFORE INSERT trigger installed by audit.database, so rows written by database triggers
are chained too), by SQLite's chain trigger through a function audit.sqlite registers on
each connection, and by `verify_audit` in Python, so all sides
must agree to the byte: fields are joined by the ASCII unit separator, NULL is the empty
string, the time is whole microseconds since the epoch, booleans are 't'/'f', and the
detail is the JSON text as the database stores it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

SEPARATOR = "\x1f"
GENESIS = "0" * 64
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# The order of the fields in the canonical form. The SQL in the migration follows it.
CHAINED_FIELDS: Sequence[str] = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_username",
    "action",
    "target_type",
    "target_id",
    "case_id",
    "victim_id",
    "outcome",
    "ip_address",
    "user_agent",
    "request_id",
    "emergency",
    "detail",
)


def micros(value: dt.datetime) -> int:
    return (value - EPOCH) // dt.timedelta(microseconds=1)


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "occurred_at":
        return str(micros(value))
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def canonical(fields: dict[str, Any], prev_hash: str) -> str:
    """`fields` holds CHAINED_FIELDS; `detail` must be the stored JSON text."""
    parts = [_text(name, fields[name]) for name in CHAINED_FIELDS]
    return SEPARATOR.join([*parts, prev_hash])


def event_hash(fields: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(canonical(fields, prev_hash).encode("utf-8")).hexdigest()
