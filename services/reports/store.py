"""Reports tables and the repository over them. Inbox and outbox come from the kernel.

The read model holds facts only — school, kind, zone, bell period, category, severity, outcome,
timestamps — never note text, student references or visitor PII, and never another service's
tables. Every table name starts with `report_` so the service can share a PostgreSQL database
with the others. `report_sends` is not part of the read model: a rebuild never touches it, so a
rebuilt read model can never re-send a week.

- `report_patrol_facts`: scans, observations, contacts, missed and completed follow-ups (one
  row per event);
- `report_windows`: check windows closed (checked / late / missed, unannounced, period);
- `report_concerns`: one row per concern, folded from raised / updated / resolved;
- `report_alerts`: one row per alert, folded from opened / escalated / acknowledged / resolved;
- `report_visitor_facts`: check-ins (by visitor type), screening flags, overdue, out of bounds,
  unaccounted (checked out by the end of the day, not at the desk);
- `report_focus`: the patrol service's published focus per school and week;
- `report_sensor_checks`: one row per sensor alert's zone check, folded from assigned / missed /
  done (kind, zone, raised, deadline, when the zone was scanned, in time or not);
- `report_sends`: the weekly emails, their state and their rendered message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.kernel.day_types import day_types_table
from lookout.kernel.storage import UTCDateTime, inbox_table, new_metadata, outbox_table
from lookout.school.sensor_response import SensorCheckFact
from services.reports import domain

SERVICE = "reports"
metadata = new_metadata()
inbox = inbox_table(metadata, SERVICE)
outbox = outbox_table(metadata, SERVICE)
day_types = day_types_table(metadata, SERVICE)  # confirmed day types (CALENDAR)

patrol_facts = Table(
    "report_patrol_facts",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("kind", String(24), nullable=False),  # scan, observation, contact, follow_up_missed
    Column("category", String(32), nullable=True),  # observation category or contact kind
    Column("zone_id", String(64), nullable=True),
    Column("period", String(64), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("concern_id", String(36), nullable=True),  # a follow-up's concern
    Index("ix_report_patrol_facts_school_at", "school_id", "at"),
)

windows = Table(
    "report_windows",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("zone_id", String(64), nullable=False),
    Column("period", String(64), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("unannounced", Boolean, nullable=False),
    Column("window_start", UTCDateTime(), nullable=False),
    Column("window_end", UTCDateTime(), nullable=False),
    Index("ix_report_windows_school_end", "school_id", "window_end"),
)

concerns = Table(
    "report_concerns",
    metadata,
    Column("concern_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("category", String(32), nullable=True),
    Column("severity", String(16), nullable=True),
    Column("zone_id", String(64), nullable=True),
    Column("period", String(64), nullable=True),
    Column("raised_at", UTCDateTime(), nullable=True),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("outcome", String(32), nullable=True),
    Column("raised_event_id", String(36), nullable=True),  # an alert's source_event_id
    Column("raised_by", String(100), nullable=True),  # the raiser's actor, `kind:id`
    Index("ix_report_concerns_school_raised", "school_id", "raised_at"),
    Index("ix_report_concerns_school_resolved", "school_id", "resolved_at"),
)

alerts = Table(
    "report_alerts",
    metadata,
    Column("alert_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("source", String(32), nullable=True),
    Column("severity", String(16), nullable=True),
    Column("opened_at", UTCDateTime(), nullable=True),
    Column("max_step", Integer, nullable=True),  # highest escalation step index reached
    Column("reached_principal", Boolean, nullable=False),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("category", String(32), nullable=True),  # concern category or the source
    Column("zone_id", String(64), nullable=True),
    Column("source_event_id", String(36), nullable=True),  # a concern's raised event id
    Column("acknowledged_by", String(64), nullable=True),  # a person id of the school file
    Column("targets", JSON, nullable=True),  # the highest step's targets, `role:x`/`person:y`
    Index("ix_report_alerts_school_opened", "school_id", "opened_at"),
    Index("ix_report_alerts_source_event", "source_event_id"),
)

visitor_facts = Table(
    "report_visitor_facts",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("kind", String(24), nullable=False),  # checked_in, screening_flagged, overdue, …
    Column("detail", String(32), nullable=True),  # visitor type, screening decision
    Column("zone_id", String(64), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_report_visitor_facts_school_at", "school_id", "at"),
)

focus = Table(
    "report_focus",
    metadata,
    Column("school_id", String(32), primary_key=True),
    Column("week", String(8), primary_key=True),
    Column("items", JSON, nullable=False),
    Column("published_at", UTCDateTime(), nullable=False),
)

sensor_checks = Table(
    "report_sensor_checks",
    metadata,
    Column("sensor_event_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("zone_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # vape, thc, loud_sound, tamper, other
    Column("raised_at", UTCDateTime(), nullable=False),
    Column("check_by", UTCDateTime(), nullable=True),  # the deadline (assigned or missed)
    Column("missed", Boolean, nullable=False),  # the deadline passed unchecked
    Column("checked_at", UTCDateTime(), nullable=True),  # the first scan of the zone after it
    Column("response_seconds", Integer, nullable=True),
    Column("in_time", Boolean, nullable=True),
    Index("ix_report_sensor_checks_school_raised", "school_id", "raised_at"),
)

sends = Table(
    "report_sends",
    metadata,
    Column("scope", String(32), primary_key=True),  # a school id, or `_district`
    Column("week", String(8), primary_key=True),
    # pending → rendered → sending → sent; a failed attempt goes back to rendered with a later
    # due_at; after the last attempt, failed. `due_at` is the row's timer (None when done).
    Column("state", String(16), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("recipients", Integer, nullable=False),
    Column("message", LargeBinary, nullable=True),  # the rendered MIME message, sent as is
    Column("created_at", UTCDateTime(), nullable=False),
    Column("rendered_at", UTCDateTime(), nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("last_error", String(200), nullable=True),
    Index("ix_report_sends_due_at", "due_at"),
)

READ_MODEL: tuple[Table, ...] = (
    patrol_facts,
    windows,
    concerns,
    alerts,
    visitor_facts,
    focus,
    sensor_checks,
)


class ReportRepository:
    """Reads of the read model and writes of send marks, inside a caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- read model --------------------------------------------------------------------------

    async def week_facts(
        self, school_id: str, start: datetime, end: datetime, *, focus_week: str
    ) -> domain.Facts:
        """Everything a summary needs about [start, end): facts in it, concerns raised or
        resolved in it or still open at its end, alerts opened in it, the published focus."""
        s = self.session
        f = patrol_facts
        rows = await s.execute(
            select(f.c.kind, f.c.category, f.c.zone_id, f.c.period, f.c.at, f.c.concern_id).where(
                f.c.school_id == school_id, f.c.at >= start, f.c.at < end
            )
        )
        patrol = [domain.PatrolFact(*r) for r in rows]
        w = windows
        rows = await s.execute(
            select(w.c.zone_id, w.c.period, w.c.outcome, w.c.unannounced, w.c.window_end).where(
                w.c.school_id == school_id, w.c.window_end >= start, w.c.window_end < end
            )
        )
        wins = [domain.WindowFact(*r) for r in rows]
        c = concerns
        rows = await s.execute(
            select(
                c.c.category,
                c.c.severity,
                c.c.zone_id,
                c.c.period,
                c.c.raised_at,
                c.c.resolved_at,
                c.c.outcome,
                c.c.raised_event_id,
                c.c.raised_by,
            ).where(
                c.c.school_id == school_id,
                c.c.raised_at.is_not(None),
                c.c.raised_at < end,
                (c.c.resolved_at.is_(None)) | (c.c.resolved_at >= start),
            )
        )
        cons = [domain.ConcernFact(*r) for r in rows]
        alts = await self._alerts(
            alerts.c.school_id == school_id, alerts.c.opened_at >= start, alerts.c.opened_at < end
        )
        sources = [x.raised_event_id for x in cons if x.raised_event_id]
        about = (
            await self._alerts(
                alerts.c.school_id == school_id, alerts.c.source_event_id.in_(sources)
            )
            if sources
            else []
        )
        v = visitor_facts
        rows = await s.execute(
            select(v.c.kind, v.c.detail, v.c.at, v.c.zone_id).where(
                v.c.school_id == school_id, v.c.at >= start, v.c.at < end
            )
        )
        vis = [domain.VisitorFact(*r) for r in rows]
        published = await s.scalar(
            select(focus.c["items"]).where(
                focus.c.school_id == school_id, focus.c.week == focus_week
            )
        )
        sc = sensor_checks.c
        rows = await s.execute(
            select(sc.kind, sc.raised_at, sc.checked_at, sc.response_seconds, sc.in_time).where(
                sc.school_id == school_id, sc.raised_at >= start, sc.raised_at < end
            )
        )
        sensed = [SensorCheckFact(*r) for r in rows]
        return domain.Facts(patrol, wins, cons, alts, vis, published, about, sensed)

    async def _alerts(self, *where: Any) -> list[domain.AlertFact]:
        a = alerts.c
        rows = await self.session.execute(
            select(
                a.source,
                a.severity,
                a.opened_at,
                a.max_step,
                a.reached_principal,
                a.acknowledged_at,
                a.resolved_at,
                a.alert_id,
                a.category,
                a.zone_id,
                a.source_event_id,
                a.acknowledged_by,
                a.targets,
            ).where(*where)
        )
        return [domain.AlertFact(*r[:12], tuple(r[12] or ())) for r in rows]

    async def has_facts_before(self, school_id: str, moment: datetime) -> bool:
        """The read model holds something of the school from before `moment` (it had started:
        a fresh install sends no empty summary for the week before it)."""
        checks = [
            select(patrol_facts.c.at).where(
                patrol_facts.c.school_id == school_id, patrol_facts.c.at < moment
            ),
            select(windows.c.window_end).where(
                windows.c.school_id == school_id, windows.c.window_end < moment
            ),
            select(concerns.c.raised_at).where(
                concerns.c.school_id == school_id, concerns.c.raised_at < moment
            ),
            select(alerts.c.opened_at).where(
                alerts.c.school_id == school_id, alerts.c.opened_at < moment
            ),
            select(visitor_facts.c.at).where(
                visitor_facts.c.school_id == school_id, visitor_facts.c.at < moment
            ),
            select(sensor_checks.c.raised_at).where(
                sensor_checks.c.school_id == school_id, sensor_checks.c.raised_at < moment
            ),
        ]
        for query in checks:
            if await self.session.scalar(query.limit(1)) is not None:
                return True
        return False

    async def hotspot_facts(
        self, school_id: str, start: datetime, end: datetime
    ) -> tuple[list[domain.ConcernFact], list[domain.PatrolFact]]:
        """Concerns raised and observations logged in [start, end) (for hotspots and focus)."""
        c = concerns
        rows = await self.session.execute(
            select(
                c.c.category,
                c.c.severity,
                c.c.zone_id,
                c.c.period,
                c.c.raised_at,
                c.c.resolved_at,
                c.c.outcome,
            ).where(c.c.school_id == school_id, c.c.raised_at >= start, c.c.raised_at < end)
        )
        cons = [domain.ConcernFact(*r) for r in rows]
        f = patrol_facts
        rows = await self.session.execute(
            select(f.c.kind, f.c.category, f.c.zone_id, f.c.period, f.c.at).where(
                f.c.school_id == school_id,
                f.c.kind == "observation",
                f.c.at >= start,
                f.c.at < end,
            )
        )
        return cons, [domain.PatrolFact(*r) for r in rows]

    async def clear_read_model(self) -> None:
        """Delete every fact and the inbox (a rebuild); send marks and the outbox stay."""
        for table in (*READ_MODEL, inbox):
            await self.session.execute(delete(table))

    # --- sends -------------------------------------------------------------------------------

    async def sends_of(self, scope: str, limit: int) -> list[Any]:
        """The scope's weekly summaries, newest week first."""
        stmt = select(sends).where(sends.c.scope == scope).order_by(sends.c.week.desc())
        return list((await self.session.execute(stmt.limit(limit))).all())

    async def send(self, scope: str, week: str) -> Any | None:
        return (
            await self.session.execute(
                select(sends).where(sends.c.scope == scope, sends.c.week == week)
            )
        ).first()

    async def add_send(self, *, scope: str, week: str, due_at: datetime, now: datetime) -> bool:
        """Insert the week's send mark unless it exists; True when this call inserted it."""
        if await self.send(scope, week) is not None:
            return False
        await self.session.execute(
            insert(sends).values(
                scope=scope,
                week=week,
                state="pending",
                message_id=domain.message_id(scope, week),
                due_at=due_at,
                attempts=0,
                recipients=0,
                created_at=now,
            )
        )
        return True

    async def update_send(self, scope: str, week: str, *where: Any, **values: Any) -> int:
        result = await self.session.execute(
            update(sends)
            .where(sends.c.scope == scope, sends.c.week == week, *where)
            .values(**values)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def sends_of_week(self, week: str, scopes: Sequence[str]) -> list[Any]:
        rows = await self.session.execute(
            select(sends).where(sends.c.week == week, sends.c.scope.in_(list(scopes)))
        )
        return list(rows)
