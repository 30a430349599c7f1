"""The victim's record on a case, kept by the victim representatives: adding a victim to
a case (identity, the case's pseudonym, locating information), linking a victim they
already represent to another case, editing identity and locating information, the
victim's contact preferences and safety concerns, and protective or no-contact orders.

Who may write is the policy's: the VICTIM_IDENTITY and VICTIM_LOCATING write permissions
(held through a membership of the case's team; a guest invited to one case never holds a
write). Every write is one transaction; bad input raises django's ValidationError keyed
by field (the names of the forms and the API) and nothing is saved. Audit details carry
field names and ids only, never a name, an address or what an order forbids: the trail is
read by more people than the records themselves.

Reads for the victim page and the API are here too, each through restrict(); names are
shown only as victims.selectors.victim_views decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from audit.models import Action
from audit.services import record
from casework.models import Case
from teams.disclosure import CaseAccess, case_access, restrict
from teams.disclosure.policy import Info, codename, write_codename
from teams.disclosure.queries import case_ids_with
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
from victims.selectors import VictimView, locations_for, victim_links_for, victim_views
from victims.services import _Errors

IDENTITY_WRITE = write_codename(Info.VICTIM_IDENTITY)
LOCATING_WRITE = write_codename(Info.VICTIM_LOCATING)
LOCATING_READ = codename(Info.VICTIM_LOCATING)

IDENTITY_FIELDS: tuple[str, ...] = ("first_name", "last_name", "relationship_category")
# What a representative writes of the locating record: the release categories' fields and
# the protected location the blind check compares decisions with.
LOCATION_FIELDS: tuple[str, ...] = (
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "phone",
    "email",
    "employer",
    "school",
    "latitude",
    "longitude",
    "protection_radius_m",
)
PREFERENCE_FIELDS: tuple[str, ...] = (
    "wants_contact",
    "preferred_method",
    "preferred_times",
    "safety_concerns",
)
MAX_RADIUS_M = 50_000  # 50 km: beyond that the check would flag a whole region
PSEUDONYM_PREFIX = "Person harmed"

NOT_A_WRITER = "Only the victim representatives of this case may record a victim on it."


def _max_length(model: type[Model], name: str) -> int:
    return int(getattr(model._meta.get_field(name), "max_length", 0) or 0)


# --- Who may write ----------------------------------------------------------------------


def writes_identity(access: CaseAccess) -> bool:
    return access.has(IDENTITY_WRITE)


def writes_locating(access: CaseAccess) -> bool:
    return access.has(LOCATING_WRITE)


def writer_case_ids(user: Any, victim: Victim, code: str) -> set[int]:
    """The cases of `victim` on which the user holds the write permission `code`."""
    return set(
        Case.objects.filter(pk__in=case_ids_with(user, code), victim_links__victim=victim)
        .order_by()
        .values_list("pk", flat=True)
    )


def identity_writer_cases(user: Any) -> QuerySet[Case]:
    """The cases on which the user records victims (a victim representative of the team)."""
    return Case.objects.filter(pk__in=case_ids_with(user, IDENTITY_WRITE))


# --- Adding a victim to a case, and linking one to another case -------------------------


def next_pseudonym(case: Case) -> str:
    """The pseudonym "Person harmed N" with the first number the case does not use yet."""
    used = set(CaseVictim.objects.filter(case=case).values_list("pseudonym", flat=True))
    number = 1
    while f"{PSEUDONYM_PREFIX} {number}" in used:
        number += 1
    return f"{PSEUDONYM_PREFIX} {number}"


def _check_pseudonym(case: Case, pseudonym: str, errors: _Errors) -> str:
    pseudonym = (pseudonym or "").strip()
    max_length = _max_length(CaseVictim, "pseudonym")
    if not pseudonym:
        errors.add("pseudonym", "Enter the pseudonym the case uses for this person.")
    elif len(pseudonym) > max_length:
        errors.add("pseudonym", f"Keep the pseudonym within {max_length} characters.")
    elif CaseVictim.objects.filter(case=case, pseudonym__iexact=pseudonym).exists():
        errors.add(
            "pseudonym",
            f"Another person on this case is called {pseudonym!r}; "
            f"choose another pseudonym, for example {next_pseudonym(case)!r}.",
        )
    return pseudonym


def _identity_values(values: Mapping[str, Any], errors: _Errors, partial: bool) -> dict[str, Any]:
    """The identity fields given, trimmed and checked."""
    cleaned: dict[str, Any] = {}
    for name, label in (("first_name", "first name"), ("last_name", "last name")):
        if partial and name not in values:
            continue
        value = (values.get(name) or "").strip()
        max_length = _max_length(Victim, name)
        if not value:
            errors.add(name, f"Enter the {label}.")
        elif len(value) > max_length:
            errors.add(name, f"Keep the {label} within {max_length} characters.")
        cleaned[name] = value
    if not partial or "relationship_category" in values:
        category = values.get("relationship_category") or ""
        if category not in RelationshipCategory.values:
            errors.add(
                "relationship_category",
                "Choose the relationship to the person under supervision from the list.",
            )
        cleaned["relationship_category"] = category
    return cleaned


def _location_values(
    values: Mapping[str, Any], current: VictimLocation | None, errors: _Errors
) -> dict[str, Any]:
    """The locating fields given, checked as a whole with what is stored (coordinates
    come in pairs). The model's own validators check lengths and the e-mail address."""
    unknown = sorted(set(values) - set(LOCATION_FIELDS))
    for name in unknown:
        errors.add(name, "This field cannot be set here.")
    cleaned: dict[str, Any] = {}
    for name in LOCATION_FIELDS:
        if name not in values:
            continue
        value = values[name]
        if name in ("latitude", "longitude"):
            cleaned[name] = None if value in (None, "") else Decimal(str(value))
        elif name == "protection_radius_m":
            cleaned[name] = value
        else:
            cleaned[name] = (value or "").strip()
    if "protection_radius_m" in cleaned:
        radius = cleaned["protection_radius_m"]
        if radius in (None, ""):
            errors.add("protection_radius_m", "Enter the protection radius in metres.")
        elif not isinstance(radius, int) or not 1 <= radius <= MAX_RADIUS_M:
            errors.add(
                "protection_radius_m",
                f"Enter a whole number of metres from 1 to {MAX_RADIUS_M}.",
            )
    latitude = cleaned.get("latitude", current.latitude if current else None)
    longitude = cleaned.get("longitude", current.longitude if current else None)
    if latitude is not None and not Decimal(-90) <= latitude <= Decimal(90):
        errors.add("latitude", "Enter a latitude between -90 and 90.")
    if longitude is not None and not Decimal(-180) <= longitude <= Decimal(180):
        errors.add("longitude", "Enter a longitude between -180 and 180.")
    if (latitude is None) != (longitude is None):
        missing = "longitude" if longitude is None else "latitude"
        errors.add(missing, "Enter both the latitude and the longitude, or neither.")
    probe = VictimLocation(**{**_stored(current), **cleaned})
    try:
        probe.full_clean(exclude=["victim"], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            if name in cleaned and name not in errors.fields:
                for message in messages:
                    errors.add(name, message)
    return cleaned


def _stored(location: VictimLocation | None) -> dict[str, Any]:
    if location is None:
        return {}
    return {name: getattr(location, name) for name in LOCATION_FIELDS}


def _has_location(values: Mapping[str, Any]) -> bool:
    return any(
        values.get(name) not in (None, "")
        for name in LOCATION_FIELDS
        if name != "protection_radius_m"
    )


def create_victim(
    user: Any,
    case: Case,
    *,
    identity: Mapping[str, Any],
    pseudonym: str,
    location: Mapping[str, Any] | None = None,
) -> CaseVictim:
    """Record a new person harmed on `case`, with the case's pseudonym for them and, if
    given, their locating information. The user becomes their representative there."""
    access = case_access(user, case)
    if not writes_identity(access):
        # Nothing else is checked: it would tell an outsider who is on the team.
        raise ValidationError({"case": [NOT_A_WRITER]})
    errors = _Errors()
    values = _identity_values(identity, errors, partial=False)
    pseudonym = _check_pseudonym(case, pseudonym, errors)
    location_values: dict[str, Any] = {}
    if location and _has_location(location):
        if not writes_locating(access):
            errors.add(NON_FIELD_ERRORS, "Your role does not record locating information.")
        else:
            location_values = _location_values(location, None, errors)
    errors.raise_if_any()
    try:
        with transaction.atomic():
            victim = Victim.objects.create(**values)
            if location_values:
                VictimLocation.objects.create(victim=victim, **location_values)
            link = CaseVictim.objects.create(
                case=case, victim=victim, pseudonym=pseudonym, representative=user
            )
            record(
                user,
                Action.CREATE,
                target=victim,
                case_id=case.pk,
                victim_id=victim.pk,
                detail={
                    "case_link": link.pk,
                    "location": sorted(location_values),
                },
            )
    except IntegrityError:
        # Another representative took the pseudonym between the check and the insert.
        raise ValidationError(
            {"pseudonym": ["That pseudonym was just taken on this case; choose another."]}
        ) from None
    return link


def linkable_links(user: Any, case: Case, query: str = "") -> QuerySet[CaseVictim]:
    """The victims the user may link to `case`: those they already see on a case where
    they record victims (a victim they represent), not yet on `case`. Never the agency's
    other victims. `query` narrows by name."""
    links = (
        victim_links_for(user)
        .filter(case_id__in=case_ids_with(user, IDENTITY_WRITE))
        .exclude(victim_id__in=CaseVictim.objects.filter(case=case).values("victim_id"))
        .select_related("case")
    )
    query = query.strip()
    if query:
        for word in query.split()[:4]:
            links = links.filter(
                Q(victim__first_name__icontains=word) | Q(victim__last_name__icontains=word)
            )
    return links.order_by("victim__last_name", "victim__first_name", "victim_id", "case_id")


@dataclass(frozen=True)
class LinkChoice:
    victim_id: int
    label: str  # the name shown, as victim_views decides, and the cases it is on


def link_choices(user: Any, case: Case, query: str = "", limit: int = 25) -> list[LinkChoice]:
    """One choice per victim, labelled by victim_views (which records what is shown)."""
    links = list(linkable_links(user, case, query)[: limit * 4])
    views = victim_views(user, links)
    by_victim: dict[int, tuple[VictimView, list[str]]] = {}
    for link, view in zip(links, views, strict=True):
        shown, cases = by_victim.setdefault(link.victim_id, (view, []))
        if view.show_identity and not shown.show_identity:
            by_victim[link.victim_id] = (view, cases)
        cases.append(link.case.reference)
    return [
        LinkChoice(victim_id, f"{view.display_name} ({', '.join(cases)})")
        for victim_id, (view, cases) in list(by_victim.items())[:limit]
    ]


def link_victim(user: Any, case: Case, victim: Victim | None, pseudonym: str) -> CaseVictim:
    """Link a victim the user represents elsewhere to `case` (one person harmed by
    several people under supervision, or on several cases of one person)."""
    access = case_access(user, case)
    if not writes_identity(access):
        raise ValidationError({"case": [NOT_A_WRITER]})
    errors = _Errors()
    if victim is not None and CaseVictim.objects.filter(case=case, victim=victim).exists():
        # The user records victims on this case, so they see who is on it already.
        errors.add("victim", "This person is already linked to this case.")
    elif victim is None or not linkable_links(user, case).filter(victim=victim).exists():
        errors.add("victim", "Choose a person you represent on another case.")
    pseudonym = _check_pseudonym(case, pseudonym, errors)
    errors.raise_if_any()
    assert victim is not None
    try:
        with transaction.atomic():
            link = CaseVictim.objects.create(
                case=case, victim=victim, pseudonym=pseudonym, representative=user
            )
            record(
                user,
                Action.CREATE,
                target=link,
                case_id=case.pk,
                victim_id=victim.pk,
                detail={"linked": True},
            )
    except IntegrityError:
        raise ValidationError(
            {"pseudonym": ["That pseudonym or person was just added to this case; try again."]}
        ) from None
    return link


# --- Editing identity and locating information -------------------------------------------


def update_victim(
    user: Any,
    victim: Victim,
    *,
    identity: Mapping[str, Any] | None = None,
    location: Mapping[str, Any] | None = None,
) -> Victim:
    """Change the given identity and locating fields (absent ones keep their values).
    Identity takes the identity write permission on one of the victim's cases, locating
    information the locating one."""
    errors = _Errors()
    identity = identity or {}
    location = location or {}
    if identity and not writer_case_ids(user, victim, IDENTITY_WRITE):
        errors.add(NON_FIELD_ERRORS, "Only the victim's representatives change their identity.")
    if location and not writer_case_ids(user, victim, LOCATING_WRITE):
        errors.add(
            NON_FIELD_ERRORS, "Only the victim's representatives change locating information."
        )
    errors.raise_if_any()
    identity_values = _identity_values(identity, errors, partial=True)
    current = VictimLocation.objects.filter(victim=victim).first()
    location_values = _location_values(location, current, errors) if location else {}
    errors.raise_if_any()
    with transaction.atomic():
        changed_identity = [n for n, v in identity_values.items() if getattr(victim, n) != v]
        if changed_identity:
            for name in changed_identity:
                setattr(victim, name, identity_values[name])
            victim.save(update_fields=[*changed_identity, "updated_at"])
        changed_location: list[str] = []
        if location_values:
            row = current or VictimLocation(victim=victim)
            changed_location = [
                n for n, v in location_values.items() if current is None or getattr(row, n) != v
            ]
            for name, value in location_values.items():
                setattr(row, name, value)
            if changed_location:
                row.save()
        if changed_identity or changed_location:
            record(
                user,
                Action.UPDATE,
                target=victim,
                victim_id=victim.pk,
                detail={"identity": changed_identity, "location": changed_location},
            )
    return victim


# --- Contact preferences and safety concerns ---------------------------------------------

# The locating field each way of contact needs on file.
METHOD_NEEDS: dict[str, tuple[str, str]] = {
    ContactMethod.PHONE: ("phone", "phone number"),
    ContactMethod.EMAIL: ("email", "e-mail address"),
    ContactMethod.MAIL: ("address_line1", "postal address"),
}


def preferences_for(user: Any) -> QuerySet[VictimPreferences]:
    return restrict(VictimPreferences.objects.all(), user)


def set_preferences(
    user: Any, victim: Victim, values: Mapping[str, Any]
) -> tuple[VictimPreferences, bool]:
    """Create or change the victim's contact preferences and safety concerns (absent
    fields keep their values). Returns the row and whether it was created."""
    if not writer_case_ids(user, victim, LOCATING_WRITE):
        raise ValidationError(
            {NON_FIELD_ERRORS: ["Only the victim's representatives record their preferences."]}
        )
    errors = _Errors()
    for name in sorted(set(values) - set(PREFERENCE_FIELDS)):
        errors.add(name, "This field cannot be set here.")
    current = VictimPreferences.objects.filter(victim=victim).first()
    row = current or VictimPreferences(victim=victim)
    cleaned: dict[str, Any] = {}
    if "wants_contact" in values:
        if not isinstance(values["wants_contact"], bool):
            errors.add("wants_contact", "Say whether the victim wants to be contacted.")
        cleaned["wants_contact"] = values["wants_contact"]
    if "preferred_method" in values:
        method = values["preferred_method"] or ""
        if method not in ContactMethod.values:
            errors.add("preferred_method", "Choose how the victim wants to be contacted.")
        cleaned["preferred_method"] = method
    for name in ("preferred_times", "safety_concerns"):
        if name in values:
            cleaned[name] = (values[name] or "").strip()
    wants = cleaned.get("wants_contact", row.wants_contact)
    method = cleaned.get("preferred_method", row.preferred_method)
    if wants is True and method in METHOD_NEEDS and "preferred_method" not in errors.fields:
        field, noun = METHOD_NEEDS[method]
        location = VictimLocation.objects.filter(victim=victim).first()
        if location is None or not getattr(location, field):
            errors.add(
                "preferred_method",
                f"There is no {noun} on file for this person: record it in the locating "
                "information first, or choose another way.",
            )
    probe = VictimPreferences(victim=victim, **{**_pref_values(row), **cleaned})
    try:
        probe.full_clean(exclude=["victim"], validate_unique=False)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            if name in cleaned and name not in errors.fields:
                for message in messages:
                    errors.add(name, message)
    errors.raise_if_any()
    changed = [n for n, v in cleaned.items() if current is None or getattr(row, n) != v]
    with transaction.atomic():
        for name, value in cleaned.items():
            setattr(row, name, value)
        if current is None or changed:
            row.save()
            record(
                user,
                Action.CREATE if current is None else Action.UPDATE,
                target=row,
                victim_id=victim.pk,
                detail={"fields": sorted(changed)},
            )
    return row, current is None


def _pref_values(row: VictimPreferences) -> dict[str, Any]:
    return {name: getattr(row, name) for name in PREFERENCE_FIELDS}


# --- Protective and no-contact orders ---------------------------------------------------


def orders_for(user: Any) -> QuerySet[ProtectiveOrder]:
    """Orders on the cases where the user sees the victim (by name or pseudonym). The
    victim row is not joined: its name is shown only through victim_views."""
    return restrict(ProtectiveOrder.objects.all(), user).select_related("case", "created_by")


def create_order(
    user: Any,
    case: Case,
    victim: Victim | None,
    *,
    kind: str,
    issued_on: dt.date | None,
    terms: str,
    expires_on: dt.date | None = None,
    court: str = "",
    order_number: str = "",
    related_condition: str = "",
) -> ProtectiveOrder:
    """Record a court order protecting a victim of `case`, linked to the case condition
    that enforces it (one of the case's conditions, or none)."""
    if not writes_identity(case_access(user, case)):
        raise ValidationError(
            {"case": ["Only the victim representatives of this case may record an order."]}
        )
    errors = _Errors()
    if victim is None or not CaseVictim.objects.filter(case=case, victim=victim).exists():
        errors.add("victim", "Choose a victim of this case.")
    if kind not in OrderKind.values:
        errors.add("kind", "Choose the kind of order.")
    terms = (terms or "").strip()
    if not terms:
        errors.add("terms", "Enter what the order forbids.")
    if issued_on is None:
        errors.add("issued_on", "Enter the date the order was issued.")
    elif issued_on > timezone.localdate():
        errors.add("issued_on", "The issue date cannot be in the future.")
    if expires_on is not None and issued_on is not None and expires_on < issued_on:
        errors.add("expires_on", "The order cannot expire before it was issued.")
    related_condition = (related_condition or "").strip()
    if related_condition and related_condition not in case.condition_list:
        errors.add(
            "related_condition",
            "Choose one of this case's conditions of supervision, or none.",
        )
    court = (court or "").strip()
    order_number = (order_number or "").strip()
    for name, value in (("court", court), ("order_number", order_number)):
        max_length = _max_length(ProtectiveOrder, name)
        if len(value) > max_length:
            errors.add(name, f"Keep this within {max_length} characters.")
    errors.raise_if_any()
    assert victim is not None and issued_on is not None
    with transaction.atomic():
        order = ProtectiveOrder.objects.create(
            case=case,
            victim=victim,
            kind=kind,
            court=court,
            order_number=order_number,
            issued_on=issued_on,
            expires_on=expires_on,
            terms=terms,
            related_condition=related_condition,
            created_by=user,
        )
        record(
            user,
            Action.CREATE,
            target=order,
            detail={
                "kind": kind,
                "linked_to_condition": bool(related_condition),
            },
        )
    return order


def order_is_active(order: ProtectiveOrder, today: dt.date | None = None) -> bool:
    today = today or timezone.localdate()
    return order.expires_on is None or order.expires_on >= today


# --- The victim page ----------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRow:
    order: ProtectiveOrder
    victim_name: str  # as victim_views decides: a pseudonym for treatment and polygraph
    active: bool


@dataclass(frozen=True)
class VictimRecords:
    """What the victim page adds for the representative's record, judged for one reader."""

    orders: list[OrderRow]
    # None: the reader may not see preferences at all; a row, or "none recorded".
    preferences: VictimPreferences | None
    reads_preferences: bool
    identity_case_ids: frozenset[int]  # cases of the victim where the reader writes identity
    writes_locating: bool
    coordinates: VictimLocation | None  # the protected location, for its writers only

    @property
    def writes_identity(self) -> bool:
        return bool(self.identity_case_ids)


def victim_records(
    user: Any, victim: Victim, rows: Iterable[tuple[CaseVictim, VictimView]]
) -> VictimRecords:
    """Orders, preferences and the reader's write rights for the victim page; `rows`
    are the page's visible case links with their views (names come from those)."""
    names = {link.case_id: view.display_name for link, view in rows}
    orders = [
        OrderRow(order, names.get(order.case_id, ""), order_is_active(order))
        for order in orders_for(user).filter(victim=victim).order_by("-issued_on", "-id")
    ]
    reads = Case.objects.filter(
        pk__in=case_ids_with(user, LOCATING_READ), victim_links__victim=victim
    ).exists()
    preferences = preferences_for(user).filter(victim=victim).first() if reads else None
    locating_writer = bool(writer_case_ids(user, victim, LOCATING_WRITE))
    coordinates = locations_for(user).filter(victim=victim).first() if locating_writer else None
    return VictimRecords(
        orders=orders,
        preferences=preferences,
        reads_preferences=reads,
        identity_case_ids=frozenset(writer_case_ids(user, victim, IDENTITY_WRITE)),
        writes_locating=locating_writer,
        coordinates=coordinates,
    )
