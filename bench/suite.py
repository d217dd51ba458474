"""Whole-suite benchmark: the four services as separate processes on one embedded nats-server,
each figure next to a raw nats-py baseline measured in the same run on the same server.

    .venv/bin/python bench/suite.py [--seed 7] [--weeks 1] [--db URL]

What runs: `lookout.local.suite` (what `lookout up` runs): an embedded nats-server, the local
SMTP sink and patrol, visitors, alerts and reports, each its own process, SQLite files in a
temporary data dir (or, with `--db`, a scratch database created on that PostgreSQL server and
dropped at the end). The services run on the real clock with a copy of the example school in
which everyone is on duty every day, so the alerts path is the same at any hour.

1. Baseline (once every service is up and idle): the simulator plan's own event bodies, each
   with `Nats-Msg-Id`, repeated to `--raw-events` messages (copies get `<event_id>/<n>` ids), are
   published with nats-py to a scratch stream one at a time (each PubAck awaited, as the
   simulator publishes), then drained by a durable pull consumer with fetch(500)+ack; then the
   stream is purged and they are published again pipelined (publish_async).
2. Whole suite: the simulator's school week(s) (`build_plan` of the example school, seed
   `--seed`, weeks from Mon 30 Nov 2026, `run_simulation(pace="asap")`: events and front-office
   commands as fast as it can). Timed from just before the simulator connects until every durable
   consumer of every service shows num_pending == 0 and num_ack_pending == 0 and every service's
   outbox has no unsent row, twice in a row with no stream moving in between (the time of the
   first of the two is used). events/s = events the simulator published / that time. Per service:
   CPU seconds used during the phase (/proc utime+stime) and peak RSS (VmHWM). The simulator
   awaits each PubAck and each front-office reply in turn, so this rate is bounded by its round
   trips; the time it spent in publishes and in commands is reported.
2b. Capacity: `--raw-events` of the plan's events (re-stamped as in 3, no commands) published
   pipelined, timed from the first publish until quiet as in 2: how fast the suite drains a
   backlog when the publisher is not the limit; compared with the raw fetch+ack of 1.
3. Latency under load: a background publisher replays the plan's events re-stamped to now, with
   fresh event ids (and fresh concern ids, kept consistent between a raise and its resolve), at
   `--background` events/s; meanwhile critical concerns at ~20/s are timed from just before
   their JetStream publish to receipt of `alert.lhs.notify.principal-okafor` (as
   bench/alerts_latency.py, but with all four services running). Baselines in the same seconds,
   ~20/s each, against a raw nats-py process (no Lookout code): a core request-reply to an echo
   responder, and the same path shape as the alert (JetStream publish -> pull consumer fetch+ack
   -> JetStream publish -> core subscriber). The alerts database then splits each measured
   alert's time: publish -> the alert's opened_at, and opened_at -> the notify outbox row's
   sent_at.

Not a timed assertion: it prints figures. See docs/benchmarks.md "Whole suite".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nats
import yaml
from ingest import cpu_seconds, peak_rss_mib
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import STREAMS, subject_of
from lookout.deploy.nats import SERVICE_CONSUMERS, durable
from lookout.kernel.clock import SystemClock
from lookout.kernel.queries import OPERATOR, query_subject
from lookout.kernel.settings import EXAMPLE_SCHOOL, SERVICES, Settings, load_school
from lookout.local.runtime import _detach_from_terminal
from lookout.local.suite import LocalSuite, local_suite
from lookout.school.config import Weekday
from lookout.simulation.people import read_watchlist, watchlist_path
from lookout.simulation.plan import Plan, Publish, SightVisitor, build_plan
from lookout.simulation.runner import ActionOutcome, run_simulation
from services.alerts import domain

FIRST_MONDAY = date(2026, 11, 30)
BENCH_PATROL_SEED = "bench-suite-secret"  # the deployment's secret, shared by the plan and patrol
NOTIFY_SUBJECT = "alert.lhs.notify.principal-okafor"
ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
BATCH = 500
DURABLES: dict[str, list[str]] = {}
for _service in SERVICES:
    for _stream, _consumer in SERVICE_CONSUMERS[_service]:
        DURABLES.setdefault(_stream, []).append(durable(_service, _consumer))

# The raw baseline of phase 3: nats-py only, its own process like a service. It answers core
# requests on bench.echo and relays benchin.* -> benchout.* through a durable pull consumer
# (fetch, ack, then JetStream publish of the batch with the PubAcks awaited together).
RAW_RELAY = """
import asyncio, sys
import nats

async def main(url):
    nc = await nats.connect(url)
    js = nc.jetstream()

    async def echo(msg):
        await msg.respond(msg.data)

    await nc.subscribe("bench.echo", cb=echo)
    sub = await js.pull_subscribe("benchin.>", durable="bench-relay", stream="BENCHIN")
    while True:
        try:
            msgs = await sub.fetch(500, timeout=5)
        except TimeoutError:
            continue
        for m in msgs:
            await m.ack()
        await asyncio.gather(
            *(js.publish("benchout." + m.subject.split(".", 1)[1], m.data) for m in msgs)
        )

