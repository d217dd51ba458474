"""Policy coverage: does every alert a school can raise reach someone on duty in time?

`lookout check school FILE` and the alerts service's start-up use this. It walks the school's
escalation policies the way the alerts engine does (services/alerts/domain.py `fire`), on the
school file's own rules (SchoolConfig.step_applies, people_for, on_duty), for an alert opened
at every minute of a representative calendar, and reports:

- gaps: a (category, severity) whose policy reaches nobody within 15 minutes of the alert
  opening at some time of the week (15-minute slots, merged into ranges);
- policies that end on a skipped step: an escalation that reached someone but never reaches
  the policy's last step, because that step is skipped (school hours, everyone off duty) when
  it comes due.

The walk (the engine's rules): the first policy in file order whose categories and severities
match routes the alert, else the built-in fallback. Step 0 is due its delay after opening, each
next step its delay after the one before; a new pass starts `max(1, longest delay)` minutes
after a pass's last step; there are `repeat + 1` passes. A step that does not apply or whose
targets are all off duty is skipped and the next step tried at the same moment. The officer a
lone-worker alarm is about never counts as reached (it is walked with each SSO as the silent
one). A whole cycle of skipped steps reaches nobody: the engine then holds the alert (or, for
high and critical, falls back to its on-call people), which is not the policy's coverage, so
the walk ends there.

High and critical findings are errors; low and medium ones are notices (the engine may hold
those until someone is reachable).

The walk runs on minute-by-minute tables of who is reachable, built from the moments at which
duty and school hours change, and is memoised per policy (and silent officer): every category
and severity routed to a policy behaves alike. A 15-minute slot is a gap if an alert opened at
any minute of it is one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise

from lookout.contracts.patrol import ConcernCategory, Severity
from lookout.school.config import (
    EscalationPolicyConfig,
    EscalationStepConfig,
    Role,
    SchoolConfig,
    StepWhen,
    Weekday,
)

REACH_WITHIN_MINUTES = 15
SLOT_MINUTES = 15
DAY_MINUTES = 24 * 60
_SLOTS_PER_DAY = DAY_MINUTES // SLOT_MINUTES
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_NO_SCHOOL_DAY = "no-school day"
_BEFORE_BREAK = "day before a break"
_ANCHOR_MONDAY = date(2026, 1, 5)  # where the search for a normal week starts without breaks
_SEARCH_WEEKS = 60

# The engine's policy when no configured one matches (services/alerts/domain.py FALLBACK_POLICY).
FALLBACK_POLICY = EscalationPolicyConfig(
    name="fallback",
    categories=["*"],
    steps=[
        EscalationStepConfig(targets=[Role.SSO.value], delay_minutes=0),
        EscalationStepConfig(targets=[Role.PRINCIPAL.value], delay_minutes=15),
    ],
    repeat=1,
    ack_timeout_minutes=60,
)
_URGENT = frozenset({Severity.HIGH, Severity.CRITICAL})
_SEVERITY_ORDER = tuple(Severity)


# --- what can raise an alert ---------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One kind of alert: what a policy's `categories` may name to catch it, and its severity."""

    label: str  # `conflict`, `heartbeat_missed`, `follow_up_missed (conflict)`
    match: frozenset[str]
    severity: Severity
    about_an_officer: bool = False  # a lone-worker alarm: its silent officer cannot answer it


def alert_kinds() -> list[Route]:
    """Every (category, severity) an alert can have, with the alert sources' fixed severities."""
    routes = [Route(c.value, frozenset({c.value}), s) for c in ConcernCategory for s in Severity]
    fixed = [
        ("check_missed", Severity.LOW),
        ("heartbeat_missed", Severity.HIGH),
        ("screening_flagged", Severity.MEDIUM),
        ("screening_flagged", Severity.HIGH),
        ("visitor_overdue", Severity.MEDIUM),
        ("visitor_out_of_bounds", Severity.HIGH),
        ("sensor_unchecked", Severity.MEDIUM),
    ]
    routes += [Route(name, frozenset({name}), s, name == "heartbeat_missed") for name, s in fixed]
    # A missed welfare re-check carries its concern's category and severity.
    routes += [
        Route(f"follow_up_missed ({c.value})", frozenset({"follow_up_missed", c.value}), s)
        for c in ConcernCategory
        for s in Severity
    ]
    return routes


