"""Forms for casework. Their choices come from the disclosure policy through the user's
CaseAccess, so a form offers only what the user may write; the services check again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from casework.models import Case, CaseNote, NoteKind
from casework.services import named_member_choices, note_kinds_for, note_levels_for
from teams.disclosure import CaseAccess, DisclosureLevel
from teams.disclosure.policy import DEFAULT_LEVEL, NOTE_KIND_INFO
from teams.models import User

NAMED_HELP = (
    "Only for a restricted note: the people on this case's team who may read it, besides you."
)

LEVEL_NOT_ALLOWED = (
    "Your role cannot share this kind of note at that level. Choose one of the levels listed."
)
NAMED_NOT_ON_TEAM = "Only active members of this case's team can be named."


class MemberChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        user: User = obj
        return str(user)


def _level_choices(levels: list[str]) -> list[tuple[str, str]]:
    return [(level, str(DisclosureLevel(level).label)) for level in levels]


class NoteForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind of note",
        error_messages={
            "invalid_choice": "Your role on this case does not write that kind of note. "
            "Choose one from the list."
        },
    )
    body = forms.CharField(
        label="Note", widget=forms.Textarea(attrs={"rows": 5}), strip=True, max_length=20000
    )
    disclosure_level = forms.ChoiceField(
        label="Who can see it",
        help_text="Only the levels your role may choose for this kind of note are offered.",
        error_messages={"invalid_choice": LEVEL_NOT_ALLOWED},
    )
    named_members = MemberChoiceField(
        label="Named people",
        queryset=User.objects.none(),
        required=False,
        error_messages={"invalid_choice": NAMED_NOT_ON_TEAM, "invalid_pk_value": NAMED_NOT_ON_TEAM},
        widget=forms.CheckboxSelectMultiple,
        help_text=NAMED_HELP,
    )

    def __init__(self, *args: Any, case: Case, access: CaseAccess, author: Any, **kwargs: Any):
        self.kinds = note_kinds_for(access)
        if self.kinds and "initial" not in kwargs:
            first = next(iter(self.kinds))
            default = DEFAULT_LEVEL[NOTE_KIND_INFO[first]]
            level = default if default in self.kinds[first] else self.kinds[first][0]
            kwargs["initial"] = {"kind": first, "disclosure_level": level}
        super().__init__(*args, **kwargs)
        kind_field: Any = self.fields["kind"]
        kind_field.choices = [(kind, NoteKind(kind).label) for kind in self.kinds]
        # A person with two roles on the team may be offered levels that fit only one of
        # the kinds; clean() names the level if the pair does not fit.
        levels: list[str] = []
        for allowed in self.kinds.values():
            levels += [level for level in allowed if level not in levels]
        level_field: Any = self.fields["disclosure_level"]
        level_field.choices = _level_choices(levels)
        named_field: Any = self.fields["named_members"]
        named_field.queryset = named_member_choices(case, exclude=author)

    @property
    def can_write(self) -> bool:
        return bool(self.kinds)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, level = data.get("kind"), data.get("disclosure_level")
        if kind and level and level not in self.kinds.get(kind, []):
            self.add_error(
                "disclosure_level",
                ValidationError(
                    "Your role cannot share a %(kind)s note at this level.",
                    params={"kind": NoteKind(kind).label.lower()},
                ),
            )
        if data.get("named_members") and level and level != DisclosureLevel.RESTRICTED:
            self.add_error(
                "named_members",
                "Name people only for a restricted note; untick them or choose “Restricted”.",
            )
        return data


class NoteLevelForm(forms.Form):
    disclosure_level = forms.ChoiceField(
        label="Who can see it", error_messages={"invalid_choice": LEVEL_NOT_ALLOWED}
    )
    named_members = MemberChoiceField(
        label="Named people",
        queryset=User.objects.none(),
        required=False,
        error_messages={"invalid_choice": NAMED_NOT_ON_TEAM, "invalid_pk_value": NAMED_NOT_ON_TEAM},
        widget=forms.CheckboxSelectMultiple,
        help_text=NAMED_HELP,
    )

    def __init__(
        self, *args: Any, note: CaseNote, access: CaseAccess, named: list[int], **kwargs: Any
    ):
        kwargs.setdefault(
            "initial", {"disclosure_level": note.disclosure_level, "named_members": named}
        )
        super().__init__(*args, **kwargs)
        level_field: Any = self.fields["disclosure_level"]
        level_field.choices = _level_choices(note_levels_for(access, note))
        named_field: Any = self.fields["named_members"]
        named_field.queryset = named_member_choices(note.case, exclude=note.author)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        level = data.get("disclosure_level")
        if data.get("named_members") and level and level != DisclosureLevel.RESTRICTED:
            self.add_error(
                "named_members",
                "Name people only for a restricted note; untick them or choose “Restricted”.",
            )
        return data
