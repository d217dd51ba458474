"""The week's driver: moves the suite's clock through the plan, stops (and settles) at every
moment that matters, and injects the faults, writing each down as an `Outage` (the span of
simulated time in which a service handled nothing) for the oracle.

Faults:
- kill -9 with time flowing: the service stays down while the clock moves on `FLOW` (events
  are published meanwhile, its deadlines pass) and comes back at that moment, so its timers and
  its backlog meet; placed where the spec decides the outcome (see `patrol_kill_fits`; the
  oracle reports a tie it cannot decide);
- kill -9 with a restart at once (the visitors service: the front office waits on its replies);
- a nats-server restart;
- a database outage: the patrol and alerts SQLite files write-locked for longer than the busy
  timeout and the consumers' ack wait, across a concern's raise and resolve (simulated time
  flows, nothing settles until the lock is let go), so their writes take the transient path;
- poison messages.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time as wall
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lookout.contracts.patrol import (
    CheckpointScanned,
    ConcernRaised,
    ConcernResolved,
    DeviceHeartbeat,
)
from lookout.simulation.plan import Plan, Publish, TimerCheck, action_kind
from lookout.simulation.runner import ActionOutcome
from tests.e2e import lhs_policies as lhs
from tests.e2e.oracle import Outage, school_time
from tests.e2e.suite import Suite

FLOW = timedelta(minutes=4)  # simulated time that passes while a killed service is down
OUTAGE_WALL_SECONDS = 6.0  # > the busy timeout (2 s) and the consumers' ack wait (5 s)
LOCKED = ("patrol", "alerts")
HEARTBEAT_LIMIT = timedelta(minutes=lhs.HEARTBEAT_LIMIT_MINUTES)
# Actions the alerts service reacts to: let each land where it happened before time moves.
RELEVANT = ("concern.", "visitors.", "visitor.sighted")


def query(root: Path, service: str, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{root / f'{service}.db'}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def stored_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T") + "+00:00")


TIMER_SQL = {
    "alerts": (
        "SELECT next_step_at FROM alerts WHERE next_step_at IS NOT NULL",
        "SELECT auto_resolve_at FROM alerts WHERE auto_resolve_at IS NOT NULL"
        " AND resolved_at IS NULL",
    ),
    "visitors": (
        "SELECT overdue_at FROM visits WHERE status = 'on_site' AND overdue_at IS NOT NULL"
        " AND overdue_reported_at IS NULL",
        "SELECT auto_checkout_at FROM visits WHERE status = 'on_site'"
        " AND auto_checkout_at IS NOT NULL",
    ),
}


def timer_deadlines(
    root: Path, services: tuple[str, ...] = ("alerts", "visitors")
) -> list[datetime]:
    """Deadlines the services hold as rows that the plan does not know of: escalation steps,
    check_missed alerts resolving at the end of the day, visits turning overdue, end-of-day
    checkouts."""
    found: set[datetime] = set()
    for service in services:
        for sql in TIMER_SQL[service]:
            try:
                found |= {stored_time(r[0]) for r in query(root, service, sql)}
            except sqlite3.OperationalError:  # not created or migrated yet (or no such column)
                continue
    return sorted(found)


# --- where the faults fit (from the plan) --------------------------------------------------------


def _heartbeats(plan: Plan) -> list[datetime]:
    return [
        a.at
        for a in plan.actions
        if isinstance(a, Publish) and isinstance(a.event, DeviceHeartbeat)
    ]


def _no_silence(beats: list[datetime], since: datetime, until: datetime) -> bool:
    """The last heartbeat applied by `since` keeps the phone alive through `until`: the patrol
    service cannot judge it silent while newer heartbeats wait for it."""
    before = [b for b in beats if b <= since]
    return bool(before) and before[-1] + HEARTBEAT_LIMIT > until


def patrol_kill_fits(plan: Plan, index: int) -> bool:
    """Down from this action's moment K to K + FLOW: a missed window's deadline passes while it is
    down (reported when it is back), no window it must judge has its scan waiting in the backlog
    (that scan and that deadline would meet: a race the spec does not decide), no heartbeat
    silence passes."""
    actions = plan.actions
    k = actions[index].at
    r = k + FLOW
    if index + 1 >= len(actions) or actions[index + 1].at <= k:
        return False
    if not _no_silence(_heartbeats(plan), k, r):
        return False
    crossed = [w for w in plan.windows if k < w.window.deadline <= r]
    if not any(w.expected == "missed" for w in crossed):
        return False
    for w in crossed:
        for a in actions:
            if (
                isinstance(a, Publish)
                and isinstance(a.event, CheckpointScanned)
                and a.event.zone_id == w.window.zone_id
                and w.window.start <= a.event.occurred_at <= w.window.deadline
                and a.at > k
            ):
                return False
    return True


@dataclass(frozen=True)
class LockSpan:
    before: int  # the action after which the locks are taken
    last: int  # the action (a concern's resolve) after which they are let go


def lock_spans(plan: Plan) -> list[LockSpan]:
    """Concerns raised and resolved with no window deadline, visit timer or heartbeat silence
    between: the outage can span both without a deadline passing unjudged."""
    actions = plan.actions
    beats = _heartbeats(plan)
    spans = []
    for i, a in enumerate(actions):
        if not (isinstance(a, Publish) and isinstance(a.event, ConcernRaised)) or i == 0:
            continue
        ends = [
            j
            for j, b in enumerate(actions)
            if isinstance(b, Publish)
            and isinstance(b.event, ConcernResolved)
            and b.event.concern_id == a.event.concern_id
        ]
        if not ends:
            continue
        start, end = actions[i - 1].at, actions[ends[0]].at
        if start >= a.at:
            continue
        if any(start < w.window.deadline <= end for w in plan.windows):
            continue
        if any(isinstance(b, TimerCheck) for b in actions[i : ends[0] + 1]):
            continue
        if _no_silence(beats, start, end):
            spans.append(LockSpan(i - 1, ends[0]))
    return spans


def day_moments(plan: Plan) -> list[datetime]:
    """First and last bell of each school day (silences reported at the first bell, missed-check
    alerts resolving at the last) and each missed window's deadline."""
    moments: set[datetime] = {w.window.deadline for w in plan.windows if w.expected == "missed"}
    for day in plan.school_days:
        moments |= {school_time(day, lhs.FIRST_BELL), school_time(day, lhs.LAST_BELL)}
    return sorted(moments)