def policy_for(school: SchoolConfig, route: Route) -> EscalationPolicyConfig:
    """The first policy in file order whose categories and severities catch the alert."""
    for policy in school.escalation_policies:
        cats = set(policy.categories)
        if ("*" in cats or cats & route.match) and route.severity in policy.severities:
            return policy
    return FALLBACK_POLICY


# --- who is reachable, minute by minute ----------------------------------------------------------


# A policy (its index in the file, -1: the fallback) walked for an alert about an officer (the
# silent one of a lone-worker alarm, never counted as reached) or None.
_Variant = tuple[int, str | None]


class _Stretch:
    """Reachability tables for `minutes` minutes from local midnight of `first_day`, indexed by
    elapsed minute (so a walk across a DST change waits real time, as the engine does)."""

    def __init__(self, school: SchoolConfig, first_day: date, minutes: int) -> None:
        self.school = school
        self.tz = school.tz
        self.base = datetime.combine(first_day, time(0), tzinfo=self.tz).astimezone(UTC)
        self.people = school.people
        self._days: dict[date, dict[StepWhen, list[int]]] = {}
        # For each `when`: the on-duty people (a bit per person) to whom a step applies.
        self.table: dict[StepWhen, list[int]] = {w: [] for w in StepWhen}
        # UTC offsets change on quarter hours at most: look the local time up once per quarter.
        for m in range(0, minutes, SLOT_MINUTES):
            local = (self.base + timedelta(minutes=m)).astimezone(self.tz)
            day = self._day(local.date())
            k = local.hour * 60 + local.minute
            n = min(SLOT_MINUTES, minutes - m)
            for when in StepWhen:
                self.table[when] += day[when][k : k + n]
        self._steps: dict[_Variant, list[list[int]]] = {}

    def _day(self, day: date) -> dict[StepWhen, list[int]]:
        """One local day's tables: duty and school hours only change at midnight, the first and
        last bell, and the edges of someone's duty hours (each rounded both ways to a minute)."""
        if day in self._days:
            return self._days[day]
        edges: set[time] = {time(0)}
        hours = self.school.school_hours(day)
        if hours is not None:
            edges.update(h.time() for h in hours)
        for person in self.people:
            if person.duty_window is not None:
                edges.update(person.duty_window)
        starts = {0}
        for edge in edges:
            k = edge.hour * 60 + edge.minute
            starts.update({k, min(k + 1, DAY_MINUTES - 1)})
        tables: dict[StepWhen, list[int]] = {w: [0] * DAY_MINUTES for w in StepWhen}
        for start, end in pairwise([*sorted(starts), DAY_MINUTES]):
            moment = datetime.combine(day, time(start // 60, start % 60), tzinfo=self.tz)
            on = sum(1 << n for n, p in enumerate(self.people) if self.school.on_duty(p, moment))
            for when in StepWhen:
                value = on if self.school.step_applies(when, moment) else 0
                tables[when][start:end] = [value] * (end - start)
        self._days[day] = tables
        return tables

    def minute_of(self, moment: datetime) -> int:
        return int((moment.astimezone(UTC) - self.base).total_seconds() // 60)

    def moment_at(self, minute: int) -> datetime:
        return (self.base + timedelta(minutes=minute)).astimezone(self.tz)

    def steps(self, key: _Variant, policy: EscalationPolicyConfig) -> list[list[int]]:
        """Per step, per minute: the on-duty people the step would reach (0: skipped), never
        the officer a lone-worker alarm is about."""
        if key not in self._steps:
            rows = []
            for step in policy.steps:
                wanted = {p.id for p in self.school.people_for(step.targets)} - {key[1]}
                mask = sum(1 << n for n, p in enumerate(self.people) if p.id in wanted)
                rows.append([v & mask for v in self.table[step.when]])
            self._steps[key] = rows
        return self._steps[key]


def _walk_length(policy: EscalationPolicyConfig) -> int:
    """An upper bound on the minutes from opening to the end of the last pass."""
    delays = [s.delay_minutes for s in policy.steps]
    return (policy.repeat + 1) * (sum(delays) + max(1, *delays)) + 1


# A walk's result: when the policy first reaches someone (None: never), whom (a bit per
# person), and whether it reached someone but never its last step (skipped when due).
_Walk = tuple[int | None, int, bool]


@dataclass(frozen=True)
class _Timing:
    delays: tuple[int, ...]
    gap: int  # before a repeated pass: the longest delay, at least one minute
    repeat: int
    last: int  # the last step's index

    @classmethod
    def of(cls, policy: EscalationPolicyConfig) -> _Timing:
        delays = tuple(s.delay_minutes for s in policy.steps)
        return cls(delays, max(1, *delays), policy.repeat, len(delays) - 1)


def _walk(steps: list[list[int]], timing: _Timing, opened: int) -> _Walk:
    delays, gap, repeat, last = timing.delays, timing.gap, timing.repeat, timing.last
    at, i, r = opened + delays[0], 0, 0
    first: int | None = None
    first_mask = 0
    last_fired = False
    skipped = 0
    while True:
        mask = steps[i][at]
        if mask:
            if first is None:
                first, first_mask = at, mask
            last_fired = last_fired or i == last
            skipped = 0
        else:
            skipped += 1
            if skipped > last:  # a whole cycle reached nobody: the engine holds the alert
                break
        if i < last:
            i += 1
            wait = delays[i]
        elif r < repeat:
            i, r = 0, r + 1
            wait = gap
        else:
            break
        if mask:  # after a step that fired, the next one waits its delay; a skip does not
            at += wait
    return first, first_mask, first is not None and not last_fired


@dataclass(frozen=True)
class Reach:
    """Where a policy's escalation goes for an alert opened at one moment."""

    first_at: datetime | None  # the first moment a step reaches someone on duty
    people: tuple[str, ...]  # person ids reached then, in file order
    misses_last_step: bool


def reaches(
    school: SchoolConfig,
    policy: EscalationPolicyConfig,
    opened: Sequence[datetime],
    about: str | None = None,
) -> list[Reach]:
    """The policy's walk for alerts opened at each of `opened` (minute precision); `about`: the
    officer a lone-worker alarm is about, who is never reached by it."""
    if not opened:
        return []
    tz = school.tz
    first_day = min(opened).astimezone(tz).date()
    stretch = _Stretch(school, first_day, 1)
    span = max(stretch.minute_of(o) for o in opened) + _walk_length(policy) + DAY_MINUTES
    stretch = _Stretch(school, first_day, span)
    steps = stretch.steps((0, about), policy)
    timing = _Timing.of(policy)
    out = []
    for moment in opened:
        first, mask, misses = _walk(steps, timing, stretch.minute_of(moment))
        at = None if first is None else stretch.moment_at(first)
        people = tuple(p.id for n, p in enumerate(school.people) if mask >> n & 1)
        out.append(Reach(at, people, misses))
    return out


# --- the representative calendar -----------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """The days the check looks at: a normal week (Mon-Sun) with no no-school day in it, a
    no-school weekday and the last school day before a break, when the file has them."""

    week_of: date  # its Monday
    no_school_day: date | None
    before_break: date | None

    def describe(self) -> str:
        parts = [f"the week of Mon {self.week_of.isoformat()}"]
        if self.no_school_day is not None:
            parts.append(f"{_NO_SCHOOL_DAY} {_day_name(self.no_school_day)}")
        if self.before_break is not None:
            parts.append(f"{_BEFORE_BREAK} {_day_name(self.before_break)}")
        return "; ".join(parts)


def _day_name(day: date) -> str:
    return f"{_DAY_NAMES[day.weekday()]} {day.isoformat()}"


def calendar_for(school: SchoolConfig) -> Calendar:
    sched = school.bell_schedule
    no_school = sorted(sched.no_school_days)
    school_weekdays = {list(Weekday).index(w) for w in sched.school_days}
    weekdays_off = [d for d in no_school if d.weekday() in school_weekdays]
    before_break = None
    for off in weekdays_off:
        prev = off - timedelta(days=1)
        while prev.weekday() not in school_weekdays:
            prev -= timedelta(days=1)
        if school.is_school_day(prev):
            before_break = prev
            break
    anchor = _ANCHOR_MONDAY
    if no_school:
        anchor = no_school[0] - timedelta(days=no_school[0].weekday())
    return Calendar(
        _normal_week(school, anchor), weekdays_off[0] if weekdays_off else None, before_break
    )


def _normal_week(school: SchoolConfig, anchor: date) -> date:
    """The first Monday from `anchor` whose week (and the two days after, where escalations
    spill over) has no no-school day and no change of UTC offset."""
    off = set(school.bell_schedule.no_school_days)
    tz = school.tz
    for week in range(_SEARCH_WEEKS):
        monday = anchor + timedelta(weeks=week)
        days = [monday + timedelta(days=n) for n in range(10)]
        offsets = {datetime.combine(d, time(12), tzinfo=tz).utcoffset() for d in days}
        if not off.intersection(days) and len(offsets) == 1:
            return monday
    return anchor


# --- findings ------------------------------------------------------------------------------------


class Level(StrEnum):
    ERROR = "ERROR"
    NOTICE = "notice"


class Problem(StrEnum):
    GAP = "reaches_nobody_within_15_minutes"
    ENDS_SKIPPED = "ends_on_a_skipped_step"


@dataclass(frozen=True)
class Finding:
    level: Level
    problem: Problem
    policy: str
    kinds: str  # the categories and severities routed to the policy, for people to read
    when: tuple[str, ...]  # opening times, school time: `Fri 17:30-Mon 06:45`
    last_step: str = ""  # ENDS_SKIPPED: the step never reached

    def line(self) -> str:
        level = f"{self.level.value:<6}"
        if self.problem is Problem.GAP:
            return (
                f"{level} {self.when[0]}: {self.kinds} -> policy {self.policy}: "
                f"reaches nobody within {REACH_WITHIN_MINUTES} minutes"
            )
        return (
            f"{level} policy {self.policy} ({self.kinds}): never reaches its last step "
            f"({self.last_step}), skipped at its due time, for alerts opened "
            + ", ".join(self.when)
        )


@dataclass(frozen=True)
class CoverageReport:
    school_id: str
    calendar: Calendar
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level is Level.ERROR)


@dataclass(frozen=True)
class _Slots:
    gaps: frozenset[int]
    misses: frozenset[int]


def check_school(school: SchoolConfig) -> CoverageReport:
    """Every coverage gap and every policy ending on a skipped step, errors first."""
    cal = calendar_for(school)
    routes = alert_kinds()
    chosen = [policy_for(school, r) for r in routes]
    officers = [p.id for p in school.people_for([Role.SSO.value])] or [None]
    # An alarm about an officer is walked once for each officer who could be the silent one.
    variants = [
        tuple((_key(school, p), o) for o in (officers if r.about_an_officer else [None]))
        for r, p in zip(routes, chosen, strict=True)
    ]
    policies: dict[_Variant, EscalationPolicyConfig] = {}
    for vs, p in zip(variants, chosen, strict=True):
        for v in vs:
            policies.setdefault(v, p)
    longest = max(_walk_length(p) for p in policies.values())
    days: list[tuple[str, date, int]] = [("week", cal.week_of, 7)]
    if cal.no_school_day is not None:
        days.append((_NO_SCHOOL_DAY, cal.no_school_day, 1))
    if cal.before_break is not None:
        days.append((_BEFORE_BREAK, cal.before_break, 1))
    # per stretch, per policy variant: the slots an alert opened in (at any minute) lands badly
    slots: dict[str, dict[_Variant, _Slots]] = {}
    for name, first, count in days:
        stretch = _Stretch(school, first, count * DAY_MINUTES + longest + DAY_MINUTES)
        openings = _openings(stretch, first, count)
        slots[name] = {
            key: _slots_of(stretch.steps(key, p), p, openings) for key, p in policies.items()
        }
    # Categories whose alerts land alike (same policy, same times) share a line.
    gap_lines: dict[tuple[str, Level, tuple[str, ...]], list[Route]] = {}
    miss_lines: dict[tuple[str, Level, tuple[str, ...], str], list[Route]] = {}
    for route, vs in zip(routes, variants, strict=True):
        level = Level.ERROR if route.severity in _URGENT else Level.NOTICE
        policy = policies[vs[0]]
        gaps, misses = _times(slots, vs, days, cal)
        if gaps:
            gap_lines.setdefault((policy.name, level, gaps), []).append(route)
        if misses:
            last = policy.steps[-1]
            step = ", ".join(last.targets) + (
                "" if last.when is StepWhen.ALWAYS else f", {last.when.value.replace('_', ' ')}"
            )
            miss_lines.setdefault((policy.name, level, misses, step), []).append(route)
    findings = [
        Finding(level, Problem.GAP, name, _describe(members), (when,))
        for (name, level, times), members in gap_lines.items()
        for when in times
    ]
    findings += [
        Finding(level, Problem.ENDS_SKIPPED, name, _describe(members), times, step)
        for (name, level, times, step), members in miss_lines.items()
    ]
    findings.sort(key=lambda f: (f.level is not Level.ERROR, f.problem is not Problem.GAP))
    return CoverageReport(school.id, cal, tuple(findings))


def _times(
    slots: Mapping[str, Mapping[_Variant, _Slots]],
    variants: Iterable[_Variant],
    days: list[tuple[str, date, int]],
    cal: Calendar,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The opening times (readable ranges) of gaps and of escalations missing the last step.
    A special day is listed only where it differs from the same weekday of the normal week."""
    week = _union(slots["week"], variants)
    gaps = _ranges(week.gaps, 7, cyclic=True, label=None, first=cal.week_of)
    misses = _ranges(week.misses, 7, cyclic=True, label=None, first=cal.week_of)
    for name, day, _count in days[1:]:
        special = _union(slots[name], variants)
        weekday = day.weekday() * _SLOTS_PER_DAY
        for attr, out in (("gaps", gaps), ("misses", misses)):
            mine: frozenset[int] = getattr(special, attr)
            usual = {s - weekday for s in getattr(week, attr)}
            if mine != {s for s in usual if 0 <= s < _SLOTS_PER_DAY}:
                out += _ranges(mine, 1, cyclic=False, label=name, first=day)
    return tuple(gaps), tuple(misses)


def _union(slots: Mapping[_Variant, _Slots], variants: Iterable[_Variant]) -> _Slots:
    gaps: frozenset[int] = frozenset()
    misses: frozenset[int] = frozenset()
    for v in variants:
        gaps, misses = gaps | slots[v].gaps, misses | slots[v].misses
    return _Slots(gaps, misses)


def _key(school: SchoolConfig, policy: EscalationPolicyConfig) -> int:
    for n, p in enumerate(school.escalation_policies):
        if p is policy:
            return n
    return -1


def _openings(stretch: _Stretch, first: date, count: int) -> list[tuple[int, int]]:
    """(slot, elapsed minute) of every wall-clock minute of the days (a time skipped by a DST
    change opens nothing)."""
    out = []
    for n in range(count):
        day = first + timedelta(days=n)
        for q in range(_SLOTS_PER_DAY):
            at = time(q * SLOT_MINUTES // 60, q * SLOT_MINUTES % 60)
            local = datetime.combine(day, at, tzinfo=stretch.tz)
            if local.astimezone(UTC).astimezone(stretch.tz).replace(tzinfo=None) != local.replace(
                tzinfo=None
            ):
                continue
            start = stretch.minute_of(local)
            slot = n * _SLOTS_PER_DAY + q
            out += [(slot, start + k) for k in range(SLOT_MINUTES)]
    return out


def _slots_of(
    steps: list[list[int]], policy: EscalationPolicyConfig, openings: list[tuple[int, int]]
) -> _Slots:
    gaps: set[int] = set()
    misses: set[int] = set()
    timing = _Timing.of(policy)
    for slot, minute in openings:
        first, _mask, missed = _walk(steps, timing, minute)
        if first is None or first - minute > REACH_WITHIN_MINUTES:
            gaps.add(slot)
        if missed:
            misses.add(slot)
    return _Slots(frozenset(gaps), frozenset(misses))


def _ranges(
    slots: frozenset[int], days: int, *, cyclic: bool, label: str | None, first: date
) -> list[str]:
    """Consecutive slots as readable ranges (`Fri 17:30-Mon 06:45`); a week wraps around."""
    total = days * _SLOTS_PER_DAY
    if not slots:
        return []
    if len(slots) == total:
        return ["all week"] if cyclic else [f"{label} 00:00-24:00"]
    runs: list[list[int]] = []
    for s in sorted(slots):
        if runs and runs[-1][1] == s:
            runs[-1][1] = s + 1
        else:
            runs.append([s, s + 1])
    if cyclic and len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == total:
        runs[-1][1] = total + runs.pop(0)[1]
    out = []
    for start, end in runs:
        a_day, a_at = divmod(start, _SLOTS_PER_DAY)
        b_day, b_at = divmod(end, _SLOTS_PER_DAY)
        if b_at == 0:
            b_day, b_at = b_day - 1, _SLOTS_PER_DAY
        if label is not None:
            out.append(f"{label} {_clock(a_at)}-{_clock(b_at)}")
        elif a_day == b_day:
            out.append(f"{_weekday(first, a_day)} {_clock(a_at)}-{_clock(b_at)}")
        else:
            out.append(
                f"{_weekday(first, a_day)} {_clock(a_at)}-{_weekday(first, b_day)} {_clock(b_at)}"
            )
    return out


def _weekday(first: date, n: int) -> str:
    return _DAY_NAMES[(first.weekday() + n) % 7]


def _clock(slot: int) -> str:
    minutes = slot * SLOT_MINUTES
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _describe(routes: Iterable[Route]) -> str:
    """`any concern category (high); heartbeat_missed (high)`: categories grouped by the
    severities they have here, concern categories and follow-ups collapsed when all are in."""
    by_label: dict[str, set[Severity]] = {}
    for r in routes:
        by_label.setdefault(r.label, set()).add(r.severity)
    by_sevs: dict[tuple[Severity, ...], list[str]] = {}
    for label, sevs in by_label.items():
        key = tuple(s for s in _SEVERITY_ORDER if s in sevs)
        by_sevs.setdefault(key, []).append(label)
    parts = []
    for sevs, labels in sorted(by_sevs.items(), key=lambda kv: _SEVERITY_ORDER.index(kv[0][0])):
        parts.append(f"{', '.join(_collapse(labels))} ({', '.join(sevs)})")
    return "; ".join(parts)


def _collapse(labels: list[str]) -> list[str]:
    """Concern categories as `any concern category` or `any concern category but …`, with
    `and their follow_up_missed` when their missed re-checks go the same way."""
    every = [c.value for c in ConcernCategory]
    concerns = [c for c in every if c in labels]
    follow = [c for c in every if f"follow_up_missed ({c})" in labels]
    out = []
    if concerns:
        text = _some_concerns(concerns, every)
        if follow == concerns:
            text += (
                " and its follow_up_missed" if len(concerns) == 1 else " and their follow_up_missed"
            )
            follow = []
        out.append(text)
    if follow:
        out.append(f"follow_up_missed ({_some_concerns(follow, every)})")
    out += [x for x in labels if x not in concerns and not x.startswith("follow_up_missed (")]
    return out


def _some_concerns(some: list[str], every: list[str]) -> str:
    if len(some) == len(every):
        return "any concern category"
    if len(some) > len(every) / 2:
        return "any concern category but " + ", ".join(c for c in every if c not in some)
    return ", ".join(some)


def log_coverage_gaps(
    schools: Mapping[str, SchoolConfig] | Iterable[SchoolConfig], logger: logging.Logger
) -> int:
    """One warning line per ERROR finding of each school (policy, categories and times only);
    returns how many were logged."""
    values = schools.values() if isinstance(schools, Mapping) else schools
    count = 0
    for school in values:
        for finding in check_school(school).errors:
            logger.warning(
                'event=coverage_gap school=%s problem=%s policy=%s kinds="%s" when="%s"%s',
                school.id,
                finding.problem.value,
                finding.policy,
                finding.kinds,
                ", ".join(finding.when),
                f' last_step="{finding.last_step}"' if finding.last_step else "",
            )
            count += 1
    return count
