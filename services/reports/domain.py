"""The weekly summary's rules, pure: which span a week covers, what each number counts, the
week-over-week changes, hotspots and the recommended focus (no broker, no database).

- A school's summary for ISO week W covers the 7 days up to W's report moment
  (`reports.weekday` at `reports.at`, school time): from the previous week's report moment
  (included) to this one (excluded), so consecutive summaries neither overlap nor miss an event.
- Percentages are whole numbers rounded half up; ratios one decimal rounded half up.
- Median: the middle value (the mean of the two middle ones for an even count); p90: nearest
  rank (the ⌈0.9·n⌉-th smallest). Durations are whole minutes, rounded half up.
- Hotspots and the computed focus follow the patrol service's published rule (see
  docs/architecture.md, "Patrol queries and preventive planning"): score of a zone x bell period
  = (severity points of its concerns + observations) / school days in the 4 weeks before next
  week's Monday, severity points low 1, medium 2, high 3, critical 5.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lookout.contracts.patrol import ContactKind, Severity, WindowOutcome
from lookout.school.config import Period, SchoolConfig, Weekday

DISTRICT = "_district"
SEVERITY_POINTS = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 5}
PREVENTIVE = (ContactKind.POSITIVE_CONTACT, ContactKind.CHECK_IN, ContactKind.DE_ESCALATION)
HOTSPOT_WEEKS = 4

# --- facts (what the read model hands over) -----------------------------------------------------


@dataclass(frozen=True)
class PatrolFact:
    kind: str  # scan, observation, contact, follow_up_missed
    category: str | None
    zone_id: str | None
    period: str | None
    at: datetime


@dataclass(frozen=True)
class WindowFact:
    zone_id: str
    period: str | None
    outcome: str
    unannounced: bool
    window_end: datetime


@dataclass(frozen=True)
class ConcernFact:
    category: str | None
    severity: str | None
    zone_id: str | None
    period: str | None
    raised_at: datetime | None
    resolved_at: datetime | None
    outcome: str | None


@dataclass(frozen=True)
class AlertFact:
    source: str | None
    severity: str | None
    opened_at: datetime | None
    max_step: int | None
    reached_principal: bool
    acknowledged_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class VisitorFact:
    kind: str
    detail: str | None
    at: datetime


@dataclass(frozen=True)
class Facts:
    patrol: list[PatrolFact]
    windows: list[WindowFact]
    concerns: list[ConcernFact]  # raised before the end and not resolved before the start
    alerts: list[AlertFact]  # opened in the span
    visitors: list[VisitorFact]
    published_focus: list[dict[str, Any]] | None = None


# --- calendar -----------------------------------------------------------------------------------


def iso_week(day: date) -> str:
    year, num, _ = day.isocalendar()
    return f"{year:04d}-W{num:02d}"


def week_monday(week: str) -> date:
    """Monday of ISO week `YYYY-Www`; ValueError when the year has no such week."""
    year, num = week.split("-W")
    return date.fromisocalendar(int(year), int(num), 1)


def shift_week(week: str, weeks: int) -> str:
    return iso_week(week_monday(week) + timedelta(weeks=weeks))


def report_moment(school: SchoolConfig, week: str) -> datetime:
    """When the week's summary is due: reports.weekday at reports.at, school time."""
    day = week_monday(week) + timedelta(days=list(Weekday).index(school.reports.weekday))
    return datetime.combine(day, school.reports.at, tzinfo=school.tz)


def summary_span(school: SchoolConfig, week: str) -> tuple[datetime, datetime]:
    """[previous report moment, this report moment): the 7 days a week's summary covers."""
    return report_moment(school, shift_week(week, -1)), report_moment(school, week)


def due_week(school: SchoolConfig, now: datetime) -> str:
    """The latest week whose report moment is at or before `now`."""
    week = iso_week(now.astimezone(school.tz).date())
    return week if report_moment(school, week) <= now else shift_week(week, -1)


