"""Duty-to-warn pages: filing a report from the case page, the report with its timeline
and the acknowledgement form (for those the policy lets read reports), and the receipt
for a reporter who may not read reports (treatment, polygraph). Reads go through the
disclosure policy (a hidden report answers 404 and is recorded as denied); writes go
through casework.duty_to_warn."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from audit.services import record_read
from casework import duty_to_warn, selectors
from casework.models import AtRisk, Case, DutyToWarn, Urgency
from teams.disclosure import case_access, get_visible_or_404, visible_case_ids
from teams.disclosure.queries import record_if_hidden


class DutyToWarnForm(forms.Form):
    at_risk = forms.ChoiceField(
        label="Who is at risk",
        choices=AtRisk.choices,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose who is at risk from the list."},
        help_text="A category only.",
    )
    threat = forms.CharField(
        label="The threat",
        widget=forms.Textarea(attrs={"rows": 5}),
        strip=True,
        max_length=duty_to_warn.THREAT_MAX_LENGTH,
        help_text="What may happen, and when; what you heard or saw, and from whom. Do not "
        "write where a victim lives, works or studies: the victim representative has that.",
        error_messages={"required": "Describe the threat: what may happen, to whom, and when."},
    )
    urgency = forms.ChoiceField(
        label="How urgent",
        choices=Urgency.choices,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose how urgent it is from the list."},
    )


class AcknowledgeForm(forms.Form):
    action_taken = forms.CharField(
        label="Action taken",
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=True,
        max_length=duty_to_warn.ACTION_MAX_LENGTH,
        help_text="What you did or are doing now: who was warned, who was called, what "
        "was arranged. Acknowledging stops the escalation.",
        error_messages={"required": "Say what action you took, or are taking, on this report."},
    )


def _apply(form: forms.Form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        form.add_error(None if field == "__all__" or field not in form.fields else field, problems)


@login_required
@require_http_methods(["GET", "POST"])
def file_report(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_visible_or_404(selectors.cases_for(request.user), request.user, pk=pk)
    access = case_access(request.user, case)
    if not duty_to_warn.may_file(access):
        raise PermissionDenied("Your role on this case does not file duty-to-warn reports.")
    form = DutyToWarnForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            report = duty_to_warn.file(
                request.user,
                case,
                form.cleaned_data["at_risk"],
                form.cleaned_data["threat"],
                form.cleaned_data["urgency"],
            )
        except ValidationError as error:
            _apply(form, error)
        else:
            if duty_to_warn.may_read(access):
                alerted = duty_to_warn.alerted_count(report)
                messages.warning(
                    request,
                    f"Duty-to-warn report filed; {alerted} "
                    f"{'person was' if alerted == 1 else 'people were'} alerted.",
                )
                return redirect("duty-to-warn-detail", pk=report.pk)
            return redirect("duty-to-warn-receipt", pk=report.pk)
    return render(
        request,
        "casework/duty_to_warn_form.html",
        {"case": case, "form": form},
        status=400 if request.method == "POST" else 200,
    )


def _report_or_404(request: HttpRequest, pk: int) -> DutyToWarn:
    reports = DutyToWarn.objects.select_related(
        "case", "case__supervisee", "reporter", "acknowledged_by"
    )
    return get_visible_or_404(reports, request.user, pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The report, its timeline, and (POST) its acknowledgement."""
    report = _report_or_404(request, pk)
    access = case_access(request.user, report.case)
    can_acknowledge = duty_to_warn.may_acknowledge(access, report)
    form = AcknowledgeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not duty_to_warn.may_file(access):
            raise PermissionDenied("Your role on this case does not acknowledge reports.")
        if report.reporter_id == request.user.pk:
            raise PermissionDenied(
                "Someone other than the person who filed the report must acknowledge it."
            )
        if form.is_valid():
            try:
                duty_to_warn.acknowledge(request.user, report, form.cleaned_data["action_taken"])
            except ValidationError as error:
                _apply(form, error)
            else:
                messages.success(request, "Acknowledged. The escalation has stopped.")
                return redirect("duty-to-warn-detail", pk=report.pk)
        status = 400
    record_read(request.user, report, case_id=report.case_id)
    duty_to_warn.mark_seen(request.user, report)
    return render(
        request,
        "casework/duty_to_warn_detail.html",
        {
            "report": report,
            "case": report.case,
            "timeline": duty_to_warn.timeline(report),
            "form": form if can_acknowledge and report.acknowledged_at is None else None,
            "is_reporter": report.reporter_id == request.user.pk,
        },
        status=status,
    )


@login_required
def report_receipt(request: HttpRequest, pk: int) -> HttpResponse:
    """What the person who filed a report learns of it: that it was received, when, and
    that the alerts went out. Nothing of its content, for those who may not read it."""
    report = (
        DutyToWarn.objects.filter(
            pk=pk, reporter_id=request.user.pk, case_id__in=visible_case_ids(request.user)
        )
        .only("pk", "case_id", "reporter_id", "created_at")
        .first()
    )
    if report is None:
        record_if_hidden(DutyToWarn, request.user, pk=pk)
        raise Http404("No duty-to-warn report matches the given query.")
    record_read(request.user, report, case_id=report.case_id)
    return render(
        request,
        "casework/duty_to_warn_receipt.html",
        {
            "report": report,
            "received_at": timezone.localtime(report.created_at),
            "alerted": duty_to_warn.alerted_count(report),
            "case_url": reverse("case-detail", args=[report.case_id]),
        },
    )


def case_page_context(case: Case, access: Any) -> dict[str, Any]:
    """What the case page shows of duty to warn: the link to file one (anyone the policy
    lets file), and the case's reports (those who may read them). One query, for readers."""
    reports: list[DutyToWarn] = []
    if duty_to_warn.may_read(access):
        reports = list(
            DutyToWarn.objects.filter(case=case)
            .select_related("reporter", "acknowledged_by")
            .order_by("-created_at", "-id")
        )
    return {
        "can_file_duty_to_warn": duty_to_warn.may_file(access),
        "duty_to_warn_reports": reports,
        "may_read_duty_to_warn": duty_to_warn.may_read(access),
    }
