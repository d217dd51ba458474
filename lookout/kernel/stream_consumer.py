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
stays in `EventConsumer`; this file only moves messages to it, one batch at a time, and keeps
the batch in hand alive on the server (`in_progress`) for as long as it is held: through a slow
commit, or a stall in which the policy retries the same batch until the database is back
(lookout/kernel/stall.py). Nothing more is fetched meanwhile, so this consumer's stream order holds.

Order with several replicas: they share the durable, and the server hands a later message to
another replica's fetch while this one holds an earlier one (`max_ack_pending` is far above a
batch). So the order that holds is each replica's own, not the durable's across replicas.

A durable may filter on several subjects of its stream (NATS 2.10 `filter_subjects`): one
consumer then receives, in stream order, events that separate durables would race.

A connection closed for good (nats-py closes it, without reconnecting, when the server sends an
error such as a payload or authorization violation) ends the loop and calls `on_closed`: the
kernel then stops the process with a non-zero code, so the supervisor or Kubernetes starts a
fresh one, instead of a process that stays alive and fetches nothing ever again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nats.errors import ConnectionClosedError
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from lookout.kernel.stall import Stall

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

    from lookout.kernel.messaging import Apply, BatchOutcome, EventConsumer
    from lookout.kernel.settings import Settings

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
    """Durable `durable` on `stream`, filtered to `subjects` (one or several); each fetched
    batch goes to `consumer.consume_messages(batch, apply, stall)`, which acknowledges after
    the commit."""

    stream: str
    subjects: tuple[str, ...]
    durable: str
    description: str
    apply: Apply
    consumer: EventConsumer
    settings: Settings
    # Called once, with the durable's name, when the connection is closed for good.
    on_closed: Callable[[str], None] | None = None
    _subscription: JetStreamContext.PullSubscription | None = field(default=None, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _fetch: asyncio.Future[list[Msg]] | None = field(default=None, repr=False)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _repoll: bool = field(default=False, repr=False)
    stall: Stall = field(init=False)

    def __post_init__(self) -> None:
        if not self.subjects:
            raise ValueError(f"consumer {self.durable}: subjects is empty")
        self.subjects = tuple(self.subjects)
        self.stall = Stall(self.durable, stopping=self._stopping)

    @property
    def subject(self) -> str:
        """The filter subject of a single-subject durable (`subjects` for any)."""
        if len(self.subjects) != 1:
            raise ValueError(f"consumer {self.durable} filters on several subjects")
        return self.subjects[0]

    def config(self) -> ConsumerConfig:
        one = len(self.subjects) == 1
        return ConsumerConfig(
            durable_name=self.durable,
            filter_subject=self.subjects[0] if one else None,
            filter_subjects=None if one else list(self.subjects),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.settings.consumer_ack_wait_seconds,
            max_ack_pending=max(1000, self.settings.consumer_batch_size * 4),
        )

    async def start(self, connection: Client) -> None:
        extra = {}
        if self.settings.nats_inbox_prefix:  # fetch replies under the user's own inbox prefix
            extra["inbox_prefix"] = f"{self.settings.nats_inbox_prefix}.".encode()
        js = connection.jetstream()
        await self._update_if_changed(js)
        # With several filters the subject argument only names one of them: nats-py creates the
        # consumer from `config`, whose filter_subjects it leaves as they are.
        self._subscription = await js.pull_subscribe(
            self.subjects[0], durable=self.durable, stream=self.stream, config=self.config(),
            **extra,
        )  # fmt: skip
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.durable}")

    async def _update_if_changed(self, js: JetStreamContext) -> None:
        """pull_subscribe binds to an existing durable as it is: a durable created by an older
        version (another filter, ack_wait) is brought to this one's config first."""
        try:
            info = await js.consumer_info(self.stream, self.durable)
        except NotFoundError:
            return  # pull_subscribe creates it
        ours, theirs = self.config(), info.config
        if (
            _filters(theirs) == set(self.subjects)
            and abs((theirs.ack_wait or 0) - (ours.ack_wait or 0)) < 0.001  # s, via ns
            and theirs.max_ack_pending == ours.max_ack_pending
        ):
            return
        log.warning("event=consumer_updated consumer=%s stream=%s", self.durable, self.stream)
        ours.name = self.durable
        await js.add_consumer(self.stream, config=ours)  # create-or-update on NATS 2.10+

    async def deliver(self, msgs: list[Msg]) -> BatchOutcome:
        """Apply one batch (the fetch loop's body; tests hand batches in directly), keeping its
        messages alive on the server until the policy has settled every one of them."""
        keeper = asyncio.create_task(self._keep_alive(msgs), name=f"keep-alive:{self.durable}")
        try:
            return await self.consumer.consume_messages(msgs, self.apply, self.stall)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _keep_alive(self, msgs: list[Msg]) -> None:
        """Tell the server, three times per ack_wait, that the unsettled messages are still
        being worked on: it neither redelivers them nor counts them as lost."""
        every = self.settings.consumer_ack_wait_seconds / 3
        while True:
            await asyncio.sleep(every)
            for msg in msgs:
                if not msg.is_acked:
                    with contextlib.suppress(Exception):  # connection down: retried next round
                        await msg.in_progress()

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
            except ConnectionClosedError:
                if self._stopping.is_set():  # closed by our own shutdown
                    return
                # Closed for good (no reconnect follows): fetching on would log this forever.
                log.error("event=nats_connection_closed consumer=%s", self.durable)
                if self.on_closed is not None:
                    self.on_closed(self.durable)
                return
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
        """Stop fetching; a batch being applied finishes (and is acknowledged) first. A batch
        held through a stall is handed back at once when it is pausing between retries, else
        when the attempt in flight gives up (the database's own timeout; the grace caps it)."""
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


def _filters(config: ConsumerConfig) -> set[str]:
    if config.filter_subjects:
        return set(config.filter_subjects)
    return {config.filter_subject} if config.filter_subject else set()