def message_id(scope: str, week: str) -> str:
    """Fixed per (school, week): a re-sent message is recognisably the same one."""
    return f"<weekly-summary.{week}.{scope}@lookout.reports>"


def hotspot_span(school: SchoolConfig, week: str) -> tuple[datetime, datetime, int]:
    """The 4 weeks before `week`'s Monday (school time) and their school-day count."""
    monday = week_monday(week)
    first = monday - timedelta(weeks=HOTSPOT_WEEKS)
    days = sum(school.is_school_day(first + timedelta(days=i)) for i in range(7 * HOTSPOT_WEEKS))
    start = datetime.combine(first, time(0), tzinfo=school.tz)
    end = datetime.combine(monday, time(0), tzinfo=school.tz)
    return start, end, days


# --- arithmetic ---------------------------------------------------------------------------------


def pct(part: int, whole: int) -> int | None:
    if whole == 0:
        return None
    return int((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal(1), ROUND_HALF_UP))


def ratio(part: int, whole: int) -> float | None:
    if whole == 0:
        return None
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def minutes(delta: timedelta) -> int:
    return int((Decimal(delta.total_seconds()) / 60).quantize(Decimal(1), ROUND_HALF_UP))


def median(values: Sequence[int]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return float(s[mid]) if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def p90(values: Sequence[int]) -> int | None:
    if not values:
        return None
    s = sorted(values)
    return s[math.ceil(0.9 * len(s)) - 1]


# --- the summary --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    key: str
    label: str
    value: int | float | None
    previous: int | float | None
    unit: str = ""  # "%" for percentages (their change is in points)

    @property
    def change(self) -> int | float | None:
        if self.value is None or self.previous is None:
            return None
        delta = self.value - self.previous
        return round(delta, 1) if isinstance(delta, float) else delta


@dataclass(frozen=True)
class ZoneCoverage:
    zone_id: str
    zone_name: str
    planned: int
    checked: int
    late: int
    missed: int
    unannounced_planned: int
    unannounced_done: int

    @property
    def done(self) -> int:
        return self.checked + self.late

    @property
    def coverage(self) -> int | None:
        return pct(self.done, self.planned)


@dataclass(frozen=True)
class HotspotCell:
    zone_id: str
    period: str
    concerns: int
    observations: int
    points: int
    score: float
    in_plan: bool
    categories: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FocusLine:
    zone_id: str
    period: str
    score: float
    reason: str


@dataclass(frozen=True)
class WeeklySummary:
    school_id: str
    school_name: str
    week: str
    start: datetime
    end: datetime
    headlines: list[Headline]
    coverage: list[ZoneCoverage]
    totals: ZoneCoverage
    concerns_by_category: dict[str, int]
    concerns_by_severity: dict[str, int]
    concerns_by_zone: dict[str, int]
    heatmap: dict[tuple[str, str], int]  # (zone, period) → concerns raised
    heatmap_zones: list[str]
    heatmap_periods: list[str]
    raised: int
    raised_resolved: int
    raised_open: int
    open_at_end: int
    outcomes: dict[str, int]
    contacts_by_kind: dict[str, int]
    preventive: int
    prevention_ratio: float | None
    alerts_opened: int
    alerts_by_step: dict[str, int]
    alerts_reached_principal: int
    ack_median: float | None
    ack_p90: int | None
    ack_count: int
    resolve_median: float | None
    resolve_p90: int | None
    resolve_count: int
    visitors_by_type: dict[str, int]
    visitors_total: int
    screening_flags: dict[str, int]
    visitors_overdue: int
    visitors_out_of_bounds: int
    hotspots: list[HotspotCell]
    focus: list[FocusLine]
    focus_source: str  # "patrol" (published) or "reports" (computed the same way)
    zone_names: dict[str, str]
    trend: list[tuple[str, int, int, int | None]] = field(default_factory=list)

    def headline(self, key: str) -> Headline:
        return next(h for h in self.headlines if h.key == key)


@dataclass(frozen=True)
class WeekCounts:
    """The headline numbers of one span (this week, or the previous one for the change)."""

    checks_done: int
    checks_planned: int
    coverage: int | None
    missed: int
    late: int
    unannounced_done: int
    concerns: int
    resolved: int
    preventive: int
    prevention_ratio: float | None
    alerts: int
    reached_principal: int
    visitors: int
    screening_flags: int


def _in(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def week_counts(facts: Facts, start: datetime, end: datetime) -> WeekCounts:
    done = sum(w.outcome != WindowOutcome.MISSED for w in facts.windows)
    raised = [c for c in facts.concerns if _in(c.raised_at, start, end)]
    preventive = sum(p.kind == "contact" and p.category in PREVENTIVE for p in facts.patrol)
    return WeekCounts(
        checks_done=done,
        checks_planned=len(facts.windows),
        coverage=pct(done, len(facts.windows)),
        missed=sum(w.outcome == WindowOutcome.MISSED for w in facts.windows),
        late=sum(w.outcome == WindowOutcome.LATE for w in facts.windows),
        unannounced_done=sum(
            w.unannounced and w.outcome != WindowOutcome.MISSED for w in facts.windows
        ),
        concerns=len(raised),
        resolved=sum(_in(c.resolved_at, start, end) for c in facts.concerns),
        preventive=preventive,
        prevention_ratio=ratio(preventive, len(raised)),
        alerts=len(facts.alerts),
        reached_principal=sum(a.reached_principal for a in facts.alerts),
        visitors=sum(v.kind == "checked_in" for v in facts.visitors),
        screening_flags=sum(v.kind == "screening_flagged" for v in facts.visitors),
    )


HEADLINES: tuple[tuple[str, str, str], ...] = (
    ("coverage", "Patrol coverage", "%"),
    ("checks_done", "Checks done", ""),
    ("missed", "Checks missed", ""),
    ("concerns", "Concerns raised", ""),
    ("resolved", "Concerns resolved", ""),
    ("preventive", "Preventive contacts", ""),
    ("prevention_ratio", "Preventive contacts per concern", ""),
    ("alerts", "Escalated alerts", ""),
    ("reached_principal", "Alerts that reached the principal", ""),
    ("visitors", "Visitors signed in", ""),
    ("screening_flags", "Screening flags", ""),
)


def headlines(now: WeekCounts, before: WeekCounts) -> list[Headline]:
    return [
        Headline(key, label, getattr(now, key), getattr(before, key), unit)
        for key, label, unit in HEADLINES
    ]


def _ranked(counts: Counter[str], order: Sequence[str] = ()) -> dict[str, int]:
    """Most first; ties in `order` (the school file's order), then alphabetically."""
    rank = {k: i for i, k in enumerate(order)}
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], rank.get(kv[0], 1 << 30), kv[0])))


