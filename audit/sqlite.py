"""What SQLite enforces for the trail: the counterpart of audit.database's PostgreSQL triggers.

SQLite has neither stored procedures nor session settings, so two halves work together.

Python functions, registered on every connection Django opens (`register_functions`, on
`connection_created`):

- `mdt_context(name)`: who is acting on this connection (`actor_id`, `actor_username`,
  `ip_address`, `user_agent`, `request_id`, bound per request by
  `audit.database.bind_session`) and whether the archive command is deleting
  (`audit_archive`, 'on' or NULL). The values live with the connection, like PostgreSQL's
  session settings: a new connection starts unbound, and the binding ends with its
  request (`unbind_after_request`).
- `mdt_now()`: the current time in the text form Django stores for a DateTimeField.
- `mdt_utc_day(occurred_at)`: the UTC calendar day ('YYYY-MM-DD') of a stored time, read
  back the way Django reads it (the stored text is UTC, the connection's time zone, so
  this is its date part; the function keeps it so should the connection's zone change).
- `mdt_chain_hash(id, <the fields of audit.chain.CHAINED_FIELDS>, prev_hash)`: the event's
  hash computed by audit.chain, the code `verify_audit` runs, from the values as stored
  and read back the way Django reads them, so both sides agree to the byte.

Permanent triggers, installed after every migrate (`install`):

- `audit_chain`: AFTER INSERT on the trail, for rows without a position (SQLite cannot
  change NEW in a BEFORE trigger), sets seq, prev_hash and hash in the same statement,
  continuing from the last event, or from the last `ChainAnchor` once archived events are
  gone, then widens the event's UTC day in `audit_auditday` (audit.models.AuditDay) to
  take in its position (an upsert). SQLite has one writer at a time, so no lock is needed.
- `audit_chain_only`: refuses an insert that brings its own position.
- `audit_append_only_update`: refuses every UPDATE but the chain trigger's own (a row
  without a position getting one, nothing else changed).
- `audit_append_only_delete`: refuses DELETE unless the archive command flagged the
  connection (`archiving`). SQLite has no roles: the file's permissions are the boundary.
- `audit_capture_{insert,update,delete}__<table>` on every audited table: each write,
  ORM or bulk or raw SQL, becomes an event as PostgreSQL's `audit_capture_write` makes it.

Because the triggers call these functions, a connection without them (the sqlite3 CLI,
`manage.py dbshell`, another program) cannot write an audited table or the trail at all:
the statement fails with "no such function" instead of writing unrecorded. Reading still
works. Whoever may edit the file can drop the triggers; `verify_audit` then names the
first event changed or removed.

Two Django operations would trip over the triggers, so they set them aside meanwhile:
a `migrate` that applies migrations (SQLite rebuilds a table to alter it, and refuses to
rename one while a trigger elsewhere names a table that is momentarily missing; they are
installed again after it) and `flush` (PostgreSQL empties tables with TRUNCATE, which
fires no row triggers; SQLite's DELETE would fire them). A migrate that fails part-way
leaves the triggers off until the next one succeeds.
"""

from __future__ import annotations

import datetime as dt
import json
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.db import connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from audit import chain

if TYPE_CHECKING:
    # Only for typing: importing SQLite's backend modules out of order is circular.
    from django.db.backends.sqlite3.operations import DatabaseOperations as SQLiteOperations

    from audit.database import AuditedWrites

# Every trigger this module installs starts with one of these, so they can be found again.
TRIGGER_PREFIXES = ("audit_chain", "audit_append_only", "audit_capture_")
# Columns the chain trigger itself fills in; every other column of an event is fixed at insert.
CHAIN_COLUMNS = ("seq", "prev_hash", "hash")

# (seq, prev_hash, hash) of a chained event.
Position = tuple[int, str, str]


@dataclass
class Session:
    """What one connection tells its triggers: SQLite's stand-in for `mdt.*` settings."""

    actor_id: int | None = None
    actor_username: str = ""
    ip_address: str = ""
    user_agent: str = ""
    request_id: str = ""
    audit_archive: bool = False
    # While set, the chain trigger reports here, by event id, the position it gave each
    # event: SQLite's RETURNING shows a row as inserted, before AFTER triggers changed it.
    chained: dict[int, Position] | None = None

    def bind(
        self,
        actor_id: int | None,
        username: str,
        ip_address: str,
        user_agent: str,
        request_id: str,
    ) -> None:
        self.actor_id = actor_id
        self.actor_username = username
        self.ip_address = ip_address
        self.user_agent = user_agent
        self.request_id = request_id

    def context(self, name: str) -> Any:
        if name == "audit_archive":
            return "on" if self.audit_archive else None
        if name in ("actor_id", "actor_username", "ip_address", "user_agent", "request_id"):
            return getattr(self, name)
        # A misspelt name in trigger SQL must fail the write, not record an empty value.
        raise KeyError(name)


