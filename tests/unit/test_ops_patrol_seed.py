"""The unannounced check times are drawn with a per-deployment secret even when
LOOKOUT_PATROL_SEED is unset (before, every fresh install drew the same, computable times): one is
generated on first start and kept in the data dir (0600); production is warned to set its own."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from pathlib import Path

import pytest

from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings, load_school
from lookout.school.patrol_plan import windows_for_day
from services.patrol import app as patrol_app
from services.patrol.timers import DayPlanner

HEX_64 = re.compile(r"[0-9a-f]{64}")


def test_two_data_dirs_draw_two_different_secrets(tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path / "school-a").patrol_secret()
    other = Settings(data_dir=tmp_path / "school-b").patrol_secret()
    assert HEX_64.fullmatch(one) and HEX_64.fullmatch(other)
    assert one != other


def test_the_same_data_dir_keeps_its_secret_across_starts(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).patrol_secret()
    again = Settings(data_dir=tmp_path).patrol_secret()
    assert again == first
    assert (tmp_path / "patrol.seed").read_text(encoding="utf-8") == first + "\n"


def test_the_secret_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    Settings(data_dir=tmp_path).patrol_secret()
    assert (tmp_path / "patrol.seed").stat().st_mode & 0o777 == 0o600


def test_an_explicit_seed_wins_and_nothing_is_written(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path, patrol_seed="district-secret").patrol_secret() == (
        "district-secret"
    )
    assert not (tmp_path / "patrol.seed").exists()


def test_production_without_an_explicit_seed_is_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lookout.config"):
        Settings(data_dir=tmp_path, provision_streams=False).patrol_secret()
        Settings(data_dir=tmp_path, provision_streams=False, patrol_seed="s").patrol_secret()
        Settings(data_dir=tmp_path / "local").patrol_secret()  # `lookout up`: no warning
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    seed_file = tmp_path / "patrol.seed"
    assert (
        warnings[0]
        .getMessage()
        .startswith(
            f"LOOKOUT_PATROL_SEED is not set: using the secret generated in {seed_file}; set "
        )
    )


def test_the_patrol_service_draws_with_the_deployments_secret(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        nats_url="nats://127.0.0.1:1",
        patrol_db_url=f"sqlite+aiosqlite:///{tmp_path / 'patrol.db'}",
    )
    kernel = patrol_app.create_kernel(settings)
    patrol_app.build_app(kernel)
    assert kernel.ticker is not None
    (planner,) = [m for m in kernel.ticker.modules if isinstance(m, DayPlanner)]
    assert planner.seed == (tmp_path / "patrol.seed").read_text(encoding="utf-8").strip()
    assert HEX_64.fullmatch(planner.seed)


def test_two_fresh_installs_draw_different_unannounced_times(tmp_path: Path) -> None:
    school = load_school(EXAMPLE_SCHOOL)
    monday = date(2026, 11, 23)

    def draws(install: Path) -> list[tuple[str, datetime]]:
        seed = Settings(data_dir=install).patrol_secret()
        windows = windows_for_day(school, monday, seed)
        return [(w.zone_id, w.start) for w in windows if w.unannounced]

    first, second = draws(tmp_path / "install-1"), draws(tmp_path / "install-2")
    assert len(first) == len(second) == 12  # three each in the example's four gym-area zones
    assert first != second
    assert draws(tmp_path / "install-1") == first  # and the same again after a restart