def coverage(school: SchoolConfig, windows: Iterable[WindowFact]) -> list[ZoneCoverage]:
    """Per zone with at least one window, in the school file's zone order."""
    by_zone: dict[str, list[WindowFact]] = {}
    for w in windows:
        by_zone.setdefault(w.zone_id, []).append(w)
    names = {z.id: z.name for z in school.zones}
    order = [z.id for z in school.zones] + sorted(set(by_zone) - set(names))
    return [_zone_coverage(z, names.get(z, z), by_zone[z]) for z in order if z in by_zone]


def _zone_coverage(zone_id: str, name: str, ws: Sequence[WindowFact]) -> ZoneCoverage:
    return ZoneCoverage(
        zone_id,
        name,
        planned=len(ws),
        checked=sum(w.outcome == WindowOutcome.CHECKED for w in ws),
        late=sum(w.outcome == WindowOutcome.LATE for w in ws),
        missed=sum(w.outcome == WindowOutcome.MISSED for w in ws),
        unannounced_planned=sum(w.unannounced for w in ws),
        unannounced_done=sum(w.unannounced and w.outcome != WindowOutcome.MISSED for w in ws),
    )


def hotspots(
    school: SchoolConfig,
    concerns: Iterable[ConcernFact],
    observations: Iterable[PatrolFact],
    school_days: int,
) -> list[HotspotCell]:
    """Zone x bell-period cells with a fact, best first (ties: more concerns, zone order,
    bell order)."""
    points: Counter[tuple[str, str]] = Counter()
    n_concerns: Counter[tuple[str, str]] = Counter()
    n_obs: Counter[tuple[str, str]] = Counter()
    cats: dict[tuple[str, str], Counter[str]] = {}
    for c in concerns:
        if c.zone_id and c.period and c.severity:
            key = (c.zone_id, c.period)
            points[key] += SEVERITY_POINTS[Severity(c.severity)]
            n_concerns[key] += 1
            cats.setdefault(key, Counter())[c.category or "other"] += 1
    for o in observations:
        if o.zone_id and o.period:
            key = (o.zone_id, o.period)
            points[key] += 1
            n_obs[key] += 1
    periods = {p.name: p for p in school.bell_schedule.periods}
    zone_rank = {z.id: i for i, z in enumerate(school.zones)}
    period_rank = {p.name: p.start for p in school.bell_schedule.periods}
    cells = [
        HotspotCell(
            zone,
            period,
            n_concerns[(zone, period)],
            n_obs[(zone, period)],
            pts,
            round(pts / school_days, 2) if school_days else 0.0,
            period in periods and in_plan(school, zone, periods[period]),
            _ranked(cats.get((zone, period), Counter())),
        )
        for (zone, period), pts in points.items()
        if period in period_rank
    ]
    return sorted(
        cells,
        key=lambda c: (
            -c.points,
            -c.concerns,
            zone_rank.get(c.zone_id, len(zone_rank)),
            c.zone_id,
            period_rank[c.period],
        ),
    )


