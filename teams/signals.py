"""Sign-in, failed sign-in and sign-out go to the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.models import Action, Outcome
from audit.services import record


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record(user, Action.LOGIN, target=user)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(user, Action.LOGOUT, target=user)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any, **kwargs: Any) -> None:
    # Only the username is kept: credentials also carry the password attempt.
    record(
        None,
        Action.LOGIN_FAILED,
        outcome=Outcome.FAILED,
        username=str(credentials.get("username", "")),
    )
