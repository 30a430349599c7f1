from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Action(models.TextChoices):
    VIEW = "view", "Viewed a record"
    LIST = "list", "Viewed a list"
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"
    LOGIN = "login", "Signed in"
    LOGIN_FAILED = "login_failed", "Failed sign-in"
    LOGOUT = "logout", "Signed out"
    TOKEN_ISSUED = "token_issued", "API token issued"
    MEMBERSHIP_CHANGE = "membership_change", "Changed a team membership"
    PERMISSION_CHANGE = "permission_change", "Changed permissions"
    LEVEL_CHANGE = "level_change", "Changed a disclosure level"
    RELEASE_CHANGE = "release_change", "Changed a release of information"
    DISCLOSURE = "disclosure", "Saw victim information"
    EXPORT = "export", "Exported"
    EMERGENCY_ACCESS = "emergency_access", "Started emergency access"
    EMERGENCY_REVIEW = "emergency_review", "Reviewed emergency access"
    VERIFY = "verify", "Verified the audit chain"
    LOCATION_CHECK = "location_check", "Checked a place against protected locations"
    NOTIFY = "notify", "Notified people"
    ESCALATE = "escalate", "Escalated an unacknowledged report"
    ACKNOWLEDGE = "acknowledge", "Acknowledged"
    ARCHIVE = "archive", "Archived audit events"


class ChainBigIntegerField(models.BigIntegerField):
    """Set by the database on insert and read back in the same statement (RETURNING)."""

    db_returning = True


class ChainCharField(models.CharField):
    db_returning = True


class Outcome(models.TextChoices):
    ALLOWED = "allowed", "Allowed"
    DENIED = "denied", "Denied"
    FAILED = "failed", "Failed"


class AuditEvent(models.Model):
    """One thing that happened. Rows are only ever inserted: database triggers (on
    PostgreSQL and on SQLite, audit.database / audit.sqlite) refuse UPDATE and DELETE
    and chain each new row to the one before it."""

    # Position in the hash chain, set by the database's chain trigger when the row is
    # inserted (under an advisory lock on PostgreSQL, the write lock on SQLite).
    seq = ChainBigIntegerField(unique=True, null=True, editable=False)
    # Set when the event is built, so the time is when it happened, not when the
    # request's buffer was written.
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Accounts are deactivated, never deleted; no database constraint, so that the
    # trail never blocks or cascades from a change to the accounts table.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    # Plain ids, not foreign keys: the audit app depends on no other app.
    case_id = models.BigIntegerField(null=True, blank=True)
    victim_id = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.ALLOWED)
    ip_address = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=36, blank=True)
    emergency = models.BooleanField(default=False)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = ChainCharField(max_length=64, blank=True, editable=False)
    hash = ChainCharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["actor", "-seq"], name="audit_actor_seq"),
            models.Index(fields=["case_id", "-seq"], name="audit_case_seq"),
            models.Index(fields=["victim_id", "-seq"], name="audit_victim_seq"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
            models.Index(fields=["action", "-seq"], name="audit_action_seq"),
        ]

    def __str__(self) -> str:
        who = self.actor_username or "anonymous"
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.target_type}"


class AuditDay(models.Model):
    """Where one UTC calendar day's events lie in the chain: the smallest and largest
    `seq` of the events stamped (`occurred_at`) that day, whatever order they were
    inserted in. A date filter reads the trail between the positions of its days
    (audit.review.in_window) instead of guessing them from times.

    Kept by the chain triggers (audit.database, audit.sqlite): every insert, by any
    path, widens its day's range in the same statement. Not itself a record: no write
    capture, not append-only. Archiving leaves it alone (a range wider than the events
    that remain is still a correct bound)."""

    day = models.DateField(primary_key=True)
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d}: #{self.first_seq}-#{self.last_seq}"


class ChainAnchor(models.Model):
    """Where the chain continues after archived events were removed: the last archived
    event's position and hash, so `verify_audit` still verifies what remains."""

    seq = models.BigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    archived_count = models.BigIntegerField()
    archive_file = models.CharField(max_length=500)
    archive_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"Anchor at #{self.seq}"
