"""The district's iCalendar feed mapped to proposed day types (lookout/school/ical.py): recurrence,
exceptions, time zones across the end of daylight saving time, all-day and timed events, and
keyword rules in any case. The feeds are written here, by hand."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from lookout.school.day_types import CalendarFeed, DayKind, DayType, ProposedDay
from lookout.school.ical import CalendarError, propose

CHICAGO = ZoneInfo("America/Chicago")
NO_SCHOOL = DayType(DayKind.NO_SCHOOL)
EARLY = DayType(DayKind.EARLY_RELEASE, "early")
LATE = DayType(DayKind.LATE_START, "late")

FEED = CalendarFeed(
    file="district.ics",
    rules=[
        {"keywords": ["No School", "Winter Break"], "day_type": "no_school"},
        {"keywords": ["early release", "early dismissal"], "day_type": "early_release",
         "schedule": "early"},
        {"keywords": ["late start"], "day_type": "late_start", "schedule": "late"},
    ],
)  # fmt: skip


def ics(*events: str) -> bytes:
    body = "".join(
        f"BEGIN:VEVENT\r\nDTSTAMP:20260801T000000Z\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events
    )
    text = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//lhs test//EN\r\n{body}END:VCALENDAR\r\n"
    return text.replace("\n            ", "\n").replace("\r\r", "\r").encode()


def lines(*parts: str) -> str:
    return "\r\n".join(parts)


def days(proposed: list[ProposedDay]) -> list[tuple[date, DayType]]:
    return [(p.day, p.day_type) for p in proposed]


def test_a_weekly_pd_day_recurs_and_its_exdate_is_skipped() -> None:
    feed = ics(
        lines(
            "UID:pd@lhs",
            "DTSTART;VALUE=DATE:20260904",
            "SUMMARY:Teacher PD - No School",
            "RRULE:FREQ=WEEKLY;BYDAY=FR;COUNT=4",
            "EXDATE;VALUE=DATE:20260911",
        )
    )
    got = propose(feed, FEED, CHICAGO, date(2026, 9, 1), date(2026, 10, 31))
    assert days(got) == [
        (date(2026, 9, 4), NO_SCHOOL),
        (date(2026, 9, 18), NO_SCHOOL),
        (date(2026, 9, 25), NO_SCHOOL),
    ]
    assert got[0].titles == ("Teacher PD - No School",)


def test_a_moved_occurrence_recurrence_id_lands_on_its_new_date() -> None:
    feed = ics(
        lines(
            "UID:late@lhs",
            "DTSTART;TZID=America/Chicago:20261005T093000",
            "DTEND;TZID=America/Chicago:20261005T094500",
            "SUMMARY:Late start",
            "RRULE:FREQ=WEEKLY;COUNT=3",
        ),
        lines(
            "UID:late@lhs",
            "RECURRENCE-ID;TZID=America/Chicago:20261012T093000",
            "DTSTART;TZID=America/Chicago:20261014T093000",
            "DTEND;TZID=America/Chicago:20261014T094500",
            "SUMMARY:Late start",
        ),
    )
    got = propose(feed, FEED, CHICAGO, date(2026, 10, 1), date(2026, 10, 31))
    assert days(got) == [
        (date(2026, 10, 5), LATE),
        (date(2026, 10, 14), LATE),
        (date(2026, 10, 19), LATE),
    ]


def test_a_weekly_utc_event_falls_on_chicago_dates_either_side_of_the_dst_change() -> None:
    # 05:30Z is 00:30 CDT (UTC-5) until 1 November 2026, then 23:30 CST (UTC-6) the day before.
    feed = ics(
        lines(
            "UID:utc@lhs",
            "DTSTART:20261023T053000Z",
            "DTEND:20261023T060000Z",
            "SUMMARY:Early Release",
            "RRULE:FREQ=WEEKLY;COUNT=3",
        )
    )
    got = propose(feed, FEED, CHICAGO, date(2026, 10, 1), date(2026, 11, 30))
    assert days(got) == [
        (date(2026, 10, 23), EARLY),
        (date(2026, 10, 30), EARLY),
        (date(2026, 11, 5), EARLY),
    ]


def test_a_chicago_event_keeps_its_local_dates_across_the_dst_change() -> None:
    feed = ics(
        lines(
            "UID:er@lhs",
            "DTSTART;TZID=America/Chicago:20261030T233000",
            "DTEND;TZID=America/Chicago:20261030T234500",
            "SUMMARY:Early dismissal",
            "RRULE:FREQ=WEEKLY;COUNT=2",
        )
    )
    got = propose(feed, FEED, CHICAGO, date(2026, 10, 1), date(2026, 11, 30))
    assert days(got) == [(date(2026, 10, 30), EARLY), (date(2026, 11, 6), EARLY)]


def test_an_all_day_break_covers_every_date_up_to_its_exclusive_end() -> None:
    feed = ics(
        lines(
            "UID:break@lhs",
            "DTSTART;VALUE=DATE:20261221",
            "DTEND;VALUE=DATE:20261224",
            "SUMMARY:WINTER BREAK",
        )
    )
    got = propose(feed, FEED, CHICAGO, date(2026, 12, 1), date(2026, 12, 31))
    assert days(got) == [
        (date(2026, 12, 21), NO_SCHOOL),
        (date(2026, 12, 22), NO_SCHOOL),
        (date(2026, 12, 23), NO_SCHOOL),
    ]


def test_a_timed_event_overnight_counts_on_both_dates_and_one_ending_at_midnight_on_one() -> None:
    feed = ics(
        lines(
            "UID:storm@lhs",
            "DTSTART;TZID=America/Chicago:20261207T200000",
            "DTEND;TZID=America/Chicago:20261208T100000",
            "SUMMARY:No school (storm)",
        ),
        lines(
            "UID:eve@lhs",
            "DTSTART;TZID=America/Chicago:20261210T180000",
            "DTEND;TZID=America/Chicago:20261211T000000",
            "SUMMARY:no school tomorrow? rumour",
        ),
    )
    got = propose(feed, FEED, CHICAGO, date(2026, 12, 1), date(2026, 12, 31))
    assert days(got) == [
        (date(2026, 12, 7), NO_SCHOOL),
        (date(2026, 12, 8), NO_SCHOOL),
        (date(2026, 12, 10), NO_SCHOOL),
    ]


def test_keywords_match_in_any_case_and_unmatched_events_are_ignored() -> None:
    feed = ics(
        lines("UID:a@lhs", "DTSTART;VALUE=DATE:20261110", "SUMMARY:EARLY RELEASE - conferences"),
        lines("UID:b@lhs", "DTSTART;VALUE=DATE:20261111", "SUMMARY:Early bird breakfast"),
        lines("UID:c@lhs", "DTSTART;VALUE=DATE:20261112", "SUMMARY:Football: late game"),
    )
    got = propose(feed, FEED, CHICAGO, date(2026, 11, 1), date(2026, 11, 30))
    assert days(got) == [(date(2026, 11, 10), EARLY)]


def test_the_first_matching_rule_wins_for_an_event_and_no_school_wins_a_date() -> None:
    feed = ics(
        # Matches both the no-school and the early-release rules: the first, no school.
        lines("UID:a@lhs", "DTSTART;VALUE=DATE:20261116", "SUMMARY:No School / early release"),
        # Two events on one date: no school takes more of the day than a late start.
        lines("UID:b@lhs", "DTSTART;VALUE=DATE:20261117", "SUMMARY:Late Start"),
        lines("UID:c@lhs", "DTSTART;VALUE=DATE:20261117", "SUMMARY:No School - Election Day"),
    )
    got = propose(feed, FEED, CHICAGO, date(2026, 11, 1), date(2026, 11, 30))
    assert days(got) == [(date(2026, 11, 16), NO_SCHOOL), (date(2026, 11, 17), NO_SCHOOL)]
    assert got[1].titles == ("No School - Election Day",)


def test_only_dates_in_the_range_are_proposed() -> None:
    feed = ics(
        lines(
            "UID:pd@lhs",
            "DTSTART;VALUE=DATE:20260904",
            "SUMMARY:no school",
            "RRULE:FREQ=MONTHLY;COUNT=12",
        )
    )
    got = propose(feed, FEED, CHICAGO, date(2026, 11, 1), date(2026, 12, 31))
    assert days(got) == [(date(2026, 11, 4), NO_SCHOOL), (date(2026, 12, 4), NO_SCHOOL)]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"<html>not a calendar</html>", "calendar: not an iCalendar file (no BEGIN:VCALENDAR)"),
        (b"BEGIN:VCALENDAR\r\nthis is no content line\r\n", "calendar: malformed iCalendar"),
    ],
)
def test_a_feed_that_is_no_icalendar_is_one_line(raw: bytes, message: str) -> None:
    with pytest.raises(CalendarError) as info:
        propose(raw, FEED, CHICAGO, date(2026, 11, 1), date(2026, 11, 30))
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_a_range_backwards_is_refused() -> None:
    with pytest.raises(CalendarError, match=r"the range ends \(2026-11-01\) before"):
        propose(ics(), FEED, CHICAGO, date(2026, 11, 30), date(2026, 11, 1))


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"keywords": ["x1"], "day_type": "early_release"},
            "the early_release rule needs a schedule",
        ),
        ({"keywords": ["x1"], "day_type": "no_school", "schedule": "early"}, "takes no schedule"),
        ({"keywords": ["x1"], "day_type": "snow_day"}, "day_type"),
        ({"keywords": [], "day_type": "no_school"}, "keywords"),
    ],
)
def test_a_bad_rule_names_its_fault(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        CalendarFeed(file="x.ics", rules=[rule])
    assert message in str(info.value)


def test_a_feed_names_exactly_one_source() -> None:
    with pytest.raises(ValidationError, match="exactly one of `url` and `file`"):
        CalendarFeed(rules=[{"keywords": ["no school"], "day_type": "no_school"}])
