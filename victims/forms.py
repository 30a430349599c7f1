"""Forms of the victim pages. They check the shape of the input; the services check it
against the disclosure policy and add their errors to the fields they name."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorList
from django.utils import timezone

from casework.models import Case
from teams.disclosure.policy import DisclosureLevel, ReleaseCategory
from teams.models import Membership, User
from teams.roles import Role
from victims.models import InputRequest, VictimInputKind
from victims.services import latest_expiry


class FieldErrorList(ErrorList):
    """Errors styled as such; Django links each list to its field with aria-describedby."""

    def __init__(
        self,
        initlist: Any = None,
        error_class: str | None = None,
        renderer: Any = None,
        field_id: str | None = None,
    ) -> None:
        super().__init__(
            initlist, error_class=error_class or "field-error", renderer=renderer, field_id=field_id
        )


class ServiceForm(forms.Form):
    """Fields the service checks for presence are optional here, so that a missing value
    is reported together with every other problem, in the service's words. They are
    still marked as required for browsers and screen readers (`required_fields`)."""

    required_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("error_class", FieldErrorList)
        super().__init__(*args, **kwargs)
        for name in self.required_fields:
            self.fields[name].widget.attrs["required"] = True

    def add_service_errors(self, error: ValidationError) -> None:
        """Put a service's field errors on the form's fields (others at the top)."""
        for field, messages in error.message_dict.items():
            target = field if field in self.fields else None
            for message in messages:
                self.add_error(target, message)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class MemberChoiceField(forms.ModelChoiceField):
    """Team members, labelled with their roles so the right person is chosen."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.roles: dict[int, list[str]] = {}

    def label_from_instance(self, obj: Any) -> str:
        roles = self.roles.get(obj.pk)
        return f"{obj} ({', '.join(roles)})" if roles else str(obj)


class CaseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.reference}: {obj.supervisee.full_name}"


class ReleaseForm(ServiceForm):
    required_fields = ("recipient", "purpose", "signed_on", "expires_on")

    case = CaseChoiceField(
        queryset=Case.objects.none(),
        label="Case",
        empty_label=None,
        error_messages={"invalid_choice": "Choose a case on which you represent this victim."},
    )
    recipient = MemberChoiceField(
        required=False,
        queryset=User.objects.none(),
        label="Recipient",
        help_text="The one member of the case's team who may see the information.",
        empty_label="Choose a team member",
        error_messages={"invalid_choice": "Choose a current member of this case's team."},
    )
    categories = forms.MultipleChoiceField(
        required=False,
        choices=ReleaseCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Information released",
    )
    purpose = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Purpose",
    )
    signed_on = forms.DateField(
        required=False,
        widget=DateInput(),
        label="Date signed",
    )
    expires_on = forms.DateField(
        required=False,
        widget=DateInput(),
        label="Expiry date",
    )

    def __init__(self, *args: Any, cases: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        limit = latest_expiry(today)
        self.fields["signed_on"].initial = today
        self.fields[
            "expires_on"
        ].help_text = (
            f"Required. No later than {limit:%B} {limit.day}, {limit.year} (one year from today)."
        )
        self.fields["expires_on"].widget.attrs.update(
            {"min": today.isoformat(), "max": limit.isoformat()}
        )
        self.fields["signed_on"].widget.attrs["max"] = today.isoformat()
        case_field: Any = self.fields["case"]
        case_field.queryset = cases
        memberships = (
            Membership.objects.active()
            .filter(team_id__in=cases.values("team_id"), user__is_active=True)
            .exclude(user__is_staff=True)
            .exclude(user=user)
            .order_by("role")
        )
        roles: dict[int, list[str]] = defaultdict(list)
        for user_id, role in memberships.values_list("user_id", "role"):
            label = str(Role(role).label)
            if label not in roles[user_id]:
                roles[user_id].append(label)
        recipient: Any = self.fields["recipient"]
        recipient.queryset = User.objects.filter(pk__in=memberships.values("user_id"))
        recipient.roles = dict(roles)


class RevokeForm(ServiceForm):
    required_fields = ("reason",)

    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Reason for the revocation",
        help_text="For example: the victim withdrew consent on the phone on this date.",
    )


class LevelForm(ServiceForm):
    disclosure_level = forms.ChoiceField(
        label="Shared with",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose who may see this."},
    )
    named_members = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Named members (restricted only)",
        help_text="Who may read a restricted record besides its author.",
    )

    def __init__(self, *args: Any, levels: list[str], members: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        level_field: Any = self.fields["disclosure_level"]
        level_field.choices = [(level, DisclosureLevel(level).label) for level in levels]
        level_field.error_messages["invalid_choice"] = (
            "Choose one of the levels offered; the others are not open to your role."
        )
        named: Any = self.fields["named_members"]
        named.queryset = members


class InputRequestChoiceField(forms.ModelChoiceField):
    """A request for input, shown by what the representatives were told of the decision
    (its kind and summary), and posted as the decision's id, like the API's `decision`."""

    def label_from_instance(self, obj: Any) -> str:
        due = timezone.localtime(obj.due_at)
        return f"{obj.kind_label}: {obj.summary} (answer by {due:%d %b %Y})"


class VictimInputForm(LevelForm):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        label="Victim input",
        help_text="The victim's views, concerns and requests for the team to consider.",
        error_messages={"required": "Enter the input."},
    )
    decision = InputRequestChoiceField(
        queryset=InputRequest.objects.none(),
        to_field_name="decision_id",
        required=False,
        label="On a proposed decision (optional)",
        empty_label="None: input on the case",
        help_text="Input on a decision you were asked about is what the officer must "
        "consider before finalising it. Share it with the officer so they can read it.",
        error_messages={
            "invalid_choice": "Choose a decision of this case on which your input was requested."
        },
    )

    kind = forms.ChoiceField(
        required=False,
        choices=VictimInputKind.choices,
        initial=VictimInputKind.INFORMATION,
        widget=forms.RadioSelect,
        label="What kind of input is this?",
        help_text="Input on a pending decision names the decision; the officer acknowledges it.",
        error_messages={"invalid_choice": "Choose what kind of input this is."},
    )

    field_order = ["body", "kind", "decision", "disclosure_level", "named_members"]

    def __init__(
        self, *args: Any, requests: Any = None, kinds: bool = False, **kwargs: Any
    ) -> None:
        """`requests`: the input requests the author may answer on this case; without
        any, the form has no decision field (the answer page names the decision itself).
        `kinds`: the author chooses the kind (the answer page's input is on its decision);
        input on a pending decision is offered only with a decision to choose."""
        super().__init__(*args, **kwargs)
        if requests is None:
            del self.fields["decision"]
        else:
            decision: Any = self.fields["decision"]
            decision.queryset = requests
        if not kinds:
            del self.fields["kind"]
        elif requests is None:
            kind: Any = self.fields["kind"]
            kind.choices = [
                (value, label)
                for value, label in VictimInputKind.choices
                if value != VictimInputKind.DECISION_INPUT
            ]
