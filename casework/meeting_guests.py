"""Guests at a review meeting (issue 7): a person from another team, invited for one case
of the meeting's team.

A guest must already hold an invitation to that case: an unexpired grant on it
(teams.disclosure.grants.grant_case_access). The meeting invites them to talk about the
case; it never opens the case to them. A guest gets an attendee row marked as a guest
and the case it is for (MeetingGuestCase); the agenda shows them what their grant lets
them read and nothing else (casework.agenda.visible_items).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from casework.models import Case, CaseUserObjectPermission, MeetingGuestCase
from teams.disclosure import restrict
from teams.models import MeetingAttendee, Membership, ReviewMeeting, Team, User

FIELD = "guests"


@dataclass(frozen=True)
class GuestRequest:
    """Who is invited, for which case, as sent: a username (the pages) or a user id (the
    API), and a case id."""

    person: str | int
    case: Any


@dataclass(frozen=True)
class Guest:
    user: User
    case: Case


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _person(ref: str | int) -> User | None:
    people = User.objects.filter(is_active=True)
    if isinstance(ref, int):
        return people.filter(pk=ref).first()
    return people.filter(username=ref.strip()).first() if ref.strip() else None


def holds_invitation(user: User, case: Case) -> bool:
    """An unexpired grant on the case (expiry is checked here, as in every query)."""
    return (
        CaseUserObjectPermission.objects.filter(user=user, content_object=case)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .exists()
    )


def check_guests(scheduler: Any, team: Team, requests: Iterable[GuestRequest]) -> list[Guest]:
    """Each guest checked; every problem is an error on `guests`, naming the person."""
    problems: list[str] = []
    found: list[Guest] = []
    seen: set[int] = set()
    cases = restrict(Case.objects.filter(team=team), scheduler)
    for request in requests:
        user = _person(request.person)
        if user is None:
            problems.append(f"Nobody active has the username or id “{request.person}”.")
            continue
        if user.is_staff:
            problems.append(
                f"{_name(user)} is the system administrator, who reads no case content."
            )
            continue
        if Membership.objects.active().filter(user=user, team=team).exists():
            problems.append(f"{_name(user)} is a member of this team: invite them as a member.")
            continue
        if user.pk in seen:
            problems.append(f"{_name(user)} is invited once, for one case.")
            continue
        seen.add(user.pk)
        try:
            case = cases.filter(pk=int(request.case)).first()
        except (TypeError, ValueError):
            case = None
        if case is None:
            problems.append(f"Choose a case of this team for {_name(user)}.")
            continue
        if not holds_invitation(user, case):
            problems.append(
                f"{_name(user)} holds no invitation to this case; invite them to the case first."
            )
            continue
        found.append(Guest(user, case))
    if problems:
        raise ValidationError({FIELD: problems})
    return found


def add_guests(meeting: ReviewMeeting, guests: Iterable[Guest]) -> list[MeetingAttendee]:
    """The attendee rows of checked guests, each with its case."""
    rows = []
    for guest in guests:
        row = MeetingAttendee.objects.create(meeting=meeting, user=guest.user, is_guest=True)
        MeetingGuestCase.objects.create(attendee=row, case=guest.case)
        rows.append(row)
    return rows


def visible_guest_cases(user: Any, case_ids: Iterable[int]) -> dict[int, Case]:
    """The guests' cases this reader may see, by id (one restricted query): a guest's
    case is named only to those who may read it."""
    wanted = set(case_ids)
    if not wanted:
        return {}
    return {case.pk: case for case in restrict(Case.objects.filter(pk__in=wanted), user)}
