"""The lifecycle of a case decision: draft, proposed, approved, final, or withdrawn.

Views, API views and tasks call these. Each function checks who may act (the disclosure
policy through `case_access`, and the table in `casework.decision_rules`), changes the
decision in one transaction under a row lock, records an audit event naming the
transition, and tells the people who must act next (`teams.notify`). Bad input raises
django's ValidationError keyed by field and changes nothing; acting outside one's role
raises PermissionDenied.

The victim-centered gate (DESIGN rule 5): a decision that touches a victim, on a case
with a represented victim, is final only with the representative's input linked to it,
or with a recorded reason for proceeding without it.

casework may not import the victims app at module level (victims depends on casework,
not the reverse); the few victim rows the lifecycle needs are reached by local imports.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from audit.models import Action
from audit.services import record
from casework import agenda, decision_rules
from casework.models import (
    Case,
    CaseDecision,
    DecisionKind,
    DecisionStatus,
    ImpactRating,
    Interest,
    PlaceCheck,
    ProceedReason,
)
from casework.services import _check_level
from teams.disclosure import CaseAccess, case_access, restrict
from teams.disclosure.policy import DEFAULT_LEVEL, Info, choosable_levels, write_codename
from teams.disclosure.queries import team_ids_for
from teams.models import Membership, NotificationKind, User
from teams.notify import notify
from teams.roles import Role
from teams.selectors import team_members

if TYPE_CHECKING:
    from victims.models import InputRequest

S = DecisionStatus

WORKSHEET_FIELDS: tuple[str, ...] = tuple(
    f"{interest}_{part}" for interest in Interest.values for part in ("benefits", "risks", "impact")
)
IMPACT_FIELDS: tuple[str, ...] = tuple(f"{interest}_impact" for interest in Interest.values)
FLAG_FIELDS: tuple[str, ...] = ("community_danger", "victim_danger", "relaxes_condition")
PLACE_FIELDS: tuple[str, ...] = (
    "place_description",
    "place_postal_code",
    "place_latitude",
    "place_longitude",
)
# What an officer writes on a draft; everything else is set by the lifecycle.
EDITABLE_FIELDS: tuple[str, ...] = (
    "kind",
    "summary",
    "rationale",
    *WORKSHEET_FIELDS,
    *FLAG_FIELDS,
    *PLACE_FIELDS,
    "disclosure_level",
)
TEXT_LIMITS: dict[str, int] = {"summary": 200, "place_description": 200, "place_postal_code": 20}
LONG_TEXT_LIMIT = 20000
SIX_PLACES = Decimal("0.000001")  # the coordinate columns' precision

# Transitions a person can ask for by name (the pages' buttons and the API's actions).
ACTIONS: tuple[str, ...] = ("propose", "approve", "return", "finalise", "withdraw")
WITHDRAWABLE = (S.DRAFT, S.PROPOSED, S.APPROVED)

FINAL_IS_FIXED = (
    "A final decision is never changed. To change it, supersede it with a new decision."
)
IMPACT_OFF_SCALE = (
    "Choose a rating on the scale: -2 (serious harm), -1 (some harm), 0 (no real effect), "
    "1 (some benefit) or 2 (clear benefit)."
)


# --- Who may do what ---------------------------------------------------------------------


def decision_levels(access: CaseAccess) -> list[str]:
    """The disclosure levels this user may give a decision on this case, once final;
    empty for anyone who does not write decisions there. Drafts are read by their author
    and supervisors whatever the level (the policy's draft row)."""
    if write_codename(Info.DECISION_DRAFT) not in access.codes:
        return []
    return choosable_levels(Info.DECISION_FINAL, access.roles)


def may_write_decisions(access: CaseAccess) -> bool:
    return bool(decision_levels(access))


def is_team_supervisor(access: CaseAccess) -> bool:
    """A supervisor by membership of the case's team (a guest or emergency access reads a
    case; it approves nothing there)."""
    return Role.SUPERVISOR in access.roles


def is_author(user: Any, decision: CaseDecision) -> bool:
    return bool(user.pk is not None and decision.author_id == user.pk)


def allowed_actions(user: Any, access: CaseAccess, decision: CaseDecision) -> list[str]:
    """The transitions this user may ask for now, in the order the page shows them. The
    services check again, with the row locked; this decides which buttons to show."""
    found: list[str] = []
    author = is_author(user, decision) and may_write_decisions(access)
    supervisor = is_team_supervisor(access)
    status = decision.status
    if author and status == S.DRAFT:
        found.append("propose")
    if supervisor and not is_author(user, decision) and status == S.PROPOSED:
        if decision_rules.needs_approval(decision):
            found.append("approve")
        found.append("return")
    if author and (
        status == S.APPROVED
        or (status == S.PROPOSED and not decision_rules.needs_approval(decision))
    ):
        found.append("finalise")
    if (author or supervisor) and status in WITHDRAWABLE:
        found.append("withdraw")
    return found


def may_edit(user: Any, access: CaseAccess, decision: CaseDecision) -> bool:
    return decision.status == S.DRAFT and is_author(user, decision) and may_write_decisions(access)


def may_supersede(user: Any, access: CaseAccess, decision: CaseDecision) -> bool:
    return (
        decision.status == S.FINAL
        and may_write_decisions(access)
        and not CaseDecision.objects.filter(supersedes=decision).exists()
    )


# --- The victim-centered gate --------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """Where a decision stands with rule 5. `input_ids` are every input linked to the
    decision, whoever may read them: the gate is met by input the reader cannot see too
    (pages show the ones the reader may read, through the disclosure policy)."""

    applies: bool
    request: InputRequest | None = None
    input_ids: tuple[int, ...] = ()
    considered_ids: tuple[int, ...] = ()

    @property
    def has_input(self) -> bool:
        return bool(self.input_ids)

    @property
    def due_passed(self) -> bool:
        return self.request is not None and self.request.due_at <= timezone.now()


def has_represented_victim(case_id: int) -> bool:
    from victims.models import CaseVictim

    return CaseVictim.objects.filter(case_id=case_id, representative__isnull=False).exists()


def gate(decision: CaseDecision) -> Gate:
    """Three small queries at most: the represented victim, the request, the inputs."""
    if not decision_rules.touches_victims(decision) or not has_represented_victim(decision.case_id):
        return Gate(applies=False)
    from victims.models import InputRequest, VictimInput

    request = InputRequest.objects.filter(decision=decision).first()
    rows = list(
        VictimInput.objects.filter(decision=decision)
        .order_by("created_at", "pk")
        .values_list("pk", "created_at")
    )
    considered = [
        pk
        for pk, created in rows
        if decision.finalised_at is None or created <= decision.finalised_at
    ]
    return Gate(
        applies=True,
        request=request,
        input_ids=tuple(pk for pk, _ in rows),
        considered_ids=tuple(considered),
    )


def _check_gate(
    decision: CaseDecision, proceed_reason: str, explanation: str, errors: dict[str, list[str]]
) -> tuple[Gate, str, str]:
    """The reason and explanation to store: none when input was given."""
    status = gate(decision)
    if not status.applies or status.has_input:
        return status, ProceedReason.NONE, ""
    if proceed_reason not in ProceedReason.values or proceed_reason == ProceedReason.NONE:
        errors["proceed_reason"] = [
            "This decision touches a victim: the victim representative has not given input "
            "on it yet. Wait for their input, or record why you proceed without it."
        ]
    elif proceed_reason == ProceedReason.NO_ANSWER and status.request is None:
        # The victim was represented only after the proposal: no request, no time limit.
        errors["proceed_reason"] = [
            "The victim representative was not asked for input on this decision, so their "
            "time to answer cannot have run out. Ask them, or give another reason."
        ]
    elif proceed_reason == ProceedReason.NO_ANSWER and not status.due_passed:
        assert status.request is not None
        due = timezone.localtime(status.request.due_at)
        errors["proceed_reason"] = [
            f"The representative's time to answer has not run out: it ends on "
            f"{due:%d %b %Y at %H:%M}. Wait for their input, or give another reason."
        ]
    if not explanation:
        errors["proceed_explanation"] = [
            "Explain why you proceed without the victim representative's input."
        ]
    return status, proceed_reason, explanation


# --- Checking what an officer writes -----------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _impact(value: Any) -> tuple[int | None, bool]:
    """(rating, ok): blank is no rating yet; anything off the scale is not ok."""
    if value is None or value == "":
        return None, True
    if isinstance(value, bool):
        return None, False
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,3}\s*", value):
        number = int(value)
    else:
        return None, False
    return (number, True) if number in ImpactRating.values else (None, False)


def _flag(value: Any) -> tuple[bool, bool]:
    if isinstance(value, bool):
        return value, True
    text = _text(value).lower()
    if text in ("", "false", "0", "off", "no"):
        return False, True
    if text in ("true", "1", "on", "yes"):
        return True, True
    return False, False


def _clean(
    data: Mapping[str, Any], current: Mapping[str, Any], allowed_levels: list[str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The editable fields as they will be stored (`current` filled in for those not
    given), and the errors found, keyed by field."""
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    for name in unknown:
        errors[name] = ["This field cannot be set here."]
    values = {name: data.get(name, current.get(name)) for name in EDITABLE_FIELDS}

    kind = _text(values["kind"])
    if kind not in DecisionKind.values:
        errors["kind"] = ["Choose a kind of decision from the list."]
    values["kind"] = kind
    for name in ("summary", "rationale", *(f for f in WORKSHEET_FIELDS if f not in IMPACT_FIELDS)):
        values[name] = _text(values[name])
        limit = TEXT_LIMITS.get(name, LONG_TEXT_LIMIT)
        if len(values[name]) > limit:
            errors[name] = [f"Keep this to {limit} characters (it has {len(values[name])})."]
    if not values["summary"]:
        errors["summary"] = ["Write a one-line summary of the decision."]
    for name in IMPACT_FIELDS:
        rating, ok = _impact(values[name])
        values[name] = rating
        if not ok:
            errors[name] = [IMPACT_OFF_SCALE]
    for name in FLAG_FIELDS:
        flag, ok = _flag(values[name])
        values[name] = flag
        if not ok:
            errors[name] = ["Answer yes or no."]

    level = _text(values["disclosure_level"]) or DEFAULT_LEVEL[Info.DECISION_FINAL]
    values["disclosure_level"] = level
    _check_level(level, allowed_levels, errors, record="decision")

    _clean_place(values, kind, errors)
    return values, errors


def _clean_place(values: dict[str, Any], kind: str, errors: dict[str, list[str]]) -> None:
    if kind not in DecisionKind.values or not decision_rules.concerns_place(kind):
        # A kind that concerns no place keeps none, so nothing is checked or shown.
        values.update(
            place_description="", place_postal_code="", place_latitude=None, place_longitude=None
        )
        return
    from victims.place_check import validate_place  # the check's own rule for a place

    for name in ("place_description", "place_postal_code"):
        values[name] = _text(values[name])
        if len(values[name]) > TEXT_LIMITS[name]:
            errors[name] = [f"Keep this to {TEXT_LIMITS[name]} characters."]
    try:
        validate_place(
            values["place_postal_code"], values["place_latitude"], values["place_longitude"]
        )
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault(name, []).extend(messages)
        return
    for name in ("place_latitude", "place_longitude"):
        raw = values[name]
        values[name] = (
            None if raw is None or raw == "" else Decimal(str(raw).strip()).quantize(SIX_PLACES)
        )


def _place_of(values: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(name) for name in PLACE_FIELDS[1:])


def _check_place(decision: CaseDecision, actor: Any) -> None:
    """The blind location check (victims.place_check): it compares the place with the
    victims' protected locations, stamps the result on the decision and tells the
    officer only whether there may be a conflict. The victims app owns the locations,
    so it is imported here, not above."""
    if not decision_rules.concerns_place(decision.kind):
        if decision.place_check != PlaceCheck.NOT_CHECKED or decision.place_checked_at:
            decision.place_check = PlaceCheck.NOT_CHECKED
            decision.place_checked_at = None
            decision.save(update_fields=["place_check", "place_checked_at", "updated_at"])
        return
    from victims.place_check import check_place

    check_place(decision, actor)


# --- Drafts ----------------------------------------------------------------------------------


def _current(decision: CaseDecision) -> dict[str, Any]:
    return {name: getattr(decision, name) for name in EDITABLE_FIELDS}


def _check_supersedes(case: Case, target: Any, errors: dict[str, list[str]]) -> Any:
    if target is None:
        return None
    if not isinstance(target, CaseDecision):
        target = CaseDecision.objects.filter(pk=getattr(target, "pk", target)).first()
    if target is None or target.case_id != case.pk:
        errors["supersedes"] = ["A decision can only supersede a final decision of the same case."]
        return None
    if target.status != S.FINAL:
        errors["supersedes"] = [
            "Only a final decision can be superseded; this one is "
            f"{target.get_status_display().lower()}."
        ]
        return None
    later = CaseDecision.objects.filter(supersedes=target).first()
    if later is not None:
        errors["supersedes"] = [f"That decision is already superseded by decision #{later.pk}."]
        return None
    return target


def create_decision(
    author: Any,
    case: Case,
    data: Mapping[str, Any],
    *,
    supersedes: Any = None,
    agenda_item: Any = None,
) -> CaseDecision:
    """A new draft on the case, by an officer of its team. `supersedes`: a final decision
    of the same case that this one replaces once final. `agenda_item`: the review
    meeting's item (of the same case, one the author may see) it is taken at."""
    access = case_access(author, case)
    levels = decision_levels(access)
    if not levels:
        raise PermissionDenied("Only an officer on this case's team writes decisions.")
    values, errors = _clean(data, {"kind": "", "disclosure_level": ""}, levels)
    target = _check_supersedes(case, supersedes, errors)
    item = None
    try:
        item = agenda.linkable_item(author, case, agenda_item)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        decision = CaseDecision.objects.create(
            case=case,
            author=author,
            status=S.DRAFT,
            supersedes=target,
            agenda_item=item,
            **values,
        )
        # Field names, kind and level only: the summary and worksheet are case content.
        record(
            author,
            Action.CREATE,
            target=decision,
            case_id=case.pk,
            detail={
                "fields": sorted(name for name in EDITABLE_FIELDS if data.get(name)),
                "kind": decision.kind,
                "disclosure_level": decision.disclosure_level,
                **({"supersedes": target.pk} if target else {}),
                **({"agenda_item": item.pk} if item else {}),
            },
        )
        if any(values[name] for name in PLACE_FIELDS):
            _check_place(decision, author)
    return decision


def _lock(decision: CaseDecision) -> CaseDecision:
    """Re-read the row under a lock, so that two people acting at once cannot both move
    it (the second sees the state the first left)."""
    locked = CaseDecision.objects.select_for_update().select_related("case").get(pk=decision.pk)
    return locked


def _refresh(target: CaseDecision, source: CaseDecision) -> CaseDecision:
    for f in CaseDecision._meta.concrete_fields:
        setattr(target, f.attname, getattr(source, f.attname))
    return target


def _status_error(decision: CaseDecision, wanted: str) -> ValidationError:
    if decision.status == S.FINAL:
        return ValidationError({"status": [FINAL_IS_FIXED]})
    return ValidationError(
        {
            "status": [
                f"This decision is {decision.get_status_display().lower()}; "
                f"only a {wanted} decision can be changed this way."
            ]
        }
    )


def update_decision(user: Any, decision: CaseDecision, data: Mapping[str, Any]) -> CaseDecision:
    """Change a draft: only its author, only while it is a draft. A final decision is
    never changed (supersede it)."""
    if not is_author(user, decision):
        raise PermissionDenied("Only the decision's author can change it.")
    access = case_access(user, decision.case)
    levels = decision_levels(access)
    if not levels:
        raise PermissionDenied("Your role on this case no longer writes decisions.")
    with transaction.atomic():
        locked = _lock(decision)
        if locked.status != S.DRAFT:
            raise _status_error(locked, "draft")
        before = _current(locked)
        values, errors = _clean(data, before, levels)
        if errors:
            raise ValidationError(errors)
        changed = [name for name in EDITABLE_FIELDS if values[name] != before[name]]
        if changed:
            for name in changed:
                setattr(locked, name, values[name])
            locked.save(update_fields=[*changed, "updated_at"])
            record(
                user,
                Action.UPDATE,
                target=locked,
                case_id=locked.case_id,
                detail={"fields": changed, "status": locked.status},
            )
            if _place_of(values) != _place_of(before) or "kind" in changed:
                _check_place(locked, user)
    return _refresh(decision, locked)


# --- Transitions -------------------------------------------------------------------------


def _transition(user: Any, decision: CaseDecision, name: str, old: str, **detail: Any) -> None:
    record(
        user,
        Action.UPDATE,
        target=decision,
        case_id=decision.case_id,
        detail={"transition": name, "from": old, "to": decision.status, **detail},
    )


def _link(decision: CaseDecision) -> str:
    return reverse("decision-detail", args=[decision.pk])


def _title(what: str, decision: CaseDecision) -> str:
    # The kind of event and the case reference, never the decision's content.
    return f"{what}: case {decision.case.reference}"


def _tell(
    users: Iterable[Any],
    kind: NotificationKind,
    title: str,
    link: str,
    key: str,
    actor: Any,
    decision: CaseDecision,
) -> None:
    sent = notify(users, kind, title, link, key=key)
    if sent:
        record(
            actor,
            Action.NOTIFY,
            target=decision,
            case_id=decision.case_id,
            detail={"kind": str(kind), "recipients": sorted(n.recipient_id for n in sent)},
        )


def team_supervisors(case: Case, exclude: Any = None) -> QuerySet[User]:
    users = team_members(case.team_id, Role.SUPERVISOR)
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return users.order_by("pk")


def case_representatives(case: Case) -> QuerySet[User]:
    """The victim representatives of the case's victims who still hold the role on the
    case's team."""
    from victims.models import CaseVictim

    return User.objects.filter(
        is_active=True,
        pk__in=CaseVictim.objects.filter(case=case, representative__isnull=False).values(
            "representative_id"
        ),
    ).filter(
        pk__in=Membership.objects.active()
        .filter(team_id=case.team_id, role=Role.VICTIM_REP)
        .values("user_id")
    )


def _request_input(user: Any, decision: CaseDecision) -> InputRequest:
    """Ask the representatives: the kind and summary only, never the draft's worksheet."""
    from victims.models import InputRequest

    now = timezone.now()
    request, _ = InputRequest.objects.update_or_create(
        decision=decision,
        defaults={
            "case_id": decision.case_id,
            "kind_label": str(decision.get_kind_display())[:100],
            "summary": decision.summary[:200],
            "requested_by": user,
            "requested_at": now,
            "due_at": now + dt.timedelta(days=settings.VICTIM_INPUT_DAYS),
        },
    )
    return request


def propose(user: Any, decision: CaseDecision) -> CaseDecision:
    """Draft -> proposed, by its author. Asks the victim representatives for input when
    the decision touches a victim, and the team's supervisors for approval when needed."""
    if not is_author(user, decision):
        raise PermissionDenied("Only the decision's author can propose it.")
    if not may_write_decisions(case_access(user, decision.case)):
        raise PermissionDenied("Your role on this case no longer writes decisions.")
    with transaction.atomic():
        locked = _lock(decision)
        if locked.status != S.DRAFT:
            raise _status_error(locked, "draft")
        errors: dict[str, list[str]] = {}
        for name in IMPACT_FIELDS:
            if getattr(locked, name) is None:
                errors[name] = [
                    "Rate the expected impact on this interest before proposing the decision."
                ]
        if errors:
            raise ValidationError(errors)
        old = locked.status
        locked.status = S.PROPOSED
        locked.proposed_at = timezone.now()
        locked.save(update_fields=["status", "proposed_at", "updated_at"])
        request = None
        if decision_rules.touches_victims(locked) and has_represented_victim(locked.case_id):
            request = _request_input(user, locked)
        reasons = decision_rules.approval_reasons(locked)
        _transition(
            user,
            locked,
            "propose",
            old,
            needs_approval=bool(reasons),
            **({"input_request": request.pk} if request else {}),
        )
        stamp = locked.proposed_at.isoformat()
        if request is not None:
            _tell(
                case_representatives(locked.case),
                NotificationKind.INPUT_REQUESTED,
                _title("Victim input requested on a proposed decision", locked),
                reverse("input-request-answer", args=[request.pk]),
                f"decision-input:{locked.pk}:{stamp}",
                user,
                locked,
            )
        if reasons:
            _tell(
                team_supervisors(locked.case, exclude=user),
                NotificationKind.APPROVAL_REQUESTED,
                _title("Decision awaiting approval", locked),
                _link(locked),
                f"decision-approval:{locked.pk}:{stamp}",
                user,
                locked,
            )
    return _refresh(decision, locked)


def _as_supervisor(user: Any, decision: CaseDecision, what: str) -> CaseAccess:
    access = case_access(user, decision.case)
    if not is_team_supervisor(access):
        raise PermissionDenied(f"Only a supervisor of this case's team can {what} a decision.")
    return access


def approve(user: Any, decision: CaseDecision) -> CaseDecision:
    """Proposed -> approved, by a supervisor of the case's team who is not its author."""
    _as_supervisor(user, decision, "approve")
    with transaction.atomic():
        locked = _lock(decision)
        if is_author(user, locked):
            raise ValidationError(
                {
                    "approved_by": [
                        "Approving your own decision is not allowed: another "
                        "supervisor of the team must approve it."
                    ]
                }
            )
        if locked.status != S.PROPOSED:
            raise _status_error(locked, "proposed")
        if not decision_rules.needs_approval(locked):
            raise ValidationError(
                {"status": ["This decision needs no approval; its author can finalise it."]}
            )
        old = locked.status
        locked.status = S.APPROVED
        locked.approved_by = user
        locked.approved_at = timezone.now()
        locked.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
        _transition(user, locked, "approve", old, reasons=decision_rules.approval_reasons(locked))
        _tell(
            [locked.author],
            NotificationKind.DECISION_APPROVED,
            _title("Decision approved", locked),
            _link(locked),
            f"decision-approved:{locked.pk}:{locked.approved_at.isoformat()}",
            user,
            locked,
        )
    return _refresh(decision, locked)


def return_decision(user: Any, decision: CaseDecision, comment: str) -> CaseDecision:
    """Proposed -> draft with a supervisor's comments, for the author to rework."""
    _as_supervisor(user, decision, "return")
    comment = _text(comment)
    with transaction.atomic():
        locked = _lock(decision)
        if is_author(user, locked):
            raise ValidationError(
                {"return_comment": ["You cannot return your own decision; withdraw it instead."]}
            )
        if locked.status != S.PROPOSED:
            raise _status_error(locked, "proposed")
        if not comment:
            raise ValidationError(
                {"return_comment": ["Say what the author should change before proposing again."]}
            )
        if len(comment) > LONG_TEXT_LIMIT:
            raise ValidationError(
                {"return_comment": [f"Keep this to {LONG_TEXT_LIMIT} characters."]}
            )
        old = locked.status
        locked.status = S.DRAFT
        locked.returned_by = user
        locked.returned_at = timezone.now()
        locked.return_comment = comment
        locked.save(
            update_fields=["status", "returned_by", "returned_at", "return_comment", "updated_at"]
        )
        _transition(user, locked, "return", old)
        _tell(
            [locked.author],
            NotificationKind.DECISION_RETURNED,
            _title("Decision returned with comments", locked),
            _link(locked),
            f"decision-returned:{locked.pk}:{locked.returned_at.isoformat()}",
            user,
            locked,
        )
    return _refresh(decision, locked)


def finalise(
    user: Any, decision: CaseDecision, proceed_reason: str = "", proceed_explanation: str = ""
) -> CaseDecision:
    """Make the decision final, by its author: from proposed when it needs no approval,
    from approved otherwise; and past the victim-centered gate."""
    if not is_author(user, decision):
        raise PermissionDenied("Only the decision's author can finalise it.")
    if not may_write_decisions(case_access(user, decision.case)):
        raise PermissionDenied("Your role on this case no longer writes decisions.")
    proceed_reason = _text(proceed_reason)
    explanation = _text(proceed_explanation)
    with transaction.atomic():
        locked = _lock(decision)
        if locked.status == S.PROPOSED and decision_rules.needs_approval(locked):
            reasons = "; ".join(decision_rules.approval_reasons(locked))
            raise ValidationError(
                {"status": [f"A supervisor must approve this decision first ({reasons})."]}
            )
        if locked.status not in (S.PROPOSED, S.APPROVED):
            if locked.status == S.DRAFT:
                raise ValidationError({"status": ["Propose the decision before finalising it."]})
            raise _status_error(locked, "proposed or approved")
        errors: dict[str, list[str]] = {}
        if len(explanation) > LONG_TEXT_LIMIT:
            errors["proceed_explanation"] = [f"Keep this to {LONG_TEXT_LIMIT} characters."]
        status, reason, explanation = _check_gate(locked, proceed_reason, explanation, errors)
        if errors:
            raise ValidationError(errors)
        old = locked.status
        locked.status = S.FINAL
        locked.finalised_at = timezone.now()
        locked.proceed_reason = reason
        locked.proceed_explanation = explanation
        locked.save(
            update_fields=[
                "status",
                "finalised_at",
                "proceed_reason",
                "proceed_explanation",
                "updated_at",
            ]
        )
        _transition(
            user,
            locked,
            "finalise",
            old,
            disclosure_level=locked.disclosure_level,
            victim_gate=status.applies,
            victim_inputs_considered=list(status.input_ids),
            **({"proceed_reason": reason} if reason else {}),
        )
    return _refresh(decision, locked)


def withdraw(user: Any, decision: CaseDecision, reason: str) -> CaseDecision:
    """Withdraw a decision that is not final, with a reason: its author, or a supervisor
    of the case's team."""
    access = case_access(user, decision.case)
    if not (
        (is_author(user, decision) and may_write_decisions(access)) or is_team_supervisor(access)
    ):
        raise PermissionDenied("Only the author or a supervisor of the team can withdraw it.")
    reason = _text(reason)
    with transaction.atomic():
        locked = _lock(decision)
        if locked.status not in WITHDRAWABLE:
            if locked.status == S.FINAL:
                raise ValidationError(
                    {"status": ["A final decision is never withdrawn. Supersede it instead."]}
                )
            raise ValidationError({"status": ["This decision is already withdrawn."]})
        if not reason:
            raise ValidationError({"withdrawn_reason": ["Say why the decision is withdrawn."]})
        if len(reason) > LONG_TEXT_LIMIT:
            raise ValidationError(
                {"withdrawn_reason": [f"Keep this to {LONG_TEXT_LIMIT} characters."]}
            )
        old = locked.status
        superseding = locked.supersedes_id
        locked.status = S.WITHDRAWN
        locked.withdrawn_at = timezone.now()
        locked.withdrawn_reason = reason
        # A withdrawn decision replaces nothing; the final one it meant to replace can be
        # superseded again (the link is one-to-one). The trail keeps which it was.
        locked.supersedes = None
        locked.save(
            update_fields=[
                "status",
                "withdrawn_at",
                "withdrawn_reason",
                "supersedes",
                "updated_at",
            ]
        )
        _transition(
            user,
            locked,
            "withdraw",
            old,
            **({"supersedes": superseding} if superseding else {}),
        )
    return _refresh(decision, locked)


def supersede(
    user: Any, decision: CaseDecision, data: Mapping[str, Any] | None = None
) -> CaseDecision:
    """A new draft that replaces a final decision once it is final itself: a copy of the
    final decision's record to start from, with `data` applied over it."""
    if not may_write_decisions(case_access(user, decision.case)):
        raise PermissionDenied("Only an officer on this case's team writes decisions.")
    if decision.status != S.FINAL:
        raise ValidationError(
            {
                "supersedes": [
                    "Only a final decision can be superseded; this one is "
                    f"{decision.get_status_display().lower()}."
                ]
            }
        )
    start = {
        name: getattr(decision, name) for name in EDITABLE_FIELDS if name != "disclosure_level"
    }
    start["disclosure_level"] = decision.disclosure_level
    return create_decision(user, decision.case, {**start, **(data or {})}, supersedes=decision)


# --- Reads ----------------------------------------------------------------------------------


def approval_condition() -> Q:
    """`decision_rules.needs_approval` as a database condition, from the same table."""
    kinds = [kind for kind, rule in decision_rules.RULES.items() if rule.needs_approval]
    return (
        Q(community_danger=True)
        | Q(victim_danger=True)
        | Q(relaxes_condition=True)
        | Q(kind__in=kinds)
    )


def touches_victims_condition() -> Q:
    """`decision_rules.touches_victims` as a database condition, from the same table."""
    kinds = [kind for kind, rule in decision_rules.RULES.items() if rule.touches_victims]
    return Q(victim_danger=True) | Q(kind__in=kinds)


def awaiting_approval(user: Any) -> QuerySet[CaseDecision]:
    """Proposed decisions that need approval, on the cases of the teams where the user is
    a supervisor today, oldest proposal first; through the disclosure policy."""
    supervised = team_ids_for(user, roles=(Role.SUPERVISOR,))
    decisions = CaseDecision.objects.filter(
        approval_condition(), status=S.PROPOSED, case__team_id__in=supervised
    )
    return (
        restrict(decisions, user)
        .select_related("case", "author", "case__supervisee")
        .order_by("proposed_at", "pk")
    )


@dataclass
class DecisionView:
    """What a decision page shows beyond the record: computed once per request."""

    decision: CaseDecision
    gate: Gate
    visible_inputs: list[Any] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    can_edit: bool = False
    can_supersede: bool = False


def decision_view(user: Any, access: CaseAccess, decision: CaseDecision) -> DecisionView:
    from victims.models import VictimInput

    status = gate(decision)
    visible = []
    if status.considered_ids:
        # Through the case's loaded permissions: only input this reader may read.
        visible = access.filter(
            VictimInput.objects.filter(pk__in=status.considered_ids)
            .select_related("author", "acknowledged_by")
            .order_by("created_at", "pk")
        )
    return DecisionView(
        decision=decision,
        gate=status,
        visible_inputs=visible,
        actions=allowed_actions(user, access, decision),
        can_edit=may_edit(user, access, decision),
        can_supersede=may_supersede(user, access, decision),
    )
