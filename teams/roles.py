"""The roles a person can hold on a multidisciplinary team."""

from django.db import models


class Role(models.TextChoices):
    OFFICER = "officer", "Probation officer"
    SUPERVISOR = "supervisor", "Supervisor"
    VICTIM_REP = "victim_rep", "Victim representative"
    TREATMENT = "treatment", "Treatment provider"
    POLYGRAPH = "polygraph", "Polygraph examiner"
