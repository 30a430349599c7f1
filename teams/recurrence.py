"""Recurrence rules (RFC 5545 RRULE bodies such as FREQ=MONTHLY;BYDAY=1TU) for a team's
recurring review meetings, with dateutil.rrule.

`check(rule, start, now)` parses and validates a rule and returns it normalised; every
problem is a ValidationError on the field `rule`. `occurrences(rule, start, after,
before)` expands it. `describe(rule)` says it in words ("Monthly on the first Tuesday"),
and `patterns(start)` offers the common rules for a first meeting's date.

A rule is expanded in the app's time zone, from the first meeting's local date and time:
"the first Tuesday at 10:00" stays 10:00 across daylight-saving changes.

Only rules a team meets by are taken: daily at most (no hourly rule), the time of day
from the first meeting (no BYHOUR, BYMINUTE or BYSECOND), and a daily or weekly rule
narrowed by weekdays only. That keeps every check bounded: dateutil looks for the next
date of a rule that never produces one until the year 9999 (seconds of work for a daily
rule), so a monthly or yearly rule is first tried from a start moved by whole 400-year
Gregorian cycles (the calendar repeats exactly, weekdays included) to just before the
year 9999, which bounds the search to one or two cycles.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr
from django.core.exceptions import ValidationError
from django.utils import timezone

FIELD = "rule"
MAX_COUNT = 1000
MAX_INTERVAL = 99
# The Gregorian calendar repeats every 400 years, weekdays included.
CYCLE_YEARS = 400

FREQUENCIES = {"DAILY": DAILY, "WEEKLY": WEEKLY, "MONTHLY": MONTHLY, "YEARLY": YEARLY}
KNOWN_PARTS = frozenset(
    {
        "FREQ",
        "INTERVAL",
        "COUNT",
        "UNTIL",
        "BYDAY",
        "BYMONTHDAY",
        "BYMONTH",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYSETPOS",
        "WKST",
    }
)
# Parts that are valid RFC 5545 but not for a meeting: the time comes from the first one.
TIME_PARTS = frozenset({"BYHOUR", "BYMINUTE", "BYSECOND"})
# What narrows a daily or weekly rule besides weekdays; refused (see the module's note).
NARROWING = frozenset({"BYMONTHDAY", "BYMONTH", "BYYEARDAY", "BYWEEKNO", "BYSETPOS"})

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = dict(zip(WEEKDAYS, calendar.day_name, strict=True))
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
ORDINALS[-2] = "second to last"

_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_UNTIL_UTC = re.compile(r"^\d{8}T\d{6}Z$")
_UNTIL_LOCAL = re.compile(r"^(\d{8})(T\d{6})?$")


def _error(message: str) -> ValidationError:
    return ValidationError({FIELD: [message]})


def local(moment: dt.datetime) -> dt.datetime:
    """A moment in the app's time zone, to the minute (the rule's DTSTART)."""
    zone = timezone.get_default_timezone()
    return timezone.localtime(moment, zone).replace(second=0, microsecond=0)


def parts(rule: str) -> dict[str, str]:
    """NAME=VALUE pairs of a rule body, names in capitals; an "RRULE:" prefix is allowed.
    A malformed body is a field error."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text:
        raise _error("Enter a recurrence rule, for example FREQ=MONTHLY;BYDAY=1TU.")
    if "\n" in text or "\r" in text:
        raise _error("Enter one rule (RRULE) only: no DTSTART, EXDATE or second rule.")
    found: dict[str, str] = {}
    for piece in text.strip(";").split(";"):
        name, sep, value = piece.partition("=")
        name, value = name.strip().upper(), value.strip().upper()
        if not sep or not name or not value:
            raise _error(f"“{piece.strip()}” is not of the form NAME=VALUE.")
        if name in found:
            raise _error(f"{name} is given twice.")
        found[name] = value
    return found


