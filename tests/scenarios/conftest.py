"""Fixtures of the scenario suite: a factory of scenarios (closed after the test) and, when
LOOKOUT_TEST_POSTGRES_URL is set, a throwaway PostgreSQL database for the replica scenarios."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import POSTGRES_URL
from tests.scenarios.harness import Scenario

Start = Callable[..., Awaitable[Scenario]]


@pytest.fixture
async def scenario(tmp_path: Path) -> AsyncIterator[Start]:
    """`await scenario(school_doc, "2026-11-16 07:00", patrol=..., smtp=...)`."""
    started: list[Scenario] = []

    async def start(doc: dict[str, Any], at: str, **options: Any) -> Scenario:
        s = await Scenario.start(tmp_path / f"s{len(started)}", doc, at, **options)
        started.append(s)
        return s

    yield start
    for s in started:
        await s.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database (skipped without LOOKOUT_TEST_POSTGRES_URL)."""
    if not POSTGRES_URL:
        pytest.skip("LOOKOUT_TEST_POSTGRES_URL is not set: PostgreSQL replica scenario skipped")
    import asyncpg

    name = f"lookout_scn_{uuid.uuid4().hex[:12]}"
    admin = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
