"""A victim's registration for notifications of case events, and the notifications it
produces: who may see them, and the representatives' writes (register, change delivery,
deactivate, mark relayed).

Registrations and notifications are confidential to the case's victim representatives
(DESIGN rule 2; Info.NOTIFICATION_REGISTRATION): every read here goes through
restrict(), and every write needs the policy's write permission on the case, held
through a victim representative's membership of the case's team (a guest invited to one
case reads, but records nothing). Bad input raises ValidationError keyed by field, and
nothing is saved. Writes are audited by the write-capture triggers; the e-mail address
a victim gave is never copied into the trail (not in the models' `values_for`).

The events themselves become notifications in victims.victim_events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from casework.models import Case
from teams.disclosure import CaseAccess, case_access, restrict
from teams.disclosure.policy import Info, codename, write_codename
from teams.disclosure.queries import case_ids_with
from victims.models import (
    CaseVictim,
    Delivery,
    NotificationEvent,
    NotificationRegistration,
    Victim,
    VictimNotification,
    VictimPreferences,
)
from victims.queue import representative_team_ids

READ_CODE = codename(Info.NOTIFICATION_REGISTRATION)
WRITE_CODE = write_codename(Info.NOTIFICATION_REGISTRATION)
RELAY_NOTE_MAX_LENGTH = 2000

NOT_A_REPRESENTATIVE = "Only the victim representatives of this case register victims."
NO_EVENT = "Choose at least one event the victim wants to hear of."
NEEDS_ADDRESS = "Enter the e-mail address the victim wants the notifications sent to."
NO_CONTACT = (
    "This victim asked not to be contacted (see their contact preferences): nobody "
    "contacts them, not even with notifications."
)


# --- Who may do what ------------------------------------------------------------------


def may_read(access: CaseAccess) -> bool:
    return access.has(READ_CODE)


def may_manage(access: CaseAccess) -> bool:
    """The policy's write permission on the case: its team's victim representatives."""
    return access.has(WRITE_CODE)


# --- Reads ----------------------------------------------------------------------------


def registrations_for(user: Any) -> QuerySet[NotificationRegistration]:
    return restrict(NotificationRegistration.objects.all(), user).select_related(
        "case", "created_by"
    )


def notifications_for(user: Any) -> QuerySet[VictimNotification]:
    return restrict(VictimNotification.objects.all(), user).select_related(
        "case", "relayed_by", "registration"
    )


def awaiting_relay(user: Any) -> QuerySet[VictimNotification]:
    """Notifications neither relayed nor e-mailed, on the cases of the teams where the
    user is a victim representative (their work; a guest reads but relays nothing)."""
    return (
        notifications_for(user)
        .filter(relayed_at__isnull=True, emailed_at__isnull=True)
        .filter(case__team_id__in=representative_team_ids(user))
    )


def managed_cases(user: Any, victim: Victim) -> QuerySet[Case]:
    """The cases of `victim` on which the user registers them for notifications."""
    return (
        Case.objects.filter(pk__in=case_ids_with(user, WRITE_CODE), victim_links__victim=victim)
        .select_related("supervisee")
        .order_by("reference")
    )


@dataclass(frozen=True)
class VictimSection:
    """The victim page's notifications section, for the case's victim representatives."""

    registrations: list[NotificationRegistration]
    notifications: list[VictimNotification]
    managed_case_ids: frozenset[int]


RECENT_NOTIFICATIONS = 20


def victim_section(user: Any, victim: Victim) -> VictimSection | None:
    """None for anyone who may not read the victim's registrations on any case: the page
    then says nothing at all about notifications (not even that there are none)."""
    readable = Case.objects.filter(
        pk__in=case_ids_with(user, READ_CODE), victim_links__victim=victim
    ).values_list("pk", flat=True)
    case_ids = set(readable)
    if not case_ids:
        return None
    registrations = list(
        registrations_for(user)
        .filter(victim=victim, case_id__in=case_ids)
        .order_by("case", "event")
    )
    notifications = list(
        notifications_for(user)
        .filter(victim=victim, case_id__in=case_ids)
        .order_by("-occurred_at", "-id")[:RECENT_NOTIFICATIONS]
    )
    managed = frozenset(managed_cases(user, victim).values_list("pk", flat=True))
    return VictimSection(registrations, notifications, managed)


# --- Registering ----------------------------------------------------------------------


def does_not_want_contact(victim: Victim) -> bool:
    """Only an explicit choice counts: with no preferences recorded, contact is allowed."""
    return VictimPreferences.objects.filter(victim=victim, wants_contact=False).exists()


def _clean_address(delivery: str, email: str, errors: dict[str, list[str]]) -> str:
    """The address, kept only while e-mail delivery is chosen (no copy of a victim's
    e-mail address where it is not needed)."""
    email = (email or "").strip()
    if delivery != Delivery.EMAIL:
        return ""
    if not email:
        errors["email"] = [NEEDS_ADDRESS]
        return ""
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Enter a valid e-mail address."]
    return email


def register(
    user: Any,
    case: Case,
    victim: Victim,
    events: Iterable[str],
    delivery: str,
    email: str = "",
) -> list[NotificationRegistration]:
    """Register `victim` on `case` for each of `events`, delivered as `delivery`. An event
    the victim was registered for already is updated (and reactivated), not duplicated.
    Returns the registrations, in the table's order of events."""
    if not may_manage(case_access(user, case)):
        # Nothing else is checked: it would tell an outsider about the case's victims.
        raise ValidationError({"case": [NOT_A_REPRESENTATIVE]})
    errors: dict[str, list[str]] = {}
    if not CaseVictim.objects.filter(case=case, victim=victim).exists():
        errors["victim"] = ["This victim is not linked to this case."]
    elif does_not_want_contact(victim):
        errors["victim"] = [NO_CONTACT]
    chosen = list(dict.fromkeys(events or ()))
    unknown = [event for event in chosen if event not in NotificationEvent.values]
    if not chosen:
        errors["events"] = [NO_EVENT]
    elif unknown:
        errors["events"] = [f"Unknown events: {', '.join(map(str, unknown))}."]
    if delivery not in Delivery.values:
        errors["delivery"] = ["Choose how the victim is told: relayed by you, or by e-mail."]
    address = _clean_address(delivery, email, errors)
    if errors:
        raise ValidationError(errors)
    ordered = [event for event in NotificationEvent.values if event in chosen]
    with transaction.atomic():
        return [
            NotificationRegistration.objects.update_or_create(
                case=case,
                victim=victim,
                event=event,
                defaults={"delivery": delivery, "email": address, "active": True},
                create_defaults={
                    "delivery": delivery,
                    "email": address,
                    "active": True,
                    "created_by": user,
                },
            )[0]
            for event in ordered
        ]


