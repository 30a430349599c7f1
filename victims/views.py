"""Victim pages. Each reads through the disclosure policy (hidden rows answer 404) and
writes through victims.services; views only turn requests into calls and back."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from audit.services import record_read
from casework.models import Case
from teams.disclosure import case_access, get_visible_or_404, writable_levels
from teams.disclosure.grants import named_members
from teams.disclosure.policy import DEFAULT_LEVEL, Info
from victims import information_requests, records, registrations, selectors, services
from victims.acknowledgements import acknowledge_input
from victims.forms import LevelForm, ReleaseForm, RevokeForm, VictimInputForm
from victims.models import Victim, VictimInput
from victims.queue import answerable_requests


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "victims/forbidden.html", {"message": message}, status=403)


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@login_required
def victim_detail(request: HttpRequest, pk: int) -> HttpResponse:
    victim = get_visible_or_404(Victim.objects.all(), request.user, pk=pk)
    page = selectors.victim_page(request.user, victim)
    case_id = page.rows[0][0].case_id if len(page.rows) == 1 else None
    record_read(request.user, victim, case_id=case_id, victim_id=victim.pk)
    # Orders, contact preferences and what the reader may change (victims.records).
    extra = records.victim_records(request.user, victim, page.rows)
    # The cases on which the reader may ask a question for this victim (representatives).
    asking = list(information_requests.asking_cases(request.user, victim))
    # Notification registrations: the case's victim representatives alone (None: no section).
    notifications = registrations.victim_section(request.user, victim)
    return render(
        request,
        "victims/victim_detail.html",
        {
            "page": page,
            "records": extra,
            "asking_cases": asking,
            "notification_section": notifications,
        },
    )


@login_required
def release_create(request: HttpRequest, pk: int) -> HttpResponse:
    victim = get_visible_or_404(Victim.objects.all(), request.user, pk=pk)
    cases = selectors.release_cases(request.user, victim)
    if not cases.exists():
        return _forbidden(request, "Only the victim's representatives may record a release.")
    form = ReleaseForm(
        request.POST or None,
        cases=cases,
        user=request.user,
        initial={"case": _int_or_none(request.GET.get("case"))},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.create_release(
                created_by=request.user,
                victim=victim,
                case=data["case"],
                recipient=data["recipient"],
                categories=data["categories"],
                purpose=data["purpose"],
                signed_on=data["signed_on"],
                expires_on=data["expires_on"],
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "The release was recorded.")
            return redirect("victim-detail", pk=victim.pk)
    if request.method != "POST":
        record_read(request.user, victim, case_id=None)
    return render(request, "victims/release_form.html", {"form": form, "victim": victim})


@login_required
def release_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    release = get_visible_or_404(selectors.releases_for(request.user), request.user, pk=pk)
    if not selectors.may_write_releases(case_access(request.user, release.case)):
        return _forbidden(request, "Only the case's victim representatives revoke a release.")
    form = RevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.revoke_release(request.user, release, form.cleaned_data["reason"])
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "The release was revoked. It no longer grants anything.")
            return redirect("victim-detail", pk=release.victim_id)
    if request.method != "POST":
        record_read(request.user, release, case_id=release.case_id)
    return render(request, "victims/release_revoke.html", {"form": form, "release": release})


@login_required
def victim_input_create(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_visible_or_404(Case.objects.select_related("supervisee"), request.user, pk=pk)
    levels = writable_levels(case_access(request.user, case), Info.VICTIM_INPUT)
    if not levels:
        return _forbidden(request, "Only the case's victim representatives record victim input.")
    default = DEFAULT_LEVEL[Info.VICTIM_INPUT]
    requests = answerable_requests(request.user, case.pk)
    form = VictimInputForm(
        request.POST or None,
        levels=levels,
        members=services.team_members(case).exclude(pk=request.user.pk),
        initial={"disclosure_level": default if default in levels else levels[0]},
        # Shown when there is a request to answer; kept for a posted decision, so
        # that one the author was not asked about is refused, not dropped.
        requests=requests if request.POST.get("decision") or requests.exists() else None,
        kinds=True,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        answered = data.get("decision")
        try:
            services.create_victim_input(
                request.user,
                case,
                data["body"],
                data["disclosure_level"],
                data["named_members"],
                decision=answered.decision if answered is not None else None,
                kind=data.get("kind") or None,
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "The victim input was recorded.")
            return redirect("case-detail", pk=case.pk)
    return render(
        request,
        "victims/victim_input_form.html",
        {"form": form, "case": case},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def victim_input_level(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_visible_or_404(
        VictimInput.objects.select_related("case", "author", "acknowledged_by"), request.user, pk=pk
    )
    levels = writable_levels(case_access(request.user, item.case), Info.VICTIM_INPUT)
    if not levels:
        return _forbidden(request, "Only the case's victim representatives change who sees it.")
    initial: dict[str, Any] = {
        "disclosure_level": item.disclosure_level,
        "named_members": named_members(item),
    }
    form = LevelForm(
        request.POST or None,
        levels=levels,
        members=services.team_members(item.case).exclude(pk=item.author_id),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.change_victim_input_level(
                request.user, item, data["disclosure_level"], data["named_members"]
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "Who sees this victim input was changed.")
            return redirect("case-detail", pk=item.case_id)
    if request.method != "POST":
        record_read(request.user, item, case_id=item.case_id)
    return render(request, "victims/victim_input_level.html", {"form": form, "item": item})


@login_required
@require_POST
def victim_input_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    """The officer acknowledges input on a pending decision, from the decision's page."""
    rows = VictimInput.objects.select_related(
        "case", "author", "decision", "decision__case", "acknowledged_by"
    )
    item = get_visible_or_404(rows, request.user, pk=pk)
    back = (
        reverse("decision-detail", args=[item.decision_id]) + f"#victim-input-{item.pk}"
        if item.decision_id
        else reverse("case-detail", args=[item.case_id])
    )
    try:
        acknowledge_input(request.user, item)
    except PermissionDenied as denied:
        return _forbidden(request, str(denied))
    except ValidationError as error:
        # Nothing changed; the page says why and leads back.
        return render(
            request,
            "victims/action_refused.html",
            {"messages_list": error.messages, "back": back},
            status=400,
        )
    messages.success(request, "The input is acknowledged; the representative is told.")
    return redirect(back)
