"""A concern id belongs to its school (issue 13, item 12): `concern.<B>.resolved` carrying school
A's concern id used to resolve A's concern, because concerns were looked up by id alone."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lookout.contracts.patrol import ConcernRaised, ConcernResolved
from lookout.kernel.clock import ManualClock
from lookout.school.config import SchoolConfig
from services.patrol import store
from services.patrol.handlers import PatrolHandlers
from tests.unit.patrol.tiny_school import ACTOR, SCHOOL, at, started_day

OTHER = SCHOOL | {"id": "other", "name": "Other High"}


async def test_another_schools_events_cannot_touch_a_concern(tmp_path: Path) -> None:
    clock = ManualClock(at("09:00"))
    day = await started_day(f"sqlite+aiosqlite:///{tmp_path / 'patrol.db'}", clock, tmp_path)
    schools = {s.id: s for s in (SchoolConfig.model_validate(d) for d in (SCHOOL, OTHER))}
    handlers = PatrolHandlers(schools, day.kernel.outbox, clock)
    cid = uuid.uuid4()

    def raised(school: str) -> ConcernRaised:
        return ConcernRaised.new(
            school_id=school, occurred_at=at("09:00"), actor=ACTOR, concern_id=cid,
            category="vaping", severity="low", zone_id="bath-a",
        )  # fmt: skip

    resolved_elsewhere = ConcernResolved.new(
        school_id="other", occurred_at=at("09:05"), actor=ACTOR, concern_id=cid,
        outcome="resolved_by_sso",
    )  # fmt: skip
    raised_elsewhere = raised("other")
    try:
        async with day.kernel.sessions.begin() as session:
            assert await handlers.concern_events(session, [raised("tiny")]) == {}
        async with day.kernel.sessions.begin() as session:
            refused: dict[Any, str] = await handlers.concern_events(
                session, [resolved_elsewhere, raised_elsewhere]
            )
        assert refused == {
            resolved_elsewhere.event_id: "concern_id: unknown (never raised)",
            raised_elsewhere.event_id: "concern_id: belongs to another school",
        }
        async with day.kernel.sessions() as session:
            rows = (await session.execute(select(store.concerns))).all()
        assert [(r.school_id, r.status, r.resolved_at) for r in rows] == [("tiny", "open", None)]
    finally:
        await day.kernel.engine.dispose()