def change_registration(
    user: Any,
    registration: NotificationRegistration,
    *,
    delivery: str | None = None,
    email: str | None = None,
    active: bool | None = None,
) -> NotificationRegistration:
    """Change how the victim is told, or stop (active False) or resume the notifications.
    Arguments left None keep their values."""
    if not may_manage(case_access(user, registration.case)):
        raise PermissionDenied(NOT_A_REPRESENTATIVE)
    errors: dict[str, list[str]] = {}
    new_delivery = registration.delivery if delivery is None else delivery
    if new_delivery not in Delivery.values:
        errors["delivery"] = ["Choose how the victim is told: relayed by you, or by e-mail."]
    new_active = registration.active if active is None else active
    if new_active and not registration.active and does_not_want_contact(registration.victim):
        errors["active"] = [NO_CONTACT]
    address = _clean_address(new_delivery, registration.email if email is None else email, errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = NotificationRegistration.objects.select_for_update().get(pk=registration.pk)
        locked.delivery, locked.email, locked.active = new_delivery, address, new_active
        locked.save(update_fields=["delivery", "email", "active"])
    registration.delivery, registration.email = locked.delivery, locked.email
    registration.active = locked.active
    return registration


# --- Relaying -------------------------------------------------------------------------


def relay(user: Any, notification: VictimNotification, note: str) -> VictimNotification:
    """The representative told the victim: who, when and how is recorded. Once only."""
    if not may_manage(case_access(user, notification.case)):
        raise PermissionDenied("Only the case's victim representatives relay notifications.")
    note = (note or "").strip()
    errors: dict[str, list[str]] = {}
    if not note:
        errors["relay_note"] = ["Say how it was relayed, for example: by phone, and when."]
    elif len(note) > RELAY_NOTE_MAX_LENGTH:
        errors["relay_note"] = [f"Keep the note under {RELAY_NOTE_MAX_LENGTH} characters."]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    # One conditional UPDATE: two representatives marking it at once, one wins.
    done = VictimNotification.objects.filter(
        pk=notification.pk, relayed_at__isnull=True, emailed_at__isnull=True
    ).update(relayed_by=user, relayed_at=now, relay_note=note)
    notification.refresh_from_db()
    if not done:
        if notification.emailed_at is not None:
            when = timezone.localtime(notification.emailed_at)
            message = f"This notification was e-mailed to the victim on {when:%d %b %Y}."
        else:
            when = timezone.localtime(notification.relayed_at or now)
            message = (
                f"This notification was already relayed by {notification.relayed_by} "
                f"on {when:%d %b %Y}."
            )
        raise ValidationError({"__all__": [message]})
    return notification


def status_of(notification: VictimNotification) -> str:
    """`relayed`, `emailed` or `to_relay`."""
    if notification.relayed_at is not None:
        return "relayed"
    if notification.emailed_at is not None:
        return "emailed"
    return "to_relay"
