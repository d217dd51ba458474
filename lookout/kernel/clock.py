"""Injected time. Every rule that depends on "now" takes a Clock, so tests run a week in ms."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from lookout.kernel.state_files import create_once, replace


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


WallTime = Callable[[], float]  # epoch seconds, like time.time


def _wall_time() -> float:
    return time.time()  # looked up at each call: tests may stand in for time.time


class ScaledClock:
    """Simulated time running `speed` times faster than the wall clock from `origin`.

    `anchor` is the wall-clock instant (epoch seconds) at which simulated time equals `origin`;
    processes given the same anchor agree on "now", which is how a supervised suite shares it.
    `wall` is the wall-clock source (time.time; tests inject their own).
    """

    def __init__(
        self,
        origin: datetime,
        speed: float,
        anchor: float | None = None,
        wall: WallTime | None = None,
    ) -> None:
        if origin.tzinfo is None:
            raise ValueError("the clock origin needs a timezone")
        if not math.isfinite(speed) or speed <= 0:
            raise ValueError("clock speed must be a positive finite number")
        if anchor is not None and not math.isfinite(anchor):
            raise ValueError("clock anchor must be a finite epoch time")
        self.origin = origin.astimezone(UTC)
        self.speed = speed
        self._wall = wall or _wall_time
        self.anchor = self._wall() if anchor is None else anchor

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(self._wall() - self.anchor) * self.speed)

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


def at_wall_time(clock: Clock, wall: datetime | None) -> datetime:
    """The instant `wall` (a real time, e.g. when the NATS server stored a message) on `clock`'s
    timeline: itself on the system clock, scaled on a simulated one. A driven clock (manual, a
    file) has no mapping from real time, so its own now stands in."""
    if wall is None:
        return clock.now()
    if isinstance(clock, SystemClock):
        return wall.astimezone(UTC)
    if isinstance(clock, ScaledClock):
        return clock.origin + timedelta(seconds=(wall.timestamp() - clock.anchor) * clock.speed)
    return clock.now()


# In the data dir: the anchor of a LOOKOUT_CLOCK given without one (see clock_from_spec).
CLOCK_ANCHOR_FILE = "clock.anchor"


def _kept_anchor(anchor_dir: Path, origin: datetime, speed: float, wall: WallTime) -> float:
    """The anchor the first process given this clock wrote down, or a new one (now) written down
    for the others and for restarts. A different origin or speed is a new simulation: it starts
    from its origin again. The file holds `<origin>@x<speed>` and the anchor, one per line."""
    path = anchor_dir / CLOCK_ANCHOR_FILE
    key = f"{origin.astimezone(UTC).isoformat()}@x{speed:g}"
    try:
        lines = create_once(path, f"{key}\n{wall():.6f}\n").splitlines()
        if len(lines) != 2 or lines[0] != key or not math.isfinite(float(lines[1])):
            raise ValueError("another clock")
    except ValueError:  # another simulation's anchor (or a damaged file): start this one now
        lines = [key, f"{wall():.6f}"]
        try:
            replace(path, "\n".join(lines) + "\n")
        except OSError as exc:
            raise ValueError(
                f"LOOKOUT_CLOCK: cannot keep its anchor in {path} ({exc.strerror})"
            ) from None
    except OSError as exc:
        raise ValueError(
            f"LOOKOUT_CLOCK: cannot keep its anchor in {path} ({exc.strerror}); "
            "give one (ISO-TIME@xSPEED@ANCHOR)"
        ) from None
    return float(lines[1])


def clock_from_spec(
    spec: str | None, anchor_dir: Path | None = None, wall: WallTime | None = None
) -> Clock:
    """Parse `LOOKOUT_CLOCK`: empty → system time; `ISO@xSPEED[@ANCHOR]` → scaled time;
    `file:<path>` → the time a driver writes to that file.

    A scaled clock without an anchor takes the one kept in `anchor_dir` (the data dir): the
    first process to start writes it and every later process and restart reads it, so a service
    restarted mid-simulation comes back at the suite's "now", not at the origin. Without
    `anchor_dir` it starts now (tests, one-off tools)."""
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
    if anchor is None and anchor_dir is not None and origin.tzinfo is not None:
        if not math.isfinite(speed) or speed <= 0:
            raise ValueError("clock speed must be a positive finite number")
        anchor = _kept_anchor(anchor_dir, origin, speed, wall or _wall_time)
    return ScaledClock(origin, speed, anchor, wall)
