"""The runner's own checks, before it touches NATS."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from lookout.kernel.clock import ManualClock, ScaledClock
from lookout.kernel.settings import Settings
from lookout.school.config import SchoolConfig
from lookout.simulation import SimulationError, build_plan, run_simulation
from lookout.simulation.runner import wall_seconds_until

UNREACHABLE = Settings(nats_url="nats://127.0.0.1:1")


def plan(school: SchoolConfig):  # type: ignore[no-untyped-def]
    return build_plan(school, seed=1, start=date(2026, 11, 23), days=1)


MON = datetime(2026, 11, 23, 12, tzinfo=UTC)
TUE = datetime(2026, 11, 24, 12, tzinfo=UTC)
PAST = "the clock (2026-11-24T12:00:00+00:00) is already past the plan's last action"


@pytest.mark.parametrize(
    ("pace", "clock", "message"),
    [
        ("fast", ManualClock(MON), "pace: one of clock, drive, asap, not 'fast'"),
        ("drive", ScaledClock(MON, 60), "pace drive needs a settable clock (ManualClock)"),
        ("clock", ManualClock(TUE), f"{PAST} (2026-11-23T21:50:00+00:00)"),
        ("asap", ManualClock(MON), "cannot reach NATS at nats://127.0.0.1:1"),
    ],
)
async def test_refusals_are_one_line_and_write_nothing(
    school: SchoolConfig, tmp_path: Path, pace: str, clock: object, message: str
) -> None:
    truth = tmp_path / "truth.json"
    with pytest.raises(SimulationError) as caught:
        await run_simulation(UNREACHABLE, plan(school), clock, truth, pace=pace)  # type: ignore[arg-type]
    assert str(caught.value) == message
    assert not truth.exists()


def test_wall_time_until_a_moment_follows_the_clock_speed() -> None:
    origin = datetime(2026, 11, 23, 12, tzinfo=UTC)
    clock = ScaledClock(origin, 120, anchor=0.0)  # long past: the clock is far ahead
    assert wall_seconds_until(clock, origin) == 0.0
    manual = ManualClock(origin)
    assert wall_seconds_until(manual, datetime(2026, 11, 23, 13, tzinfo=UTC)) == 3600.0
