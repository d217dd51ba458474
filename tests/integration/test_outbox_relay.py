"""The transactional outbox and its relay against a real nats-server and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from sqlalchemy import select, update

from lookout.contracts.patrol import CheckMissed
from lookout.kernel.clock import ManualClock
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.relay import OutboxRelay
from lookout.kernel.settings import Settings
from lookout.kernel.storage import upgrade_database
from services.patrol import store
from services.patrol.app import MIGRATIONS, create_kernel
from tests.integration.conftest import stream_messages, wait_until

pytestmark = pytest.mark.nats

WINDOW = datetime(2026, 11, 23, 14, 35, tzinfo=UTC)


def missed(zone: str) -> CheckMissed:
    return CheckMissed.new(
        school_id="lhs",
        occurred_at=WINDOW + timedelta(minutes=7),
        actor={"kind": "service", "id": "patrol"},
        zone_id=zone,
        window_start=WINDOW,
        window_end=WINDOW + timedelta(minutes=7),
    )


async def test_rows_committed_before_a_crash_are_published_once_by_the_next_relay(
    nats_server: Any, database_url: str, tmp_path: Path, js: JetStreamContext, clock: ManualClock
) -> None:
    settings = Settings(data_dir=tmp_path, nats_url=nats_server.url, patrol_db_url=database_url)
    kernel = create_kernel(settings, clock)
    await upgrade_database(kernel.engine, MIGRATIONS, "patrol")
    await ensure_streams(settings)
    event = missed("bath-2s-girls")
    async with kernel.sessions.begin() as session:
        await kernel.outbox.add(session, [event], clock.now())
    # The process that wrote the row died before relaying it; a new relay picks it up.
    await kernel.broker.connect()
    relay = OutboxRelay(kernel.broker, kernel.sessions, kernel.outbox, clock)
    assert await relay.publish_pending() == 1

    sub = await js.subscribe("patrol.lhs.check.missed", ordered_consumer=True)
    msg = await sub.next_msg(timeout=5)
    assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == str(event.event_id)
    assert CheckMissed.model_validate_json(msg.data) == event
    async with kernel.sessions() as session:
        sent_at = (await session.execute(select(store.outbox.c.sent_at))).scalar_one()
    assert sent_at == clock.now()

    # Crash after the publish but before marking it sent: the re-publish is de-duplicated.
    async with kernel.sessions.begin() as session:
        await session.execute(update(store.outbox).values(sent_at=None))
    assert await relay.publish_pending() == 1
    assert await stream_messages(js, "PATROL") == 1

    # A running relay publishes as soon as it is woken after a commit.
    relay.start()
    second = missed("bath-2s-boys")
    async with kernel.sessions.begin() as session:
        await kernel.outbox.add(session, [second], clock.now())
    relay.wake()

    async def published_and_marked() -> bool:
        # The stream holds it as soon as the PubAck arrives; the row is marked sent when the
        # relay's transaction commits just after, so wait for both before stopping it.
        async with kernel.sessions() as session:
            unsent = await kernel.outbox.unsent_count(session)
        return unsent == 0 and await stream_messages(js, "PATROL") == 2

    await wait_until(published_and_marked, what="the woken relay to publish and mark sent")
    await relay.stop()
    await kernel.broker.stop()
    await kernel.engine.dispose()


async def test_every_commit_that_wrote_outbox_rows_wakes_the_relay(
    nats_server: Any, database_url: str, tmp_path: Path, js: JetStreamContext, clock: ManualClock
) -> None:
    """No caller has to wake the relay, and no wake-up is lost to another transaction: with an
    idle pass only every 60 s, each row is published within seconds of its commit, including a
    row whose transaction was open while another woke the relay."""
    settings = Settings(data_dir=tmp_path, nats_url=nats_server.url, patrol_db_url=database_url)
    kernel = create_kernel(settings, clock)
    await upgrade_database(kernel.engine, MIGRATIONS, "patrol")
    await ensure_streams(settings)
    await kernel.broker.connect()
    relay = OutboxRelay(kernel.broker, kernel.sessions, kernel.outbox, clock, idle_seconds=60)
    relay.start()

    async def stream_holds(n: int) -> bool:
        return await stream_messages(js, "PATROL") == n

    async with kernel.sessions.begin() as session:
        await kernel.outbox.add(session, [missed("gym")], clock.now())
    await wait_until(lambda: stream_holds(1), within=10, what="the first row")

    async with kernel.sessions.begin() as session:
        await kernel.outbox.add(session, [missed("cafeteria")], clock.now())
        relay.wake()  # what another transaction's commit used to do while this one was open
        await wait_until(lambda: stream_holds(1), within=10, what="the mid-transaction pass")
    await wait_until(lambda: stream_holds(2), within=10, what="the row committed after it")

    async with kernel.sessions.begin() as session:
        await kernel.outbox.add(session, [missed("library")], clock.now())
    await wait_until(lambda: stream_holds(3), within=10, what="a row with no wake call at all")
    await relay.stop()
    await kernel.broker.stop()
    await kernel.engine.dispose()
