"""Timers are data: rows with deadlines, fired by a ticker that asks each module what is due.

A module (one per kind of timer: patrol windows, escalation steps, visitor departures…) claims
its due rows and fires them inside one transaction, writing what it emits to the outbox. A
restart loses nothing because nothing lives only in memory; replicas on PostgreSQL never fire a
row twice because claiming uses `FOR UPDATE SKIP LOCKED` and firing changes the row in the same
transaction. A failure in one module is logged and does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.kernel.background import BackgroundLoop
from lookout.kernel.clock import Clock
from lookout.kernel.messaging import is_transient

log = logging.getLogger("lookout.ticker")


class TimerModule(Protocol):
    """One kind of timer."""

    name: str

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        """Claim and fire what is due at `now`, inside the caller's transaction; return how many."""
        ...


CLAIM_LIMIT = 500  # rows one module claims per tick unless it says otherwise (`limit`)


def claim_due(
    session: AsyncSession,
    table: Table,
    deadline: ColumnElement[Any],
    now: datetime,
    *where: ColumnElement[bool],
    limit: int = CLAIM_LIMIT,
) -> Select[Any]:
    """SELECT the rows due at `now` (oldest deadline first), locked for this transaction.

    On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`, so a second replica skips them;
    SQLite serialises writers and runs a single replica.
    """
    stmt = select(table).where(deadline <= now, *where).order_by(deadline).limit(limit)
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return stmt


class Ticker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        modules: Sequence[TimerModule],
        after_fire: Callable[[], None] | None = None,
        interval_seconds: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.modules = list(modules)
        self.after_fire = after_fire
        self.interval_seconds = interval_seconds
        self._loop = BackgroundLoop("ticker", self._pass, interval_seconds)
        # Told the clock reading of every tick that left nothing due behind (metrics: a driver
        # of simulated time waits for every service to have caught up before moving on).
        self.on_caught_up: Callable[[datetime], None] | None = None

    async def tick(self) -> dict[str, int]:
        """Fire everything due now, module by module, each in its own transaction."""
        now = self.clock.now()
        fired: dict[str, int] = {}
        caught_up = True
        for module in self.modules:
            try:
                async with self.sessions.begin() as session:
                    fired[module.name] = await module.fire_due(session, now)
            except Exception as exc:
                level = logging.WARNING if is_transient(exc) else logging.ERROR
                log.log(
                    level, "event=tick_failed module=%s error=%s", module.name, type(exc).__name__
                )
                fired[module.name] = 0
                caught_up = False
            else:  # a full claim may have left more due rows for the next tick
                caught_up &= fired[module.name] < getattr(module, "limit", CLAIM_LIMIT)
        if self.after_fire is not None and any(fired.values()):
            self.after_fire()
        if caught_up and self.on_caught_up is not None:
            self.on_caught_up(now)
        return fired

    async def _pass(self) -> None:
        await self.tick()

    def wake(self) -> None:
        self._loop.wake()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
