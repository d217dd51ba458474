"""A flood of poison never holds back the living (issue 13, item 2).

2,000 messages of JSON nested 3,000 deep on `concern.lhs.raised` (a buggy phone), then one
critical concern. Decoding each raises RecursionError, which the consumer did not judge: the
batch was never acknowledged, terminated or dead-lettered, redelivered forever, and the concern
behind the flood was never applied. Now each is dead-lettered on its first delivery with its
reason, nothing stays unacknowledged, and the concern is stored by patrol within seconds. And
the stream itself refuses a message bigger than any event needs.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from nats.js.errors import APIError
from sqlalchemy import select

from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.settings import Settings
from services.patrol import store
from services.patrol.app import build_app, create_kernel
from tests.integration.conftest import consumer_drained, running, stream_messages, wait_until

pytestmark = pytest.mark.nats

T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # a Saturday: no check windows, no timers
ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
FLOOD = 2000
NESTED = b"[" * 3000 + b"]" * 3000


async def test_a_flood_of_nested_json_is_dead_lettered_and_the_critical_concern_behind_it_applied(
    nats_server: Any, js: JetStreamContext, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, nats_url=nats_server.url, timers_enabled=False)
    await ensure_streams(settings)
    for i in range(FLOOD):
        await js.publish("concern.lhs.raised", NESTED, headers={"Nats-Msg-Id": f"flood-{i}"})
    critical = ConcernRaised.new(
        school_id="lhs", occurred_at=T0, actor=ACTOR, concern_id=uuid.uuid4(), category="weapon",
        severity="critical", zone_id="bath-2s-boys",
    )  # fmt: skip
    await js.publish(
        subject_of(critical),
        critical.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(critical.event_id)},
    )

    kernel = create_kernel(settings, ManualClock(T0))
    async with running(kernel, build_app):
        started = time.monotonic()

        async def applied() -> bool:
            async with kernel.sessions() as session:
                rows = (await session.execute(select(store.concerns.c.concern_id))).all()
            return [r.concern_id for r in rows] == [str(critical.concern_id)]

        await wait_until(applied, within=20, what="the critical concern behind the flood")
        await wait_until(
            lambda: consumer_drained(js, "CONCERNS", "patrol-concerns"),
            within=10,
            what="nothing left unacknowledged",
        )
        assert time.monotonic() - started < 20
        info = await js.consumer_info("CONCERNS", "patrol-concerns")
        assert info.num_redelivered == 0  # each judged on its first delivery

    assert await stream_messages(js, "DLQ") == FLOOD
    sub = await js.pull_subscribe("dlq.patrol", stream="DLQ")
    reasons: list[str] = []
    while len(reasons) < FLOOD:
        for msg in await sub.fetch(500, timeout=5):
            reasons.append((msg.headers or {})["Lookout-Dlq-Reason"])
            await msg.ack()
    assert set(reasons) == {"undecodable JSON: nested too deep"}


async def test_the_stream_refuses_a_message_bigger_than_any_event_needs(
    nats_server: Any, js: JetStreamContext, tmp_path: Path
) -> None:
    await ensure_streams(Settings(data_dir=tmp_path, nats_url=nats_server.url))
    with pytest.raises(APIError, match="message size exceeds maximum allowed"):
        await js.publish("concern.lhs.raised", b"x" * (256 * 1024 + 1))
    await js.publish("concern.lhs.raised", b"x" * (200 * 1024))  # below the bound: stored
    assert await stream_messages(js, "CONCERNS") == 1
