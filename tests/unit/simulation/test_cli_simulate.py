"""`lookout simulate` without NATS: the dry-run table, and bad options or clocks as one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lookout.cli.main import app

runner = CliRunner()
# Nothing listens on port 1: a run that got as far as connecting fails with exit 1.
UNREACHABLE = {"LOOKOUT_NATS_URL": "nats://127.0.0.1:1", "COLUMNS": "120"}
AT_START = {"LOOKOUT_CLOCK": "2026-11-23T06:50-06:00@x120", **UNREACHABLE}


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_dry_run_prints_the_plan_per_day_and_publishes_nothing(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["simulate", "--seed", "1", "--dry-run"],
        # The unannounced check times come from the deployment's patrol secret: fixed here, or
        # each run would generate its own (issue 13, item 15) and draw other times.
        env={"LOOKOUT_DATA_DIR": str(tmp_path), "LOOKOUT_PATROL_SEED": "dry-run", **UNREACHABLE},
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Plan for lhs, seed 1: 2026-11-23 for 5 day(s), 3 school day(s); 912 students (S-1001…)"
    )
    assert lines[1].split() == ["officers", "sso-rivera"]
    assert lines[2].split() == [
        "vaping",
        "bath-1n-boys,",
        "bath-1n-girls",
        "at",
        "pass-3,",
        "pass-6",
    ]
    table = {line.split()[0]: line.split()[1:] for line in lines[5:15]}
    # A regression pin of seed 1's plan with patrol secret "dry-run" (275 + 292 + 286 = 853).
    assert table["actions"] == ["275", "292", "286", "closed", "closed", "853"]
    assert table["heartbeats"] == ["108", "108", "108", "324"]
    assert lines[-1].split()[:2] == ["11", "vaping,"]
    assert not (tmp_path / "simulation-truth.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "x"], "seed: not a whole number"),
        (["--days", "0"], "days: between 1 and 28"),
        (["--days", "many"], "days: not a whole number"),
        (["--sso", "3"], "sso: 1 or 2"),
        (["--start", "2026-02-30"], "start: not a YYYY-MM-DD date"),
        (["--start", "2026-11-28", "--days", "2"], "start/days: no school day from 2026-11-28"),
        (["--school", "nope"], "school: 'nope' is not a configured school (lhs)"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(
        app, ["simulate", *args], env={"LOOKOUT_DATA_DIR": str(tmp_path), **AT_START}
    )
    assert result.exit_code == 2
    assert message in one_line_error(result)


def test_a_clock_that_will_not_reach_the_plan_is_refused(tmp_path: Path) -> None:
    env = {"LOOKOUT_DATA_DIR": str(tmp_path), **UNREACHABLE}
    past = runner.invoke(
        app, ["simulate"], env={**env, "LOOKOUT_CLOCK": "2027-01-04T08:00-06:00@x1"}
    )
    assert past.exit_code == 2
    assert "is past the plan's last action" in one_line_error(past)
    far = runner.invoke(
        app, ["simulate"], env={**env, "LOOKOUT_CLOCK": "2026-01-05T08:00-06:00@x1"}
    )
    assert far.exit_code == 2
    assert "days of wall time: set LOOKOUT_CLOCK" in one_line_error(far)
    bad = runner.invoke(app, ["simulate"], env={**env, "LOOKOUT_CLOCK": "soon"})
    assert bad.exit_code == 2
    assert "LOOKOUT_CLOCK 'soon'" in one_line_error(bad)


def test_unreachable_nats_is_one_line_and_writes_no_truth(tmp_path: Path) -> None:
    truth = tmp_path / "truth.json"
    result = runner.invoke(
        app,
        ["simulate", "--truth", str(truth)],
        env={"LOOKOUT_DATA_DIR": str(tmp_path), **AT_START},
    )
    assert result.exit_code == 1
    assert one_line_error(result) == "lookout: error: cannot reach NATS at nats://127.0.0.1:1"
    assert not truth.exists()


def test_truth_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["simulate", "--truth", str(tmp_path)],
        env={"LOOKOUT_DATA_DIR": str(tmp_path), **AT_START},
    )
    assert result.exit_code == 2
    assert one_line_error(result) == f"lookout: error: truth: {tmp_path} is a directory"
