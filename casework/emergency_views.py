from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from casework import emergency
from casework.models import EmergencyAccess
from teams.selectors import is_supervisor


class StartForm(forms.Form):
    reference = forms.CharField(label="Case reference", max_length=30)
    reason = forms.CharField(
        label="Why you need this case now",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        help_text="Recorded in the audit trail and read by the supervisor who signs it off.",
    )


class ReviewForm(forms.Form):
    note = forms.CharField(
        label="What you checked", widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


def _apply(form: forms.Form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        form.add_error(None if field == "__all__" else field, messages_)


@login_required
def start(request: HttpRequest) -> HttpResponse:
    form = StartForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            access = emergency.start(
                request.user, form.cleaned_data["reference"], form.cleaned_data["reason"]
            )
        except ValidationError as error:
            _apply(form, error)
        else:
            expires = timezone.localtime(access.expires_at)
            messages.warning(
                request,
                f"Emergency access to {access.case.reference} until {expires:%H:%M}. "
                "Everything you open is marked in the audit trail.",
            )
            return redirect("case-detail", pk=access.case_id)
    if request.method == "POST":
        status = 400
    return render(
        request,
        "casework/emergency_start.html",
        {"form": form, "allowed": is_supervisor(request.user)},
        status=status,
    )


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "casework/emergency_queue.html",
        {
            "accesses": emergency.awaiting_review(request.user),
            "allowed": is_supervisor(request.user),
            "form": ReviewForm(),
        },
    )


@login_required
def review(request: HttpRequest, pk: int) -> HttpResponse:
    access = get_object_or_404(emergency.awaiting_review(request.user), pk=pk)
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            emergency.review(request.user, access, form.cleaned_data["note"])
        except ValidationError as error:
            _apply(form, error)
        else:
            messages.success(request, "Emergency access signed off.")
            return redirect("emergency-queue")
    return render(
        request,
        "casework/emergency_review.html",
        {"access": access, "form": form},
        status=400 if request.method == "POST" else 200,
    )


__all__ = ["EmergencyAccess", "review", "review_queue", "start"]