# --- the driver --------------------------------------------------------------------------------


@dataclass
class Faults:
    """Action indices: kills restarted at once, kills with time flowing, the nats restart, the
    poison, the outage; `alerts_from`/`alerts_until`: where the alerts kill may go (it waits for
    an escalation deadline within FLOW of the moment)."""

    restart_at_once: dict[int, str]
    flowing: dict[int, str]
    alerts_from: int
    alerts_until: int
    nats_at: int
    poison_at: int
    lock: LockSpan


@dataclass
class Driver:
    suite: Suite
    plan: Plan
    faults: Faults
    poison: list[tuple[str, bytes, tuple[str, ...]]]
    outages: list[Outage] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    restarts: dict[str, datetime] = field(default_factory=dict)
    dirty: bool = False
    locked: bool = False
    _release: threading.Event = field(default_factory=threading.Event)
    _holder: asyncio.Future[None] | None = None
    _stops: list[datetime] = field(default_factory=list)
    settled: list[tuple[str, float]] = field(default_factory=list)  # (clock, wall seconds)

    def __post_init__(self) -> None:
        self._stops = day_moments(self.plan)

    @property
    def root(self) -> Path:
        return self.suite.root

    async def settle(self) -> None:
        if self.locked:
            return  # nothing settles during the outage: events keep flowing in
        began = wall.monotonic()
        await self.suite.quiet(within=90)
        self.settled.append((self.suite.now.isoformat(), wall.monotonic() - began))

    async def before_move(self, target: datetime) -> None:
        """Stop (and settle) at every deadline, day moment and restart up to `target`; settle
        first where the clock stands, so what was just published lands before time passes a
        deadline."""
        if self.locked:
            return  # the span was chosen with nothing due inside it (checked when it began)
        settled = False
        if self.dirty:
            self.dirty = False
            await self.settle()
            settled = True
        while True:
            now = self.suite.now
            # A deadline at the very moment of the next action is met first: the action's event
            # comes after it (a scan at a window's deadline was judged in time, see `settle_by`).
            due = [d for d in (*timer_deadlines(self.root), *self._stops) if now < d <= target]
            due += [t for t in self.restarts.values() if now < t <= target]
            if not due:
                return
            if not settled:
                await self.settle()
                settled = True
                continue  # settling may have opened alerts with earlier deadlines
            moment = min(due)
            self.suite.set_clock(moment)
            for name, at in list(self.restarts.items()):
                if at == moment:
                    del self.restarts[name]
                    self.suite.restart(name)
            await self.settle()

    async def on_action(self, outcome: ActionOutcome) -> None:
        index, f = outcome.index, self.faults
        if action_kind(outcome.action).startswith(RELEVANT):
            self.dirty = True
        if index == f.lock.before:
            await self._lock()
        if index == f.lock.last and self.locked:
            await self._unlock()
        if index in f.restart_at_once:
            await self.settle()
            name = f.restart_at_once[index]
            self.suite.kill(name)
            self.suite.restart(name)
            self.done.append(f"kill {name} at {index}, restarted at once")
            await self.settle()  # simulated time stands still while it restarts
        if index in f.flowing:
            await self._kill_for_a_while(f.flowing[index], index)
        if f.alerts_from <= index < f.alerts_until and not self._killed("alerts"):
            await self._maybe_kill_alerts(index)
        if index == f.nats_at:
            await self.settle()
            self.suite.restart_nats()
            self.done.append(f"nats restart at {index}")
            await self.settle()
        if index == f.poison_at:
            for subject, body, _ in self.poison:
                await self.suite.js.publish(subject, body)

    def _killed(self, name: str) -> bool:
        return any(k == name for k, _ in self.suite.kills)

    async def _kill_for_a_while(self, name: str, index: int) -> None:
        await self.settle()  # everything up to this moment is applied before it dies
        now = self.suite.now
        self.suite.kill(name)
        self.restarts[name] = now + FLOW
        self.outages.append(Outage(name, now, now + FLOW, f"killed at action {index}"))
        self.done.append(f"kill {name} at {index}, back {FLOW} later")

    async def _maybe_kill_alerts(self, index: int) -> None:
        """Kill the alerts service where one of its escalation deadlines falls within FLOW (it
        fires late, when the service is back), with no other action at this moment."""
        actions = self.plan.actions
        now = self.suite.now
        if index + 1 >= len(actions) or actions[index + 1].at <= now:
            return
        if self.restarts or self.locked:
            return
        await self.settle()
        steps = query(
            self.root, "alerts", "SELECT next_step_at FROM alerts WHERE next_step_at IS NOT NULL"
        )
        if any(now < stored_time(r[0]) <= now + FLOW for r in steps):
            await self._kill_for_a_while("alerts", index)

    async def _lock(self) -> None:
        span = self.faults.lock
        start, end = self.plan.actions[span.before].at, self.plan.actions[span.last].at
        await self.settle()
        due = [d for d in timer_deadlines(self.root) if start < d <= end]
        if due or self.restarts:
            pytest.fail(f"the database outage {start}..{end} would pass deadlines {due}")
        acquired = threading.Event()

        def hold() -> None:
            with self.suite.database_locked(*LOCKED):
                acquired.set()
                began = wall.monotonic()
                self._release.wait()  # the span's last action is done
                # …and the outage lasts this long in wall time, whatever the clock does.
                threading.Event().wait(max(0.0, OUTAGE_WALL_SECONDS - (wall.monotonic() - began)))

        self._holder = asyncio.ensure_future(asyncio.to_thread(hold))
        await asyncio.to_thread(acquired.wait, 30)
        assert acquired.is_set(), "could not lock the databases"
        self.locked = True
        for name in LOCKED:
            self.outages.append(Outage(name, start, end, "database locked"))
        self.done.append(f"databases {','.join(LOCKED)} locked {span.before}..{span.last}")

    async def _unlock(self) -> None:
        self._release.set()
        assert self._holder is not None
        await self._holder
        self.locked = False
        await self.settle()

    async def finish(self) -> None:
        if self._holder is not None and self.locked:
            await self._unlock()


