"""Every consumer judges an event the same way (issue 13, item 3).

Patrol, alerts and reports run on a real nats-server and read the same concerns. Before, a
concern in a zone the school does not have was dead-lettered by patrol while alerts opened an
alert for it and reports counted it; a concern reusing an earlier concern's event id was a
duplicate to some and news to others. Now each is refused by all three, on its first delivery,
with the same reason, and only the valid concern behind them is applied everywhere.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from sqlalchemy import Table, select

from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.alerts import app as alerts_app
from services.alerts import store as alerts_store
from services.patrol import app as patrol_app
from services.patrol import store as patrol_store
from services.reports import app as reports_app
from services.reports import store as reports_store
from tests.integration.conftest import consumer_drained, running, wait_until

pytestmark = pytest.mark.nats

T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # a Saturday: no check windows, no timers
ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
DURABLES = ("patrol-concerns", "alerts-concerns", "reports-concerns")


def concern(**fields: Any) -> ConcernRaised:
    values: dict[str, Any] = {
        "school_id": "lhs", "occurred_at": T0, "actor": ACTOR, "concern_id": uuid.uuid4(),
        "category": "conflict", "severity": "high", "zone_id": "cafeteria",
    }  # fmt: skip
    return ConcernRaised.new(**(values | fields))


async def publish(js: JetStreamContext, event: ConcernRaised) -> None:
    await js.publish(
        subject_of(event),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": f"{event.event_id}-{event.concern_id}"},  # both reach the stream
    )


async def concern_ids(kernel: ServiceKernel, table: Table) -> list[str]:
    async with kernel.sessions() as session:
        return sorted(str(r[0]) for r in await session.execute(select(table.c.concern_id)))


async def test_patrol_alerts_and_reports_refuse_and_apply_the_same_concerns(
    nats_server: Any, js: JetStreamContext, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, nats_url=nats_server.url, timers_enabled=False)
    clock = ManualClock(T0 + timedelta(minutes=1))
    first = concern()
    refused = {
        "unknown zone": concern(zone_id="pool"),
        "a name as a student reference": concern(student_refs=["Jane-Doe-2009"]),
        "stamped an hour ahead": concern(occurred_at=T0 + timedelta(hours=1)),
        "stamped 31 days ago": concern(occurred_at=T0 - timedelta(days=31)),
        "another concern reusing an id": concern(severity="low").model_copy(
            update={"event_id": first.event_id}
        ),
    }
    valid = concern(category="weapon", severity="critical", zone_id="bath-2s-boys")

    kernels = [
        patrol_app.create_kernel(settings, clock),
        alerts_app.create_kernel(settings, clock),
        reports_app.create_kernel(settings, clock),
    ]
    patrol, alerts, reports = kernels
    async with (
        running(patrol, patrol_app.build_app),
        running(alerts, alerts_app.build_app),
        running(reports, reports_app.build_app),
    ):
        for event in (first, *refused.values(), valid):
            await publish(js, event)
        for durable in DURABLES:
            await wait_until(
                lambda d=durable: consumer_drained(js, "CONCERNS", d), what=f"{durable} drained"
            )
        for durable in DURABLES:  # each judged on its first delivery
            assert (await js.consumer_info("CONCERNS", durable)).num_redelivered == 0

        applied = sorted([str(first.concern_id), str(valid.concern_id)])
        assert await concern_ids(patrol, patrol_store.concerns) == applied
        assert await concern_ids(reports, reports_store.concerns) == applied
        async with alerts.sessions() as session:
            keys = (await session.execute(select(alerts_store.alerts.c.dedup_key))).all()
        assert sorted(k[0] for k in keys) == sorted(
            f"concern:{c}" for c in (first.concern_id, valid.concern_id)
        )

    expected = [
        "student_refs: not a student reference of this school",
        "occurred_at: more than 5 minutes ahead of the server's clock",
        "occurred_at: more than 30 days before the event reached the server",
        "event_id: already used by a different event of this type",
        "zone_id: not a zone of this school",
    ]
    for service in ("patrol", "alerts", "reports"):
        sub = await js.pull_subscribe(f"dlq.{service}", stream="DLQ")
        msgs = await sub.fetch(10, timeout=5)
        reasons = sorted((m.headers or {})["Lookout-Dlq-Reason"] for m in msgs)
        assert reasons == sorted(expected), service
