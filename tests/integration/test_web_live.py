"""The SSO's Today screen and live stream, against the real web service (uvicorn on a free port),
a real nats-server and the patrol service in process: `GET /api/v1/today` asks the patrol
service as the signed-in officer; `GET /api/v1/live` carries an unannounced check to the officer
it is addressed to and to nobody else — not another officer, not the same person id in another
school; a `today` nudge when a window closes; a person's streams are bounded; the phone's
heartbeat, sent without ids, binds its device to the signed-in officer in the patrol store;
SIGTERM to `lookout run web` ends the open streams and the process exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import yaml
from nats.aio.client import Client
from sqlalchemy import insert, select

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import CheckWindowClosed, UnannouncedCheckScheduled
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import Clock, ManualClock, SystemClock
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.local.runtime import free_port, wait_for_port
from services.patrol import app as patrol_app
from services.patrol import store as patrol_store
from services.web import accounts
from services.web.app import create_app
from tests.integration.conftest import running, wait_until

pytestmark = pytest.mark.nats

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # Monday 09:30 in Chicago
SERVICE = {"kind": "service", "id": "patrol"}


@asynccontextmanager
async def serve_web(settings: Settings, suite_clock: Clock) -> AsyncIterator[Any]:
    """The web app under uvicorn on settings.web_port (sessions on the wall clock, events and
    the suite's time on `suite_clock`); stopped as `lookout run web` stops it."""
    import uvicorn

    app = create_app(settings, SystemClock(), suite_clock)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=settings.web_host, port=settings.web_port, log_config=None, lifespan="on"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the web service did not start"
        await asyncio.sleep(0.05)
    try:
        yield app
    finally:
        app.state.live.end_all("stopping")  # as serve()'s stop() does before uvicorn stops
        server.should_exit = True
        await task


def two_schools(tmp_path: Path) -> str:
    """Lakeside with a second SSO, and Meadow High: the same file (and person ids) elsewhere."""
    lhs = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    lhs["people"].append({"id": "sso-kim", "name": "Jo Kim", "roles": ["sso"]})
    mhs = dict(lhs, id="mhs", name="Meadow High School")
    paths = []
    for school in (lhs, mhs):
        path = tmp_path / f"{school['id']}.yaml"
        path.write_text(yaml.safe_dump(school), encoding="utf-8")
        paths.append(str(path))
    return ",".join(paths)


@pytest.fixture
def settings(nats_server: Any, tmp_path: Path) -> Settings:
    port = free_port()
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        schools=two_schools(tmp_path),
        web_host="127.0.0.1",
        web_port=port,
        timers_enabled=False,
    )


@pytest.fixture
async def nc(nats_server: Any) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    yield client
    await client.close()


class Phone:
    """One signed-in person's HTTP client (the session cookie sent by hand: Python's cookie
    jar keeps a Secure cookie off plain http://127.0.0.1, which browsers treat as secure)."""

    def __init__(self, base: str, cookie: str, csrf: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base,
            headers={"Origin": base, "Cookie": cookie, "X-CSRF-Token": csrf},
            timeout=10,
        )

    @classmethod
    async def sign_in(cls, settings: Settings, person: str, school: str = "lhs") -> Phone:
        base = settings.web_url()
        link = await accounts.issue_link(
            settings, SystemClock(), school_id=school, person_id=person
        )
        async with httpx.AsyncClient(headers={"Origin": base}) as anonymous:
            signed = await anonymous.post(link)
            assert signed.status_code == 303, signed.text
            cookie = signed.headers["set-cookie"].split(";")[0]
            page = await anonymous.get(f"{base}/app", headers={"Cookie": cookie})
        csrf = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        return cls(base, cookie, csrf)

    @asynccontextmanager
    async def live(self) -> AsyncIterator[Stream]:
        async with self.client.stream("GET", "/api/v1/live") as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = Stream(response)
            assert await stream.next() == ("hello", {})
            yield stream

    async def close(self) -> None:
        await self.client.aclose()


