"""The case summary form: the officer changes status, dates and conditions. A case the
user may not see answers 404 (recorded as denied); a reader who may not write it, 403;
bad input re-renders the form with field errors (400), keeping what was typed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from audit.services import record_read
from casework import case_updates
from casework.models import Case, CaseStatus
from teams.disclosure.queries import case_or_404


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _optional_date(label: str, help_text: str = "") -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=DateInput(),
        help_text=help_text,
        error_messages={"invalid": "Enter a date, or leave it empty."},
    )


class CaseSummaryForm(forms.Form):
    status = forms.ChoiceField(
        label="Status",
        choices=CaseStatus.choices,
        help_text="Absconded, warrant issued and closed are told to victims registered "
        "for those events.",
        error_messages={"invalid_choice": "Choose a status from the list."},
    )
    supervision_end = _optional_date("Supervision ends")
    next_hearing_on = _optional_date(
        "Next hearing", "Victims registered for hearing dates are told when it is set or changed."
    )
    treatment_ended_on = _optional_date(
        "Treatment ended", "Victims registered for the end of treatment are told when this is set."
    )
    conditions = forms.CharField(
        label="Conditions of supervision",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One condition per line.",
    )


def _initial(case: Case) -> dict[str, Any]:
    return {
        "status": case.status,
        "supervision_end": case.supervision_end,
        "next_hearing_on": case.next_hearing_on,
        "treatment_ended_on": case.treatment_ended_on,
        "conditions": "\n".join(case.condition_list),
    }


@login_required
@require_http_methods(["GET", "POST"])
def case_edit(request: HttpRequest, pk: int) -> HttpResponse:
    cases = Case.objects.select_related("supervisee")
    case, access = case_or_404(cases, request.user, pk=pk)
    if not case_updates.may_update(access):
        raise PermissionDenied("Only the case's officers update its summary.")
    posted = request.method == "POST"
    form = CaseSummaryForm(request.POST if posted else None, initial=_initial(case))
    if posted and form.is_valid():
        try:
            case_updates.update_summary(request.user, case, form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The case summary was updated.")
            return redirect("case-detail", pk=case.pk)
    if not posted:
        record_read(request.user, case, case_id=case.pk)
    return render(
        request,
        "casework/case_edit.html",
        {"case": case, "form": form},
        status=400 if posted else 200,
    )
