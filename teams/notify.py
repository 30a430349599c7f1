"""Telling people something happened: a row in their in-app inbox and an e-mail that
carries no case content, only a generic line and a link into the app (DESIGN rule 1:
nothing about a case or a victim travels by e-mail).

`notify` is idempotent per key: a task that runs twice, or two workers racing, create
one notification and send one e-mail per recipient and key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.utils import timezone

from teams.models import (
    ALWAYS_EMAILED,
    Notification,
    NotificationKind,
    NotificationPreference,
)

logger = logging.getLogger(__name__)

# The whole e-mail body, per kind: what happened, never which case or who.
EMAIL_LINES: dict[str, str] = {
    NotificationKind.DUTY_TO_WARN: "A duty-to-warn report needs your attention now.",
    NotificationKind.DUTY_TO_WARN_ESCALATION: (
        "A duty-to-warn report has not been acknowledged. It needs your attention now."
    ),
    NotificationKind.INPUT_REQUESTED: "Your input is requested on a proposed decision.",
    NotificationKind.PLACE_CONFLICT: (
        "A place in a decision may conflict with a protected location."
    ),
    NotificationKind.APPROVAL_REQUESTED: "A decision is waiting for your approval.",
    NotificationKind.DECISION_RETURNED: "A decision was returned to you with comments.",
    NotificationKind.DECISION_APPROVED: "A decision you proposed was approved.",
    NotificationKind.INPUT_ACKNOWLEDGED: "The officer acknowledged your input on a decision.",
    NotificationKind.RELEASE_EXPIRING: "A release of information expires soon.",
    NotificationKind.INFORMATION_REQUESTED: "A victim has asked a question for you to answer.",
    NotificationKind.INFORMATION_OVERDUE: "A victim's question is waiting for an answer.",
    NotificationKind.INFORMATION_ANSWERED: "A victim's question was answered: ready to relay.",
    NotificationKind.VICTIM_NOTIFICATION: "An event is waiting for you to relay to a victim.",
    NotificationKind.NEW_VICTIM_REPORT: "A report needs your attention.",
    NotificationKind.MEETING_SCHEDULED: "You are invited to a review meeting.",
    NotificationKind.MEETING_REMINDER: "A review meeting you are invited to is coming up.",
    NotificationKind.MEETING_MOVED: "A review meeting you are invited to has moved.",
    NotificationKind.MEETING_CANCELLED: "A review meeting you were invited to is cancelled.",
    NotificationKind.ACTION_DUE: "An action item of yours is coming due.",
    NotificationKind.REVIEW_OVERDUE: "A case is overdue for review.",
}

# An e-mail attachment: file name, content, MIME type (an invitation, for example).
Attachment = tuple[str, str | bytes, str]


def notify(
    recipients: Iterable[Any],
    kind: NotificationKind,
    title: str,
    link: str,
    *,
    key: str = "",
    email: bool = True,
    details: str = "",
    attachments: Iterable[Attachment] = (),
) -> list[Notification]:
    """Create one notification per recipient (skipping those that already have one for
    `key`) and e-mail each new one whose recipient has not turned e-mail off for the kind.
    `details` (lines added to the e-mail) and `attachments` must carry no case content.
    Returns the notifications created now."""
    created: list[Notification] = []
    for user in {u.pk: u for u in recipients if u is not None and u.is_active}.values():
        row = Notification(
            recipient=user,
            kind=kind,
            title=title[:200],
            link=link,
            key=f"{key}:{user.pk}" if key else None,
        )
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            continue  # this recipient was told already for this key
        created.append(row)
    if email:
        _email(created, details, list(attachments))
    return created


def email_off(user_ids: Iterable[int], kind: str) -> set[int]:
    """The users among `user_ids` who turned e-mail off for `kind` (one query)."""
    if kind in ALWAYS_EMAILED:
        return set()
    return set(
        NotificationPreference.objects.filter(
            user_id__in=list(user_ids), kind=kind, email=False
        ).values_list("user_id", flat=True)
    )


def message(
    kind: str,
    address: str,
    link: str,
    *,
    details: str = "",
    attachments: Iterable[Attachment] = (),
    message_id: str = "",
) -> EmailMessage:
    """The e-mail for one notification: a generic line for the kind, `details`, the link.
    A `message_id` that stays the same when a send is repeated lets mail systems drop
    the second copy."""
    body = f"{EMAIL_LINES.get(kind, 'Something needs your attention.')}\n\n"
    if details:
        body += f"{details.strip()}\n\n"
    body += f"Sign in to see it: {settings.APP_BASE_URL}{link}\n"
    mail = EmailMessage(
        subject=f"MDT casework: {NotificationKind(kind).label}",
        body=body,
        to=[address],
        headers={"Message-ID": message_id} if message_id else None,
    )
    for name, content, mimetype in attachments:
        mail.attach(name, content, mimetype)
    return mail


def _email(rows: list[Notification], details: str, attachments: list[Attachment]) -> None:
    off = email_off((row.recipient_id for row in rows), rows[0].kind) if rows else set()
    with_address = [row for row in rows if row.recipient.email and row.recipient_id not in off]
    if not with_address:
        return
    messages = [
        message(row.kind, row.recipient.email, row.link, details=details, attachments=attachments)
        for row in with_address
    ]
    try:
        get_connection().send_messages(messages)
    except OSError:
        # The in-app notification stands; an unreachable mail server must not undo it.
        logger.exception("notification e-mail could not be sent")
        return
    Notification.objects.filter(pk__in=[row.pk for row in with_address]).update(
        emailed_at=timezone.now()
    )


def unread_count(user: Any) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
