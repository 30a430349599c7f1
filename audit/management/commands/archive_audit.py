"""Move audit events older than the retention period to a file, then remove them.

Run by an operator whose database role is a member of `mdt_audit_archiver` (the
application's role is not; SQLite has no roles, the file's permissions decide): the
events are written to a JSON-lines file, the file is verified against the chain, and only
then are the events deleted, leaving a chain anchor so that `verify_audit` still verifies
what remains.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from audit import chain
from audit.database import archiving
from audit.models import Action, AuditEvent, ChainAnchor
from audit.services import record

FIELDS = [name for name in chain.CHAINED_FIELDS if name != "detail"]


class Command(BaseCommand):
    help = "Archive audit events older than AUDIT_RETENTION_DAYS to a file, verified."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, help="Directory for the archive file.")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = timezone.now() - dt.timedelta(days=settings.AUDIT_RETENTION_DAYS)
        first_kept = (
            AuditEvent.objects.filter(occurred_at__gte=cutoff).order_by("seq").values("seq").first()
        )
        old = AuditEvent.objects.exclude(seq=None)
        if first_kept is not None:
            old = old.filter(seq__lt=first_kept["seq"])
        count = old.count()
        if count == 0:
            self.stdout.write("Nothing is older than the retention period.")
            return
        anchor = ChainAnchor.objects.order_by("-seq").first()
        prev = anchor.hash if anchor else chain.GENESIS
        expected = anchor.seq + 1 if anchor else 1
        directory = Path(options["output"])
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"audit-{expected}-{expected + count - 1}.jsonl"
        digest = hashlib.sha256()
        rows = (
            old.order_by("seq")
            .annotate(detail_text=Cast("detail", TextField()))
            .values("id", "prev_hash", "hash", "detail_text", *FIELDS)
        )
        last_seq, last_hash = 0, prev
        with path.open("w", encoding="utf-8") as out:
            for row in rows.iterator(chunk_size=5000):
                values = {name: row[name] for name in FIELDS}
                values["detail"] = row["detail_text"]
                if row["seq"] != expected or row["prev_hash"] != prev:
                    raise CommandError(f"Chain broken at event #{row['seq']}; nothing removed.")
                if chain.event_hash(values, prev) != row["hash"]:
                    raise CommandError(f"Event #{row['seq']} was changed; nothing removed.")
                line = json.dumps(
                    {
                        **values,
                        "occurred_at": row["occurred_at"].isoformat(),
                        "prev_hash": prev,
                        "hash": row["hash"],
                    },
                    sort_keys=True,
                )
                out.write(line + "\n")
                digest.update((line + "\n").encode("utf-8"))
                prev, expected = row["hash"], expected + 1
                last_seq, last_hash = row["seq"], row["hash"]
        if options["dry_run"]:
            self.stdout.write(f"Would archive {count} events to {path} (dry run: nothing removed).")
            return
        with transaction.atomic(), archiving():
            ChainAnchor.objects.create(
                seq=last_seq,
                hash=last_hash,
                archived_count=count,
                archive_file=str(path),
                archive_sha256=digest.hexdigest(),
            )
            deleted = AuditEvent.objects.filter(seq__lte=last_seq)._raw_delete(connection.alias)
        record(
            None,
            Action.ARCHIVE,
            detail={
                "events": deleted,
                "through_seq": last_seq,
                "file": str(path),
                "sha256": digest.hexdigest(),
            },
        )
        self.stdout.write(self.style.SUCCESS(f"Archived {deleted} events to {path}."))
