"""What a review meeting records about each agenda item (issue 7): minutes, at a
disclosure level their writer chooses, and action items with an owner and a due date.

The officer and the supervisor of the team keep the minutes and set the actions (the
policy's MEETING_MINUTES row: whoever may write minutes on the case). An action's owner
is a member of the team or the guest invited for the item's case; its owner or a minute
writer marks it done. The owner is reminded before it is due through teams.reminders:
one row per action, due date and owner (the key), so planning twice plans once; moving
the due date or the action being done cancels what is pending.

Bad input raises ValidationError keyed by field and saves nothing; acting outside one's
role raises PermissionDenied. Writes are audited by the database's triggers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from casework.agenda import filter_by_source
from casework.meeting_models import ActionItem, AgendaItem, MinuteEntry
from casework.services import _check_level
from teams import ics
from teams.disclosure import CaseAccess, Info, case_access, restrict, writable_levels
from teams.models import (
    MeetingAttendee,
    MeetingStatus,
    Membership,
    NotificationKind,
    Reminder,
    ReminderStatus,
    User,
)
from teams.reminders import cancel_keys, plan

BODY_LIMIT = 20000
TEXT_LIMIT = 300  # ActionItem.text


def minute_levels(access: CaseAccess) -> list[str]:
    """The levels this person may give minutes on the case; empty for anyone who does not
    keep minutes there (guests never do: a guest holds reads only)."""
    return writable_levels(access, Info.MEETING_MINUTES)


def may_keep_minutes(access: CaseAccess) -> bool:
    return bool(minute_levels(access))


def _open_meeting(item: AgendaItem) -> None:
    if item.meeting.status == MeetingStatus.CANCELLED:
        raise ValidationError(
            {NON_FIELD_ERRORS: ["This meeting was cancelled: nothing is recorded at it."]}
        )


def _mark_discussed(item: AgendaItem) -> None:
    if item.discussed_at is None:
        item.discussed_at = timezone.now()
        AgendaItem.objects.filter(pk=item.pk, discussed_at__isnull=True).update(
            discussed_at=item.discussed_at
        )


# --- Minutes ------------------------------------------------------------------------------


def record_minutes(author: Any, item: AgendaItem, body: str, disclosure_level: str) -> MinuteEntry:
    """Minutes on one item, at a level the author may choose (never restricted: minutes
    are the team's record). Marks the item discussed."""
    access = case_access(author, item.case)
    levels = minute_levels(access)
    if not levels:
        raise PermissionDenied("Only the team's officer or supervisor records minutes.")
    _open_meeting(item)
    errors: dict[str, list[str]] = {}
    body = (body or "").strip()
    if not body:
        errors["body"] = ["Write what was discussed or agreed."]
    elif len(body) > BODY_LIMIT:
        errors["body"] = [f"Keep the minutes under {BODY_LIMIT} characters ({len(body)} now)."]
    _check_level(disclosure_level, levels, errors, record="minute entry")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        entry = MinuteEntry.objects.create(
            item=item, case=item.case, author=author, body=body, disclosure_level=disclosure_level
        )
        _mark_discussed(item)
    return entry


def visible_minutes(user: Any, items: Iterable[AgendaItem]) -> dict[int, list[MinuteEntry]]:
    """item id -> the minutes on it this person may read, oldest first; one query."""
    ids = [item.pk for item in items]
    found: dict[int, list[MinuteEntry]] = {pk: [] for pk in ids}
    if not ids:
        return found
    rows = restrict(MinuteEntry.objects.filter(item_id__in=ids), user).select_related("author")
    for entry in rows.order_by("created_at", "pk"):
        found[entry.item_id].append(entry)
    return found


# --- Action items -------------------------------------------------------------------------


def item_guest_ids(item: AgendaItem) -> QuerySet[Any]:
    """The guests invited to the item's meeting for the item's case, as a subquery."""
    return (
        MeetingAttendee.objects.filter(
            meeting_id=item.meeting_id, is_guest=True, guest_case__case_id=item.case_id
        )
        .order_by()
        .values("user_id")
    )


def owner_choices(item: AgendaItem) -> QuerySet[User]:
    """Who may own an action on the item: the team's members today and the item's guest
    (the system administrator reads no case content, so owns no action)."""
    members = (
        Membership.objects.active()
        .filter(team_id=item.meeting.team_id)
        .order_by()
        .values("user_id")
    )
    return (
        User.objects.filter(is_active=True, is_staff=False)
        .filter(pk__in=members.union(item_guest_ids(item), all=True))
        .order_by("last_name", "first_name", "username")
    )


def _due_error(due_on: Any) -> str | None:
    if not isinstance(due_on, dt.date) or isinstance(due_on, dt.datetime):
        return "Enter the date it is due."
    if due_on < timezone.localdate():
        return "The due date is in the past: choose today or a later date."
    return None


def _owner(item: AgendaItem, owner: Any, errors: dict[str, list[str]]) -> User | None:
    pk = getattr(owner, "pk", owner)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        errors["owner"] = ["Choose who will do it."]
        return None
    found = owner_choices(item).filter(pk=pk).first()
    if found is None:
        errors["owner"] = ["Choose a member of the team, or the guest invited for this case."]
    return found


def create_action(creator: Any, item: AgendaItem, owner: Any, text: str, due_on: Any) -> ActionItem:
    """An action agreed on an item, by the team's officer or supervisor. Plans the
    owner's reminder and marks the item discussed."""
    if not may_keep_minutes(case_access(creator, item.case)):
        raise PermissionDenied("Only the team's officer or supervisor sets action items.")
    _open_meeting(item)
    errors: dict[str, list[str]] = {}
    text = (text or "").strip()
    if not text:
        errors["text"] = ["Say what is to be done."]
    elif len(text) > TEXT_LIMIT:
        errors["text"] = [f"Keep it under {TEXT_LIMIT} characters ({len(text)} now)."]
    found = _owner(item, owner, errors)
    if (message := _due_error(due_on)) is not None:
        errors["due_on"] = [message]
    if errors or found is None:
        raise ValidationError(errors)
    with transaction.atomic():
        action = ActionItem.objects.create(
            item=item, case=item.case, owner=found, text=text, due_on=due_on, created_by=creator
        )
        _mark_discussed(item)
        plan_reminder(action)
    return action


def may_mark_done(user: Any, access: CaseAccess, action: ActionItem) -> bool:
    return action.owner_id == user.pk or may_keep_minutes(access)


def update_action(
    user: Any, action: ActionItem, *, done: bool | None = None, due_on: Any = None
) -> ActionItem:
    """Mark an action done (or open again): its owner or a minute writer. Move its due
    date: a minute writer. The owner's reminder follows."""
    access = case_access(user, action.case)
    if done is not None and not may_mark_done(user, access, action):
        raise PermissionDenied(
            "Only the action's owner, the officer or the supervisor can do this."
        )
    if due_on is not None and not may_keep_minutes(access):
        raise PermissionDenied("Only the team's officer or supervisor moves a due date.")
    moving = due_on is not None and due_on != action.due_on
    if moving and (message := _due_error(due_on)) is not None:
        raise ValidationError({"due_on": [message]})
    with transaction.atomic():
        locked = ActionItem.objects.select_for_update().get(pk=action.pk)
        changed: list[str] = []
        if due_on is not None and due_on != locked.due_on:
            locked.due_on = due_on
            changed.append("due_on")
        if done is True and locked.done_at is None:
            locked.done_at = timezone.now()
            changed.append("done_at")
        elif done is False and locked.done_at is not None:
            locked.done_at = None
            changed.append("done_at")
        if changed:
            locked.save(update_fields=changed)
            cancel_keys(reminder_prefix(locked))
            if locked.done_at is None:
                plan_reminder(locked)
    for name in ("due_on", "done_at"):
        setattr(action, name, getattr(locked, name))
    return action


def visible_actions(user: Any, items: Iterable[AgendaItem]) -> dict[int, list[ActionItem]]:
    """item id -> the actions on it this person may read; one query."""
    ids = [item.pk for item in items]
    found: dict[int, list[ActionItem]] = {pk: [] for pk in ids}
    if not ids:
        return found
    rows = restrict(ActionItem.objects.filter(item_id__in=ids), user).select_related("owner")
    for action in rows.order_by("due_on", "pk"):
        found[action.item_id].append(action)
    return found


def actions_for(user: Any) -> QuerySet[ActionItem]:
    """The action items a person may read, on items they may see, plus their own (an
    owner is told what to do even on an item whose record they may not read)."""
    return restrict(ActionItem.objects.all(), user)


def readable_actions(user: Any, actions: list[ActionItem]) -> list[ActionItem]:
    """Of actions already restricted by the policy, those on an agenda item whose source
    record the person may read, or that they own; one query per kind of source."""
    items = filter_by_source([action.item for action in actions], user)
    seen = {item.pk for item in items}
    return [a for a in actions if a.item_id in seen or a.owner_id == getattr(user, "pk", None)]


# --- The owner's reminder -----------------------------------------------------------------


def reminder_prefix(action: ActionItem) -> str:
    return f"action:{action.pk}:"


def reminder_key(action: ActionItem) -> str:
    return f"action:{action.pk}:due:{action.due_on.isoformat()}:user:{action.owner_id}"


def reminder_time(due_on: dt.date, now: dt.datetime | None = None) -> dt.datetime:
    """08:00 where the team is, ACTION_DUE_REMINDER_DAYS before the due date; now if that
    moment has passed (an action due tomorrow is announced at once)."""
    now = now or timezone.now()
    day = due_on - dt.timedelta(days=settings.ACTION_DUE_REMINDER_DAYS)
    at = dt.datetime.combine(day, dt.time(8, 0), tzinfo=timezone.get_default_timezone())
    return max(at, now)


def plan_reminder(action: ActionItem, now: dt.datetime | None = None) -> int:
    """The owner's reminder for the action's due date. A due date moved back to one it
    had before finds its cancelled row and sets it waiting again (the key is unique)."""
    item = action.item
    row = Reminder(
        key=reminder_key(action),
        kind=NotificationKind.ACTION_DUE,
        recipient_id=action.owner_id,
        # The date and the case reference only: the action's text is case content.
        title=f"Action item due {action.due_on:%d %b %Y}: case {action.case.reference}"[:200],
        link=f"{ics.meeting_link(item.meeting)}#item-{item.pk}",
        send_at=reminder_time(action.due_on, now),
    )
    created = plan([row])
    if not created:
        created = Reminder.objects.filter(key=row.key, status=ReminderStatus.CANCELLED).update(
            status=ReminderStatus.PENDING,
            send_at=row.send_at,
            sent_at=None,
            late=False,
            updated_at=timezone.now(),
        )
    return created


def open_actions_for(user: Any, limit: int = 10) -> list[ActionItem]:
    """A person's own open action items, soonest due first (their dashboard). One query:
    an owner reads their actions while they may read the case (the policy's author rule)."""
    rows = restrict(ActionItem.objects.filter(owner_id=user.pk, done_at__isnull=True), user)
    return list(rows.select_related("case", "item").order_by("due_on", "pk")[:limit])
