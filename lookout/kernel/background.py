"""One background loop for the kernel and the services: run a step, then wait until woken or
until the step's chosen wait passes; stop cleanly.

Every service has such loops (outbox relay, ticker, mailers); keeping one implementation keeps
the two subtle parts in one place: the wake flag is cleared *before* a pass, so a wake during
the pass is not lost; and stopping lets the pass in hand finish and then ends the loop by a
flag, cancelling only a pass that outstays its grace (Python 3.11's `asyncio.wait_for` can
swallow a cancel that lands as its wait ends, so the flag ends the loop even then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from lookout.kernel.messaging import is_transient

log = logging.getLogger("lookout.background")

# A pass returns how long to wait before the next one (seconds), or None for the interval.
Step = Callable[[], Awaitable[float | None]]

# How long stopping waits for a pass in hand before cancelling it.
STOP_GRACE_SECONDS = 10.0


class BackgroundLoop:
    def __init__(self, name: str, step: Step, interval_seconds: float) -> None:
        self.name = name
        self.step = step
        self.interval_seconds = interval_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while not self._stopped:
            self._wake.clear()  # before the pass: a wake during it is not lost
            try:
                wait = await self.step()
            except Exception as exc:  # keep going through a broker or database hiccup
                level = logging.WARNING if is_transient(exc) else logging.ERROR
                log.log(level, "event=loop_failed loop=%s error=%s", self.name, type(exc).__name__)
                wait = None
            wait = self.interval_seconds if wait is None else wait
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    def start(self) -> None:
        self._stopped = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Let the pass in hand finish (up to `grace_seconds`), then end the loop.

        Cancelling a pass mid-transaction is what must not happen at every stop: SQLAlchemy
        rolls back in a shielded task that outlives the cancelled one, the engine is disposed
        without that connection, and on SQLite its open write transaction then locks the file
        for whoever comes next (a restarted service, the next test). A pass that hangs past the
        grace (an SMTP server that never answers) is still cancelled."""
        if self._task is None:
            return
        self._stopped = True  # ends the loop after this pass, even if a cancel is swallowed
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
