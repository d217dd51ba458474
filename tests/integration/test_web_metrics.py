"""The web service's metrics (services/web/metrics.py) on a real nats-server and SQLite file:
what each request was answered, counted by route template (never the path: a sign-in link's
token), phone events by receipt, sign-in failures and lockouts — served at `/metrics` on the
health port only, and a 404 problem on the public port. `lookout run web` on real ports:
an SSE stream counts while it is open, and a malformed request to the health port gets 400."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.local.runtime import free_port, wait_for_port
from services.web import accounts
from services.web.app import create_app
from services.web.metrics import health_port
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.nats

BASE = "https://lookout.test"
T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
SSO = "sso-rivera"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def samples(text: str, prefix: str = "lookout_web_") -> list[str]:
    """The sample lines of the web's own metrics, in exposition order (no `_created`)."""
    return [
        line
        for line in text.splitlines()
        if line.startswith(prefix) and not line.split("{")[0].split(" ")[0].endswith("_created")
    ]


@asynccontextmanager
async def web_and_health(
    settings: Settings, clock: ManualClock
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """The public app and what its health port serves, both over the app's lifespan."""
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        public = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE, headers={"Origin": BASE}
        )
        health = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=health_port(app)), base_url="http://health"
        )
        async with public, health:
            yield public, health


def scan(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "checkpoint.scanned",
        "occurred_at": T0.isoformat(),
        "zone_id": "main-office",
        "checkpoint_tag": "T-OFC",
        "method": "qr",
    }


async def test_the_health_port_counts_answers_by_route_template_and_receipt(
    nats_server: Any, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path, nats_url=nats_server.url, schools=str(EXAMPLE_SCHOOL),
        web_base_url=BASE, web_behind_proxy=True,
    )  # fmt: skip
    clock = ManualClock(T0)
    await accounts.set_password(
        settings, clock, school_id="lhs", person_id=SSO, password="pw-right-1"
    )
    link = await accounts.issue_link(settings, clock, school_id="lhs", person_id=SSO)
    token = link.rsplit("/", 1)[1]
    async with web_and_health(settings, clock) as (public, health):
        before = await health.get("/metrics")
        assert before.headers["content-type"].startswith("text/plain; version=")
        # The sensor ingress's series (tests/integration/test_web_sensors.py) all start at 0.
        sensors = samples(before.text, "lookout_web_sensor_")
        assert len(sensors) == 23 and all(line.endswith(" 0.0") for line in sensors)
        assert [s for s in samples(before.text) if s not in sensors] == [
            'lookout_web_events_total{outcome="stored"} 0.0',
            'lookout_web_events_total{outcome="duplicate"} 0.0',
            'lookout_web_events_total{outcome="rejected"} 0.0',
            'lookout_web_signin_failures_total{method="password"} 0.0',
            'lookout_web_signin_failures_total{method="link"} 0.0',
            'lookout_web_signin_failures_total{method="oidc"} 0.0',
            "lookout_web_signin_lockouts_total 0.0",
            "lookout_web_sse_connections 0.0",
        ]

        assert (await public.get(f"/signin/{token}")).status_code == 200  # the page: unused
        assert (await public.post(f"/signin/{token}")).status_code == 303
        assert (await public.post(f"/signin/{token}")).status_code == 404  # used: a failure
        page = await public.get("/app")
        csrf = CSRF_META.search(page.text)
        assert csrf is not None
        post = {"headers": {"X-CSRF-Token": csrf.group(1)}}
        one = "7a0c1f52-3b7e-4f0e-9d55-0c5b1c1f0a01"
        first = await public.post(
            "/api/v1/events",
            json={"device_id": "phone-1", "events": [scan(one), {"type": "no.such"}]},
            **post,
        )
        assert [r["status"] for r in first.json()["results"]] == ["stored", "rejected"]
        again = await public.post(
            "/api/v1/events", json={"device_id": "phone-1", "events": [scan(one)]}, **post
        )
        assert [r["status"] for r in again.json()["results"]] == ["duplicate"]
        form = {"school": "lhs", "person": SSO, "password": "wrong"}
        for _ in range(5):
            assert (await public.post("/signin", data=form)).status_code == 401
        assert (
            await public.post("/signin", data=form | {"password": "pw-right-1"})
        ).status_code == 429

        # /metrics is not on the public port: a problem, like any unknown path.
        missing = await public.get("/metrics")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json() == {"type": "about:blank", "title": "Not found", "status": 404}

        after = await health.get("/metrics")
        assert after.status_code == 200
        assert [s for s in samples(after.text) if s not in sensors] == [
            'lookout_web_requests_total{method="GET",route="/signin/{token}",status="2xx"} 1.0',
            'lookout_web_requests_total{method="POST",route="/signin/{token}",status="3xx"} 1.0',
            'lookout_web_requests_total{method="POST",route="/signin/{token}",status="4xx"} 1.0',
            'lookout_web_requests_total{method="GET",route="/app",status="2xx"} 1.0',
            'lookout_web_requests_total{method="POST",route="/api/v1/events",status="2xx"} 2.0',
            'lookout_web_requests_total{method="POST",route="/signin",status="4xx"} 6.0',
            'lookout_web_requests_total{method="GET",route="unrouted",status="4xx"} 1.0',
            'lookout_web_events_total{outcome="stored"} 1.0',
            'lookout_web_events_total{outcome="duplicate"} 1.0',
            'lookout_web_events_total{outcome="rejected"} 1.0',
            'lookout_web_signin_failures_total{method="password"} 5.0',
            'lookout_web_signin_failures_total{method="link"} 1.0',
            'lookout_web_signin_failures_total{method="oidc"} 0.0',
            "lookout_web_signin_lockouts_total 1.0",
            "lookout_web_sse_connections 0.0",
        ]
        assert token not in after.text

        # `name[]` narrows the answer, as on every service's health port.
        only = await health.get("/metrics", params={"name[]": "lookout_web_signin_lockouts_total"})
        assert samples(only.text) == ["lookout_web_signin_lockouts_total 1.0"]
        # The health port serves the probes and the metrics, nothing else of the app.
        assert (await health.get("/readyz")).json() == {"ready": True}
        elsewhere = await health.get("/app")
        assert (elsewhere.status_code, elsewhere.json()["title"]) == (404, "Not found")


