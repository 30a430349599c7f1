from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import UserObjectPermissionBase

from audit.database import AuditedWrites
from casework.models import Case
from teams.disclosure.policy import (
    DisclosureLevel,
    Info,
    ReleaseCategory,
    codename,
    pseudonym_codename,
)
from teams.disclosure.queries import Protected

IDENTITY_CODES = (codename(Info.VICTIM_IDENTITY), pseudonym_codename())


class RelationshipCategory(models.TextChoices):
    FAMILY_MEMBER = "family_member", "Family member"
    INTIMATE_PARTNER = "intimate_partner", "Current or former intimate partner"
    ACQUAINTANCE = "acquaintance", "Acquaintance"
    PERSON_IN_CARE = "person_in_care", "Person in their care or authority"
    STRANGER = "stranger", "Stranger"
    OTHER = "other", "Other"


class Victim(models.Model):
    """A person harmed. One person can be linked to several cases."""

    audit_write = AuditedWrites(victim_column="id", values_for=("relationship_category",))

    disclosure = Protected(case_path="case_links__case", codes=IDENTITY_CODES)

    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    relationship_category = models.CharField(max_length=20, choices=RelationshipCategory.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["last_name", "first_name"], name="victim_name")]
        # Granted per victim to a release's recipient, one per released category.
        permissions = [
            (f"view_released_{value}", f"Read released {label.lower()}")
            for value, label in ReleaseCategory.choices
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class VictimLocation(models.Model):
    """Locating information, kept apart from identity so that no query that serves a
    victim's name can carry an address by accident (DESIGN rule 1)."""

    audit_write = AuditedWrites(victim_column="victim_id")  # no values: locating information

    disclosure = Protected(
        case_path="victim__case_links__case", codes=(codename(Info.VICTIM_LOCATING),)
    )

    victim = models.OneToOneField(Victim, on_delete=models.CASCADE, related_name="location")
    address_line1 = models.CharField("address line 1", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=120, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    employer = models.CharField(max_length=200, blank=True)
    school = models.CharField(max_length=200, blank=True)
    # Where the blind location check compares a decision's place (casework decisions):
    # the victim's protected location and the radius the representative sets around it.
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    protection_radius_m = models.PositiveIntegerField(
        "protection radius (metres)",
        default=1000,
        help_text="A decision's place within this distance is reported as a possible conflict.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(
                    latitude__gte=-90,
                    latitude__lte=90,
                    longitude__gte=-180,
                    longitude__lte=180,
                ),
                name="victim_location_coordinates_valid",
            )
        ]
        verbose_name = "victim locating information"
        verbose_name_plural = "victim locating information"

    def __str__(self) -> str:
        # Never the address itself: this string can end up in logs and admin messages.
        return f"Locating information #{self.pk}"


class CaseVictim(models.Model):
    """Links a victim to a case, with the pseudonym the case uses for them and the
    victim representative who represents them on it."""

    audit_write = AuditedWrites(
        case_column="case_id", victim_column="victim_id", values_for=("representative_id",)
    )

    disclosure = Protected(case_path="case", codes=IDENTITY_CODES)

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="victim_links")
    victim = models.ForeignKey(Victim, on_delete=models.PROTECT, related_name="case_links")
    pseudonym = models.CharField(max_length=60)
    representative = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="represented_victims",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "pseudonym"]
        verbose_name = "victim on a case"
        verbose_name_plural = "victims on cases"
        constraints = [
            models.UniqueConstraint(fields=["case", "victim"], name="victim_once_per_case"),
            models.UniqueConstraint(fields=["case", "pseudonym"], name="pseudonym_unique_per_case"),
        ]
        indexes = [models.Index(fields=["representative"], name="casevictim_rep")]

    def __str__(self) -> str:
        return f"{self.pseudonym} on {self.case}"


class VictimInputKind(models.TextChoices):
    SAFETY_CONCERN = "safety_concern", "A safety concern"
    CONDITION_REQUEST = "condition_request", "A request about conditions"
    DECISION_INPUT = "decision_input", "Input on a pending decision"
    INFORMATION = "information", "Information for the team"


