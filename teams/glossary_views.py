"""The glossary pages: everyone signed in reads it; supervisors add and edit terms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorList
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from audit.services import record_list, record_read
from teams import glossary
from teams.models import Discipline, GlossaryTerm


class _FieldErrors(ErrorList):
    def __init__(self, initlist: Any = None, error_class: str | None = None, **kw: Any) -> None:
        super().__init__(initlist, error_class=error_class or "field-error", **kw)


class GlossaryTermForm(forms.Form):
    """The shape of the input; teams.glossary checks the rest and names the field."""

    term = forms.CharField(
        required=False,
        max_length=glossary.TERM_MAX,
        widget=forms.TextInput(attrs={"required": True}),
    )
    # Checked by the service, so that a bad choice is reported with every other problem.
    discipline = forms.CharField(
        required=False,
        label="Discipline that uses it",
        widget=forms.Select(choices=[("", "Choose…"), *Discipline.choices]),
    )
    definition = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "required": True}),
        help_text="Plain words, for colleagues from the other disciplines. No case content.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("error_class", _FieldErrors)
        super().__init__(*args, **kwargs)

    def add_service_errors(self, error: ValidationError) -> None:
        for field, found in error.message_dict.items():
            for message in found:
                self.add_error(field if field in self.fields else None, message)


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "victims/forbidden.html",
        {"message": "Supervisors keep the glossary. Ask one to add or change a term."},
        status=403,
    )


@login_required
@require_GET
def glossary_page(request: HttpRequest) -> HttpResponse:
    rows = list(glossary.terms())
    record_list(request.user, GlossaryTerm, [row.pk for row in rows])
    return render(
        request,
        "teams/glossary.html",
        {"terms": rows, "can_edit": glossary.may_edit(request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def term_create(request: HttpRequest) -> HttpResponse:
    if not glossary.may_edit(request.user):
        return _forbidden(request)
    return _edit(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def term_edit(request: HttpRequest, pk: int) -> HttpResponse:
    if not glossary.may_edit(request.user):
        return _forbidden(request)
    return _edit(request, get_object_or_404(GlossaryTerm, pk=pk))


def _edit(request: HttpRequest, existing: GlossaryTerm | None) -> HttpResponse:
    """The form, for a supervisor (the callers have checked)."""
    initial = (
        {
            "term": existing.term,
            "discipline": existing.discipline,
            "definition": existing.definition,
        }
        if existing is not None
        else {}
    )
    form = GlossaryTermForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = glossary.save_term(
                request.user, data["term"], data["discipline"], data["definition"], existing
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, f"“{saved.term}” was saved in the glossary.")
            return redirect(reverse("glossary") + f"#{saved.slug}")
    if request.method != "POST" and existing is not None:
        record_read(request.user, existing, case_id=None)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "teams/glossary_form.html",
        {"form": form, "existing": existing},
        status=status,
    )
