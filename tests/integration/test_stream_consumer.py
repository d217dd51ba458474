"""The kernel's fetch loop against a real nats-server: one message is handed on the moment it
arrives, and what is waiting behind it comes in the same batch, up to the batch size."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from lookout.config import Settings
from lookout.messaging import EventConsumer
from lookout.stream_consumer import StreamConsumer

pytestmark = pytest.mark.nats

STREAM = "LOOPTEST"


class Recorder:
    """Stands in for EventConsumer: records each batch's payloads, acknowledges it."""

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.arrived = asyncio.Queue[list[bytes]]()

    async def consume_messages(self, msgs: Sequence[Msg], apply: Any) -> None:
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
        subject="looptest.>",
        durable="looptest",
        description="",
        apply=cast(Any, None),
        consumer=cast(EventConsumer, recorder),
        settings=Settings(nats_url=nats_server.url, consumer_batch_size=20),
    )
    yield consumer, recorder
    await consumer.stop()


async def test_a_lone_message_is_handed_on_alone_and_at_once(
    loop_on: tuple[StreamConsumer, Recorder], js: JetStreamContext
) -> None:
    consumer, recorder = loop_on
    await consumer.start(js._nc)
    for i in range(3):  # each while the loop long-polls an idle stream
        await js.publish("looptest.one", f"m{i}".encode())
        # Well inside the 5 s idle poll that a batch fetch could have held it for.
        batch = await asyncio.wait_for(recorder.arrived.get(), 2.0)
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
