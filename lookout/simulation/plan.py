"""The simulated school week as data: a PURE function of (seed, school, start date, days) that
returns every action the runner will take, each with its simulated time. No I/O, no clock, no
randomness outside the seeded generators: the same inputs give an identical plan (ids too).

What one school day holds (the ranges are what `tests/unit/simulation/test_plan.py` checks):
- every SSO phone's heartbeat every 5 minutes, from 20 minutes before the first bell to 5 minutes
  after the last, so `heartbeat.missed` never fires in school hours;
- one checkpoint scan (a second tag now and then) inside every check window of the patrol plan,
  unannounced ones included, except 1-2 windows scanned late (inside the grace) and 1-2
  skipped (missed): only windows no other window of their zone overlaps, so the outcome of
  every window is exactly what the plan says;
- 2-4 vaping concerns and 1-2 vaping observations, all in the week's two hotspot bathrooms, mostly
  in the week's two hot passing periods; the first concern of the day is resolved within
  minutes, the last is left open for the alerts service to escalate, the others either way;
- 0-2 other observations (loitering, a spill, graffiti);
- 8-14 preventive contacts (positive contacts, check-ins, referrals) around the building;
- 18-22 visitor sign-ins through the front office (varied types, hosts and destinations) with
  badge sightings; exactly one visitor stays past expected + grace (overdue), exactly one is
  seen outside their destination (out of bounds); everyone else signs out in time.
And once in the plan: a sign-in whose name is on the watchlist (staff answer Yes), a student in
emotional distress (checked in with, resolved with a one-school-day welfare follow-up, re-checked
the next school day), and a lunch-time conflict on about two days in five.

Students are opaque references (`S-1001`…); visitors are fictional names.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from lookout.contracts.envelope import Actor, ActorKind, Event
from lookout.contracts.patrol import (
    CheckpointScanned,
    ConcernCategory,
    ConcernRaised,
    ConcernResolved,
    ContactKind,
    ContactLogged,
    DeviceHeartbeat,
    ObservationCategory,
    ObservationLogged,
    ResolutionOutcome,
    ScanMethod,
    Severity,
)
from lookout.contracts.readable import describe_event
from lookout.contracts.visitors import IdType, ScreeningAnswer, SignIn, VisitorType
from lookout.school.config import Period, PeriodKind, Role, SchoolConfig, ZoneKind
from lookout.simulation import people
from lookout.simulation.school_day import (
    Window,
    add_school_days,
    check_windows,
    periods,
    school_days,
    window_outcome,
)

HEARTBEAT_EVERY = timedelta(minutes=5)
HEARTBEAT_LEAD = timedelta(minutes=20)  # before the first bell
HEARTBEAT_TAIL = timedelta(minutes=5)  # after the last bell
EDGE = timedelta(seconds=30)  # scans keep this far from a window's edges
MAX_DAYS = 28
VISITORS_PER_DAY = (18, 22)
CONTACTS_PER_DAY = (8, 14)
VAPING_CONCERNS_PER_DAY = (2, 4)
VAPING_OBSERVATIONS_PER_DAY = (1, 2)
OTHER_OBSERVATIONS_PER_DAY = (0, 2)
LATE_PER_DAY = (1, 2)
SKIPPED_PER_DAY = (1, 2)


class PlanError(ValueError):
    """The plan cannot be made from these inputs; the message is one line for the CLI."""


# --- actions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Publish:
    """Publish one event to JetStream (`Nats-Msg-Id = event_id`)."""

    at: datetime
    event: Event
    # The runner in drive mode lets the services apply this event before simulated time passes
    # this moment (the window deadline a scan must beat, a heartbeat's silence limit).
    settle_by: datetime | None = None

    def describe(self) -> str:

        return f"{self.event.type} {describe_event(self.event)}"


@dataclass(frozen=True)
class SignInVisitor:
    """The front office signs a visitor in (`command.<school>.visitors.sign_in`)."""

    at: datetime
    visit: str  # the plan's key of the visit; the reply's visit id and badge are kept under it
    request: SignIn

    def describe(self) -> str:
        r = self.request
        return (
            f"sign in {self.visit}: {r.visitor_type.value} for {r.host_id} to "
            f"{','.join(r.destination_zones)} ({r.expected_minutes} min)"
        )


@dataclass(frozen=True)
class AnswerScreening:
    """Staff answer a possible watchlist match (`command.<school>.visitors.screen`)."""

    at: datetime
    visit: str
    watchlist_entry_id: str
    answer: ScreeningAnswer
    decided_by: str

    def describe(self) -> str:
        return (
            f"screening {self.visit}: {self.answer.value} to {self.watchlist_entry_id} "
            f"by {self.decided_by}"
        )


@dataclass(frozen=True)
class SightVisitor:
    """The SSO sees a visitor's badge in a zone (a `visitor.sighted` event; the badge number
    comes from the sign-in reply, so the event is made when the action runs)."""

    at: datetime
    visit: str
    event_id: uuid.UUID
    zone_id: str
    device_id: str

    def describe(self) -> str:
        return f"visitor {self.visit} sighted in {self.zone_id} by {self.device_id}"


@dataclass(frozen=True)
class SignOutVisitor:
    """The front office signs a visitor out (`command.<school>.visitors.sign_out`)."""

    at: datetime
    visit: str
    signed_out_by: str

    def describe(self) -> str:
        return f"sign out {self.visit} by {self.signed_out_by}"


@dataclass(frozen=True)
class TimerCheck:
    """A moment at which a service timer must have fired (a visit has become overdue) before
    the plan goes on. Nothing is sent: a runner that drives the clock itself lets the services
    catch up here; a runner that follows a shared clock passes by (their tickers keep time)."""

    at: datetime
    reason: str

    def describe(self) -> str:
        return f"timer check: {self.reason}"


Action = Publish | SignInVisitor | AnswerScreening | SightVisitor | SignOutVisitor | TimerCheck


def action_kind(action: Action) -> str:
    if isinstance(action, Publish):
        return action.event.type
    return {
        SignInVisitor: "visitors.sign_in",
        AnswerScreening: "visitors.screen",
        SightVisitor: "visitor.sighted",
        SignOutVisitor: "visitors.sign_out",
        TimerCheck: "timer_check",
    }[type(action)]


# --- what the plan intends (the ground truth's expectations) ------------------------------------


@dataclass(frozen=True)
class Officer:
    officer_id: str
    device_id: str
    in_school_file: bool


@dataclass(frozen=True)
class WindowCheck:
    """A check window, who patrols it, what the SSO does about it and the expected outcome."""

    window: Window
    officer_id: str
    intent: str  # checked | late | skipped
    expected: str  # checked | late | missed: judged from every planned scan of the zone


@dataclass(frozen=True)
class ConcernStory:
    concern_id: uuid.UUID
    story: str  # vaping | conflict | distress
    category: ConcernCategory
    severity: Severity
    zone_id: str | None
    period: str | None
    student_refs: tuple[str, ...]
    officer_id: str
    raised_at: datetime
    raised_event_id: uuid.UUID
    resolved_at: datetime | None = None
    resolved_event_id: uuid.UUID | None = None
    outcome: ResolutionOutcome | None = None
    follow_up_in_school_days: int | None = None


@dataclass(frozen=True)
class FollowUpCheck:
    """A welfare re-check: due on `due_day`, done by a check-in contact at `recheck_at`
    (None when that day is outside the plan)."""

    concern_id: uuid.UUID
    due_day: date
    recheck_at: datetime | None
    recheck_event_id: uuid.UUID | None


@dataclass(frozen=True)
class SightingPlan:
    at: datetime
    zone_id: str
    event_id: uuid.UUID
    out_of_bounds: bool


@dataclass(frozen=True)
class VisitStory:
    key: str
    day: date
    scenario: str  # normal | overdue | out_of_bounds | watchlist
    visitor_type: VisitorType
    host_id: str
    destination_zones: tuple[str, ...]
    expected_minutes: int
    name: str  # stored by the visitors service too (the roster shows it)
    request_id: uuid.UUID
    signed_in_at: datetime
    signed_out_at: datetime | None
    sightings: tuple[SightingPlan, ...] = ()
    watchlist_entry_id: str | None = None
    screening_at: datetime | None = None
    overdue_at: datetime | None = None  # when the visitors service should call it overdue


@dataclass(frozen=True)
class Plan:
    seed: int
    school_id: str
    timezone: str
    start: date
    days: int
    school_days: tuple[date, ...]
    closed_days: tuple[date, ...]
    begins_at: datetime  # UTC; the slice of simulated time the plan covers
    ends_at: datetime
    officers: tuple[Officer, ...]
    student_count: int
    hotspot_zones: tuple[str, ...]
    hot_periods: tuple[str, ...]
    actions: tuple[Action, ...]
    windows: tuple[WindowCheck, ...]
    concerns: tuple[ConcernStory, ...]
    follow_ups: tuple[FollowUpCheck, ...]
    visits: tuple[VisitStory, ...]

    def slice(self, start: datetime | None = None, end: datetime | None = None) -> Plan:
        """The part of the plan in [start, end): its actions, the windows judged inside it
        (start and deadline within), the concerns raised and visits signed in inside it (their
        later steps dropped), and only actions whose subject began inside the slice."""
        lo = start or self.begins_at
        hi = end or self.ends_at

        def inside(moment: datetime | None) -> bool:
            return moment is not None and lo <= moment < hi

        concerns = tuple(
            c if inside(c.resolved_at) else _unresolved(c)
            for c in self.concerns
            if inside(c.raised_at)
        )
        kept_concerns = {c.concern_id for c in concerns}
        visits = tuple(_cut_visit(v, inside) for v in self.visits if inside(v.signed_in_at))
        kept_visits = {v.key for v in visits}
        actions: list[Action] = []
        for a in self.actions:
            if not inside(a.at):
                continue
            if (
                isinstance(a, Publish)
                and isinstance(a.event, ConcernResolved)
                and a.event.concern_id not in kept_concerns
            ):
                continue  # its raise is outside the slice: the service would refuse it
            if isinstance(a, SignInVisitor | AnswerScreening | SightVisitor | SignOutVisitor) and (
                a.visit not in kept_visits
            ):
                continue
            actions.append(a)
        follow_ups = tuple(
            replace(f, recheck_at=None, recheck_event_id=None) if not inside(f.recheck_at) else f
            for f in self.follow_ups
            if any(c.concern_id == f.concern_id and c.resolved_at for c in concerns)
        )
        windows = _judge(
            [w for w in self.windows if lo <= w.window.start and w.window.deadline < hi],
            actions,
        )
        days = {d for d in self.school_days if _day_overlaps(self, d, lo, hi)}
        return replace(
            self,
            begins_at=lo,
            ends_at=hi,
            school_days=tuple(d for d in self.school_days if d in days),
            actions=tuple(actions),
            windows=tuple(windows),
            concerns=concerns,
            follow_ups=follow_ups,
            visits=visits,
        )

    def day_counts(self) -> dict[date, Counter[str]]:
        """Per school day: how many of each kind of thing the plan does (the dry-run summary)."""
        tz = _tz(self)
        counts: dict[date, Counter[str]] = {d: Counter() for d in self.school_days}
        for a in self.actions:
            counts.setdefault(a.at.astimezone(tz).date(), Counter())[action_kind(a)] += 1
        for w in self.windows:
            c = counts.setdefault(w.window.start.astimezone(tz).date(), Counter())
            c["windows"] += 1
            c[f"windows_{w.expected}"] += 1
        for v in self.visits:
            c = counts.setdefault(v.day, Counter())
            c[f"visit_{v.scenario}"] += 1
        for cs in self.concerns:
            c = counts.setdefault(cs.raised_at.astimezone(tz).date(), Counter())
            c[f"concern_{cs.story}"] += 1
            c["concerns_open" if cs.resolved_at is None else "concerns_resolved"] += 1
        return counts


def _tz(plan: Plan) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(plan.timezone)


def _day_overlaps(plan: Plan, day: date, lo: datetime, hi: datetime) -> bool:
    tz = _tz(plan)
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start < hi and start + timedelta(days=1) > lo


def _unresolved(c: ConcernStory) -> ConcernStory:
    return replace(
        c, resolved_at=None, resolved_event_id=None, outcome=None, follow_up_in_school_days=None
    )


def _cut_visit(v: VisitStory, inside: Any) -> VisitStory:
    return replace(
        v,
        signed_out_at=v.signed_out_at if inside(v.signed_out_at) else None,
        sightings=tuple(s for s in v.sightings if inside(s.at)),
        screening_at=v.screening_at if inside(v.screening_at) else None,
        overdue_at=v.overdue_at if inside(v.overdue_at) else None,
    )


def _judge(windows: Iterable[WindowCheck], actions: Iterable[Action]) -> list[WindowCheck]:
    """Each window's expected outcome from every scan of its zone in `actions`."""
    scans: dict[str, list[datetime]] = {}
    for a in actions:
        if isinstance(a, Publish) and isinstance(a.event, CheckpointScanned):
            scans.setdefault(a.event.zone_id, []).append(a.event.occurred_at)
    return [
        replace(w, expected=window_outcome(w.window, scans.get(w.window.zone_id, [])))
        for w in windows
    ]


