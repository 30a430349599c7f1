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
            "next_hearing_on",
            "treatment_ended_on",
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
    # Events victims can register for (victims.NotificationRegistration) besides status
    # changes and final decisions: a hearing being set, treatment ending.
    next_hearing_on = models.DateField("next hearing", null=True, blank=True)
    treatment_ended_on = models.DateField("treatment ended", null=True, blank=True)
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
            # A team's case ids from the index alone (an index-only scan): the supervisor's
            # audit scope reads the ids of all their teams' cases in every review query.
            models.Index(fields=["team", "id"], name="case_team_id"),
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


class ImpactRating(models.IntegerChoices):
    """The worksheet's small fixed scale: how a decision is expected to affect an interest."""

    SERIOUS_HARM = -2, "Serious harm"
    SOME_HARM = -1, "Some harm"
    NEUTRAL = 0, "No real effect"
    SOME_BENEFIT = 1, "Some benefit"
    CLEAR_BENEFIT = 2, "Clear benefit"


class Interest(models.TextChoices):
    """The three interests a harm-prevention worksheet weighs (DESIGN.md section 1)."""

    SUPERVISEE = "supervisee", "The person under supervision"
    VICTIMS = "victims", "The victims"
    COMMUNITY = "community", "The community"


class PlaceCheck(models.TextChoices):
    """What the blind location check tells the officer, and nothing more."""

    NOT_CHECKED = "", "Not checked"
    NO_CONFLICT = "no_conflict", "No conflict found"
    POSSIBLE_CONFLICT = (
        "possible_conflict",
        "Possible conflict with a protected location: consult the victim representative",
    )


class ProceedReason(models.TextChoices):
    """Why an officer finalises a decision that touches a victim without the victim
    representative's input (DESIGN.md rule 5)."""

    NONE = "", "Not recorded"
    URGENT_SAFETY = "urgent_safety", "Urgent safety action"
    VICTIM_DECLINED = "victim_declined", "The victim declined to be involved"
    NO_ANSWER = "no_answer", "The representative did not answer in time"


class CaseDecision(models.Model):
    """A decision an officer makes on a case, weighed on a harm-prevention worksheet.
    The lifecycle and its rules live in casework.decisions; which kinds need approval,
    touch victims or concern a place is the table in casework.decision_rules."""

    audit_write = AuditedWrites(
        case_column="case_id",
        values_for=(
            "kind",
            "status",
            "disclosure_level",
            "author_id",
            "finalised_at",
            "community_danger",
            "victim_danger",
            "relaxes_condition",
            "supersedes_id",
            "approved_by_id",
            "returned_by_id",
            "proceed_reason",
            "place_check",
            "supervisee_impact",
            "victims_impact",
            "community_impact",
        ),
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

    # The harm-prevention worksheet: for each interest, benefits, costs or risks, impact.
    supervisee_benefits = models.TextField("expected benefits", blank=True)
    supervisee_risks = models.TextField("costs or risks", blank=True)
    supervisee_impact = models.SmallIntegerField(
        "impact", choices=ImpactRating.choices, null=True, blank=True
    )
    victims_benefits = models.TextField("expected benefits", blank=True)
    victims_risks = models.TextField("costs or risks", blank=True)
    victims_impact = models.SmallIntegerField(
        "impact", choices=ImpactRating.choices, null=True, blank=True
    )
    community_benefits = models.TextField("expected benefits", blank=True)
    community_risks = models.TextField("costs or risks", blank=True)
    community_impact = models.SmallIntegerField(
        "impact", choices=ImpactRating.choices, null=True, blank=True
    )
    community_danger = models.BooleanField(
        "raises community danger",
        default=False,
        help_text="Danger takes precedence: a supervisor must approve.",
    )
    victim_danger = models.BooleanField(
        "raises victim danger",
        default=False,
        help_text="Danger takes precedence: a supervisor must approve, and the victim "
        "representative must give input.",
    )
    relaxes_condition = models.BooleanField(
        "relaxes a condition of supervision",
        default=False,
        help_text="A decision that relaxes a condition needs a supervisor's approval.",
    )

    # The place a residence, employment or travel decision concerns, entered by the
    # officer and checked blind against the victims' protected locations.
    place_description = models.CharField("place", max_length=200, blank=True)
    place_postal_code = models.CharField("postal code", max_length=20, blank=True)
    place_latitude = models.DecimalField(
        "latitude", max_digits=9, decimal_places=6, null=True, blank=True
    )
    place_longitude = models.DecimalField(
        "longitude", max_digits=9, decimal_places=6, null=True, blank=True
    )
    place_check = models.CharField(
        max_length=20, choices=PlaceCheck.choices, default=PlaceCheck.NOT_CHECKED, blank=True
    )
    place_checked_at = models.DateTimeField(null=True, blank=True)

    # Lifecycle.
    supersedes = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
        help_text="The final decision this one replaces.",
    )
    proposed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approved_decisions",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="returned_decisions",
    )
    returned_at = models.DateTimeField(null=True, blank=True)
    return_comment = models.TextField("supervisor's comments", blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField("why it was withdrawn", blank=True)
    proceed_reason = models.CharField(
        "proceeding without the victim representative's input",
        max_length=20,
        choices=ProceedReason.choices,
        default=ProceedReason.NONE,
        blank=True,
    )
    proceed_explanation = models.TextField("explanation", blank=True)
    # The review meeting item at which the decision was taken, when it was (issue 7).
    agenda_item = models.ForeignKey(
        "casework.AgendaItem",
        on_delete=models.SET_NULL,
        related_name="decisions",
        null=True,
        blank=True,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["case", "status"], name="decision_case_status"),
            models.Index(
                fields=["status", "proposed_at"],
                name="decision_awaiting",
                condition=Q(status="proposed"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="final", finalised_at__isnull=False) | ~Q(status="final"),
                name="final_decision_has_finalised_at",
            ),
            models.CheckConstraint(
                condition=~Q(status="withdrawn") | ~Q(withdrawn_reason=""),
                name="withdrawn_decision_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(supersedes=models.F("pk")), name="decision_not_superseding_itself"
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{interest}_impact__isnull": True})
                    | Q(**{f"{interest}_impact__gte": -2, f"{interest}_impact__lte": 2}),
                    name=f"decision_{interest}_impact_on_scale",
                )
                for interest in Interest.values
            ),
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


