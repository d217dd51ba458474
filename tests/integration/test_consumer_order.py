"""Stream order survives a database outage longer than SQLite's busy timeout (issue 12, item 7).

The real patrol service on a SQLite file and a real nats-server. Another connection holds the
file's write lock for 40 s: longer than the busy timeout (30 s) and eight times the consumer's
ack_wait (5 s). A concern is raised while the lock is held and, once the raise is in the
consumer's hands, resolved. The consumer must hold the raise, retry it in place until the
database is back, and only then take the resolve: the concern ends resolved, nothing is
dead-lettered, nothing is redelivered, and the stall shows on /metrics and /healthz meanwhile.

Under the old policy (nak with backoff and fetch on) the resolve is fetched while the raise waits
out its nak delay, is applied first, refused as "unknown (not raised)" and dead-lettered, and the
concern stays open.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from sqlalchemy import select

from lookout.contracts.patrol import ConcernRaised, ConcernResolved
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import Settings
from services.patrol import store
from services.patrol.app import build_app, create_kernel
from tests.integration.conftest import consumer_drained, running, stream_messages, wait_until

pytestmark = [pytest.mark.nats, pytest.mark.slow]

OUTAGE_SECONDS = 40.0
BUSY_TIMEOUT_SECONDS = 30.0
ACK_WAIT_SECONDS = 5.0
T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # a Saturday: no check windows, no timers
ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
DURABLE = "patrol-concerns"
STALLED = 'lookout_consumer_stalled{consumer="patrol-concerns",service="patrol",stream="CONCERNS"}'
STALLS = (
    'lookout_consumer_stalls_total{consumer="patrol-concerns",service="patrol",stream="CONCERNS"}'
)


@contextmanager
def write_lock_held(path: Path, seconds: float) -> Iterator[threading.Thread]:
    """Hold the SQLite file's write lock from another connection for `seconds` of real time
    (the busy timeout it must outlast is real time too)."""
    taken = threading.Event()
    done = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, timeout=5, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            taken.set()
            done.wait(seconds)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    thread = threading.Thread(target=hold, name="database-outage", daemon=True)
    thread.start()
    assert taken.wait(10), "the outage's lock was not taken"
    try:
        yield thread
    finally:
        done.set()  # a failing test does not keep the file locked
        thread.join(10)


def metric(text: str, sample: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


async def get(port: int, path: str) -> tuple[int, str]:
    def fetch() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    return await asyncio.to_thread(fetch)


@dataclass
class StallWatch:
    """What the health endpoint said during the run: each change of the stall gauge, and
    /healthz and /readyz as first seen while stalled."""

    port: int
    gauge: list[float | None] = field(default_factory=list)
    health: tuple[int, str] | None = None
    ready: tuple[int, str] | None = None
    stalled_at: float | None = None  # seconds into the outage

    async def run(self, started: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            _, text = await get(self.port, "/metrics?name[]=lookout_consumer_stalled")
            value = metric(text, STALLED)
            if not self.gauge or self.gauge[-1] != value:
                self.gauge.append(value)
            if value == 1.0 and self.health is None:
                self.stalled_at = time.monotonic() - started
                self.health = await get(self.port, "/healthz")
                self.ready = await get(self.port, "/readyz")
            await asyncio.sleep(0.2)


async def test_a_resolve_never_overtakes_its_raise_through_a_40_s_database_outage(
    nats_server: Any, js: JetStreamContext, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path, nats_url=nats_server.url, timers_enabled=False, health_port=0,
        health_host="127.0.0.1", sqlite_busy_timeout_seconds=BUSY_TIMEOUT_SECONDS,
        consumer_ack_wait_seconds=ACK_WAIT_SECONDS,
    )  # fmt: skip
    kernel = create_kernel(settings, ManualClock(T0))
    cid = uuid.uuid4()
    raised = ConcernRaised.new(
        school_id="lhs", occurred_at=T0, actor=ACTOR, concern_id=cid, category="vaping",
        severity="medium", zone_id="bath-2s-boys", student_refs=["S-104233"],
        note="two students vaping at the sinks",
    )  # fmt: skip
    resolved = ConcernResolved.new(
        school_id="lhs", occurred_at=T0 + timedelta(minutes=4), actor=ACTOR, concern_id=cid,
        outcome="referred_to_counselor", note="walked both to the counseling office",
    )  # fmt: skip
    stop_watching = asyncio.Event()
    async with running(kernel, build_app):
        assert kernel.health is not None
        watch = StallWatch(kernel.health.port)
        with write_lock_held(tmp_path / "patrol.db", OUTAGE_SECONDS) as outage:
            watcher = asyncio.create_task(watch.run(time.monotonic(), stop_watching))
            await js.publish(subject_of(raised), raised.model_dump_json().encode())

            async def raise_in_hand() -> bool:
                info = await js.consumer_info("CONCERNS", DURABLE)
                return info.delivered.stream_seq == 1 and info.num_ack_pending == 1

            await wait_until(raise_in_hand, within=10, what="the raise delivered")
            await js.publish(subject_of(resolved), resolved.model_dump_json().encode())
            await asyncio.to_thread(outage.join, OUTAGE_SECONDS + 10)  # the outage, in real time
        await wait_until(
            lambda: consumer_drained(js, "CONCERNS", DURABLE), within=40, what="the drain"
        )

        async def stall_over() -> bool:
            return watch.gauge[-1] != 1.0

        await wait_until(stall_over, within=5, what="the stall gauge off 1")
        stop_watching.set()
        await watcher
        info = await js.consumer_info("CONCERNS", DURABLE)
        _, text = await get(watch.port, "/metrics")
        async with kernel.sessions() as session:
            status = (await session.execute(select(store.concerns.c.status))).scalars().all()
            kinds = (
                await session.execute(
                    select(store.concern_timeline.c.kind).order_by(store.concern_timeline.c.id)
                )
            ).scalars().all()  # fmt: skip

    # Order held: the concern is resolved, nothing refused, each message delivered once.
    assert (list(status), list(kinds)) == (["resolved"], ["raised", "resolved"])
    assert await stream_messages(js, "DLQ") == 0
    assert (info.delivered.stream_seq, info.delivered.consumer_seq) == (2, 2)
    assert (info.num_redelivered, info.num_pending, info.num_ack_pending) == (0, 0, 0)
    # The stall showed while the database was away, and ended with it.
    assert watch.gauge == [0.0, 1.0, 0.0]
    assert watch.stalled_at is not None
    assert BUSY_TIMEOUT_SECONDS - 1 < watch.stalled_at < OUTAGE_SECONDS
    assert metric(text, STALLS) == 1.0
    assert metric(text, STALLED) == 0.0
    # Alive and ready (a database outage is no reason to restart), naming the stalled durable.
    line = r"consumer patrol-concerns stalled for \d+\.\d s: OperationalError, retrying in place\n"
    assert watch.health is not None and watch.ready is not None
    assert watch.health[0] == 200 and re.fullmatch("ok\n" + line, watch.health[1]), watch.health
    assert watch.ready[0] == 200 and re.fullmatch("ready\n" + line, watch.ready[1]), watch.ready
