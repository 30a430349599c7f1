from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase

from audit.database import AuditedWrites
from teams.disclosure.policy import all_team_permissions
from teams.roles import Role


class User(AbstractUser):
    """A person who signs in. Their roles come from team memberships, not from the account:
    the same person can be an officer on one team and a guest on another."""

    audit_write = AuditedWrites(values_for=("username", "is_active", "is_staff", "is_superuser"))

    job_title = models.CharField(max_length=120, blank=True)
    phone = models.CharField(max_length=40, blank=True)

    class Meta:
        swappable = "AUTH_USER_MODEL"
        ordering = ["last_name", "first_name", "username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_system_admin(self) -> bool:
        """Manages accounts and teams; reads no case content (DESIGN rule 8)."""
        return self.is_staff


# Django's own link tables for account permissions and groups: written by the admin and
# by the membership signal, and captured like every audited table (audit.database).
User.groups.through.audit_write = AuditedWrites(values_for=("user_id", "group_id"))  # type: ignore[attr-defined]
User.user_permissions.through.audit_write = AuditedWrites(  # type: ignore[attr-defined]
    values_for=("user_id", "permission_id")
)
Group.permissions.through.audit_write = AuditedWrites(  # type: ignore[attr-defined]
    values_for=("group_id", "permission_id")
)


class Team(models.Model):
    """A multidisciplinary team (MDT) working a caseload out of one office."""

    audit_write = AuditedWrites(values_for=("name", "office", "jurisdiction"))

    name = models.CharField(max_length=120, unique=True)
    office = models.CharField(max_length=160)
    jurisdiction = models.CharField(max_length=160)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        # One permission per kind of information and level, granted on each team to
        # its role groups (teams.disclosure.grants). Generated from the policy table.
        permissions = all_team_permissions()

    def __str__(self) -> str:
        return self.name


class TeamRoleGroup(models.Model):
    """The group that holds one role's permissions on one team. A membership puts the
    user in it; the policy grants the role's baseline to it, on the team."""

    audit_write = AuditedWrites(values_for=("team_id", "role", "group_id"))

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="role_groups")
    role = models.CharField(max_length=20, choices=Role.choices)
    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="team_role")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "role"], name="one_group_per_team_role")
        ]

    def __str__(self) -> str:
        return f"{self.team} - {self.get_role_display()}"


class TeamGroupObjectPermission(GroupObjectPermissionBase):
    """django-guardian's direct foreign-key table for permissions granted on a team."""

    audit_write = AuditedWrites(values_for=("group_id", "permission_id", "content_object_id"))

    content_object = models.ForeignKey(Team, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        abstract = False
        indexes = [
            models.Index(fields=["content_object", "permission"], name="teamperm_team_perm"),
        ]


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self, on: object | None = None) -> MembershipQuerySet:
        day = on or timezone.localdate()
        return self.filter(active_from__lte=day).filter(
            Q(active_to__isnull=True) | Q(active_to__gte=day)
        )


class Membership(models.Model):
    """A user's role on a team, for a period. Ending a membership sets `active_to`; the row
    stays so that the audit trail can still say who was on the team when."""

    audit_write = AuditedWrites(
        values_for=("user_id", "team_id", "role", "active_from", "active_to")
    )

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    active_from = models.DateField(default=timezone.localdate)
    active_to = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["team__name", "role", "user__username"]
        constraints = [
            models.CheckConstraint(
                condition=Q(active_to__isnull=True) | Q(active_to__gte=models.F("active_from")),
                name="membership_ends_after_it_starts",
            ),
            models.UniqueConstraint(
                fields=["user", "team", "role"],
                condition=Q(active_to__isnull=True),
                name="one_open_membership_per_role",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "team"], name="membership_user_team"),
            models.Index(fields=["team", "role"], name="membership_team_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user} - {self.get_role_display()} on {self.team}"


class MeetingStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    HELD = "held", "Held"
    CANCELLED = "cancelled", "Cancelled"


def default_reminder_offsets() -> list[int]:
    """Minutes before a meeting at which each attendee is reminded (settings)."""
    return list(settings.MEETING_REMINDER_OFFSET_MINUTES)


class MeetingSeries(models.Model):
    """A recurring review meeting: an RFC 5545 recurrence rule (for example
    FREQ=MONTHLY;BYDAY=1TU, the first Tuesday of each month) from which the team's
    meetings are generated a few months ahead (teams.meetings)."""

    audit_write = AuditedWrites(values_for=("team_id", "rule", "starts_at", "ended_at"))

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="meeting_series")
    title = models.CharField(max_length=160, default="MDT case review")
    rule = models.CharField("repeats", max_length=200)
    starts_at = models.DateTimeField("first meeting")
    duration_minutes = models.PositiveSmallIntegerField(default=60)
    location = models.CharField(max_length=200, blank=True)
    call_link = models.URLField(blank=True)
    reminder_offsets = models.JSONField(default=default_reminder_offsets)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Meetings are generated up to this moment; the daily task moves it forward.
    generated_until = models.DateTimeField(null=True, blank=True)
    # The series was ended: no meeting after this moment is generated.
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["team", "starts_at"]
        verbose_name_plural = "meeting series"

    def __str__(self) -> str:
        return f"{self.team} - {self.title} ({self.rule})"


