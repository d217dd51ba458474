"""The district's iCalendar feed as proposed day types: .ics bytes + the school file's keyword
rules + a date range → the dates to confirm. Pure: no I/O, no clock.

`recurring-ical-events` expands RRULE/RDATE, drops EXDATE and applies RECURRENCE-ID overrides,
each in the event's own time zone; a timed event counts on every date it touches in the
school's time zone (an evening event in UTC may be the next day in Chicago).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar

from lookout.school.day_types import STRENGTH, CalendarFeed, DayType, ProposedDay

MAX_BYTES = 5 * 1024 * 1024  # a district's whole year is well under 1 MiB


class CalendarError(ValueError):
    """The feed cannot be read; the message is one line naming what is wrong."""


def parse(ics: bytes) -> Calendar:
    """The feed as a calendar, or a CalendarError saying why it is not one."""
    if len(ics) > MAX_BYTES:
        raise CalendarError(f"calendar: the feed is over {MAX_BYTES // (1024 * 1024)} MiB")
    if not ics.lstrip().upper().startswith(b"BEGIN:VCALENDAR"):
        raise CalendarError("calendar: not an iCalendar file (no BEGIN:VCALENDAR)")
    try:
        return Calendar.from_ical(ics)
    except (ValueError, IndexError, KeyError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CalendarError(f"calendar: malformed iCalendar ({first[:120]})") from None


def _dates(start: Any, end: Any, tz: ZoneInfo) -> list[date]:
    """The school-time dates an occurrence covers: [start, end) for all-day events, every date
    a timed event touches."""
    if not isinstance(start, datetime):  # all-day (VALUE=DATE): DTEND is exclusive
        last = end if isinstance(end, date) and end > start else start + timedelta(days=1)
        return [start + timedelta(days=i) for i in range((last - start).days)]
    local_start = start.replace(tzinfo=tz) if start.tzinfo is None else start.astimezone(tz)
    if not isinstance(end, datetime) or end <= start:
        return [local_start.date()]
    local_end = end.replace(tzinfo=tz) if end.tzinfo is None else end.astimezone(tz)
    last = (local_end - timedelta(microseconds=1)).date()
    first = local_start.date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _occurrences(calendar: Calendar, first: date, last: date) -> Iterable[Any]:
    # A day either side: a timed event in another zone may land on `first` or `last` here.
    try:
        query = recurring_ical_events.of(calendar)
        return list(query.between(first - timedelta(days=1), last + timedelta(days=2)))
    except Exception as exc:  # the library's errors have no common base (bad RRULE, TZID…)
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CalendarError(f"calendar: cannot expand the events ({first_line[:120]})") from None


def propose(
    ics: bytes, feed: CalendarFeed, tz: ZoneInfo, first: date, last: date
) -> list[ProposedDay]:
    """The dates from `first` to `last` (inclusive) the feed's events map to a day type, in
    date order. An event matching no rule is ignored; on a date with several, the kind that
    takes more of the day wins (no school, then early release, then late start)."""
    if last < first:
        raise CalendarError(f"calendar: the range ends ({last}) before it starts ({first})")
    chosen: dict[date, tuple[DayType, list[str]]] = {}
    for event in _occurrences(parse(ics), first, last):
        if event.name != "VEVENT":
            continue
        title = str(event.get("SUMMARY", "")).strip()
        rule = feed.rule_for(title)
        if rule is None or event.get("DTSTART") is None:
            continue
        start = event.decoded("DTSTART")
        end = event.decoded("DTEND") if event.get("DTEND") is not None else None
        if end is None and event.get("DURATION") is not None:
            end = start + event.decoded("DURATION")
        for day in _dates(start, end, tz):
            if not first <= day <= last:
                continue
            held = chosen.get(day)
            if held is None or STRENGTH[rule.day_type] > STRENGTH[held[0].kind]:
                chosen[day] = (rule.day, [title])
            elif held[0] == rule.day and title not in held[1]:
                held[1].append(title)
    return [ProposedDay(day, kind, tuple(titles)) for day, (kind, titles) in sorted(chosen.items())]
