"""`lookout demo` as a user runs it: the suite and a simulated Friday at high speed, a live feed,
the weekly summary's path at the end, a clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.test_cli import Output, processes_using, wait_for

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
        ("web", "0"),
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


# What `lookout demo` prints for the web, line by line (the spacing of `lookout up`'s table).
WEB_LINE = r"^  web       (http://127\.0\.0\.1:\d+)  \(sign-in links below: one use, 15 minutes\)$"
LINK = r"(\S+)/signin/([A-Za-z0-9_-]{43})$"  # a 32-byte token, URL-safe base64
SIGN_IN_LINES = {
    "sso": r"^  sign in   lhs sso {10}sso-rivera {9}" + LINK,
    "front_office": r"^  sign in   lhs front_office office-garcia {6}" + LINK,
    "principal": r"^  sign in   lhs principal {4}principal-okafor {3}" + LINK,
}
FEED_LINE = r"^Tue \d\d:\d\d:\d\d "


def test_the_demo_prints_web_sign_in_links_before_the_week_and_a_link_signs_in(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    env.update(LOOKOUT_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", COLUMNS="200")
    args = ["--days", "1", "--start", "2026-12-01", "--speed", "600"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookout.cli", "demo", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(proc)
    try:
        wait_for(
            lambda: output.find(FEED_LINE) or proc.poll() is not None,
            timeout=60,
            what="the week's first feed line",
            context=output.text,
        )
        assert proc.poll() is None, output.text()
        lines = list(output.lines)
        first_feed = next(i for i, line in enumerate(lines) if re.search(FEED_LINE, line))

        def where(pattern: str) -> tuple[int, re.Match[str]]:
            found = [(i, m) for i, line in enumerate(lines) if (m := re.search(pattern, line))]
            assert len(found) == 1, (pattern, output.text())
            return found[0]

        web_at, web = where(WEB_LINE)
        base = web.group(1)
        links = {}
        for role, pattern in SIGN_IN_LINES.items():
            at, match = where(pattern)
            assert web_at < at < first_feed, output.text()  # printed before the week starts
            assert match.group(1) == base
            links[role] = f"{match.group(1)}/signin/{match.group(2)}"
        assert len(set(links.values())) == 3

        # The SSO's link signs in: a session cookie and the way to the phone app.
        # Opening the link shows whom it signs in; the button's POST uses it.
        page = httpx.get(links["sso"], follow_redirects=False, timeout=10)
        assert page.status_code == 200 and "Sign in as Dana Rivera" in page.text
        answer = httpx.post(links["sso"], headers={"Origin": base}, timeout=10)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/app"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("__Host-lookout=")
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
        session = cookie.split(";", 1)[0]
        phone = httpx.get(f"{base}/app", headers={"Cookie": session}, timeout=10)
        assert phone.status_code == 200
        assert "Dana Rivera" in phone.text
        # One use: the same link again is 404.
        assert httpx.get(links["sso"], follow_redirects=False, timeout=10).status_code == 404
        assert httpx.post(links["sso"], headers={"Origin": base}, timeout=10).status_code == 404
        # The phone stamps its events by the demo's clock: Tuesday, running at x600.
        reading = httpx.get(f"{base}/api/v1/clock", timeout=10).json()
        assert (reading["kind"], reading["rate"]) == ("scaled", 600.0)
        assert reading["now"].startswith("2026-12-01T")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in processes_using(data_dir):  # never leave strays behind, even on failure
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 0, output.text()
    wait_for(lambda: output.find("Lookout stopped."), timeout=5, what="the goodbye")
    assert re.findall(r"(\w+) stopped \(code (-?\d+)\)", output.text()) == [
        ("patrol", "0"),
        ("visitors", "0"),
        ("alerts", "0"),
        ("reports", "0"),
        ("web", "0"),
    ]