# --- building the plan --------------------------------------------------------------------------


def officers_for(school: SchoolConfig, count: int) -> tuple[Officer, ...]:
    """The school's SSOs (people with the `sso` role), topped up with simulated ones."""
    if count not in (1, 2):
        raise PlanError(f"sso: 1 or 2 officers, not {count}")
    ids = [p.id for p in school.people if Role.SSO in p.roles][:count]
    officers = [Officer(i, _device_of(i), True) for i in ids]
    n = len(officers)
    while len(officers) < count:
        n += 1
        officer_id = f"sso-sim-{n}"
        officers.append(Officer(officer_id, _device_of(officer_id), False))
    return tuple(officers)


def _device_of(officer_id: str) -> str:
    return f"phone-{officer_id.removeprefix('sso-')}"


def build_plan(
    school: SchoolConfig,
    *,
    seed: int,
    start: date,
    days: int = 5,
    sso: int = 1,
    patrol_seed: str = "",
    watchlist: Sequence[people.ListedPerson] = (),
) -> Plan:
    """The whole plan. `patrol_seed` is the deployment's `LOOKOUT_PATROL_SEED` (the SSO's phone
    learns the unannounced check times from the patrol service; the simulator derives them);
    `watchlist` is the school's watchlist (one entry is used to stage a match)."""
    if not 1 <= days <= MAX_DAYS:
        raise PlanError(f"days: between 1 and {MAX_DAYS}, not {days}")
    officers = officers_for(school, sso)
    open_days, closed = school_days(school, start, days)
    if not open_days:
        raise PlanError(
            f"start/days: no school day from {start} for {days} day(s) at {school.id!r}"
        )
    week = random.Random(f"lookout-simulation|week|{seed}|{school.id}|{start}|{days}")
    ctx = _Context.make(school, officers, week, patrol_seed, watchlist)
    watchlist_day = week.choice(open_days) if watchlist else None
    listed = week.choice(list(watchlist)) if watchlist else None
    distress_day = week.choice(open_days[:-1] if len(open_days) > 1 else open_days)
    conflict_days = set(week.sample(open_days, max(1, round(len(open_days) * 0.4))))

    parts = _Parts()
    for day in open_days:
        rng = random.Random(f"lookout-simulation|day|{seed}|{school.id}|{day}|{len(officers)}")
        _plan_day(
            ctx,
            parts,
            day,
            rng,
            conflict=day in conflict_days,
            distress=day == distress_day,
            listed=listed if day == watchlist_day else None,
        )
    _plan_follow_ups(ctx, parts, open_days, week)

    tz = school.tz
    begins_at = min(a.at for a in parts.actions)
    ends_at = datetime.combine(start + timedelta(days=days), time(0), tzinfo=tz).astimezone(UTC)
    actions = sorted(parts.actions, key=lambda a: a.at)  # stable: same-time actions keep order
    return Plan(
        seed=seed,
        school_id=school.id,
        timezone=school.timezone,
        start=start,
        days=days,
        school_days=tuple(open_days),
        closed_days=tuple(closed),
        begins_at=begins_at,
        ends_at=ends_at,
        officers=officers,
        student_count=len(ctx.students),
        hotspot_zones=ctx.hotspots,
        hot_periods=tuple(p.name for p in ctx.hot_periods),
        actions=tuple(actions),
        windows=tuple(_judge(parts.windows, actions)),
        concerns=tuple(sorted(parts.concerns, key=lambda c: c.raised_at)),
        follow_ups=tuple(parts.follow_ups),
        visits=tuple(sorted(parts.visits, key=lambda v: v.signed_in_at)),
    )


