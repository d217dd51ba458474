"""`GET /api/v1/clock`'s reading of each kind of suite clock, exactly."""

from __future__ import annotations

from datetime import UTC, datetime

from lookout.kernel.clock import ManualClock, ScaledClock, SystemClock
from services.web.suite_time import ClockKind, reading_of


def test_a_scaled_clock_reads_its_time_truncated_to_the_millisecond_and_its_speed() -> None:
    origin = datetime.fromisoformat("2026-12-01T09:00:00-06:00")
    clock = ScaledClock(origin, 600, anchor=1000.0, wall=lambda: 1000.0019999)
    reading = reading_of(clock)  # 1.9999 ms of wall time: 1.1999994 s of school time
    assert reading.kind is ClockKind.SCALED
    assert reading.now == "2026-12-01T15:00:01.199Z"  # never rounded up to .200
    assert reading.rate == 600
    assert len(reading.id) == 16
    # Another run of the demo (another anchor) is another clock.
    assert reading_of(ScaledClock(origin, 600, anchor=2000.0, wall=lambda: 2000.0)).id != (
        reading.id
    )


def test_a_driven_clock_reads_its_time_at_rate_zero() -> None:
    reading = reading_of(ManualClock(datetime(2026, 12, 1, 16, 20, 5, 123456, tzinfo=UTC)))
    assert (reading.kind, reading.now, reading.rate, reading.id) == (
        ClockKind.DRIVEN,
        "2026-12-01T16:20:05.123Z",
        0.0,
        "driven",
    )


def test_the_wall_clock_is_the_wall_clock() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    reading = reading_of(SystemClock())
    assert (reading.kind, reading.rate, reading.id) == (ClockKind.WALL, 1.0, "wall")
    assert before <= datetime.fromisoformat(reading.now) <= datetime.now(UTC)
