from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from audit.services import record_list, record_read
from casework import case_updates, collaboration, duty_to_warn_views, selectors, services
from casework.decisions import may_write_decisions
from casework.forms import NoteForm, NoteLevelForm
from casework.meeting_models import ActionItem
from casework.minutes import open_actions_for
from casework.models import Case, CaseDecision, CaseNote, CaseStatus
from casework.panels import panels_for
from teams.disclosure import CaseAccess, DisclosureLevel, audience, case_access, get_visible_or_404
from teams.disclosure.grants import named_members
from teams.disclosure.policy import LEVELED, roles_that_can_read
from teams.disclosure.queries import case_or_404
from teams.models import Team, User
from teams.roles import Role
from teams.selectors import active_roles, upcoming_meetings

CASES_PER_PAGE = 25


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    status = request.GET.get("status", "")
    if status not in CaseStatus.values:
        status = ""
    cases = selectors.search_cases(request.user, query, status)
    page = Paginator(cases, CASES_PER_PAGE).get_page(request.GET.get("page"))
    record_list(request.user, Case, [case.pk for case in page.object_list])
    return render(
        request,
        "casework/case_list.html",
        {"page": page, "query": query, "status": status, "statuses": CaseStatus.choices},
    )


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # The user's permissions on this case are loaded once, and decide whether the case
    # is shown at all; each record is judged in memory.
    cases = Case.objects.select_related("supervisee", "team", "assigned_officer")
    case, access = case_or_404(cases, request.user, pk=pk)
    notes = access.filter(CaseNote.objects.filter(case=case).select_related("author"))
    decisions = access.filter(CaseDecision.objects.filter(case=case).select_related("author"))
    _annotate_audience(notes, access)
    _annotate_audience(decisions, access)
    note_form = NoteForm(case=case, access=access, author=request.user)
    context: dict[str, Any] = {
        "case": case,
        "notes": notes,
        "decisions": decisions,
        "panels": panels_for(case, request.user, access),
        "access": access,
        "note_form": note_form if note_form.can_write else None,
        # From the loaded permissions: no query.
        "can_write_decisions": may_write_decisions(access),
        "can_update_summary": case_updates.may_update(access),
        **duty_to_warn_views.case_page_context(case, access),
    }
    record_read(request.user, case, case_id=case.pk)
    return render(request, "casework/case_detail.html", context)


def _annotate_audience(records: list[Any], access: CaseAccess) -> None:
    """Give each record the labels of the roles that read it and whether this user may
    change its level, from the policy table in memory: no query per record (the full
    list of people is on the record's own audience page)."""
    labels: dict[tuple[str, str], list[str]] = {}
    writable_kinds = services.note_kinds_for(access)
    for row in records:
        spec = type(row).disclosure
        info = spec.info_of(row)
        key = (info, row.disclosure_level)
        if key not in labels:
            labels[key] = [str(role.label) for role in roles_that_can_read(info, key[1])]
        row.audience_roles = labels[key]
        row.is_restricted = info in LEVELED and row.disclosure_level == DisclosureLevel.RESTRICTED
        if row._meta.model is CaseNote:
            row.can_change_level = row.author_id == access.user_id and row.kind in writable_kinds


