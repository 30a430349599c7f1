from django.contrib import admin

from teams.admin_base import RestrictedAdmin
from victims.models import CaseVictim, Victim, VictimInput, VictimLocation


@admin.register(Victim)
class VictimAdmin(RestrictedAdmin):
    list_display = ["last_name", "first_name", "relationship_category"]


@admin.register(VictimLocation)
class VictimLocationAdmin(RestrictedAdmin):
    list_display = ["__str__", "updated_at"]


@admin.register(CaseVictim)
class CaseVictimAdmin(RestrictedAdmin):
    list_display = ["case", "pseudonym", "representative"]
    raw_id_fields = ["case", "victim", "representative"]


@admin.register(VictimInput)
class VictimInputAdmin(RestrictedAdmin):
    list_display = ["case", "author", "disclosure_level", "created_at"]
    raw_id_fields = ["case", "author"]
