"""Integration helpers: run a service in-process against the real nats-server fixture."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import nats
import pytest
from faststream import TestApp
from nats.aio.client import Client
from nats.js import JetStreamContext

from lookout.kernel.service import ServiceKernel


async def wait_until(
    condition: Callable[[], Awaitable[bool]], within: float = 15.0, what: str = "condition"
) -> None:
    """Poll an observable condition until it holds; fail naming `what` after `within` s."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running(
    kernel: ServiceKernel, build: Callable[[ServiceKernel], Any]
) -> AsyncIterator[ServiceKernel]:
    """Start the service's FastStream app (migrations, streams, consumers, relay) and stop it."""
    app = build(kernel)
    async with TestApp(app):
        yield kernel


@pytest.fixture
async def js(nats_server: Any) -> AsyncIterator[JetStreamContext]:
    nc: Client = await nats.connect(nats_server.url)
    yield nc.jetstream()
    await nc.close()


async def stream_messages(js: JetStreamContext, stream: str) -> int:
    return int((await js.stream_info(stream)).state.messages)


async def consumer_drained(js: JetStreamContext, stream: str, durable: str) -> bool:
    """Every message delivered to the durable consumer was acknowledged or terminated."""
    try:
        info = await js.consumer_info(stream, durable)
    except nats.js.errors.NotFoundError:
        return False
    return info.num_pending == 0 and info.num_ack_pending == 0
