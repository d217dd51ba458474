"""Injected time: the manual clock for tests, and LOOKOUT_CLOCK specs for simulated time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lookout.kernel.clock import (
    FileClock,
    ManualClock,
    ScaledClock,
    SystemClock,
    at_wall_time,
    clock_from_spec,
)

CHICAGO_WINTER = timezone(timedelta(hours=-6))
ANCHOR = 1_795_000_000.0  # an arbitrary wall-clock instant (epoch seconds)


class FakeWallClock:
    """Stands in for time.time(): returns `now`, which the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> FakeWallClock:
    fake = FakeWallClock(ANCHOR)
    monkeypatch.setattr(time, "time", fake)
    return fake


# --- ManualClock ------------------------------------------------------------------------------


def test_manual_clock_reports_its_start_in_utc() -> None:
    clock = ManualClock(datetime(2026, 11, 23, 8, 0, tzinfo=CHICAGO_WINTER))
    assert clock.now() == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_manual_clock_stands_still_until_told() -> None:
    clock = ManualClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    assert clock.now() == clock.now() == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def test_manual_clock_advance_moves_and_returns_the_new_time() -> None:
    clock = ManualClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    assert clock.advance(timedelta(minutes=7)) == datetime(2026, 11, 23, 14, 7, tzinfo=UTC)
    clock.advance(timedelta(days=1, seconds=30))
    assert clock.now() == datetime(2026, 11, 24, 14, 7, 30, tzinfo=UTC)


def test_manual_clock_set_jumps_and_converts_to_utc() -> None:
    clock = ManualClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    clock.set(datetime(2026, 11, 20, 15, 0, tzinfo=CHICAGO_WINTER))  # backwards is allowed
    assert clock.now() == datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_manual_clock_rejects_a_naive_start() -> None:
    with pytest.raises(ValueError) as info:
        ManualClock(datetime(2026, 11, 23, 8, 0))
    assert str(info.value) == "ManualClock needs a timezone-aware start"


def test_manual_clock_set_rejects_a_naive_time() -> None:
    clock = ManualClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    try:
        clock.set(datetime(2026, 11, 23, 8, 0))
    except ValueError:
        return
    raise AssertionError(f"naive time accepted as {clock.now().isoformat()}")


# --- clock_from_spec --------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["", None])
def test_empty_spec_is_the_system_clock(spec: str | None) -> None:
    clock = clock_from_spec(spec)
    assert isinstance(clock, SystemClock)
    assert clock.now().tzinfo is UTC


def test_system_clock_follows_the_wall_clock() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert before <= now <= after


def test_scaled_spec_with_anchor_runs_120_times_faster(wall: FakeWallClock) -> None:
    clock = clock_from_spec(f"2026-11-23T07:00-05:00@x120@{ANCHOR}")
    assert isinstance(clock, ScaledClock)
    assert clock.now() == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    wall.now = ANCHOR + 30  # 30 real seconds = 1 simulated hour
    assert clock.now() == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    wall.now = ANCHOR + 30.5
    assert clock.now() == datetime(2026, 11, 23, 13, 1, tzinfo=UTC)


def test_anchor_in_the_past_puts_simulated_time_ahead(wall: FakeWallClock) -> None:
    # A process started 15 real seconds after the supervisor agrees with it on "now".
    wall.now = ANCHOR + 15
    clock = clock_from_spec(f"2026-11-23T07:00-05:00@x120@{ANCHOR}")
    assert clock.now() == datetime(2026, 11, 23, 12, 30, tzinfo=UTC)


def test_spec_without_anchor_starts_now(wall: FakeWallClock) -> None:
    clock = clock_from_spec("2026-11-23T07:00-05:00@x60")
    assert isinstance(clock, ScaledClock)
    assert clock.anchor == ANCHOR
    assert clock.now() == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    wall.now = ANCHOR + 10
    assert clock.now() == datetime(2026, 11, 23, 12, 10, tzinfo=UTC)


def test_spec_without_speed_runs_in_real_time(wall: FakeWallClock) -> None:
    clock = clock_from_spec("2026-11-23T07:00:00-05:00")
    assert isinstance(clock, ScaledClock)
    assert clock.speed == 1.0
    wall.now = ANCHOR + 90
    assert clock.now() == datetime(2026, 11, 23, 12, 1, 30, tzinfo=UTC)


