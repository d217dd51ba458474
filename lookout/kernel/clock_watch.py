"""Wake a service's timer loops the moment a driven clock moves.

A driven clock (`FileClock`: simulated time that a driver moves in steps) does not flow, so a
timer loop that waits for its next tick would notice a step only up to a tick later, and the
driver would wait that long at every step of a simulated week. The watch reads the clock every
few milliseconds (a `stat` of the clock file) and wakes the registered loops when it has
moved. Clocks that flow (system time, scaled time) need no watch: loops wait for deadlines.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from lookout.kernel.background import BackgroundLoop
from lookout.kernel.clock import Clock, FileClock

POLL_SECONDS = 0.005
UNREADABLE_BACKOFF_SECONDS = 1.0


class ClockWatch:
    def __init__(self, clock: Clock, poll_seconds: float = POLL_SECONDS) -> None:
        self.clock = clock
        self.wakers: list[Callable[[], None]] = []
        self._last: datetime | None = None
        self._loop = BackgroundLoop("clock-watch", self._pass, poll_seconds)

    @staticmethod
    def needed(clock: Clock) -> bool:
        return isinstance(clock, FileClock)

    def on_move(self, wake: Callable[[], None]) -> None:
        self.wakers.append(wake)

    async def _pass(self) -> float | None:
        try:
            self.check()
        except (OSError, ValueError):  # the clock file is gone or half-written: look less often
            return UNREADABLE_BACKOFF_SECONDS
        return None

    def check(self) -> bool:
        """Wake every loop if the clock moved since the last look; True if it did."""
        now = self.clock.now()
        moved = self._last is not None and now != self._last
        self._last = now
        if moved:
            for wake in self.wakers:
                wake()
        return moved

    def start(self) -> None:
        if self.needed(self.clock) and self.wakers:
            self.check()  # the first reading is where the clock stands, not a move
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