class Stream:
    """Reads a text/event-stream one event at a time (pings are comments, skipped)."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self, within: float = 5.0) -> tuple[str, Any]:
        event, data = "message", []
        async with asyncio.timeout(within):
            async for line in self.lines:
                if line == "":
                    if data:
                        return event, json.loads("\n".join(data))
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)
        raise AssertionError("the stream ended")


def check(school: str, officer: str, zone: str, minute: int) -> UnannouncedCheckScheduled:
    start = NOW + timedelta(minutes=minute)
    return UnannouncedCheckScheduled.new(
        school_id=school,
        occurred_at=NOW,
        actor=SERVICE,
        officer_id=officer,
        zone_id=zone,
        check_at=start,
        window_end=start + timedelta(minutes=10),
    )


def pushed(event: UnannouncedCheckScheduled) -> tuple[str, dict[str, str]]:
    return (
        "unannounced_check",
        {
            "event_id": str(event.event_id),
            "zone_id": event.zone_id,
            "check_at": event.check_at.isoformat().replace("+00:00", "Z"),
            "window_end": event.window_end.isoformat().replace("+00:00", "Z"),
        },
    )


async def publish(nc: Client, event: Event) -> None:
    """Through JetStream, as the patrol service's relay publishes it."""
    await nc.jetstream().publish(
        subject_of(event),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(event.event_id)},
    )


async def test_an_unannounced_check_reaches_its_officer_only_and_only_in_their_school(
    settings: Settings, nc: Client
) -> None:
    await ensure_streams(settings)
    async with serve_web(settings, ManualClock(NOW)) as app:
        rivera = await Phone.sign_in(settings, "sso-rivera")
        kim = await Phone.sign_in(settings, "sso-kim")
        meadow_rivera = await Phone.sign_in(settings, "sso-rivera", school="mhs")
        async with rivera.live() as a, kim.live() as b, meadow_rivera.live() as c:
            for_rivera = check("lhs", "sso-rivera", "stair-east", 30)
            for_kim = check("lhs", "sso-kim", "gym", 40)
            await publish(nc, for_rivera)
            await publish(nc, for_kim)
            assert await a.next() == pushed(for_rivera)
            # Same subscription, in order: had Rivera's check reached Kim it would come first.
            assert await b.next() == pushed(for_kim)

            # The same person id at Meadow High: pushed there only. Once Meadow's stream has
            # it, a leak to Lakeside would already be queued before the next Lakeside push.
            at_meadow = check("mhs", "sso-rivera", "stair-west", 50)
            await publish(nc, at_meadow)
            assert await c.next() == pushed(at_meadow)
            marker = check("lhs", "sso-rivera", "bath-gym-boys", 60)
            await publish(nc, marker)
            assert await a.next() == pushed(marker)

            # A window closing changes every Lakeside officer's Today: a nudge, no data.
            closed = CheckWindowClosed.new(
                school_id="lhs", occurred_at=NOW, actor=SERVICE, zone_id="hall-1-north",
                window_start=NOW - timedelta(minutes=10), window_end=NOW, outcome="missed",
                unannounced=False, period="pass-2",
            )  # fmt: skip
            await publish(nc, closed)
            assert await a.next() == ("today", {"because": "check.window_closed"})
            assert await b.next() == ("today", {"because": "check.window_closed"})
            assert app.state.live.count("lhs", "sso-rivera") == 1
        for phone in (rivera, kim, meadow_rivera):
            await phone.close()
        await wait_until(_no_streams(app), what="the closed streams to leave the hub", within=5.0)


def _no_streams(app: Any) -> Any:
    async def check() -> bool:
        return app.state.live.streams == {}

    return check


async def test_a_persons_streams_are_bounded_the_oldest_is_ended(settings: Settings) -> None:
    async with serve_web(settings, ManualClock(NOW)) as app:
        rivera = await Phone.sign_in(settings, "sso-rivera")
        async with rivera.live() as first, rivera.live(), rivera.live():
            assert app.state.live.count("lhs", "sso-rivera") == 3
            async with rivera.live():
                assert await first.next() == ("ended", {"reason": "replaced"})
                assert app.state.live.count("lhs", "sso-rivera") == 3
        await rivera.close()


async def test_only_an_sso_signed_in_gets_today_and_the_stream(settings: Settings) -> None:
    async with serve_web(settings, ManualClock(NOW)):
        principal = await Phone.sign_in(settings, "principal-okafor")
        for path in ("/api/v1/today", "/api/v1/live"):
            refused = await principal.client.get(path)
            assert (refused.status_code, refused.headers["content-type"]) == (
                403,
                "application/problem+json",
            )
            assert refused.json()["detail"] == "role: does not ask the patrol service"
            async with httpx.AsyncClient(base_url=settings.web_url()) as anonymous:
                assert (await anonymous.get(path)).status_code == 401
        await principal.close()