def plan_faults(plan: Plan, rng: Any, services: tuple[str, ...]) -> Faults:
    """Seeded fault moments spread over the week (sixths), each moved on to where it fits."""
    actions = len(plan.actions)
    spans = lock_spans(plan)
    assert spans, "no concern raised and resolved with nothing due between: no outage place"
    lock = spans[0]
    busy = set(range(lock.before, lock.last + 1))

    def region(i: int) -> tuple[int, int]:
        return actions * i // 6 + 1, actions * (i + 1) // 6

    picks = {name: rng.randrange(*region(i)) for i, name in enumerate(services)}
    patrol = next(
        i for i in range(picks["patrol"], actions) if i not in busy and patrol_kill_fits(plan, i)
    )
    reports = next(
        i
        for i in range(picks["reports"], actions)
        if i not in busy and plan.actions[i + 1].at > plan.actions[i].at
    )
    alerts_from, alerts_until = picks["alerts"], region(2)[1]
    nats_at = rng.randrange(*region(4))
    poison_at = rng.randrange(10, actions // 6)
    while poison_at in busy:
        poison_at += 1
    return Faults(
        restart_at_once={picks["visitors"]: "visitors"},
        flowing={patrol: "patrol", reports: "reports"},
        alerts_from=alerts_from,
        alerts_until=alerts_until,
        nats_at=nats_at,
        poison_at=poison_at,
        lock=lock,
    )
