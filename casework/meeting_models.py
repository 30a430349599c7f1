"""What a review meeting holds about cases (issue 7): the agenda, the minutes, the
action items, and the guests invited for one case. The meeting itself, its attendees and
its reminders belong to teams (teams.models); these rows carry case content and are read
through the disclosure policy like every other case record."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from audit.database import AuditedWrites
from teams.disclosure.policy import DisclosureLevel, Info, codename
from teams.disclosure.queries import Protected


class AgendaReason(models.TextChoices):
    REVIEW_DUE = "review_due", "Due for review"
    DECISION = "decision", "Decision awaiting discussion"
    DUTY_TO_WARN = "duty_to_warn", "Open duty-to-warn report"
    VICTIM_INPUT = "victim_input", "New victim input"
    ADDED = "added", "Added by a member"


class AgendaItem(models.Model):
    """One case on a meeting's agenda, and why. An item that comes from a record (a
    decision, a duty-to-warn report, victim input) names it by label and id: a person
    sees the item only if they may read the case and that record (casework.agenda)."""

    audit_write = AuditedWrites(
        case_column="case_id",
        values_for=("meeting_id", "case_id", "reason", "source_label", "source_id", "discussed_at"),
    )
    disclosure = Protected(case_path="case", codes=(codename(Info.CASE_SUMMARY),))

    meeting = models.ForeignKey(
        "teams.ReviewMeeting", on_delete=models.CASCADE, related_name="agenda_items"
    )
    case = models.ForeignKey("casework.Case", on_delete=models.PROTECT, related_name="agenda_items")
    reason = models.CharField(max_length=20, choices=AgendaReason.choices)
    # The record that put the case on the agenda ("casework.CaseDecision", 12); empty and
    # 0 for a review that is due and a case a member added.
    source_label = models.CharField(max_length=60, blank=True, default="")
    source_id = models.PositiveBigIntegerField(default=0)
    # What the item is about, from non-sensitive fields only (a decision's kind, a report's
    # urgency): the record itself stays behind its own disclosure rules.
    title = models.CharField(max_length=200)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    position = models.PositiveIntegerField(default=0)
    discussed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["meeting", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "case", "reason", "source_label", "source_id"],
                name="agenda_item_once",
            )
        ]
        indexes = [models.Index(fields=["case", "meeting"], name="agenda_item_case")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: {self.case_id} at meeting {self.meeting_id}"


class MinuteEntry(models.Model):
    """What was said and agreed about a case at a meeting, at a disclosure level chosen by
    whoever records it (officer or supervisor), like a note."""

    audit_write = AuditedWrites(
        case_column="case_id", values_for=("item_id", "author_id", "disclosure_level")
    )
    disclosure = Protected(
        case_path="case",
        default_info=Info.MEETING_MINUTES,
        level_field="disclosure_level",
        author_field="author",
    )

    item = models.ForeignKey(AgendaItem, on_delete=models.PROTECT, related_name="minutes")
    # The item's case, kept on the row so that the policy and the audit trail reach it
    # without a join.
    case = models.ForeignKey("casework.Case", on_delete=models.PROTECT, related_name="minutes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="minute_entries"
    )
    body = models.TextField()
    disclosure_level = models.CharField(
        max_length=40, choices=DisclosureLevel.choices, default=DisclosureLevel.TEAM
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "minute entries"
        constraints = [
            models.CheckConstraint(
                condition=~Q(disclosure_level=DisclosureLevel.RESTRICTED),
                name="minutes_not_restricted",
            )
        ]

    def __str__(self) -> str:
        return f"Minutes on item {self.item_id}"


class ActionItem(models.Model):
    """A task agreed at a meeting about a case: who does it, by when. Its owner is
    reminded before it is due (casework.review_reminders)."""

    audit_write = AuditedWrites(
        case_column="case_id", values_for=("item_id", "owner_id", "due_on", "done_at")
    )
    disclosure = Protected(
        case_path="case", codes=(codename(Info.CASE_SUMMARY),), author_field="owner"
    )

    item = models.ForeignKey(AgendaItem, on_delete=models.PROTECT, related_name="actions")
    case = models.ForeignKey("casework.Case", on_delete=models.PROTECT, related_name="actions")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items"
    )
    text = models.CharField("action", max_length=300)
    due_on = models.DateField("due")
    done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(
                fields=["due_on"], name="action_open_due", condition=Q(done_at__isnull=True)
            ),
            models.Index(fields=["owner", "due_on"], name="action_owner_due"),
        ]

    def __str__(self) -> str:
        return f"{self.text} (due {self.due_on})"


class MeetingGuestCase(models.Model):
    """The one case a guest from another team is invited to a meeting for. The guest
    holds an invitation to that case (a case grant), which is what lets them read it."""

    audit_write = AuditedWrites(case_column="case_id", values_for=("attendee_id", "case_id"))

    attendee = models.OneToOneField(
        "teams.MeetingAttendee", on_delete=models.CASCADE, related_name="guest_case"
    )
    case = models.ForeignKey(
        "casework.Case", on_delete=models.PROTECT, related_name="meeting_guests"
    )

    class Meta:
        verbose_name = "meeting guest's case"

    def __str__(self) -> str:
        return f"{self.attendee} for case {self.case_id}"