class VictimInput(models.Model):
    """Case-level input from a victim representative."""

    audit_write = AuditedWrites(
        case_column="case_id",
        values_for=("disclosure_level", "author_id", "kind", "decision_id", "acknowledged_by_id"),
    )

    disclosure = Protected(
        case_path="case",
        default_info=Info.VICTIM_INPUT,
        level_field="disclosure_level",
        author_field="author",
        named_grants="victiminputuserobjectpermission",
    )

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="victim_inputs")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="victim_inputs"
    )
    body = models.TextField()
    disclosure_level = models.CharField(
        max_length=40, choices=DisclosureLevel.choices, default=DisclosureLevel.TEAM
    )
    kind = models.CharField(
        max_length=20, choices=VictimInputKind.choices, default=VictimInputKind.INFORMATION
    )
    # Input on a pending decision: what the officer must consider before finalising it.
    decision = models.ForeignKey(
        "casework.CaseDecision",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="victim_inputs",
    )
    # Input on a pending decision is acknowledged by the officer; the representative
    # sees when.
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="acknowledged_victim_inputs",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "victim input"
        indexes = [models.Index(fields=["case", "-created_at"], name="victiminput_case_created")]
        constraints = [
            models.CheckConstraint(condition=~Q(body=""), name="victim_input_has_body"),
        ]

    def __str__(self) -> str:
        return f"Victim input on {self.case} ({self.created_at:%Y-%m-%d})"


class VictimInputUserObjectPermission(UserObjectPermissionBase):
    """The named members of restricted victim input."""

    audit_write = AuditedWrites(values_for=("user_id", "permission_id", "content_object_id"))

    content_object = models.ForeignKey(VictimInput, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class ReleaseStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class ReleaseQuerySet(models.QuerySet["Release"]):
    def active(self) -> ReleaseQuerySet:
        """Signed, not revoked, not past its expiry date: checked at every request."""
        return self.filter(revoked_at__isnull=True, expires_on__gte=timezone.localdate())


class Release(models.Model):
    """A victim's release of information (consent): it lets exactly one recipient see
    exactly the named categories of this victim's information, until it expires or is
    revoked. Visible to victim representatives only."""

    audit_write = AuditedWrites(
        case_column="case_id",
        victim_column="victim_id",
        values_for=("recipient_id", "signed_on", "expires_on", "revoked_at", "revoked_by_id"),
    )

    disclosure = Protected(case_path="case", codes=(codename(Info.RELEASE),))

    victim = models.ForeignKey(Victim, on_delete=models.PROTECT, related_name="releases")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="releases")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="releases_received"
    )
    purpose = models.TextField()
    signed_on = models.DateField()
    expires_on = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="releases_recorded"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="releases_revoked",
    )
    revocation_reason = models.TextField(blank=True)

    objects = ReleaseQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "release of information"
        verbose_name_plural = "releases of information"
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__gte=models.F("signed_on")),
                name="release_expires_after_signing",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | ~Q(revocation_reason=""),
                name="release_revocation_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "victim"], name="release_recipient_victim"),
            models.Index(fields=["expires_on"], name="release_expires"),
        ]

    def __str__(self) -> str:
        return f"Release #{self.pk} to {self.recipient}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_on >= timezone.localdate()

    @property
    def status(self) -> str:
        """Computed at every read, like `active()`: nothing has to run for it to change."""
        if self.revoked_at is not None:
            return ReleaseStatus.REVOKED
        if self.expires_on < timezone.localdate():
            return ReleaseStatus.EXPIRED
        return ReleaseStatus.ACTIVE

    @property
    def status_label(self) -> str:
        return str(ReleaseStatus(self.status).label)

    @property
    def category_list(self) -> list[str]:
        return [item.category for item in self.items.all()]


class ReleaseItem(models.Model):
    """One category of information a release names."""

    audit_write = AuditedWrites(values_for=("release_id", "category"))

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="items")
    category = models.CharField(max_length=20, choices=ReleaseCategory.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["release", "category"], name="release_category_once")
        ]

    def __str__(self) -> str:
        return self.get_category_display()