def test_spec_round_trips_so_child_processes_share_now(wall: FakeWallClock) -> None:
    parent = ScaledClock(datetime(2026, 11, 23, 7, 0, tzinfo=CHICAGO_WINTER), 120)
    assert parent.spec() == "2026-11-23T13:00:00+00:00@x120@1795000000.000000"
    wall.now = ANCHOR + 42
    child = clock_from_spec(parent.spec())
    assert child.now() == parent.now() == datetime(2026, 11, 23, 14, 24, tzinfo=UTC)


def test_scaled_clock_now_is_utc(wall: FakeWallClock) -> None:
    clock = clock_from_spec(f"2026-11-23T07:00-05:00@x2@{ANCHOR}")
    assert clock.now().tzinfo is UTC


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "monday@x120",
            "LOOKOUT_CLOCK 'monday@x120' is not ISO-TIME@xSPEED (e.g. 2026-11-23T07:00-05:00@x120)",
        ),
        (
            "2026-11-23T07:00-05:00@xfast",
            "LOOKOUT_CLOCK '2026-11-23T07:00-05:00@xfast' is not ISO-TIME@xSPEED "
            "(e.g. 2026-11-23T07:00-05:00@x120)",
        ),
        (
            "2026-11-23T07:00-05:00@x120@yesterday",
            "LOOKOUT_CLOCK '2026-11-23T07:00-05:00@x120@yesterday' is not ISO-TIME@xSPEED "
            "(e.g. 2026-11-23T07:00-05:00@x120)",
        ),
        (
            "2026-11-23T07:00-05:00@x120@1795000000@1",
            "LOOKOUT_CLOCK '2026-11-23T07:00-05:00@x120@1795000000@1' has too many '@' parts",
        ),
        ("2026-11-23T07:00@x120", "the clock origin needs a timezone"),
        ("2026-11-23T07:00-05:00@x0", "clock speed must be a positive finite number"),
        ("2026-11-23T07:00-05:00@x-2", "clock speed must be a positive finite number"),
    ],
)
def test_bad_spec_is_refused_with_a_clear_message(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        clock_from_spec(spec)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "spec",
    [
        "2026-11-23T07:00-05:00@xnan",
        "2026-11-23T07:00-05:00@xinf",
        "2026-11-23T07:00-05:00@x120@nan",
    ],
)
def test_non_finite_speed_or_anchor_is_refused_when_parsed(spec: str) -> None:
    try:
        clock = clock_from_spec(spec)
    except ValueError:
        return
    raise AssertionError(f"{spec!r} accepted as {clock!r}")


def test_a_file_clock_reads_the_time_the_driver_writes(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    monday = datetime(2026, 11, 23, 7, 0, tzinfo=ZoneInfo("America/Chicago"))
    FileClock.write(path, monday)
    clock = clock_from_spec(f"file:{path}")
    assert isinstance(clock, FileClock)
    assert clock.now() == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    assert clock.now() == clock.now()  # it does not move by itself

    FileClock.write(path, monday + timedelta(minutes=5))
    assert clock.now() == datetime(2026, 11, 23, 13, 5, tzinfo=UTC)
    assert not path.with_name("clock.tmp").exists()


def test_a_file_clock_spec_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such clock file"):
        clock_from_spec(f"file:{tmp_path / 'absent'}")


def test_a_file_clock_refuses_a_naive_time(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("2026-11-23T07:00:00", encoding="utf-8")
    with pytest.raises(ValueError, match="without a timezone"):
        FileClock(path).now()
    with pytest.raises(ValueError, match="timezone-aware"):
        FileClock.write(path, datetime(2026, 11, 23, 7, 0))


def test_a_real_instant_on_each_clocks_timeline() -> None:
    # A message the server stored at a real instant is judged at that instant's simulated time.
    origin = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    scaled = ScaledClock(origin, speed=60, anchor=1_800_000_000.0, wall=lambda: 1_800_000_100.0)
    stored = datetime.fromtimestamp(1_800_000_010.0, UTC)
    assert at_wall_time(scaled, stored) == datetime(2026, 11, 23, 13, 10, tzinfo=UTC)
    assert at_wall_time(SystemClock(), stored) == datetime(2027, 1, 15, 8, 0, 10, tzinfo=UTC)
    manual = ManualClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    assert at_wall_time(manual, stored) == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert at_wall_time(scaled, None) == datetime(2026, 11, 23, 14, 40, tzinfo=UTC)
