"""A concern id belongs to its school (issue 13, item 12): the read model refuses another
school's event for it, as the patrol service does, instead of folding it into that concern."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.patrol import ConcernRaised, ConcernResolved
from lookout.kernel.settings import EXAMPLE_SCHOOL, load_school
from lookout.kernel.storage import make_engine, make_sessionmaker, upgrade_database
from services.reports import store
from services.reports.app import MIGRATIONS
from services.reports.handlers import ReportHandlers

PHONE = {"kind": "sso_device", "id": "phone-rivera"}
T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 09:00 in Chicago


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}")
    await upgrade_database(engine, MIGRATIONS, store.SERVICE)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_another_schools_resolve_does_not_fold_into_a_concern(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    lhs = load_school(EXAMPLE_SCHOOL)
    other = lhs.model_copy(update={"id": "other"})
    handlers = ReportHandlers({"lhs": lhs, "other": other})
    cid = uuid.uuid4()
    raised = ConcernRaised.new(
        school_id="lhs", occurred_at=T0, actor=PHONE, concern_id=cid,
        category="vaping", severity="low", zone_id="bath-1n-boys",
    )  # fmt: skip
    resolved = ConcernResolved.new(
        school_id="other", occurred_at=T0, actor=PHONE, concern_id=cid, outcome="resolved_by_sso"
    )
    async with sessions.begin() as session:
        assert await handlers.concerns(session, [raised]) == {}
    async with sessions.begin() as session:
        assert await handlers.concerns(session, [resolved]) == {
            resolved.event_id: "concern_id: belongs to another school"
        }
    async with sessions() as session:
        rows = (await session.execute(select(store.concerns))).all()
    assert [(r.school_id, r.resolved_at, r.outcome) for r in rows] == [("lhs", None, None)]


async def test_a_second_raise_of_a_concern_is_refused_not_folded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    handlers = ReportHandlers({"lhs": load_school(EXAMPLE_SCHOOL)})
    cid = uuid.uuid4()

    def raised(severity: str) -> ConcernRaised:
        return ConcernRaised.new(
            school_id="lhs", occurred_at=T0, actor=PHONE, concern_id=cid,
            category="conflict", severity=severity, zone_id="cafeteria",
        )  # fmt: skip

    again = raised("critical")
    async with sessions.begin() as session:
        assert await handlers.concerns(session, [raised("low")]) == {}
    async with sessions.begin() as session:
        assert await handlers.concerns(session, [again]) == {
            again.event_id: "concern_id: already raised"
        }
    async with sessions() as session:
        rows = (await session.execute(select(store.concerns))).all()
    assert [(r.severity, r.category) for r in rows] == [("low", "conflict")]