asyncio.run(main(sys.argv[1]))
"""


def load1() -> float:
    return os.getloadavg()[0]


def loads() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def say(message: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {message}", flush=True)


def quantiles(values: Sequence[float]) -> tuple[float, float, float]:
    """p50, p99, max in milliseconds."""
    if len(values) < 2:
        v = values[0] * 1000 if values else float("nan")
        return v, v, v
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000, max(values) * 1000


# --- the suite's state from outside -------------------------------------------------------------


def _utc(value: Any) -> datetime:
    """A timestamp as the services store it (SQLite: naive UTC text; PostgreSQL: aware)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class Outboxes:
    """Unsent outbox rows (and stored scans) per service, read from the services' databases."""

    def __init__(self, data_dir: Path, pg_url: str | None) -> None:
        self.data_dir = data_dir
        self.pg_dsn = pg_url.replace("postgresql+asyncpg://", "postgresql://", 1) if pg_url else ""
        self._sqlite: dict[str, sqlite3.Connection] = {}
        self._pg: Any = None

    async def _rows(self, service: str, sql: str) -> list[tuple[Any, ...]]:
        if self.pg_dsn:
            if self._pg is None:
                import asyncpg

                self._pg = await asyncpg.connect(self.pg_dsn)
            return [tuple(r) for r in await self._pg.fetch(sql)]
        conn = self._sqlite.get(service)
        if conn is None:
            path = self.data_dir / f"{service}.db"
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            self._sqlite[service] = conn
        return conn.execute(sql).fetchall()

    async def _query(self, service: str, sql: str) -> int:
        return int((await self._rows(service, sql))[0][0])

    async def notify_times(self) -> dict[str, tuple[datetime, datetime | None]]:
        """alert id -> (alert opened_at, its principal notify row's sent_at), from alerts' db."""
        opened = {
            str(a): _utc(o)
            for a, o in await self._rows("alerts", "SELECT alert_id, opened_at FROM alerts")
        }
        sql = f"SELECT payload, sent_at FROM alerts_outbox WHERE subject = '{NOTIFY_SUBJECT}'"
        out = {}
        for payload, sent in await self._rows("alerts", sql):
            alert_id = json.loads(bytes(payload))["alert_id"]
            if alert_id in opened:
                out[alert_id] = (opened[alert_id], _utc(sent) if sent else None)
        return out

    async def unsent(self) -> dict[str, int]:
        sql = "SELECT count(*) FROM {}_outbox WHERE sent_at IS NULL"
        return {s: await self._query(s, sql.format(s)) for s in SERVICES}

    async def scans(self) -> int:
        return await self._query("patrol", "SELECT count(*) FROM checkpoint_scans")

    async def close(self) -> None:
        for conn in self._sqlite.values():
            conn.close()
        if self._pg is not None:
            await self._pg.close()


async def consumer_backlog(js: JetStreamContext) -> dict[str, tuple[int, int]] | None:
    """(num_pending, num_ack_pending) of every service durable; None while one is missing."""
    listed = await asyncio.gather(*(js.consumers_info(s) for s in DURABLES))
    out: dict[str, tuple[int, int]] = {}
    for stream, consumers in zip(DURABLES, listed, strict=True):
        found = {c.name: c for c in consumers}
        for name in DURABLES[stream]:
            info = found.get(name)
            if info is None:
                return None
            out[name] = (info.num_pending, info.num_ack_pending)
    return out


async def stream_seqs(js: JetStreamContext) -> dict[str, int]:
    infos = await asyncio.gather(*(js.stream_info(s) for s in STREAMS))
    return {s: i.state.last_seq for s, i in zip(STREAMS, infos, strict=True)}


async def wait_quiet(
    js: JetStreamContext, outboxes: Outboxes, suite: LocalSuite, within: float
) -> tuple[float, str]:
    """perf_counter time at which the suite was first seen quiet (confirmed by the next look),
    and what was still busy at the last look before that."""
    deadline = time.perf_counter() + within
    previous: tuple[float, dict[str, int]] | None = None
    why = ""
    while time.perf_counter() < deadline:
        suite.check(say)
        seen = time.perf_counter()
        try:
            unsent = await outboxes.unsent()
        except Exception as exc:  # a database not migrated yet
            unsent = {"?": 1}
            why = f"outbox: {type(exc).__name__}"
        backlog = await consumer_backlog(js)
        seqs = await stream_seqs(js)
        busy = [f"{s} outbox {n}" for s, n in unsent.items() if n]
        if backlog is None:
            busy.append("a durable is missing")
        else:
            busy += [f"{d} {p}/{a}" for d, (p, a) in backlog.items() if p or a]
        if busy:
            why, previous = ", ".join(busy), None
        elif previous is not None and previous[1] == seqs:
            return previous[0], why
        else:
            previous = (seen, seqs)
        await asyncio.sleep(0.02)  # polling outside state: nothing to await instead
    raise RuntimeError(f"the suite was not quiet after {within:.0f}s: {why or 'streams moving'}")