def _check_parts(found: dict[str, str]) -> None:
    unknown = sorted(set(found) - KNOWN_PARTS - TIME_PARTS)
    if unknown:
        raise _error(f"Unknown part of a recurrence rule: {', '.join(unknown)}.")
    if "FREQ" not in found:
        raise _error("A rule needs FREQ (DAILY, WEEKLY, MONTHLY or YEARLY).")
    if found["FREQ"] not in FREQUENCIES:
        raise _error(
            "A review meeting repeats daily at most: FREQ is DAILY, WEEKLY, MONTHLY or YEARLY."
        )
    timed = sorted(set(found) & TIME_PARTS)
    if timed:
        raise _error(f"The time comes from the first meeting; leave out {', '.join(timed)}.")
    if found["FREQ"] in ("DAILY", "WEEKLY"):
        narrowing = sorted(set(found) & NARROWING)
        if narrowing:
            raise _error(
                "A daily or weekly rule may name weekdays (BYDAY) only; use a monthly or "
                f"yearly rule with {', '.join(narrowing)}."
            )
        for day in _days(found):
            matched = _BYDAY.match(day)
            if matched and matched.group(1):
                raise _error("A daily or weekly rule names weekdays without a number (BYDAY=TU).")
    if "COUNT" in found and "UNTIL" in found:
        raise _error("Give COUNT or UNTIL, not both.")
    for name, top in (("COUNT", MAX_COUNT), ("INTERVAL", MAX_INTERVAL)):
        if name in found:
            if not found[name].isdigit():
                raise _error(f"{name} is a whole number.")
            value = int(found[name])
            if name == "COUNT" and value == 0:
                raise _error("COUNT=0 never produces a meeting.")
            if not 1 <= value <= top:
                raise _error(f"{name} is between 1 and {top}.")
    for day in _days(found):
        if not _BYDAY.match(day):
            raise _error(f"“{day}” is not a weekday such as TU, 1TU or -1FR.")
    for part, limit in (("BYMONTHDAY", 31), ("BYMONTH", 12)):
        for text in found.get(part, "").split(",") if part in found else []:
            number = text.strip().lstrip("+-")
            if not number.isdigit() or not 1 <= int(number) <= limit:
                raise _error(f"{part} takes numbers from 1 to {limit}, not “{text}”.")
            if part == "BYMONTH" and text.strip().startswith("-"):
                raise _error(f"BYMONTH takes numbers from 1 to 12, not “{text}”.")


def _days(found: dict[str, str]) -> list[str]:
    return [day.strip() for day in found.get("BYDAY", "").split(",") if day.strip()]


def _until_utc(value: str) -> str:
    """UNTIL in UTC, as RFC 5545 asks of a rule whose start has a time zone. A date or a
    local date-time without "Z" is read in the app's time zone (a date: to its end)."""
    if _UNTIL_UTC.match(value):
        return value
    matched = _UNTIL_LOCAL.match(value)
    if not matched:
        raise _error("UNTIL is a date (20271231) or a date and time (20271231T170000Z).")
    day, time_part = matched.groups()
    try:
        naive = dt.datetime.strptime(day + (time_part or "T235959"), "%Y%m%dT%H%M%S")
    except ValueError:
        raise _error(f"UNTIL={value} is not a real date.") from None
    aware = timezone.make_aware(naive, timezone.get_default_timezone())
    return aware.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def normalise(rule: str) -> str:
    """The rule as stored: capitals, FREQ first, UNTIL in UTC."""
    found = parts(rule)
    _check_parts(found)
    if "UNTIL" in found:
        found["UNTIL"] = _until_utc(found["UNTIL"])
    ordered = ["FREQ", *sorted(name for name in found if name != "FREQ")]
    return ";".join(f"{name}={found[name]}" for name in ordered)


def build(rule: str, start: dt.datetime) -> rrule:
    """The dateutil rule from a normalised body and the first meeting's start."""
    try:
        parsed = rrulestr(rule, dtstart=local(start))
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise _error(f"This is not a valid recurrence rule ({error}).") from None
    if not isinstance(parsed, rrule):
        raise _error("Enter one rule (RRULE) only.")
    return parsed


