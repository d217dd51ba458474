"""Which services each command knows: `run` and `db upgrade` every process (the web service
too, with its own database and migrations), `dlq` only the event-driven services, which
dead-letter; errors are one line naming the choices."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from lookout.cli.main import app

runner = CliRunner()
EVERY = "patrol, visitors, alerts, reports, web"


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("select name from sqlite_master where type='table'")}


def test_db_upgrade_web_migrates_the_web_database_only(tmp_path: Path) -> None:
    env = {"LOOKOUT_DATA_DIR": str(tmp_path), "LOOKOUT_WEB_DB_URL": None}
    for _ in range(2):  # twice: idempotent
        result = runner.invoke(app, ["db", "upgrade", "web"], env=env)
        assert result.exit_code == 0, result.output
        assert result.stdout == (
            f"web: database at head (sqlite+aiosqlite:///{(tmp_path / 'web.db').resolve()})\n"
        )
    assert {
        "web_credentials", "web_signin_links", "web_sessions", "web_devices",
        "web_signin_failures", "web_alembic_version",
    } <= tables(tmp_path / "web.db")  # fmt: skip
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["web.db"]


def test_db_upgrade_without_a_name_migrates_every_service_and_the_web(tmp_path: Path) -> None:
    env = {"LOOKOUT_DATA_DIR": str(tmp_path)}
    env |= {f"LOOKOUT_{name.upper()}_DB_URL": None for name in EVERY.split(", ")}
    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == EVERY.split(", ")
    assert sorted(p.name for p in tmp_path.glob("*.db")) == [
        "alerts.db", "patrol.db", "reports.db", "visitors.db", "web.db",
    ]  # fmt: skip


def test_run_and_db_upgrade_name_every_service_when_the_name_is_unknown() -> None:
    for args in (["run", "webb"], ["db", "upgrade", "webb"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert result.stderr == (
            f"lookout: error: service: unknown service 'webb' (one of: {EVERY})\n"
        )


def test_dlq_knows_the_web_consumes_no_stream() -> None:
    for args in (["dlq", "list", "--service", "web"], ["dlq", "replay", "--service", "web"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert result.stderr == (
            "lookout: error: service: 'web' consumes no stream: no dead letters "
            "(one of: patrol, visitors, alerts, reports)\n"
        )
