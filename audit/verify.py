"""Walks the hash chain and names the first event that was changed, removed or moved."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.db.models import TextField
from django.db.models.functions import Cast

from audit import chain
from audit.models import AuditEvent, ChainAnchor

BATCH = 5000


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    seconds: float
    first_bad_seq: int | None = None
    first_bad_id: int | None = None
    problem: str = ""

    @property
    def events_per_second(self) -> float:
        return self.checked / self.seconds if self.seconds else float(self.checked)


def verify(batch: int = BATCH) -> Verdict:
    started = time.monotonic()
    anchor = ChainAnchor.objects.order_by("-seq").first()
    expected_seq = anchor.seq + 1 if anchor else 1
    prev_hash = anchor.hash if anchor else chain.GENESIS
    checked = 0
    fields = [name for name in chain.CHAINED_FIELDS if name != "detail"]
    rows = (
        AuditEvent.objects.exclude(seq=None)
        .order_by("seq")
        .annotate(detail_text=Cast("detail", TextField()))
        .values("id", "prev_hash", "hash", "detail_text", *fields)
    )
    last_seq = expected_seq - 1
    while True:
        page = list(rows.filter(seq__gt=last_seq)[:batch])
        if not page:
            break
        for row in page:
            problem = _problem(row, expected_seq, prev_hash)
            if problem:
                return Verdict(
                    False, checked, time.monotonic() - started, row["seq"], row["id"], problem
                )
            checked += 1
            prev_hash = row["hash"]
            expected_seq += 1
        last_seq = page[-1]["seq"]
    unchained = AuditEvent.objects.filter(seq=None).order_by("id").values("id").first()
    if unchained:
        return Verdict(
            False,
            checked,
            time.monotonic() - started,
            None,
            unchained["id"],
            f"event id {unchained['id']} is outside the chain (no position)",
        )
    return Verdict(True, checked, time.monotonic() - started)


def _problem(row: dict[str, Any], expected_seq: int, prev_hash: str) -> str:
    seq = row["seq"]
    if seq != expected_seq:
        return (
            f"event #{expected_seq} is missing: the chain jumps from #{expected_seq - 1} "
            f"to #{seq} (removed)"
        )
    values = {name: row[name] for name in chain.CHAINED_FIELDS if name != "detail"}
    values["detail"] = row["detail_text"]
    if chain.event_hash(values, row["prev_hash"]) != row["hash"]:
        return f"event #{seq} was changed after it was recorded (its hash does not match)"
    if row["prev_hash"] != prev_hash:
        return f"event #{seq} does not follow event #{seq - 1} (moved, or #{seq - 1} was rewritten)"
    return ""


def verify_and_record() -> Verdict:
    """Verify the chain and put the result in the trail itself (command and nightly task)."""
    from audit.models import Action, Outcome
    from audit.services import record

    verdict = verify()
    record(
        None,
        Action.VERIFY,
        outcome=Outcome.ALLOWED if verdict.ok else Outcome.FAILED,
        detail={
            "checked": verdict.checked,
            "first_bad_seq": verdict.first_bad_seq,
            "problem": verdict.problem,
        },
    )
    return verdict
