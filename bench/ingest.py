"""Ingest benchmark: events/s one patrol process persists, next to raw nats-py fetch+ack.

    .venv/bin/python bench/ingest.py --events 20000

Both phases run in the same run against the same embedded nats-server (its own free port and a
temporary JetStream store), with the same events (valid `checkpoint.scanned` for school `lhs`,
zone `bath-1n-boys`, tag `T-1NB`, each published with `Nats-Msg-Id = event_id`):

1. raw: a durable pull consumer on PATROL does `fetch(batch)` + `ack()` of all N messages with
   nats-py and nothing else; the consume phase is timed.
2. lookout: the PATROL stream is recreated empty, N fresh events are published, then ONE patrol
   service process is started (a real separate process) and the SQLite file (or PostgreSQL
   table) is polled until `checkpoint_scans` holds N rows. Reported: end-to-end from process
   start (includes interpreter start-up, migrations, connecting) and the steady rate between
   the first and the last committed rows (the fair comparison with raw).

Not a timed assertion: it prints figures. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from lookout.contracts.patrol import CheckpointScanned
from lookout.contracts.subjects import subject_of
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.settings import Settings
from lookout.local.runtime import EmbeddedNats

REPO = Path(__file__).resolve().parent.parent
STREAM = "PATROL"
ACTOR = {"kind": "sso_device", "id": "phone-bench"}
T0 = datetime(2026, 11, 23, 14, 40, tzinfo=UTC)
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The service as `lookout run patrol` would start it, without depending on the CLI module.
CHILD_PYTHON_C = (
    "import asyncio\nfrom services.patrol.app import create_app\nasyncio.run(create_app().run())\n"
)
# The same under cProfile (the stats are written when SIGTERM ends the app cleanly).
CHILD_PROFILED = (
    "import asyncio, cProfile, sys\n"
    "from services.patrol.app import create_app\n"
    "app = create_app()\n"
    "cProfile.run('asyncio.run(app.run())', sys.argv[1])\n"
)


# --- events and publishing ----------------------------------------------------------------------


def make_events(n: int) -> list[tuple[str, bytes, dict[str, str]]]:
    """(subject, payload, headers) for N valid, distinct checkpoint scans."""
    out = []
    for i in range(n):
        event = CheckpointScanned(
            event_id=uuid.uuid4(),
            type="checkpoint.scanned",
            school_id="lhs",
            occurred_at=T0 + timedelta(milliseconds=i),
            actor=ACTOR,  # type: ignore[arg-type]
            zone_id="bath-1n-boys",
            checkpoint_tag="T-1NB",
            method="nfc",  # type: ignore[arg-type]
        )
        headers = {"Nats-Msg-Id": str(event.event_id)}
        out.append((subject_of(event), event.model_dump_json().encode(), headers))
    return out


async def publish_all(
    js: JetStreamContext, events: list[tuple[str, bytes, dict[str, str]]]
) -> float:
    """Publish with async acks (up to nats-py's pending limit in flight); every ack checked."""
    start = time.perf_counter()
    futures = [await js.publish_async(s, p, headers=dict(h)) for s, p, h in events]
    acks = await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    dup = sum(1 for a in acks if a.duplicate)
    if dup:
        raise RuntimeError(f"{dup} publishes were reported as duplicates")
    stored = (await js.stream_info(STREAM)).state.messages
    if stored != len(events):
        raise RuntimeError(f"stream {STREAM} holds {stored} messages, expected {len(events)}")
    return elapsed


async def fresh_stream(js: JetStreamContext, settings: Settings) -> None:
    """Drop PATROL (and every consumer on it) and create it again, empty."""
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await js.delete_stream(STREAM)
    await ensure_streams(settings)


# --- /proc accounting ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --- phase 1: raw nats-py -----------------------------------------------------------------------


@dataclass
class RawResult:
    seconds: float
    client_cpu: float
    server_cpu: float

    def rate(self, n: int) -> float:
        return n / self.seconds

    def per_cpu(self, n: int) -> float:
        return n / self.client_cpu


async def raw_phase(
    nc: nats.aio.client.Client, js: JetStreamContext, n: int, batch: int, server_pid: int
) -> RawResult:
    durable = "bench-raw"
    await js.add_consumer(
        STREAM,
        ConsumerConfig(
            durable_name=durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
            max_ack_pending=max(1000, batch * 4),  # as the Lookout consumer
        ),
    )
    sub = await js.pull_subscribe_bind(durable, stream=STREAM)
    done = 0
    cpu0, srv0 = time.process_time(), cpu_seconds(server_pid)
    start = time.perf_counter()
    while done < n:
        try:
            msgs = await sub.fetch(batch, timeout=5)
        except nats.errors.TimeoutError:
            raise RuntimeError(f"raw consumer stalled after {done} of {n}") from None
        for m in msgs:
            await m.ack()
        done += len(msgs)
    await nc.flush()  # every ack has left the client
    seconds = time.perf_counter() - start
    result = RawResult(seconds, time.process_time() - cpu0, cpu_seconds(server_pid) - srv0)
    # The server applies acks asynchronously: check (untimed) that every one of them landed.
    for _ in range(500):
        info = await js.consumer_info(STREAM, durable)
        if not (info.num_pending or info.num_ack_pending):
            break
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError(f"raw consumer not drained: {info}")
    await sub.unsubscribe()
    return result


# --- phase 2: one patrol service process ---------------------------------------------------------


class RowCounter(Protocol):
    """Rows in checkpoint_scans, read from outside the service (SQLite file or PostgreSQL)."""

    async def start(self) -> None: ...

    async def count(self) -> int: ...

    async def exact(self) -> int: ...

    async def transactions(self) -> int:
        """Committed batches: the inbox stamps every event of one transaction with one time."""
        ...

    async def close(self) -> None: ...


class SqliteCounter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None

    async def start(self) -> None:
        """Nothing to open yet: the service creates the file when it starts."""

    async def count(self) -> int:
        # Only rowid tables without deletes here, so max(rowid) is the row count, in O(log n).
        if self.conn is None:
            if not self.path.exists():  # connecting first would create it under the service
                return 0
            self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=5)
        try:
            row = self.conn.execute("SELECT max(rowid) FROM checkpoint_scans").fetchone()
        except sqlite3.OperationalError:  # not migrated yet
            return 0
        return int(row[0] or 0)

    async def exact(self) -> int:
        assert self.conn is not None
        return int(self.conn.execute("SELECT count(*) FROM checkpoint_scans").fetchone()[0])

    async def transactions(self) -> int:
        assert self.conn is not None
        sql = "SELECT count(DISTINCT received_at) FROM patrol_inbox"
        return int(self.conn.execute(sql).fetchone()[0])

    async def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class PostgresCounter:
    """Counts rows added since start: a scratch database is best, existing rows are left."""

    def __init__(self, url: str) -> None:
        self.dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.conn: object | None = None
        self.before = 0

    async def start(self) -> None:
        import asyncpg

        self.conn = await asyncpg.connect(self.dsn)
        self.before = await self._raw()
        self.since = datetime.now(UTC)

    async def _raw(self) -> int:
        try:
            return int(await self.conn.fetchval("SELECT count(*) FROM checkpoint_scans"))  # type: ignore[attr-defined]
        except Exception as exc:  # undefined table before the first migration
            if type(exc).__name__ == "UndefinedTableError":
                return 0
            raise

    async def count(self) -> int:
        return await self._raw() - self.before

    async def exact(self) -> int:
        return await self.count()

    async def transactions(self) -> int:
        sql = "SELECT count(DISTINCT received_at) FROM patrol_inbox WHERE received_at >= $1"
        return int(await self.conn.fetchval(sql, self.since))  # type: ignore[attr-defined]

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()  # type: ignore[attr-defined]