class VictimUserObjectPermission(UserObjectPermissionBase):
    """A release's grant to its recipient, one row per released category. The release's
    own expiry and revocation are checked in the query as well."""

    audit_write = AuditedWrites(
        victim_column="content_object_id", values_for=("user_id", "permission_id")
    )

    content_object = models.ForeignKey(Victim, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class InputRequest(models.Model):
    """What the victim representatives are asked when a decision that touches a victim
    is proposed: the decision's kind and summary (never its draft worksheet), and by
    when an answer is expected. Answered by victim input linked to the decision."""

    audit_write = AuditedWrites(
        case_column="case_id", values_for=("decision_id", "requested_by_id", "due_at")
    )

    disclosure = Protected(case_path="case", codes=(codename(Info.INPUT_REQUEST),))

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="input_requests")
    decision = models.OneToOneField(
        "casework.CaseDecision", on_delete=models.PROTECT, related_name="input_request"
    )
    kind_label = models.CharField("decision", max_length=100)
    summary = models.CharField(max_length=200)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="input_requests_made"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["case", "due_at"], name="inputrequest_case_due")]

    def __str__(self) -> str:
        return f"Input requested on {self.case} ({self.requested_at:%Y-%m-%d})"


class PlaceConflict(models.Model):
    """A decision's place found near a victim's protected location by the blind check.
    Only victim representatives read these (they are locating information); the
    officer is told only that a possible conflict exists."""

    # Neither the victim nor how the place matched is copied into the trail: the officer
    # reads their own actions there, and a supervisor their teams' events, and either
    # would learn which victim lives near the place they entered (DESIGN rule 1).
    audit_write = AuditedWrites(case_column="case_id", values_for=("decision_id", "checked_by_id"))

    disclosure = Protected(case_path="case", codes=(codename(Info.VICTIM_LOCATING),))

    class MatchedBy(models.TextChoices):
        POSTAL_CODE = "postal_code", "Same postal code"
        RADIUS = "radius", "Within the protection radius"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="place_conflicts")
    decision = models.ForeignKey(
        "casework.CaseDecision", on_delete=models.PROTECT, related_name="place_conflicts"
    )
    victim = models.ForeignKey(Victim, on_delete=models.PROTECT, related_name="place_conflicts")
    matched_by = models.CharField(max_length=12, choices=MatchedBy.choices)
    distance_m = models.PositiveIntegerField(null=True, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(fields=["case", "-checked_at"], name="placeconflict_case")]

    def __str__(self) -> str:
        # Never the place or the location: this string can reach logs and admin pages.
        return f"Possible place conflict #{self.pk} on {self.case}"


# --- Issue 6: victim services ---------------------------------------------------------


class ContactMethod(models.TextChoices):
    THROUGH_REPRESENTATIVE = "representative", "Only through the victim representative"
    PHONE = "phone", "Phone"
    EMAIL = "email", "E-mail"
    MAIL = "mail", "Letter"


class VictimPreferences(models.Model):
    """How a victim wants to be reached, whether they want contact at all, and the
    safety concerns the representative keeps: victim services' own record, read by the
    case's victim representatives only (it is as sensitive as locating information)."""

    audit_write = AuditedWrites(victim_column="victim_id", values_for=("wants_contact",))

    disclosure = Protected(
        case_path="victim__case_links__case", codes=(codename(Info.VICTIM_LOCATING),)
    )

    victim = models.OneToOneField(Victim, on_delete=models.CASCADE, related_name="preferences")
    wants_contact = models.BooleanField(
        "wants to be contacted",
        default=True,
        help_text="If not, nobody contacts the victim, not even with notifications.",
    )
    preferred_method = models.CharField(
        "preferred way to be contacted",
        max_length=20,
        choices=ContactMethod.choices,
        default=ContactMethod.THROUGH_REPRESENTATIVE,
    )
    preferred_times = models.CharField("best times to contact", max_length=200, blank=True)
    safety_concerns = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "victim's contact preferences"
        verbose_name_plural = "victims' contact preferences"

    def __str__(self) -> str:
        return f"Contact preferences #{self.pk}"


