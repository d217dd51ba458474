"""`lookout users`: a password read from standard input, a one-time link printed, and the one
line an unknown person or school gets."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from lookout.cli.main import app
from lookout.kernel.settings import Settings
from lookout.kernel.storage import make_engine
from services.web.store import credentials, digest, password_matches, signin_links


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LOOKOUT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOOKOUT_WEB_BASE_URL", "https://lookout.example.org/")
    return Settings()


def rows(settings: Settings, table):  # type: ignore[no-untyped-def]
    async def read():  # type: ignore[no-untyped-def]
        engine = make_engine(settings.database_url("web"))
        async with engine.connect() as conn:
            result = (await conn.execute(select(table))).all()
        await engine.dispose()
        return result

    return asyncio.run(read())


def test_set_password_from_stdin(env: Settings) -> None:
    result = CliRunner().invoke(
        app, ["users", "set-password", "sso-rivera", "--school", "lhs"], input="long enough pw\n"
    )
    assert (result.exit_code, result.output) == (0, "password set for sso-rivera of lhs\n")
    [row] = rows(env, credentials)
    assert (row.school_id, row.person_id) == ("lhs", "sso-rivera")
    assert row.password_hash.startswith("$argon2id$")
    assert password_matches(row.password_hash, "long enough pw")
    assert not password_matches(row.password_hash, "long enough pw ")


def test_link_prints_a_single_use_url_whose_token_is_kept_hashed(env: Settings) -> None:
    result = CliRunner().invoke(app, ["users", "link", "principal-okafor", "--school", "lhs"])
    assert result.exit_code == 0
    url = result.output.strip()
    assert url.startswith("https://lookout.example.org/signin/")
    token = url.rsplit("/", 1)[1]
    [row] = rows(env, signin_links)
    assert row.token_hash == digest(token) and token not in row.token_hash
    assert row.expires_at - row.created_at == timedelta(minutes=15)
    assert row.used_at is None


SET = ["set-password", "sso-rivera", "--school", "lhs"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["link", "nobody", "--school", "lhs"], None, "person: not a person of school 'lhs'"),
        (
            ["link", "sso-rivera", "--school", "zzz"],
            None,
            "--school: no school 'zzz' is configured",
        ),
        (SET, "short\n", "password: 8 to 1024 characters"),
        (SET, "", "password: none given on standard input"),
    ],
)
def test_refusals_are_one_line(
    env: Settings, args: list[str], stdin: str | None, message: str
) -> None:
    result = CliRunner().invoke(app, ["users", *args], input=stdin)
    assert result.exit_code == 2
    assert result.output.strip().endswith(message)
