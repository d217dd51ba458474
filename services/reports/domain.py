"""The weekly summary's rules, pure: which span a week covers, what each number counts, the
week-over-week changes, hotspots and the recommended focus (no broker, no database).

- A school's summary for ISO week W covers the 7 days up to W's report moment
  (`reports.weekday` at `reports.at`, school time): from the previous week's report moment
  (included) to this one (excluded), so consecutive summaries neither overlap nor miss an event.
- Percentages are whole numbers rounded half up; ratios one decimal rounded half up.
- Median: the middle value (the mean of the two middle ones for an even count); p90: nearest
  rank (the ⌈0.9·n⌉-th smallest). Durations are whole minutes, rounded half up.
- Sensor alerts (raised in the span) by kind: checked within the school's check minutes counts
  a scan known by the span's end only; the median response time is of those checked by then
  (lookout/school/sensor_response.py, shared with the console).
- Hotspots and the computed focus follow the patrol service's published rule (see
  docs/architecture.md, "Patrol queries and preventive planning"): score of a zone x bell period
  = (severity points of its concerns + observations) / school days in the 4 weeks before next
  week's Monday, severity points low 1, medium 2, high 3, critical 5.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lookout.contracts.patrol import ContactKind, Severity, WindowOutcome
from lookout.school import sensor_response, words
from lookout.school.config import Period, SchoolConfig, Weekday
from lookout.school.sensor_response import KindFigures, SensorCheckFact
from services.reports import areas

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
    concern_id: str | None = None  # a follow-up's concern


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
    raised_event_id: str | None = None  # what an alert about it names as its source event
    raised_by: str | None = None  # the raiser's actor, `kind:id` (a device or a person id)


@dataclass(frozen=True)
class AlertFact:
    source: str | None
    severity: str | None
    opened_at: datetime | None
    max_step: int | None
    reached_principal: bool
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    alert_id: str | None = None
    category: str | None = None  # concern category, or the source
    zone_id: str | None = None
    source_event_id: str | None = None
    acknowledged_by: str | None = None  # a person id
    targets: tuple[str, ...] = ()  # the highest step's targets, `role:x` / `person:y`


@dataclass(frozen=True)
class VisitorFact:
    kind: str  # checked_in, screening_flagged, overdue, out_of_bounds, unaccounted
    detail: str | None
    at: datetime
    zone_id: str | None = None  # out of bounds: where; unaccounted: last seen


@dataclass(frozen=True)
class Facts:
    patrol: list[PatrolFact]
    windows: list[WindowFact]
    concerns: list[ConcernFact]  # raised before the end and not resolved before the start
    alerts: list[AlertFact]  # opened in the span
    visitors: list[VisitorFact]
    published_focus: list[dict[str, Any]] | None = None
    # Alerts about the concerns above, whenever they were opened (who owns an open concern).
    concern_alerts: list[AlertFact] = field(default_factory=list)
    sensor_checks: list[SensorCheckFact] = field(default_factory=list)  # raised in the span


def has_data(facts: Facts, start: datetime, end: datetime) -> bool:
    """Anything happened in [start, end): a first week (or one after a gap) has no last week."""
    return bool(
        facts.patrol
        or facts.windows
        or facts.alerts
        or facts.visitors
        or facts.sensor_checks
        or any(
            _in(c.raised_at, start, end) or _in(c.resolved_at, start, end) for c in facts.concerns
        )
    )


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


def week_dates(school: SchoolConfig, week: str) -> tuple[date, date]:
    """The school days a week's email is named by: its Monday to its report day."""
    monday = week_monday(week)
    return monday, max(monday, report_moment(school, week).date())


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
    action: str = ""  # what to do about it, fitting its categories (empty: not known)


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
    dates: tuple[date, date] | None = None  # Monday to report day, naming the week
    previous_known: bool = True  # False: a first week, or one after a gap
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    attention: list[AttentionItem] = field(default_factory=list)
    by_area: list[areas.AreaFigures] = field(default_factory=list)  # building and floor
    ack_words: str = ""
    step_labels: dict[str, str] = field(default_factory=dict)  # "step 3" → "step 3 (principal)"
    period_names: dict[str, str] = field(default_factory=dict)  # pass-6 → passing time (…)
    period_short: dict[str, str] = field(default_factory=dict)  # pass-6 → passing time
    period_start: dict[str, str] = field(default_factory=dict)  # pass-6 → 14:20
    hotspot_reasons: list[str] = field(default_factory=list)
    # Sensor alerts raised in the week, by kind: how many, checked within the school's check
    # minutes (by the week's end), median response; `sensors_configured`: the school has any.
    sensors: list[KindFigures] = field(default_factory=list)
    sensor_words: list[str] = field(default_factory=list)
    sensors_configured: bool = False
    check_minutes: int = 5

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
    unacknowledged: int
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
        unacknowledged=sum(not _acknowledged(a, end) for a in facts.alerts),
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
    ("unacknowledged", "Alerts never acknowledged", ""),
    ("reached_principal", "Alerts that reached the principal", ""),
    ("visitors", "Visitors signed in", ""),
    ("screening_flags", "Screening flags", ""),
)


