"""Forms of the review meeting pages (issue 7). They check the shape of what was typed;
teams.meetings, casework.meeting_guests and teams.recurrence check it against the rules,
and their field errors are put back on these fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from casework.decision_forms import DecisionServiceForm
from casework.meeting_guests import GuestRequest
from teams import recurrence
from teams.meetings import (
    DEFAULT_TITLE,
    MAX_DURATION_MINUTES,
    OFFSET_EXAMPLE,
    Details,
    check_details,
    default_offsets,
    format_offsets,
    parse_offsets,
)
from teams.models import Rsvp

GUEST_ROWS = 3
# What each answer says on the RSVP form (the model's labels describe the state).
RSVP_LABELS: dict[str, str] = {
    Rsvp.ATTENDING: "I will attend",
    Rsvp.TENTATIVE: "I might attend",
    Rsvp.DECLINED: "I cannot attend",
}


class DateTimeInput(forms.DateTimeInput):
    """The browser's date and time picker; the value is read in the app's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


def _start_field(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        widget=DateTimeInput(),
        required=False,
        help_text="Date and time, in the team's time zone.",
        error_messages={"invalid": "Enter a date and time such as 2026-12-01 10:00."},
    )


def _duration_field() -> forms.IntegerField:
    return forms.IntegerField(
        label="Length (minutes)",
        required=False,
        initial=60,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_DURATION_MINUTES}),
        error_messages={"invalid": "Enter a whole number of minutes."},
    )


def _place_fields() -> tuple[forms.CharField, forms.CharField]:
    location = forms.CharField(
        label="Place",
        required=False,
        max_length=200,
        help_text="A room and building; or leave empty and give a call link.",
    )
    call_link = forms.CharField(
        label="Call link",
        required=False,
        max_length=200,
        help_text="The video or phone call's web address, if there is one.",
        widget=forms.URLInput(),
    )
    return location, call_link


class MeetingServiceForm(DecisionServiceForm):
    """Puts the services' field errors on the fields; an error about a field the form
    does not show under that name (`guests`, `rule`) goes to its stand-in."""

    error_targets: dict[str, str] = {}

    def add_service_errors(self, error: ValidationError) -> None:
        for name, messages in error.message_dict.items():
            target: str | None = self.error_targets.get(name, name)
            if target not in self.fields:
                target = None
            for message in messages:
                self.add_error(target, message)


