"""The team's shared glossary: a term one discipline uses, explained for the others.

Everyone signed in reads it; a supervisor of any team adds and edits terms (writes are
captured by the audit trail's triggers, with the supervisor as actor). Terms carry no
case content. Bad input raises ValidationError keyed by field, and nothing is saved.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.text import slugify

from teams.models import Discipline, GlossaryTerm
from teams.selectors import is_supervisor

TERM_MAX = GlossaryTerm._meta.get_field("term").max_length or 80
DEFINITION_MAX = 2000


def anchor_for(words: str) -> str:
    """A term's slug, which is also its anchor on the glossary page."""
    return slugify(words)[:80]


def terms() -> QuerySet[GlossaryTerm]:
    return GlossaryTerm.objects.select_related("updated_by").order_by("term")


def may_edit(user: Any) -> bool:
    """Supervisors of any team keep the glossary."""
    return is_supervisor(user)


def save_term(
    user: Any,
    term: str,
    discipline: str,
    definition: str,
    existing: GlossaryTerm | None = None,
) -> GlossaryTerm:
    """Add a term (`existing` None) or change one; the slug follows the term."""
    if not may_edit(user):
        raise PermissionDenied("Only supervisors keep the glossary.")
    errors: dict[str, list[str]] = {}
    term = " ".join((term or "").split())
    definition = (definition or "").strip()
    slug = anchor_for(term)
    if not term:
        errors["term"] = ["Enter the term."]
    elif len(term) > TERM_MAX:
        errors["term"] = [f"Keep the term to {TERM_MAX} characters."]
    elif not slug:
        errors["term"] = ["Use letters or numbers in the term."]
    else:
        others = GlossaryTerm.objects.all()
        if existing is not None:
            others = others.exclude(pk=existing.pk)
        if others.filter(term__iexact=term).exists() or others.filter(slug=slug).exists():
            errors["term"] = ["This term is already in the glossary: edit that entry instead."]
    if discipline not in Discipline.values:
        errors["discipline"] = ["Choose the discipline that uses the term."]
    if not definition:
        errors["definition"] = ["Enter what the term means."]
    elif len(definition) > DEFINITION_MAX:
        errors["definition"] = [f"Keep the definition to {DEFINITION_MAX} characters."]
    if errors:
        raise ValidationError(errors)
    row = existing or GlossaryTerm()
    row.term, row.slug, row.discipline, row.definition = term, slug, discipline, definition
    row.updated_by = user
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        # Another supervisor saved the same term a moment ago.
        raise ValidationError(
            {"term": ["This term is already in the glossary: edit that entry instead."]}
        ) from None
    return row
