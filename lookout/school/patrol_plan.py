"""The patrol plan as the school file defines it: the check windows of a school day and
school-day arithmetic. Pure: no I/O, no clock.

Shared by the patrol service (which plans, checks and closes these windows) and the simulator
(whose SSO patrols them), so both always agree on what a day asks for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from lookout.school.config import PatrolRule, SchoolConfig


@dataclass(frozen=True)
class PlannedWindow:
    """One check the plan asks for: the zone must be scanned between start and end; a scan in
    the grace after the end counts as late; after the deadline the check is missed."""

    zone_id: str
    start: datetime
    end: datetime
    grace: timedelta
    period: str | None
    unannounced: bool = False
    # Which patrol-plan rule asked for it (the simulator gives each SSO their rules).
    rule: int = field(default=0, compare=False)

    @property
    def deadline(self) -> datetime:
        return self.end + self.grace


def _rule_spans(
    school: SchoolConfig, rule: PatrolRule, day: date
) -> list[tuple[datetime, datetime, str | None]]:
    """The stretches of `day` a rule covers, in school time: named periods/kinds or a window."""
    tz = school.tz
    spans: list[tuple[datetime, datetime, str | None]] = []
    for period in school.periods_on(day):
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
        # On an early release or late start, a clock-time window from that day's last bell on
        # is not asked for (the school has gone home); `during` follows the day's own bell.
        hours = school.school_hours(day) if _alternate_day(school, day) else None
        if hours is None or start < hours[1]:
            spans.append((start, end, period.name if period else None))
    return sorted(spans)


def _alternate_day(school: SchoolConfig, day: date) -> bool:
    held = school.day_type(day)
    return held is not None and held.schedule is not None


def _slots(
    start: datetime, end: datetime, every: timedelta | None
) -> list[tuple[datetime, datetime]]:
    if every is None:
        return [(start, end)]
    slots = []
    cursor = start
    while cursor < end:
        slots.append((cursor, min(cursor + every, end)))
        cursor += every
    return slots


def draw_unannounced(
    spans: list[tuple[datetime, datetime, str | None]],
    count: int,
    spacing: timedelta,
    rng: random.Random,
) -> list[tuple[datetime, str | None]]:
    """`count` check times drawn without replacement from `spacing`-sized slots of the spans,
    so two unannounced checks of one zone never overlap. Fewer if the spans are too short."""
    step = max(spacing, timedelta(minutes=1))
    slots: list[tuple[datetime, str | None]] = []
    for start, end, period in spans:
        cursor = start
        while cursor + step <= end:
            slots.append((cursor, period))
            cursor += step
    return sorted(rng.sample(slots, min(count, len(slots))))


def windows_for_day(school: SchoolConfig, day: date, seed: str = "") -> list[PlannedWindow]:
    """Every check window of `day` for one school; none on a no-school day.

    Unannounced checks are drawn with a generator seeded by (seed, school, day, zone, rule):
    reproducible for the deployment that knows the seed, unpredictable for students who don't.
    """
    if not school.is_school_day(day):
        return []
    windows: dict[tuple[str, datetime, datetime, bool], PlannedWindow] = {}
    for index, rule in enumerate(school.patrol_plan):
        spans = _rule_spans(school, rule, day)
        grace = timedelta(minutes=rule.grace_minutes)
        for zone in rule.zones:
            if rule.unannounced_checks:
                rng = random.Random(f"{seed}|{school.id}|{day.isoformat()}|{zone}|{index}")
                for at, period in draw_unannounced(spans, rule.unannounced_checks, grace, rng):
                    # The SSO has the grace to get there; there is no "late" for a surprise.
                    w = PlannedWindow(zone, at, at + grace, timedelta(0), period, True, index)
                    windows[(zone, w.start, w.end, True)] = w
                continue
            every = timedelta(minutes=rule.every_minutes) if rule.every_minutes else None
            for start, end, period in spans:
                for slot_start, slot_end in _slots(start, end, every):
                    w = PlannedWindow(zone, slot_start, slot_end, grace, period, False, index)
                    windows[(zone, w.start, w.end, False)] = w
    return sorted(windows.values(), key=lambda w: (w.start, w.zone_id))


def add_school_days(school: SchoolConfig, day: date, count: int) -> date:
    """The `count`-th school day after `day` (weekends and no-school days skipped)."""
    cursor = day
    left = count
    for _ in range(366):
        cursor += timedelta(days=1)
        if school.is_school_day(cursor):
            left -= 1
            if left == 0:
                return cursor
    raise ValueError(f"no school day within a year after {day}")
