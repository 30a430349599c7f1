"""The victim representative's queue: open requests for input on proposed decisions, and
the place conflicts the blind location check found, on the cases of the teams where the
user is a victim representative. Read through restrict() (victims.queue) and audited;
anyone else gets an empty queue. Answering a request records victim input linked to the
decision, through the same service as the victim input form and the API."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from audit.services import record_list, record_read
from teams.disclosure import case_access, get_visible_or_404, writable_levels
from teams.disclosure.policy import DEFAULT_LEVEL, Info
from victims import services
from victims.forms import VictimInputForm
from victims.models import InputRequest, PlaceConflict
from victims.queue import CLOSED_STATUSES, decision_label, queue_for
from victims.views import _forbidden

QUEUE_ROWS = 100


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    found = queue_for(request.user, QUEUE_ROWS)
    record_list(request.user, InputRequest, [item.pk for item in found.requests])
    record_list(request.user, PlaceConflict, [item.pk for item in found.conflicts])
    conflicts = [
        (conflict, found.victim_name(conflict), decision_label(conflict))
        for conflict in found.conflicts
    ]
    return render(
        request,
        "victims/queue.html",
        {"queue": found, "conflicts": conflicts, "now": timezone.now(), "limit": QUEUE_ROWS},
    )


@login_required
@require_http_methods(["GET", "POST"])
def input_request_answer(request: HttpRequest, pk: int) -> HttpResponse:
    requests = InputRequest.objects.select_related("case", "requested_by", "decision")
    item = get_visible_or_404(requests, request.user, pk=pk)
    levels = writable_levels(case_access(request.user, item.case), Info.VICTIM_INPUT)
    if not levels:
        return _forbidden(request, "Only the case's victim representatives answer a request.")
    default = DEFAULT_LEVEL[Info.VICTIM_INPUT]
    form = VictimInputForm(
        request.POST if request.method == "POST" else None,
        levels=levels,
        members=services.team_members(item.case).exclude(pk=request.user.pk),
        initial={"disclosure_level": default if default in levels else levels[0]},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.create_victim_input(
                request.user,
                item.case,
                data["body"],
                data["disclosure_level"],
                data["named_members"],
                decision=item.decision,
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "Your input was recorded on the proposed decision.")
            return redirect(reverse("victim-queue"))
    if request.method != "POST":
        record_read(request.user, item, case_id=item.case_id)
    return render(
        request,
        "victims/input_request_answer.html",
        {
            "form": form,
            "item": item,
            "case": item.case,
            # All the page says of the decision beyond the request: whether it still
            # takes input.
            "closed": item.decision.status in CLOSED_STATUSES,
            "overdue": item.due_at < timezone.now(),
        },
        status=400 if request.method == "POST" else 200,
    )
