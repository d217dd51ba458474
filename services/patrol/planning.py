"""Preventive planning and tour exceptions, pure: hotspots, the weekly focus, deterrence, and
tour statistics computed from plain facts (no broker, no database).

Hotspot score of a zone and bell period over a trailing window:

    score = (severity points of its concerns + number of its observations) / school days in window

with severity points low 1, medium 2, high 3, critical 5. Only facts with a zone, on a school
day, inside a bell period count. Ties are broken by more concerns, then the school file's zone
order, then bell order, so the ranking is stable.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

from lookout.contracts.patrol import Severity
from lookout.school.config import Period, SchoolConfig, Weekday

SEVERITY_POINTS: dict[str, int] = {
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 5,
}
EXTRA_CHECKS = "extra checks"
UNANNOUNCED_CHECKS = "unannounced checks"


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConcernFact:
    zone_id: str | None
    category: str
    severity: str
    at: datetime


@dataclass(frozen=True)
class ObservationFact:
    zone_id: str
    category: str
    at: datetime


@dataclass(frozen=True)
class ScanFact:
    zone_id: str
    checkpoint_tag: str
    officer_id: str
    at: datetime


# --- calendar ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayWindow:
    """School-local days `first`..`last` (both included) and how many of them are school days."""

    first: date
    last: date
    school_days: int

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def span_text(self) -> str:
        """`4 weeks` for whole weeks, else `N days`."""
        n = self.days
        if n % 7 == 0:
            weeks = n // 7
            return f"{weeks} week{'s' if weeks != 1 else ''}"
        return f"{n} day{'s' if n != 1 else ''}"


def day_window(school: SchoolConfig, *, first: date, last: date) -> DayWindow:
    """The window of days `first`..`last` with its school-day count."""
    count = sum(1 for d in _days(first, last) if school.is_school_day(d))
    return DayWindow(first, last, count)


def trailing_window(school: SchoolConfig, *, last: date, weeks: int) -> DayWindow:
    """The `weeks` weeks ending with the day `last` (included)."""
    return day_window(school, first=last - timedelta(days=7 * weeks - 1), last=last)


def week_monday(week: str) -> date:
    """Monday of an ISO week `YYYY-Www`; ValueError if the year has no such week."""
    year, num = week.split("-W")
    return date.fromisocalendar(int(year), int(num), 1)


def iso_week(day: date) -> str:
    """The ISO week `YYYY-Www` a day belongs to."""
    year, num, _ = day.isocalendar()
    return f"{year:04d}-W{num:02d}"


def focus_window(school: SchoolConfig, week: str, weeks: int = 4) -> DayWindow:
    """The trailing window a week's focus is computed from: the `weeks` weeks before its Monday."""
    return trailing_window(school, last=week_monday(week) - timedelta(days=1), weeks=weeks)