async def wait_ready(nc: nats.NATS, js: JetStreamContext, suite: LocalSuite) -> float:
    """Until every service durable exists and the visitors service answers a query."""
    started = time.perf_counter()
    while time.perf_counter() - started < 120:
        suite.check(say)
        with contextlib.suppress(Exception):
            if await consumer_backlog(js) is not None:
                await nc.request(
                    query_subject("lhs", "visitors", "roster", OPERATOR), b"{}", timeout=1
                )
                return time.perf_counter() - started
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the services were not up after 120 s; logs in {suite.log_dir}")


@dataclass
class Cpu:
    """CPU seconds of the service processes, the nats-server and this process."""

    pids: dict[str, int]
    at: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0

    @classmethod
    def take(cls, pids: dict[str, int]) -> Cpu:
        snap = cls(pids, wall=time.perf_counter())
        for name, pid in pids.items():
            try:
                snap.at[name] = time.process_time() if pid == os.getpid() else cpu_seconds(pid)
            except OSError:  # it exited (a restart is reported)
                snap.at[name] = float("nan")
        return snap

    def since(self, before: Cpu) -> dict[str, float]:
        """CPU seconds per process, and under "wall" the seconds between the two snapshots."""
        used = {n: self.at[n] - before.at[n] for n in self.at}
        used["wall"] = self.wall - before.wall
        return used


def pids_of(suite: LocalSuite) -> dict[str, int]:
    pids = {c.name: c.proc.pid for c in suite.supervisor.children if c.proc is not None}
    if suite.embedded is not None and suite.embedded.proc is not None:
        pids["nats-server"] = suite.embedded.proc.pid
    pids["bench (simulator, publishers)"] = os.getpid()
    return pids


# --- phase 1: raw nats-py -----------------------------------------------------------------------


@dataclass
class Raw:
    n: int
    publish_one_by_one: float  # seconds
    fetch_ack: float
    publish_pipelined: float
    load: str


def raw_messages(plans: Sequence[Plan], n: int) -> list[tuple[str, bytes, str]]:
    """(subject, body, msg id): the plans' events, repeated to n (copies get `<id>/<k>`)."""
    base = [
        ("bench." + subject_of(a.event), a.event.model_dump_json().encode(), str(a.event.event_id))
        for plan in plans
        for a in plan.actions
        if isinstance(a, Publish)
    ]
    out = []
    for i in range(max(n, len(base))):
        subject, body, msg_id = base[i % len(base)]
        copy = i // len(base)
        out.append((subject, body, f"{msg_id}/{copy}" if copy else msg_id))
    return out


async def raw_phase(nc: nats.NATS, js: JetStreamContext, msgs: list[tuple[str, bytes, str]]) -> Raw:
    load = f"{load1():.2f}"
    config = StreamConfig(name="BENCH", subjects=["bench.>"], storage=StorageType.FILE)
    await js.add_stream(config)
    try:
        start = time.perf_counter()
        for subject, body, msg_id in msgs:
            await js.publish(subject, body, headers={"Nats-Msg-Id": msg_id})
        one_by_one = time.perf_counter() - start

        await js.add_consumer(
            "BENCH",
            ConsumerConfig(
                durable_name="bench-raw",
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=30,
                max_ack_pending=max(1000, BATCH * 4),  # as the Lookout consumers
            ),
        )
        sub = await js.pull_subscribe_bind("bench-raw", stream="BENCH")
        done = 0
        start = time.perf_counter()
        while done < len(msgs):
            batch = await sub.fetch(BATCH, timeout=5)
            for m in batch:
                await m.ack()
            done += len(batch)
        await nc.flush()
        fetch_ack = time.perf_counter() - start
        await sub.unsubscribe()

        await js.purge_stream("BENCH")
        start = time.perf_counter()
        futures = [
            await js.publish_async(s, b, headers={"Nats-Msg-Id": f"p/{i}"})
            for i, (s, b, _) in enumerate(msgs)
        ]
        await asyncio.gather(*futures)
        pipelined = time.perf_counter() - start
    finally:
        await js.delete_stream("BENCH")
    return Raw(len(msgs), one_by_one, fetch_ack, pipelined, f"{load}/{load1():.2f}")


# --- phase 2: the simulator's week through the suite --------------------------------------------


@dataclass
class Drained:
    """A phase, from its start until the suite was quiet again."""

    seconds: float
    grown: int  # messages added to Lookout's streams, the phase's own included
    dead_letters: int
    scans_stored: int
    cpu: dict[str, float]
    load: str  # 1-min load at the start / at the end
    last_busy: str


@dataclass
class DrainClock:
    """Started before a phase publishes; `drained()` waits for quiet and measures."""

    js: JetStreamContext
    outboxes: Outboxes
    suite: LocalSuite
    load: str
    seqs: dict[str, int]
    scans: int
    pids: dict[str, int]
    cpu: Cpu
    t0: float

    @classmethod
    async def start(cls, js: JetStreamContext, outboxes: Outboxes, suite: LocalSuite) -> DrainClock:
        load = f"{load1():.2f}"
        seqs, scans, pids = await stream_seqs(js), await outboxes.scans(), pids_of(suite)
        return cls(
            js, outboxes, suite, load, seqs, scans, pids, Cpu.take(pids), time.perf_counter()
        )

    async def drained(self) -> Drained:
        t_quiet, last_busy = await wait_quiet(self.js, self.outboxes, self.suite, within=300)
        cpu = Cpu.take(self.pids)
        seqs = await stream_seqs(self.js)
        return Drained(
            seconds=t_quiet - self.t0,
            grown=sum(seqs[s] - self.seqs[s] for s in STREAMS),
            dead_letters=seqs["DLQ"] - self.seqs["DLQ"],
            scans_stored=await self.outboxes.scans() - self.scans,
            cpu=cpu.since(self.cpu),
            load=f"{self.load}/{load1():.2f}",
            last_busy=last_busy,
        )


