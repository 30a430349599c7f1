"""The notifications inbox: a person's own notifications, newest first. Opening one is a
POST that marks it read and goes to the page it names (which applies its own access
checks: a notification carries a link, never the content behind it)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from audit.services import record_list
from teams.models import Notification, Reminder
from teams.reminders import pending_for

NOTIFICATIONS_PER_PAGE = 25
UPCOMING_REMINDERS = 20


def own_notifications(user: Any) -> QuerySet[Notification]:
    """The user's own notifications, newest first: nobody reads another's inbox."""
    if not (user.is_authenticated and user.is_active):
        return Notification.objects.none()
    return Notification.objects.filter(recipient_id=user.pk).order_by("-created_at", "-id")


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    page = Paginator(own_notifications(request.user), NOTIFICATIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    # A title names a case: the list shown is recorded like any other list.
    record_list(request.user, Notification, [row.pk for row in page.object_list])
    # The person's own reminders still to come; their titles may name a case too.
    upcoming = list(
        pending_for(request.user).only("pk", "kind", "title", "send_at")[:UPCOMING_REMINDERS]
    )
    record_list(request.user, Reminder, [row.pk for row in upcoming])
    return render(request, "teams/notifications.html", {"page": page, "upcoming": upcoming})


def safe_link(link: str) -> str:
    """A notification's link is a path in the app; anything else goes to the inbox."""
    if link.startswith("/") and url_has_allowed_host_and_scheme(link, allowed_hosts=None):
        return link
    return reverse("notifications")


@login_required
@require_POST
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    notification = own_notifications(request.user).filter(pk=pk).first()
    if notification is None:
        raise Http404("No notification matches the given query.")
    if notification.read_at is None:
        # Conditional, so that two clicks keep the first time it was opened.
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )
    return HttpResponseRedirect(safe_link(notification.link))