class ReviewMeeting(models.Model):
    """A case staffing meeting of one team."""

    audit_write = AuditedWrites(values_for=("team_id", "starts_at", "status", "duration_minutes"))

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="meetings")
    title = models.CharField(max_length=160, default="MDT case review")
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(default=60)
    location = models.CharField(max_length=200, blank=True)
    call_link = models.URLField(blank=True)
    status = models.CharField(
        max_length=12, choices=MeetingStatus.choices, default=MeetingStatus.SCHEDULED
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    attendees: models.ManyToManyField[User, MeetingAttendee] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="MeetingAttendee", related_name="review_meetings"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    series = models.ForeignKey(
        MeetingSeries,
        on_delete=models.PROTECT,
        related_name="meetings",
        null=True,
        blank=True,
    )
    # The start the series' rule gave this occurrence (kept when the meeting is moved),
    # so that generating the series again never makes a second copy of it.
    occurrence_of = models.DateTimeField(null=True, blank=True)
    # Minutes before the start at which each attendee is reminded.
    reminder_offsets = models.JSONField(default=default_reminder_offsets)
    # iCalendar SEQUENCE: one more each time the meeting is moved or cancelled, so that
    # calendars replace the invitation they hold.
    sequence = models.PositiveIntegerField(default=0)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    # Shown to everyone invited (guests of other teams too): no case details.
    cancel_reason = models.CharField("why it was cancelled", max_length=500, blank=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["team", "starts_at"], name="meeting_team_start")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(location="") | ~Q(call_link=""), name="meeting_has_place_or_link"
            ),
            models.CheckConstraint(condition=Q(duration_minutes__gt=0), name="meeting_has_length"),
            models.UniqueConstraint(
                fields=["series", "occurrence_of"],
                name="meeting_once_per_occurrence",
                condition=Q(series__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team} - {self.title} ({self.starts_at:%Y-%m-%d %H:%M} UTC)"

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.duration_minutes)


class Rsvp(models.TextChoices):
    PENDING = "pending", "No answer yet"
    ATTENDING = "attending", "Attending"
    DECLINED = "declined", "Declined"
    TENTATIVE = "tentative", "Tentative"


class MeetingAttendee(models.Model):
    """A person invited to a meeting: a member of the team, or a guest from another team
    invited for one case (casework.MeetingGuestCase names the case)."""

    audit_write = AuditedWrites(
        values_for=("meeting_id", "user_id", "rsvp", "attended", "is_guest")
    )
    meeting = models.ForeignKey(ReviewMeeting, on_delete=models.CASCADE, related_name="attendance")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="meeting_attendance"
    )
    rsvp = models.CharField(max_length=12, choices=Rsvp.choices, default=Rsvp.PENDING)
    responded_at = models.DateTimeField(null=True, blank=True)
    attended = models.BooleanField(null=True, blank=True)
    is_guest = models.BooleanField(default=False)

    class Meta:
        ordering = ["meeting", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "user"], name="attendee_once_per_meeting")
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.meeting}"


class NotificationKind(models.TextChoices):
    DUTY_TO_WARN = "duty_to_warn", "Duty-to-warn report"
    DUTY_TO_WARN_ESCALATION = "duty_to_warn_escalation", "Duty-to-warn report not acknowledged"
    INPUT_REQUESTED = "input_requested", "Victim input requested on a decision"
    PLACE_CONFLICT = "place_conflict", "Possible conflict with a protected location"
    APPROVAL_REQUESTED = "approval_requested", "Decision awaiting approval"
    DECISION_RETURNED = "decision_returned", "Decision returned with comments"
    DECISION_APPROVED = "decision_approved", "Decision approved"
    INFORMATION_REQUESTED = "information_requested", "A victim's question to answer"
    INFORMATION_OVERDUE = "information_overdue", "A victim's question is overdue"
    INFORMATION_ANSWERED = "information_answered", "A victim's question was answered"
    VICTIM_NOTIFICATION = "victim_notification", "An event to relay to a victim"
    NEW_VICTIM_REPORT = "new_victim_report", "A possible new victim was disclosed"
    RELEASE_EXPIRING = "release_expiring", "A release of information expires soon"
    INPUT_ACKNOWLEDGED = "input_acknowledged", "Your input was acknowledged"
    MEETING_SCHEDULED = "meeting_scheduled", "Review meeting scheduled"
    MEETING_REMINDER = "meeting_reminder", "Review meeting reminder"
    MEETING_MOVED = "meeting_moved", "Review meeting moved"
    MEETING_CANCELLED = "meeting_cancelled", "Review meeting cancelled"
    ACTION_DUE = "action_due", "Action item coming due"
    REVIEW_OVERDUE = "review_overdue", "Case overdue for review"