@dataclass
class _Parts:
    actions: list[Action] = field(default_factory=list)
    windows: list[WindowCheck] = field(default_factory=list)
    concerns: list[ConcernStory] = field(default_factory=list)
    follow_ups: list[FollowUpCheck] = field(default_factory=list)
    visits: list[VisitStory] = field(default_factory=list)


@dataclass(frozen=True)
class _Context:
    school: SchoolConfig
    officers: tuple[Officer, ...]
    students: tuple[str, ...]
    cohort: tuple[str, ...]  # the students behind most vaping incidents
    hotspots: tuple[str, ...]
    hot_periods: tuple[Period, ...]
    front_office: str
    screener: str
    hosts: dict[str, tuple[str, ...]]
    patrol_seed: str
    watchlist: tuple[people.ListedPerson, ...]

    @classmethod
    def make(
        cls,
        school: SchoolConfig,
        officers: tuple[Officer, ...],
        rng: random.Random,
        patrol_seed: str,
        watchlist: Sequence[people.ListedPerson],
    ) -> _Context:
        students = people.student_refs(school.student_count)
        bathrooms = [z.id for z in school.zones if z.kind is ZoneKind.BATHROOM]
        covered = {
            zone
            for rule in school.patrol_plan
            if {"passing", *[p.name for p in periods(school, PeriodKind.PASSING)]}
            & set(rule.during)
            for zone in rule.zones
        }
        candidates = [b for b in bathrooms if b in covered] or bathrooms
        hotspots = tuple(
            sorted(rng.sample(candidates, min(2, len(candidates))), key=candidates.index)
        )
        passing = periods(school, PeriodKind.PASSING) or periods(school, PeriodKind.LUNCH)
        hot = tuple(sorted(rng.sample(passing, min(2, len(passing))), key=lambda p: p.start))
        by_role = {
            role: [p.id for p in school.people if role in p.roles]
            for role in (
                Role.FRONT_OFFICE,
                Role.ASSISTANT_PRINCIPAL,
                Role.PRINCIPAL,
                Role.COUNSELOR,
            )
        }
        staff = [p.id for p in school.people if Role.SSO not in p.roles] or [
            p.id for p in school.people
        ]
        if not staff:
            raise PlanError(f"school {school.id!r} lists no people to host or sign in visitors")

        def first(*roles: Role) -> str:
            for role in roles:
                if by_role[role]:
                    return by_role[role][0]
            return staff[0]

        def pool(*roles: Role) -> tuple[str, ...]:
            ids = [i for role in roles for i in by_role[role]]
            return tuple(dict.fromkeys(ids)) or (staff[0],)

        hosts = {
            "parent": pool(Role.COUNSELOR, Role.ASSISTANT_PRINCIPAL, Role.FRONT_OFFICE),
            "guest": pool(Role.PRINCIPAL, Role.ASSISTANT_PRINCIPAL),
            "volunteer": pool(Role.FRONT_OFFICE, Role.COUNSELOR),
            "contractor": pool(Role.PRINCIPAL, Role.FRONT_OFFICE),
            "substitute": pool(Role.ASSISTANT_PRINCIPAL, Role.PRINCIPAL),
        }
        return cls(
            school=school,
            officers=officers,
            students=students,
            cohort=tuple(rng.sample(students, min(12, len(students)))),
            hotspots=hotspots,
            hot_periods=hot,
            front_office=first(Role.FRONT_OFFICE, Role.ASSISTANT_PRINCIPAL),
            screener=first(Role.ASSISTANT_PRINCIPAL, Role.PRINCIPAL, Role.FRONT_OFFICE),
            hosts=hosts,
            patrol_seed=patrol_seed,
            watchlist=tuple(watchlist),
        )

    def zones(self, *kinds: ZoneKind) -> list[str]:
        found = [z.id for z in self.school.zones if z.kind in kinds]
        return (
            found
            or [
                z.id
                for z in self.school.zones
                if z.kind not in (ZoneKind.BATHROOM, ZoneKind.PARKING)
            ]
            or [self.school.zones[0].id]
        )

    def officer_for_zone(self, zone_id: str) -> Officer:
        for index, rule in enumerate(self.school.patrol_plan):
            if zone_id in rule.zones:
                return self.officers[index % len(self.officers)]
        return self.officers[0]

    def actor(self, officer: Officer) -> Actor:
        return Actor(kind=ActorKind.SSO_DEVICE, id=officer.device_id)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _event(
    model: type[Event], rng: random.Random, ctx: _Context, at: datetime, actor: Actor, **fields: Any
) -> Event:
    return model(
        event_id=_uuid(rng),
        type=model.event_type(),
        school_id=ctx.school.id,
        occurred_at=at,
        actor=actor,
        **fields,
    )


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _local(ctx: _Context, day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ctx.school.tz)


