"""Notification registration pages and the representatives' relay queue. Registrations
and notifications are the case's victim representatives' alone (DESIGN rule 2): reads go
through restrict() (a hidden row answers 404, recorded as denied), writes through
victims.registrations; a reader who may not write gets 403; bad input re-renders the
form with field errors (400), keeping what was typed."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from audit.services import record_list, record_read
from teams.disclosure import case_access, get_visible_or_404
from victims import registrations
from victims.models import NotificationRegistration, Victim, VictimNotification
from victims.queue import representative_team_ids, victim_names
from victims.registration_forms import RegistrationChangeForm, RegistrationForm, RelayForm
from victims.selectors import victim_links_for, victim_views

QUEUE_ROWS = 100
RECENT_ROWS = 50


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _victim_name(user: Any, victim: Victim, case_ids: list[int]) -> str:
    """The victim by the name the policy shows this reader (victims.selectors decides)."""
    links = list(victim_links_for(user).filter(victim=victim, case_id__in=case_ids))
    views = victim_views(user, links)
    return views[0].display_name if views else ""


@login_required
@require_http_methods(["GET", "POST"])
def registration_create(request: HttpRequest, pk: int) -> HttpResponse:
    victim = get_visible_or_404(Victim.objects.all(), request.user, pk=pk)
    cases = registrations.managed_cases(request.user, victim)
    case_ids = list(cases.values_list("pk", flat=True))
    if not case_ids:
        raise PermissionDenied("Only the victim's representatives register them for notifications.")
    posted = request.method == "POST"
    form = RegistrationForm(
        request.POST if posted else None,
        cases=cases,
        initial={"case": _int_or_none(request.GET.get("case")) or case_ids[0]},
    )
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            registrations.register(
                request.user,
                data["case"],
                victim,
                data["events"],
                data["delivery"],
                data["email"],
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "The victim was registered for the events chosen.")
            return redirect(
                reverse("victim-detail", args=[victim.pk]) + "#notification-registrations"
            )
    if not posted:
        record_read(request.user, victim, case_id=None, victim_id=victim.pk)
    return render(
        request,
        "victims/registration_form.html",
        {"form": form, "victim": victim, "name": _victim_name(request.user, victim, case_ids)},
        status=400 if posted else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def registration_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rows = NotificationRegistration.objects.select_related("case", "victim")
    registration = get_visible_or_404(rows, request.user, pk=pk)
    if not registrations.may_manage(case_access(request.user, registration.case)):
        raise PermissionDenied("Only the case's victim representatives change a registration.")
    posted = request.method == "POST"
    form = RegistrationChangeForm(
        request.POST if posted else None,
        initial={
            "delivery": registration.delivery,
            "email": registration.email,
            "active": registration.active,
        },
    )
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            registrations.change_registration(
                request.user,
                registration,
                delivery=data["delivery"],
                email=data["email"],
                active=data["active"],
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "The registration was changed.")
            url = reverse("victim-detail", args=[registration.victim_id])
            return redirect(f"{url}#notification-registration-{registration.pk}")
    if not posted:
        record_read(
            request.user,
            registration,
            case_id=registration.case_id,
            victim_id=registration.victim_id,
        )
    name = _victim_name(request.user, registration.victim, [registration.case_id])
    return render(
        request,
        "victims/registration_edit.html",
        {"form": form, "registration": registration, "name": name},
        status=400 if posted else 200,
    )


@login_required
def notification_queue(request: HttpRequest) -> HttpResponse:
    """The notifications waiting to be relayed on the cases of the teams where the user
    is a victim representative, and the latest delivered; anyone else, an empty page."""
    user = request.user
    waiting = registrations.awaiting_relay(user).order_by("occurred_at", "id")
    shown = list(waiting[:QUEUE_ROWS])
    delivered = list(
        registrations.notifications_for(user)
        .filter(case__team_id__in=representative_team_ids(user))
        .exclude(relayed_at__isnull=True, emailed_at__isnull=True)
        .order_by("-occurred_at", "-id")[:RECENT_ROWS]
    )
    names = victim_names(user, [*shown, *delivered])
    record_list(user, VictimNotification, [row.pk for row in [*shown, *delivered]])
    return render(
        request,
        "victims/victim_notifications.html",
        {
            "waiting": [(row, names.get((row.case_id, row.victim_id), "")) for row in shown],
            "waiting_total": waiting.count() if len(shown) == QUEUE_ROWS else len(shown),
            "delivered": [(row, names.get((row.case_id, row.victim_id), "")) for row in delivered],
            "limit": QUEUE_ROWS,
            "form": RelayForm(),
        },
    )


def _visible_notification(request: HttpRequest, pk: int) -> VictimNotification:
    rows = VictimNotification.objects.select_related("case", "relayed_by", "victim")
    return get_visible_or_404(rows, request.user, pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def notification_relay(request: HttpRequest, pk: int) -> HttpResponse:
    notification = _visible_notification(request, pk)
    if not registrations.may_manage(case_access(request.user, notification.case)):
        raise PermissionDenied("Only the case's victim representatives relay notifications.")
    posted = request.method == "POST"
    form = RelayForm(request.POST if posted else None)
    if posted and form.is_valid():
        try:
            registrations.relay(request.user, notification, form.cleaned_data["relay_note"])
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "Recorded as relayed.")
            return redirect("victim-notifications")
    if not posted:
        record_read(
            request.user,
            notification,
            case_id=notification.case_id,
            victim_id=notification.victim_id,
        )
    name = victim_names(request.user, [notification]).get(
        (notification.case_id, notification.victim_id), ""
    )
    return render(
        request,
        "victims/victim_notification_relay.html",
        {
            "notification": notification,
            "name": name,
            "status": registrations.status_of(notification),
            "form": form,
        },
        status=400 if posted else 200,
    )