class DetailsForm(MeetingServiceForm):
    """What a meeting and a series share."""

    title = forms.CharField(
        label="Title",
        max_length=160,
        required=False,
        initial=DEFAULT_TITLE,
        help_text="Seen in the app only: never in e-mails or calendar invitations.",
    )
    starts_at = _start_field("Starts at")
    duration_minutes = _duration_field()
    location, call_link = _place_fields()
    reminder_offsets = forms.CharField(
        label="Reminders before the meeting",
        required=False,
        help_text=f"For example {OFFSET_EXAMPLE}. Each attendee is reminded at each of these "
        "times, in the app and by e-mail. Leave empty for no reminders.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("reminder_offsets", format_offsets(default_offsets()))
        super().__init__(*args, **kwargs)
        self.offsets: list[int] = []

    def clean_reminder_offsets(self) -> str:
        text: str = self.cleaned_data.get("reminder_offsets") or ""
        try:
            self.offsets = parse_offsets(text)
        except ValidationError as error:
            raise ValidationError(error.messages) from None
        return text

    def check_the_rest(self) -> None:
        """After the form's own checks failed: the services' checks of the fields that
        passed, so that every problem is shown at once (nothing is saved either way)."""
        _cleaned, errors = check_details(self.details(), timezone.now())
        for name, messages in errors.items():
            if name in self.fields and name not in self.errors:
                for message in messages:
                    self.add_error(name, message)

    def details(self) -> Details:
        data = self.cleaned_data
        return Details(
            starts_at=data.get("starts_at"),
            duration_minutes=data.get("duration_minutes"),
            location=data.get("location") or "",
            call_link=data.get("call_link") or "",
            title=data.get("title") or DEFAULT_TITLE,
            reminder_offsets=self.offsets,
        )


class MeetingForm(DetailsForm):
    """A one-off meeting of one team: its members (all ticked at first) and up to three
    guests from other teams, each for one case."""

    attendees = forms.MultipleChoiceField(
        label="Members invited",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Every active member of the team, unless you untick them.",
        error_messages={"invalid_choice": "Choose members of the team."},
    )
    error_targets = {"guests": "guests"}

    def __init__(
        self,
        *args: Any,
        members: list[tuple[int, str]],
        cases: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("attendees", [str(pk) for pk, _ in members])
        super().__init__(*args, **kwargs)
        attendees: Any = self.fields["attendees"]
        attendees.choices = [(str(pk), label) for pk, label in members]
        case_choices = [("", "Choose the case")] + [(str(pk), label) for pk, label in cases]
        for n in range(GUEST_ROWS):
            self.fields[f"guest_username_{n}"] = forms.CharField(
                label=f"Guest {n + 1}: username", required=False, max_length=150
            )
            self.fields[f"guest_case_{n}"] = forms.ChoiceField(
                label=f"Guest {n + 1}: invited for the case",
                required=False,
                choices=case_choices,
                error_messages={"invalid_choice": "Choose a case of this team."},
            )
        # Errors about the guests as a whole, shown with them.
        self.fields["guests"] = forms.CharField(required=False, widget=forms.HiddenInput)

    @property
    def guest_rows(self) -> list[tuple[Any, Any]]:
        return [(self[f"guest_username_{n}"], self[f"guest_case_{n}"]) for n in range(GUEST_ROWS)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for n in range(GUEST_ROWS):
            username = (data.get(f"guest_username_{n}") or "").strip()
            case = data.get(f"guest_case_{n}")
            if username and not case:
                self.add_error(f"guest_case_{n}", "Choose the case this guest is invited for.")
            if case and not username:
                self.add_error(f"guest_username_{n}", "Enter the guest's username.")
        return data

    def member_ids(self) -> list[int]:
        return [int(pk) for pk in self.cleaned_data.get("attendees") or []]

    def guests(self) -> list[GuestRequest]:
        found = []
        for n in range(GUEST_ROWS):
            username = (self.cleaned_data.get(f"guest_username_{n}") or "").strip()
            case = self.cleaned_data.get(f"guest_case_{n}")
            if username and case:
                found.append(GuestRequest(person=username, case=case))
        return found


class SeriesForm(DetailsForm):
    """A recurring meeting: how it repeats, from the common patterns for the first
    meeting's date or an RFC 5545 rule."""

    pattern = forms.ChoiceField(
        label="Repeats",
        help_text="Worked out from the first meeting's date.",
        error_messages={"required": "Choose how the meeting repeats."},
    )
    custom_rule = forms.CharField(
        label="Custom rule",
        required=False,
        max_length=200,
        help_text="Only with “Custom rule”: an RFC 5545 recurrence rule such as "
        "FREQ=MONTHLY;BYDAY=1TU (the first Tuesday of each month).",
    )
    error_targets = {"rule": "custom_rule"}

    def __init__(self, *args: Any, start: dt.datetime | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("pattern", "monthly_nth")
        super().__init__(*args, **kwargs)
        self.fields["starts_at"].label = "First meeting"
        pattern: Any = self.fields["pattern"]
        pattern.choices = recurrence.patterns(start)
        # The page's script rewrites the choices' words as the date is typed.
        pattern.widget.attrs["data-generic"] = "|".join(
            f"{key}={label}" for key, label in recurrence.GENERIC_LABELS.items()
        )

    def rule(self) -> str:
        """The rule for the services: the pattern's, worked out from the first meeting's
        date, or the custom one as typed. A pattern that does not fit the date is an error
        on `pattern`."""
        key = self.cleaned_data.get("pattern") or ""
        if key == recurrence.CUSTOM:
            return str(self.cleaned_data.get("custom_rule") or "")
        start = self.cleaned_data.get("starts_at")
        if start is None:
            return ""
        found = recurrence.pattern(key, start)
        if found is None or not found.fits:
            raise ValidationError(
                {"pattern": ["The first meeting is not on this pattern: choose another."]}
            )
        return found.rule

    def add_service_errors(self, error: ValidationError) -> None:
        # A rule from a pattern is not what the person typed: its error goes on the pattern.
        if self.cleaned_data.get("pattern") != recurrence.CUSTOM:
            self.error_targets = {"rule": "pattern"}
        super().add_service_errors(error)


class MoveForm(MeetingServiceForm):
    starts_at = _start_field("Starts at")
    duration_minutes = _duration_field()
    location, call_link = _place_fields()

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "starts_at": data.get("starts_at"),
            "duration_minutes": data.get("duration_minutes"),
            "location": data.get("location") or "",
            "call_link": data.get("call_link") or "",
        }


class CancelForm(MeetingServiceForm):
    reason = forms.CharField(
        label="Why it is cancelled",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown on the meeting page to everyone invited, guests from other teams "
        "too: write nothing about a case here.",
    )


class RsvpForm(MeetingServiceForm):
    rsvp = forms.ChoiceField(
        label="Your answer",
        choices=[(value, RSVP_LABELS[value]) for value in RSVP_LABELS],
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose attending, tentative or declined.",
            "invalid_choice": "Choose attending, tentative or declined.",
        },
    )


class AttendanceForm(MeetingServiceForm):
    attended = forms.MultipleChoiceField(
        label="Who attended",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick everyone who took part; the others are recorded as absent.",
        error_messages={"invalid_choice": "Choose people invited to the meeting."},
    )

    def __init__(self, *args: Any, people: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["attended"]
        field.choices = [(str(pk), label) for pk, label in people]


class TeamChoiceForm(forms.Form):
    """The first step for someone who schedules for more than one team."""

    team = forms.ChoiceField(label="Team")

    def __init__(self, *args: Any, teams: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["team"]
        field.choices = [(str(pk), name) for pk, name in teams]