def day_bounds(school: SchoolConfig, first: date, last: date) -> tuple[datetime, datetime]:
    """UTC instants from the start of `first` to the end of `last`, school time."""
    start = datetime.combine(first, time(0), tzinfo=school.tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=school.tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _days(first: date, last: date) -> Iterable[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def _local_day(school: SchoolConfig, moment: datetime) -> date:
    return moment.astimezone(school.tz).date()


# --- hotspots ---------------------------------------------------------------------------------


@dataclass
class HotspotCell:
    """Concerns and observations of one zone in one bell period, and their score."""

    zone_id: str
    period: str
    concerns: int = 0
    observations: int = 0
    severity_points: int = 0
    concerns_by_category: dict[str, int] = field(default_factory=dict)
    observations_by_category: dict[str, int] = field(default_factory=dict)
    score: float = 0.0
    in_plan: bool = False


def in_plan(school: SchoolConfig, zone_id: str, period: Period) -> bool:
    """True when a patrol rule plans checks of `zone_id` during `period` (by name, kind or
    a fixed window overlapping it)."""
    for rule in school.patrol_plan:
        if zone_id not in rule.zones:
            continue
        if period.name in rule.during or period.kind in rule.during:
            return True
        if rule.window is not None:
            start, end = (time.fromisoformat(t) for t in rule.window.split("-"))
            if start < period.end and period.start < end:
                return True
    return False


def hotspots(
    school: SchoolConfig,
    concerns: Iterable[ConcernFact],
    observations: Iterable[ObservationFact],
    *,
    window: DayWindow,
) -> list[HotspotCell]:
    """Zone and bell period cells with at least one fact in the window, highest score first."""
    periods = {p.name: p for p in school.bell_schedule.periods}
    cells: dict[tuple[str, str], HotspotCell] = {}
    by_concern: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    by_observation: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)

    def cell_of(zone_id: str | None, at: datetime) -> HotspotCell | None:
        if zone_id is None or not window.first <= _local_day(school, at) <= window.last:
            return None
        period = school.period_at(at)
        if period is None:
            return None
        key = (zone_id, period.name)
        if key not in cells:
            cells[key] = HotspotCell(zone_id, period.name)
        return cells[key]

    for c in concerns:
        if (cell := cell_of(c.zone_id, c.at)) is not None:
            cell.concerns += 1
            cell.severity_points += SEVERITY_POINTS[c.severity]
            by_concern[(cell.zone_id, cell.period)][c.category] += 1
    for o in observations:
        if (cell := cell_of(o.zone_id, o.at)) is not None:
            cell.observations += 1
            by_observation[(cell.zone_id, cell.period)][o.category] += 1

    for key, cell in cells.items():
        cell.concerns_by_category = _ranked(by_concern[key])
        cell.observations_by_category = _ranked(by_observation[key])
        points = cell.severity_points + cell.observations
        cell.score = round(points / window.school_days, 2) if window.school_days else 0.0
        cell.in_plan = in_plan(school, cell.zone_id, periods[cell.period])

    zone_order = {z.id: i for i, z in enumerate(school.zones)}
    period_order = {p.name: p.start for p in school.bell_schedule.periods}
    return sorted(
        cells.values(),
        key=lambda c: (
            -(c.severity_points + c.observations),
            -c.concerns,
            zone_order.get(c.zone_id, len(zone_order)),
            c.zone_id,
            period_order[c.period],
        ),
    )


def _ranked(counts: Counter[str]) -> dict[str, int]:
    """Most frequent first, ties alphabetically."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# --- focus ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FocusLine:
    zone_id: str
    period: str
    score: float
    concerns: int
    observations: int
    action: str
    reason: str


def recommend_focus(
    cells: Sequence[HotspotCell], *, window: DayWindow, limit: int = 10
) -> list[FocusLine]:
    """The top hotspot cells as focus lines: extra checks where the plan already has windows,
    unannounced checks where it has none; the reason carries the counts behind the line."""
    lines = []
    for cell in cells[:limit]:
        if cell.score <= 0:
            continue
        action = EXTRA_CHECKS if cell.in_plan else UNANNOUNCED_CHECKS
        lines.append(
            FocusLine(
                zone_id=cell.zone_id,
                period=cell.period,
                score=cell.score,
                concerns=cell.concerns,
                observations=cell.observations,
                action=action,
                reason=focus_reason(cell, action, window),
            )
        )
    return lines


def focus_reason(cell: HotspotCell, action: str, window: DayWindow) -> str:
    """E.g. `extra checks: 6 concerns (4 vaping, 2 conflict) and 3 observations in the last
    4 weeks`; unannounced lines add `(no planned window)`."""
    if cell.concerns:
        cats = ", ".join(f"{n} {cat}" for cat, n in list(cell.concerns_by_category.items())[:3])
        concern_text = f"{_plural(cell.concerns, 'concern')} ({cats})"
    else:
        concern_text = "no concerns"
    where = "" if cell.in_plan else " (no planned window)"
    return (
        f"{action}{where}: {concern_text} and {_plural(cell.observations, 'observation')} "
        f"in the last {window.span_text()}"
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- deterrence -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deterrence:
    """Concerns in a zone shortly after a check vs. at other school times, per hour."""

    zone_id: str
    checks: int
    concerns_after_check: int
    seconds_after_check: float
    concerns_other: int
    seconds_other: float
    minutes: int

    @property
    def hours_after_check(self) -> float:
        return round(self.seconds_after_check / 3600, 2)

    @property
    def hours_other(self) -> float:
        return round(self.seconds_other / 3600, 2)

    @property
    def rate_after_check(self) -> float | None:
        return _rate(self.concerns_after_check, self.seconds_after_check)

    @property
    def rate_other(self) -> float | None:
        return _rate(self.concerns_other, self.seconds_other)

    @property
    def ratio(self) -> float | None:
        """rate after a check / rate otherwise (None when either is unknown or the latter 0)."""
        if not self.seconds_after_check or not self.seconds_other or not self.concerns_other:
            return None
        after = self.concerns_after_check / self.seconds_after_check
        other = self.concerns_other / self.seconds_other
        return round(after / other, 2)

    def explanation(self) -> str:
        after = (
            f"{_plural(self.concerns_after_check, 'concern')} in {self.hours_after_check:g} h "
            f"within {self.minutes} min after a check ({_fmt_rate(self.rate_after_check)})"
        )
        other = (
            f"{_plural(self.concerns_other, 'concern')} in {self.hours_other:g} h "
            f"at other school times ({_fmt_rate(self.rate_other)})"
        )
        return f"{after} vs {other}"


def _rate(concerns: int, seconds: float) -> float | None:
    return round(concerns / (seconds / 3600), 3) if seconds else None


def _fmt_rate(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:g}/h"


def deterrence(
    school: SchoolConfig,
    scans: Iterable[ScanFact],
    concerns: Iterable[ConcernFact],
    *,
    first: date,
    last: date,
    minutes: int = 15,
) -> list[Deterrence]:
    """Per zone with checks or concerns in school hours of the days `first`..`last`: concerns
    within `minutes` after a scan of the zone vs. at other school times, and the exposure (school
    time covered by "just checked" intervals, merged and clipped to school hours, vs. the rest)."""
    hours: dict[date, tuple[datetime, datetime]] = {}
    for d in _days(first, last):
        bounds = school.school_hours(d)
        if bounds is not None:
            hours[d] = (bounds[0].astimezone(UTC), bounds[1].astimezone(UTC))

    def school_day_of(at: datetime) -> date | None:
        d = _local_day(school, at)
        bounds = hours.get(d)
        return d if bounds is not None and bounds[0] <= at < bounds[1] else None

    after = timedelta(minutes=minutes)
    scans_by: dict[tuple[str, date], list[datetime]] = defaultdict(list)
    checks: Counter[str] = Counter()
    for s in scans:
        d = _local_day(school, s.at)
        if d not in hours:
            continue
        scans_by[(s.zone_id, d)].append(s.at.astimezone(UTC))
        if school_day_of(s.at) is not None:
            checks[s.zone_id] += 1
    concerns_by: dict[str, list[datetime]] = defaultdict(list)
    for c in concerns:
        if c.zone_id is not None and school_day_of(c.at) is not None:
            concerns_by[c.zone_id].append(c.at.astimezone(UTC))

    total_seconds = sum((end - start).total_seconds() for start, end in hours.values())
    results = []
    for zone in school.zones:
        if not checks[zone.id] and not concerns_by[zone.id]:
            continue
        covered = 0.0
        intervals: list[tuple[datetime, datetime]] = []
        for d, (open_at, close_at) in hours.items():
            merged = _merge(
                (max(t, open_at), min(t + after, close_at)) for t in sorted(scans_by[(zone.id, d)])
            )
            intervals.extend(merged)
            covered += sum((b - a).total_seconds() for a, b in merged)
        n_after = sum(1 for at in concerns_by[zone.id] if any(a <= at < b for a, b in intervals))
        results.append(
            Deterrence(
                zone_id=zone.id,
                checks=checks[zone.id],
                concerns_after_check=n_after,
                seconds_after_check=covered,
                concerns_other=len(concerns_by[zone.id]) - n_after,
                seconds_other=total_seconds - covered,
                minutes=minutes,
            )
        )
    return results


def _merge(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# --- tour exceptions --------------------------------------------------------------------------


@dataclass(frozen=True)
class GapStats:
    """Seconds between consecutive scans on the same school-local day."""

    count: int
    min_seconds: float | None
    avg_seconds: float | None
    max_seconds: float | None


@dataclass(frozen=True)
class Padding:
    """The same tag scanned again by the same officer within the padding limit."""

    officer_id: str
    zone_id: str
    checkpoint_tag: str
    first_at: datetime
    again_at: datetime
    gap_seconds: float


@dataclass(frozen=True)
class ZoneTour:
    zone_id: str
    scans: int
    checkpoints: dict[str, int]
    gaps: GapStats
    padding_flags: int


@dataclass(frozen=True)
class OfficerTour:
    officer_id: str
    scans: int
    zones: int
    checkpoints: dict[str, int]
    gaps: GapStats
    padding_flags: int


@dataclass(frozen=True)
class TourStats:
    zones: list[ZoneTour]
    officers: list[OfficerTour]
    padding: list[Padding]


def tour_stats(
    school: SchoolConfig,
    scans: Iterable[ScanFact],
    *,
    padding_minutes: int = 2,
    zone_ids: Sequence[str] | None = None,
) -> TourStats:
    """Per zone (every zone in `zone_ids`, default all of the school's) and per officer: scans,
    scans per tag, gaps between consecutive scans, and padding (same officer, same tag, again
    within `padding_minutes`)."""
    ordered = sorted(scans, key=lambda s: (s.at, s.zone_id, s.checkpoint_tag, s.officer_id))
    limit = padding_minutes * 60

    padding: list[Padding] = []
    last_of: dict[tuple[str, str], ScanFact] = {}
    for s in ordered:
        key = (s.officer_id, s.checkpoint_tag)
        before = last_of.get(key)
        if before is not None:
            gap = (s.at - before.at).total_seconds()
            if gap <= limit:
                padding.append(
                    Padding(s.officer_id, s.zone_id, s.checkpoint_tag, before.at, s.at, gap)
                )
        last_of[key] = s
    pad_zone = Counter(p.zone_id for p in padding)
    pad_officer = Counter(p.officer_id for p in padding)

    configured = {z.id: z.checkpoints for z in school.zones}
    wanted = list(zone_ids) if zone_ids is not None else list(configured)
    zones = []
    for zone_id in wanted:
        mine = [s for s in ordered if s.zone_id == zone_id]
        tags = Counter({tag: 0 for tag in configured.get(zone_id, [])})
        tags.update(s.checkpoint_tag for s in mine)
        zones.append(
            ZoneTour(
                zone_id=zone_id,
                scans=len(mine),
                checkpoints=dict(tags),
                gaps=_gaps(school, mine),
                padding_flags=pad_zone[zone_id],
            )
        )

    officers = []
    for officer_id in sorted({s.officer_id for s in ordered}):
        mine = [s for s in ordered if s.officer_id == officer_id]
        officers.append(
            OfficerTour(
                officer_id=officer_id,
                scans=len(mine),
                zones=len({s.zone_id for s in mine}),
                checkpoints=dict(sorted(Counter(s.checkpoint_tag for s in mine).items())),
                gaps=_gaps(school, mine),
                padding_flags=pad_officer[officer_id],
            )
        )
    return TourStats(zones, officers, padding)


def _gaps(school: SchoolConfig, ordered: Sequence[ScanFact]) -> GapStats:
    gaps = [
        (b.at - a.at).total_seconds()
        for a, b in pairwise(ordered)
        if _local_day(school, a.at) == _local_day(school, b.at)
    ]
    if not gaps:
        return GapStats(0, None, None, None)
    return GapStats(
        len(gaps), round(min(gaps), 1), round(sum(gaps) / len(gaps), 1), round(max(gaps), 1)
    )


# --- weekly publication -----------------------------------------------------------------------


def due_focus_week(school: SchoolConfig, now: datetime) -> str | None:
    """The ISO week whose focus is due at `now`: the coming week, once this week's report moment
    (reports.weekday at reports.at, school time) has passed; None before it."""
    local = now.astimezone(school.tz)
    monday = local.date() - timedelta(days=local.weekday())
    day = monday + timedelta(days=list(Weekday).index(school.reports.weekday))
    if local < datetime.combine(day, school.reports.at, tzinfo=school.tz):
        return None
    return iso_week(monday + timedelta(days=7))
