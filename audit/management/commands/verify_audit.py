from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.verify import verify_and_record


class Command(BaseCommand):
    help = "Walk the audit trail's hash chain; name the first event changed, removed or moved."

    def handle(self, *args: Any, **options: Any) -> None:
        verdict = verify_and_record()
        rate = f"{verdict.events_per_second:,.0f} events/s"
        if verdict.ok:
            self.stdout.write(
                self.style.SUCCESS(f"Audit chain intact: {verdict.checked} events ({rate}).")
            )
            return
        raise CommandError(
            f"Audit chain broken at event #{verdict.first_bad_seq} (id {verdict.first_bad_id}): "
            f"{verdict.problem}. {verdict.checked} events before it verified."
        )
