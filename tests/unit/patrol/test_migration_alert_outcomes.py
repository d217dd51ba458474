"""Migration 0006 carries what `concern_alerts` knew into `alert_outcomes`: each concern's alert
keeps its state, who settled it and when, and gains its concern's category, zone and severity
(the raise's time standing for its opening); an alert whose concern was erased is not carried,
since nothing could show it. The Today answer then reads the carried row as before."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from lookout.kernel.storage import _alembic_config, make_engine
from services.patrol.app import MIGRATIONS
from services.patrol.store import alert_outcomes


async def test_0006_carries_each_concern_alert_with_its_concern(database_url: str) -> None:
    engine = make_engine(database_url)
    cfg = _alembic_config(MIGRATIONS, "patrol")

    def to(revision: str) -> object:
        def run(connection: Connection) -> None:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

        return run

    try:
        async with engine.begin() as conn:
            await conn.run_sync(to("0005"))
            await conn.execute(
                text(
                    "INSERT INTO concerns (concern_id, school_id, category, severity, zone_id,"
                    " student_refs, status, raised_by_kind, raised_by, raised_at, updated_at)"
                    " VALUES ('c-1', 'tiny', 'vaping', 'high', 'bath-a', '[]', 'open', 'staff',"
                    " 'sso-kim', '2026-11-23 14:10:00+00:00', '2026-11-23 14:10:00+00:00')"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO concern_timeline (concern_id, event_id, kind, actor_id, note, at)"
                    " VALUES ('c-1', 'e-1', 'raised', 'sso-kim', '',"
                    " '2026-11-23 14:10:00+00:00')"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO concern_alerts"
                    " (alert_id, school_id, source_event_id, state, by_person_id, at) VALUES"
                    " ('a-1', 'tiny', 'e-1', 'acknowledged', 'ap-diaz',"
                    "  '2026-11-23 14:14:00+00:00'),"
                    " ('a-2', 'tiny', 'e-gone', 'open', NULL, NULL)"
                )
            )
        async with engine.begin() as conn:
            await conn.run_sync(to("head"))
            rows = (await conn.execute(select(alert_outcomes))).all()
            tables = await conn.run_sync(
                lambda c: set(c.dialect.get_table_names(c))  # type: ignore[no-untyped-call]
            )
        assert [r._asdict() for r in rows] == [
            {
                "alert_id": "a-1",
                "school_id": "tiny",
                "source": "concern",
                "severity": "high",
                "zone_id": "bath-a",
                "category": "vaping",
                "source_event_id": "e-1",
                "opened_at": datetime(2026, 11, 23, 14, 10, tzinfo=UTC),
                "state": "acknowledged",
                "by_person_id": "ap-diaz",
                "at": datetime(2026, 11, 23, 14, 14, tzinfo=UTC),
            }
        ]
        assert "concern_alerts" not in tables
        assert {"alert_outcomes", "alert_pages"} <= tables
    finally:
        await engine.dispose()
