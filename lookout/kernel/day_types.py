"""Confirmed day types at run time: each service that plans by the bell keeps the latest
`school.<school>.day_type.*` event per date in its own table (through its inbox, like any event),
reads the table into its school models when it starts, and updates them as events arrive.

A service that is down while an admin confirms a date catches up from its durable consumer
before it is ready, so no service plans a day by a bell the others no longer keep.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date

from sqlalchemy import Column, Date, MetaData, String, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.calendar import DayKind, DayTypeConfirmed, DayTypeWithdrawn
from lookout.contracts.envelope import Event
from lookout.kernel.storage import UTCDateTime
from lookout.school.config import SchoolConfig
from lookout.school.day_types import DayType

log = logging.getLogger("lookout.day_types")

# Called in the same transaction after a date's day type changed (the patrol service replans
# a day it has already planned).
OnChange = Callable[[AsyncSession, SchoolConfig, date], Awaitable[None]]


def day_types_table(metadata: MetaData, service: str) -> Table:
    return Table(
        f"{service}_day_types",
        metadata,
        Column("school_id", String(32), primary_key=True),
        Column("day", Date, primary_key=True),
        Column("day_type", String(16), nullable=False),  # contracts.calendar.DayKind
        Column("schedule", String(64), nullable=True),
        Column("event_id", String(36), nullable=False),
        Column("confirmed_at", UTCDateTime(), nullable=False),
    )


class DayTypeFollower:
    """One service's confirmed day types: its table and the school models it plans by."""

    def __init__(
        self, table: Table, schools: Mapping[str, SchoolConfig], on_change: OnChange | None = None
    ) -> None:
        self.table = table
        self.schools = schools
        self.on_change = on_change

    async def load(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Read the table into the school models (at start-up, before any event or timer)."""
        async with sessions() as session:
            rows = (await session.execute(select(self.table))).all()
        by_school: dict[str, dict[date, DayType]] = {school_id: {} for school_id in self.schools}
        for r in rows:
            if r.school_id in by_school:
                by_school[r.school_id][r.day] = DayType(DayKind(r.day_type), r.schedule)
        for school_id, days in by_school.items():
            self.schools[school_id].set_day_types(days)
        log.info("event=day_types_loaded count=%d", sum(len(d) for d in by_school.values()))

    async def apply(self, session: AsyncSession, events: Sequence[Event]) -> dict[uuid.UUID, str]:
        """Each confirmation or withdrawal, in stream order: the row, then the school model."""
        rejected: dict[uuid.UUID, str] = {}
        t = self.table
        for e in events:
            if not isinstance(e, DayTypeConfirmed | DayTypeWithdrawn):
                rejected[e.event_id] = f"{e.type} is not consumed by this service"
                continue
            school = self.schools[e.school_id]
            alternate = e.schedule if isinstance(e, DayTypeConfirmed) else None
            if alternate is not None and alternate not in school.bell_schedule.alternates:
                # Never plan a day by a bell this service does not know.
                rejected[e.event_id] = "schedule"
                continue
            await session.execute(delete(t).where(t.c.school_id == e.school_id, t.c.day == e.day))
            if isinstance(e, DayTypeConfirmed):
                await session.execute(
                    insert(t).values(
                        school_id=e.school_id,
                        day=e.day,
                        day_type=e.day_type.value,
                        schedule=e.schedule,
                        event_id=str(e.event_id),
                        confirmed_at=e.occurred_at,
                    )
                )
                days = {**school.confirmed_day_types(), e.day: DayType(e.day_type, e.schedule)}
            else:
                days = {d: kind for d, kind in school.confirmed_day_types().items() if d != e.day}
            school.set_day_types(days)
            if self.on_change is not None:
                await self.on_change(session, school, e.day)
        return rejected
