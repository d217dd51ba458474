"""A vape sensor's alert, end to end on a real nats-server with the web app, the patrol and the
alerts services in process (one clock, stopped at Monday 23 November 2026, 08:00 at Lakeside):

- the HALO in the 1st floor north boys' bathroom posts its "set" to the web's ingress (its
  token in the path), which answers after the PubAck;
- the patrol service asks the SSO on duty (the SSO's Today: hers, scan by 08:05);
- 08:06 and nobody scanned: the alerts service opens a `sensor_unchecked` alert under the
  example school's `sensor-unchecked` policy, telling the assistant principal and the SSO;
- 08:07 the SSO scans the bathroom's checkpoint: the check is done (7 minutes, late), the
  alert resolves, and her Today has nothing left to check."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from lookout.contracts.patrol import CheckpointScanned
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from lookout.local.runtime import free_port
from services.web.app import create_app
from tests.integration.conftest import wait_until
from tests.integration.test_web_alerts import (
    BASE,
    PRINCIPAL,
    SSO,
    T0,
    Console,
    alerts,
    alerts_db,
    clock,
    migrated_alerts_db,
    schools_without_email,
)
from tests.integration.test_web_console_overview import patrol, publish

__all__ = ["alerts", "alerts_db", "clock", "migrated_alerts_db", "patrol"]

pytestmark = pytest.mark.nats

SENSOR_SECRET = "sensor-secret-for-the-end-to-end-test-0123"


def halo_token(sensor_id: str) -> str:
    """The documented token, by hand: HMAC-SHA256 of `halo|<school>|<sensor>`."""
    mac = hmac.new(SENSOR_SECRET.encode(), f"halo|lhs|{sensor_id}".encode(), hashlib.sha256)
    return f"lhs.{sensor_id}." + base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


@pytest.fixture
def settings(nats_server: Any, tmp_path: Path, alerts_db: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        schools=schools_without_email(tmp_path),
        alerts_db_url=alerts_db,
        web_base_url=BASE,
        web_behind_proxy=True,
        web_host="127.0.0.1",
        web_port=free_port(),
        timers_enabled=False,
        sensor_secret=SENSOR_SECRET,  # type: ignore[arg-type]
    )


@pytest.fixture
async def web(settings: Settings, clock: ManualClock) -> AsyncIterator[Any]:
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        yield app


async def signed_in(app: Any, settings: Settings, clock: ManualClock, person: str) -> Console:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE, headers={"Origin": BASE}
    )
    console = Console(client)
    await console.sign_in(settings, clock, person, "lhs")
    return console


async def test_a_vape_alert_nobody_checks_escalates_and_the_late_scan_resolves_it(
    settings: Settings,
    clock: ManualClock,
    alerts: ServiceKernel,
    patrol: ServiceKernel,
    web: Any,
    js: JetStreamContext,
) -> None:
    principal = await signed_in(web, settings, clock, PRINCIPAL)
    sso = await signed_in(web, settings, clock, SSO)
    halo = httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url=BASE)
    try:
        answer = await halo.post(
            f"/sensors/halo/{halo_token('halo-1n-boys')}",
            json={"name": "HALO 1N Boys", "mac": "00:1A:2B:3C:4D:01", "eid": "Vape",
                  "date": "11/23/2026", "time": "07:59:51", "state": "set"},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "stored"
        sensor_event_id = answer.json()["event_id"]

        async def to_check() -> list[dict[str, Any]]:
            today = await sso.get("/api/v1/today")
            assert today.status_code == 200, today.text
            return list(today.json()["sensor_checks"])

        await wait_until(to_check, what="the sensor check on the SSO's Today")
        assert await to_check() == [
            {
                "sensor_event_id": sensor_event_id,
                "zone_id": "bath-1n-boys",
                "sensor_kind": "vape",
                "raised_at": "2026-11-23T14:00:00Z",
                "check_by": "2026-11-23T14:05:00Z",
                "overdue": False,
                "mine": True,  # the only SSO on duty
            }
        ]

        # 08:06: nobody scanned the bathroom.
        clock.set(T0 + timedelta(minutes=6))
        assert patrol.ticker is not None
        assert (await patrol.ticker.tick())["sensor_check_deadlines"] == 1

        async def board() -> list[dict[str, Any]]:
            listed = (await principal.get("/api/v1/alerts")).json()
            return [a for a in listed.get("alerts", []) if a["source"] == "sensor_unchecked"]

        await wait_until(board, what="the sensor_unchecked alert on the board")
        (alert,) = await board()
        assert {k: alert[k] for k in ("category", "severity", "zone_id", "policy", "status")} == {
            "category": "sensor_unchecked",
            "severity": "medium",
            "zone_id": "bath-1n-boys",
            "policy": "sensor-unchecked",
            "status": "open",
        }
        assert sorted(n["person_id"] for n in alert["notified"]) == ["ap-chen", SSO]

        # 08:07: she scans the bathroom's checkpoint.
        clock.set(T0 + timedelta(minutes=7))
        scan = CheckpointScanned.new(
            school_id="lhs", occurred_at=clock.now(), actor={"kind": "staff", "id": SSO},
            zone_id="bath-1n-boys", checkpoint_tag="T-1NB", method="nfc",
        )  # fmt: skip
        await publish(js, scan)

        async def resolved() -> bool:
            return await board() == [] and await to_check() == []

        await wait_until(resolved, what="the alert resolved and nothing left to check")
        shown = await principal.get(f"/api/v1/alerts/{alert['alert_id']}")
        assert shown.status_code == 200, shown.text
        closed = shown.json()["alert"]
        assert (closed["status"], closed["resolved_at"], closed["resolved_by"]) == (
            "resolved",
            "2026-11-23T14:07:00Z",
            "patrol",  # the patrol service's sensor_check.done closed it
        )
        assert [e["kind"] for e in shown.json()["timeline"]][-1] == "resolved"
    finally:
        await halo.aclose()
        for console in (principal, sso):
            await console.client.aclose()
