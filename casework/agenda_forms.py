"""Forms on a review meeting's agenda. Their choices come from the policy through what
the page loaded once (the person's levels on the team, the team's members, the guests);
casework.agenda and casework.minutes check everything again."""

from __future__ import annotations

from typing import Any

from django import forms

from casework.meeting_models import AgendaItem
from teams.disclosure import DisclosureLevel
from teams.disclosure.policy import DEFAULT_LEVEL, Info

LEVEL_NOT_ALLOWED = "Your role cannot share minutes at that level. Choose one of the levels listed."


class DateInput(forms.DateInput):
    input_type = "date"


class AddCaseForm(forms.Form):
    case = forms.ChoiceField(
        label="Case to add",
        help_text="An active case of the team that you can see.",
        error_messages={
            "required": "Choose a case to add.",
            "invalid_choice": "Choose a case of the meeting's team that you can see.",
        },
    )

    def __init__(self, *args: Any, cases: list[tuple[int, str]], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "add")
        super().__init__(*args, **kwargs)
        field: Any = self.fields["case"]
        field.choices = [("", "Choose a case")] + [(str(pk), label) for pk, label in cases]


class MinutesForm(forms.Form):
    body = forms.CharField(
        label="Minutes",
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=True,
        max_length=20000,
        error_messages={"required": "Write what was discussed or agreed."},
    )
    disclosure_level = forms.ChoiceField(
        label="Who can see them",
        help_text="Only the levels your role may choose for minutes are offered.",
        error_messages={"invalid_choice": LEVEL_NOT_ALLOWED},
    )

    def __init__(self, *args: Any, item: AgendaItem, levels: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"minutes-{item.pk}")
        default = DEFAULT_LEVEL[Info.MEETING_MINUTES]
        kwargs.setdefault("initial", {"disclosure_level": default if default in levels else ""})
        super().__init__(*args, **kwargs)
        field: Any = self.fields["disclosure_level"]
        field.choices = [(level, str(DisclosureLevel(level).label)) for level in levels]


class ActionForm(forms.Form):
    text = forms.CharField(
        label="Action",
        max_length=300,
        strip=True,
        error_messages={"required": "Say what is to be done."},
    )
    owner = forms.ChoiceField(
        label="Who does it",
        error_messages={
            "required": "Choose who will do it.",
            "invalid_choice": "Choose a member of the team, or the guest invited for this case.",
        },
    )
    due_on = forms.DateField(
        label="Due",
        widget=DateInput,
        error_messages={"required": "Enter the date it is due.", "invalid": "Enter a date."},
    )

    def __init__(
        self, *args: Any, item: AgendaItem, owners: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        kwargs.setdefault("prefix", f"action-{item.pk}")
        super().__init__(*args, **kwargs)
        field: Any = self.fields["owner"]
        field.choices = [("", "Choose a person")] + [(str(pk), label) for pk, label in owners]
