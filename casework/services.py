"""Writes of casework. Views, API views and tasks call these; each checks the disclosure
policy (teams.disclosure), saves in one transaction and records the audit event."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audit.models import Action
from audit.services import record
from casework.models import Case, CaseNote, NoteKind
from teams.disclosure import CaseAccess, DisclosureLevel, case_access, writable_levels
from teams.disclosure.grants import named_members as current_named_members
from teams.disclosure.grants import set_named_members
from teams.disclosure.policy import NOTE_KIND_INFO, widens
from teams.models import Membership, User


def note_kinds_for(access: CaseAccess) -> dict[str, list[str]]:
    """The note kinds this user may write on this case, each with the levels they may
    give it, in the table's order. Pure Python: the access is already loaded."""
    kinds: dict[str, list[str]] = {}
    for kind in NoteKind.values:
        levels = writable_levels(access, NOTE_KIND_INFO[kind])
        if levels:
            kinds[kind] = levels
    return kinds


def note_levels_for(access: CaseAccess, note: CaseNote) -> list[str]:
    """The levels the note's author may give it now (empty for anyone else)."""
    if note.author_id != access.user_id:
        return []
    return writable_levels(access, NOTE_KIND_INFO[note.kind])


def team_member_ids(case: Case) -> Any:
    """Active users holding an active membership of the case's team, as a subquery."""
    return (
        Membership.objects.active()
        .filter(team_id=case.team_id, user__is_active=True)
        .order_by()
        .values("user_id")
    )


def named_member_choices(case: Case, exclude: Any = None) -> Any:
    """The people a restricted note on this case may name: the team's active members."""
    users = User.objects.filter(pk__in=team_member_ids(case)).order_by(
        "last_name", "first_name", "username"
    )
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return users


def _level_label(level: str) -> str:
    return str(DisclosureLevel(level).label) if level in DisclosureLevel.values else level


def _check_level(
    level: str, allowed: list[str], errors: dict[str, list[str]], record: str = "note"
) -> None:
    if level not in DisclosureLevel.values:
        errors["disclosure_level"] = ["Choose a disclosure level from the list."]
    elif level not in allowed:
        choices = "; ".join(_level_label(lvl) for lvl in allowed)
        errors["disclosure_level"] = [
            f"Your role on this case cannot share this {record} as "
            f"“{_level_label(level)}”. Choose one of: {choices}."
        ]


def _user_ids(users: Iterable[Any]) -> set[int]:
    ids: set[int] = set()
    for user in users:
        ids.add(int(user if isinstance(user, int) else user.pk))
    return ids


def _check_named(case: Case, level: str, named: set[int], errors: dict[str, list[str]]) -> None:
    if not named:
        return
    if level != DisclosureLevel.RESTRICTED:
        errors["named_members"] = [
            "Name people only for a restricted note; the level already decides who sees it."
        ]
        return
    found = set(
        User.objects.filter(pk__in=named)
        .filter(pk__in=team_member_ids(case))
        .values_list("pk", flat=True)
    )
    missing = named - found
    if missing:
        errors["named_members"] = [
            "Only active members of this case's team can be named "
            f"(not: {', '.join(str(pk) for pk in sorted(missing))})."
        ]


def create_note(
    author: Any,
    case: Case,
    kind: str,
    body: str,
    disclosure_level: str,
    named_members: Iterable[Any] = (),
) -> CaseNote:
    """Add a note to a case, at a level the author's role may choose for the kind.
    Bad input raises ValidationError keyed by field; nothing is saved."""
    access = case_access(author, case)
    errors: dict[str, list[str]] = {}
    allowed_kinds = note_kinds_for(access)
    if kind not in NoteKind.values:
        errors["kind"] = ["Choose a kind of note from the list."]
    elif kind not in allowed_kinds:
        if not allowed_kinds:
            errors["kind"] = ["Your role on this case does not write notes."]
        else:
            labels = ", ".join(str(NoteKind(k).label) for k in allowed_kinds)
            errors["kind"] = [
                f"Your role on this case cannot write {NoteKind(kind).label.lower()} notes. "
                f"You can write: {labels}."
            ]
    body = (body or "").strip()
    if not body:
        errors["body"] = ["Write the note."]
    if kind in allowed_kinds:
        _check_level(disclosure_level, allowed_kinds[kind], errors)
    elif disclosure_level not in DisclosureLevel.values:
        errors["disclosure_level"] = ["Choose a disclosure level from the list."]
    named = _user_ids(named_members) - {author.pk}  # the author always sees their note
    if "disclosure_level" not in errors:
        _check_named(case, disclosure_level, named, errors)
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        note = CaseNote.objects.create(
            case=case, author=author, kind=kind, body=body, disclosure_level=disclosure_level
        )
        fields = ["case", "kind", "body", "disclosure_level"]
        if named:
            set_named_members(note, User.objects.filter(pk__in=named), changed_by=author)
            fields.append("named_members")
        # Field names and the level only: the body is case content and stays out of the
        # trail (the trail is read by supervisors and by each actor for their own actions).
        record(
            author,
            Action.CREATE,
            target=note,
            case_id=case.pk,
            detail={"fields": fields, "kind": kind, "disclosure_level": disclosure_level},
        )
    return note


def change_note_level(
    user: Any,
    note: CaseNote,
    level: str,
    named_members: Iterable[Any] | None = None,
) -> CaseNote:
    """Change a note's disclosure level (and, for `restricted`, who is named). Only the
    author may, within what their role may choose now. `named_members=None` keeps the
    current names while the note stays restricted; leaving `restricted` clears them."""
    if note.author_id != user.pk:
        raise PermissionDenied("Only the author of a note can change who it is shared with.")
    access = case_access(user, note.case)
    allowed = note_levels_for(access, note)
    if not allowed:
        raise PermissionDenied("Your role on this case no longer writes this kind of note.")
    errors: dict[str, list[str]] = {}
    _check_level(level, allowed, errors)
    named: set[int] | None = None
    if named_members is not None:
        named = _user_ids(named_members) - {user.pk}
        if "disclosure_level" not in errors:
            _check_named(note.case, level, named, errors)
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        locked = CaseNote.objects.select_for_update().get(pk=note.pk)
        old = locked.disclosure_level
        before_named = set(current_named_members(locked))
        if level != DisclosureLevel.RESTRICTED:
            # Named grants open a note whatever its level, so they go with `restricted`.
            named = set()
        elif named is None:
            named = before_named
        if level != old:
            locked.disclosure_level = level
            locked.save(update_fields=["disclosure_level", "updated_at"])
            record(
                user,
                Action.LEVEL_CHANGE,
                target=locked,
                case_id=locked.case_id,
                detail={
                    "field": "disclosure_level",
                    "old": old,
                    "new": level,
                    "widened": widens(NOTE_KIND_INFO[locked.kind], old, level),
                    **({"named_members": sorted(named)} if named else {}),
                },
            )
        if named != before_named:
            set_named_members(locked, User.objects.filter(pk__in=named), changed_by=user)
    note.disclosure_level = locked.disclosure_level
    note.updated_at = locked.updated_at
    return note
