"""Writes of victim information: releases of information (consents) and victim input.

Every write is checked against the disclosure policy, done in one transaction and
audited in it. Bad input raises django's ValidationError with a dict of field errors
(the field names are those of the forms and the API), and nothing is saved.

Audit details never carry locating values, the purpose of a release or the text of
victim input: the audit trail is read by more people than the records themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast
from django.utils import timezone

from audit.models import Action, AuditEvent
from audit.services import record
from casework.models import Case, CaseDecision, DecisionStatus
from teams.disclosure import case_access, restrict, writable_levels
from teams.disclosure.grants import named_members as current_named_members
from teams.disclosure.grants import set_named_members
from teams.disclosure.policy import (
    DEFAULT_LEVEL,
    MATRIX,
    Access,
    DisclosureLevel,
    Info,
    ReleaseCategory,
    widens,
)
from teams.models import Membership, User
from victims.models import (
    CaseVictim,
    InputRequest,
    Release,
    ReleaseItem,
    Victim,
    VictimInput,
    VictimInputKind,
    VictimUserObjectPermission,
)
from victims.selectors import may_write_releases

# "An expiry date (required, at most one year ahead)".
MAX_RELEASE_DAYS = 365


class _Errors:
    """Collects field errors so that the user sees every problem at once."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            raise ValidationError(self.fields)


def latest_expiry(today: dt.date | None = None) -> dt.date:
    return (today or timezone.localdate()) + dt.timedelta(days=MAX_RELEASE_DAYS)


def release_codename(category: str) -> str:
    return f"view_released_{category}"


def team_members(case: Case) -> Any:
    """The people who may receive a release on this case: active accounts with a
    membership of the case's team today. The system administrator reads no case content."""
    return User.objects.filter(
        is_active=True,
        is_staff=False,
        pk__in=Membership.objects.active().filter(team_id=case.team_id).values("user_id"),
    )


# --- Releases of information -----------------------------------------------------------


def _may_learn_identity(recipient: Any, case: Case) -> bool:
    """Only roles the policy does not limit to a pseudonym may receive identity."""
    roles = set(
        Membership.objects.active()
        .filter(user=recipient, team_id=case.team_id)
        .values_list("role", flat=True)
    )
    # From the policy table: the roles it limits to a pseudonym (treatment, polygraph).
    pseudonym_only = {
        role for role, access in MATRIX[Info.VICTIM_IDENTITY].items() if access is Access.PSEUDONYM
    }
    return bool(roles - pseudonym_only)