class OrderKind(models.TextChoices):
    PROTECTIVE = "protective", "Protective order"
    NO_CONTACT = "no_contact", "No-contact order"
    RESTRAINING = "restraining", "Restraining order"


class ProtectiveOrder(models.Model):
    """A court order protecting a victim, linked to the case condition that enforces it.
    Seen by whoever sees the victim on the case (treatment and polygraph under the
    pseudonym): officers enforce these, so they must know them."""

    audit_write = AuditedWrites(
        case_column="case_id",
        victim_column="victim_id",
        values_for=("kind", "issued_on", "expires_on", "related_condition"),
    )

    disclosure = Protected(case_path="case", codes=IDENTITY_CODES)

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="protective_orders")
    victim = models.ForeignKey(Victim, on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(max_length=20, choices=OrderKind.choices)
    court = models.CharField(max_length=200, blank=True)
    order_number = models.CharField(max_length=60, blank=True)
    issued_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    terms = models.TextField(help_text="What the order forbids, without any address.")
    related_condition = models.CharField(
        "condition of supervision",
        max_length=300,
        blank=True,
        help_text="The case condition that enforces this order.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=models.F("issued_on")),
                name="order_expires_after_issue",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.case}"


class RequestTopic(models.TextChoices):
    SUPERVISION_STATUS = "supervision_status", "Supervision status"
    COMPLIANCE = "compliance", "Compliance with conditions"
    RESIDENCE_AREA = "residence_area", "Residence area"
    END_OF_SUPERVISION = "end_of_supervision", "End of supervision"
    HEARING_DATES = "hearing_dates", "Hearing dates"
    OTHER = "other", "Something else"


class InformationRequest(models.Model):
    """A victim's question about the case, asked through the representative: answered
    by the assigned officer with what may be disclosed, then relayed to the victim."""

    audit_write = AuditedWrites(
        case_column="case_id",
        victim_column="victim_id",
        values_for=(
            "topic",
            "assigned_officer_id",
            "due_on",
            "answered_by_id",
            "answered_at",
            "relayed_by_id",
            "relayed_at",
            "officer_reminded_at",
            "supervisor_reminded_at",
        ),
    )

    disclosure = Protected(case_path="case", codes=(codename(Info.INFORMATION_REQUEST),))

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="information_requests")
    victim = models.ForeignKey(
        Victim, on_delete=models.PROTECT, related_name="information_requests"
    )
    topic = models.CharField(max_length=30, choices=RequestTopic.choices)
    question = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="information_requests_made"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    assigned_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="information_requests_assigned",
    )
    due_on = models.DateField()
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    relayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    relayed_at = models.DateTimeField(null=True, blank=True)
    relay_note = models.TextField("how it was relayed", blank=True)
    officer_reminded_at = models.DateTimeField(null=True, blank=True)
    supervisor_reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(fields=["case", "due_on"], name="inforequest_case_due"),
            models.Index(
                fields=["due_on"],
                name="inforequest_open_due",
                condition=Q(answered_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(question=""), name="inforequest_has_question"),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True) | ~Q(answer=""),
                name="inforequest_answer_has_text",
            ),
            models.CheckConstraint(
                condition=Q(relayed_at__isnull=True) | Q(answered_at__isnull=False),
                name="inforequest_relayed_after_answer",
            ),
        ]

    def __str__(self) -> str:
        return f"Information request on {self.case} ({self.get_topic_display()})"


class NotificationEvent(models.TextChoices):
    ABSCONDING_OR_WARRANT = "absconding_warrant", "Absconding or a warrant"
    VIOLATION_FINDING = "violation_finding", "A violation finding"
    RESIDENCE_AREA_CHANGE = "residence_area", "A change of residence area"
    SUPERVISION_LEVEL_CHANGE = "supervision_level", "A change of supervision level"
    END_OF_SUPERVISION = "end_of_supervision", "The end of supervision"
    HEARING_DATE = "hearing_date", "A hearing date"
    END_OF_TREATMENT = "end_of_treatment", "The end of treatment"


