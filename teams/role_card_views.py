"""Role cards, for everyone signed in: the policy table in words (no records shown)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from teams import role_cards
from teams.roles import Role


@login_required
@require_GET
def role_card_list(request: HttpRequest) -> HttpResponse:
    return render(request, "teams/role_cards.html", {"cards": role_cards.all_cards()})


@login_required
@require_GET
def role_card_page(request: HttpRequest, role: str) -> HttpResponse:
    if role not in Role.values:
        raise Http404("No such role.")
    return render(request, "teams/role_card.html", {"card": role_cards.card(role)})