@dataclass
class Week:
    events: int
    duplicates: int
    commands: int
    failed: int
    seconds: float
    publishing: float  # until the simulator's last action
    in_publish: float  # time spent in event publishes (sum of gaps before each)
    in_commands: float  # time spent in front-office requests
    emitted: int  # stream growth beyond the simulator's events: what the services published
    dead_letters: int
    scans_stored: int
    scans_planned: int
    cpu: dict[str, float]
    load: str
    last_busy: str

    @property
    def rate(self) -> float:
        return self.events / self.seconds


async def week_phase(
    js: JetStreamContext,
    settings: Settings,
    plans: Sequence[Plan],
    suite: LocalSuite,
    outboxes: Outboxes,
) -> Week:
    stamps: list[tuple[float, str, bool]] = []

    def on_action(outcome: ActionOutcome) -> None:
        kind = "event" if isinstance(outcome.action, Publish | SightVisitor) else "command"
        stamps.append((time.perf_counter(), kind, outcome.ok))

    clock = await DrainClock.start(js, outboxes, suite)
    t0 = clock.t0
    events = duplicates = 0
    for plan in plans:
        truth = await run_simulation(settings, plan, SystemClock(), None, on_action, pace="asap")
        events += sum(1 for e in truth["events"] if not e["duplicate"])
        duplicates += sum(1 for e in truth["events"] if e["duplicate"])
    t_published = time.perf_counter()
    drained = await clock.drained()

    spent = {"event": 0.0, "command": 0.0}
    previous = t0
    for at, kind, _ok in stamps:
        spent[kind] += at - previous
        previous = at
    planned_scans = sum(
        1
        for plan in plans
        for a in plan.actions
        if isinstance(a, Publish) and a.event.type == "checkpoint.scanned"
    )
    return Week(
        events=events,
        duplicates=duplicates,
        commands=sum(1 for _, kind, _ in stamps if kind == "command"),
        failed=sum(1 for *_, ok in stamps if not ok),
        seconds=drained.seconds,
        publishing=t_published - t0,
        in_publish=spent["event"],
        in_commands=spent["command"],
        emitted=drained.grown - events,
        dead_letters=drained.dead_letters,
        scans_stored=drained.scans_stored,
        scans_planned=planned_scans,
        cpu=drained.cpu,
        load=drained.load,
        last_busy=drained.last_busy,
    )


# --- phase 2b: the suite's capacity ----------------------------------------------------------


@dataclass
class Capacity:
    events: int
    publishing: float
    seconds: float
    emitted: int
    dead_letters: int
    scans_stored: int
    scans_sent: int
    cpu: dict[str, float]
    load: str
    last_busy: str

    @property
    def rate(self) -> float:
        return self.events / self.seconds


async def capacity_phase(
    js: JetStreamContext, plans: Sequence[Plan], suite: LocalSuite, outboxes: Outboxes, n: int
) -> Capacity:
    """The plan's events (re-stamped, fresh ids) published pipelined, no commands: how fast the
    suite drains a backlog when the publisher is not the limit."""
    templates = [a.event for plan in plans for a in plan.actions if isinstance(a, Publish)]
    next_event = restamped(templates)
    events = [next_event() for _ in range(n)]
    msgs = [(subject_of(e), e.model_dump_json().encode(), str(e.event_id)) for e in events]
    scans_sent = sum(1 for e in events if e.type == "checkpoint.scanned")
    clock = await DrainClock.start(js, outboxes, suite)
    futures = [await js.publish_async(s, b, headers={"Nats-Msg-Id": i}) for s, b, i in msgs]
    await asyncio.gather(*futures)
    t_published = time.perf_counter()
    drained = await clock.drained()
    return Capacity(
        events=n,
        publishing=t_published - clock.t0,
        seconds=drained.seconds,
        emitted=drained.grown - n,
        dead_letters=drained.dead_letters,
        scans_stored=drained.scans_stored,
        scans_sent=scans_sent,
        cpu=drained.cpu,
        load=drained.load,
        last_busy=drained.last_busy,
    )


# --- phase 3: latency under background load -----------------------------------------------------


@dataclass
class Latency:
    seconds: float
    background_rate: float
    concern: list[float]
    concern_missing: int
    relay: list[float]
    relay_missing: int
    echo: list[float]
    max_backlog: int
    backlog_by_durable: dict[str, int]
    to_opened: list[float]  # publish -> the alert row's opened_at (queue, fetch, apply starts)
    to_sent: list[float]  # opened_at -> the notify outbox row's sent_at (commit, relay, PubAck)
    failed_acks: int
    cpu: dict[str, float]
    load: str


