"""Every secret `lookout deploy nats-config` writes is readable by its owner only (0600):
`auth.conf` holds bcrypt hashes (an offline guessing target), the .env files hold passwords."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lookout.cli.main import app as cli_app
from lookout.deploy.nats import generate
from lookout.kernel.settings import EXAMPLE_SCHOOL, load_school


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask that would leave every new file world-readable and writable (0666)."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_nats_config_writes_auth_conf_and_credentials_0600(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli_app,
        ["deploy", "nats-config", "--schools", "lhs", "--out", str(tmp_path), "--rounds", "4",
         "--school-file", str(EXAMPLE_SCHOOL)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _mode(tmp_path / "auth.conf") == 0o600
    assert _mode(tmp_path / "credentials") == 0o700
    env_files = sorted((tmp_path / "credentials").glob("*.env"))
    assert (tmp_path / "credentials" / "svc-patrol.env") in env_files
    assert {path.name: _mode(path) for path in env_files} == {
        path.name: 0o600 for path in env_files
    }


def test_secret_files_are_0600_whatever_the_umask(tmp_path: Path, permissive_umask: None) -> None:
    generated = generate({"lhs": load_school(EXAMPLE_SCHOOL)}, tmp_path, rounds=4)
    assert _mode(generated.auth_file) == 0o600
    assert _mode(generated.credentials_dir / "admin.env") == 0o600


def test_regenerating_narrows_files_an_older_run_left_world_readable(tmp_path: Path) -> None:
    (tmp_path / "credentials").mkdir()
    old_auth, old_env = tmp_path / "auth.conf", tmp_path / "credentials" / "admin.env"
    for path in (old_auth, old_env):
        path.write_text("old\n", encoding="utf-8")
        path.chmod(0o644)
    generate({"lhs": load_school(EXAMPLE_SCHOOL)}, tmp_path, rounds=4)
    assert _mode(old_auth) == 0o600
    assert _mode(old_env) == 0o600
    assert old_auth.read_text(encoding="utf-8") != "old\n"