def _ever(rule: str, start: dt.datetime) -> bool:
    """Whether the rule, without COUNT or UNTIL, produces any date at all. Tried from a
    start moved by whole cycles of the calendar and of the rule's interval to between
    one and two cycles before the year 9999, where dateutil gives up (see the module)."""
    found = parts(rule)
    for name in ("COUNT", "UNTIL"):
        found.pop(name, None)
    body = ";".join(f"{name}={value}" for name, value in found.items())
    naive = local(start).replace(tzinfo=None)
    cycle = CYCLE_YEARS * int(found.get("INTERVAL", "1"))
    room = dt.MAXYEAR - naive.year
    if room > 2 * cycle:
        naive = naive.replace(year=naive.year + (room - 2 * cycle) // cycle * cycle)
    try:
        return rrulestr(body, dtstart=naive).after(naive, inc=True) is not None
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise _error(f"This is not a valid recurrence rule ({error}).") from None


def check(rule: str, start: dt.datetime, now: dt.datetime | None = None) -> str:
    """Validate a rule for a series whose first meeting is at `start`, and return it
    normalised. A rule that gives no meeting after now (or after the start) is an error:
    a series of no meetings is a mistake, never what was meant."""
    now = now or timezone.now()
    body = normalise(rule)
    compiled = build(body, start)  # malformed values (BYMONTHDAY=40) fail here
    if not _ever(body, start):
        raise _error("This rule never produces a date (for example, 30 February).")
    until = parts(body).get("UNTIL")
    if until and dt.datetime.strptime(until, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC) < max(
        start, now
    ):
        raise _error("UNTIL is before the first meeting: this rule produces no meeting.")
    # dateutil gives nothing before the start, so this is the first meeting after now.
    if compiled.after(now) is None:
        raise _error("This rule produces no meeting after now.")
    return body


def occurrences(
    rule: str, start: dt.datetime, after: dt.datetime, before: dt.datetime
) -> list[dt.datetime]:
    """The rule's dates after `after` and up to `before` (included), in UTC."""
    compiled = build(rule, start)
    return [
        moment.astimezone(dt.UTC)
        for moment in compiled.between(after, before, inc=True)
        if moment > after
    ]


def first(rule: str, start: dt.datetime) -> dt.datetime | None:
    """The first date the rule gives from the start on (the series' first meeting)."""
    found = build(rule, start).after(local(start), inc=True)
    return found.astimezone(dt.UTC) if found else None


# --- In words ---------------------------------------------------------------------------


def _day_words(day: str, freq: str) -> str:
    matched = _BYDAY.match(day)
    if not matched:
        return day
    number, code = matched.groups()
    name = WEEKDAY_NAMES[code]
    if not number:
        return name
    n = int(number)
    ordinal = ORDINALS.get(n, f"{n}th" if n > 0 else f"{-n}th from last")
    return f"the {ordinal} {name}"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


DESCRIBED = frozenset(
    {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "WKST"}
)


def describe(rule: str) -> str:
    """The rule in words: "Weekly on Tuesday", "Every 2 weeks on Tuesday", "Monthly on the
    first Tuesday", "Monthly on day 15", with ", 6 times" or ", until 31 Dec 2027". A rule
    with parts this does not put in words is shown as it is."""
    try:
        found = parts(rule)
    except ValidationError:
        return rule
    freq = found.get("FREQ", "")
    interval = int(found["INTERVAL"]) if found.get("INTERVAL", "").isdigit() else 1
    units = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
    plain = {"DAILY": "Daily", "WEEKLY": "Weekly", "MONTHLY": "Monthly", "YEARLY": "Yearly"}
    if freq not in units or set(found) - DESCRIBED:
        return f"Custom rule: {rule}"
    words = plain[freq] if interval == 1 else f"Every {interval} {units[freq]}s"
    if interval == 2 and freq == "WEEKLY":
        words = "Every two weeks"
    days = _days(found)
    if days:
        words += " on " + _join([_day_words(day, freq) for day in days])
    if found.get("BYMONTHDAY"):
        numbers = found["BYMONTHDAY"].split(",")
        shown = ["the last day" if n == "-1" else f"day {n.lstrip('+')}" for n in numbers]
        words += (" and " if days else " on ") + _join(shown)
    if found.get("BYMONTH"):
        try:
            months = [calendar.month_name[int(m)] for m in found["BYMONTH"].split(",")]
        except (ValueError, IndexError):
            return f"Custom rule: {rule}"
        words += " in " + _join(months)
    if found.get("COUNT"):
        words += f", {found['COUNT']} times"
    if found.get("UNTIL"):
        try:
            until = dt.datetime.strptime(found["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
            words += f", until {local(until):%-d %b %Y}"
        except ValueError:
            words += f", until {found['UNTIL']}"
    return words


# --- The common patterns for a first meeting ---------------------------------------------


@dataclass(frozen=True)
class Pattern:
    key: str
    rule: str
    label: str
    # False for "the last Tuesday of the month" when the first meeting is not one.
    fits: bool = True


PATTERN_KEYS = ("weekly", "biweekly", "monthly_nth", "monthly_last", "monthly_day")
CUSTOM = "custom"
# What the choices say before a first meeting is chosen (the page's script, when it runs,
# shows the same words as patterns() for the date typed).
GENERIC_LABELS: dict[str, str] = {
    "weekly": "Weekly, on the first meeting's weekday",
    "biweekly": "Every two weeks, on the first meeting's weekday",
    "monthly_nth": "Monthly, on the same weekday of the month (for example the first Tuesday)",
    "monthly_last": "Monthly, on the last such weekday of the month",
    "monthly_day": "Monthly, on the same day of the month",
    CUSTOM: "Custom rule (RFC 5545)",
}


def pattern(key: str, start: dt.datetime) -> Pattern | None:
    """The rule a common pattern gives for this first meeting (None for an unknown key).
    It does not fit where the first meeting is not on it: the last Tuesday of the month
    for a start that is not one."""
    day = local(start)
    code = WEEKDAYS[day.weekday()]
    name = WEEKDAY_NAMES[code]
    nth = (day.day - 1) // 7 + 1
    days_in_month = calendar.monthrange(day.year, day.month)[1]
    if key == "weekly":
        return Pattern(key, f"FREQ=WEEKLY;BYDAY={code}", f"Weekly on {name}")
    if key == "biweekly":
        return Pattern(key, f"FREQ=WEEKLY;INTERVAL=2;BYDAY={code}", f"Every two weeks on {name}")
    if key == "monthly_nth":
        label = f"Monthly on the {ORDINALS[nth]} {name}"
        if nth == 5:
            label += " (months without one are skipped)"
        return Pattern(key, f"FREQ=MONTHLY;BYDAY={nth}{code}", label)
    if key == "monthly_last":
        fits = day.day + 7 > days_in_month
        label = f"Monthly on the last {name}"
        if not fits:
            label += f" (the first meeting must be the last {name} of its month)"
        return Pattern(key, f"FREQ=MONTHLY;BYDAY=-1{code}", label, fits)
    if key == "monthly_day":
        label = f"Monthly on day {day.day}"
        if day.day > 28:
            label += " (months without one are skipped)"
        return Pattern(key, f"FREQ=MONTHLY;BYMONTHDAY={day.day}", label)
    return None


def patterns(start: dt.datetime | None) -> list[tuple[str, str]]:
    """(key, label) for each common pattern, in words for this first meeting when it is
    known; the custom rule last. A pattern that does not fit the start stays offered
    (choosing it is a field error that says why), so that the choices never change
    under what was chosen."""
    choices: list[tuple[str, str]] = []
    for key in PATTERN_KEYS:
        found = pattern(key, start) if start is not None else None
        choices.append((key, found.label if found else GENERIC_LABELS[key]))
    return [*choices, (CUSTOM, GENERIC_LABELS[CUSTOM])]
