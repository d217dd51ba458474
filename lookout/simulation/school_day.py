"""The school day as the simulated SSO knows it: the patrol plan's check windows (the same rule
the patrol service applies, unannounced times included — the SSO's phone is told those), bell
periods, and counting school days. Pure: no I/O, no clock.

The kernel may not import a service, so the window rule of `services/patrol/domain.py` is
restated here; `tests/unit/simulation/test_school_day.py` checks both give the same windows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from lookout.school import Period, PeriodKind, SchoolConfig


@dataclass(frozen=True)
class Window:
    """One check the patrol plan asks for: scanned in [start, end] is checked, in the grace
    after `end` (up to `deadline`) late, later not at all (missed)."""

    zone_id: str
    start: datetime
    end: datetime
    grace: timedelta
    period: str | None
    unannounced: bool
    rule: int  # index of the patrol-plan rule it comes from

    @property
    def deadline(self) -> datetime:
        return self.end + self.grace


def _rule_spans(
    school: SchoolConfig, index: int, day: date
) -> list[tuple[datetime, datetime, str | None]]:
    rule = school.patrol_plan[index]
    tz = school.tz
    spans: list[tuple[datetime, datetime, str | None]] = []
    for period in school.bell_schedule.periods:
        if period.name in rule.during or period.kind.value in rule.during:
            spans.append(
                (
                    datetime.combine(day, period.start, tzinfo=tz),
                    datetime.combine(day, period.end, tzinfo=tz),
                    period.name,
                )
            )
    if rule.window is not None:
        first, last = rule.window.split("-")
        start = datetime.combine(day, time.fromisoformat(first), tzinfo=tz)
        end = datetime.combine(day, time.fromisoformat(last), tzinfo=tz)
        period = school.period_at(start)
        spans.append((start, end, period.name if period else None))
    return sorted(spans)


def _unannounced(
    spans: list[tuple[datetime, datetime, str | None]],
    count: int,
    spacing: timedelta,
    rng: random.Random,
) -> list[tuple[datetime, str | None]]:
    step = max(spacing, timedelta(minutes=1))
    slots: list[tuple[datetime, str | None]] = []
    for start, end, period in spans:
        cursor = start
        while cursor + step <= end:
            slots.append((cursor, period))
            cursor += step
    return sorted(rng.sample(slots, min(count, len(slots))))


def check_windows(school: SchoolConfig, day: date, patrol_seed: str = "") -> list[Window]:
    """Every check window of `day` (none on a no-school day), as the patrol service plans them
    with the deployment's `LOOKOUT_PATROL_SEED`."""
    if not school.is_school_day(day):
        return []
    windows: dict[tuple[str, datetime, datetime, bool], Window] = {}
    for index, rule in enumerate(school.patrol_plan):
        spans = _rule_spans(school, index, day)
        grace = timedelta(minutes=rule.grace_minutes)
        for zone in rule.zones:
            if rule.unannounced_checks:
                rng = random.Random(f"{patrol_seed}|{school.id}|{day.isoformat()}|{zone}|{index}")
                for at, period in _unannounced(spans, rule.unannounced_checks, grace, rng):
                    w = Window(zone, at, at + grace, timedelta(0), period, True, index)
                    windows[(zone, w.start, w.end, True)] = w
                continue
            every = timedelta(minutes=rule.every_minutes) if rule.every_minutes else None
            for start, end, period in spans:
                cursor = start
                while cursor < end:
                    slot_end = end if every is None else min(cursor + every, end)
                    w = Window(zone, cursor, slot_end, grace, period, False, index)
                    windows[(zone, w.start, w.end, False)] = w
                    if every is None:
                        break
                    cursor += every
    return sorted(windows.values(), key=lambda w: (w.start, w.zone_id))


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


def add_school_days(school: SchoolConfig, day: date, count: int) -> date:
    """The `count`-th school day after `day` (how the patrol service dates a welfare re-check)."""
    cursor = day
    left = count
    for _ in range(366):
        cursor += timedelta(days=1)
        if school.is_school_day(cursor):
            left -= 1
            if left == 0:
                return cursor
    raise ValueError(f"no school day within a year after {day}")


def periods(school: SchoolConfig, *kinds: PeriodKind) -> list[Period]:
    """The bell periods of the given kinds, in bell order."""
    return sorted(
        (p for p in school.bell_schedule.periods if p.kind in kinds), key=lambda p: p.start
    )


def at(school: SchoolConfig, day: date, moment: time) -> datetime:
    """A wall-clock time of `day` in the school's timezone."""
    return datetime.combine(day, moment, tzinfo=school.tz)
