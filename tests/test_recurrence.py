"""Recurrence rules for recurring review meetings (teams.recurrence): parsing and
checking RFC 5545 rule bodies, expanding them in the team's time zone, the words for a
rule, and the common patterns offered for a first meeting's date."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from teams import recurrence


def local(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    naive = dt.datetime(year, month, day, hour, minute)
    return timezone.make_aware(naive, timezone.get_default_timezone())


NOW = local(2026, 11, 20, 9, 0)
START = local(2026, 12, 1, 10, 0)  # the first Tuesday of December 2026


def error_of(rule: str, start: dt.datetime = START) -> str:
    with pytest.raises(ValidationError) as caught:
        recurrence.check(rule, start, NOW)
    assert list(caught.value.message_dict) == ["rule"]
    return " ".join(caught.value.message_dict["rule"])


@pytest.mark.parametrize(
    ("rule", "normal"),
    [
        ("FREQ=MONTHLY;BYDAY=1TU", "FREQ=MONTHLY;BYDAY=1TU"),
        ("rrule:freq=monthly;byday=1tu", "FREQ=MONTHLY;BYDAY=1TU"),
        ("BYDAY=TU;FREQ=WEEKLY;INTERVAL=2", "FREQ=WEEKLY;BYDAY=TU;INTERVAL=2"),
        ("FREQ=MONTHLY;BYDAY=-1FR;COUNT=6", "FREQ=MONTHLY;BYDAY=-1FR;COUNT=6"),
        # UNTIL as a local date is read in the team's time zone, to the end of the day.
        ("FREQ=MONTHLY;BYDAY=1TU;UNTIL=20270301", "FREQ=MONTHLY;BYDAY=1TU;UNTIL=20270302T045959Z"),
    ],
)
def test_good_rules_are_normalised(rule: str, normal: str) -> None:
    assert recurrence.check(rule, START, NOW) == normal


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("", "Enter a recurrence rule"),
        ("garbage", "is not of the form NAME=VALUE"),
        ("FREQ=MONTHLY;FREQ=WEEKLY", "given twice"),
        ("BYDAY=TU", "needs FREQ"),
        ("FREQ=FORTNIGHTLY", "FREQ is DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("FREQ=HOURLY", "daily at most"),
        ("FREQ=MONTHLY;BYDAY=XX", "is not a weekday"),
        ("FREQ=MONTHLY;BYMONTHDAY=40", "BYMONTHDAY takes numbers from 1 to 31"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH takes numbers from 1 to 12"),
        ("FREQ=MONTHLY;COLOR=RED", "Unknown part"),
        ("FREQ=DAILY;BYHOUR=9", "time comes from the first meeting"),
        ("FREQ=DAILY;BYMONTH=2", "weekdays (BYDAY) only"),
        ("FREQ=WEEKLY;BYDAY=1TU", "without a number"),
        ("FREQ=MONTHLY;COUNT=3;UNTIL=20270101T000000Z", "COUNT or UNTIL, not both"),
        ("FREQ=MONTHLY;INTERVAL=0", "INTERVAL is between 1 and 99"),
        ("FREQ=MONTHLY;COUNT=x", "COUNT is a whole number"),
        ("FREQ=MONTHLY;UNTIL=tomorrow", "UNTIL is a date"),
        ("FREQ=MONTHLY;BYDAY=1TU\nEXDATE:20270101", "one rule"),
    ],
)
def test_malformed_rules_are_field_errors(rule: str, says: str) -> None:
    assert says in error_of(rule)


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never produces a date"),
        ("FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=31", "never produces a date"),
        ("FREQ=MONTHLY;BYDAY=6TU", "never produces a date"),
        ("FREQ=MONTHLY;INTERVAL=7;BYMONTH=4;BYMONTHDAY=31", "never produces a date"),
        ("FREQ=DAILY;COUNT=0", "COUNT=0 never produces"),
        ("FREQ=MONTHLY;BYDAY=1TU;UNTIL=20261101T000000Z", "UNTIL is before the first meeting"),
    ],
)
def test_rules_that_never_produce_a_date_are_refused(rule: str, says: str) -> None:
    assert says in error_of(rule)


def test_a_rule_whose_count_ran_out_before_now_produces_nothing_after_now() -> None:
    long_ago = local(2026, 1, 6, 10, 0)
    with pytest.raises(ValidationError) as caught:
        recurrence.check("FREQ=MONTHLY;BYDAY=1TU;COUNT=2", long_ago, NOW)
    assert "no meeting after now" in caught.value.message_dict["rule"][0]


def test_a_never_producing_rule_is_found_out_quickly() -> None:
    # dateutil alone looks for the next date up to the year 9999 (seconds for some rules).
    began = time.monotonic()
    for rule in ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=MONTHLY;BYMONTH=6;BYMONTHDAY=31"):
        error_of(rule)
    assert time.monotonic() - began < 2


def test_a_rare_date_is_still_found() -> None:
    # 29 February on a Monday: every 28 years or so.
    rule = recurrence.check("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", START, NOW)
    first = recurrence.first(rule, START)
    assert first is not None and timezone.localtime(first).date() == dt.date(2044, 2, 29)


def test_occurrences_keep_the_local_time_across_daylight_saving() -> None:
    dates = recurrence.occurrences("FREQ=MONTHLY;BYDAY=1TU", START, NOW, local(2027, 6, 30, 0, 0))
    shown = [timezone.localtime(moment) for moment in dates]
    assert [moment.date() for moment in shown] == [
        dt.date(2026, 12, 1),
        dt.date(2027, 1, 5),
        dt.date(2027, 2, 2),
        dt.date(2027, 3, 2),
        dt.date(2027, 4, 6),  # after the change to summer time
        dt.date(2027, 5, 4),
        dt.date(2027, 6, 1),
    ]
    assert {(moment.hour, moment.minute) for moment in shown} == {(10, 0)}
    assert all(moment.tzinfo == dt.UTC for moment in dates)


def test_occurrences_are_after_the_lower_bound_and_up_to_the_upper() -> None:
    dates = recurrence.occurrences(
        "FREQ=WEEKLY;BYDAY=TU", START, START, START + dt.timedelta(weeks=2)
    )
    assert dates == [START + dt.timedelta(weeks=1), START + dt.timedelta(weeks=2)]


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=WEEKLY;BYDAY=TU", "Weekly on Tuesday"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "Every two weeks on Tuesday"),
        ("FREQ=MONTHLY;BYDAY=1TU", "Monthly on the first Tuesday"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "Monthly on the last Friday"),
        ("FREQ=MONTHLY;BYMONTHDAY=15", "Monthly on day 15"),
        (
            "FREQ=MONTHLY;INTERVAL=3;BYDAY=2WE;COUNT=4",
            "Every 3 months on the second Wednesday, 4 times",
        ),
        (
            "FREQ=MONTHLY;BYDAY=1TU;UNTIL=20270302T045959Z",
            "Monthly on the first Tuesday, until 1 Mar 2027",
        ),
        ("FREQ=DAILY", "Daily"),
        ("FREQ=YEARLY;BYWEEKNO=20", "Custom rule: FREQ=YEARLY;BYWEEKNO=20"),
    ],
)
def test_rules_in_words(rule: str, words: str) -> None:
    assert recurrence.describe(rule) == words


def test_patterns_for_a_first_tuesday() -> None:
    labels = dict(recurrence.patterns(START))
    assert labels == {
        "weekly": "Weekly on Tuesday",
        "biweekly": "Every two weeks on Tuesday",
        "monthly_nth": "Monthly on the first Tuesday",
        "monthly_last": "Monthly on the last Tuesday (the first meeting must be the last "
        "Tuesday of its month)",
        "monthly_day": "Monthly on day 1",
        "custom": "Custom rule (RFC 5545)",
    }
    found = recurrence.pattern("monthly_nth", START)
    assert found is not None and found.rule == "FREQ=MONTHLY;BYDAY=1TU" and found.fits
    last = recurrence.pattern("monthly_last", START)
    assert last is not None and not last.fits


def test_patterns_for_the_last_tuesday_of_a_month() -> None:
    last_tuesday = local(2026, 12, 29, 10, 0)
    found = recurrence.pattern("monthly_last", last_tuesday)
    assert found is not None and found.fits and found.rule == "FREQ=MONTHLY;BYDAY=-1TU"
    fifth = recurrence.pattern("monthly_nth", last_tuesday)
    assert fifth is not None and fifth.rule == "FREQ=MONTHLY;BYDAY=5TU"
    assert "skipped" in fifth.label
    for key in recurrence.PATTERN_KEYS:
        pattern = recurrence.pattern(key, last_tuesday)
        assert pattern is not None
        recurrence.check(pattern.rule, last_tuesday, NOW)  # every offered rule is valid


def test_patterns_without_a_date_use_general_words() -> None:
    assert dict(recurrence.patterns(None)) == recurrence.GENERIC_LABELS
