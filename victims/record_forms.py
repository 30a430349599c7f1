"""Forms of the victim's record (victims.record_views). They check the shape of the input;
victims.records checks it against the policy and the case, and its field errors land on
the fields of the same names."""

from __future__ import annotations

from typing import Any

from django import forms

from victims.forms import DateInput, ServiceForm
from victims.models import (
    CaseVictim,
    ContactMethod,
    OrderKind,
    ProtectiveOrder,
    RelationshipCategory,
    Victim,
    VictimLocation,
    VictimPreferences,
)
from victims.records import IDENTITY_FIELDS, LOCATION_FIELDS, MAX_RADIUS_M


def _max(model: Any, name: str) -> int:
    return int(model._meta.get_field(name).max_length)


def _identity_fields() -> dict[str, forms.Field]:
    return {
        "first_name": forms.CharField(
            required=False, max_length=_max(Victim, "first_name"), label="First name"
        ),
        "last_name": forms.CharField(
            required=False, max_length=_max(Victim, "last_name"), label="Last name"
        ),
        "relationship_category": forms.ChoiceField(
            required=False,
            choices=[("", "Choose the relationship"), *RelationshipCategory.choices],
            label="Relationship to the person under supervision",
        ),
    }


def _location_fields() -> dict[str, forms.Field]:
    fields: dict[str, forms.Field] = {}
    for name in LOCATION_FIELDS:
        model_field: Any = VictimLocation._meta.get_field(name)
        label = str(model_field.verbose_name).capitalize()
        if name in ("latitude", "longitude"):
            fields[name] = forms.DecimalField(
                required=False,
                max_digits=9,
                decimal_places=6,
                label=label,
                help_text="Decimal degrees, for the check of decisions' places. Leave both "
                "empty if not known.",
            )
        elif name == "protection_radius_m":
            fields[name] = forms.IntegerField(
                required=False,
                label=label,
                help_text=f"A decision's place within this distance is reported to you as "
                f"a possible conflict (1 to {MAX_RADIUS_M} metres).",
            )
        elif name == "email":
            fields[name] = forms.EmailField(required=False, max_length=254, label="E-mail")
        else:
            fields[name] = forms.CharField(
                required=False, max_length=model_field.max_length, label=label
            )
    return fields


class VictimRecordForm(ServiceForm):
    """Identity, and locating information when the author records it. `with_identity`
    and `with_location` leave out what the author may not change."""

    def __init__(
        self,
        *args: Any,
        with_identity: bool = True,
        with_location: bool = True,
        with_pseudonym: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if with_identity:
            self.fields.update(_identity_fields())
            for name in IDENTITY_FIELDS:
                self.fields[name].widget.attrs["required"] = True
        if with_pseudonym:
            self.fields["pseudonym"] = forms.CharField(
                required=False,
                max_length=_max(CaseVictim, "pseudonym"),
                label="Pseudonym on this case",
                help_text="What treatment providers and polygraph examiners see instead of "
                "the name.",
                widget=forms.TextInput(attrs={"required": True}),
            )
        if with_location:
            self.fields.update(_location_fields())

    @property
    def identity_fields(self) -> list[Any]:
        return [self[name] for name in (*IDENTITY_FIELDS, "pseudonym") if name in self.fields]

    @property
    def location_fields(self) -> list[Any]:
        return [self[name] for name in LOCATION_FIELDS if name in self.fields]

    def identity_data(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data.get(name) for name in IDENTITY_FIELDS if name in self.fields
        }

    def location_data(self) -> dict[str, Any]:
        data = {
            name: self.cleaned_data.get(name) for name in LOCATION_FIELDS if name in self.fields
        }
        if "protection_radius_m" in data and data["protection_radius_m"] is None:
            data["protection_radius_m"] = ""  # reported by the service as missing
        return data


class VictimLinkForm(ServiceForm):
    victim = forms.IntegerField(
        required=False,
        label="Person harmed",
        widget=forms.RadioSelect,
        error_messages={"invalid": "Choose a person you represent on another case."},
    )
    pseudonym = forms.CharField(
        required=False,
        max_length=_max(CaseVictim, "pseudonym"),
        label="Pseudonym on this case",
        help_text="What treatment providers and polygraph examiners see instead of the name.",
    )
    required_fields = ("pseudonym",)

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widget: Any = self.fields["victim"].widget
        widget.choices = choices


class PreferencesForm(ServiceForm):
    wants_contact = forms.TypedChoiceField(
        choices=[("yes", "Yes"), ("no", "No: nobody contacts them, not even with notifications")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        label="Does the victim want to be contacted at all?",
        error_messages={"required": "Say whether the victim wants to be contacted."},
    )
    preferred_method = forms.ChoiceField(
        choices=ContactMethod.choices,
        label="Preferred way to be contacted",
        error_messages={"required": "Choose how the victim wants to be contacted."},
    )
    preferred_times = forms.CharField(
        required=False,
        max_length=_max(VictimPreferences, "preferred_times"),
        label="Best times to contact",
        help_text="For example: weekday evenings after 6 pm.",
    )
    safety_concerns = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="Safety concerns",
        help_text="Seen by the case's victim representatives only.",
    )


class OrderForm(ServiceForm):
    required_fields = ("victim", "kind", "issued_on", "terms")

    victim = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="Protected person",
        error_messages={"invalid_choice": "Choose a victim of this case."},
    )
    kind = forms.ChoiceField(
        required=False,
        choices=[("", "Choose the kind of order"), *OrderKind.choices],
        label="Kind of order",
        error_messages={"invalid_choice": "Choose the kind of order."},
    )
    court = forms.CharField(
        required=False, max_length=_max(ProtectiveOrder, "court"), label="Issuing court"
    )
    order_number = forms.CharField(
        required=False, max_length=_max(ProtectiveOrder, "order_number"), label="Order number"
    )
    issued_on = forms.DateField(required=False, widget=DateInput(), label="Issued on")
    expires_on = forms.DateField(
        required=False,
        widget=DateInput(),
        label="Expires on",
        help_text="Leave empty if the order has no end date.",
    )
    terms = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Terms",
        help_text="What the order forbids, without any address: officers and the treatment "
        "team read it.",
    )
    related_condition = forms.ChoiceField(
        required=False,
        label="Condition of supervision that enforces it",
        error_messages={
            "invalid_choice": "Choose one of this case's conditions of supervision, or none."
        },
    )

    def __init__(
        self, *args: Any, victims: list[tuple[int, str]], conditions: list[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        victim: Any = self.fields["victim"]
        victim.choices = [("", "Choose the protected person"), *victims]
        condition: Any = self.fields["related_condition"]
        condition.choices = [("", "None"), *[(text, text) for text in conditions]]