# Kinds whose e-mail nobody may turn off: a threat to someone's safety (DESIGN rule 1
# still holds: the e-mail carries no case content).
ALWAYS_EMAILED: frozenset[str] = frozenset(
    {NotificationKind.DUTY_TO_WARN, NotificationKind.DUTY_TO_WARN_ESCALATION}
)


class Notification(models.Model):
    """Something a person should know, in their inbox in the app. The title names the
    kind of event and the case reference, never case content; the e-mail sent for it
    (teams.notify) carries only a generic line and the link."""

    audit_write = AuditedWrites(values_for=("recipient_id", "kind", "read_at", "emailed_at"))

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    link = models.CharField(max_length=300, help_text="A path in the app.")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # Makes a repeated task run create nothing twice: (kind, record, round, recipient).
    key = models.CharField(max_length=120, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["recipient", "-created_at"],
                name="notification_unread",
                condition=Q(read_at__isnull=True),
            ),
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.recipient}"


class Discipline(models.TextChoices):
    SUPERVISION = "supervision", "Supervision"
    TREATMENT = "treatment", "Treatment"
    POLYGRAPH = "polygraph", "Polygraph"
    VICTIM_SERVICES = "victim_services", "Victim services"
    SHARED = "shared", "Shared by the whole team"


class GlossaryTerm(models.Model):
    """A term one discipline uses, explained for the others (the seed names terminology
    as a barrier to collaboration). Kept by supervisors; no case content."""

    audit_write = AuditedWrites(values_for=("term", "discipline", "updated_by_id"))

    term = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    discipline = models.CharField(max_length=20, choices=Discipline.choices)
    definition = models.TextField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["term"]
        constraints = [
            models.CheckConstraint(condition=~Q(definition=""), name="glossary_has_definition")
        ]

    def __str__(self) -> str:
        return self.term


class NotificationPreference(models.Model):
    """A person's choice to receive a kind of notification in the app only. Without a
    row, the notification is e-mailed too (with no case content, only a link)."""

    audit_write = AuditedWrites(values_for=("user_id", "kind", "email"))

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    email = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="preference_once_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind} e-mail {'on' if self.email else 'off'}"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Not sent: the meeting had already started"


class Reminder(models.Model):
    """One message to one person at one time: a reminder before a meeting, a notice of a
    meeting's changes, an action item coming due, a case overdue for review.

    The key (what, recipient, offset) is unique, so planning twice plans once. The task
    that runs every minute (teams.tasks.send_due_reminders) claims due rows with
    SELECT ... FOR UPDATE SKIP LOCKED and sends each in its own transaction
    (teams.reminders). Not write-audited: each delivery creates a Notification, which is;
    auditing the row as well would double the audit chain's work on every send.
    """

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders"
    )
    meeting = models.ForeignKey(
        ReviewMeeting, on_delete=models.CASCADE, related_name="reminders", null=True, blank=True
    )
    offset_minutes = models.PositiveIntegerField(null=True, blank=True)
    title = models.CharField(max_length=200)
    link = models.CharField(max_length=300, help_text="A path in the app.")
    send_at = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    # Sent more than REMINDER_LATE_AFTER_SECONDS after its time (beat or workers were down).
    late = models.BooleanField(default=False)
    # One more each time a moved meeting sets a sent reminder going again.
    revision = models.PositiveIntegerField(default=0)
    notification = models.ForeignKey(
        Notification, on_delete=models.SET_NULL, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["send_at", "id"]
        indexes = [
            models.Index(
                fields=["send_at", "id"],
                name="reminder_due",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["meeting", "status"], name="reminder_meeting"),
            models.Index(fields=["recipient", "-send_at"], name="reminder_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.recipient} at {self.send_at:%Y-%m-%d %H:%M}"
