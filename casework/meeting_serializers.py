"""What the review meetings API shows and takes (issue 7). Writes go through
casework.meeting_schedule and teams.meetings, which check them against the rules; these
check the shape of a request and refuse any field an endpoint does not take."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from teams import recurrence
from teams.disclosure import restrict
from teams.meetings import ANSWER_CHOICES, MAX_DURATION_MINUTES, MAX_REASON
from teams.models import MeetingAttendee, MeetingSeries, ReviewMeeting, Rsvp, Team


class AttendeeSerializer(serializers.ModelSerializer[MeetingAttendee]):
    name = serializers.SerializerMethodField()
    guest_case = serializers.SerializerMethodField(
        help_text="For a guest: the case they are invited for, when you may see that case."
    )

    class Meta:
        model = MeetingAttendee
        fields = ["user", "name", "rsvp", "responded_at", "attended", "is_guest", "guest_case"]
        read_only_fields = fields

    def get_name(self, row: MeetingAttendee) -> str:
        return str(row.user.get_full_name() or row.user.get_username())

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_guest_case(self, row: MeetingAttendee) -> int | None:
        if not row.is_guest or not hasattr(row, "guest_case"):
            return None
        visible: set[int] = self.context.get("guest_cases", set())
        case_id = int(row.guest_case.case_id)
        return case_id if case_id in visible else None


class MeetingSerializer(serializers.ModelSerializer[ReviewMeeting]):
    team_name = serializers.CharField(source="team.name", read_only=True)
    ends_at = serializers.DateTimeField(read_only=True)
    attendees = AttendeeSerializer(source="attendance", many=True, read_only=True)
    my_rsvp = serializers.SerializerMethodField(
        help_text="Your answer, when you are invited (null otherwise)."
    )
    reminder_offsets = serializers.ListField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Minutes before the start at which each attendee is reminded.",
    )

    class Meta:
        model = ReviewMeeting
        fields = [
            "id",
            "team",
            "team_name",
            "title",
            "starts_at",
            "ends_at",
            "duration_minutes",
            "location",
            "call_link",
            "status",
            "sequence",
            "series",
            "occurrence_of",
            "reminder_offsets",
            "created_by",
            "created_at",
            "updated_at",
            "cancelled_at",
            "cancelled_by",
            "cancel_reason",
            "my_rsvp",
            "attendees",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Rsvp.choices, allow_null=True))
    def get_my_rsvp(self, meeting: ReviewMeeting) -> str | None:
        request = self.context.get("request")
        user_id = getattr(getattr(request, "user", None), "pk", None)
        for row in meeting.attendance.all():  # prefetched with the page
            if row.user_id == user_id:
                return str(row.rsvp)
        return None


class SchedulingTeamField(serializers.PrimaryKeyRelatedField[Team]):
    """A team id; a team the user is not a member of answers like one that does not
    exist (being allowed to schedule for it is the service's 403)."""

    queryset = Team.objects.all()  # the model, for the schema; get_queryset() restricts

    def get_queryset(self) -> Any:
        return restrict(Team.objects.all(), self.context["request"].user)


class _Body(serializers.Serializer[Any]):
    """A field the endpoint does not take is a 400 naming it: RejectUnknownFieldsMixin's
    check, made on the data itself rather than on `initial_data`, which a serializer
    nested in a list (the guests) does not have."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["This field cannot be set here."] for name in unknown}
                )
        return super().to_internal_value(data)


def _offsets() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        max_length=20,
        help_text="Minutes before the start at which each attendee is reminded, each "
        "above 0 and at most 43200 (30 days); default: the app's setting (48 and 2 hours). "
        "An empty list: no reminders.",
    )


class _DetailsBody(_Body):
    team = SchedulingTeamField(help_text="A team where you are an officer or supervisor.")
    title = serializers.CharField(max_length=160, required=False, allow_blank=True)
    starts_at = serializers.DateTimeField(help_text="In the future.")
    duration_minutes = serializers.IntegerField(
        required=False, default=60, help_text=f"1 to {MAX_DURATION_MINUTES}."
    )
    location = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="A place; a place or a call link is needed (or both).",
    )
    call_link = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="An http(s) address of the call.",
    )
    reminder_offsets = _offsets()


class GuestSerializer(_Body):
    user = serializers.IntegerField(min_value=1, help_text="A person from another team.")
    case = serializers.IntegerField(
        min_value=1,
        help_text="A case of the meeting's team to which the person holds an invitation "
        "(an unexpired case grant).",
    )


class MeetingCreateSerializer(_DetailsBody):
    """A one-off meeting. The organiser is the signed-in user."""

    attendees = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text="Ids of the team's members invited; default: every active member.",
    )
    guests = GuestSerializer(many=True, required=False, help_text="Guests, each for one case.")


class MeetingMoveSerializer(_Body):
    starts_at = serializers.DateTimeField(required=False, help_text="In the future.")
    duration_minutes = serializers.IntegerField(required=False)
    location = serializers.CharField(max_length=200, required=False, allow_blank=True)
    call_link = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Send a field to change."]})
        return attrs


class CancelSerializer(_Body):
    reason = serializers.CharField(
        max_length=MAX_REASON,
        help_text="Shown on the meeting to everyone invited: no case details.",
    )


class RsvpSerializer(_Body):
    rsvp = serializers.ChoiceField(
        choices=ANSWER_CHOICES,
        help_text="Declining cancels your reminders; answering again plans them again.",
    )


class AttendanceSerializer(_Body):
    attended = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        allow_empty=True,
        help_text="User ids of the invited people who attended; the others did not.",
    )


class SeriesSerializer(serializers.ModelSerializer[MeetingSeries]):
    team_name = serializers.CharField(source="team.name", read_only=True)
    rule_description = serializers.SerializerMethodField()
    reminder_offsets = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = MeetingSeries
        fields = [
            "id",
            "team",
            "team_name",
            "title",
            "rule",
            "rule_description",
            "starts_at",
            "duration_minutes",
            "location",
            "call_link",
            "reminder_offsets",
            "created_by",
            "created_at",
            "generated_until",
            "ended_at",
        ]
        read_only_fields = fields

    def get_rule_description(self, series: MeetingSeries) -> str:
        return recurrence.describe(series.rule)


class SeriesCreateSerializer(_DetailsBody):
    """A recurring meeting. Its meetings up to MEETING_SERIES_HORIZON_DAYS ahead are
    made at once, each inviting every active member of the team."""

    starts_at = serializers.DateTimeField(
        help_text="The first meeting's date and time (its time is each meeting's)."
    )
    rule = serializers.CharField(
        max_length=200,
        help_text="An RFC 5545 recurrence rule body, such as FREQ=MONTHLY;BYDAY=1TU (the "
        "first Tuesday of each month). Daily at most; the time comes from starts_at.",
    )


class EndSeriesSerializer(_Body):
    """No body: ending needs nothing more than who asks."""
