"""The agenda on a review meeting's page (issue 7), and the forms posted from it.

The meeting page (teams, engineer A1's `meeting-detail`) merges `agenda_context()` into
its context and includes templates/casework/_agenda.html. The POST views here (add a
case, minutes, an action item, an action done) redirect back to the meeting page on
success; on bad input they render the meeting page again, status 400, with the posted
form and its field errors in place of the empty one: they hand the bound form to
`agenda_context()` through the request and call the meeting page's own view, so this
module needs nothing else of that page.

Everything shown goes through the disclosure policy: the items through
casework.agenda.visible_items (case and source record), minutes, actions and decisions
through restrict(). A constant number of queries whatever the number of items.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import resolve, reverse
from django.views.decorators.http import require_POST

from audit.services import record_list
from casework import agenda, minutes
from casework.agenda_forms import ActionForm, AddCaseForm, MinutesForm
from casework.decisions import may_write_decisions
from casework.meeting_models import ActionItem, AgendaItem, AgendaReason, MinuteEntry
from casework.models import Case, CaseDecision, CaseStatus
from teams import ics
from teams.disclosure import case_access, restrict
from teams.disclosure.queries import record_if_hidden
from teams.meetings import meeting_or_404
from teams.models import MeetingAttendee, MeetingStatus, Membership, ReviewMeeting, User

# Where a POST view leaves the form that failed, for agenda_context() to show.
BOUND_ATTR = "_agenda_bound_forms"


@dataclass
class ActionRow:
    action: ActionItem
    can_mark_done: bool


@dataclass
class ItemRow:
    item: AgendaItem
    minutes: list[MinuteEntry] = field(default_factory=list)
    actions: list[ActionRow] = field(default_factory=list)
    decisions: list[CaseDecision] = field(default_factory=list)
    minutes_form: MinutesForm | None = None
    action_form: ActionForm | None = None
    draft_decision_url: str = ""


@dataclass
class AgendaPage:
    meeting: ReviewMeeting
    items: list[ItemRow]
    add_form: AddCaseForm | None
    can_keep_minutes: bool
    is_open: bool


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _bound(request: HttpRequest) -> dict[tuple[str, int], Form]:
    return getattr(request, BOUND_ATTR, {})


def _owners(
    meeting: ReviewMeeting,
) -> tuple[list[tuple[int, str]], dict[int, list[tuple[int, str]]]]:
    """The team's members today, and the guests by the case they are invited for: the
    owners an action may have. Two queries for the whole page."""
    members = (
        User.objects.filter(is_active=True, is_staff=False)
        .filter(
            pk__in=Membership.objects.active()
            .filter(team_id=meeting.team_id)
            .order_by()
            .values("user_id")
        )
        .order_by("last_name", "first_name", "username")
    )
    team = [(user.pk, _name(user)) for user in members]
    guests: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for attendee in MeetingAttendee.objects.filter(
        meeting=meeting, is_guest=True, user__is_active=True, guest_case__isnull=False
    ).select_related("user", "guest_case"):
        guests[attendee.guest_case.case_id].append(
            (attendee.user_id, f"{_name(attendee.user)} (guest)")
        )
    return team, guests


def _add_form(
    request: HttpRequest, meeting: ReviewMeeting, items: list[AgendaItem]
) -> AddCaseForm | None:
    user = request.user
    if meeting.status != MeetingStatus.SCHEDULED or agenda.attendee(meeting, user) is None:
        return None
    added = {item.case_id for item in items if item.reason == AgendaReason.ADDED}
    cases = (
        restrict(Case.objects.filter(team_id=meeting.team_id, status=CaseStatus.ACTIVE), user)
        .select_related("supervisee")
        .order_by("reference")
    )
    choices = [
        (case.pk, f"{case.reference} ({case.supervisee.full_name})")
        for case in cases
        if case.pk not in added
    ]
    form = _bound(request).get(("add", 0))
    if isinstance(form, AddCaseForm):
        return form
    return AddCaseForm(cases=choices)


def agenda_context(request: HttpRequest, meeting: ReviewMeeting) -> dict[str, Any]:
    """What templates/casework/_agenda.html needs: this person's copy of the agenda, with
    the minutes, actions and decisions on each item they may read, and the forms their
    role may use. Records the items and minutes shown in the audit trail."""
    user = request.user
    items = agenda.visible_items(meeting, user)
    found_minutes = minutes.visible_minutes(user, items)
    found_actions = minutes.visible_actions(user, items)
    linked: dict[int, list[CaseDecision]] = defaultdict(list)
    if items:
        for decision in restrict(
            CaseDecision.objects.filter(agenda_item_id__in=[item.pk for item in items]), user
        ).order_by("created_at", "pk"):
            assert decision.agenda_item_id is not None
            linked[decision.agenda_item_id].append(decision)
    # Writing minutes, actions and decisions is granted on the team (case grants, for a
    # guest or emergency access, carry reads only), so one case's access answers for
    # every item of the team's meeting.
    access = case_access(user, items[0].case) if items else None
    levels = minutes.minute_levels(access) if access else []
    drafts = bool(access and may_write_decisions(access))
    is_open = meeting.status != MeetingStatus.CANCELLED
    bound = _bound(request)
    team_owners, guest_owners = _owners(meeting) if levels and is_open else ([], {})
    rows = []
    for item in items:
        row = ItemRow(
            item=item,
            minutes=found_minutes.get(item.pk, []),
            actions=[
                ActionRow(a, a.owner_id == user.pk or bool(levels))
                for a in found_actions.get(item.pk, [])
            ],
            decisions=linked.get(item.pk, []),
        )
        if levels and is_open:
            minutes_form = bound.get(("minutes", item.pk))
            row.minutes_form = (
                minutes_form
                if isinstance(minutes_form, MinutesForm)
                else MinutesForm(item=item, levels=levels)
            )
            action_form = bound.get(("action", item.pk))
            row.action_form = (
                action_form
                if isinstance(action_form, ActionForm)
                else ActionForm(item=item, owners=team_owners + guest_owners.get(item.case_id, []))
            )
        if drafts and is_open:
            row.draft_decision_url = (
                reverse("decision-create", args=[item.case_id]) + f"?agenda_item={item.pk}"
            )
        rows.append(row)
    if items:
        record_list(user, AgendaItem, [item.pk for item in items])
    shown_minutes = [entry.pk for row in rows for entry in row.minutes]
    if shown_minutes:
        record_list(user, MinuteEntry, shown_minutes)
    shown_actions = [entry.action.pk for row in rows for entry in row.actions]
    if shown_actions:
        record_list(user, ActionItem, shown_actions)
    return {
        "agenda": AgendaPage(
            meeting=meeting,
            items=rows,
            add_form=_add_form(request, meeting, items),
            can_keep_minutes=bool(levels),
            is_open=is_open,
        )
    }


# --- The forms posted from the agenda ------------------------------------------------------


def _meeting_page(meeting: ReviewMeeting, item: AgendaItem | None = None) -> str:
    return ics.meeting_link(meeting) + (f"#item-{item.pk}" if item else "#agenda")


def _again(
    request: HttpRequest, meeting: ReviewMeeting, key: tuple[str, int], form: Form
) -> HttpResponse:
    """The meeting page again, with the posted form and its errors: 400."""
    setattr(request, BOUND_ATTR, {key: form})
    path = ics.meeting_link(meeting)
    match = resolve(path)
    # The meeting page answers GET; this request's POST was already checked (CSRF) and
    # handled here.
    request.method = "GET"
    response: HttpResponse = match.func(request, *match.args, **match.kwargs)
    response.status_code = 400
    return response


def _visible_meeting(request: HttpRequest, pk: int) -> ReviewMeeting:
    meeting: ReviewMeeting = meeting_or_404(
        request.user, pk, ReviewMeeting.objects.select_related("team")
    )
    return meeting


@login_required
@require_POST
def add_case(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _visible_meeting(request, pk)
    if agenda.attendee(meeting, request.user) is None:
        raise PermissionDenied("Only the meeting's attendees can add a case to its agenda.")
    items = agenda.visible_items(meeting, request.user)
    form = _add_form_for_post(request, meeting, items)
    if form.is_valid():
        try:
            item = agenda.add_case(request.user, meeting, form.cleaned_data["case"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Case {item.case.reference} added to the agenda.")
            return redirect(_meeting_page(meeting, item))
    return _again(request, meeting, ("add", 0), form)


def _add_form_for_post(
    request: HttpRequest, meeting: ReviewMeeting, items: list[AgendaItem]
) -> AddCaseForm:
    empty = _add_form(request, meeting, items)
    choices = list(empty.fields["case"].choices)[1:] if empty is not None else []  # type: ignore[attr-defined]
    return AddCaseForm(request.POST, cases=[(int(pk), str(label)) for pk, label in choices])


def _item(request: HttpRequest, pk: int) -> AgendaItem:
    return agenda.visible_item_or_404(request.user, pk)


@login_required
@require_POST
def item_minutes(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    levels = minutes.minute_levels(case_access(request.user, item.case))
    if not levels:
        raise PermissionDenied("Only the team's officer or supervisor records minutes.")
    form = MinutesForm(request.POST, item=item, levels=levels)
    if form.is_valid():
        try:
            minutes.record_minutes(
                request.user, item, form.cleaned_data["body"], form.cleaned_data["disclosure_level"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Minutes recorded.")
            return redirect(_meeting_page(item.meeting, item))
    return _again(request, item.meeting, ("minutes", item.pk), form)


@login_required
@require_POST
def item_action(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(request, pk)
    if not minutes.may_keep_minutes(case_access(request.user, item.case)):
        raise PermissionDenied("Only the team's officer or supervisor sets action items.")
    owners = [(user.pk, _name(user)) for user in minutes.owner_choices(item)]
    form = ActionForm(request.POST, item=item, owners=owners)
    if form.is_valid():
        try:
            minutes.create_action(
                request.user,
                item,
                form.cleaned_data["owner"],
                form.cleaned_data["text"],
                form.cleaned_data["due_on"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Action item added; its owner will be reminded.")
            return redirect(_meeting_page(item.meeting, item))
    return _again(request, item.meeting, ("action", item.pk), form)


@login_required
@require_POST
def action_done(request: HttpRequest, pk: int) -> HttpResponse:
    action = (
        restrict(ActionItem.objects.select_related("case", "item"), request.user)
        .filter(pk=pk)
        .first()
    )
    if action is None:
        record_if_hidden(ActionItem, request.user, pk=pk)
        raise Http404("No action item matches the given query.")
    # The item too (case, source record, meeting); its owner always reaches their own.
    if action.owner_id != request.user.pk:
        agenda.visible_item_or_404(request.user, action.item_id)
    try:
        minutes.update_action(request.user, action, done=True)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, "Action item marked done.")
    return redirect(_meeting_page(action.item.meeting, action.item))
