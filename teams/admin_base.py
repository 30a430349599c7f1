"""Admin classes for models with case content: the admin is a read path like any other,
so its querysets go through the disclosure policy. A system administrator (staff) reads
no case content there at all (DESIGN rule 8)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from teams.disclosure import restrict


class RestrictedAdmin(admin.ModelAdmin):
    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return restrict(super().get_queryset(request), request.user)
