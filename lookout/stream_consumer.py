"""A service's durable pull consumer on one stream, driven by the kernel's own fetch loop.

Why not FastStream's batch subscriber: it keeps fetching until the batch is full or its timeout
passes, so every event waited up to that timeout before being applied (the floor of the alert
latency), and a short timeout turned idle consumers into busy pollers.

Why not one `fetch(batch)` either: a multi-message fetch can hold a message it has received
until the whole batch arrives or the fetch expires (seen in the week-long end-to-end run: single
events waiting ~5 s, the idle long-poll time, in 1 of ~50 fetches). So the loop long-polls for
*one* message, which returns the moment one arrives, and then takes as many more as the server
says are waiting (`num_pending` in that message's metadata), up to a batch: low latency when
traffic is light, full batches under load, and a quiet connection when idle. The error policy
stays in `EventConsumer`; this file only moves messages to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nats.js.api import AckPolicy, ConsumerConfig

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

    from lookout.config import Settings
    from lookout.messaging import Apply, BatchOutcome, EventConsumer

log = logging.getLogger("lookout.consumer")

# How long one fetch waits on the server when the stream is idle. Only idle cost depends on it:
# a fetch returns as soon as a message arrives.
IDLE_FETCH_SECONDS = 5.0
# The follow-up fetch asks only for messages the server said were waiting; it can come back
# short if another replica took some, and must not then wait out the idle poll.
FOLLOW_UP_FETCH_SECONDS = 0.1
# After an unexpected fetch failure, wait this long (doubling, capped) before the next fetch.
RETRY_SECONDS = 0.25
RETRY_CAP_SECONDS = 5.0


@dataclass
class StreamConsumer:
    """Durable `durable` on `stream`, filtered to `subject`; each fetched batch goes to
    `consumer.consume_messages(batch, apply)`, which acknowledges after the commit."""

    stream: str
    subject: str
    durable: str
    description: str
    apply: Apply
    consumer: EventConsumer
    settings: Settings
    _subscription: JetStreamContext.PullSubscription | None = field(default=None, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _fetch: asyncio.Future[list[Msg]] | None = field(default=None, repr=False)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _repoll: bool = field(default=False, repr=False)

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            filter_subject=self.subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.settings.consumer_ack_wait_seconds,
            max_ack_pending=max(1000, self.settings.consumer_batch_size * 4),
        )

    async def start(self, connection: Client) -> None:
        extra = {}
        if self.settings.nats_inbox_prefix:  # fetch replies under the user's own inbox prefix
            extra["inbox_prefix"] = f"{self.settings.nats_inbox_prefix}.".encode()
        self._subscription = await connection.jetstream().pull_subscribe(
            self.subject, durable=self.durable, stream=self.stream, config=self.config(), **extra
        )
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.durable}")

    async def deliver(self, msgs: list[Msg]) -> BatchOutcome:
        """Apply one batch (the fetch loop's body; tests hand batches in directly)."""
        return await self.consumer.consume_messages(msgs, self.apply)

    async def _run(self) -> None:
        assert self._subscription is not None
        retry = RETRY_SECONDS
        while not self._stopping.is_set():
            self._repoll = False  # a repoll that came as the last fetch ended is moot
            self._fetch = asyncio.ensure_future(
                self._subscription.fetch(1, timeout=IDLE_FETCH_SECONDS)
            )
            try:
                msgs = await self._fetch
            except asyncio.CancelledError:
                # stop() and repoll() cancel the fetch only, never a batch being applied
                if self._stopping.is_set():
                    return
                if self._repoll:
                    continue
                raise
            except TimeoutError:  # idle: nothing arrived during the long poll
                continue
            except Exception as exc:  # broker restarting, connection lost: keep trying
                log.warning(
                    "event=fetch_failed consumer=%s error=%s", self.durable, type(exc).__name__
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), retry)
                retry = min(RETRY_CAP_SECONDS, retry * 2)
                continue
            retry = RETRY_SECONDS
            msgs += await self._waiting_after(msgs[-1])
            try:
                await self.deliver(msgs)
            except Exception as exc:  # e.g. the connection dropped while acknowledging
                # Unacknowledged messages come back after ack_wait; the inbox absorbs repeats.
                log.warning(
                    "event=batch_interrupted consumer=%s size=%d error=%s",
                    self.durable,
                    len(msgs),
                    type(exc).__name__,
                )

    def repoll(self) -> None:
        """Give up the long poll in flight and send a new one (after a reconnect, the server
        may no longer know the old one). A message the old poll delivered is usually still in
        the subscription's queue, where the next fetch takes it first; one caught in the very
        moment of the cancel is redelivered after `ack_wait` instead (not lost)."""
        if self._fetch is not None and not self._fetch.done():
            self._repoll = True
            self._fetch.cancel()

    async def _waiting_after(self, first: Msg) -> list[Msg]:
        """The messages the server had waiting behind `first`, up to a batch with it."""
        assert self._subscription is not None
        try:
            waiting = first.metadata.num_pending or 0
            wanted = min(waiting, self.settings.consumer_batch_size - 1)
            if wanted <= 0:
                return []
            return await self._subscription.fetch(wanted, timeout=FOLLOW_UP_FETCH_SECONDS)
        except TimeoutError:  # taken by another replica meanwhile
            return []
        except Exception as exc:  # the first message is still applied; the rest come next
            log.warning("event=fetch_failed consumer=%s error=%s", self.durable, type(exc).__name__)
            return []

    async def stop(self, grace_seconds: float = 30.0) -> None:
        """Stop fetching; a batch being applied finishes (and is acknowledged) first."""
        self._stopping.set()
        if self._fetch is not None and not self._fetch.done():
            self._fetch.cancel()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self._subscription is not None:
            with contextlib.suppress(Exception):  # the connection may already be closed
                await self._subscription.unsubscribe()
            self._subscription = None