def in_plan(school: SchoolConfig, zone_id: str, period: Period) -> bool:
    """A patrol rule plans checks of the zone during the period (name, kind or fixed window)."""
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


def computed_focus(cells: Sequence[HotspotCell], limit: int = 10) -> list[FocusLine]:
    lines = []
    for cell in cells[:limit]:
        if cell.score <= 0:
            continue
        action = "extra checks" if cell.in_plan else "unannounced checks (no planned window)"
        if cell.concerns:
            cats = ", ".join(f"{n} {k}" for k, n in list(cell.categories.items())[:3])
            what = f"{_plural(cell.concerns, 'concern')} ({cats})"
        else:
            what = "no concerns"
        reason = (
            f"{action}: {what} and {_plural(cell.observations, 'observation')} "
            f"in the last {HOTSPOT_WEEKS} weeks"
        )
        lines.append(FocusLine(cell.zone_id, cell.period, cell.score, reason))
    return lines


def published_focus(items: Sequence[dict[str, Any]]) -> list[FocusLine]:
    return [
        FocusLine(i["zone_id"], i["period"], float(i["score"]), str(i["reason"])) for i in items
    ]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summarize(
    school: SchoolConfig,
    week: str,
    facts: Facts,
    previous: Facts,
    hotspot_concerns: Sequence[ConcernFact],
    hotspot_observations: Sequence[PatrolFact],
    trend: Sequence[tuple[str, int, int, int | None]] = (),
) -> WeeklySummary:
    """The weekly summary of one school from its facts (this span and the one before)."""
    start, end = summary_span(school, week)
    prev_start, prev_end = summary_span(school, shift_week(week, -1))
    now = week_counts(facts, start, end)
    before = week_counts(previous, prev_start, prev_end)
    names = {z.id: z.name for z in school.zones}
    zone_order = [z.id for z in school.zones]
    period_order = [p.name for p in school.bell_schedule.periods]

    cov = coverage(school, facts.windows)
    totals = _zone_coverage("all", "All zones", facts.windows)

    raised = [c for c in facts.concerns if _in(c.raised_at, start, end)]
    heat: Counter[tuple[str, str]] = Counter(
        (c.zone_id, c.period) for c in raised if c.zone_id and c.period
    )
    resolved_in_week = [c for c in facts.concerns if _in(c.resolved_at, start, end)]
    open_at_end = sum(c.resolved_at is None or c.resolved_at >= end for c in facts.concerns)

    contacts = Counter(
        p.category or "other" for p in facts.patrol if p.kind == "contact" and p.category
    )

    acks = [
        minutes(a.acknowledged_at - a.opened_at)
        for a in facts.alerts
        if a.acknowledged_at and a.opened_at
    ]
    resolves = [
        minutes(a.resolved_at - a.opened_at) for a in facts.alerts if a.resolved_at and a.opened_at
    ]
    steps: Counter[str] = Counter(
        f"step {a.max_step + 1}" if a.max_step is not None else "not escalated"
        for a in facts.alerts
    )

    visitors_by_type = Counter(
        v.detail or "other" for v in facts.visitors if v.kind == "checked_in"
    )
    flags = Counter(v.detail or "other" for v in facts.visitors if v.kind == "screening_flagged")

    *_, days = hotspot_span(school, shift_week(week, 1))
    cells = hotspots(school, hotspot_concerns, hotspot_observations, days)
    if facts.published_focus is not None:
        focus, source = published_focus(facts.published_focus), "patrol"
    else:
        focus, source = computed_focus(cells), "reports"

    return WeeklySummary(
        school_id=school.id,
        school_name=school.name,
        week=week,
        start=start,
        end=end,
        headlines=headlines(now, before),
        coverage=cov,
        totals=totals,
        concerns_by_category=_ranked(Counter(c.category or "other" for c in raised)),
        concerns_by_severity={
            s.value: n
            for s in reversed(Severity)
            if (n := sum(c.severity == s.value for c in raised))
        },
        concerns_by_zone=_ranked(Counter(c.zone_id or "no zone" for c in raised), zone_order),
        heatmap=dict(heat),
        heatmap_zones=[z for z in zone_order if any(k[0] == z for k in heat)],
        heatmap_periods=[p for p in period_order if any(k[1] == p for k in heat)],
        raised=len(raised),
        raised_resolved=sum(_in(c.resolved_at, start, end) for c in raised),
        raised_open=sum(not _in(c.resolved_at, start, end) for c in raised),
        open_at_end=open_at_end,
        outcomes=_ranked(Counter(c.outcome or "unknown" for c in resolved_in_week)),
        contacts_by_kind={k.value: contacts[k.value] for k in ContactKind},
        preventive=now.preventive,
        prevention_ratio=now.prevention_ratio,
        alerts_opened=len(facts.alerts),
        alerts_by_step=dict(sorted(steps.items())),
        alerts_reached_principal=now.reached_principal,
        ack_median=median(acks),
        ack_p90=p90(acks),
        ack_count=len(acks),
        resolve_median=median(resolves),
        resolve_p90=p90(resolves),
        resolve_count=len(resolves),
        visitors_by_type=_ranked(visitors_by_type),
        visitors_total=now.visitors,
        screening_flags=_ranked(flags),
        visitors_overdue=sum(v.kind == "overdue" for v in facts.visitors),
        visitors_out_of_bounds=sum(v.kind == "out_of_bounds" for v in facts.visitors),
        hotspots=cells[:5],
        focus=focus,
        focus_source=source,
        zone_names=names,
        trend=list(trend),
    )


@dataclass(frozen=True)
class DistrictRow:
    school_id: str
    school_name: str
    headlines: list[Headline]


def district_totals(rows: Sequence[DistrictRow]) -> list[Headline]:
    """Sums of the count headlines across schools (percentages and ratios are recomputed by the
    caller from their parts, never summed)."""
    out = []
    for key, label, unit in HEADLINES:
        if unit == "%" or key == "prevention_ratio":
            continue
        values = [h for r in rows for h in r.headlines if h.key == key]
        out.append(
            Headline(
                key,
                label,
                sum(h.value or 0 for h in values),
                sum(h.previous or 0 for h in values),
                unit,
            )
        )
    return out
