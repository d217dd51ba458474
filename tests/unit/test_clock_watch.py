"""The clock watch wakes timer loops when a driven clock moves, and only then."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lookout.kernel.clock import FileClock, ManualClock, ScaledClock
from lookout.kernel.clock_watch import ClockWatch

MONDAY = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_wakes_every_loop_once_per_move_and_not_on_the_first_reading(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    FileClock.write(path, MONDAY)
    watch = ClockWatch(FileClock(path))
    woken: list[str] = []
    watch.on_move(lambda: woken.append("ticker"))
    watch.on_move(lambda: woken.append("mailer"))

    assert watch.check() is False  # where the clock stands is not a move
    assert watch.check() is False
    FileClock.write(path, MONDAY + timedelta(minutes=10))
    assert watch.check() is True
    assert watch.check() is False
    assert woken == ["ticker", "mailer"]


def test_only_a_driven_clock_is_watched() -> None:
    assert ClockWatch.needed(ManualClock(MONDAY)) is False
    assert ClockWatch.needed(ScaledClock(MONDAY, 120.0)) is False


async def test_the_running_watch_wakes_a_waiting_loop(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    FileClock.write(path, MONDAY)
    watch = ClockWatch(FileClock(path), poll_seconds=0.001)
    woken = asyncio.Event()
    watch.on_move(woken.set)
    watch.start()
    try:
        FileClock.write(path, MONDAY + timedelta(seconds=1))
        await asyncio.wait_for(woken.wait(), 5.0)
    finally:
        await watch.stop()
    assert woken.is_set()


async def test_a_vanished_clock_file_slows_the_watch_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    FileClock.write(path, MONDAY)
    watch = ClockWatch(FileClock(path))
    assert await watch._pass() is None  # read: look again after the poll interval
    path.unlink()  # e.g. the driver's directory removed before the services stopped
    assert await watch._pass() == 1.0
