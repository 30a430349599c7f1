from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from guardian.models import UserObjectPermissionBase

from audit.database import AuditedWrites
from teams.disclosure.policy import (
    DECISION_STATUS_INFO,
    NOTE_KIND_INFO,
    DisclosureLevel,
    Info,
    all_team_permissions,
    codename,
)
from teams.disclosure.queries import Protected
from teams.models import Team


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"


class SupervisionLevel(models.TextChoices):
    MINIMUM = "minimum", "Minimum"
    MEDIUM = "medium", "Medium"
    MAXIMUM = "maximum", "Maximum"
    INTENSIVE = "intensive", "Intensive"


class Supervisee(models.Model):
    """A person under supervision."""

    audit_write = AuditedWrites(values_for=("risk_level", "supervision_level"))

    disclosure = Protected(case_path="cases", codes=(codename(Info.CASE_SUMMARY),))

    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    date_of_birth = models.DateField()
    docket_number = models.CharField(max_length=40, unique=True)
    risk_level = models.CharField(max_length=12, choices=RiskLevel.choices)
    supervision_level = models.CharField(max_length=12, choices=SupervisionLevel.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        verbose_name = "person under supervision"
        verbose_name_plural = "people under supervision"
        indexes = [models.Index(fields=["last_name", "first_name"], name="supervisee_name")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class CaseStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ABSCONDED = "absconded", "Absconded"
    WARRANT = "warrant", "Warrant issued"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


class Case(models.Model):
    """One period of supervision of one person, worked by one team."""

    audit_write = AuditedWrites(
        case_column="id",
        values_for=(
            "status",
            "team_id",
            "assigned_officer_id",
            "supervision_start",
            "supervision_end",
            "next_review_due",
        ),
    )

    disclosure = Protected(case_path="", codes=(codename(Info.CASE_SUMMARY),))

    reference = models.CharField(max_length=30, unique=True)
    supervisee = models.ForeignKey(Supervisee, on_delete=models.PROTECT, related_name="cases")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="cases")
    assigned_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="assigned_cases",
        null=True,
        blank=True,
    )
    status = models.CharField(max_length=12, choices=CaseStatus.choices, default=CaseStatus.ACTIVE)
    supervision_start = models.DateField()
    supervision_end = models.DateField(null=True, blank=True)
    conditions = models.TextField(blank=True, help_text="Conditions of supervision, one per line.")
    next_review_due = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-supervision_start", "reference"]
        # The policy's codenames, for exceptions granted on one case (a guest, emergency
        # access); the baseline is granted on the team.
        permissions = all_team_permissions()
        constraints = [
            models.CheckConstraint(
                condition=Q(supervision_end__isnull=True)
                | Q(supervision_end__gte=models.F("supervision_start")),
                name="case_supervision_ends_after_start",
            )
        ]
        indexes = [
            models.Index(fields=["team", "status"], name="case_team_status"),
            models.Index(fields=["assigned_officer", "status"], name="case_officer_status"),
            models.Index(fields=["next_review_due"], name="case_review_due"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def condition_list(self) -> list[str]:
        return [line.strip() for line in self.conditions.splitlines() if line.strip()]


class NoteKind(models.TextChoices):
    SUPERVISION = "supervision", "Supervision"
    TREATMENT = "treatment", "Treatment progress"
    POLYGRAPH = "polygraph", "Polygraph"
    GENERAL = "general", "General"


class CaseNote(models.Model):
    audit_write = AuditedWrites(
        case_column="case_id", values_for=("kind", "disclosure_level", "author_id")
    )
    disclosure = Protected(
        case_path="case",
        info_field="kind",
        info_map=NOTE_KIND_INFO,
        level_field="disclosure_level",
        author_field="author",
        named_grants="casenoteuserobjectpermission",
    )

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="case_notes"
    )
    kind = models.CharField(max_length=12, choices=NoteKind.choices, default=NoteKind.SUPERVISION)
    body = models.TextField()
    disclosure_level = models.CharField(
        max_length=40, choices=DisclosureLevel.choices, default=DisclosureLevel.SUPERVISION
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["case", "-created_at"], name="note_case_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} note on {self.case} ({self.created_at:%Y-%m-%d})"


class DecisionKind(models.TextChoices):
    RESIDENCE = "residence", "Residence approval"
    EMPLOYMENT = "employment", "Employment approval"
    TRAVEL = "travel", "Travel permission"
    CONTACT_VICTIM = "contact_victim", "Contact permission (with a victim)"
    CONTACT_MINORS = "contact_minors", "Contact permission (with minors)"
    CHAPERONE = "chaperone", "Chaperone approval"
    TREATMENT_CHANGE = "treatment_change", "Treatment change"
    SUPERVISION_LEVEL = "supervision_level", "Supervision level change"
    SANCTION = "sanction", "Response to a violation"
    POLYGRAPH_FOLLOW_UP = "polygraph_follow_up", "Polygraph follow-up"
    CONDITION_RELEASE = "condition_release", "Release from a condition"
    DISCHARGE = "discharge", "Discharge"
    OTHER = "other", "Other"


class DecisionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    FINAL = "final", "Final"
    WITHDRAWN = "withdrawn", "Withdrawn"


class CaseDecision(models.Model):
    """A decision an officer makes on a case. The harm-prevention worksheet and the
    lifecycle rules are built on top of this record."""

    audit_write = AuditedWrites(
        case_column="case_id",
        values_for=("kind", "status", "disclosure_level", "author_id", "finalised_at"),
    )

    disclosure = Protected(
        case_path="case",
        info_field="status",
        info_map=DECISION_STATUS_INFO,
        default_info=Info.DECISION_DRAFT,
        level_field="disclosure_level",
        author_field="author",
        named_grants="casedecisionuserobjectpermission",
    )

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="decisions")
    kind = models.CharField(max_length=24, choices=DecisionKind.choices)
    status = models.CharField(
        max_length=12, choices=DecisionStatus.choices, default=DecisionStatus.DRAFT
    )
    summary = models.CharField(max_length=200)
    rationale = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="case_decisions"
    )
    disclosure_level = models.CharField(
        max_length=40, choices=DisclosureLevel.choices, default=DisclosureLevel.TEAM
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finalised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["case", "status"], name="decision_case_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="final", finalised_at__isnull=False) | ~Q(status="final"),
                name="final_decision_has_finalised_at",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"


class CaseUserObjectPermission(UserObjectPermissionBase):
    """Exceptions granted on one case to one person: a guest from another team invited
    for this case, or emergency access. Expiry is checked in the query itself."""

    audit_write = AuditedWrites(
        case_column="content_object_id",
        values_for=("user_id", "permission_id", "expires_at", "granted_by_id"),
    )

    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)
    expires_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False
        indexes = [models.Index(fields=["user", "content_object"], name="caseperm_user_case")]


