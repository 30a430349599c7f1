"""The roles a person can hold on a multidisciplinary team."""

from django.db import models


class Role(models.TextChoices):
    OFFICER = "officer", "Probation officer"
    SUPERVISOR = "supervisor", "Supervisor"
    VICTIM_REP = "victim_rep", "Victim representative"
    TREATMENT = "treatment", "Treatment provider"
    POLYGRAPH = "polygraph", "Polygraph examiner"


# What each role does on the team, for its role card (/roles/). What a role may see and
# disclose is not written here: the card generates it from teams.disclosure.policy.
ROLE_DESCRIPTIONS: dict[str, str] = {
    Role.OFFICER: (
        "Supervises the person under supervision in the community: keeps the case, "
        "records supervision notes, proposes and finalises case decisions, enforces the "
        "conditions (protective and no-contact orders among them), and answers victims' "
        "questions with what may be disclosed."
    ),
    Role.SUPERVISOR: (
        "Leads the team: reviews and approves decisions that raise community or victim "
        "danger or relax a condition, acknowledges duty-to-warn reports, reviews the "
        "audit trail of the team's cases, follows up late answers to victims, and keeps "
        "the glossary."
    ),
    Role.VICTIM_REP: (
        "Embedded victim representative: speaks for the victims' safety and interests on "
        "the team, gives case-level input (before decisions that touch a victim are "
        "final), keeps victims' contact details and releases of information, and passes "
        "on to victims the information they ask for."
    ),
    Role.TREATMENT: (
        "Provides sex offense specific treatment: records treatment progress, shares "
        "what the team needs for safety, and reports a possible new victim disclosed in "
        "treatment. Works with a pseudonym for each victim, never their identity."
    ),
    Role.POLYGRAPH: (
        "Conducts polygraph examinations (disclosure, maintenance and specific-issue): "
        "records results for the supervision team and reports a possible new victim "
        "disclosed in an examination. Works with a pseudonym for each victim, never "
        "their identity."
    ),
}
