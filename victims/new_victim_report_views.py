"""New-victim report pages: filing from the case page (treatment, polygraph: whoever the
policy lets file), the report and its acknowledgement (supervisors and victim
representatives), and the receipt that is all the reporter gets back. A report the user
may not read answers 404 and the attempt is recorded as denied; writes go through
victims.new_victim_reports."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from audit.services import record_list, record_read
from casework import selectors
from teams.disclosure import case_access, get_visible_or_404, visible_case_ids
from teams.disclosure.queries import record_if_hidden
from victims import new_victim_reports
from victims.forms import DateInput, ServiceForm
from victims.models import DisclosureContext, NewVictimReport


class NewVictimReportForm(ServiceForm):
    required_fields = ("context", "disclosed_on", "description")

    context = forms.ChoiceField(
        required=False,
        choices=[("", "Choose where"), *DisclosureContext.choices],
        label="Where it was disclosed",
    )
    disclosed_on = forms.DateField(
        required=False,
        widget=DateInput(),
        label="Date it was disclosed",
        error_messages={"invalid": "Enter the date it was disclosed."},
    )
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        label="What was disclosed",
        help_text="What was said about the possible victim, no more than is needed. The "
        "supervisors and victim representatives read it; you will not see it again.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["disclosed_on"].initial = today
        self.fields["disclosed_on"].widget.attrs["max"] = today.isoformat()


@login_required
@require_http_methods(["GET", "POST"])
def file_report(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_visible_or_404(selectors.cases_for(request.user), request.user, pk=pk)
    access = case_access(request.user, case)
    if not new_victim_reports.may_file(access):
        raise PermissionDenied("Your role on this case does not report new victims.")
    posted = request.method == "POST"
    form = NewVictimReportForm(request.POST if posted else None)
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            report = new_victim_reports.file(
                request.user, case, data["context"], data["disclosed_on"], data["description"]
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            if new_victim_reports.may_read(access):
                messages.success(request, "The report was filed.")
                return redirect("new-victim-report-detail", pk=report.pk)
            return redirect("new-victim-report-receipt", pk=report.pk)
    return render(
        request,
        "victims/new_victim_report_form.html",
        {"case": case, "form": form},
        status=400 if posted else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The report and (POST) its acknowledgement, for those who may read it."""
    reports = NewVictimReport.objects.select_related(
        "case", "case__supervisee", "reporter", "acknowledged_by"
    )
    report = get_visible_or_404(reports, request.user, pk=pk)
    access = case_access(request.user, report.case)
    status = 200
    errors: list[str] = []
    if request.method == "POST":
        if not new_victim_reports.may_acknowledge(access, report):
            raise PermissionDenied("Your role on this case does not acknowledge these reports.")
        try:
            new_victim_reports.acknowledge(request.user, report)
        except ValidationError as error:
            errors = error.messages
            status = 400
        else:
            messages.success(request, "Acknowledged.")
            return redirect("new-victim-report-detail", pk=report.pk)
    record_read(request.user, report, case_id=report.case_id)
    return render(
        request,
        "victims/new_victim_report_detail.html",
        {
            "report": report,
            "case": report.case,
            "can_acknowledge": new_victim_reports.may_acknowledge(access, report)
            and report.acknowledged_at is None,
            "errors": errors,
        },
        status=status,
    )


@login_required
def report_receipt(request: HttpRequest, pk: int) -> HttpResponse:
    """What the reporter learns of a report: that it was received, and when. Nothing of
    its content, and only while they see the case."""
    report = (
        NewVictimReport.objects.filter(
            pk=pk, reporter_id=request.user.pk, case_id__in=visible_case_ids(request.user)
        )
        .only("pk", "case_id", "reporter_id", "created_at")
        .first()
    )
    if report is None:
        record_if_hidden(NewVictimReport, request.user, pk=pk)
        raise Http404("No new-victim report matches the given query.")
    record_read(request.user, report, case_id=report.case_id)
    return render(
        request,
        "victims/new_victim_report_receipt.html",
        {
            "received_at": timezone.localtime(report.created_at),
            "case_url": reverse("case-detail", args=[report.case_id]),
        },
    )


# A list longer than this is read a page at a time.
LIST_PAGE = 50


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    """The reports the user may read (supervisors and victim representatives of the
    case), those awaiting acknowledgement first. Everyone else sees an empty list."""
    reports = new_victim_reports.reports_for(request.user).order_by(
        F("acknowledged_at").desc(nulls_first=True), "created_at", "pk"
    )
    page = Paginator(reports, LIST_PAGE).get_page(request.GET.get("page"))
    record_list(request.user, NewVictimReport, [report.pk for report in page])
    return render(request, "victims/new_victim_report_list.html", {"page": page})
