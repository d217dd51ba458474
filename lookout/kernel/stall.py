"""A consumer holding its batch through a transient failure (the database is away).

Why hold instead of nak: a nak hands the batch back and the consumer fetches on, so a later
event of the stream (a concern's resolve) is applied before the one that failed (its raise),
refused and dead-lettered. Holding the same batch and retrying it in place, with the messages
kept alive on the server, keeps the consumer's stream order: nothing later is fetched until the
batch commits.

This file keeps the state an operator sees (stalled since when, on what error) and the pacing
of the retries; `EventConsumer` decides what is transient and runs the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("lookout.consumer")

# The pause before the n-th retry: 0.5 s doubling to 5 s. Short enough that a database coming
# back is noticed within seconds, long enough not to hammer one that is struggling.
FIRST_PAUSE_SECONDS = 0.5
MAX_PAUSE_SECONDS = 5.0


class ConsumerStopping(Exception):
    """The service is stopping while a batch is held: give the batch back and stop."""


@dataclass
class Stall:
    """One durable consumer's in-place retry: whether it is stalled, since when and why.

    `stopping` is the consumer's stop flag: a pause ends the moment it is set. Durations are
    real (monotonic) time: a database outage runs on the wall, not on the simulated clock."""

    durable: str
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    first_pause: float = FIRST_PAUSE_SECONDS
    max_pause: float = MAX_PAUSE_SECONDS
    monotonic: Callable[[], float] = time.monotonic
    since: float | None = None
    error: str = ""
    stalls: int = 0  # stalls begun since the process started
    on_stall: Callable[[], None] | None = None  # a stall begins (the metrics count it)

    @property
    def active(self) -> bool:
        return self.since is not None

    def seconds(self) -> float:
        """How long the consumer has been stalled (0 when it is not)."""
        return 0.0 if self.since is None else max(0.0, self.monotonic() - self.since)

    def pause_seconds(self, retry: int) -> float:
        """The pause before retry number `retry` (0 for the first)."""
        return float(min(self.max_pause, self.first_pause * 2**retry))

    def failed(self, exc: BaseException, batch_size: int) -> None:
        """An attempt failed in a way worth retrying: the consumer is (still) stalled."""
        self.error = type(exc).__name__
        if self.since is None:
            self.since = self.monotonic()
            self.stalls += 1
            if self.on_stall is not None:
                self.on_stall()
            log.warning(
                "event=consumer_stalled consumer=%s size=%d error=%s; retrying in place",
                self.durable,
                batch_size,
                self.error,
            )

    def recovered(self) -> None:
        if self.since is not None:
            log.warning(
                "event=consumer_recovered consumer=%s stalled_seconds=%.1f error=%s",
                self.durable,
                self.seconds(),
                self.error,
            )
        self.since = None
        self.error = ""

    def handed_back(self) -> None:
        """The service stopped during the stall; the batch went back to the server."""
        if self.since is not None:
            log.warning(
                "event=consumer_stopped_stalled consumer=%s stalled_seconds=%.1f error=%s; "
                "batch handed back",
                self.durable,
                self.seconds(),
                self.error,
            )
        self.since = None
        self.error = ""

    async def pause(self, retry: int) -> None:
        """Wait before retry number `retry`; raises ConsumerStopping if the service stops."""
        if not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.pause_seconds(retry))
        if self.stopping.is_set():
            raise ConsumerStopping(self.durable)

    def describe(self) -> str:
        """One line for /healthz and /readyz (durable and error type only: no payload)."""
        return (
            f"consumer {self.durable} stalled for {self.seconds():.1f} s: {self.error}, "
            "retrying in place"
        )
