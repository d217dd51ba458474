"""Timers are data: rows with deadlines, fired by a ticker that asks each module what is due.

A module (one per kind of timer: patrol windows, escalation steps, visitor departures…) claims
its due rows and fires them inside one transaction, writing what it emits to the outbox. A
restart loses nothing because nothing lives only in memory; replicas on PostgreSQL never fire a
row twice because claiming uses `FOR UPDATE SKIP LOCKED` and firing changes the row in the same
transaction. A failure in one module is logged and does not stop the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.clock import Clock
from lookout.messaging import is_transient

log = logging.getLogger("lookout.ticker")


class TimerModule(Protocol):
    """One kind of timer."""

    name: str

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        """Claim and fire what is due at `now`, inside the caller's transaction; return how many."""
        ...


def claim_due(
    session: AsyncSession,
    table: Table,
    deadline: ColumnElement[Any],
    now: datetime,
    *where: ColumnElement[bool],
    limit: int = 500,
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
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    async def tick(self) -> dict[str, int]:
        """Fire everything due now, module by module, each in its own transaction."""
        now = self.clock.now()
        fired: dict[str, int] = {}
        for module in self.modules:
            try:
                async with self.sessions.begin() as session:
                    fired[module.name] = await module.fire_due(session, now)
            except Exception as exc:
                level = logging.WARNING if is_transient(exc) else logging.ERROR
                log.log(level, "event=tick_failed module=%s error=%s", module.name, repr(exc))
                fired[module.name] = 0
        if self.after_fire is not None and any(fired.values()):
            self.after_fire()
        return fired

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopped:
            self._wake.clear()  # before the tick, so a wake during it is not lost
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_seconds)

    def start(self) -> None:
        self._stopped = False
        self._task = asyncio.create_task(self._run(), name="ticker")

    async def stop(self) -> None:
        if self._task is not None:
            # Python 3.11's wait_for can swallow a cancel that lands as its wait ends; the flag
            # ends the loop at its next turn even then, so stop() never waits forever.
            self._stopped = True
            self._wake.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
