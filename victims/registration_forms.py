"""Forms of the notification registration pages and the relay queue. They check the
shape of the input; victims.registrations checks the rest and puts its errors on the
fields it names."""

from __future__ import annotations

from typing import Any

from django import forms

from casework.models import Case
from victims.forms import CaseChoiceField, ServiceForm
from victims.models import Delivery, NotificationEvent
from victims.registrations import RELAY_NOTE_MAX_LENGTH

EMAIL_HELP = (
    "Needed for e-mail delivery; kept only while e-mail is chosen. The e-mail says what "
    "happened and when, nothing else."
)


class RegistrationForm(ServiceForm):
    required_fields = ("events",)

    case = CaseChoiceField(
        queryset=Case.objects.none(),
        label="Case",
        empty_label=None,
        error_messages={"invalid_choice": "Choose a case on which you represent this victim."},
    )
    events = forms.MultipleChoiceField(
        required=False,
        choices=NotificationEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Events the victim wants to hear of",
    )
    delivery = forms.ChoiceField(
        choices=Delivery.choices,
        initial=Delivery.RELAY,
        widget=forms.RadioSelect,
        label="How the victim is told",
    )
    email = forms.CharField(required=False, label="E-mail address", help_text=EMAIL_HELP)

    def __init__(self, *args: Any, cases: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        case_field: Any = self.fields["case"]
        case_field.queryset = cases


class RegistrationChangeForm(ServiceForm):
    delivery = forms.ChoiceField(
        choices=Delivery.choices, widget=forms.RadioSelect, label="How the victim is told"
    )
    email = forms.CharField(required=False, label="E-mail address", help_text=EMAIL_HELP)
    active = forms.BooleanField(
        required=False,
        label="Active",
        help_text="Untick to stop these notifications; tick again to resume them.",
    )


class RelayForm(ServiceForm):
    required_fields = ("relay_note",)

    relay_note = forms.CharField(
        required=False,
        max_length=RELAY_NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="How it was relayed",
        help_text="For example: told the victim by phone at 14:30.",
    )
