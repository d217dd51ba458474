"""`lookout sensors urls`: each HALO's URL with its token (computed here from the documented
formula), the strings to paste, the Verkada URL and the mail address; one line and exit 2 for
a school that is not configured."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lookout.cli.main import app

SECRET = "sensor-secret-for-tests-0123456789abcdef"
BASE = "https://lookout.example.org"


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOKOUT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOOKOUT_WEB_BASE_URL", BASE + "/")
    monkeypatch.setenv("LOOKOUT_SENSOR_SECRET", SECRET)
    monkeypatch.setenv("LOOKOUT_VERKADA_SECRET", "verkada-shared-secret")
    monkeypatch.setenv("LOOKOUT_SENSOR_MAIL_PORT", "2525")
    monkeypatch.setenv("LOOKOUT_SENSOR_MAIL_TO", "sensors@lookout.example.org")


def url(sensor: str) -> str:
    mac = hmac.new(SECRET.encode(), f"halo|lhs|{sensor}".encode(), hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return f"{BASE}/sensors/halo/lhs.{sensor}.{token}"


def body(state: str) -> str:
    return (
        '{"name": "%NAME%", "mac": "%MAC%", "eid": "%EID%", "date": "%DATE%", "time": "%TIME%", '
        f'"state": "{state}"}}'
    )


def test_urls_of_the_example_school() -> None:
    result = CliRunner().invoke(app, ["sensors", "urls", "--school", "lhs"])
    assert result.exit_code == 0, result.output
    boys, girls = url("halo-1n-boys"), url("halo-1n-girls")
    assert result.output.splitlines() == [
        f"HALO halo-1n-boys (zone bath-1n-boys): {boys}",
        f"  Set String:   POST:{boys}[JSONBODY]{body('set')}",
        f"  Reset String: POST:{boys}[JSONBODY]{body('reset')}",
        f"HALO halo-1n-girls (zone bath-1n-girls): {girls}",
        f"  Set String:   POST:{girls}[JSONBODY]{body('set')}",
        f"  Reset String: POST:{girls}[JSONBODY]{body('reset')}",
        f"Verkada sensor_alert webhook: {BASE}/sensors/verkada/lhs (signed with "
        "LOOKOUT_VERKADA_SECRET)",
        "  verkada-2s-boys (zone bath-2s-boys): device_id e637120c-09bb-4601-a8bf-dcf54d46aece",
        "Alert emails: to sensors@lookout.example.org (SMTP 127.0.0.1:2525), from "
        "alerts@sensors.lakeside.example.org",
        "  halo-1n-boys (zone bath-1n-boys): subject names 'HALO 1N Boys'",
        "  halo-1n-girls (zone bath-1n-girls): subject names 'HALO 1N Girls'",
        "  soter-gym-boys (zone bath-gym-boys): subject names 'Gym Boys Locker'",
    ]


def test_an_unknown_school_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(app, ["sensors", "urls", "--school", "nope"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "lookout: error: school: 'nope' is not a configured school (lhs)"
    ]
