"""Calendar invitations (RFC 5545) for review meetings, made with the icalendar library.

An invitation carries what an e-mail may carry and no more (DESIGN rule 1): the team, the
time, the place or call link, and a link into the app. Never the meeting's free-text
title (a person may have typed a name into it), never an agenda or a case.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event

from teams.models import MeetingStatus, ReviewMeeting

CONTENT_TYPE = "text/calendar"


def meeting_link(meeting: ReviewMeeting) -> str:
    return reverse("meeting-detail", args=[meeting.pk])


def uid(meeting: ReviewMeeting) -> str:
    host = urlsplit(settings.APP_BASE_URL).hostname or "localhost"
    return f"review-meeting-{meeting.pk}@{host}"


def summary(meeting: ReviewMeeting) -> str:
    return f"{meeting.team.name}: MDT review meeting"


def where(meeting: ReviewMeeting) -> str:
    return meeting.location or meeting.call_link


def details(meeting: ReviewMeeting) -> str:
    """The lines an e-mail about the meeting may carry: team, time, place."""
    local = timezone.localtime(meeting.starts_at)
    lines = [
        f"Team: {meeting.team.name}",
        f"When: {local:%A %d %B %Y, %H:%M} ({local.tzname()}), {meeting.duration_minutes} minutes",
    ]
    if meeting.location:
        lines.append(f"Where: {meeting.location}")
    if meeting.call_link:
        lines.append(f"Call link: {meeting.call_link}")
    return "\n".join(lines)


def invitation(meeting: ReviewMeeting) -> bytes:
    """The meeting as an iCalendar file. A cancelled meeting gives a CANCEL with the same
    UID and a higher SEQUENCE, so calendar programs remove the event they hold."""
    cancelled = meeting.status == MeetingStatus.CANCELLED
    calendar = Calendar()
    calendar.add("prodid", "-//MDT casework//review meetings//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event: Any = Event()
    event.add("uid", uid(meeting))
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", timezone.now())
    event.add("dtstart", meeting.starts_at)
    event.add("dtend", meeting.ends_at)
    event.add("summary", summary(meeting))
    if where(meeting):
        event.add("location", where(meeting))
    link = f"{settings.APP_BASE_URL}{meeting_link(meeting)}"
    event.add("url", link)
    event.add("description", f"Agenda and details in the app: {link}")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def filename(meeting: ReviewMeeting) -> str:
    return f"review-meeting-{meeting.pk}.ics"
