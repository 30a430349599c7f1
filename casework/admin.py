from django.contrib import admin

from casework.models import Case, CaseDecision, CaseNote, Supervisee
from teams.admin_base import RestrictedAdmin


@admin.register(Supervisee)
class SuperviseeAdmin(RestrictedAdmin):
    list_display = ["last_name", "first_name", "docket_number", "risk_level", "supervision_level"]
    search_fields = ["last_name", "first_name", "docket_number"]


@admin.register(Case)
class CaseAdmin(RestrictedAdmin):
    list_display = ["reference", "supervisee", "team", "assigned_officer", "status"]
    list_filter = ["status"]
    search_fields = ["reference", "supervisee__last_name"]
    raw_id_fields = ["supervisee", "assigned_officer"]


@admin.register(CaseNote)
class CaseNoteAdmin(RestrictedAdmin):
    list_display = ["case", "kind", "author", "disclosure_level", "created_at"]
    raw_id_fields = ["case", "author"]


@admin.register(CaseDecision)
class CaseDecisionAdmin(RestrictedAdmin):
    list_display = ["case", "kind", "status", "author", "created_at"]
    raw_id_fields = ["case", "author"]
