from __future__ import annotations

from celery import shared_task

from audit.signals import chain_broken
from audit.verify import verify_and_record


@shared_task(name="audit.tasks.verify_chain", ignore_result=True)
def verify_chain() -> dict[str, object]:
    """Nightly: walk the chain; on a break, alert the people who must act on it."""
    verdict = verify_and_record()
    if not verdict.ok:
        chain_broken.send(sender=verify_chain, verdict=verdict)
    return {"ok": verdict.ok, "checked": verdict.checked, "first_bad_seq": verdict.first_bad_seq}
