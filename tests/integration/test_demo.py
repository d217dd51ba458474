"""`lookout demo` as a user runs it: the suite and a simulated Friday at high speed, a live feed,
the weekly summary's path at the end, a clean stop."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nats, pytest.mark.slow]


def demo(tmp_path: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    env["LOOKOUT_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "lookout.cli", "demo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_simulated_friday_ends_with_the_weekly_email(tmp_path: Path) -> None:
    result = demo(tmp_path, "--days", "1", "--start", "2026-12-04", "--speed", "3000")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Lookout demo: lhs, Fri 04 Dec for 1 day(s) at x3000" in out
    # The feed: patrol checks, concerns, visitors, and escalations reaching people.
    assert re.search(r"Fri \d\d:\d\d:\d\d checkpoint\.scanned zone_id=", out)
    assert re.search(r"Fri \d\d:\d\d:\d\d concern\.raised concern_id=", out)
    assert re.search(r"Fri \d\d:\d\d:\d\d sign in 1204-v\d+: ", out)
    assert re.search(r"ESCALATION → principal-okafor: ", out)
    found = re.search(r"The weekly summary email: (\S+\.eml)", out)
    assert found is not None, out
    email = Path(found.group(1)).read_text(errors="replace")
    assert "Message-ID: <weekly-summary.2026-W49.lhs@lookout.reports>" in email
    assert Path(found.group(1)).parent == tmp_path / "data" / "demo" / "mail"
    # Nothing that identifies a student reaches the terminal.
    assert not re.search(r"S-1\d{3}", out)
    assert "Lookout stopped." in out
    assert re.findall(r"(\w+) stopped \(code (-?\d+)\)", out) == [
        ("patrol", "0"),
        ("visitors", "0"),
        ("alerts", "0"),
        ("reports", "0"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "9"], "days: between 1 and 7"),
        (["--speed", "0"], "speed: between 1 and 5000"),
        (["--start", "monday"], "start: not a YYYY-MM-DD date"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = demo(tmp_path, *args, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