_sessions: weakref.WeakKeyDictionary[BaseDatabaseWrapper, Session] = weakref.WeakKeyDictionary()
_flush_wrapped: weakref.WeakSet[BaseDatabaseWrapper] = weakref.WeakSet()


def register_functions(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """`connection_created` receiver: give a new SQLite connection what the triggers call."""
    if connection.vendor != "sqlite":
        return
    session = Session()
    _sessions[connection] = session
    raw = connection.connection
    raw.create_function("mdt_context", 1, session.context)
    raw.create_function(
        "mdt_now", 0, lambda: connection.ops.adapt_datetimefield_value(timezone.now())
    )
    raw.create_function(
        "mdt_chain_hash", len(chain.CHAINED_FIELDS) + 2, _chain_hasher(connection, session)
    )
    raw.create_function("mdt_utc_day", 1, _utc_day(connection), deterministic=True)
    _flush_around_triggers(connection)


def _chain_hasher(connection: BaseDatabaseWrapper, session: Session) -> Callable[..., str]:
    ops = cast("SQLiteOperations", connection.ops)

    def chain_hash(event_id: int, *values: Any) -> str:
        fields = dict(zip(chain.CHAINED_FIELDS, values[:-1], strict=True))
        prev_hash: str = values[-1]
        # The two chained columns Django converts when it reads them on SQLite (verify_audit
        # reads through the ORM); every other one reaches Python as stored.
        fields["occurred_at"] = ops.convert_datetimefield_value(
            fields["occurred_at"], None, connection
        )
        fields["emergency"] = ops.convert_booleanfield_value(fields["emergency"], None, connection)
        digest = chain.event_hash(fields, prev_hash)
        if session.chained is not None:
            session.chained[event_id] = (fields["seq"], prev_hash, digest)
        return digest

    return chain_hash


def _utc_day(connection: BaseDatabaseWrapper) -> Callable[[str | None], str | None]:
    ops = cast("SQLiteOperations", connection.ops)

    def utc_day(stored: str | None) -> str | None:
        moment = ops.convert_datetimefield_value(stored, None, connection)
        if moment is None:
            return None
        if timezone.is_aware(moment):
            moment = moment.astimezone(dt.UTC)
        return str(moment.date().isoformat())

    return utc_day


def session_of(connection: BaseDatabaseWrapper) -> Session:
    """The session of the connection's current database connection, opening it if needed."""
    connection.ensure_connection()
    try:
        return _sessions[connection]
    except KeyError:
        raise RuntimeError(
            "This SQLite connection was opened without the audit functions "
            "(audit.sqlite.register_functions is connected in AuditConfig.ready())."
        ) from None


def bind(
    connection: BaseDatabaseWrapper,
    actor_id: int | None,
    username: str,
    ip_address: str,
    user_agent: str,
    request_id: str,
) -> None:
    session_of(connection).bind(actor_id, username, ip_address, user_agent, request_id)


def unbind_after_request(sender: Any, **kwargs: Any) -> None:
    """`request_finished` receiver: a binding lasts as long as its request. In production a
    SQLite connection lives one request (CONN_MAX_AGE=0) and this changes nothing; where a
    connection outlives it (the test suite's, one kept open), later writes must not be
    put down to that request's user. (On PostgreSQL the test's rollback undoes set_config.)"""
    for connection in connections.all(initialized_only=True):
        session = _sessions.get(connection)
        if session is not None:
            session.bind(None, "", "", "", "")


@contextmanager
def archiving(connection: BaseDatabaseWrapper) -> Iterator[None]:
    session = session_of(connection)
    session.audit_archive = True
    try:
        yield
    finally:
        session.audit_archive = False


@contextmanager
def chain_positions(connection: BaseDatabaseWrapper) -> Iterator[dict[int, Position]]:
    session = session_of(connection)
    positions: dict[int, Position] = {}
    session.chained = positions
    try:
        yield positions
    finally:
        session.chained = None


# --- Triggers -------------------------------------------------------------------------


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return sorted(model._meta.concrete_fields, key=lambda f: f.column)


def _json(field: models.Field[Any, Any], ref: str) -> str:
    """SQL for the JSON text of a column's value (booleans are stored as 0/1)."""
    if isinstance(field, models.BooleanField):
        return f"CASE WHEN {ref} IS NULL THEN 'null' WHEN {ref} THEN 'true' ELSE 'false' END"
    return f"json_quote({ref})"


def _event_triggers(connection: BaseDatabaseWrapper, days: bool = True) -> list[str]:
    """The trail's own triggers; the chain trigger keeps audit_auditday unless `days` is
    false (the table does not exist: migrated back before audit 0004)."""
    from audit.models import AuditDay, AuditEvent, ChainAnchor

    q = connection.ops.quote_name
    events = q(AuditEvent._meta.db_table)
    anchors = q(ChainAnchor._meta.db_table)
    day_table = q(AuditDay._meta.db_table)
    # The event's day takes in its position, read back after the UPDATE gave it one (NEW
    # is the row as inserted). The WHERE also settles SQLite's INSERT ... SELECT ... ON
    # CONFLICT parsing ambiguity.
    day = f"""
  INSERT INTO {day_table} (day, first_seq, last_seq)
    SELECT mdt_utc_day(occurred_at), seq, seq FROM {events} WHERE id = NEW.id
    ON CONFLICT (day) DO UPDATE SET
      first_seq = min(first_seq, excluded.first_seq),
      last_seq = max(last_seq, excluded.last_seq);"""  # noqa: S608
    column = {f.attname: f.column for f in AuditEvent._meta.concrete_fields}
    arguments = ", ".join(
        "head.seq + 1" if name == "seq" else f"NEW.{q(column[name])}"
        for name in chain.CHAINED_FIELDS
    )
    fixed = " OR ".join(
        f"OLD.{q(f.column)} IS NOT NEW.{q(f.column)}"
        for f in _columns(AuditEvent)
        if f.column not in CHAIN_COLUMNS
    )
    return [
        # The head of the chain: the last event, else the last anchor (every event before
        # it archived), else the genesis; the same order of preference as PostgreSQL's.
        f"""CREATE TRIGGER audit_chain AFTER INSERT ON {events} WHEN NEW.seq IS NULL
BEGIN
  UPDATE {events} SET (seq, prev_hash, hash) = (
    SELECT head.seq + 1, head.hash, mdt_chain_hash(NEW.id, {arguments}, head.hash)
    FROM (
      SELECT seq, hash FROM (
        SELECT seq, hash, 1 AS preference FROM (
          SELECT seq, hash FROM {events} WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1)
        UNION ALL
        SELECT seq, hash, 2 FROM (SELECT seq, hash FROM {anchors} ORDER BY seq DESC LIMIT 1)
        UNION ALL
        SELECT 0, {_literal(chain.GENESIS)}, 3)
      ORDER BY preference LIMIT 1) AS head)
  WHERE id = NEW.id;{day if days else ""}
END""",  # noqa: S608
        f"""CREATE TRIGGER audit_chain_only BEFORE INSERT ON {events} WHEN NEW.seq IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'audit events are chained by the database: seq must be left empty');
END""",
        f"""CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON {events}
WHEN OLD.seq IS NOT NULL OR NEW.seq IS NULL OR {fixed}
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused');
END""",
        f"""CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON {events}
WHEN mdt_context('audit_archive') IS NOT 'on'
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused');
END""",
    ]


def _capture_triggers(
    connection: BaseDatabaseWrapper, model: type[models.Model], spec: AuditedWrites
) -> list[str]:
    from audit.models import AuditEvent

    q = connection.ops.quote_name
    table = model._meta.db_table
    columns = _columns(model)
    names = [f.column for f in columns]
    kept = [f for f in columns if f.column in spec.values_for]
    events = q(AuditEvent._meta.db_table)

    def event(action: str, row: str, fields_json: str, values_json: str) -> str:
        case = f"{row}.{q(spec.case_column)}" if spec.case_column else "NULL"
        victim = f"{row}.{q(spec.victim_column)}" if spec.victim_column else "NULL"
        detail = (
            f"json_object('source', 'database', 'fields', json({fields_json}), "
            f"'values', json({values_json}))"
        )
        return f"""INSERT INTO {events} (
    occurred_at, actor_id, actor_username, action, target_type, target_id, case_id,
    victim_id, outcome, ip_address, user_agent, request_id, emergency, detail,
    prev_hash, hash)
  VALUES (
    mdt_now(), mdt_context('actor_id'), mdt_context('actor_username'), {_literal(action)},
    {_literal(model._meta.label_lower)}, CAST({row}.{q(model._meta.pk.column)} AS TEXT),
    {case}, {victim}, 'allowed', mdt_context('ip_address'), mdt_context('user_agent'),
    mdt_context('request_id'), 0, {detail}, '', '');"""  # noqa: S608

    def changed(f: models.Field[Any, Any]) -> str:
        return f"OLD.{q(f.column)} IS NOT NEW.{q(f.column)}"

    def value(f: models.Field[Any, Any], old: str) -> str:
        """`"column":{"old":<old>,"new":<new>}` as SQL text, `old` being SQL for JSON text."""
        key = _literal(json.dumps(f.column) + ':{"old":')
        new = _json(f, "NEW." + q(f.column))
        return f"{key} || {old} || ',\"new\":' || {new} || '}}'"

    # A created row names every column; its kept values have no old side.
    created_values = " || ',' || ".join(value(f, "'null'") for f in kept) or "''"
    # An updated row names the columns that changed, in the same (sorted) order.
    updated_fields = " || ".join(
        f"CASE WHEN {changed(f)} THEN {_literal(',' + json.dumps(f.column))} ELSE '' END"
        for f in columns
    )
    updated_values = " || ".join(
        f"CASE WHEN {changed(f)} THEN ',' || {value(f, _json(f, 'OLD.' + q(f.column)))} ELSE '' END"
        for f in kept
    )
    empty = "''"
    insert = event(
        "create",
        "NEW",
        _literal(json.dumps(names, separators=(",", ":"))),
        f"'{{' || {created_values} || '}}'",
    )
    update = event(
        "update",
        "NEW",
        f"'[' || substr({updated_fields}, 2) || ']'",
        f"'{{' || substr({updated_values or empty}, 2) || '}}'",
    )
    delete = event("delete", "OLD", "'[]'", "'{}'")
    any_change = " OR ".join(changed(f) for f in columns)
    return [
        f"CREATE TRIGGER {q('audit_capture_insert__' + table)} AFTER INSERT ON {q(table)}\n"
        f"BEGIN\n  {insert}\nEND",
        f"CREATE TRIGGER {q('audit_capture_update__' + table)} AFTER UPDATE ON {q(table)}\n"
        f"WHEN {any_change}\nBEGIN\n  {update}\nEND",
        f"CREATE TRIGGER {q('audit_capture_delete__' + table)} AFTER DELETE ON {q(table)}\n"
        f"BEGIN\n  {delete}\nEND",
    ]


def _installed(connection: BaseDatabaseWrapper) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        return [(name, sql) for name, sql in cursor.fetchall() if name.startswith(TRIGGER_PREFIXES)]


def _execute(connection: BaseDatabaseWrapper, statements: Iterable[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    q = connection.ops.quote_name
    with transaction.atomic(using=connection.alias):
        _execute(connection, [f"DROP TRIGGER {q(name)}" for name, _ in _installed(connection)])


def install(
    connection: BaseDatabaseWrapper,
    audited: Iterable[tuple[type[models.Model], AuditedWrites]],
    days: bool = True,
) -> None:
    """Replace this module's triggers with ones built from the current models (`days`:
    whether the audit_auditday table exists to be kept)."""
    statements = _event_triggers(connection, days)
    for model, spec in audited:
        statements += _capture_triggers(connection, model, spec)
    # One transaction (SQLite's DDL is transactional): no write slips between drop and create.
    with transaction.atomic(using=connection.alias):
        uninstall(connection)
        _execute(connection, statements)


def _flush_around_triggers(connection: BaseDatabaseWrapper) -> None:
    """Let `flush` empty the tables as TRUNCATE does on PostgreSQL: without firing the
    triggers (the trail refuses DELETE, and capture would refill it as it is emptied)."""
    if connection in _flush_wrapped:
        return
    _flush_wrapped.add(connection)
    flush = connection.ops.execute_sql_flush

    def execute_sql_flush(sql_list: list[str]) -> None:
        with transaction.atomic(using=connection.alias):
            triggers = _installed(connection)
            uninstall(connection)
            flush(sql_list)
            _execute(connection, [sql for _, sql in triggers])

    # The operations object belongs to this connection alone: the change stays with it.
    setattr(connection.ops, "execute_sql_flush", execute_sql_flush)  # noqa: B010
