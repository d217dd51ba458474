"""A scaled clock given without an anchor (`LOOKOUT_CLOCK=…@x60`, the README's example) keeps
the anchor the first process wrote in the data dir: a service killed and restarted mid-simulation
comes back at the suite's simulated "now", not at the origin (it came back 12 simulated minutes
in the past before). Wall time is injected: no sleeps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from lookout.kernel.clock import ScaledClock, clock_from_spec
from lookout.kernel.settings import Settings

SPEC = "2026-11-23T07:00-06:00@x60"  # 07:00 in Chicago = 13:00 UTC


class Wall:
    """A wall clock (epoch seconds) the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_restarted_process_comes_back_at_the_suites_now(tmp_path: Path) -> None:
    first_wall = Wall(1_800_000_000.0)
    first = clock_from_spec(SPEC, anchor_dir=tmp_path, wall=first_wall)
    # 12 real seconds later (12 simulated minutes at x60) the patrol service is restarted.
    restart_wall = Wall(1_800_000_012.0)
    restarted = clock_from_spec(SPEC, anchor_dir=tmp_path, wall=restart_wall)
    first_wall.now = 1_800_000_012.0
    assert first.now() == datetime(2026, 11, 23, 13, 12, tzinfo=UTC)
    assert restarted.now() == datetime(2026, 11, 23, 13, 12, tzinfo=UTC)


def test_settings_keep_the_anchor_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(clock=SPEC, data_dir=tmp_path)
    one = settings.make_clock(wall=Wall(1_800_000_000.0))
    other = settings.make_clock(wall=Wall(1_800_000_030.0))
    assert isinstance(one, ScaledClock) and isinstance(other, ScaledClock)
    assert one.anchor == other.anchor == 1_800_000_000.0
    assert other.now() == datetime(2026, 11, 23, 13, 30, tzinfo=UTC)
    assert (tmp_path / "clock.anchor").read_text(encoding="utf-8") == (
        "2026-11-23T13:00:00+00:00@x60\n1800000000.000000\n"
    )


def test_another_data_dir_is_another_suite(tmp_path: Path) -> None:
    clock_from_spec(SPEC, anchor_dir=tmp_path / "a", wall=Wall(1_800_000_000.0))
    elsewhere = clock_from_spec(SPEC, anchor_dir=tmp_path / "b", wall=Wall(1_800_000_500.0))
    assert elsewhere.now() == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def test_a_changed_clock_setting_starts_its_own_simulation_from_its_origin(
    tmp_path: Path,
) -> None:
    clock_from_spec(SPEC, anchor_dir=tmp_path, wall=Wall(1_800_000_000.0))
    faster = clock_from_spec(
        "2026-11-23T07:00-06:00@x120", anchor_dir=tmp_path, wall=Wall(1_800_000_100.0)
    )
    assert faster.now() == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    back = clock_from_spec(SPEC, anchor_dir=tmp_path, wall=Wall(1_800_000_160.0))
    assert back.now() == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # x60's anchor was replaced


def test_an_explicit_anchor_wins_and_writes_nothing(tmp_path: Path) -> None:
    clock = clock_from_spec(f"{SPEC}@1799999940", anchor_dir=tmp_path, wall=Wall(1_800_000_000.0))
    assert clock.now() == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert not (tmp_path / "clock.anchor").exists()


def test_a_damaged_anchor_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "clock.anchor").write_text("2026-11-23T13:00:00+00:00@x60\nsoon\n", "utf-8")
    clock = clock_from_spec(SPEC, anchor_dir=tmp_path, wall=Wall(1_800_000_000.0))
    assert clock.now() == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    assert (tmp_path / "clock.anchor").read_text(encoding="utf-8").endswith("1800000000.000000\n")


def test_an_unwritable_data_dir_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^LOOKOUT_CLOCK: cannot keep its anchor in "):
        clock_from_spec(SPEC, anchor_dir=blocker, wall=Wall(1_800_000_000.0))
