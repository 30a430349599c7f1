"""Forms of the information request pages. They check the shape of the input; the
service (victims.information_requests) checks the rest and names the fields it refuses."""

from __future__ import annotations

from typing import Any

from django import forms

from victims.forms import ServiceForm
from victims.information_requests import TEXT_LIMIT
from victims.models import RequestTopic

NOT_FOR_LOCATING = (
    "The officer and the supervisor read this: no address, phone number or other "
    "locating information."
)


class AskForm(ServiceForm):
    required_fields = ("victim", "topic", "question")

    victim = forms.TypedChoiceField(
        coerce=int,
        required=False,
        label="Victim asking",
        error_messages={"invalid_choice": "Choose a victim linked to this case."},
    )
    topic = forms.ChoiceField(
        required=False,
        choices=[("", "Choose a topic"), *RequestTopic.choices],
        label="What the question is about",
        error_messages={"invalid_choice": "Choose what the question is about from the list."},
    )
    question = forms.CharField(
        required=False,
        max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="The victim's question",
        help_text=f"In the victim's words where you can. {NOT_FOR_LOCATING}",
    )

    def __init__(self, *args: Any, victims: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["victim"]
        field.choices = [("", "Choose a victim"), *victims]


class AnswerForm(ServiceForm):
    required_fields = ("answer",)

    answer = forms.CharField(
        required=False,
        max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 6}),
        label="Your answer for the victim",
    )

    def __init__(self, *args: Any, guidance: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["answer"].help_text = guidance


class RelayForm(ServiceForm):
    required_fields = ("relay_note",)

    relay_note = forms.CharField(
        required=False,
        max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="How the answer was given to the victim",
        help_text=f"For example: read to the victim on the phone on 3 March. {NOT_FOR_LOCATING}",
    )
