"""A test-only e-mail backend that makes a send slow enough to kill a worker in the middle
of it, at a moment the test chooses (tests/test_reminders_e2e.py).

Django's file backend (each message in a file under EMAIL_FILE_PATH, like an outbox), with
a pause before the message is written (the SMTP conversation, as far as the sender knows)
and after it (the mail server has taken it; the sender has not yet committed). Each step
is appended to <VAR_DIR>/mail-steps.log as "<step> <Message-ID> <pid>", so a test can wait
for the step it wants and then SIGKILL the worker. Selected by tests/e2e_settings.py,
never by the app's settings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.filebased import EmailBackend

STEPS_FILE = "mail-steps.log"
SENDING, SENT = "sending", "sent"


def steps_path(var_dir: Path) -> Path:
    return var_dir / STEPS_FILE


def _pause(name: str) -> float:
    return float(os.environ.get(name, "0") or 0)


def _step(step: str, message: EmailMessage) -> None:
    message_id = message.extra_headers.get("Message-ID", "-")
    # One short write to a file opened for appending: lines of several processes never mix.
    with steps_path(Path(settings.VAR_DIR)).open("a") as log:
        log.write(f"{step} {message_id} {os.getpid()}\n")


class SlowFileBackend(EmailBackend):
    """Pauses SLOW_MAIL_BEFORE_SECONDS before and SLOW_MAIL_AFTER_SECONDS after writing
    each message (environment; 0 by default)."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            _step(SENDING, message)
            time.sleep(_pause("SLOW_MAIL_BEFORE_SECONDS"))
            sent += super().send_messages([message])
            _step(SENT, message)
            time.sleep(_pause("SLOW_MAIL_AFTER_SECONDS"))
        return sent