def test_run_web_metrics_on_the_health_port_and_a_malformed_request(
    nats_server: Any, tmp_path: Path
) -> None:
    port, health = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        LOOKOUT_NATS_URL=nats_server.url,
        LOOKOUT_DATA_DIR=str(tmp_path),
        LOOKOUT_WEB_PORT=str(port),
        LOOKOUT_HEALTH_PORT=str(health),
        LOOKOUT_HEALTH_HOST="127.0.0.1",
    )
    link = subprocess.run(
        [sys.executable, "-m", "lookout.cli", "users", "link", SSO, "--school", "lhs"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert link.returncode == 0, link.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookout.cli", "run", "web"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=30, proc=proc)
        wait_for_port(health, timeout=30, proc=proc)
        asyncio.run(_exercise(base, f"http://127.0.0.1:{health}", link.stdout.strip(), health))
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    assert link.stdout.strip().rsplit("/", 1)[1] not in output  # the token is never logged


async def _exercise(base: str, health_url: str, link: str, health_port_number: int) -> None:
    def sse_open(text: str) -> list[str]:
        return samples(text, "lookout_web_sse_connections ")

    async with (
        httpx.AsyncClient(base_url=base, headers={"Origin": base}) as public,
        httpx.AsyncClient(base_url=health_url) as health,
    ):
        signed_in = await public.post(link.removeprefix(base))
        assert signed_in.status_code == 303
        session = signed_in.headers["set-cookie"].split(";")[0]
        cookie = {"Cookie": session}  # Secure on a loopback base URL: sent by hand

        missing = await public.get("/metrics")
        assert (missing.status_code, missing.json()["title"]) == (404, "Not found")
        metrics = await health.get("/metrics")
        assert metrics.status_code == 200
        assert [line for line in samples(metrics.text) if "signin/" in line] == [
            'lookout_web_requests_total{method="POST",route="/signin/{token}",status="3xx"} 1.0'
        ]

        async with public.stream("GET", "/api/v1/live", headers=cookie) as stream:
            assert stream.status_code == 200
            assert sse_open((await health.get("/metrics")).text) == [
                "lookout_web_sse_connections 1.0"
            ]

        async def closed() -> bool:
            return sse_open((await health.get("/metrics")).text) == [
                "lookout_web_sse_connections 0.0"
            ]

        await wait_until(closed, what="the SSE stream counted as closed")

    # A malformed request to the health port: uvicorn's 400, and the port goes on answering.
    reader, writer = await asyncio.open_connection("127.0.0.1", health_port_number)
    writer.write(b"BROKEN\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer[:80]
    async with httpx.AsyncClient(base_url=health_url) as health:
        assert (await health.get("/healthz")).status_code == 200
