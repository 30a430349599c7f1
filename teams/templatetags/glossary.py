"""`{% term "duty to warn" %}`: the words as a link to their entry in the glossary.

No query: the link is built from the words (a term's anchor is its slug, which
teams.glossary derives from the term the same way), so a page may use as many terms as
it likes without a cost per term. A term not yet in the glossary links to the glossary.
"""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from teams.glossary import anchor_for

register = template.Library()


@register.simple_tag
def term(words: str, text: str = "") -> SafeString:
    """Link `words` (or `text`, shown instead, e.g. capitalised) to the glossary."""
    return format_html(
        '<a class="term" href="{}#{}" title="What this means: see the glossary">{}</a>',
        reverse("glossary"),
        anchor_for(words),
        text or words,
    )
