"""Today's sensor alerts on the console's "School now", against a real nats-server with the real
patrol service (clock stopped at Monday 23 November 2026, 08:00 at Lakeside) and the web app:
`GET /api/v1/console/now` asks patrol's `sensor_checks` and says per kind how many alerts,
how many checked within the school's 5 minutes, the median response and how many are not
checked yet. Counted by hand (Chicago times):

| alert | sensor          | kind | raised | zone scanned | s   | in time |
|-------|-----------------|------|--------|--------------|-----|---------|
| A     | halo-1n-boys    | vape | 07:00  | 07:01:40     | 100 | yes     |
| B     | halo-1n-girls   | vape | 07:10  | 07:13:40     | 220 | yes     |
| D     | halo-1n-girls   | thc  | 07:30  | 07:41:00     | 660 | no      |
| C     | verkada-2s-boys | vape | 07:58  | —            |     | (due 08:03) |
| E     | halo-1n-boys    | vape | Fri 20 | —            |     | yesterday's school day |

Vape: 3 today, 2 within 5 min, median (100 + 220) / 2 = 160 s = 2:40, 1 not checked yet;
THC: 1, 0 within, median 11:00. E was raised on Friday: not today's.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import pytest
from nats.js import JetStreamContext

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import CheckpointScanned
from lookout.contracts.sensors import SensorAlertRaised
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from tests.integration.conftest import consumer_drained, wait_until
from tests.integration.test_web_alerts import PRINCIPAL, SSO_DEVICE, consoles
from tests.integration.test_web_console_overview import (
    alerts,
    alerts_db,
    chicago,
    clock,
    migrated_alerts_db,
    patrol,
    publish,
    settings,
)

__all__ = ["alerts", "alerts_db", "clock", "migrated_alerts_db", "patrol", "settings"]

pytestmark = pytest.mark.nats

EXPECTED_WORDS = [
    "Vape alerts today: 3, checked within 5 min: 2, median 2:40; 1 not checked yet",
    "THC alerts today: 1, checked within 5 min: 0, median 11:00",
]
ZONES = {"halo-1n-boys": "bath-1n-boys", "halo-1n-girls": "bath-1n-girls"}
ZONES["verkada-2s-boys"] = "bath-2s-boys"


def raised(sensor: str, kind: str, at: datetime) -> Event:
    vendor = "verkada" if sensor.startswith("verkada") else "halo"
    return SensorAlertRaised.new(
        school_id="lhs", occurred_at=at, actor={"kind": "sensor", "id": sensor},
        sensor_id=sensor, zone_id=ZONES[sensor], kind=kind, vendor=vendor,
    )  # fmt: skip


def scanned(zone: str, tag: str, at: datetime) -> Event:
    return CheckpointScanned.new(
        school_id="lhs", occurred_at=at, actor=SSO_DEVICE, zone_id=zone,
        checkpoint_tag=tag, method="nfc",
    )  # fmt: skip


def at(day: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return chicago(day, hh, mm).replace(second=ss)


async def seed_sensors(js: JetStreamContext) -> None:
    """The table above: scans first (so no alert waits on another stream), then the alerts."""
    for event in [
        scanned("bath-1n-boys", "T-1NB", at(23, 7, 1, 40)),
        scanned("bath-1n-girls", "T-1NG", at(23, 7, 13, 40)),
        scanned("bath-1n-girls", "T-1NG", at(23, 7, 41)),
    ]:
        await publish(js, event)
    await wait_until(lambda: consumer_drained(js, "PATROL", "patrol-patrol"), what="scans")
    for event in [
        raised("halo-1n-boys", "vape", at(20, 13, 0)),
        raised("halo-1n-boys", "vape", at(23, 7, 0)),
        raised("halo-1n-girls", "vape", at(23, 7, 10)),
        raised("halo-1n-girls", "thc", at(23, 7, 30)),
        raised("verkada-2s-boys", "vape", at(23, 7, 58)),
    ]:
        await publish(js, event)
    await wait_until(lambda: consumer_drained(js, "SENSORS", "patrol-sensors"), what="alerts")


async def test_todays_sensor_alerts_by_kind_on_school_now(
    settings: Settings,
    clock: ManualClock,
    alerts: ServiceKernel,
    patrol: ServiceKernel,
    js: JetStreamContext,
) -> None:
    assert clock.now() == datetime.combine(clock.now().date(), time(14), tzinfo=UTC)
    async with consoles(settings, clock, (PRINCIPAL, "lhs")) as (principal,):
        before = (await principal.get("/api/v1/console/now")).json()
        assert (before["sensors"], before["sensors_configured"]) == ([], True)
        await seed_sensors(js)
        now = await principal.get("/api/v1/console/now")
        assert now.status_code == 200, now.text
        sensors: list[dict[str, Any]] = now.json()["sensors"]
    assert [s["words"] for s in sensors] == EXPECTED_WORDS
    assert [
        (s["sensor_kind"], s["alerts"], s["checked_in_time"], s["median_seconds"], s["unchecked"])
        for s in sensors
    ] == [("vape", 3, 2, 160, 1), ("thc", 1, 0, 660, 0)]
