"""Times as the CLI prints them: in the school's time zone, like the emails, never in UTC."""

from __future__ import annotations

from datetime import datetime

from lookout.school.config import SchoolConfig


def at_school(moment: datetime, school: SchoolConfig) -> str:
    """`2026-11-23 08:00:05 CST`: to the second, with the zone's abbreviation (as in emails)."""
    return moment.astimezone(school.tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def at_school_iso(moment: datetime, school: SchoolConfig) -> str:
    """`2026-11-23T08:00:05-06:00`: the school's local time for files a program reads (CSV)."""
    return moment.astimezone(school.tz).isoformat(timespec="seconds")
