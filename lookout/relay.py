"""The outbox relay: publishes what services wrote to their outbox, then marks it sent.

A crash between the state change's commit and the publish loses nothing: the row is still
unsent and is published on the next pass; `Nats-Msg-Id` makes a re-publish a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.background import BackgroundLoop
from lookout.clock import Clock
from lookout.contracts.subjects import STREAMS
from lookout.storage import Outbox

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
    ) -> None:
        self.broker = broker
        self.sessions = sessions
        self.outbox = outbox
        self.clock = clock
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self._loop = BackgroundLoop("outbox-relay", self._pass, idle_seconds)
        self.on_published: Callable[[str], None] | None = None  # metrics: the subject

    def wake(self) -> None:
        """Called after a commit: publish right away if it wrote outbox rows."""
        if self.outbox.written:
            self.outbox.written = False
            self._loop.wake()

    async def publish_pending(self) -> int:
        """One pass: publish every unsent row in order; returns how many were sent."""
        sent = 0
        while True:
            async with self.sessions.begin() as session:
                rows = await self.outbox.claim_pending(session, self.batch_size)
                for row in rows:
                    await self.broker.publish(
                        row.payload,
                        row.subject,
                        headers={"Nats-Msg-Id": row.event_id},
                        stream=stream_for(row.subject),
                    )
                await self.outbox.mark_sent(session, [r.id for r in rows], self.clock.now())
            if self.on_published is not None:
                for row in rows:
                    self.on_published(row.subject)
            sent += len(rows)
            if len(rows) < self.batch_size:
                return sent

    async def _pass(self) -> None:
        await self.publish_pending()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
