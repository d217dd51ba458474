"""The outbox relay: publishes what services wrote to their outbox, then marks it sent.

A crash between the state change's commit and the publish loses nothing: the row is still
unsent and is published on the next pass; `Nats-Msg-Id` makes a re-publish a no-op.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from faststream.nats import NatsBroker
from nats.js.client import JetStreamContext
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from lookout.contracts.subjects import STREAMS
from lookout.kernel.background import BackgroundLoop
from lookout.kernel.clock import Clock
from lookout.kernel.storage import OUTBOX_WRITTEN, Outbox

log = logging.getLogger("lookout.relay")


def stream_for(subject: str) -> str:
    domain = subject.split(".", 1)[0]
    for name, subjects in STREAMS.items():
        if f"{domain}.>" in subjects:
            return name
    raise ValueError(f"no stream holds {subject!r}")


class OutboxRelay:
    def __init__(
        self,
        broker: NatsBroker,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        clock: Clock,
        batch_size: int = 200,
        idle_seconds: float = 1.0,
        ack_timeout_seconds: float = 5.0,
    ) -> None:
        self.broker = broker
        self.sessions = sessions
        self.outbox = outbox
        self.clock = clock
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.ack_timeout_seconds = ack_timeout_seconds
        self._js: JetStreamContext | None = None
        self._loop = BackgroundLoop("outbox-relay", self._pass, idle_seconds)
        event.listen(
            sessions.kw.get("sync_session_class", Session), "after_commit", self._committed
        )
        self.on_published: Callable[[str], None] | None = None  # metrics: the subject

    def _committed(self, session: Session) -> None:
        # Every commit that wrote outbox rows wakes the relay itself. (A single "rows were
        # written" flag on the shared Outbox lost wake-ups: one transaction's commit cleared
        # the flag another had set before committing, whose rows then waited for the idle pass.)
        if session.info.get(OUTBOX_WRITTEN, False):  # (a stale mark costs one idle pass)
            self._loop.wake()

    def wake(self) -> None:
        """Publish now (commits that wrote outbox rows wake the relay by themselves)."""
        self._loop.wake()

    async def publish_pending(self) -> int:
        """One pass: publish every unsent row in order; returns how many were sent."""
        sent = 0
        while True:
            async with self.sessions.begin() as session:
                rows = await self.outbox.claim_pending(session, self.batch_size)
                await self._publish_in_order(rows)
                await self.outbox.mark_sent(session, [r.id for r in rows], self.clock.now())
            if self.on_published is not None:
                for row in rows:
                    self.on_published(row.subject)
            sent += len(rows)
            if len(rows) < self.batch_size:
                return sent

    async def _publish_in_order(self, rows: Sequence[Any]) -> None:
        """Write every row to the connection in order, then wait for all the PubAcks together:
        one round trip (and one stream fsync wait) per pass instead of one per row. A missing
        or failed PubAck fails the pass; the rows stay unsent and `Nats-Msg-Id` makes the next
        pass's re-publish of the ones that did land a no-op."""
        if not rows:
            return
        if self._js is None:  # one context: publish_async keeps one reply subscription in it
            self._js = self.broker.connection.jetstream()
        acks = [
            await self._js.publish_async(
                row.subject,
                row.payload,
                headers={"Nats-Msg-Id": row.event_id},
                stream=stream_for(row.subject),
            )
            for row in rows
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*acks), self.ack_timeout_seconds)
        finally:
            for ack in acks:  # a failed pass leaves no future waiting forever
                ack.cancel()

    async def _pass(self) -> None:
        await self.publish_pending()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
