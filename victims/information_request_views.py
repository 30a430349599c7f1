"""Information request pages: asking a question for a victim (victim representatives, from
the case or the victim page), the list of requests each role has to act on, and one
request with the officer's answer form or the representative's relay form. Reads go
through restrict() (a hidden request answers 404 and is recorded as denied) and are
audited; writes go through victims.information_requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from audit.services import record_list, record_read
from casework.models import Case
from teams.disclosure import case_access, get_visible_or_404
from teams.selectors import active_roles
from victims import information_requests as service
from victims.information_request_forms import AnswerForm, AskForm, RelayForm
from victims.models import CaseVictim, InformationRequest, RequestTopic
from victims.queue import victim_names
from victims.selectors import victim_views
from victims.views import _forbidden

LIST_ROWS = 100


@login_required
@require_http_methods(["GET", "POST"])
def ask(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_visible_or_404(Case.objects.select_related("supervisee"), request.user, pk=pk)
    access = case_access(request.user, case)
    if not service.may_ask(access):
        return _forbidden(
            request, "Only the case's victim representatives ask a question for a victim."
        )
    links = access.filter(CaseVictim.objects.filter(case=case).select_related("victim"))
    views = {view.victim.pk: view for view in victim_views(request.user, links, access)}
    choices = [(victim_id, view.display_name) for victim_id, view in views.items()]
    wanted = request.GET.get("victim", "")
    form = AskForm(
        request.POST if request.method == "POST" else None,
        victims=choices,
        initial={"victim": int(wanted) if wanted.isdigit() else None},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = views.get(data["victim"])
        try:
            item = service.ask(
                request.user,
                case,
                chosen.victim if chosen is not None else None,
                data["topic"],
                data["question"],
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request,
                f"The question was sent to the officer. The answer is due by "
                f"{item.due_on:%A %d %B %Y}.",
            )
            return redirect("information-request-detail", pk=item.pk)
    if request.method != "POST":
        record_read(request.user, case, case_id=case.pk)
    return render(
        request,
        "victims/information_request_form.html",
        {
            "case": case,
            "form": form,
            "guidance": _guidance(),
            "due_if_asked_today": service.due_date(timezone.localdate()),
            "working_days": settings.INFORMATION_REQUEST_WORKING_DAYS,
        },
        status=400 if request.method == "POST" else 200,
    )


def _guidance() -> list[tuple[str, str]]:
    return [(str(label), service.TOPIC_GUIDANCE[value]) for value, label in RequestTopic.choices]


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    everything = request.GET.get("all") == "1"
    roles = active_roles(request.user) if not request.user.is_staff else set()
    sections = service.sections_for(request.user, roles, LIST_ROWS, everything=everything)
    rows = {row.pk: row for section in sections for row in section.rows}
    record_list(request.user, InformationRequest, list(rows))
    names = victim_names(request.user, rows.values())
    today = timezone.localdate()
    return render(
        request,
        "victims/information_request_list.html",
        {
            "sections": [
                (section, [_row(item, names, today) for item in section.rows])
                for section in sections
            ],
            "everything": everything,
            "limit": LIST_ROWS,
        },
    )


def _row(item: InformationRequest, names: dict[tuple[int, int], str], today: Any) -> Any:
    item.victim_name = names.get((item.case_id, item.victim_id), "")  # type: ignore[attr-defined]
    item.overdue = service.is_overdue(item, today)  # type: ignore[attr-defined]
    item.status_label = service.STATUS_LABELS[service.status_of(item)]  # type: ignore[attr-defined]
    return item


@login_required
@require_http_methods(["GET", "POST"])
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The request; (POST `action=answer`) the officer's answer, or (POST `action=relay`)
    the representative's record of the relay."""
    item = get_visible_or_404(service.requests_for(request.user), request.user, pk=pk)
    access = case_access(request.user, item.case)
    guidance = f"{item.get_topic_display()}: {service.TOPIC_GUIDANCE[item.topic]}"
    current = service.holder(item.case)
    answer_form: AnswerForm | None = None
    relay_form: RelayForm | None = None
    if item.answered_at is None and service.may_answer(request.user, access, current):
        answer_form = AnswerForm(guidance=guidance)
    if item.answered_at is not None and item.relayed_at is None and service.may_relay(access):
        relay_form = RelayForm()
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "answer":
            # Any officer of the team may post: one who no longer holds the case is told
            # so beside what they typed (the service's field error), not refused blankly.
            if not service.is_answering_role(access):
                return _forbidden(request, "Only the officer who holds the case answers.")
            answer_form = AnswerForm(request.POST, guidance=guidance)
            if _submitted(
                answer_form, "answer", lambda text: service.answer(request.user, item, text)
            ):
                messages.success(request, "Your answer was sent to the victim representative.")
                return redirect("information-request-detail", pk=item.pk)
        elif action == "relay":
            if not service.may_relay(access):
                return _forbidden(
                    request, "Only the case's victim representatives record the relay."
                )
            relay_form = RelayForm(request.POST)
            if _submitted(
                relay_form, "relay_note", lambda note: service.relay(request.user, item, note)
            ):
                messages.success(request, "Recorded: the answer was relayed to the victim.")
                return redirect("information-request-detail", pk=item.pk)
        else:
            messages.error(request, "Nothing was changed: choose to answer or to record a relay.")
        status = 400
    record_read(request.user, item, case_id=item.case_id)
    names = victim_names(request.user, [item])
    return render(
        request,
        "victims/information_request_detail.html",
        {
            "item": item,
            "case": item.case,
            "victim_name": names.get((item.case_id, item.victim_id), ""),
            "status": service.status_of(item),
            "status_label": service.STATUS_LABELS[service.status_of(item)],
            "overdue": service.is_overdue(item),
            "holder": current,
            "answer_reminder": service.ANSWER_REMINDER,
            "answer_form": answer_form,
            "relay_form": relay_form,
        },
        status=status,
    )


def _submitted(form: AnswerForm | RelayForm, field: str, call: Callable[[str], Any]) -> bool:
    """Call the service with the form's `field`; its field errors go on the form."""
    if not form.is_valid():
        return False
    try:
        call(form.cleaned_data[field])
    except ValidationError as error:
        form.add_service_errors(error)
        return False
    return True
