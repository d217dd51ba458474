"""A visitor nobody saw leave stays under the console's "Needs your attention" until someone
found out where they went: against a real nats-server, the real alerts service (and the patrol
service, which the list also asks), a `visitor.unaccounted` opens a high alert, listed as not
acknowledged; once acknowledged it is still listed, as a visitor unaccounted for with who has
it, until it is resolved."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext

from lookout.contracts.subjects import subject_of
from lookout.contracts.visitors import VisitorUnaccounted
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from tests.integration.conftest import wait_until
from tests.integration.test_web_alerts import (
    PRINCIPAL,
    T0,
    alerts,
    alerts_db,
    clock,
    consoles,
    migrated_alerts_db,
    open_count,
    settings,
)
from tests.integration.test_web_console_overview import patrol

__all__ = ["alerts", "alerts_db", "clock", "migrated_alerts_db", "patrol", "settings"]

pytestmark = pytest.mark.nats


async def test_a_visitor_unaccounted_for_stays_on_the_attention_list_until_resolved(
    settings: Settings,
    clock: ManualClock,
    alerts: ServiceKernel,
    patrol: ServiceKernel,
    js: JetStreamContext,
) -> None:
    closed = T0 - timedelta(hours=14)  # Sunday 18:00 at Lakeside: the day's automatic close
    event = VisitorUnaccounted.new(
        school_id="lhs", occurred_at=closed, actor={"kind": "service", "id": "visitors"},
        visit_id=uuid.uuid4(), badge_number="V-0042", expected_until=closed - timedelta(hours=3),
        checked_out_at=closed, last_seen_zone="gym", last_seen_at=closed - timedelta(hours=4),
    )  # fmt: skip
    await js.publish(
        subject_of(event),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(event.event_id)},
    )
    async with consoles(settings, clock, (PRINCIPAL, "lhs")) as (okafor,):

        async def opened() -> bool:
            return await open_count(okafor) == 1

        await wait_until(opened, what="the unaccounted visitor's alert")

        async def attention() -> list[dict[str, Any]]:
            answer = await okafor.get("/api/v1/console/attention")
            assert answer.status_code == 200, answer.text
            return [
                {k: v for k, v in item.items() if k in ("kind", "what", "zone_name", "owner")}
                for item in answer.json()["items"]
            ]

        assert [i["kind"] for i in await attention()] == ["alert"]
        alert_id = (await okafor.get("/api/v1/alerts")).json()["alerts"][0]["alert_id"]
        assert (await okafor.post(f"/api/v1/alerts/{alert_id}/ack")).status_code == 200
        assert await attention() == [
            {
                "kind": "visitor",
                "what": "Visitor unaccounted for: nobody saw them leave before the day ended",
                "zone_name": "Gymnasium",  # where the SSO last saw the badge
                "owner": "Ada Okafor",  # who acknowledged it
            }
        ]
        resolved = await okafor.post(
            f"/api/v1/alerts/{alert_id}/resolve", {"note": "Called the visitor: left by the gym"}
        )
        assert resolved.status_code == 200, resolved.text
        assert await attention() == []
