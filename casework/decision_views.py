"""The decision pages: a new draft (or one superseding a final decision), the decision
with its worksheet, approval and victim-input status, editing a draft, and the buttons
that move it through its lifecycle. Thin: casework.decisions decides and records."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from audit.services import record_read
from casework import agenda, decision_rules, decisions, selectors
from casework.decision_forms import (
    ACTION_FORMS,
    PLACE_KINDS,
    DecisionForm,
    DecisionServiceForm,
    FinaliseForm,
    ReturnForm,
    WithdrawForm,
    impact_label,
)
from casework.meeting_models import AgendaItem
from casework.models import Case, CaseDecision, DecisionStatus, Interest
from teams.disclosure import CaseAccess, case_access, get_visible_or_404

DONE: dict[str, str] = {
    "propose": "The decision is proposed.",
    "approve": "The decision is approved. Its author can now finalise it.",
    "return": "The decision is returned to its author with your comments.",
    "finalise": "The decision is final.",
    "withdraw": "The decision is withdrawn.",
}


def _visible_decision(request: HttpRequest, pk: int) -> CaseDecision:
    rows = CaseDecision.objects.select_related(
        "case",
        "case__supervisee",
        "case__team",
        "author",
        "approved_by",
        "returned_by",
        "supersedes",
        "superseded_by",
    )
    return get_visible_or_404(rows, request.user, pk=pk)


def _form_page(
    request: HttpRequest,
    case: Case,
    form: DecisionForm,
    status: int,
    decision: CaseDecision | None = None,
    supersedes: CaseDecision | None = None,
    agenda_item: AgendaItem | None = None,
) -> HttpResponse:
    return render(
        request,
        "casework/decision_form.html",
        {
            "case": case,
            "form": form,
            "decision": decision,
            "supersedes": supersedes,
            "agenda_item": agenda_item,
            "place_kinds": PLACE_KINDS,
        },
        status=status,
    )


def _agenda_item(request: HttpRequest, case: Case, raw: Any) -> AgendaItem | None:
    """The review meeting's item a new draft is taken at, if the reader may see it and it
    is of this case (for the page's notice; the lifecycle checks it again on saving)."""
    if raw in (None, ""):
        return None
    try:
        item = agenda.visible_item_or_404(request.user, raw)
    except Http404:
        return None
    return item if item.case_id == case.pk else None


def _superseded(request: HttpRequest, case: Case, raw: Any) -> CaseDecision | None:
    """The final decision a new draft replaces, if the reader may see it. A link to a
    decision of another case is refused by the lifecycle with a field error."""
    try:
        pk = int(raw)
    except (TypeError, ValueError):
        return None
    return selectors.decisions_for(request.user).filter(pk=pk).first()


@login_required
@require_http_methods(["GET", "POST"])
def decision_create(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_visible_or_404(selectors.cases_for(request.user), request.user, pk=pk)
    access = case_access(request.user, case)
    levels = decisions.decision_levels(access)
    if not levels:
        raise PermissionDenied("Only an officer on this case's team writes decisions.")
    if request.method != "POST":
        old = _superseded(request, case, request.GET.get("supersedes"))
        initial: dict[str, Any] = {"disclosure_level": levels[0]}
        if old is not None and old.case_id == case.pk and old.status == DecisionStatus.FINAL:
            initial = {**DecisionForm.initial_from(old), "supersedes": old.pk}
        else:
            old = None
        item = _agenda_item(request, case, request.GET.get("agenda_item"))
        if item is not None:
            initial["agenda_item"] = item.pk
        form = DecisionForm(levels=levels, initial=initial)
        return _form_page(request, case, form, 200, supersedes=old, agenda_item=item)
    form = DecisionForm(request.POST, levels=levels)
    old = None
    item = None
    if form.is_valid():
        old = _superseded(request, case, form.cleaned_data.get("supersedes"))
        target = old if old is not None else form.cleaned_data.get("supersedes")
        item = _agenda_item(request, case, form.cleaned_data.get("agenda_item"))
        try:
            decision = decisions.create_decision(
                request.user,
                case,
                form.service_data(),
                supersedes=target,
                agenda_item=form.cleaned_data.get("agenda_item"),
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request,
                "The draft decision is saved. Only you and the team's "
                "supervisors can see it until it is final.",
            )
            return redirect("decision-detail", pk=decision.pk)
    return _form_page(request, case, form, 400, supersedes=old, agenda_item=item)


@login_required
@require_http_methods(["GET", "POST"])
def decision_edit(request: HttpRequest, pk: int) -> HttpResponse:
    decision = _visible_decision(request, pk)
    access = case_access(request.user, decision.case)
    if not decisions.may_edit(request.user, access, decision):
        if decision.status == DecisionStatus.FINAL:
            raise PermissionDenied(decisions.FINAL_IS_FIXED)
        raise PermissionDenied("Only the author of a draft decision can change it.")
    levels = decisions.decision_levels(access)
    if request.method != "POST":
        record_read(request.user, decision, case_id=decision.case_id)
        form = DecisionForm(levels=levels, initial=DecisionForm.initial_from(decision))
        return _form_page(request, decision.case, form, 200, decision=decision)
    form = DecisionForm(request.POST, levels=levels)
    if form.is_valid():
        try:
            decisions.update_decision(request.user, decision, form.service_data())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "The draft decision is saved.")
            return redirect("decision-detail", pk=decision.pk)
    return _form_page(request, decision.case, form, 400, decision=decision)


def _detail_page(
    request: HttpRequest,
    decision: CaseDecision,
    access: CaseAccess,
    forms: dict[str, DecisionServiceForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    # victims depends on casework, not the reverse: imported where used.
    from victims.acknowledgements import may_acknowledge

    view = decisions.decision_view(request.user, access, decision)
    forms = {
        "return": ReturnForm(prefix="return"),
        "finalise": FinaliseForm(prefix="finalise"),
        "withdraw": WithdrawForm(prefix="withdraw"),
        **(forms or {}),
    }
    return render(
        request,
        "casework/decision_detail.html",
        {
            "case": decision.case,
            "decision": decision,
            "view": view,
            "gate": view.gate,
            "approval_reasons": decision_rules.approval_reasons(decision),
            "touches_victims": decision_rules.touches_victims(decision),
            "place_label": decision_rules.rule(decision.kind).place,
            "forms": forms,
            "worksheet": _worksheet(decision),
            # The author or the assigned officer acknowledges the representative's input.
            "can_acknowledge": decision.status != DecisionStatus.WITHDRAWN
            and may_acknowledge(request.user, access, decision),
        },
        status=status,
    )


def _worksheet(decision: CaseDecision) -> list[dict[str, Any]]:
    return [
        {
            "label": label,
            "benefits": getattr(decision, f"{interest}_benefits"),
            "risks": getattr(decision, f"{interest}_risks"),
            "impact": impact_label(getattr(decision, f"{interest}_impact")),
        }
        for interest, label in Interest.choices
    ]


@login_required
def decision_detail(request: HttpRequest, pk: int) -> HttpResponse:
    decision = _visible_decision(request, pk)
    access = case_access(request.user, decision.case)
    record_read(request.user, decision, case_id=decision.case_id)
    return _detail_page(request, decision, access)


@login_required
@require_POST
def decision_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in decisions.ACTIONS:
        raise Http404("No such action.")
    decision = _visible_decision(request, pk)
    access = case_access(request.user, decision.case)
    form_class = ACTION_FORMS.get(action)
    form = form_class(request.POST, prefix=action) if form_class else None
    if form is not None and not form.is_valid():
        return _detail_page(request, decision, access, {action: form}, status=400)
    data = form.cleaned_data if form is not None else {}
    try:
        if action == "propose":
            decisions.propose(request.user, decision)
        elif action == "approve":
            decisions.approve(request.user, decision)
        elif action == "return":
            decisions.return_decision(request.user, decision, data["return_comment"])
        elif action == "finalise":
            decisions.finalise(
                request.user, decision, data["proceed_reason"], data["proceed_explanation"]
            )
        else:
            decisions.withdraw(request.user, decision, data["withdrawn_reason"])
    except ValidationError as error:
        failed = form
        if failed is None:  # propose and approve take no fields: a bound empty form
            failed = DecisionServiceForm({})
            failed.is_valid()
        failed.add_service_errors(error)
        decision.refresh_from_db()  # nothing was changed; show what is stored
        return _detail_page(request, decision, access, {action: failed}, status=400)
    messages.success(request, DONE[action])
    return redirect(reverse("decision-detail", args=[decision.pk]))
