"""The filters of the audit review page, its CSV export and its API.

One form validates all three, so a bad date or an unknown id gets the same clear,
field-level message everywhere (a form error on the page, a 400 naming the field in
the API), never a 500.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from audit.models import Action, AuditEvent, Outcome
from audit.review import in_window
from audit.scopes import events_for

ID_ERRORS = {
    "invalid": "Enter an id as a whole number, for example 42.",
    "min_value": "Enter an id of 1 or more.",
    "max_value": "This id is too large.",
}
DATE_ERRORS = {"invalid": "Enter a real date as YYYY-MM-DD, for example 2025-03-31."}
# Ids are bigint columns; a larger number would make the database raise, not answer.
MAX_ID = 2**63 - 1


class AuditFilterForm(forms.Form):
    person = forms.CharField(
        required=False,
        max_length=150,
        strip=True,
        label="Person",
        help_text="Username or user id of the person who acted.",
    )
    case = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, label="Case id", error_messages=ID_ERRORS
    )
    victim = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, label="Victim id", error_messages=ID_ERRORS
    )
    action = forms.ChoiceField(
        required=False,
        choices=[("", "Any action"), *Action.choices],
        label="Action",
        error_messages={"invalid_choice": "Choose one of the listed actions."},
    )
    outcome = forms.ChoiceField(
        required=False,
        choices=[("", "Any outcome"), *Outcome.choices],
        label="Outcome",
        error_messages={"invalid_choice": "Choose one of the listed outcomes."},
    )
    date_from = forms.DateField(
        required=False,
        label="From (date)",
        input_formats=["%Y-%m-%d"],
        error_messages=DATE_ERRORS,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        required=False,
        label="To (date)",
        input_formats=["%Y-%m-%d"],
        error_messages=DATE_ERRORS,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    # Where the page starts (the review page's keyset; the API pages with its cursor).
    before = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        label="Older than event",
        error_messages={
            "invalid": "The page position must be a whole number.",
            "min_value": "The page position must be 1 or more.",
            "max_value": "The page position is too large.",
        },
        widget=forms.HiddenInput,
    )

    # The names a request may carry; anything else in the query string is not a filter.
    FILTERS = ("person", "case", "victim", "action", "outcome", "date_from", "date_to")

    def __init__(self, data: Any, *, user: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.user = user
        self.person_id: int | None = None
        self.person_username = ""

    def clean_person(self) -> str:
        value: str = self.cleaned_data.get("person") or ""
        if not value:
            return ""
        users = get_user_model()._default_manager
        found = None
        if value.isdigit() and int(value) <= MAX_ID:
            found = users.filter(pk=int(value)).values_list("pk", "username").first()
        if found is None:
            found = users.filter(username=value).values_list("pk", "username").first()
        if found is None:
            if value.isdigit():
                raise forms.ValidationError("No person with this id or username.")
            raise forms.ValidationError("No person with this username.")
        self.person_id, self.person_username = int(found[0]), str(found[1])
        return value

    def clean_case(self) -> int | None:
        value: int | None = self.cleaned_data.get("case")
        if value is not None and not self._in_scope(case_id=value):
            raise forms.ValidationError(
                "No case with this id in the audit events you may read.", code="unknown"
            )
        return value

    def clean_victim(self) -> int | None:
        value: int | None = self.cleaned_data.get("victim")
        if value is not None and not self._in_scope(victim_id=value):
            raise forms.ValidationError(
                "No victim with this id in the audit events you may read.", code="unknown"
            )
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date must be on or after the start date.")
        return cleaned

    def _in_scope(self, **lookup: int) -> bool:
        # One indexed probe (case_id or victim_id, then the scope on the rows found): an
        # id outside what the user may read looks exactly like an id that never existed.
        return events_for(self.user).filter(**lookup).exists()

    # --- Using the cleaned filters ------------------------------------------------------

    def apply(self, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        if data.get("person"):
            if data.get("action") == Action.LOGIN_FAILED:
                # A failed sign-in has no actor, only the username that was typed.
                queryset = queryset.filter(actor_username=self.person_username)
            else:
                queryset = queryset.filter(actor_id=self.person_id)
        if data.get("case") is not None:
            queryset = queryset.filter(case_id=data["case"])
        if data.get("victim") is not None:
            queryset = queryset.filter(victim_id=data["victim"])
        if data.get("action"):
            queryset = queryset.filter(action=data["action"])
        if data.get("outcome"):
            queryset = queryset.filter(outcome=data["outcome"])
        start = _start_of(data["date_from"]) if data.get("date_from") else None
        end = data.get("date_to")
        stop = _start_of(end + dt.timedelta(days=1)) if end and end < dt.date.max else None
        return in_window(queryset, start, stop)

    def filters(self) -> dict[str, Any]:
        """The filters in use, as JSON for the audit trail's own record of the read."""
        used: dict[str, Any] = {}
        for name in self.FILTERS:
            value = self.cleaned_data.get(name)
            if value in (None, ""):
                continue
            used[name] = value.isoformat() if isinstance(value, dt.date) else value
        return used

    def raw_filters(self) -> dict[str, str]:
        """What was asked for, valid or not (for recording a refused read)."""
        return {
            name: str(self.data.get(name, ""))[:200]
            for name in self.FILTERS
            if self.data.get(name, "") != ""
        }

    @property
    def is_case_timeline(self) -> bool:
        return self.is_bound and not self.errors and self.cleaned_data.get("case") is not None

    @property
    def is_victim_disclosures(self) -> bool:
        return (
            self.is_bound
            and not self.errors
            and self.cleaned_data.get("victim") is not None
            and self.cleaned_data.get("action") == Action.DISCLOSURE
        )


def _start_of(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the site's time zone (dates are local dates)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
