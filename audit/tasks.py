from __future__ import annotations

from celery import shared_task

from audit.models import Action, Outcome
from audit.services import record
from audit.signals import chain_broken
from audit.verify import verify


@shared_task(name="audit.tasks.verify_chain", ignore_result=True)
def verify_chain() -> dict[str, object]:
    """Nightly: walk the chain; on a break, alert the people who must act on it."""
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
    if not verdict.ok:
        chain_broken.send(sender=verify_chain, verdict=verdict)
    return {"ok": verdict.ok, "checked": verdict.checked, "first_bad_seq": verdict.first_bad_seq}
