"""Shared fixtures: a real nats-server per test module, databases, the example school."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings, load_school
from lookout.local.runtime import EmbeddedNats
from lookout.school.config import SchoolConfig

POSTGRES_URL = os.environ.get("LOOKOUT_TEST_POSTGRES_URL", "")


@pytest.fixture(scope="session")
def school() -> SchoolConfig:
    return load_school(EXAMPLE_SCHOOL)


@pytest.fixture
def clock() -> ManualClock:
    # Monday of ISO week 48, 2026, 08:00 in Chicago.
    return ManualClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """A real nats-server with JetStream on a free port and a temporary store."""
    store = tmp_path_factory.mktemp("nats")
    server = EmbeddedNats(store_dir=store / "js", log_file=store / "nats.log").start()
    yield server
    server.stop()


def _database_params() -> list[object]:
    params: list[object] = ["sqlite"]
    reason = "LOOKOUT_TEST_POSTGRES_URL is not set: PostgreSQL variant skipped"
    params.append(
        pytest.param("postgres", marks=[pytest.mark.postgres])
        if POSTGRES_URL
        else pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.skip(reason=reason)])
    )
    return params


@pytest.fixture(params=_database_params())
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"
        return
    import asyncpg  # only needed for the PostgreSQL variant

    name = f"lookout_t_{uuid.uuid4().hex[:12]}"
    admin_dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = POSTGRES_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(nats_url: str = "nats://127.0.0.1:1", **db_urls: str) -> Settings:
        return Settings(
            data_dir=tmp_path / "data",
            nats_url=nats_url,
            **{f"{k}_db_url": v for k, v in db_urls.items()},
        )

    return make