async def test_today_asks_patrol_as_the_signed_in_officer_and_503_without_it(
    settings: Settings,
) -> None:
    clock = ManualClock(NOW)
    async with serve_web(settings, clock):
        rivera = await Phone.sign_in(settings, "sso-rivera")
        # No patrol service: a problem, at once (no responders), the phone keeps its copy.
        unanswered = await rivera.client.get("/api/v1/today")
        assert unanswered.status_code == 503
        assert unanswered.headers["content-type"] == "application/problem+json"
        assert unanswered.json()["title"] == "Patrol service unavailable"

        patrol = patrol_app.create_kernel(settings, clock)
        async with running(patrol, patrol_app.build_app):
            async with patrol.sessions.begin() as session:
                await session.execute(
                    insert(patrol_store.check_windows),
                    [
                        {
                            "school_id": "lhs",
                            "zone_id": "bath-1n-boys",
                            "window_start": NOW + timedelta(minutes=2),
                            "window_end": NOW + timedelta(minutes=9),
                            "deadline_at": NOW + timedelta(minutes=12),
                            "period": "pass-2",
                            "unannounced": False,
                            "status": "open",
                        }
                    ],
                )
            # The heartbeat as the phone sends it: no device or officer id, the session's.
            beat = {
                "event_id": str(uuid.uuid4()),
                "type": "device.heartbeat",
                "schema_version": 1,
                "school_id": "lhs",
                "occurred_at": NOW.isoformat(),
                "actor": {"kind": "sso_device", "id": "phone-rivera-1"},
            }
            sent = await rivera.client.post(
                "/api/v1/events", json={"device_id": "phone-rivera-1", "events": [beat]}
            )
            assert sent.json()["results"][0]["status"] == "stored", sent.text
            await wait_until(lambda: _device_of(patrol, "phone-rivera-1"), what="the binding")

            today = await rivera.client.get("/api/v1/today")
            assert today.status_code == 200, today.text
            assert today.json() == {
                "as_of": "2026-11-23T15:30:00Z",
                "day": "2026-11-23",
                "officer_id": "sso-rivera",
                "windows": [
                    {
                        "zone_id": "bath-1n-boys",
                        "window_start": "2026-11-23T15:32:00Z",
                        "window_end": "2026-11-23T15:39:00Z",
                        "deadline_at": "2026-11-23T15:42:00Z",
                        "period": "pass-2",
                        "checked": False,
                    }
                ],
                "windows_total": 1,
                "unannounced": [],
                "unannounced_total": 0,
                "follow_ups": [],
                "follow_ups_total": 0,
                "concerns": [],
                "concerns_total": 0,
                "paged": [],
                "paged_total": 0,
                "sensor_checks": [],
                "sensor_checks_total": 0,
                "heartbeat_seconds": 200,  # a third of Lakeside's 10-minute lone-worker limit
                "names": {},  # nobody is mentioned: no alert of a concern
            }
        await rivera.close()


async def _device_of(patrol: ServiceKernel, device_id: str) -> bool:
    async with patrol.sessions() as session:
        rows = await session.execute(
            select(patrol_store.devices.c.school_id, patrol_store.devices.c.officer_id).where(
                patrol_store.devices.c.device_id == device_id
            )
        )
        found = [tuple(r) for r in rows]
    if found:
        assert found == [("lhs", "sso-rivera")]
    return bool(found)


async def test_sigterm_ends_open_streams_and_lookout_run_web_exits_0(
    nats_server: Any, tmp_path: Path
) -> None:
    """uvicorn waits for open responses before it stops: the streams are ended first."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        LOOKOUT_NATS_URL=nats_server.url,
        LOOKOUT_DATA_DIR=str(tmp_path),
        LOOKOUT_WEB_PORT=str(port),
    )
    proc = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "lookout.cli", "run", "web"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        await asyncio.to_thread(wait_for_port, port, timeout=30, proc=proc)
        settings = Settings(data_dir=tmp_path, nats_url=nats_server.url, web_port=port)
        assert settings.web_url() == base
        rivera = await Phone.sign_in(settings, "sso-rivera")
        async with rivera.live() as stream:
            proc.send_signal(signal.SIGTERM)
            assert await stream.next(within=10) == ("ended", {"reason": "stopping"})
        await rivera.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        output = (await asyncio.to_thread(proc.communicate, timeout=30))[0].decode()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
