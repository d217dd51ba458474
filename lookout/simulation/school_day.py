"""The school day as the simulated SSO knows it: the patrol plan's check windows (the kernel's
`lookout/school/patrol_plan.py`, the same the patrol service plans, unannounced times included — the
SSO's phone is told those), bell periods, and counting school days. Pure: no I/O, no clock.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from lookout.school.config import Period, PeriodKind, SchoolConfig
from lookout.school.patrol_plan import PlannedWindow, add_school_days, windows_for_day

__all__ = [
    "Window",
    "add_school_days",
    "at",
    "check_windows",
    "periods",
    "school_days",
    "window_outcome",
]


# The patrol service's own windows (the SSO's phone is told the unannounced times).
Window = PlannedWindow


def check_windows(school: SchoolConfig, day: date, patrol_seed: str = "") -> list[Window]:
    """Every check window of `day` (none on a no-school day), as the patrol service plans them
    with the deployment's `LOOKOUT_PATROL_SEED`."""
    return windows_for_day(school, day, patrol_seed)


def window_outcome(window: Window, scan_times: list[datetime]) -> str:
    """What the patrol service records for a window given every scan of its zone:
    checked (a scan inside), late (none inside, one in the grace) or missed."""
    if any(window.start <= t <= window.end for t in scan_times):
        return "checked"
    if any(window.end < t <= window.deadline for t in scan_times):
        return "late"
    return "missed"


def school_days(school: SchoolConfig, start: date, days: int) -> tuple[list[date], list[date]]:
    """The school days and the closed days (weekends, no-school days) of `days` calendar days."""
    open_days: list[date] = []
    closed: list[date] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        (open_days if school.is_school_day(day) else closed).append(day)
    return open_days, closed


def periods(school: SchoolConfig, *kinds: PeriodKind) -> list[Period]:
    """The bell periods of the given kinds, in bell order."""
    return sorted(
        (p for p in school.bell_schedule.periods if p.kind in kinds), key=lambda p: p.start
    )


def at(school: SchoolConfig, day: date, moment: time) -> datetime:
    """A wall-clock time of `day` in the school's timezone."""
    return datetime.combine(day, moment, tzinfo=school.tz)