def restamped(templates: Sequence[Event]) -> Callable[[], Event]:
    """The next background event: a plan event with a fresh id and occurred_at = now; concern
    ids are replaced per pass over the plan, the same new id for a raise and its resolve."""
    state = {"i": 0, "concerns": {}}

    def next_event() -> Event:
        i = state["i"]
        if i % len(templates) == 0:
            state["concerns"] = {}
        state["i"] = i + 1
        event = templates[i % len(templates)]
        update: dict[str, Any] = {"event_id": uuid.uuid4(), "occurred_at": datetime.now(UTC)}
        old = getattr(event, "concern_id", None)
        if old is not None:
            update["concern_id"] = state["concerns"].setdefault(old, uuid.uuid4())
        return event.model_copy(update=update)

    return next_event


async def latency_phase(
    nc: nats.NATS,
    js: JetStreamContext,
    plans: Sequence[Plan],
    suite: LocalSuite,
    args: argparse.Namespace,
    work: Path,
    outboxes: Outboxes,
) -> Latency:
    for name in ("BENCHIN", "BENCHOUT"):
        await js.add_stream(
            StreamConfig(name=name, subjects=[f"{name.lower()}.>"], storage=StorageType.FILE)
        )
    log_fd = os.open(work / "raw-relay.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    relay = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RAW_RELAY, suite.url, stdout=log_fd, stderr=log_fd,
        preexec_fn=_detach_from_terminal,  # own session; SIGTERM if this process dies
    )  # fmt: skip
    os.close(log_fd)
    try:
        for _ in range(200):
            try:
                await js.consumer_info("BENCHIN", "bench-relay")
                await nc.request("bench.echo", b"ping", timeout=1)
                break
            except Exception:
                await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"the raw relay did not start; see {work / 'raw-relay.log'}")
        return await _measure(nc, js, plans, suite, args, outboxes)
    finally:
        if relay.returncode is None:
            relay.terminate()
            try:
                await asyncio.wait_for(relay.wait(), 5)
            except TimeoutError:
                relay.kill()
                await relay.wait()
        for name in ("BENCHIN", "BENCHOUT"):
            with contextlib.suppress(Exception):
                await js.delete_stream(name)


async def _measure(
    nc: nats.NATS,
    js: JetStreamContext,
    plans: Sequence[Plan],
    suite: LocalSuite,
    args: argparse.Namespace,
    outboxes: Outboxes,
) -> Latency:
    templates = [a.event for plan in plans for a in plan.actions if isinstance(a, Publish)]
    next_event = restamped(templates)
    concern_sent: dict[str, float] = {}
    concern_wall: dict[str, datetime] = {}
    relay_sent: dict[str, float] = {}
    concern_lat: list[float] = []
    relay_lat: list[float] = []
    echo_lat: list[float] = []
    background = 0
    max_backlog = 0
    worst: dict[str, int] = {}

    async def notified(msg: Any) -> None:
        started = concern_sent.pop(json.loads(msg.data).get("alert_id", ""), None)
        if started is not None:
            concern_lat.append(time.perf_counter() - started)

    async def relayed(msg: Any) -> None:
        started = relay_sent.pop(msg.data.decode(), None)
        if started is not None:
            relay_lat.append(time.perf_counter() - started)

    await nc.subscribe(NOTIFY_SUBJECT, cb=notified)
    await nc.subscribe("benchout.>", cb=relayed)

    async def publish(event: Event) -> None:
        body = event.model_dump_json().encode()
        await js.publish(subject_of(event), body, headers={"Nats-Msg-Id": str(event.event_id)})

    acks: list[asyncio.Future[Any]] = []
    # Every loop checks this flag as well as being cancelled: Python 3.11's wait_for (inside
    # nats-py's request) can swallow a cancel that lands as its wait ends.
    stop = asyncio.Event()

    async def noise() -> None:
        """Paced by the wall clock, PubAcks not awaited one by one (so a slow ack does not
        slow the offered load); every ack is checked at the end."""
        nonlocal background
        started = time.perf_counter()
        while not stop.is_set():  # every 10 ms, what is due by now
            due = int((time.perf_counter() - started) * args.background)
            for _ in range(due - background):
                event = next_event()
                body = event.model_dump_json().encode()
                headers = {"Nats-Msg-Id": str(event.event_id)}
                acks.append(await js.publish_async(subject_of(event), body, headers=headers))
                background += 1
            await asyncio.sleep(0.01)

    async def concerns() -> None:
        while not stop.is_set():
            event = ConcernRaised.new(
                school_id="lhs", occurred_at=datetime.now(UTC), actor=ACTOR,
                concern_id=uuid.uuid4(), category="weapon", severity="critical",
                zone_id="gym", student_refs=["S-1001"],
            )  # fmt: skip
            alert_id = str(domain.alert_id_for(event.event_id))
            concern_wall[alert_id] = datetime.now(UTC)
            concern_sent[alert_id] = time.perf_counter()
            await publish(event)
            await asyncio.sleep(0.05)

    async def relay_probes() -> None:
        i = 0
        while not stop.is_set():
            key = f"probe-{i}"
            relay_sent[key] = time.perf_counter()
            await js.publish("benchin.probe", key.encode(), headers={"Nats-Msg-Id": key})
            i += 1
            await asyncio.sleep(0.05)

    async def echoes() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await nc.request("bench.echo", b"ping", timeout=5)
            echo_lat.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)

    async def watch() -> None:
        nonlocal max_backlog
        while not stop.is_set():
            suite.check(say)
            with contextlib.suppress(Exception):
                backlog = await consumer_backlog(js)
                if backlog:
                    max_backlog = max(max_backlog, sum(p + a for p, a in backlog.values()))
                    for name, (p, a) in backlog.items():
                        worst[name] = max(worst.get(name, 0), p + a)
            await asyncio.sleep(0.5)

    load = f"{load1():.2f}"
    pids = pids_of(suite)
    tasks = [asyncio.create_task(noise()), asyncio.create_task(watch())]
    await asyncio.sleep(1.0)  # background first, then the measured traffic
    cpu0 = Cpu.take(pids)
    t0 = time.perf_counter()
    background0 = background
    measured = [asyncio.create_task(f()) for f in (concerns, relay_probes, echoes)]
    try:
        await asyncio.sleep(args.seconds)
        cpu1 = Cpu.take(pids)
        elapsed = time.perf_counter() - t0
        rate = (background - background0) / elapsed
    finally:
        stop.set()
        for task in tasks + measured:
            task.cancel()
        await asyncio.gather(*tasks, *measured, return_exceptions=True)
    for _ in range(100):  # the last ones in flight (not timed: stragglers only)
        if not concern_sent and not relay_sent:
            break
        await asyncio.sleep(0.1)
    failed_acks = 0
    if acks:  # nats-py's PubAck futures have no timeout of their own
        done, pending = await asyncio.wait(acks, timeout=10)
        failed_acks = len(pending) + sum(1 for f in done if f.exception() is not None)
        for f in pending:
            f.cancel()
    # Where an alert's time went, from the alerts database (same machine, same wall clock).
    to_opened, to_sent = [], []
    with contextlib.suppress(Exception):
        for alert_id, (opened, sent) in (await outboxes.notify_times()).items():
            if alert_id in concern_wall and sent is not None:
                to_opened.append((opened - concern_wall[alert_id]).total_seconds())
                to_sent.append((sent - opened).total_seconds())
    return Latency(
        seconds=elapsed,
        background_rate=rate,
        concern=concern_lat,
        concern_missing=len(concern_sent),
        relay=relay_lat,
        relay_missing=len(relay_sent),
        echo=echo_lat,
        max_backlog=max_backlog,
        backlog_by_durable=worst,
        to_opened=to_opened,
        to_sent=to_sent,
        failed_acks=failed_acks,
        cpu=cpu1.since(cpu0),
        load=f"{load}/{load1():.2f}",
    )