def create_release(
    created_by: Any,
    victim: Victim,
    case: Case,
    recipient: Any,
    categories: Iterable[str],
    purpose: str,
    signed_on: dt.date | None,
    expires_on: dt.date | None,
) -> Release:
    """Record a victim's release: `recipient` may see `categories` of `victim` until
    `expires_on` (inclusive), unless revoked earlier."""
    if not may_write_releases(case_access(created_by, case)):
        # Nothing else is checked: it would tell an outsider who is on the team.
        raise ValidationError(
            {"case": ["Only the victim representatives of this case may record a release."]}
        )
    errors = _Errors()
    if not CaseVictim.objects.filter(case=case, victim=victim).exists():
        errors.add("victim", "This victim is not linked to this case.")
    if recipient is None:
        errors.add("recipient", "Choose the team member who receives the information.")
    elif recipient.pk == created_by.pk:
        errors.add("recipient", "Choose a team member other than yourself.")
    elif not team_members(case).filter(pk=recipient.pk).exists():
        errors.add("recipient", "Choose a current member of this case's team.")
    chosen = list(dict.fromkeys(categories or ()))
    unknown = [value for value in chosen if value not in ReleaseCategory.values]
    if not chosen:
        errors.add("categories", "Choose at least one category of information.")
    elif unknown:
        errors.add("categories", f"Unknown categories: {', '.join(map(str, unknown))}.")
    elif (
        ReleaseCategory.IDENTITY in chosen
        and recipient is not None
        and not _may_learn_identity(recipient, case)
    ):
        # DESIGN rule 3: treatment and polygraph roles never see a victim's identity.
        errors.add(
            "categories",
            "Treatment providers and polygraph examiners see a pseudonym, never a "
            "victim's identity; remove Identity from this release.",
        )
    purpose = (purpose or "").strip()
    if not purpose:
        errors.add("purpose", "Enter the purpose the victim gave the release for.")
    today = timezone.localdate()
    if signed_on is None:
        errors.add("signed_on", "Enter the date the release was signed.")
    elif signed_on > today:
        errors.add("signed_on", "The signing date cannot be in the future.")
    limit = latest_expiry(today)
    if expires_on is None:
        errors.add(
            "expires_on",
            "Enter the expiry date; a release must expire by "
            f"{limit:%B} {limit.day}, {limit.year}.",
        )
    elif expires_on < today:
        errors.add("expires_on", "The expiry date cannot be in the past.")
    elif expires_on > limit:
        errors.add(
            "expires_on",
            "A release can last at most one year: "
            f"choose a date no later than {limit:%B} {limit.day}, {limit.year}.",
        )
    elif signed_on is not None and expires_on < signed_on:
        errors.add("expires_on", "The release cannot expire before the date it was signed.")
    errors.raise_if_any()
    assert signed_on is not None and expires_on is not None

    permissions = _release_permissions(chosen)
    with transaction.atomic():
        release = Release.objects.create(
            victim=victim,
            case=case,
            recipient=recipient,
            purpose=purpose,
            signed_on=signed_on,
            expires_on=expires_on,
            created_by=created_by,
        )
        ReleaseItem.objects.bulk_create(
            [ReleaseItem(release=release, category=category) for category in chosen]
        )
        # Another active release may already hold the same row (a renewal signed before
        # the old one runs out); the row is shared, not duplicated.
        VictimUserObjectPermission.objects.bulk_create(
            [
                VictimUserObjectPermission(
                    user=recipient, content_object=victim, permission=permissions[category]
                )
                for category in chosen
            ],
            ignore_conflicts=True,
        )
        record(
            created_by,
            Action.RELEASE_CHANGE,
            target=release,
            case_id=case.pk,
            detail={
                "change": "created",
                "victim": victim.pk,
                "recipient": recipient.pk,
                "categories": chosen,
                "signed_on": signed_on.isoformat(),
                "expires_on": expires_on.isoformat(),
            },
        )
    return release


def revoke_release(user: Any, release: Release, reason: str) -> Release:
    """The victim withdrew consent: the recipient loses access on their next request."""
    if not may_write_releases(case_access(user, release.case)):
        raise ValidationError(
            {NON_FIELD_ERRORS: ["Only the victim representatives of this case may revoke it."]}
        )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Enter the reason for the revocation."]})
    with transaction.atomic():
        # Locked so that two revocations at once cannot both pass the check below.
        current = Release.objects.select_for_update().get(pk=release.pk)
        if current.revoked_at is not None:
            raise ValidationError({NON_FIELD_ERRORS: ["This release has already been revoked."]})
        if not current.is_active:
            raise ValidationError(
                {NON_FIELD_ERRORS: ["This release has expired; it no longer grants anything."]}
            )
        current.revoked_at = timezone.now()
        current.revoked_by = user
        current.revocation_reason = reason
        current.save(update_fields=["revoked_at", "revoked_by", "revocation_reason"])
        categories = current.category_list
        _drop_grants(current, categories)
        record(
            user,
            Action.RELEASE_CHANGE,
            target=current,
            case_id=current.case_id,
            detail={
                "change": "revoked",
                "victim": current.victim_id,
                "recipient": current.recipient_id,
                "categories": categories,
            },
        )
    release.revoked_at = current.revoked_at
    release.revoked_by = current.revoked_by
    release.revocation_reason = current.revocation_reason
    return release