class Delivery(models.TextChoices):
    RELAY = "relay", "The representative relays it"
    EMAIL = "email", "By e-mail to the victim"


class NotificationRegistration(models.Model):
    """A victim's wish to hear of an event on a case. Confidential: victim
    representatives only (DESIGN rule 2)."""

    audit_write = AuditedWrites(
        case_column="case_id", victim_column="victim_id", values_for=("event", "delivery", "active")
    )

    disclosure = Protected(case_path="case", codes=(codename(Info.NOTIFICATION_REGISTRATION),))

    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="notification_registrations"
    )
    victim = models.ForeignKey(Victim, on_delete=models.PROTECT, related_name="registrations")
    event = models.CharField(max_length=30, choices=NotificationEvent.choices)
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.RELAY)
    email = models.EmailField(blank=True, help_text="Needed when the victim chose e-mail.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "victim", "event"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "victim", "event"], name="registration_once_per_event"
            ),
            models.CheckConstraint(
                condition=~Q(delivery="email") | ~Q(email=""), name="registration_email_has_address"
            ),
        ]

    def __str__(self) -> str:
        return f"Registration #{self.pk}"


class VictimNotification(models.Model):
    """An event a registered victim is to hear of: relayed by the representative or
    e-mailed. Created once per event and victim (`event_key`), however often the task
    that finds events runs."""

    audit_write = AuditedWrites(
        case_column="case_id",
        victim_column="victim_id",
        values_for=("event", "delivery", "emailed_at", "relayed_at", "relayed_by_id"),
    )

    disclosure = Protected(case_path="case", codes=(codename(Info.NOTIFICATION_REGISTRATION),))

    registration = models.ForeignKey(
        NotificationRegistration, on_delete=models.PROTECT, related_name="notifications"
    )
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="victim_notifications")
    victim = models.ForeignKey(Victim, on_delete=models.PROTECT, related_name="notifications")
    event = models.CharField(max_length=30, choices=NotificationEvent.choices)
    # What happened, in words that may be given to the victim (no other person's data).
    message = models.TextField()
    # Identifies the event in casework: "decision:<id>", "case:<id>:status:<value>", ...
    event_key = models.CharField(max_length=120)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    delivery = models.CharField(max_length=10, choices=Delivery.choices)
    emailed_at = models.DateTimeField(null=True, blank=True)
    relayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    relayed_at = models.DateTimeField(null=True, blank=True)
    relay_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["victim", "event_key"], name="victim_notification_once_per_event"
            )
        ]
        indexes = [
            models.Index(
                fields=["case", "-occurred_at"],
                name="victimnotif_to_relay",
                condition=Q(relayed_at__isnull=True, emailed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"Victim notification #{self.pk}"


class DisclosureContext(models.TextChoices):
    TREATMENT_SESSION = "treatment_session", "In a treatment session"
    POLYGRAPH_EXAM = "polygraph_exam", "In a polygraph examination"
    OTHER = "other", "Elsewhere"


class NewVictimReport(models.Model):
    """A treatment provider or polygraph examiner reporting that a possible new victim
    was disclosed. Read by the case's supervisors and victim representatives only; the
    reporter learns only that it was received."""

    audit_write = AuditedWrites(
        case_column="case_id",
        values_for=("reporter_id", "context", "acknowledged_by_id", "acknowledged_at"),
    )

    disclosure = Protected(case_path="case", codes=(codename(Info.NEW_VICTIM_REPORT),))

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="new_victim_reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="new_victim_reports"
    )
    context = models.CharField(
        "where it was disclosed", max_length=20, choices=DisclosureContext.choices
    )
    disclosed_on = models.DateField()
    description = models.TextField(
        help_text="What was disclosed about the possible victim (no more than is needed)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(description=""), name="newvictim_has_description")
        ]

    def __str__(self) -> str:
        return f"New-victim report #{self.pk} on {self.case}"
