"""Pages of the victim's record, for the case's victim representatives: add a victim to a
case, link one they represent to another case, edit identity and locating information,
contact preferences and safety concerns, and record a protective or no-contact order.

Thin: victims.records decides and writes. A case or victim the user may not see answers
404 (recorded as denied); one they see but may not change answers 403. A rejected form
comes back with its field errors (400) and what was typed."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from audit.services import record_list, record_read
from casework.models import Case
from teams.disclosure import case_access, get_visible_or_404
from victims import records
from victims.models import CaseVictim, Victim
from victims.record_forms import OrderForm, PreferencesForm, VictimLinkForm, VictimRecordForm
from victims.selectors import locations_for, victim_links_for, victim_views
from victims.views import _forbidden


def _case(request: HttpRequest, pk: int) -> Case:
    cases = Case.objects.select_related("supervisee", "team")
    return get_visible_or_404(cases, request.user, pk=pk)


def _victim(request: HttpRequest, pk: int) -> Victim:
    return get_visible_or_404(Victim.objects.all(), request.user, pk=pk)


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    return render(request, template, context, status=400 if request.method == "POST" else 200)


@login_required
@require_http_methods(["GET", "POST"])
def victim_create(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    access = case_access(request.user, case)
    if not records.writes_identity(access):
        return _forbidden(request, "Only the case's victim representatives record a victim.")
    form = VictimRecordForm(
        request.POST if request.method == "POST" else None,
        with_location=records.writes_locating(access),
        with_pseudonym=True,
        initial={"pseudonym": records.next_pseudonym(case), "protection_radius_m": 1000},
    )
    if request.method == "POST" and form.is_valid():
        try:
            link = records.create_victim(
                request.user,
                case,
                identity=form.identity_data(),
                pseudonym=form.cleaned_data.get("pseudonym") or "",
                location=form.location_data(),
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, f"{link.pseudonym} was added to case {case.reference}.")
            return redirect("victim-detail", pk=link.victim_id)
    if request.method != "POST":
        record_read(request.user, case, case_id=case.pk)
    return _page(request, "victims/victim_form.html", {"form": form, "case": case})


@login_required
@require_http_methods(["GET", "POST"])
def victim_link(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    if not records.writes_identity(case_access(request.user, case)):
        return _forbidden(request, "Only the case's victim representatives link a victim.")
    query = (request.GET.get("q") or request.POST.get("q") or "")[:100]
    found = records.link_choices(request.user, case, query)
    record_list(request.user, Victim, [choice.victim_id for choice in found])
    form = VictimLinkForm(
        request.POST if request.method == "POST" else None,
        choices=[(choice.victim_id, choice.label) for choice in found],
        initial={"pseudonym": records.next_pseudonym(case)},
    )
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data.get("victim")
        victim = Victim.objects.filter(pk=chosen).first() if chosen else None
        try:
            link = records.link_victim(
                request.user, case, victim, form.cleaned_data.get("pseudonym") or ""
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, f"{link.pseudonym} is now linked to case {case.reference}.")
            return redirect("victim-detail", pk=link.victim_id)
    return _page(
        request,
        "victims/victim_link.html",
        {"form": form, "case": case, "query": query, "found": found},
    )


@login_required
@require_http_methods(["GET", "POST"])
def victim_edit(request: HttpRequest, pk: int) -> HttpResponse:
    victim = _victim(request, pk)
    identity = bool(records.writer_case_ids(request.user, victim, records.IDENTITY_WRITE))
    locating = bool(records.writer_case_ids(request.user, victim, records.LOCATING_WRITE))
    if not (identity or locating):
        return _forbidden(request, "Only the victim's representatives change their record.")
    links = list(victim_links_for(request.user).filter(victim=victim))
    # What is shown to fill the form is what victim_views lets this reader see (and
    # records in the victim's ledger).
    views = victim_views(request.user, links)
    shown = any(view.show_identity for view in views)
    location = locations_for(request.user).filter(victim=victim).first() if locating else None
    initial: dict[str, Any] = {}
    if identity and shown:
        initial.update({name: getattr(victim, name) for name in records.IDENTITY_FIELDS})
    if locating:
        initial["protection_radius_m"] = 1000
        if location is not None:
            initial.update({name: getattr(location, name) for name in records.LOCATION_FIELDS})
    form = VictimRecordForm(
        request.POST if request.method == "POST" else None,
        with_identity=identity,
        with_location=locating,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            records.update_victim(
                request.user,
                victim,
                identity=form.identity_data() if identity else None,
                location=form.location_data() if locating else None,
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "The victim's record was saved.")
            return redirect("victim-detail", pk=victim.pk)
    if request.method != "POST":
        record_read(request.user, victim, case_id=None, victim_id=victim.pk)
    name = next((view.display_name for view in views if view.show_identity), "")
    return _page(
        request,
        "victims/victim_edit.html",
        {"form": form, "victim": victim, "name": name or (views[0].pseudonym if views else "")},
    )


@login_required
@require_http_methods(["GET", "POST"])
def victim_preferences(request: HttpRequest, pk: int) -> HttpResponse:
    victim = _victim(request, pk)
    if not records.writer_case_ids(request.user, victim, records.LOCATING_WRITE):
        return _forbidden(request, "Only the victim's representatives record contact preferences.")
    current = records.preferences_for(request.user).filter(victim=victim).first()
    initial: dict[str, Any] = {"wants_contact": "yes", "preferred_method": "representative"}
    if current is not None:
        initial = {
            "wants_contact": "yes" if current.wants_contact else "no",
            "preferred_method": current.preferred_method,
            "preferred_times": current.preferred_times,
            "safety_concerns": current.safety_concerns,
        }
    form = PreferencesForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            records.set_preferences(request.user, victim, form.cleaned_data)
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "The contact preferences were saved.")
            return redirect("victim-detail", pk=victim.pk)
    if request.method != "POST" and current is not None:
        record_read(request.user, current, case_id=None, victim_id=victim.pk)
    views = victim_views(request.user, list(victim_links_for(request.user).filter(victim=victim)))
    name = next((view.display_name for view in views if view.show_identity), "")
    return _page(
        request,
        "victims/victim_preferences.html",
        {"form": form, "victim": victim, "name": name},
    )


@login_required
@require_http_methods(["GET", "POST"])
def order_create(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    access = case_access(request.user, case)
    if not records.writes_identity(access):
        return _forbidden(request, "Only the case's victim representatives record an order.")
    links = access.filter(CaseVictim.objects.filter(case=case).select_related("victim"))
    choices = [
        (view.victim.pk, view.display_name) for view in victim_views(request.user, links, access)
    ]
    chosen = request.GET.get("victim", "")
    form = OrderForm(
        request.POST if request.method == "POST" else None,
        victims=choices,
        conditions=case.condition_list,
        initial={"victim": int(chosen) if chosen.isdigit() else None},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        victim = next((link.victim for link in links if link.victim_id == data["victim"]), None)
        try:
            records.create_order(
                request.user,
                case,
                victim,
                kind=data["kind"],
                issued_on=data["issued_on"],
                expires_on=data["expires_on"],
                terms=data["terms"],
                court=data["court"],
                order_number=data["order_number"],
                related_condition=data["related_condition"],
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "The order was recorded.")
            return redirect(reverse("case-detail", args=[case.pk]) + "#protective-orders")
    if request.method != "POST":
        record_read(request.user, case, case_id=case.pk)
    return _page(request, "victims/order_form.html", {"form": form, "case": case})