def expire_releases(today: dt.date | None = None) -> int:
    """Housekeeping: remove the guardian rows of releases past their expiry date and
    record each expiry once. The releases stopped working at midnight already, because
    every query checks the date itself. Safe to run twice, and by two workers at once."""
    today = today or timezone.localdate()
    recorded = AuditEvent.objects.filter(
        action=Action.RELEASE_CHANGE,
        target_type=Release._meta.label_lower,
        target_id=Cast(OuterRef("pk"), CharField()),
        detail__change="expired",
    )
    with transaction.atomic():
        due = list(
            Release.objects.filter(revoked_at__isnull=True, expires_on__lt=today)
            .filter(~Exists(recorded))
            .select_for_update(skip_locked=True)
            .prefetch_related("items")
            .order_by("pk")
        )
        for release in due:
            categories = release.category_list
            _drop_grants(release, categories)
            record(
                None,
                Action.RELEASE_CHANGE,
                target=release,
                case_id=release.case_id,
                detail={
                    "change": "expired",
                    "victim": release.victim_id,
                    "recipient": release.recipient_id,
                    "categories": categories,
                    "expires_on": release.expires_on.isoformat(),
                },
            )
    return len(due)


def _release_permissions(categories: Sequence[str]) -> dict[str, Permission]:
    content_type = ContentType.objects.get_for_model(Victim)
    by_codename = {
        perm.codename: perm
        for perm in Permission.objects.filter(
            content_type=content_type, codename__in=[release_codename(c) for c in categories]
        )
    }
    missing = [c for c in categories if release_codename(c) not in by_codename]
    if missing:
        raise RuntimeError(f"Release permissions missing; run migrate: {missing}")
    return {category: by_codename[release_codename(category)] for category in categories}


def _drop_grants(release: Release, categories: Iterable[str]) -> int:
    """Delete the recipient's rows for the release's categories, except those another
    active release of the same victim to the same recipient still names."""
    still_released = set(
        ReleaseItem.objects.filter(
            release__in=Release.objects.active()
            .filter(recipient_id=release.recipient_id, victim_id=release.victim_id)
            .exclude(pk=release.pk)
        ).values_list("category", flat=True)
    )
    codes = [release_codename(c) for c in categories if c not in still_released]
    if not codes:
        return 0
    deleted, _ = VictimUserObjectPermission.objects.filter(
        user_id=release.recipient_id,
        content_object_id=release.victim_id,
        permission__codename__in=codes,
    ).delete()
    return deleted


# --- Victim input ----------------------------------------------------------------------


def create_victim_input(
    author: Any,
    case: Case,
    body: str,
    disclosure_level: str | None = None,
    named_members: Iterable[Any] = (),
    decision: CaseDecision | None = None,
    kind: str | None = None,
) -> VictimInput:
    """Case-level input from a victim representative, shared at a level the policy lets
    them choose; a restricted record is read by its author and `named_members` only.
    With `decision`, the input answers the request for input on that proposed decision
    (one of this case that the author was asked about, not yet final or withdrawn).
    `kind` says what the input is (VictimInputKind); input on a pending decision and a
    decision go together. Without `kind`: input on the decision if one is given,
    information for the team otherwise."""
    access = case_access(author, case)
    levels = writable_levels(access, Info.VICTIM_INPUT)
    if not levels:
        raise ValidationError(
            {"case": ["Only the victim representatives of this case may record victim input."]}
        )
    errors = _Errors()
    body = (body or "").strip()
    if not body:
        errors.add("body", "Enter the input.")
    level = disclosure_level or DEFAULT_LEVEL[Info.VICTIM_INPUT]
    if level not in levels:
        errors.add("disclosure_level", _level_error(levels))
    members = _named_members(case, level, named_members, author, errors)
    _check_answered_decision(author, case, decision, errors)
    kind = _check_kind(kind, decision, errors)
    errors.raise_if_any()
    with transaction.atomic():
        item = VictimInput.objects.create(
            case=case,
            author=author,
            body=body,
            disclosure_level=level,
            decision=decision,
            kind=kind,
        )
        record(
            author,
            Action.CREATE,
            target=item,
            case_id=case.pk,
            detail={
                "disclosure_level": level,
                "kind": kind,
                **({"decision": decision.pk} if decision is not None else {}),
            },
        )
        if members:
            set_named_members(item, members, changed_by=author)
    return item


NOT_ASKED = "Choose a decision of this case on which your input was requested."
NEEDS_DECISION = "Choose the pending decision this input is on."


