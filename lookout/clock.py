"""Injected time. Every rule that depends on "now" takes a Clock, so tests run a week in ms."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: for tests."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("ManualClock.set needs a timezone-aware time")
        self._now = moment.astimezone(UTC)


class ScaledClock:
    """Simulated time running `speed` times faster than the wall clock from `origin`.

    `anchor` is the wall-clock instant (epoch seconds) at which simulated time equals `origin`;
    processes given the same anchor agree on "now", which is how a supervised suite shares it.
    """

    def __init__(self, origin: datetime, speed: float, anchor: float | None = None) -> None:
        if origin.tzinfo is None:
            raise ValueError("the clock origin needs a timezone")
        if not math.isfinite(speed) or speed <= 0:
            raise ValueError("clock speed must be a positive finite number")
        if anchor is not None and not math.isfinite(anchor):
            raise ValueError("clock anchor must be a finite epoch time")
        self.origin = origin.astimezone(UTC)
        self.speed = speed
        self.anchor = time.time() if anchor is None else anchor

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(time.time() - self.anchor) * self.speed)

    def spec(self) -> str:
        return f"{self.origin.isoformat()}@x{self.speed:g}@{self.anchor:.6f}"


class FileClock:
    """Simulated time read from a file that one driver (an end-to-end test) moves forward.

    Every process given `LOOKOUT_CLOCK=file:<path>` reads the same "now", and time only moves
    when the driver has finished with the moment before: a simulated week runs as fast as the
    services can go, with no timer judged late because a loaded machine lagged. The driver
    writes an ISO time and renames it into place, so a reader never sees half a file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._now: datetime | None = None

    def now(self) -> datetime:
        stat = self.path.stat()
        key = (stat.st_mtime_ns, stat.st_ino)
        if key != self._seen or self._now is None:
            text = self.path.read_text(encoding="utf-8").strip()
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                raise ValueError(f"clock file {self.path} holds a time without a timezone")
            self._now, self._seen = moment.astimezone(UTC), key
        return self._now

    @staticmethod
    def write(path: Path, moment: datetime) -> None:
        """Move the shared clock (the driver's side)."""
        if moment.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware time")
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(moment.astimezone(UTC).isoformat(), encoding="utf-8")
        tmp.replace(path)


def clock_from_spec(spec: str | None) -> Clock:
    """Parse `LOOKOUT_CLOCK`: empty → system time; `ISO@xSPEED[@ANCHOR]` → scaled time;
    `file:<path>` → the time a driver writes to that file."""
    if not spec:
        return SystemClock()
    if spec.startswith("file:"):
        path = Path(spec.removeprefix("file:"))
        if not path.is_file():
            raise ValueError(f"LOOKOUT_CLOCK {spec!r}: no such clock file")
        return FileClock(path)
    parts = spec.split("@")
    try:
        origin = datetime.fromisoformat(parts[0])
        speed = float(parts[1].removeprefix("x")) if len(parts) > 1 else 1.0
        anchor = float(parts[2]) if len(parts) > 2 else None
    except ValueError as exc:
        raise ValueError(
            f"LOOKOUT_CLOCK {spec!r} is not ISO-TIME@xSPEED (e.g. 2026-11-23T07:00-05:00@x120)"
        ) from exc
    if len(parts) > 3:
        raise ValueError(f"LOOKOUT_CLOCK {spec!r} has too many '@' parts")
    return ScaledClock(origin, speed, anchor)