@dataclass
class LookoutResult:
    backend: str
    startup: float  # process start → first rows visible
    total: float  # process start → N rows visible
    steady: float  # first rows visible → N rows visible
    first_rows: int  # rows already there at the first sighting
    cpu_total: float
    cpu_steady: float
    server_cpu_steady: float
    peak_rss: float
    dead_letters: int
    transactions: int
    log: Path
    notes: list[str] = field(default_factory=list)

    def steady_rate(self, n: int) -> float:
        return (n - self.first_rows) / self.steady

    def total_rate(self, n: int) -> float:
        return n / self.total

    def steady_per_cpu(self, n: int) -> float:
        return (n - self.first_rows) / self.cpu_steady


def service_env(
    url: str, data_dir: Path, args: argparse.Namespace, db_url: str | None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    env.update(
        LOOKOUT_NATS_URL=url,
        LOOKOUT_DATA_DIR=str(data_dir),
        LOOKOUT_CONSUMER_BATCH_SIZE=str(args.batch_size),
        LOOKOUT_LOG_LEVEL=args.log_level,
        PYTHONPATH=str(REPO),
    )
    if args.batch_timeout is not None:
        env["LOOKOUT_CONSUMER_BATCH_TIMEOUT_SECONDS"] = str(args.batch_timeout)
    if db_url:
        env["LOOKOUT_PATROL_DB_URL"] = db_url
    return env


def open_log(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


async def lookout_phase(
    js: JetStreamContext,
    settings: Settings,
    events: list[tuple[str, bytes, dict[str, str]]],
    work: Path,
    args: argparse.Namespace,
    server_pid: int,
    db_url: str | None,
) -> LookoutResult:
    n = len(events)
    backend = "postgresql" if db_url else "sqlite"
    data_dir = work / f"data-{backend}"
    data_dir.mkdir()
    counter: RowCounter = (
        PostgresCounter(db_url) if db_url else SqliteCounter(data_dir / "patrol.db")
    )
    await counter.start()
    await fresh_stream(js, settings)
    await publish_all(js, events)

    if args.profile:
        argv = [sys.executable, "-c", CHILD_PROFILED, str(Path(f"{args.profile}.{backend}"))]
    elif args.launcher == "cli":
        argv = [sys.executable, "-m", "lookout.cli", "run", "patrol"]
    else:
        argv = [sys.executable, "-c", CHILD_PYTHON_C]
    env = service_env(settings.nats_servers(), data_dir, args, db_url)
    log_path = work / f"patrol-{backend}.log"
    log_fd = open_log(log_path)
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=REPO, stdout=log_fd, stderr=log_fd
    )
    os.close(log_fd)
    t_first = t_done = 0.0
    first_rows = 0
    cpu_first = srv_first = 0.0
    deadline = t0 + args.timeout
    try:
        while True:
            rows = await counter.count()
            now = time.perf_counter()
            if rows and not t_first:
                t_first, first_rows = now, rows
                cpu_first, srv_first = cpu_seconds(proc.pid), cpu_seconds(server_pid)
            if rows >= n:
                t_done = now
                cpu_done, srv_done = cpu_seconds(proc.pid), cpu_seconds(server_pid)
                rss = peak_rss_mib(proc.pid)
                break
            if proc.returncode is not None:
                raise RuntimeError(f"patrol exited with {proc.returncode}; see {log_path}")
            if now > deadline:
                raise RuntimeError(f"only {rows} of {n} rows after {args.timeout}s; {log_path}")
            await asyncio.sleep(args.poll_interval)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        exact = await counter.exact() if t_done else -1
        transactions = await counter.transactions() if t_done else -1
        await counter.close()
    notes = []
    if exact != n:
        notes.append(f"row count {exact} != {n}")
    if first_rows == n:
        notes.append("all rows appeared in one poll: steady rate not measurable, raise --events")
    dlq = (await js.stream_info("DLQ")).state.messages
    return LookoutResult(
        backend=backend,
        startup=t_first - t0,
        total=t_done - t0,
        steady=max(t_done - t_first, 1e-9),
        first_rows=first_rows,
        cpu_total=cpu_done,
        cpu_steady=cpu_done - cpu_first,
        server_cpu_steady=srv_done - srv_first,
        peak_rss=rss,
        dead_letters=dlq,
        transactions=transactions,
        log=log_path,
        notes=notes,
    )


# --- report ------------------------------------------------------------------------------------


def report(
    n: int, args: argparse.Namespace, raw: RawResult, runs: list[LookoutResult], load: str
) -> None:
    raw_rate, raw_cpu = raw.rate(n), raw.per_cpu(n)
    print()
    print(f"events: {n}   batch size: {args.batch_size}   cores: {os.cpu_count()}   "
          f"python: {sys.version.split()[0]}   load average before/after: {load}")  # fmt: skip
    print()
    rows = [
        (
            "measurement",
            "events/s",
            "ratio",
            "events/CPU-s",
            "ratio (CPU)",
            "seconds",
            "consumer CPU s",
            "nats CPU s",
        ),
        (
            "raw nats-py fetch+ack",
            f"{raw_rate:,.0f}",
            "1.00",
            f"{raw_cpu:,.0f}",
            "1.00",
            f"{raw.seconds:.2f}",
            f"{raw.client_cpu:.2f}",
            f"{raw.server_cpu:.2f}",
        ),
    ]
    for r in runs:
        rows.append(
            (
                f"lookout patrol ({r.backend}), steady",
                f"{r.steady_rate(n):,.0f}",
                f"{r.steady_rate(n) / raw_rate:.2f}",
                f"{r.steady_per_cpu(n):,.0f}",
                f"{r.steady_per_cpu(n) / raw_cpu:.2f}",
                f"{r.steady:.2f}",
                f"{r.cpu_steady:.2f}",
                f"{r.server_cpu_steady:.2f}",
            )
        )
        rows.append(
            (
                f"lookout patrol ({r.backend}), from process start",
                f"{r.total_rate(n):,.0f}",
                f"{r.total_rate(n) / raw_rate:.2f}",
                "",
                "",
                f"{r.total:.2f}",
                f"{r.cpu_total:.2f}",
                "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        print("| " + " | ".join(cells) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print()
    for r in runs:
        print(
            f"patrol ({r.backend}): start-up until first rows {r.startup:.2f}s "
            f"({r.first_rows} rows at first sighting), {r.transactions} transactions "
            f"(mean batch {n / max(r.transactions, 1):.0f}), peak RSS {r.peak_rss:.0f} MiB, "
            f"CPU {r.cpu_steady / r.steady * 100:.0f}% of a core while steady, "
            f"dead letters {r.dead_letters}, log {r.log}"
        )
        for note in r.notes:
            print(f"  WARNING: {note}")
    print()
    print("ratio = Lookout steady / raw; target >= 0.25 now, >= 0.5 later.")
    print("events/CPU-s divides by the consuming process's own CPU time: steadier than events/s")
    print("when other processes share the cores (see the load average).")


def loadavg() -> str:
    return f"{os.getloadavg()[0]:.2f}"


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="lookout-bench-"))
    load_before = loadavg()
    server = EmbeddedNats(work / "jetstream").start()
    assert server.proc is not None
    server_pid = server.proc.pid
    try:
        settings = Settings(nats_url=server.url, data_dir=work / "unused")
        nc = await nats.connect(server.url)
        js = nc.jetstream(publish_async_max_pending=4000)
        try:
            await fresh_stream(js, settings)
            print(f"nats-server {server.url}, work dir {work}")
            print(f"publishing {args.events} events for the raw phase…")
            pub = await publish_all(js, make_events(args.events))
            print(f"  published in {pub:.2f}s ({args.events / pub:,.0f}/s)")
            raw = await raw_phase(nc, js, args.events, args.batch_size, server_pid)
            print(f"  raw fetch+ack: {raw.rate(args.events):,.0f} msgs/s")
            runs = []
            for db_url in [None, *([args.postgres] if args.postgres else [])]:
                label = "PostgreSQL" if db_url else "SQLite"
                print(f"publishing {args.events} fresh events, then one patrol process ({label})…")
                result = await lookout_phase(
                    js, settings, make_events(args.events), work, args, server_pid, db_url
                )
                print(f"  steady: {result.steady_rate(args.events):,.0f} events/s persisted")
                runs.append(result)
        finally:
            await nc.close()
        report(args.events, args, raw, runs, f"{load_before}/{loadavg()}")
    finally:
        server.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=20000, help="events per phase (default 20000)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=500,
        help="fetch batch for raw, LOOKOUT_CONSUMER_BATCH_SIZE for the service (default 500)",
    )
    p.add_argument(
        "--postgres",
        metavar="URL",
        help="also run the service on PostgreSQL, e.g. postgresql+asyncpg://127.0.0.1/test "
        "(rows already in checkpoint_scans are left and not counted)",
    )
    p.add_argument(
        "--launcher",
        choices=["python-c", "cli"],
        default="python-c",
        help="start the service with `python -c` (default) or `python -m lookout.cli run patrol`",
    )
    p.add_argument(
        "--batch-timeout",
        type=float,
        help="LOOKOUT_CONSUMER_BATCH_TIMEOUT_SECONDS for the service (default: the service's)",
    )
    p.add_argument(
        "--profile",
        metavar="PATH",
        help="run the service under cProfile, stats to PATH.<backend> (slows it down)",
    )
    p.add_argument("--log-level", default="INFO", help="LOOKOUT_LOG_LEVEL for the service")
    p.add_argument("--poll-interval", type=float, default=0.01, help="seconds between DB polls")
    p.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases)")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
