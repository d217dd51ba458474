"""The alert board asks the alerts service one question per refresh, whatever its size: the
list carries each alert's notifications (`with_notified`), so a refresh reads no alert through
the access-logged `show` — the alerts service's access log then says who opened an alert's
timeline, not how often a console refreshed. Against a real nats-server and the real alerts
service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext
from sqlalchemy import select

from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.alerts import store
from tests.integration.conftest import wait_until
from tests.integration.test_web_alerts import (
    PRINCIPAL,
    T0,
    alerts,
    alerts_db,
    clock,
    concern,
    consoles,
    migrated_alerts_db,
    open_count,
    raise_concern,
    settings,
)

__all__ = ["alerts", "alerts_db", "clock", "migrated_alerts_db", "settings"]  # fixtures

pytestmark = pytest.mark.nats


async def reads(alerts: ServiceKernel) -> list[tuple[str, str]]:
    async with alerts.sessions() as session:
        rows = await session.execute(select(store.access_log.c.person_id, store.access_log.c.query))
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_a_board_refresh_reads_no_alert_and_names_who_was_told(
    settings: Settings, clock: ManualClock, alerts: ServiceKernel, js: JetStreamContext
) -> None:
    async with consoles(settings, clock, (PRINCIPAL, "lhs")) as (okafor,):
        for category, zone in (("weapon", "gym"), ("intruder", "entrance-east")):
            await raise_concern(js, concern("critical", category, zone, T0))

        async def both() -> bool:
            return await open_count(okafor) == 2

        await wait_until(both, what="both alerts open")
        for _ in range(3):
            board = (await okafor.get("/api/v1/alerts")).json()
        # By hand from the school file: critical → step 0 tells the SSO and the principal.
        told: list[Any] = [sorted(n["name"] for n in a["notified"]) for a in board["alerts"]]
        assert told == [["Ada Okafor", "Dana Rivera"], ["Ada Okafor", "Dana Rivera"]]
        assert await reads(alerts) == []  # three refreshes of two cards: nothing read
        shown = await okafor.get(f"/api/v1/alerts/{board['alerts'][0]['alert_id']}")
        assert shown.status_code == 200
        assert await reads(alerts) == [(PRINCIPAL, "show")]  # opening one is on the log


async def test_closed_today_lists_todays_resolutions_last_first_and_not_yesterdays(
    settings: Settings, clock: ManualClock, alerts: ServiceKernel, js: JetStreamContext
) -> None:
    async with consoles(settings, clock, (PRINCIPAL, "lhs")) as (okafor,):
        for category, zone in (("weapon", "gym"), ("intruder", "entrance-east")):
            await raise_concern(js, concern("critical", category, zone, T0))

        async def both() -> bool:
            return await open_count(okafor) == 2

        await wait_until(both, what="both alerts open")
        by_category = {
            a["category"]: a["alert_id"]
            for a in (await okafor.get("/api/v1/alerts")).json()["alerts"]
        }
        note = {"note": "Checked with the SSO"}
        # Monday 08:00 at Lakeside: the weapon; 08:05: the intruder.
        assert (
            await okafor.post(f"/api/v1/alerts/{by_category['weapon']}/resolve", note)
        ).is_success
        clock.advance(timedelta(minutes=5))
        assert (
            await okafor.post(f"/api/v1/alerts/{by_category['intruder']}/resolve", note)
        ).is_success
        answer = await okafor.get("/api/v1/console/closed")
        assert answer.status_code == 200, answer.text
        closed = answer.json()
        assert [(a["what"], a["resolved_at"]) for a in closed["alerts"]] == [
            ("intruder concern", "2026-11-23T14:05:00Z"),
            ("weapon concern", "2026-11-23T14:00:00Z"),
        ]
        # The next day at 07:00 nothing was resolved yet that day.
        clock.advance(timedelta(hours=23))
        await okafor.sign_in(settings, clock, PRINCIPAL, "lhs")  # yesterday's session ended
        answer = await okafor.get("/api/v1/console/closed")
        assert answer.status_code == 200, answer.text
        closed = answer.json()
        assert (closed["alerts"], closed["since"]) == ([], "2026-11-24T06:00:00Z")