def _note_form_page(request: HttpRequest, case: Case, form: NoteForm, status: int) -> HttpResponse:
    return render(request, "casework/note_form.html", {"case": case, "form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def note_create(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_visible_or_404(selectors.cases_for(request.user), request.user, pk=pk)
    access = case_access(request.user, case)
    form = NoteForm(
        request.POST if request.method == "POST" else None,
        case=case,
        access=access,
        author=request.user,
    )
    if not form.can_write:
        raise PermissionDenied("Your role on this case does not write notes.")
    if request.method != "POST":
        return _note_form_page(request, case, form, 200)
    if form.is_valid():
        try:
            note = services.create_note(
                request.user,
                case,
                form.cleaned_data["kind"],
                form.cleaned_data["body"],
                form.cleaned_data["disclosure_level"],
                form.cleaned_data["named_members"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"Note added, shared with: {note.get_disclosure_level_display()}."
            )
            return redirect(reverse("case-detail", args=[case.pk]) + f"#note-{note.pk}")
    return _note_form_page(request, case, form, 400)


def _visible_note(request: HttpRequest, pk: int) -> CaseNote:
    notes = CaseNote.objects.select_related("case", "author", "case__supervisee")
    return get_visible_or_404(notes, request.user, pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def note_level(request: HttpRequest, pk: int) -> HttpResponse:
    note = _visible_note(request, pk)
    if note.author_id != request.user.pk:
        # They can read the note (or they would have had a 404), but only its author
        # decides who it is shared with.
        raise PermissionDenied("Only the author of a note can change who it is shared with.")
    access = case_access(request.user, note.case)
    if not services.note_levels_for(access, note):
        raise PermissionDenied("Your role on this case no longer writes this kind of note.")
    form = NoteLevelForm(
        request.POST if request.method == "POST" else None,
        note=note,
        access=access,
        named=named_members(note),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.change_note_level(
                request.user,
                note,
                form.cleaned_data["disclosure_level"],
                form.cleaned_data["named_members"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"The note is now shared with: {note.get_disclosure_level_display()}."
            )
            return redirect(reverse("case-detail", args=[note.case_id]) + f"#note-{note.pk}")
    if request.method != "POST":
        record_read(request.user, note, case_id=note.case_id)
    return render(
        request,
        "casework/note_level.html",
        {"note": note, "case": note.case, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def note_audience(request: HttpRequest, pk: int) -> HttpResponse:
    note = _visible_note(request, pk)
    record_read(request.user, note, case_id=note.case_id)
    return render(
        request,
        "casework/audience.html",
        {
            "record": note,
            "case": note.case,
            "record_kind": "note",
            "audience": audience(note),
        },
    )


@login_required
def decision_audience(request: HttpRequest, pk: int) -> HttpResponse:
    decisions = CaseDecision.objects.select_related("case", "author", "case__supervisee")
    decision = get_visible_or_404(decisions, request.user, pk=pk)
    record_read(request.user, decision, case_id=decision.case_id)
    return render(
        request,
        "casework/audience.html",
        {
            "record": decision,
            "case": decision.case,
            "record_kind": "decision",
            "audience": audience(decision),
        },
    )


DASHBOARD_ROWS = 10


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """One page per person, with a section for each role they hold today."""
    user = request.user
    if user.is_staff:
        return _admin_dashboard(request)
    roles = active_roles(user)
    sections: list[dict[str, Any]] = []
    if Role.OFFICER in roles:
        sections.append(_section("My cases", selectors.officer_caseload(user), "officer"))
    if Role.VICTIM_REP in roles:
        sections.append(
            _section("Cases where I represent a victim", selectors.represented_cases(user), "rep")
        )
    if Role.SUPERVISOR in roles:
        sections.append(_section("My teams' cases", selectors.supervised_cases(user), "sup"))
    if Role.TREATMENT in roles:
        sections.append(
            _section(
                "Cases I provide treatment on", selectors.team_cases(user, Role.TREATMENT), "tx"
            )
        )
    if Role.POLYGRAPH in roles:
        sections.append(
            _section("Cases I examine on", selectors.team_cases(user, Role.POLYGRAPH), "poly")
        )
    shown = [case.pk for section in sections for case in section["cases"]]
    record_list(user, Case, list(dict.fromkeys(shown)))
    victim_queue = None
    if Role.VICTIM_REP in roles:
        # The victims app depends on casework, not the reverse: imported where used.
        from victims.rep_dashboard import rep_dashboard

        victim_queue = rep_dashboard(user)
    my_actions = open_actions_for(user)
    if my_actions:
        record_list(user, ActionItem, [action.pk for action in my_actions])
    return render(
        request,
        "dashboard.html",
        {
            "sections": sections,
            "my_actions": my_actions,
            "meetings": upcoming_meetings(user),
            "has_roles": bool(roles),
            "victim_queue": victim_queue,
            # Supervisors: the team's collaboration measures (numbers only).
            "collaboration": collaboration.dashboard(user) if Role.SUPERVISOR in roles else None,
        },
    )


def _section(title: str, cases: Any, key: str) -> dict[str, Any]:
    return {
        "title": title,
        "key": key,
        "total": cases.count(),
        "cases": list(cases[:DASHBOARD_ROWS]),
    }


def _admin_dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    teams = Team.objects.annotate(
        member_count=Count(
            "memberships__user",
            filter=Q(memberships__active_from__lte=today)
            & (Q(memberships__active_to__isnull=True) | Q(memberships__active_to__gte=today)),
            distinct=True,
        )
    )
    users = User.objects.order_by("username").prefetch_related("memberships__team")
    return render(request, "admin_dashboard.html", {"teams": teams, "users": users})
