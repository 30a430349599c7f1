"""The e-mail preferences page (/notifications/preferences/): every kind of notification
with an "e-mail me" box; safety alerts are shown checked and cannot be turned off. Each
person sees and changes only their own (teams.preferences)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorList
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from audit.services import record_list
from teams import preferences
from teams.models import NotificationPreference


class _FieldErrors(ErrorList):
    def __init__(self, initlist: Any = None, error_class: str | None = None, **kw: Any) -> None:
        super().__init__(initlist, error_class=error_class or "field-error", **kw)


class PreferencesForm(forms.Form):
    """One box per kind, named by the kind. An unticked box is absent from the post,
    which means "in the app only"; a disabled box (always e-mailed) keeps its initial
    value whatever is posted."""

    def __init__(self, rows: list[preferences.Preference], *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("error_class", _FieldErrors)
        super().__init__(*args, **kwargs)
        for row in rows:
            self.fields[row.kind] = forms.BooleanField(
                required=False,
                label=row.label,
                initial=row.email,
                disabled=row.always_emailed,
                help_text=row.reason,
            )

    def changes(self) -> dict[str, bool]:
        return {
            name: bool(self.cleaned_data[name])
            for name, field in self.fields.items()
            if not field.disabled
        }

    def add_service_errors(self, error: ValidationError) -> None:
        for field, found in error.message_dict.items():
            for message in found:
                self.add_error(field if field in self.fields else None, message)


@login_required
@require_http_methods(["GET", "POST"])
def preferences_page(request: HttpRequest) -> HttpResponse:
    rows = preferences.preferences_for(request.user)
    form = PreferencesForm(rows, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            preferences.set_preferences(request.user, form.changes())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "Your e-mail preferences were saved.")
            return redirect(reverse("notification-preferences"))
    if request.method != "POST":
        record_list(request.user, NotificationPreference, preferences.stored_ids(request.user))
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "teams/notification_preferences.html",
        {"form": form, "rows": rows},
        status=status,
    )
