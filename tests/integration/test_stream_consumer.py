"""The kernel's fetch loop against a real nats-server: one message is handed on the moment it
arrives, and what is waiting behind it comes in the same batch, up to the batch size."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import nats
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from lookout.contracts.patrol import CheckpointScanned
from lookout.contracts.subjects import subject_of
from lookout.kernel import stream_consumer
from lookout.kernel.clock import ManualClock
from lookout.kernel.messaging import EventConsumer
from lookout.kernel.settings import Settings
from lookout.kernel.stream_consumer import StreamConsumer
from services.patrol import store
from services.patrol.app import build_app, create_kernel
from tests.integration.conftest import running, wait_until

pytestmark = pytest.mark.nats

STREAM = "LOOPTEST"


class Recorder:
    """Stands in for EventConsumer: records each batch's payloads, acknowledges it."""

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.arrived = asyncio.Queue[list[bytes]]()

    async def consume_messages(self, msgs: Sequence[Msg], apply: Any, stall: Any) -> None:
        batch = [m.data for m in msgs]
        for m in msgs:
            await m.ack()
        self.batches.append(batch)
        self.arrived.put_nowait(batch)


@pytest.fixture
async def loop_on(
    nats_server: Any, js: JetStreamContext
) -> AsyncIterator[tuple[StreamConsumer, Recorder]]:
    await js.add_stream(name=STREAM, subjects=["looptest.>"])
    recorder = Recorder()
    consumer = StreamConsumer(
        stream=STREAM,
        subjects=("looptest.>",),
        durable="looptest",
        description="",
        apply=cast(Any, None),
        consumer=cast(EventConsumer, recorder),
        settings=Settings(nats_url=nats_server.url, consumer_batch_size=20),
    )
    yield consumer, recorder
    await consumer.stop()


async def test_a_lone_message_is_handed_on_alone_before_the_idle_poll_ends(
    loop_on: tuple[StreamConsumer, Recorder], js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 120 s idle poll: a loop that held a received message until its poll ended would miss
    # the 10 s below by far, so the check is not a latency figure (those are in bench/).
    monkeypatch.setattr(stream_consumer, "IDLE_FETCH_SECONDS", 120.0)
    consumer, recorder = loop_on
    await consumer.start(js._nc)
    for i in range(3):  # each while the loop long-polls an idle stream
        await js.publish("looptest.one", f"m{i}".encode())
        batch = await asyncio.wait_for(recorder.arrived.get(), 10.0)
        assert batch == [f"m{i}".encode()]


async def test_what_waits_behind_the_first_message_comes_in_full_batches(
    loop_on: tuple[StreamConsumer, Recorder], js: JetStreamContext
) -> None:
    consumer, recorder = loop_on
    for i in range(45):  # published before the consumer starts: all waiting
        await js.publish("looptest.many", f"m{i}".encode())
    await consumer.start(js._nc)
    batches = [await asyncio.wait_for(recorder.arrived.get(), 5.0) for _ in range(3)]
    assert [len(b) for b in batches] == [20, 20, 5]
    assert [m for b in batches for m in b] == [f"m{i}".encode() for i in range(45)]


async def test_a_repoll_sends_a_new_long_poll_and_the_loop_goes_on(
    loop_on: tuple[StreamConsumer, Recorder], js: JetStreamContext
) -> None:
    consumer, recorder = loop_on
    await consumer.start(js._nc)
    for _ in range(3):
        consumer.repoll()
        await asyncio.sleep(0)  # let the loop see the cancelled poll and send a new one
    await js.publish("looptest.after", b"after")
    assert await asyncio.wait_for(recorder.arrived.get(), 5.0) == [b"after"]


async def test_after_a_broker_restart_events_flow_without_waiting_out_the_old_poll(
    nats_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The restarted nats-server has forgotten the consumer's long poll. Without a new poll on
    reconnect, an event published now would wait until the old one expired (made 120 s here,
    so the difference cannot hide in timing)."""
    monkeypatch.setattr(stream_consumer, "IDLE_FETCH_SECONDS", 120.0)
    settings = Settings(data_dir=tmp_path, nats_url=nats_server.url, timers_enabled=False)
    kernel = create_kernel(settings, ManualClock(datetime(2026, 11, 28, 16, 0, tzinfo=UTC)))
    async with running(kernel, build_app):
        nc = kernel.broker.connection
        nats_server.stop()
        nats_server.start()  # same port, same store
        await wait_until(lambda: _connected(nc), within=20, what="the service reconnected")
        client = await nats.connect(nats_server.url)
        try:
            event = CheckpointScanned.new(
                school_id="lhs", occurred_at=datetime(2026, 11, 28, 16, 0, tzinfo=UTC),
                actor={"kind": "sso_device", "id": "phone-1"}, zone_id="bath-1n-boys",
                checkpoint_tag="T-1NB", method="nfc",
            )  # fmt: skip
            await client.jetstream().publish(subject_of(event), event.model_dump_json().encode())

            async def stored() -> bool:
                async with kernel.sessions() as session:
                    return await store.count_rows(session, store.checkpoint_scans) == 1

            await wait_until(stored, within=20, what="the scan stored after the restart")
        finally:
            await client.close()


async def _connected(nc: Any) -> bool:
    return bool(nc.is_connected)
