"""Patrol rules, pure: what events must satisfy to be stored, and the patrol plan's windows.

Each check returns None when the event is acceptable, or the reason it is refused (which goes to
the dead-letter subject, so it names the field and the fault, never a value the sender chose).
Whether zones, checkpoint tags and students belong to the school is judged before, for every
consumer alike (lookout.kernel.admission).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from lookout.contracts.patrol import (
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    WindowOutcome,
)
from lookout.school.config import Role, SchoolConfig
from lookout.school.patrol_plan import PlannedWindow as PlannedWindow
from lookout.school.patrol_plan import add_school_days as add_school_days
from lookout.school.patrol_plan import draw_unannounced as draw_unannounced
from lookout.school.patrol_plan import windows_for_day as windows_for_day


class ConcernStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class ConcernState:
    """What the rules need to know of a stored concern."""

    status: ConcernStatus
    school_id: str = ""


def refuse_concern_event(
    event: ConcernRaised | ConcernUpdated | ConcernResolved,
    current: ConcernState | None,
) -> str | None:
    """The concern lifecycle: raised → (updated)* → resolved. (Zones, students and times were
    judged for every consumer alike before: lookout.kernel.admission.)"""
    if isinstance(event, ConcernRaised):
        if current is not None and current.school_id not in ("", event.school_id):
            # A concern id belongs to its school: another school's event may not touch it.
            return "concern_id: belongs to another school"
        if current is not None:
            return "concern_id: already raised"
        return None
    if current is None or current.school_id not in ("", event.school_id):
        return "concern_id: unknown (never raised)"
    if current.status is ConcernStatus.RESOLVED:
        return "concern_id: already resolved"
    return None


# --- the patrol plan: windows derived from the bell schedule (lookout/school/patrol_plan.py) ---


def scan_outcome(window: PlannedWindow, scanned_at: datetime) -> WindowOutcome | None:
    """What a scan at `scanned_at` does to an open window: checked, late, or nothing."""
    if window.start <= scanned_at <= window.end:
        return WindowOutcome.CHECKED
    if window.end < scanned_at <= window.deadline:
        return WindowOutcome.LATE
    return None


def is_monitored(window: PlannedWindow, planned_at: datetime) -> bool:
    """A window whose deadline had passed when its day was first planned (the suite started
    mid-day) was never watched: it is recorded as not monitored and missing it alerts nobody.
    A day planned in advance has every window monitored, so a restart still reports misses."""
    return window.deadline > planned_at


# --- welfare follow-ups and the SSO's phone ---------------------------------------------------


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


def silence_matters_at(school: SchoolConfig, silent_at: datetime) -> datetime:
    """The first moment, at or after `silent_at`, when a silent phone is worth an alert: itself
    during school hours, else the next first bell (a phone dead at 07:00 matters at 07:15; one
    off since Friday evening, at Monday's first bell). A school without a school day in the
    coming year is looked at again a day later, so the silence is never forgotten."""
    if silence_is_alarming(school, silent_at):
        return silent_at
    first = silent_at.astimezone(school.tz).date()
    for offset in range(367):
        hours = school.school_hours(first + timedelta(days=offset))
        if hours is not None and hours[0] >= silent_at:
            return hours[0].astimezone(UTC)
    return silent_at + timedelta(days=1)


def follow_up_recipients(
    school: SchoolConfig, addressed_to: str, device_officer: str | None
) -> list[str]:
    """Whom a re-check reminder goes to (`patrol.<S>.sso.<person>.follow_up_due`, which only
    that person may read): the person who resolved the concern; for a phone, the officer it
    last reported in a heartbeat (`device_officer`); a phone never heard from, every SSO of the
    school, so the reminder reaches someone rather than nobody."""
    if addressed_to in {p.id for p in school.people}:
        return [addressed_to]
    if device_officer is not None:
        return [device_officer]
    return [p.id for p in school.people if Role.SSO in p.roles]
