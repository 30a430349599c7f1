"""Forms of the decision pages. They check the shape of what was typed; the lifecycle
(casework.decisions) checks it against the rules and the policy and its field errors are
put back on these fields, so the person sees every problem next to what they typed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from casework import decision_rules
from casework.decisions import IMPACT_OFF_SCALE
from casework.models import CaseDecision, DecisionKind, ImpactRating, Interest, ProceedReason
from teams.disclosure import DisclosureLevel


def _field(name: str) -> Any:
    return CaseDecision._meta.get_field(name)


def impact_label(value: int | None) -> str:
    """A rating as the scale shows it: "+1 Some benefit", "0 No real effect"."""
    if value is None:
        return "Not rated yet"
    sign = f"{value:+d}" if value else "0"
    return f"{sign} {ImpactRating(value).label}"


IMPACT_CHOICES: list[tuple[str, str]] = [("", "Not rated yet")] + [
    (str(value), impact_label(value)) for value in ImpactRating.values
]
PLACE_KINDS: list[str] = [
    kind for kind in DecisionKind.values if decision_rules.concerns_place(kind)
]
INTEREST_HELP: dict[str, str] = {
    Interest.SUPERVISEE: "Rehabilitation, stability, treatment: what this means for them.",
    Interest.VICTIMS: "Safety, wishes and well-being of the people harmed.",
    Interest.COMMUNITY: "Public safety and the people around the person under supervision.",
}


class DecisionServiceForm(forms.Form):
    def add_service_errors(self, error: ValidationError) -> None:
        """Put the lifecycle's field errors on the fields they name (others on top)."""
        for name, messages in error.message_dict.items():
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message)


def _text(name: str, rows: int = 3, **kwargs: Any) -> forms.CharField:
    model_field = _field(name)
    return forms.CharField(
        label=str(kwargs.pop("label", model_field.verbose_name)).capitalize(),
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": rows}),
        **kwargs,
    )


def _flag(name: str) -> forms.BooleanField:
    model_field = _field(name)
    return forms.BooleanField(
        label=str(model_field.verbose_name).capitalize(),
        required=False,
        help_text=str(model_field.help_text),
    )


class DecisionForm(DecisionServiceForm):
    """A draft decision: what is decided, why, and the harm-prevention worksheet."""

    kind = forms.ChoiceField(
        label="Kind of decision",
        choices=[("", "Choose the kind of decision"), *DecisionKind.choices],
        required=False,
        help_text="Residence, employment and travel decisions ask for the place, which is "
        "checked against the victims' protected locations without showing them.",
    )
    summary = forms.CharField(
        label="Summary",
        max_length=200,
        required=False,
        help_text="One line: what is decided.",
    )
    rationale = _text("rationale", rows=4, label="Rationale")
    community_danger = _flag("community_danger")
    victim_danger = _flag("victim_danger")
    relaxes_condition = _flag("relaxes_condition")
    place_description = forms.CharField(
        label="Place", max_length=200, required=False, help_text="For example: the address."
    )
    place_postal_code = forms.CharField(label="Postal code", max_length=20, required=False)
    place_latitude = forms.CharField(label="Latitude", max_length=20, required=False)
    place_longitude = forms.CharField(label="Longitude", max_length=20, required=False)
    disclosure_level = forms.ChoiceField(
        label="Who can see it once final",
        help_text="While it is not final, only you and the team's supervisors see it.",
        error_messages={
            "invalid_choice": "Your role cannot share a decision at that level. "
            "Choose one of the levels listed."
        },
    )
    supersedes = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # The review meeting's item the decision is taken at ("Draft a decision" on the
    # agenda); the lifecycle checks it is of the same case and visible to the author.
    agenda_item = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, levels: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for interest in Interest.values:
            self.fields[f"{interest}_benefits"] = _text(f"{interest}_benefits")
            self.fields[f"{interest}_risks"] = _text(f"{interest}_risks")
            self.fields[f"{interest}_impact"] = forms.ChoiceField(
                label="Expected impact",
                choices=IMPACT_CHOICES,
                required=False,
                error_messages={"invalid_choice": IMPACT_OFF_SCALE},
            )
        level_field: Any = self.fields["disclosure_level"]
        level_field.choices = [(level, str(DisclosureLevel(level).label)) for level in levels]
        for name in ("kind", "summary"):
            self.fields[name].widget.attrs["required"] = True

    @property
    def interests(self) -> list[dict[str, Any]]:
        """The worksheet as three groups of fields, one per interest."""
        return [
            {
                "key": interest,
                "label": label,
                "help": INTEREST_HELP[interest],
                "fields": [self[f"{interest}_{part}"] for part in ("benefits", "risks", "impact")],
            }
            for interest, label in Interest.choices
        ]

    @property
    def flags(self) -> list[Any]:
        return [self[name] for name in ("community_danger", "victim_danger", "relaxes_condition")]

    @property
    def place_fields(self) -> list[Any]:
        return [
            self[name]
            for name in (
                "place_description",
                "place_postal_code",
                "place_latitude",
                "place_longitude",
            )
        ]

    def service_data(self) -> dict[str, Any]:
        """The values for casework.decisions, as typed (the lifecycle checks them)."""
        data = dict(self.cleaned_data)
        data.pop("supersedes", None)
        data.pop("agenda_item", None)
        return data

    @staticmethod
    def initial_from(decision: CaseDecision) -> dict[str, Any]:
        from casework.decisions import EDITABLE_FIELDS

        initial = {name: getattr(decision, name) for name in EDITABLE_FIELDS}
        for interest in Interest.values:
            value = initial[f"{interest}_impact"]
            initial[f"{interest}_impact"] = "" if value is None else str(value)
        for name in ("place_latitude", "place_longitude"):
            initial[name] = "" if initial[name] is None else str(initial[name])
        return initial


class ReturnForm(DecisionServiceForm):
    return_comment = forms.CharField(
        label="Comments for the author",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="What should change before it is proposed again.",
    )


class FinaliseForm(DecisionServiceForm):
    proceed_reason = forms.ChoiceField(
        label="Proceeding without the victim representative's input",
        choices=[("", "Not proceeding without input"), *ProceedReason.choices[1:]],
        required=False,
        help_text="Only when the victim representative has not given input on this decision.",
    )
    proceed_explanation = forms.CharField(
        label="Why you proceed without it",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )


class WithdrawForm(DecisionServiceForm):
    withdrawn_reason = forms.CharField(
        label="Why it is withdrawn", widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


ACTION_FORMS: dict[str, type[DecisionServiceForm]] = {
    "return": ReturnForm,
    "finalise": FinaliseForm,
    "withdraw": WithdrawForm,
}