def _acknowledged(a: AlertFact, end: datetime) -> bool:
    return a.acknowledged_at is not None and a.acknowledged_at < end


def headlines(now: WeekCounts, before: WeekCounts | None) -> list[Headline]:
    """This week's headlines; `before` is None when last week has no data (no change shown)."""
    return [
        Headline(key, label, getattr(now, key), getattr(before, key) if before else None, unit)
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


# --- what the principal should look at -----------------------------------------------------------

# Thresholds of the headlines that get a verdict (words and colour in the email).
COVERAGE_TARGET = 90  # % of check windows done (on time or late)
COVERAGE_FLOOR = 75  # below this, coverage needs attention
MISSED_WATCH = 10  # % of planned checks missed above which missed checks need attention
LEVEL_WORDS = {"ok": "On target", "watch": "Below target", "bad": "Needs attention"}


@dataclass(frozen=True)
class Verdict:
    level: str  # ok, watch, bad
    detail: str

    @property
    def words(self) -> str:
        return LEVEL_WORDS[self.level]


def verdicts(now: WeekCounts) -> dict[str, Verdict]:
    """Coverage, missed checks and unacknowledged alerts judged against their thresholds."""
    out: dict[str, Verdict] = {}
    if now.coverage is None:
        out["coverage"] = Verdict("watch", "no check window closed this week")
    elif now.coverage >= COVERAGE_TARGET:
        out["coverage"] = Verdict("ok", f"at or above the {COVERAGE_TARGET}% target")
    elif now.coverage >= COVERAGE_FLOOR:
        out["coverage"] = Verdict("watch", f"below the {COVERAGE_TARGET}% target")
    else:
        out["coverage"] = Verdict("bad", f"far below the {COVERAGE_TARGET}% target")
    share = pct(now.missed, now.checks_planned) or 0
    checks = words.plural(now.checks_planned, "planned check")
    if now.missed == 0:
        out["missed"] = Verdict("ok", "no check missed")
    elif share <= MISSED_WATCH:
        out["missed"] = Verdict("watch", f"{now.missed} of {checks} missed ({share}%)")
    else:
        out["missed"] = Verdict("bad", f"{now.missed} of {checks} missed ({share}%)")
    if now.alerts == 0:
        out["unacknowledged"] = Verdict("ok", "no alert was escalated")
    elif now.unacknowledged == 0:
        out["unacknowledged"] = Verdict("ok", "every escalated alert was acknowledged")
    else:
        out["unacknowledged"] = Verdict(
            "bad", unacknowledged_sentence(now.alerts, now.unacknowledged)
        )
    return out


def unacknowledged_sentence(alerts: int, unacknowledged: int) -> str:
    """`1 of the 4 escalated alerts was never acknowledged`."""
    if unacknowledged == alerts:
        return ack_sentence(alerts, 0)
    verb = "was" if unacknowledged == 1 else "were"
    return f"{unacknowledged} of the {alerts} escalated alerts {verb} never acknowledged"


def ack_sentence(alerts: int, acknowledged: int) -> str:
    """`none of the 10 escalated alerts was acknowledged`, `3 of the 4 … were acknowledged`."""
    if alerts == 0:
        return "no alert was escalated"
    if acknowledged == 0:
        if alerts == 1:
            return "the one escalated alert was not acknowledged"
        return f"none of the {alerts} escalated alerts was acknowledged"
    if acknowledged == alerts:
        return (
            "the one escalated alert was acknowledged"
            if alerts == 1
            else (f"all {alerts} escalated alerts were acknowledged")
        )
    verb = "was" if acknowledged == 1 else "were"
    return f"{acknowledged} of the {alerts} escalated alerts {verb} acknowledged"


@dataclass(frozen=True)
class AttentionItem:
    """One line of "Needs your attention": what, where, since when, who has it."""

    kind: str  # concern, alert, follow_up, visitor
    what: str
    where: str
    when: str
    owner: str
    anchor: str = ""  # appended to the console's URL: `#alert-<id>` for an alert


SEVERITY_RANK = {s.value: i for i, s in enumerate(reversed(Severity))}


def attention(
    school: SchoolConfig, facts: Facts, start: datetime, end: datetime
) -> list[AttentionItem]:
    """Concerns still open at the end, alerts of the week never acknowledged, follow-ups missed
    and not done since, visitors not signed out: the decisions the week leaves."""
    items: list[AttentionItem] = []
    by_source = {a.source_event_id: a for a in facts.concern_alerts if a.source_event_id}
    still_open = [
        c
        for c in facts.concerns
        if c.raised_at is not None and (c.resolved_at is None or c.resolved_at >= end)
    ]
    still_open.sort(key=lambda c: (SEVERITY_RANK.get(c.severity or "", 9), c.raised_at))
    listed: set[str] = set()  # alerts shown through their open concern
    for c in still_open:
        assert c.raised_at is not None
        severity = f" ({c.severity})" if c.severity else ""
        alert = by_source.get(c.raised_event_id or "")
        if alert is not None and alert.alert_id:
            listed.add(alert.alert_id)
        items.append(
            AttentionItem(
                "concern",
                f"{words.category(c.category).capitalize()} concern{severity}",
                words.zone(school, c.zone_id),
                f"open {words.age(end - c.raised_at)}",
                _concern_owner(school, c, alert, end),
                f"#alert-{alert.alert_id}" if alert is not None and alert.alert_id else "",
            )
        )
    for a in sorted(facts.alerts, key=lambda a: a.opened_at or end):
        if _acknowledged(a, end) or a.opened_at is None or a.alert_id in listed:
            continue
        severity = f" ({a.severity})" if a.severity else ""
        state = "still open" if a.resolved_at is None or a.resolved_at >= end else "closed"
        items.append(
            AttentionItem(
                "alert",
                f"Alert never acknowledged: {words.category(a.category or a.source)}{severity}",
                words.zone(school, a.zone_id) if a.zone_id else "not tied to a zone",
                f"opened {words.day_and_time(a.opened_at, school)}, {state}",
                _alert_reach(school, a),
                f"#alert-{a.alert_id}" if a.alert_id else "",
            )
        )
    completed = {
        p.concern_id for p in facts.patrol if p.kind == "follow_up_completed" and p.at < end
    }
    for p in sorted(facts.patrol, key=lambda p: p.at):
        if p.kind != "follow_up_missed" or p.concern_id in completed:
            continue
        items.append(
            AttentionItem(
                "follow_up",
                f"Follow-up missed: {words.category(p.category)} concern",
                words.zone(school, p.zone_id),
                f"missed {words.day_and_time(p.at, school)}",
                words.people_with_role(school, "sso"),
            )
        )
    for v in sorted(facts.visitors, key=lambda v: v.at):
        if v.kind != "unaccounted":
            continue
        seen = (
            f"{words.zone(school, v.zone_id)} (last seen)"
            if v.zone_id
            else "not seen after signing in"
        )
        items.append(
            AttentionItem(
                "visitor",
                "Visitor not signed out (badge closed automatically)",
                seen,
                f"closed {words.day_and_time(v.at, school)}",
                words.people_with_role(school, "front_office"),
            )
        )
    return items


def _concern_owner(
    school: SchoolConfig, c: ConcernFact, alert: AlertFact | None, end: datetime
) -> str:
    """Who acknowledged its alert; else where its alert has got to; else who raised it."""
    if alert is not None and alert.acknowledged_by and _acknowledged(alert, end):
        return words.person_by_id(school, alert.acknowledged_by)
    if alert is not None and alert.max_step is not None:
        return "nobody yet: " + _alert_reach(school, alert)
    kind, _, actor = (c.raised_by or "").partition(":")
    if kind == "staff":
        return words.person_by_id(school, actor)
    return words.people_with_role(school, "sso")


def _alert_reach(school: SchoolConfig, a: AlertFact) -> str:
    if a.max_step is None:
        return "not escalated to anyone"
    return "last sent to " + words.step(a.max_step, words.targets(school, a.targets))


# --- the recommended action fits the category ---------------------------------------------------

REVIEW = frozenset({"weapon", "medical", "intruder", "hazard"})
COUNSEL = frozenset({"emotional_distress", "self_harm_risk", "bullying"})


def focus_action(cell: HotspotCell) -> str:
    """A weapon or medical event calls for a review, distress for a counselor, vaping and
    conflict for more patrols (in the plan's windows, or unannounced where none is planned)."""
    counsel = sum(n for k, n in cell.categories.items() if k in COUNSEL)
    if any(k in REVIEW for k in cell.categories):
        return "Review what happened and the response, with the SSO"
    if counsel and counsel * 2 >= cell.concerns + cell.observations:
        return "Counselor follow-up with the students involved"
    if cell.in_plan:
        return "More patrols: extra checks in the planned windows"
    return "More patrols: add unannounced checks (no planned window then)"


def hotspot_reason(cell: HotspotCell) -> str:
    """`2 concerns (2 vaping) and no observations in the last 4 weeks`."""
    if cell.concerns:
        cats = ", ".join(f"{n} {words.category(k)}" for k, n in list(cell.categories.items())[:3])
        what = f"{_plural(cell.concerns, 'concern')} ({cats})"
    else:
        what = "no concerns"
    obs = _plural(cell.observations, "observation") if cell.observations else "no observations"
    return f"{what} and {obs} in the last {HOTSPOT_WEEKS} weeks"


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
    previous_known = has_data(previous, prev_start, prev_end)
    before = week_counts(previous, prev_start, prev_end) if previous_known else None
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
    reached: dict[str, list[str]] = {}
    for a in facts.alerts:
        if a.max_step is not None:
            seen = reached.setdefault(f"step {a.max_step + 1}", [])
            for who in words.targets(school, a.targets).split(", "):
                if who and who not in seen:
                    seen.append(who)
    step_labels = {k: f"{k} ({', '.join(v)})" if v else k for k, v in reached.items()}
    step_labels["not escalated"] = "not escalated"

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
    by_cell = {(c.zone_id, c.period): c for c in cells}
    focus = [
        replace(f, reason=hotspot_reason(cell), action=focus_action(cell))
        if (cell := by_cell.get((f.zone_id, f.period))) is not None
        else f
        for f in focus
    ]
    # The trend starts at the first week with data: no empty weeks before the install.
    trend_kept = list(trend)
    while trend_kept and not trend_kept[0][1] and not trend_kept[0][2] and trend_kept[0][3] is None:
        trend_kept.pop(0)
    periods = school.bell_schedule.periods
    sensed = sensor_response.figures(facts.sensor_checks, end)
    check_minutes = school.sensors.check_minutes

    return WeeklySummary(
        school_id=school.id,
        school_name=school.name,
        week=week,
        start=start,
        end=end,
        headlines=headlines(now, before),
        coverage=cov,
        totals=totals,
        by_area=areas.by_area(school, cov, Counter(c.zone_id for c in raised if c.zone_id)),
        concerns_by_category=_ranked(Counter(c.category or "other" for c in raised)),
        concerns_by_severity={
            s.value: n
            for s in reversed(Severity)
            if (n := sum(c.severity == s.value for c in raised))
        },
        concerns_by_zone=_ranked(Counter(c.zone_id or "no zone" for c in raised), zone_order),
        heatmap=dict(heat),
        heatmap_zones=[z for z in zone_order if any(k[0] == z for k in heat)],
        heatmap_periods=period_order,
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
        trend=trend_kept,
        dates=week_dates(school, week),
        previous_known=previous_known,
        verdicts=verdicts(now),
        attention=attention(school, facts, start, end),
        ack_words=ack_sentence(len(facts.alerts), len(acks)),
        step_labels=step_labels,
        period_names={p.name: words.period(school, p.name) for p in periods},
        period_short={p.name: words.period_short(p) for p in periods},
        period_start={p.name: f"{p.start:%H:%M}" for p in periods},
        hotspot_reasons=[hotspot_reason(c) for c in cells[:5]],
        sensors=sensed,
        sensor_words=[
            sensor_response.sentence(f, check_minutes, unchecked="not checked by the week's end")
            for f in sensed
        ],
        sensors_configured=bool(school.sensors.devices),
        check_minutes=check_minutes,
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