def _check_kind(kind: str | None, decision: CaseDecision | None, errors: _Errors) -> str:
    """Input on a pending decision names the decision, and input naming a decision is
    input on it: a mismatch is a field error on whichever field the author must fix."""
    if not kind:
        if decision is not None:
            return VictimInputKind.DECISION_INPUT
        return VictimInputKind.INFORMATION
    if kind not in VictimInputKind.values:
        errors.add("kind", "Choose what kind of input this is.")
    elif kind == VictimInputKind.DECISION_INPUT and decision is None:
        errors.add("decision", NEEDS_DECISION)
    elif kind != VictimInputKind.DECISION_INPUT and decision is not None:
        errors.add(
            "kind",
            "Input linked to a decision is input on a pending decision: choose that kind, "
            "or remove the decision.",
        )
    return kind


def _check_answered_decision(
    author: Any, case: Case, decision: CaseDecision | None, errors: _Errors
) -> None:
    """Input may answer only a request the author can read, on a decision of this case
    that is not final or withdrawn. A decision the author was not asked about gets the
    same message whether or not it exists (they may not read drafts)."""
    if decision is None:
        return
    asked = restrict(
        InputRequest.objects.filter(case_id=case.pk, decision_id=decision.pk), author
    ).exists()
    if not asked:
        errors.add("decision", NOT_ASKED)
    elif decision.status in (DecisionStatus.FINAL, DecisionStatus.WITHDRAWN):
        errors.add(
            "decision",
            f"This decision is {decision.get_status_display().lower()}: it no longer takes "
            "input. Save the input without a decision to add it to the case.",
        )


def change_victim_input_level(
    user: Any,
    victim_input: VictimInput,
    disclosure_level: str,
    named_members: Iterable[Any] | None = None,
) -> VictimInput:
    """Change who a record of victim input is shared with. A victim representative of
    the case who can read the record may change it, to a level the policy lets them
    choose. `named_members` of None keeps the current ones (for a restricted record)."""
    case = victim_input.case
    access = case_access(user, case)
    levels = writable_levels(access, Info.VICTIM_INPUT)
    if not levels or not access.can_see(victim_input):
        raise ValidationError(
            {
                "disclosure_level": [
                    "Only the victim representatives of this case may change who sees this."
                ]
            }
        )
    errors = _Errors()
    if disclosure_level not in levels:
        errors.add("disclosure_level", _level_error(levels))
    old = victim_input.disclosure_level
    restricted = disclosure_level == DisclosureLevel.RESTRICTED
    if named_members is None:
        wanted = (
            list(User.objects.filter(pk__in=current_named_members(victim_input)))
            if restricted
            else []
        )
    else:
        wanted = _named_members(case, disclosure_level, named_members, victim_input.author, errors)
    errors.raise_if_any()
    with transaction.atomic():
        if old != disclosure_level:
            victim_input.disclosure_level = disclosure_level
            victim_input.save(update_fields=["disclosure_level", "updated_at"])
            record(
                user,
                Action.LEVEL_CHANGE,
                target=victim_input,
                case_id=case.pk,
                detail={
                    "old": old,
                    "new": disclosure_level,
                    # Some role that could not read it before now can.
                    "widened": widens(Info.VICTIM_INPUT, old, disclosure_level),
                },
            )
        # Records the change in the audit trail itself, when there is one.
        set_named_members(victim_input, wanted, changed_by=user)
    return victim_input


def _level_error(levels: list[str]) -> str:
    labels = [str(DisclosureLevel(level).label) for level in levels]
    return f"Choose one of the levels you may use here: {'; '.join(labels)}."


def _named_members(
    case: Case, level: str, members: Iterable[Any], author: Any, errors: _Errors
) -> list[Any]:
    """Named members apply to restricted records only, and must be on the case's team."""
    chosen = [member for member in members or () if member.pk != author.pk]
    if not chosen:
        return []
    if level != DisclosureLevel.RESTRICTED:
        errors.add("named_members", "Name members only for a restricted record.")
        return []
    ids = {member.pk for member in chosen}
    on_team = set(team_members(case).filter(pk__in=ids).values_list("pk", flat=True))
    if ids - on_team:
        errors.add("named_members", "Name only current members of this case's team.")
    return list({member.pk: member for member in chosen}.values())