class CaseNoteUserObjectPermission(UserObjectPermissionBase):
    """The named members of a restricted note."""

    audit_write = AuditedWrites(values_for=("user_id", "permission_id", "content_object_id"))

    content_object = models.ForeignKey(CaseNote, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class CaseDecisionUserObjectPermission(UserObjectPermissionBase):
    """The named members of a restricted final decision."""

    audit_write = AuditedWrites(values_for=("user_id", "permission_id", "content_object_id"))

    content_object = models.ForeignKey(CaseDecision, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class EmergencyAccess(models.Model):
    """A supervisor opening a case outside their teams, for a written reason and a
    limited time. Every event it produces is marked in the trail, and another
    supervisor signs it off afterwards."""

    audit_write = AuditedWrites(
        case_column="case_id",
        values_for=("user_id", "started_at", "expires_at", "reviewed_by_id", "reviewed_at"),
    )

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="emergency_accesses")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="emergency_accesses"
    )
    reason = models.TextField()
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="emergency_reviews",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "emergency accesses"
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="emergency_access_has_reason"),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("started_at")),
                name="emergency_access_expires_after_start",
            ),
            models.CheckConstraint(
                condition=Q(reviewed_by__isnull=True) | ~Q(reviewed_by=models.F("user")),
                name="emergency_access_reviewed_by_another",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "expires_at"], name="emergency_user_expires"),
            models.Index(fields=["reviewed_at"], name="emergency_reviewed"),
        ]

    def __str__(self) -> str:
        return f"Emergency access to {self.case} by {self.user}"

    @property
    def is_active(self) -> bool:
        from django.utils import timezone

        return self.started_at <= timezone.now() < self.expires_at