def _between(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A whole second in [lo, hi] (UTC)."""
    span = max(0, int((hi - lo).total_seconds()))
    return _utc(lo + timedelta(seconds=rng.randint(0, span)))


def _in_period(
    ctx: _Context, rng: random.Random, day: date, period: Period, margin: int = 1
) -> datetime:
    start = datetime.combine(day, period.start, tzinfo=ctx.school.tz)
    end = datetime.combine(day, period.end, tzinfo=ctx.school.tz)
    pad = timedelta(minutes=margin)
    if end - start <= 2 * pad:
        pad = timedelta(0)
    return _between(rng, start + pad, end - pad)


def _students(rng: random.Random, pool: Sequence[str], low: int, high: int) -> list[str]:
    return sorted(rng.sample(list(pool), rng.randint(low, high)))


def _plan_day(
    ctx: _Context,
    parts: _Parts,
    day: date,
    rng: random.Random,
    *,
    conflict: bool,
    distress: bool,
    listed: people.ListedPerson | None,
) -> None:
    school = ctx.school
    hours = school.school_hours(day)
    assert hours is not None
    _heartbeats(ctx, parts, day, rng, hours)
    busy = _vaping(ctx, parts, day, rng)
    if conflict:
        _conflict(ctx, parts, day, rng)
    if distress:
        _distress(ctx, parts, day, rng)
    _contacts(ctx, parts, day, rng)
    _other_observations(ctx, parts, day, rng)
    _patrol(ctx, parts, day, rng, busy)
    _visitors(ctx, parts, day, rng, listed)


def _heartbeats(
    ctx: _Context, parts: _Parts, day: date, rng: random.Random, hours: tuple[datetime, datetime]
) -> None:
    limit = timedelta(minutes=ctx.school.heartbeat_limit_minutes)
    every = min(HEARTBEAT_EVERY, limit / 2)
    for n, officer in enumerate(ctx.officers):
        at = _utc(hours[0] - HEARTBEAT_LEAD + timedelta(seconds=17 * n))
        end = _utc(hours[1] + HEARTBEAT_TAIL)
        while at <= end:
            event = _event(
                DeviceHeartbeat,
                rng,
                ctx,
                at,
                ctx.actor(officer),
                device_id=officer.device_id,
                officer_id=officer.officer_id,
            )
            # Applied before the previous heartbeat's silence limit passes (at - every + limit),
            # not only its own: otherwise the patrol ticker may judge the phone silent first.
            parts.actions.append(Publish(at, event, settle_by=at - every + limit))
            at += every


def _vaping(ctx: _Context, parts: _Parts, day: date, rng: random.Random) -> set[tuple[str, str]]:
    """Vaping concerns and observations in the hotspot bathrooms; returns the (zone, period)
    pairs the SSO was busy in (those windows are never the skipped or late ones)."""
    busy: set[tuple[str, str]] = set()
    if not ctx.hotspots:
        return busy
    lunch = periods(ctx.school, PeriodKind.LUNCH) or list(ctx.hot_periods)

    def where() -> tuple[str, Period]:
        zone = rng.choice(ctx.hotspots)
        period = rng.choice(ctx.hot_periods) if rng.random() < 0.8 else rng.choice(lunch)
        busy.add((zone, period.name))
        return zone, period

    n = rng.randint(*VAPING_CONCERNS_PER_DAY)
    for i in range(n):
        zone, period = where()
        officer = ctx.officer_for_zone(zone)
        at = _in_period(ctx, rng, day, period)
        refs = tuple(
            sorted(
                rng.sample(ctx.cohort if rng.random() < 0.7 else ctx.students, rng.randint(1, 3))
            )
        )
        concern_id = _uuid(rng)
        severity = Severity.LOW if rng.random() < 0.6 else Severity.MEDIUM
        story = _raise(
            ctx, parts, rng, at, officer, "vaping", ConcernCategory.VAPING, severity, zone,
            period, refs, concern_id, note=rng.choice(people.VAPING_NOTES),
        )  # fmt: skip
        resolve = i == 0 or (i != n - 1 and rng.random() < 0.5)
        if resolve:
            outcome = rng.choice(
                [
                    ResolutionOutcome.RESOLVED_BY_SSO,
                    ResolutionOutcome.PARENT_CONTACTED,
                    ResolutionOutcome.REFERRED_TO_ADMIN,
                ]
            )
            story = _resolve(ctx, parts, rng, story, officer, rng.randint(5, 25), outcome)
        parts.concerns.append(story)
    for _ in range(rng.randint(*VAPING_OBSERVATIONS_PER_DAY)):
        zone, period = where()
        at = _in_period(ctx, rng, day, period)
        event = _event(
            ObservationLogged,
            rng,
            ctx,
            at,
            ctx.actor(ctx.officer_for_zone(zone)),
            zone_id=zone,
            category=ObservationCategory.VAPING,
            note=rng.choice(people.OBSERVATION_NOTES["vaping"]),
        )
        parts.actions.append(Publish(at, event))
    return busy


def _raise(
    ctx: _Context,
    parts: _Parts,
    rng: random.Random,
    at: datetime,
    officer: Officer,
    kind: str,
    category: ConcernCategory,
    severity: Severity,
    zone: str,
    period: Period,
    refs: tuple[str, ...],
    concern_id: uuid.UUID,
    note: str,
) -> ConcernStory:
    """Publish the SSO raising a concern; its story, not resolved yet."""
    raised = _event(
        ConcernRaised, rng, ctx, at, ctx.actor(officer), concern_id=concern_id, category=category,
        severity=severity, zone_id=zone, student_refs=list(refs), note=note,
    )  # fmt: skip
    parts.actions.append(Publish(at, raised))
    return ConcernStory(
        concern_id=concern_id,
        story=kind,
        category=category,
        severity=severity,
        zone_id=zone,
        period=period.name,
        student_refs=refs,
        officer_id=officer.officer_id,
        raised_at=at,
        raised_event_id=raised.event_id,
    )


def _resolve(
    ctx: _Context,
    parts: _Parts,
    rng: random.Random,
    story: ConcernStory,
    officer: Officer,
    after_minutes: int,
    outcome: ResolutionOutcome,
    follow_up: int | None = None,
) -> ConcernStory:
    at = story.raised_at + timedelta(minutes=after_minutes, seconds=rng.randint(0, 59))
    event = _event(
        ConcernResolved,
        rng,
        ctx,
        at,
        ctx.actor(officer),
        concern_id=story.concern_id,
        outcome=outcome,
        note=people.RESOLUTION_NOTES[outcome.value],
        follow_up_in_school_days=follow_up,
    )
    parts.actions.append(Publish(at, event))
    return replace(
        story,
        resolved_at=at,
        resolved_event_id=event.event_id,
        outcome=outcome,
        follow_up_in_school_days=follow_up,
    )


def _contact(
    ctx: _Context,
    parts: _Parts,
    rng: random.Random,
    at: datetime,
    officer: Officer,
    kind: ContactKind,
    zone: str | None,
    refs: Sequence[str],
    concern_id: uuid.UUID | None = None,
    settle_by: datetime | None = None,
) -> Event:
    event = _event(
        ContactLogged,
        rng,
        ctx,
        at,
        ctx.actor(officer),
        kind=kind,
        zone_id=zone,
        student_refs=list(refs),
        concern_id=concern_id,
    )
    parts.actions.append(Publish(at, event, settle_by=settle_by))
    return event


def _conflict(ctx: _Context, parts: _Parts, day: date, rng: random.Random) -> None:
    lunch = periods(ctx.school, PeriodKind.LUNCH)
    if not lunch:
        return
    period = rng.choice(lunch)
    zone = rng.choice(ctx.zones(ZoneKind.CAFETERIA, ZoneKind.COURTYARD))
    officer = ctx.officer_for_zone(zone)
    start = datetime.combine(day, period.start, tzinfo=ctx.school.tz)
    end = datetime.combine(day, period.end, tzinfo=ctx.school.tz)
    at = _between(
        rng,
        start + timedelta(minutes=2),
        max(start + timedelta(minutes=2), end - timedelta(minutes=10)),
    )
    refs = tuple(_students(rng, ctx.students, 2, 2))
    concern_id = _uuid(rng)
    severity = Severity.MEDIUM if rng.random() < 0.7 else Severity.HIGH
    story = _raise(
        ctx, parts, rng, at, officer, "conflict", ConcernCategory.CONFLICT, severity, zone,
        period, refs, concern_id, note=rng.choice(people.CONFLICT_NOTES),
    )  # fmt: skip
    _contact(
        ctx,
        parts,
        rng,
        at + timedelta(minutes=rng.randint(1, 3)),
        officer,
        ContactKind.DE_ESCALATION,
        zone,
        refs,
        concern_id,
    )
    outcome = rng.choice([ResolutionOutcome.RESOLVED_BY_SSO, ResolutionOutcome.REFERRED_TO_ADMIN])
    parts.concerns.append(_resolve(ctx, parts, rng, story, officer, rng.randint(10, 20), outcome))


def _distress(ctx: _Context, parts: _Parts, day: date, rng: random.Random) -> None:
    classes = periods(ctx.school, PeriodKind.CLASS)[1:-1] or periods(ctx.school, PeriodKind.CLASS)
    period = rng.choice(classes)
    zone = rng.choice(ctx.zones(ZoneKind.STAIRWELL, ZoneKind.LIBRARY, ZoneKind.HALLWAY))
    officer = ctx.officer_for_zone(zone)
    start = datetime.combine(day, period.start, tzinfo=ctx.school.tz)
    at = _between(rng, start + timedelta(minutes=5), start + timedelta(minutes=20))
    refs = (rng.choice(ctx.students),)
    concern_id = _uuid(rng)
    story = _raise(
        ctx, parts, rng, at, officer, "distress", ConcernCategory.EMOTIONAL_DISTRESS,
        Severity.MEDIUM, zone, period, refs, concern_id, note=rng.choice(people.DISTRESS_NOTES),
    )  # fmt: skip
    _contact(
        ctx,
        parts,
        rng,
        at + timedelta(minutes=rng.randint(2, 5)),
        officer,
        ContactKind.CHECK_IN,
        zone,
        refs,
        concern_id,
    )
    parts.concerns.append(
        _resolve(
            ctx,
            parts,
            rng,
            story,
            officer,
            rng.randint(15, 30),
            ResolutionOutcome.REFERRED_TO_COUNSELOR,
            follow_up=1,
        )
    )


def _plan_follow_ups(
    ctx: _Context, parts: _Parts, open_days: Sequence[date], rng: random.Random
) -> None:
    """The welfare re-check of each concern resolved with a follow-up: a check-in with the same
    students on the due school day, when that day is part of the plan."""
    for story in [c for c in parts.concerns if c.follow_up_in_school_days]:
        assert story.resolved_at is not None and story.follow_up_in_school_days is not None
        resolved_day = story.resolved_at.astimezone(ctx.school.tz).date()
        due = add_school_days(ctx.school, resolved_day, story.follow_up_in_school_days)
        if due not in open_days:
            parts.follow_ups.append(FollowUpCheck(story.concern_id, due, None, None))
            continue
        first_class = periods(ctx.school, PeriodKind.CLASS)[0]
        hours = ctx.school.school_hours(due)
        assert hours is not None
        start = datetime.combine(due, first_class.start, tzinfo=ctx.school.tz)
        at = _between(rng, start + timedelta(minutes=5), start + timedelta(minutes=90))
        officer = next(o for o in ctx.officers if o.officer_id == story.officer_id)
        event = _contact(
            ctx,
            parts,
            rng,
            at,
            officer,
            ContactKind.CHECK_IN,
            story.zone_id,
            story.student_refs,
            story.concern_id,
            settle_by=_utc(hours[1]),
        )
        parts.follow_ups.append(FollowUpCheck(story.concern_id, due, at, event.event_id))


_CONTACT_PLACES = {
    PeriodKind.BEFORE_SCHOOL: (ZoneKind.ENTRANCE, ZoneKind.PARKING, ZoneKind.COURTYARD),
    PeriodKind.PASSING: (ZoneKind.HALLWAY, ZoneKind.STAIRWELL),
    PeriodKind.LUNCH: (ZoneKind.CAFETERIA, ZoneKind.COURTYARD),
    PeriodKind.AFTER_SCHOOL: (ZoneKind.ENTRANCE, ZoneKind.GYM, ZoneKind.PARKING),
}


def _contacts(ctx: _Context, parts: _Parts, day: date, rng: random.Random) -> None:
    slots = [p for p in ctx.school.bell_schedule.periods if p.kind in _CONTACT_PLACES]
    if not slots:
        return
    kinds = (
        [ContactKind.POSITIVE_CONTACT] * 7
        + [ContactKind.CHECK_IN] * 2
        + [ContactKind.REFERRAL_TO_COUNSELOR]
    )
    for _ in range(rng.randint(*CONTACTS_PER_DAY)):
        period = rng.choice(slots)
        zone = rng.choice(ctx.zones(*_CONTACT_PLACES[period.kind]))
        at = _in_period(ctx, rng, day, period)
        refs = _students(rng, ctx.students, 1, 3)
        _contact(ctx, parts, rng, at, ctx.officer_for_zone(zone), rng.choice(kinds), zone, refs)


def _other_observations(ctx: _Context, parts: _Parts, day: date, rng: random.Random) -> None:
    choices = [
        (ObservationCategory.LOITERING, (ZoneKind.STAIRWELL, ZoneKind.HALLWAY), PeriodKind.CLASS),
        (ObservationCategory.HAZARD, (ZoneKind.CAFETERIA,), PeriodKind.LUNCH),
        (ObservationCategory.PROPERTY_DAMAGE, (ZoneKind.BATHROOM,), PeriodKind.PASSING),
    ]
    for _ in range(rng.randint(*OTHER_OBSERVATIONS_PER_DAY)):
        category, kinds, period_kind = rng.choice(choices)
        slots = periods(ctx.school, period_kind)
        if not slots:
            continue
        zones = [z for z in ctx.zones(*kinds) if z not in ctx.hotspots] or ctx.zones(*kinds)
        zone = rng.choice(zones)
        at = _in_period(ctx, rng, day, rng.choice(slots))
        event = _event(
            ObservationLogged,
            rng,
            ctx,
            at,
            ctx.actor(ctx.officer_for_zone(zone)),
            zone_id=zone,
            category=category,
            note=rng.choice(people.OBSERVATION_NOTES[category.value]),
        )
        parts.actions.append(Publish(at, event))


def _isolated(window: Window, others: Sequence[Window]) -> bool:
    """No other window of the zone comes near it, so one scan decides its outcome alone."""
    pad = timedelta(minutes=1)
    return not any(
        o is not window
        and o.zone_id == window.zone_id
        and o.start <= window.deadline + pad
        and window.start <= o.deadline + pad
        for o in others
    )


def _patrol(
    ctx: _Context, parts: _Parts, day: date, rng: random.Random, busy: set[tuple[str, str]]
) -> None:
    windows = check_windows(ctx.school, day, ctx.patrol_seed)
    eligible = [
        w for w in windows if _isolated(w, windows) and (w.zone_id, w.period or "") not in busy
    ]
    late_ok = [w for w in eligible if not w.unannounced and w.grace >= timedelta(minutes=2)]
    late = set(_indices(rng, windows, late_ok, rng.randint(*LATE_PER_DAY)))
    skip_ok = [w for w in eligible if windows.index(w) not in late]
    skipped = set(_indices(rng, windows, skip_ok, rng.randint(*SKIPPED_PER_DAY)))
    zones = {z.id: z for z in ctx.school.zones}
    for index, w in enumerate(windows):
        officer = ctx.officers[w.rule % len(ctx.officers)]
        intent = "late" if index in late else "skipped" if index in skipped else "checked"
        parts.windows.append(WindowCheck(w, officer.officer_id, intent, intent))
        if intent == "skipped":
            continue
        tags = list(zones[w.zone_id].checkpoints)
        rng.shuffle(tags)
        if intent == "late":
            # Early in the grace: a runner following a fast shared clock has time to spare
            # before the patrol service closes the window as missed.
            latest = min(w.end + max(2 * EDGE, w.grace / 2), w.deadline - EDGE)
            times = [_between(rng, w.end + EDGE, latest)]
        else:
            first = _between(rng, w.start + EDGE, w.end - EDGE - timedelta(seconds=60))
            times = [first]
            if len(tags) > 1 and rng.random() < 0.5:
                times.append(first + timedelta(seconds=rng.randint(20, 60)))
        for tag, at in zip(tags, times, strict=False):
            event = _event(
                CheckpointScanned,
                rng,
                ctx,
                at,
                ctx.actor(officer),
                zone_id=w.zone_id,
                checkpoint_tag=tag,
                method=ScanMethod.NFC if rng.random() < 0.9 else ScanMethod.QR,
            )
            parts.actions.append(Publish(at, event, settle_by=_utc(w.deadline)))


def _indices(
    rng: random.Random, windows: Sequence[Window], pool: Sequence[Window], count: int
) -> list[int]:
    chosen = rng.sample(list(pool), min(count, len(pool)))
    return sorted(windows.index(w) for w in chosen)


# --- visitors -----------------------------------------------------------------------------------

_VISITOR_TYPES = (
    [VisitorType.PARENT] * 8
    + [VisitorType.GUEST] * 4
    + [VisitorType.VOLUNTEER] * 3
    + [VisitorType.CONTRACTOR] * 3
    + [VisitorType.SUBSTITUTE] * 2
)
_DESTINATIONS = {
    VisitorType.PARENT: (
        (ZoneKind.OFFICE,),
        (ZoneKind.LIBRARY,),
        (ZoneKind.OFFICE, ZoneKind.LIBRARY),
    ),
    VisitorType.GUEST: ((ZoneKind.LIBRARY,), (ZoneKind.GYM,), (ZoneKind.OFFICE,)),
    VisitorType.VOLUNTEER: ((ZoneKind.LIBRARY,), (ZoneKind.CAFETERIA,)),
    VisitorType.CONTRACTOR: ((ZoneKind.GYM,), (ZoneKind.PARKING,), (ZoneKind.CAFETERIA,)),
    VisitorType.SUBSTITUTE: ((ZoneKind.HALLWAY, ZoneKind.HALLWAY),),
}
_EXPECTED_MINUTES = {
    VisitorType.PARENT: (20, 60),
    VisitorType.GUEST: (30, 90),
    VisitorType.VOLUNTEER: (60, 150),
    VisitorType.CONTRACTOR: (45, 180),
    VisitorType.SUBSTITUTE: (300, 420),
}
_ID_TYPES = [IdType.DRIVERS_LICENSE] * 6 + [IdType.STATE_ID] * 2 + [IdType.PASSPORT]


def _visitors(
    ctx: _Context,
    parts: _Parts,
    day: date,
    rng: random.Random,
    listed: people.ListedPerson | None,
) -> None:
    total = rng.randint(*VISITORS_PER_DAY)
    scenarios = ["overdue", "out_of_bounds"] + (["watchlist"] if listed else [])
    scenarios += ["normal"] * (total - len(scenarios))
    stories = [_visit(ctx, parts, day, rng, scenario, listed) for scenario in scenarios]
    for n, story in enumerate(sorted(stories, key=lambda s: s.signed_in_at), start=1):
        key = f"{day:%m%d}-v{n:02d}"
        parts.visits.append(replace(story, key=key))
    # Actions are made after the keys are known (sorted by sign-in time within the day).
    for story in parts.visits[-len(stories) :]:
        _visit_actions(ctx, parts, story, rng)


def _visit(
    ctx: _Context,
    parts: _Parts,
    day: date,
    rng: random.Random,
    scenario: str,
    listed: people.ListedPerson | None,
) -> VisitStory:
    school = ctx.school
    if scenario == "watchlist":
        vtype = rng.choice([VisitorType.PARENT, VisitorType.GUEST])
    elif scenario == "overdue":
        vtype = rng.choice([VisitorType.PARENT, VisitorType.CONTRACTOR])
    elif scenario == "out_of_bounds":
        vtype = rng.choice([VisitorType.PARENT, VisitorType.GUEST, VisitorType.VOLUNTEER])
    else:
        vtype = rng.choice(_VISITOR_TYPES)
    zones = _destination(ctx, rng, vtype)
    lo, hi = _EXPECTED_MINUTES[vtype]
    expected = rng.randrange(lo, hi + 1, 5)
    if vtype is VisitorType.SUBSTITUTE:
        signed_in = _between(rng, _local(ctx, day, 7, 20), _local(ctx, day, 7, 40))
    elif scenario == "overdue":
        expected = rng.randrange(20, 41, 5)
        signed_in = _between(rng, _local(ctx, day, 8, 0), _local(ctx, day, 9, 30))
    elif scenario == "out_of_bounds":
        signed_in = _between(rng, _local(ctx, day, 9, 0), _local(ctx, day, 11, 30))
    elif scenario == "watchlist":
        signed_in = _between(rng, _local(ctx, day, 8, 0), _local(ctx, day, 12, 0))
    else:
        signed_in = _between(rng, _local(ctx, day, 7, 30), _local(ctx, day, 14, 0))
    latest_end = _utc(_local(ctx, day, 15, 30))
    if signed_in + timedelta(minutes=expected) > latest_end:
        expected = max(15, int((latest_end - signed_in).total_seconds() // 60) // 5 * 5)
    if scenario == "watchlist":
        assert listed is not None
        first, last = listed.first_name, listed.last_name
    else:
        first, last = rng.choice(people.FIRST_NAMES), rng.choice(people.LAST_NAMES)
    if scenario == "overdue":
        grace = school.visitors.overdue_grace_minutes
        stay = timedelta(minutes=expected + grace + rng.randint(20, 40))
    else:
        stay = timedelta(minutes=max(10, int(expected * rng.uniform(0.5, 0.9))))
    signed_out = None if scenario == "watchlist" else signed_in + stay
    return VisitStory(
        key="",
        day=day,
        scenario=scenario,
        visitor_type=vtype,
        host_id=rng.choice(ctx.hosts[vtype.value]),
        destination_zones=tuple(zones),
        expected_minutes=expected,
        name=f"{first} {last}",
        request_id=_uuid(rng),
        signed_in_at=signed_in,
        signed_out_at=signed_out,
        watchlist_entry_id=listed.entry_id if scenario == "watchlist" and listed else None,
    )


def _destination(ctx: _Context, rng: random.Random, vtype: VisitorType) -> list[str]:
    kinds = rng.choice(_DESTINATIONS[vtype])
    chosen: list[str] = []
    for kind in kinds:
        options = [z for z in ctx.zones(kind) if z not in chosen]
        if options:
            chosen.append(rng.choice(options))
    return chosen or [ctx.school.zones[0].id]


def _visit_actions(ctx: _Context, parts: _Parts, story: VisitStory, rng: random.Random) -> None:
    school = ctx.school
    listed = story.watchlist_entry_id
    first, last = story.name.split(" ", 1)
    born = None
    if story.scenario == "watchlist":
        born = next((p.date_of_birth for p in ctx.watchlist if p.entry_id == listed), None)
    else:
        born = date(rng.randint(1955, 2002), rng.randint(1, 12), rng.randint(1, 28))
    request = SignIn(
        request_id=story.request_id,
        first_name=first,
        last_name=last,
        date_of_birth=born,
        visitor_type=story.visitor_type,
        id_type=rng.choice(_ID_TYPES),
        id_last4=f"{rng.randint(0, 9999):04d}",
        purpose=rng.choice(people.PURPOSES[story.visitor_type.value]),
        host_id=story.host_id,
        destination_zones=list(story.destination_zones),
        expected_minutes=story.expected_minutes,
        signed_in_by=ctx.front_office,
    )
    parts.actions.append(SignInVisitor(story.signed_in_at, story.key, request))
    if story.scenario == "watchlist":
        assert listed is not None
        at = story.signed_in_at + timedelta(minutes=rng.randint(3, 6))
        parts.actions.append(
            AnswerScreening(at, story.key, listed, ScreeningAnswer.YES, ctx.screener)
        )
        _replace_visit(parts, replace(story, screening_at=at))
        return
    assert story.signed_out_at is not None
    allowed = list(story.destination_zones) + [
        z for z in school.visitors.always_allowed_zones if z not in story.destination_zones
    ]
    lo = story.signed_in_at + timedelta(minutes=3)
    hi = story.signed_out_at - timedelta(minutes=3)
    sightings: list[SightingPlan] = []
    if story.scenario == "out_of_bounds":
        outside = [
            z for z in ctx.zones(ZoneKind.HALLWAY, ZoneKind.STAIRWELL) if z not in allowed
        ] or [z.id for z in school.zones if z.id not in allowed]
        at = _between(rng, lo + timedelta(minutes=5), hi)
        sightings.append(SightingPlan(at, rng.choice(outside), _uuid(rng), True))
    else:
        count = 1 if story.scenario == "overdue" else rng.choice([0, 0, 1, 1, 2])
        for _ in range(count if hi > lo else 0):
            sightings.append(
                SightingPlan(_between(rng, lo, hi), rng.choice(allowed), _uuid(rng), False)
            )
    for s in sorted(sightings, key=lambda s: s.at):
        officer = rng.choice(ctx.officers)
        parts.actions.append(
            SightVisitor(s.at, story.key, s.event_id, s.zone_id, officer.device_id)
        )
    overdue_at = None
    if story.scenario == "overdue":
        grace = timedelta(minutes=school.visitors.overdue_grace_minutes)
        overdue_at = story.signed_in_at + timedelta(minutes=story.expected_minutes) + grace
        parts.actions.append(
            TimerCheck(overdue_at + timedelta(minutes=1), f"visit {story.key} is overdue")
        )
    parts.actions.append(SignOutVisitor(story.signed_out_at, story.key, ctx.front_office))
    sightings.sort(key=lambda s: s.at)
    _replace_visit(parts, replace(story, sightings=tuple(sightings), overdue_at=overdue_at))


def _replace_visit(parts: _Parts, story: VisitStory) -> None:
    for i, v in enumerate(parts.visits):
        if v.key == story.key:
            parts.visits[i] = story
            return