class AtRisk(models.TextChoices):
    VICTIM = "victim", "A known victim"
    CHILD = "child", "A child or children"
    IDENTIFIED_PERSON = "identified_person", "Another identified person"
    COMMUNITY = "community", "The community or an unidentified person"
    STAFF = "staff", "Staff or a team member"
    OTHER = "other", "Someone else"


class Urgency(models.TextChoices):
    IMMEDIATE = "immediate", "Immediate: danger now"
    HOURS = "hours", "Within hours"
    DAY = "day", "Within a day"


class DutyToWarn(models.Model):
    """A report that someone is at risk from the person under supervision. It alerts
    the case's supervisors and victim representatives at once and escalates until
    someone acknowledges it (casework.duty_to_warn)."""

    audit_write = AuditedWrites(
        case_column="case_id",
        values_for=(
            "reporter_id",
            "at_risk",
            "urgency",
            "acknowledged_by_id",
            "acknowledged_at",
            "escalation_round",
            "next_escalation_at",
        ),
    )

    # Read by the roles the policy lets read duty-to-warn reports; the reporter of
    # another role learns only that it was received.
    disclosure = Protected(case_path="case", codes=(codename(Info.DUTY_TO_WARN),))

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="duty_to_warn_reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="duty_to_warn_reports"
    )
    at_risk = models.CharField("who is at risk", max_length=20, choices=AtRisk.choices)
    threat = models.TextField("the threat")
    urgency = models.CharField(max_length=12, choices=Urgency.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="acknowledged_duty_to_warn_reports",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    action_taken = models.TextField("action taken", blank=True)
    # 0: the first alerts went out; n: the nth escalation to every supervisor of the team.
    escalation_round = models.PositiveSmallIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "duty-to-warn report"
        indexes = [
            models.Index(fields=["case", "-created_at"], name="dtw_case_created"),
            models.Index(
                fields=["next_escalation_at"],
                name="dtw_due_escalation",
                condition=Q(acknowledged_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(threat=""), name="dtw_has_threat"),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | ~Q(action_taken=""),
                name="dtw_acknowledgement_records_action",
            ),
        ]

    def __str__(self) -> str:
        return f"Duty-to-warn report on {self.case} ({self.created_at:%Y-%m-%d %H:%M})"


class DutyToWarnAlert(models.Model):
    """One person told about a report, in one round: the report's timeline, and the
    key that makes a repeated escalation run alert nobody twice."""

    audit_write = AuditedWrites(values_for=("report_id", "recipient_id", "round", "reason"))

    class Reason(models.TextChoices):
        FILED = "filed", "Filed: the case's supervisors and victim representatives"
        ESCALATION = "escalation", "Not acknowledged in time: every supervisor of the team"

    report = models.ForeignKey(DutyToWarn, on_delete=models.CASCADE, related_name="alerts")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="duty_to_warn_alerts"
    )
    round = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=12, choices=Reason.choices)
    alerted_at = models.DateTimeField(auto_now_add=True)
    emailed = models.BooleanField(default=False)

    class Meta:
        ordering = ["alerted_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "recipient", "round"], name="dtw_alert_once_per_round"
            )
        ]

    def __str__(self) -> str:
        return f"Alert to {self.recipient} on {self.report} (round {self.round})"


# Review meetings' case records live in their own module (issue 7).
from casework.meeting_models import (  # noqa: E402, F401
    ActionItem,
    AgendaItem,
    AgendaReason,
    MeetingGuestCase,
    MinuteEntry,
)
