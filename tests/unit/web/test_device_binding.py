"""A phone is bound to the first person who uses it; its last_seen_at is written at most every
30 s (every batch and heartbeat passes through the binding, and SQLite has one writer)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lookout.kernel.storage import make_engine, make_sessionmaker, upgrade_database
from services.web.store import MIGRATIONS, DeviceBound, DeviceTaken, WebRepository, devices

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


async def test_binding_is_first_use_and_last_seen_is_written_every_half_minute(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    await upgrade_database(engine, MIGRATIONS, "web")
    sessions = make_sessionmaker(engine)

    async def bind(person: str, at: datetime) -> DeviceBound:
        async with sessions.begin() as db:
            return await WebRepository(db).bind_device(
                device_id="phone-1", school_id="lhs", person_id=person, now=at
            )

    async def last_seen() -> datetime:
        async with sessions() as db:
            row = (await db.execute(select(devices.c.last_seen_at))).one()
            return row.last_seen_at

    try:
        assert await bind("sso-rivera", T0) == DeviceBound(new=True, last_seen_at=T0)
        later = T0 + timedelta(seconds=29)
        assert await bind("sso-rivera", later) == DeviceBound(new=False, last_seen_at=T0)
        assert await last_seen() == T0
        half_minute = T0 + timedelta(seconds=30)
        assert await bind("sso-rivera", half_minute) == DeviceBound(
            new=False, last_seen_at=half_minute
        )
        assert await last_seen() == T0 + timedelta(seconds=30)
        with pytest.raises(DeviceTaken):
            await bind("sso-okafor", T0 + timedelta(minutes=5))
        assert await last_seen() == T0 + timedelta(seconds=30)
    finally:
        await engine.dispose()
