"""Patrol rules, pure: what events must satisfy to be stored, and the patrol plan's windows.

Each check returns None when the event is acceptable, or the reason it is refused (which goes to
the dead-letter subject, so it names ids and states, never note text or student references).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from lookout.contracts.patrol import (
    CheckpointScanned,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    ContactLogged,
    ObservationLogged,
    WindowOutcome,
)
from lookout.school import PatrolRule, SchoolConfig


class ConcernStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class ConcernState:
    """What the rules need to know of a stored concern."""

    status: ConcernStatus


def refuse_scan(school: SchoolConfig, scan: CheckpointScanned) -> str | None:
    owner = school.zone_by_checkpoint.get(scan.checkpoint_tag)
    if scan.zone_id not in school.zone_ids:
        return f"unknown zone {scan.zone_id!r} in school {school.id!r}"
    if owner is None:
        return f"unknown checkpoint {scan.checkpoint_tag!r} in school {school.id!r}"
    if owner != scan.zone_id:
        return f"checkpoint {scan.checkpoint_tag!r} belongs to zone {owner!r}, not {scan.zone_id!r}"
    return None


def refuse_zone(school: SchoolConfig, zone_id: str | None) -> str | None:
    if zone_id is not None and zone_id not in school.zone_ids:
        return f"unknown zone {zone_id!r} in school {school.id!r}"
    return None


def refuse_observation(school: SchoolConfig, obs: ObservationLogged) -> str | None:
    return refuse_zone(school, obs.zone_id)


def refuse_contact(school: SchoolConfig, contact: ContactLogged) -> str | None:
    return refuse_zone(school, contact.zone_id)


def refuse_concern_event(
    school: SchoolConfig,
    event: ConcernRaised | ConcernUpdated | ConcernResolved,
    current: ConcernState | None,
) -> str | None:
    """The concern lifecycle: raised → (updated)* → resolved."""
    cid = event.concern_id
    zone = None if isinstance(event, ConcernResolved) else event.zone_id
    if (reason := refuse_zone(school, zone)) is not None:
        return reason
    if isinstance(event, ConcernRaised):
        if current is not None:
            return f"concern {cid} was already raised"
        return None
    if current is None:
        return f"concern {cid} is unknown (not raised)"
    if current.status is ConcernStatus.RESOLVED:
        return f"concern {cid} is already resolved"
    return None


# --- the patrol plan: windows derived from the bell schedule ------------------------------------


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

    @property
    def deadline(self) -> datetime:
        return self.end + self.grace


def _rule_spans(
    school: SchoolConfig, rule: PatrolRule, day: date
) -> list[tuple[datetime, datetime, str | None]]:
    """The stretches of `day` a rule covers, in school time: named periods/kinds or a window."""
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
                    w = PlannedWindow(zone, at, at + grace, timedelta(0), period, True)
                    windows[(zone, w.start, w.end, True)] = w
                continue
            every = timedelta(minutes=rule.every_minutes) if rule.every_minutes else None
            for start, end, period in spans:
                for slot_start, slot_end in _slots(start, end, every):
                    w = PlannedWindow(zone, slot_start, slot_end, grace, period)
                    windows[(zone, w.start, w.end, False)] = w
    return sorted(windows.values(), key=lambda w: (w.start, w.zone_id))


def scan_outcome(window: PlannedWindow, scanned_at: datetime) -> WindowOutcome | None:
    """What a scan at `scanned_at` does to an open window: checked, late, or nothing."""
    if window.start <= scanned_at <= window.end:
        return WindowOutcome.CHECKED
    if window.end < scanned_at <= window.deadline:
        return WindowOutcome.LATE
    return None


# --- welfare follow-ups and the SSO's phone ---------------------------------------------------


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


def follow_up_times(
    school: SchoolConfig, resolved_at: datetime, school_days: int
) -> tuple[datetime, datetime]:
    """When to remind the SSO (start of the N-th school day after resolution) and when the
    re-check counts as missed (end of that school day)."""
    day = add_school_days(school, resolved_at.astimezone(school.tz).date(), school_days)
    hours = school.school_hours(day)
    assert hours is not None  # add_school_days only returns school days
    return hours[0].astimezone(UTC), hours[1].astimezone(UTC)


def silence_deadline(school: SchoolConfig, last_seen_at: datetime) -> datetime:
    return last_seen_at + timedelta(minutes=school.heartbeat_limit_minutes)


def silence_is_alarming(school: SchoolConfig, silent_at: datetime) -> bool:
    """A phone silent past the limit matters during school hours; after hours it is expected."""
    return school.in_school_hours(silent_at)
