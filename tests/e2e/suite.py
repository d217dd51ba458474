"""The whole suite as separate processes on a real nats-server, driven through simulated time.

Time is a file every service reads (`LOOKOUT_CLOCK=file:<path>`). The driver moves it forward
only when the suite is quiet at the current moment: every service's timer loops have caught up
to it (their `lookout_timers_caught_up_to` gauge), every outbox is empty and every durable
consumer has nothing pending. So a week runs as fast as the services can go, and no timer is
judged late because a loaded machine lagged.

Faults: kill -9 a service (restarted by `restart`, at once or after simulated time has moved
on: while it is down, `quiet()` waits for the others only), restart the nats-server (same port,
same store), and hold databases' write locks for longer than the services' busy timeout
(SQLite: `BEGIN EXCLUSIVE`), so their writes fail and take the transient-failure path.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nats
from nats.js.client import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

from lookout.deploy.nats import SERVICE_CONSUMERS, durable
from lookout.kernel.clock import FileClock
from lookout.kernel.settings import EXAMPLE_SCHOOL
from lookout.local.runtime import (
    EmbeddedNats,
    MailSink,
    ServiceProcess,
    child_env,
    port_is_free,
    service_argv,
)

SERVICES = ("patrol", "visitors", "alerts", "reports")
# The timer loops each service reports through `lookout_timers_caught_up_to`.
TIMERS = {
    "patrol": ("ticker",),
    "visitors": ("ticker",),
    "alerts": ("escalations", "emails"),
    "reports": ("weekly-mail",),
}

# Short, so that a database outage of a few seconds outlasts it (and the consumers' ack wait):
# writes then fail as transient errors instead of waiting the outage out.
BUSY_TIMEOUT_SECONDS = 2
# The deployment's secret for unannounced check times: the plan (the SSO's phone) uses it too.
PATROL_SEED = "e2e-week-secret"

STREAMS = ("PATROL", "CONCERNS", "VISITORS", "ALERTS", "REPORTS", "DLQ")
DURABLES: dict[str, list[str]] = {}
OWNER: dict[str, str] = {}  # durable -> its service
for _service in SERVICES:
    for _stream, _consumer in SERVICE_CONSUMERS[_service]:
        DURABLES.setdefault(_stream, []).append(durable(_service, _consumer))
        OWNER[durable(_service, _consumer)] = _service


def health_port() -> int:
    """A free port below the kernel's ephemeral range, where other tests' `free_port()` (an
    OS-assigned ephemeral port) cannot take it between our choosing and the service binding."""
    while True:
        port = random.randrange(20000, 32000)
        if port_is_free(port):
            return port


class SuiteTimeout(AssertionError):
    pass


@dataclass
class Suite:
    root: Path
    start: datetime
    school_file: Path = EXAMPLE_SCHOOL
    nats: EmbeddedNats = field(init=False)
    mail: MailSink = field(init=False)
    clock_file: Path = field(init=False)
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    health_ports: dict[str, int] = field(default_factory=dict)
    now: datetime = field(init=False)
    kills: list[tuple[str, datetime]] = field(default_factory=list)
    unexpected_exits: list[tuple[str, str]] = field(default_factory=list)
    down: set[str] = field(default_factory=set)  # killed, not restarted yet
    _nc: nats.NATS | None = None
    _js: JetStreamContext | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start_all(self) -> None:
        self.clock_file = self.root / "clock"
        self.now = self.start
        FileClock.write(self.clock_file, self.start)
        self.nats = EmbeddedNats(store_dir=self.root / "nats", log_file=self.root / "nats.log")
        self.nats.start()
        self.mail = MailSink(self.root / "mail").start()
        for name in SERVICES:
            self.health_ports[name] = health_port()
            self.processes[name] = ServiceProcess(
                name, service_argv(name), self._env(name), self.root / "logs" / f"{name}.log"
            )
            self.processes[name].start()

    def _env(self, name: str) -> dict[str, str]:
        return child_env(
            {
                "LOOKOUT_NATS_URL": self.nats.url,
                "LOOKOUT_DATA_DIR": str(self.root),
                "LOOKOUT_SCHOOLS": str(self.school_file),
                "LOOKOUT_CLOCK": f"file:{self.clock_file}",
                "LOOKOUT_TICK_SECONDS": "0.05",
                "LOOKOUT_SMTP_PORT": str(self.mail.port),
                "LOOKOUT_HEALTH_PORT": str(self.health_ports[name]),
                "LOOKOUT_LOG_LEVEL": "WARNING",
                "LOOKOUT_SQLITE_BUSY_TIMEOUT_SECONDS": str(BUSY_TIMEOUT_SECONDS),
                "LOOKOUT_PATROL_SEED": PATROL_SEED,
            }
        )

    async def connect(self) -> JetStreamContext:
        self._nc = await nats.connect(
            self.nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2
        )
        self._js = self._nc.jetstream()
        return self._js

    @property
    def js(self) -> JetStreamContext:
        assert self._js is not None, "connect() first"
        return self._js

    async def stop_all(self) -> None:
        for proc in self.processes.values():
            proc.terminate()
        for proc in self.processes.values():
            proc.wait_stopped(timeout=20)
        if self._nc is not None:
            await self._nc.close()
        self.mail.stop()
        self.nats.stop()

    # --- faults ---------------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """kill -9: no shutdown hook runs, nothing is flushed."""
        proc = self.processes[name]
        assert proc.proc is not None and proc.alive(), f"{name} is not running"
        proc.proc.kill()
        proc.proc.wait()
        self.kills.append((name, self.now))
        self.down.add(name)

    def restart(self, name: str) -> None:
        self.down.discard(name)
        self.processes[name].start()

    def supervise(self) -> None:
        """Restart a service that exited by itself, as `lookout up`'s supervisor does (seen: a
        health port another test took between choosing and binding it), on a fresh port."""
        for name, proc in self.processes.items():
            if name not in self.down and not proc.alive():
                self.unexpected_exits.append((name, self.log_tail(name, 5)))
                self.health_ports[name] = health_port()
                proc.env = self._env(name)
                proc.start()

    def restart_nats(self) -> None:
        self.nats.stop()
        self.nats.start()  # same port and store: clients reconnect, streams are on disk

    @contextmanager
    def database_locked(self, *names: str) -> Iterator[None]:
        """Hold these services' SQLite write locks: their writes wait the busy timeout, fail,
        and are retried (no commit of theirs lands until the lock is let go)."""
        held: list[sqlite3.Connection] = []
        try:
            for name in names:
                db = sqlite3.connect(self.root / f"{name}.db", timeout=30, isolation_level=None)
                held.append(db)
                db.execute("BEGIN EXCLUSIVE")
            yield
        finally:
            for db in held:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                db.close()

    def all_alive(self) -> dict[str, bool]:
        return {name: proc.alive() for name, proc in self.processes.items()}

    # --- time -----------------------------------------------------------------------------------

    def set_clock(self, moment: datetime) -> None:
        """Move the shared clock (forward only); `quiet()` then waits for the suite there."""
        assert moment >= self.now, "simulated time only moves forward"
        self.now = moment
        FileClock.write(self.clock_file, moment)

    async def quiet(self, within: float = 60.0) -> None:
        """Every service ready, every timer caught up to `now`, every outbox empty, every
        consumer drained — twice
        in a row with the streams unchanged between, so nothing was still in flight."""
        deadline = time.monotonic() + within
        previous: object = None
        while True:
            self.supervise()
            state = await self._quiet_state()
            if state is not None and state == previous:
                return
            previous = state
            if time.monotonic() > deadline:
                raise SuiteTimeout(f"not quiet at {self.now.isoformat()}: {self._why()}")
            await asyncio.sleep(0.01)  # polling the suite's state: nothing to await instead

    async def _quiet_state(self) -> tuple[int, ...] | None:
        self._reason = ""
        up = [n for n in SERVICES if n not in self.down]
        probes = await asyncio.gather(*(asyncio.to_thread(self._probe, n) for n in up))
        for name, (ready, caught) in zip(up, probes, strict=True):
            if not ready:  # e.g. still reconnecting after a broker restart: no replies yet
                self._reason = f"{name} not ready"
                return None
            lagging = [t for t in TIMERS[name] if caught.get(t, 0.0) < self.now.timestamp()]
            if lagging:
                self._reason = f"{name} timers {lagging} behind"
                return None
            unsent = self._unsent(name)
            if unsent:
                self._reason = f"{name} outbox holds {unsent} unsent"
                return None
        try:
            listed = await asyncio.gather(*(self.js.consumers_info(s) for s in STREAMS))
            streams = await asyncio.gather(*(self.js.stream_info(s) for s in STREAMS))
        except (TimeoutError, nats.errors.Error) as exc:
            self._reason = f"NATS: {type(exc).__name__}"
            return None
        for stream, consumers in zip(STREAMS, listed, strict=True):
            found = {c.name: c for c in consumers}
            for name in DURABLES.get(stream, ()):
                if OWNER[name] in self.down:
                    continue  # its backlog waits for it
                info = found.get(name)
                if info is None:
                    self._reason = f"{name} not created yet"
                    return None
                if info.num_pending or info.num_ack_pending:
                    self._reason = f"{name} pending {info.num_pending}/{info.num_ack_pending}"
                    return None
        return tuple(s.state.last_seq for s in streams)

    def _why(self) -> str:
        return getattr(self, "_reason", "") or "streams still moving"

    def _probe(self, name: str) -> tuple[bool, dict[str, float]]:
        """Whether the service is ready (started, connected to NATS), and how far each of its
        timer loops has caught up."""
        base = f"http://127.0.0.1:{self.health_ports[name]}"
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2):
                pass  # 200: ready (503 raises)
            url = f"{base}/metrics?name[]=lookout_timers_caught_up_to"
            with urllib.request.urlopen(url, timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return False, {}  # not up (yet, or killed), or not ready
        caught: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            if family.name == "lookout_timers_caught_up_to":
                for sample in family.samples:
                    caught[sample.labels["timer"]] = sample.value
        return True, caught

    def _unsent(self, name: str) -> int:
        path = self.root / f"{name}.db"
        if not path.exists():
            return 0
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            (count,) = db.execute(
                f"SELECT count(*) FROM {name}_outbox WHERE sent_at IS NULL"
            ).fetchone()
            return int(count)
        except sqlite3.OperationalError:  # not migrated yet
            return 0
        finally:
            db.close()

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.processes[name].log_path
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