# --- report ------------------------------------------------------------------------------------


def table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        print("| " + " | ".join(cells) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def report(
    args: argparse.Namespace,
    backend: str,
    raw: Raw,
    week: Week,
    cap: Capacity,
    lat: Latency,
    rss: dict[str, float],
    restarts: dict[str, int],
    ready: float,
    load_before: str,
) -> None:
    seq_rate = raw.n / raw.publish_one_by_one
    fetch_rate = raw.n / raw.fetch_ack
    pipe_rate = raw.n / raw.publish_pipelined
    print()
    print(
        f"seed {args.seed}, {args.weeks} week(s), {backend}; cores {os.cpu_count()}; "
        f"python {sys.version.split()[0]}; load average (1/5/15 min) at start: {load_before}, "
        f"at end: {loads()}; services up in {ready:.1f}s"
    )
    print()
    print("Throughput (load 1-min at start/end of each phase in brackets):")
    table(
        [
            ("figure", "Lookout suite", "raw nats-py baseline", "ratio"),
            (
                f"events/s, week published -> suite drained [{week.load}]",
                f"{week.rate:,.0f}",
                f"{fetch_rate:,.0f} fetch(500)+ack [{raw.load}]",
                f"{week.rate / fetch_rate:.3f}",
            ),
            (
                "  the same, against publishing alone",
                f"{week.rate:,.0f}",
                f"{seq_rate:,.0f} publish, PubAck awaited",
                f"{week.rate / seq_rate:.3f}",
            ),
            (
                f"events/s, {cap.events:,} events pipelined -> suite drained [{cap.load}]",
                f"{cap.rate:,.0f}",
                f"{fetch_rate:,.0f} fetch(500)+ack",
                f"{cap.rate / fetch_rate:.3f}",
            ),
            (
                "  the same, against pipelined publishing alone",
                f"{cap.rate:,.0f}",
                f"{pipe_rate:,.0f} publish_async",
                f"{cap.rate / pipe_rate:.3f}",
            ),
        ]
    )
    print(
        f"  raw: {raw.n:,} messages (the plan's {week.events - week.duplicates} event bodies, "
        f"repeated). Suite: {week.events:,} events + {week.commands} front-office commands "
        f"published by the simulator in {week.publishing:.2f}s ({week.in_publish:.2f}s in event "
        f"publishes, {week.in_commands:.2f}s in commands), drained {week.seconds:.2f}s after the "
        f"start; the services published {week.emitted:,} events of their own; "
        f"failed actions {week.failed}, duplicates {week.duplicates}, dead letters "
        f"{week.dead_letters}, scans stored {week.scans_stored}/{week.scans_planned}; "
        f"last still busy: {week.last_busy or '-'}"
    )
    print(
        f"  pipelined: published in {cap.publishing:.2f}s, drained {cap.seconds:.2f}s after "
        f"the first publish; the services published {cap.emitted:,} events of their own; "
        f"dead letters {cap.dead_letters}, scans stored {cap.scans_stored}/{cap.scans_sent}; "
        f"last still busy: {cap.last_busy or '-'}"
    )
    print()
    e50, e99, emax = quantiles(lat.echo)
    r50, r99, rmax = quantiles(lat.relay)
    c50, c99, cmax = quantiles(lat.concern)
    print(
        f"Latency [{lat.load}], {lat.seconds:.0f}s, background {lat.background_rate:,.0f} "
        f"events/s offered (replayed plan events; {lat.failed_acks} PubAcks failed), "
        f"max consumer backlog seen {lat.max_backlog:,}:"
    )
    table(
        [
            ("path", "n", "missing", "p50 ms", "p99 ms", "max ms", "p50 ratio", "p99 ratio"),
            (
                "Lookout: concern.raised -> notify.principal-okafor",
                str(len(lat.concern)),
                str(lat.concern_missing),
                f"{c50:.1f}",
                f"{c99:.1f}",
                f"{cmax:.1f}",
                "",
                "",
            ),
            (
                "raw: JetStream pub -> fetch+ack -> JetStream pub -> sub",
                str(len(lat.relay)),
                str(lat.relay_missing),
                f"{r50:.2f}",
                f"{r99:.2f}",
                f"{rmax:.2f}",
                f"{c50 / r50:.1f}",
                f"{c99 / r99:.1f}",
            ),
            (
                "raw: core request-reply (echo)",
                str(len(lat.echo)),
                "0",
                f"{e50:.2f}",
                f"{e99:.2f}",
                f"{emax:.2f}",
                f"{c50 / e50:.1f}",
                f"{c99 / e99:.1f}",
            ),
        ]
    )
    o50, o99, omax = quantiles(lat.to_opened)
    s50, s99, smax = quantiles(lat.to_sent)
    print(
        f"  where the alert's time goes (alerts database, {len(lat.to_sent)} alerts): publish -> "
        f"alert opened p50 {o50:.1f} / p99 {o99:.1f} / max {omax:.1f} ms; opened -> notify row "
        f"marked sent p50 {s50:.1f} / p99 {s99:.1f} / max {smax:.1f} ms"
    )
    worst = sorted(lat.backlog_by_durable.items(), key=lambda kv: -kv[1])
    print("  largest backlog per durable: " + ", ".join(f"{d} {n:,}" for d, n in worst[:5] if n))
    print()
    print("Processes (CPU seconds used; % of one core over the phase):")
    rows = [
        (
            "process",
            "CPU s week",
            "% core",
            "CPU s pipelined",
            "% core",
            "CPU s latency",
            "% core",
            "peak RSS MiB",
        )
    ]
    for phase in (week.cpu, cap.cpu, lat.cpu):
        phase["all of the above"] = sum(v for n, v in phase.items() if n != "wall")
    for name in [n for n in week.cpu if n != "wall"]:
        rows.append(
            (
                name + (f" ({restarts[name]} restarts!)" if restarts.get(name) else ""),
                f"{week.cpu[name]:.2f}",
                f"{week.cpu[name] / week.cpu['wall'] * 100:.0f}",
                f"{cap.cpu[name]:.2f}",
                f"{cap.cpu[name] / cap.cpu['wall'] * 100:.0f}",
                f"{lat.cpu[name]:.2f}",
                f"{lat.cpu[name] / lat.cpu['wall'] * 100:.0f}",
                f"{rss[name]:.0f}" if name in rss else "",
            )
        )
    table(rows)


# --- main ---------------------------------------------------------------------------------------


def all_on_duty_school(work: Path) -> Path:
    """The example school with everyone on duty every day (the bench runs at any hour)."""
    school = yaml.safe_load(EXAMPLE_SCHOOL.read_text())
    for person in school["people"]:
        person.update(on_duty=[d.value for d in Weekday], on_duty_no_school_days=True)
        person.pop("duty_hours", None)
    csv = watchlist_path(load_school(EXAMPLE_SCHOOL), EXAMPLE_SCHOOL)
    if csv is not None:
        school["watchlist"]["csv_path"] = str(csv.resolve())
    path = work / "school.yaml"
    path.write_text(yaml.safe_dump(school))
    return path


def make_plans(seed: int, weeks: int) -> list[Plan]:
    school = load_school(EXAMPLE_SCHOOL)
    csv = watchlist_path(school, EXAMPLE_SCHOOL)
    watchlist = read_watchlist(csv) if csv is not None else ()
    return [
        build_plan(
            school,
            seed=seed,
            start=FIRST_MONDAY + timedelta(weeks=w),
            days=5,
            watchlist=watchlist,
            patrol_seed=BENCH_PATROL_SEED,  # the services get the same (main)
        )
        for w in range(weeks)
    ]


async def scratch_database(url: str, drop: str | None = None) -> str:
    """Create a fresh database on the server of `url` (or drop `drop`); its URL."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        if drop:
            await conn.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
            return url
        name = f"lookout_suite_bench_{uuid.uuid4().hex[:8]}"
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def bench(
    suite: LocalSuite, plans: list[Plan], args: argparse.Namespace, work: Path, db: str | None
) -> None:
    settings = Settings(data_dir=suite.data_dir, nats_url=suite.url)
    nc = await nats.connect(suite.url)
    js = nc.jetstream(publish_async_max_pending=4000)
    outboxes = Outboxes(suite.data_dir, db)
    try:
        ready = await wait_ready(nc, js, suite)
        say(f"services up after {ready:.1f}s; letting them settle")
        await wait_quiet(js, outboxes, suite, within=120)
        await asyncio.sleep(1.0)
        load_before = loads()

        msgs = raw_messages(plans, args.raw_events)
        say(f"1. raw nats-py baseline: {len(msgs):,} messages (load {load1():.2f})")
        raw = await raw_phase(nc, js, msgs)
        say(
            f"   publish one by one {raw.n / raw.publish_one_by_one:,.0f}/s, "
            f"fetch+ack {raw.n / raw.fetch_ack:,.0f}/s, "
            f"pipelined publish {raw.n / raw.publish_pipelined:,.0f}/s"
        )

        say(f"2. the simulator's {args.weeks} week(s) through the suite (load {load1():.2f})")
        week = await week_phase(js, settings, plans, suite, outboxes)
        say(f"   {week.events:,} events in {week.seconds:.2f}s: {week.rate:,.0f} events/s")
        rss = {name: peak_rss_mib(pid) for name, pid in pids_of(suite).items()}

        say(f"2b. {args.raw_events:,} plan events published pipelined (load {load1():.2f})")
        cap = await capacity_phase(js, plans, suite, outboxes, args.raw_events)
        say(f"   drained in {cap.seconds:.2f}s: {cap.rate:,.0f} events/s")

        say(f"3. latency under {args.background}/s background, {args.seconds:.0f}s")
        lat = await latency_phase(nc, js, plans, suite, args, work, outboxes)
        c50, c99, _ = quantiles(lat.concern)
        say(f"   concern -> principal p50 {c50:.1f} ms, p99 {c99:.1f} ms")
        for name, pid in pids_of(suite).items():
            rss[name] = max(rss.get(name, 0.0), peak_rss_mib(pid))
        restarts = {c.name: c.restarts for c in suite.supervisor.children}
        report(args, "PostgreSQL" if db else "SQLite", raw, week, cap, lat, rss, restarts,
               ready, load_before)  # fmt: skip
    finally:
        await outboxes.close()
        await nc.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(args: argparse.Namespace) -> None:
    # Ctrl-C and SIGTERM stop everything through the finally blocks and local_suite's exit
    # (SIGINT explicitly: a shell's background job would otherwise inherit it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    for key in [k for k in os.environ if k.startswith("LOOKOUT_")]:
        del os.environ[key]  # the services get only what this bench sets
    work = Path(tempfile.mkdtemp(prefix="lookout-suite-bench-"))
    db: str | None = None
    try:
        school = all_on_duty_school(work)
        plans = make_plans(args.seed, args.weeks)
        extra = {
            "LOOKOUT_SCHOOLS": str(school),
            "LOOKOUT_LOG_LEVEL": "WARNING",
            "LOOKOUT_PATROL_SEED": BENCH_PATROL_SEED,
        }
        if args.db:
            db = asyncio.run(scratch_database(args.db))
            extra |= {f"LOOKOUT_{s.upper()}_DB_URL": db for s in SERVICES}
        settings = Settings(data_dir=work / "data", nats_url="")
        say(f"work dir {work}; starting the suite")
        with local_suite(settings, SERVICES, say, say, extra_env=extra, prefer_port=None) as suite:
            asyncio.run(bench(suite, plans, args, work, db))
    finally:
        if db:
            name = urlsplit(db).path.lstrip("/")
            with contextlib.suppress(Exception):
                asyncio.run(scratch_database(args.db, drop=name))
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    p.add_argument("--weeks", type=int, default=1, help="school weeks to publish (default 1)")
    p.add_argument(
        "--db",
        metavar="URL",
        help="a PostgreSQL server, e.g. postgresql+asyncpg://127.0.0.1:5432/postgres: a scratch "
        "database is created there for the four services and dropped at the end",
    )
    p.add_argument(
        "--raw-events", type=int, default=10000, help="messages in the raw baseline (10000)"
    )
    p.add_argument("--background", type=int, default=800, help="background events/s (800)")
    p.add_argument("--seconds", type=float, default=30.0, help="latency phase length (30)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases)")
    return p.parse_args(argv)


if __name__ == "__main__":
    try:
        main(parse_args())
    except KeyboardInterrupt:
        print("interrupted: everything stopped", file=sys.stderr)
        sys.exit(130)
