from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from casework.models import Case
from teams.disclosure import DisclosureLevel


class RelationshipCategory(models.TextChoices):
    FAMILY_MEMBER = "family_member", "Family member"
    INTIMATE_PARTNER = "intimate_partner", "Current or former intimate partner"
    ACQUAINTANCE = "acquaintance", "Acquaintance"
    PERSON_IN_CARE = "person_in_care", "Person in their care or authority"
    STRANGER = "stranger", "Stranger"
    OTHER = "other", "Other"


class Victim(models.Model):
    """A person harmed. One person can be linked to several cases."""

    disclosure_case_path = "case_links__case"
    disclosure_case_path_is_many = True

    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    relationship_category = models.CharField(max_length=20, choices=RelationshipCategory.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["last_name", "first_name"], name="victim_name")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class VictimLocation(models.Model):
    """Locating information, kept apart from identity so that no query that serves a
    victim's name can carry an address by accident (DESIGN rule 1)."""

    disclosure_case_path = "victim__case_links__case"
    disclosure_case_path_is_many = True
    disclosure_locating = True

    victim = models.OneToOneField(Victim, on_delete=models.CASCADE, related_name="location")
    address_line1 = models.CharField("address line 1", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=120, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    employer = models.CharField(max_length=200, blank=True)
    school = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "victim locating information"
        verbose_name_plural = "victim locating information"

    def __str__(self) -> str:
        # Never the address itself: this string can end up in logs and admin messages.
        return f"Locating information #{self.pk}"


class CaseVictim(models.Model):
    """Links a victim to a case, with the pseudonym the case uses for them and the
    victim representative who represents them on it."""

    disclosure_case_path = "case"

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


class VictimInput(models.Model):
    """Case-level input from a victim representative."""

    disclosure_case_path = "case"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="victim_inputs")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="victim_inputs"
    )
    body = models.TextField()
    disclosure_level = models.CharField(
        max_length=40, choices=DisclosureLevel.choices, default=DisclosureLevel.TEAM
    )
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
