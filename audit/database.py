"""What the database itself enforces for the trail, installed after every migrate.

On PostgreSQL:

- `audit_chain_event`: a BEFORE INSERT trigger that gives each new event its place in
  the chain (`seq`), the previous event's hash and its own, under an advisory lock, so
  rows inserted by any path (the app, a write-capture trigger, raw SQL) are chained.
  It also widens the event's UTC day in `audit_auditday` (audit.models.AuditDay) to
  take in the new position, which the review page's date filter reads.
- `audit_append_only`: UPDATE is refused to everyone; DELETE too, except for the
  archive command run by a member of the `mdt_audit_archiver` role.
- `audit_capture_write`: an AFTER INSERT/UPDATE/DELETE trigger on every audited table,
  so that bulk updates, bulk creates and raw SQL are recorded like ORM saves. It reads
  the acting user from session settings the request middleware sets (mdt.*).

On SQLite (the embedded default) audit.sqlite installs the same three with SQLite's
means: Python functions registered on each connection stand in for the session settings
and compute the chain's hash, so a connection without them (the sqlite3 CLI) cannot write
an audited table at all; see that module.

Models take part in write capture by declaring `audit_write = AuditedWrites(...)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connections

from audit import sqlite

ARCHIVER_ROLE = "mdt_audit_archiver"
CHAIN_LOCK_KEY = 7_340_021


@dataclass(frozen=True)
class AuditedWrites:
    """How writes to a model are recorded.

    case_column:   the column holding the case id, if any ("id" for the case table).
    victim_column: the column holding the victim id, if any.
    values_for:    the only fields whose old and new values are kept; every other field
                   is named but its value is not copied (the trail must not become a
                   second copy of victims' locating information or of case notes).
    """

    case_column: str = ""
    victim_column: str = ""
    values_for: tuple[str, ...] = ()


# The event's UTC calendar day takes in its position (audit.models.AuditDay). Under the
# chain's advisory lock, like the rest of the function: no contention of its own.
DAY_SQL = """
  INSERT INTO audit_auditday (day, first_seq, last_seq)
    VALUES ((NEW.occurred_at AT TIME ZONE 'UTC')::date, NEW.seq, NEW.seq)
    ON CONFLICT (day) DO UPDATE SET
      first_seq = LEAST(audit_auditday.first_seq, EXCLUDED.first_seq),
      last_seq = GREATEST(audit_auditday.last_seq, EXCLUDED.last_seq);"""


def chain_function_sql(days: bool = True) -> str:
    """The chain trigger's function; without the day upsert (`days` false) only while
    the audit_auditday table does not exist (migrated back before audit 0004)."""
    return rf"""
CREATE OR REPLACE FUNCTION audit_chain_event() RETURNS trigger AS $$
DECLARE
  head_seq bigint;
  head_hash text;
BEGIN
  PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
  SELECT seq, hash INTO head_seq, head_hash
    FROM audit_auditevent WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
  IF head_seq IS NULL THEN
    SELECT seq, hash INTO head_seq, head_hash FROM audit_chainanchor ORDER BY seq DESC LIMIT 1;
  END IF;
  NEW.seq := coalesce(head_seq, 0) + 1;
  NEW.prev_hash := coalesce(head_hash, repeat('0', 64));
  NEW.hash := encode(sha256(convert_to(concat_ws(E'\x1f',
      NEW.seq::text,
      ((extract(epoch FROM NEW.occurred_at) * 1000000)::bigint)::text,
      coalesce(NEW.actor_id::text, ''),
      NEW.actor_username,
      NEW.action,
      NEW.target_type,
      NEW.target_id,
      coalesce(NEW.case_id::text, ''),
      coalesce(NEW.victim_id::text, ''),
      NEW.outcome,
      NEW.ip_address,
      NEW.user_agent,
      NEW.request_id,
      CASE WHEN NEW.emergency THEN 't' ELSE 'f' END,
      NEW.detail::text,
      NEW.prev_hash), 'UTF8')), 'hex');{DAY_SQL if days else ""}
  RETURN NEW;
END
$$ LANGUAGE plpgsql;
"""


CHAIN_SQL = rf"""
DROP TRIGGER IF EXISTS audit_chain ON audit_auditevent;
CREATE TRIGGER audit_chain BEFORE INSERT ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION audit_chain_event();

DO $$ BEGIN
  CREATE ROLE {ARCHIVER_ROLE} NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

CREATE OR REPLACE FUNCTION audit_forbid_change() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE'
     AND current_setting('mdt.audit_archive', true) = 'on'
     AND pg_has_role(current_user, '{ARCHIVER_ROLE}', 'MEMBER') THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS audit_append_only ON audit_auditevent;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION audit_forbid_change();

CREATE OR REPLACE FUNCTION audit_capture_write() RETURNS trigger AS $$
DECLARE
  target_type text := TG_ARGV[0];
  case_column text := nullif(TG_ARGV[1], '');
  victim_column text := nullif(TG_ARGV[2], '');
  keep_values text[] := coalesce(string_to_array(nullif(TG_ARGV[3], ''), ','), '{{}}');
  old_row jsonb;
  new_row jsonb;
  subject jsonb;
  changed text[];
  kept jsonb := '{{}}';
  field text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    new_row := to_jsonb(NEW);
    subject := new_row;
    SELECT array_agg(key ORDER BY key) INTO changed FROM jsonb_object_keys(new_row) AS key;
  ELSIF TG_OP = 'UPDATE' THEN
    old_row := to_jsonb(OLD);
    new_row := to_jsonb(NEW);
    subject := new_row;
    SELECT array_agg(n.key ORDER BY n.key) INTO changed
      FROM jsonb_each(new_row) AS n WHERE (old_row -> n.key) IS DISTINCT FROM n.value;
    IF changed IS NULL THEN
      RETURN NULL;
    END IF;
  ELSE
    old_row := to_jsonb(OLD);
    subject := old_row;
    changed := ARRAY[]::text[];
  END IF;
  FOREACH field IN ARRAY changed LOOP
    IF field = ANY(keep_values) THEN
      kept := kept || jsonb_build_object(field, jsonb_build_object(
        'old', CASE WHEN old_row IS NULL THEN NULL ELSE old_row -> field END,
        'new', new_row -> field));
    END IF;
  END LOOP;
  INSERT INTO audit_auditevent (
    occurred_at, actor_id, actor_username, action, target_type, target_id, case_id,
    victim_id, outcome, ip_address, user_agent, request_id, emergency, detail,
    prev_hash, hash)
  VALUES (
    now(),
    nullif(current_setting('mdt.actor_id', true), '')::bigint,
    coalesce(current_setting('mdt.actor_username', true), ''),
    CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END,
    target_type,
    coalesce(subject ->> 'id', ''),
    CASE WHEN case_column IS NULL THEN NULL ELSE (subject ->> case_column)::bigint END,
    CASE WHEN victim_column IS NULL THEN NULL ELSE (subject ->> victim_column)::bigint END,
    'allowed',
    coalesce(current_setting('mdt.ip_address', true), ''),
    coalesce(current_setting('mdt.user_agent', true), ''),
    coalesce(current_setting('mdt.request_id', true), ''),
    false,
    jsonb_build_object('source', 'database', 'fields', to_jsonb(changed), 'values', kept),
    '', '');
  RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""


def audited_models() -> list[tuple[type[Any], AuditedWrites]]:
    found = []
    for model in apps.get_models(include_auto_created=True):
        spec = getattr(model, "audit_write", None)
        if isinstance(spec, AuditedWrites):
            found.append((model, spec))
    return found


def install(using: str = "default") -> int:
    """Install or refresh the triggers; returns the number of audited tables."""
    connection = connections[using]
    if connection.vendor not in ("sqlite", "postgresql"):
        return 0
    from audit.models import AuditDay

    # A table can be missing after migrating backwards; it gets its trigger once it exists.
    existing = set(connection.introspection.table_names())
    models = [(model, spec) for model, spec in audited_models() if model._meta.db_table in existing]
    days = AuditDay._meta.db_table in existing
    if connection.vendor == "sqlite":
        sqlite.install(connection, models, days=days)
        return len(models)
    with connection.cursor() as cursor:
        cursor.execute(chain_function_sql(days))
        cursor.execute(CHAIN_SQL)
        for model, spec in models:
            table = model._meta.db_table
            quoted = connection.ops.quote_name(table)
            args = ", ".join(
                "'" + value.replace("'", "''") + "'"
                for value in (
                    model._meta.label_lower,
                    spec.case_column,
                    spec.victim_column,
                    ",".join(spec.values_for),
                )
            )
            cursor.execute(f"DROP TRIGGER IF EXISTS audit_capture ON {quoted}")
            cursor.execute(
                f"CREATE TRIGGER audit_capture AFTER INSERT OR UPDATE OR DELETE ON {quoted} "
                f"FOR EACH ROW EXECUTE FUNCTION audit_capture_write({args})"
            )
    return len(models)


def install_chain_function(using: str = "default", days: bool = True) -> None:
    """Replace only the PostgreSQL chain function (for audit's migration 0004, which
    creates the day table and must start keeping it in the same transaction)."""
    with connections[using].cursor() as cursor:
        cursor.execute(chain_function_sql(days))


def install_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    install(using)


def uninstall_before_migrate(
    sender: Any, using: str = "default", plan: list[Any] | None = None, **kwargs: Any
) -> None:
    """SQLite alters a table by rebuilding it, which the triggers would stop (see
    audit.sqlite); they are set aside while migrations run and installed again after.
    PostgreSQL alters tables in place, its triggers stay."""
    connection = connections[using]
    if plan and connection.vendor == "sqlite":
        sqlite.uninstall(connection)


def bind_session(
    actor_id: int | None,
    username: str,
    ip_address: str,
    user_agent: str,
    request_id: str,
    using: str = "default",
) -> None:
    """Tell the write-capture triggers who is acting on this connection (one query on
    PostgreSQL, none on SQLite, where the connection's functions hold it)."""
    connection = connections[using]
    if connection.vendor == "sqlite":
        sqlite.bind(connection, actor_id, username, ip_address, user_agent, request_id)
        return
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('mdt.actor_id', %s, false), "
            "set_config('mdt.actor_username', %s, false), "
            "set_config('mdt.ip_address', %s, false), "
            "set_config('mdt.user_agent', %s, false), "
            "set_config('mdt.request_id', %s, false)",
            [str(actor_id or ""), username, ip_address, user_agent, request_id],
        )


@contextmanager
def archiving(using: str = "default") -> Iterator[None]:
    """Let this connection delete audit events, inside the archive command's transaction.
    On PostgreSQL its role must also be a member of ARCHIVER_ROLE."""
    connection = connections[using]
    if connection.vendor == "sqlite":
        with sqlite.archiving(connection):
            yield
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL mdt.audit_archive = 'on'")
    yield


@contextmanager
def chain_positions(using: str = "default") -> Iterator[dict[int, sqlite.Position]]:
    """Collect, by event id, the (seq, prev_hash, hash) the chain trigger gives the events
    inserted inside the block. PostgreSQL's trigger sets them on the row being inserted,
    so RETURNING already hands them back and this stays empty; SQLite's runs after the
    insert, which RETURNING does not see."""
    connection = connections[using]
    if connection.vendor == "sqlite":
        with sqlite.chain_positions(connection) as positions:
            yield positions
        return
    yield {}
