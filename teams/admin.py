from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from teams.models import MeetingAttendee, Membership, ReviewMeeting, Team, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["team", "role", "active_from", "active_to"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    list_display = ["username", "first_name", "last_name", "email", "is_active", "is_staff"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Work", {"fields": ("job_title", "phone")}),
    )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "office", "jurisdiction"]
    search_fields = ["name", "office", "jurisdiction"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "active_from", "active_to"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "user__last_name", "team__name"]
    autocomplete_fields = ["user", "team"]


class AttendeeInline(admin.TabularInline):
    model = MeetingAttendee
    extra = 0


@admin.register(ReviewMeeting)
class ReviewMeetingAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "starts_at", "status"]
    list_filter = ["status", "team"]
    inlines = [AttendeeInline]
