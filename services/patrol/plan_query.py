"""The school calendar's patrol queries. `query.<school>.patrol.plan.<person>`: the school's
announced check windows over a range of days, for an SSO's calendar feed, pure over the school
model, which carries the confirmed day types, so a day is planned by the bell it keeps;
unannounced checks never leave the service. `query.<school>.patrol.day_types.<person>`: the
confirmed day types this service plans by (its table), for the console's calendar page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.patrol_queries import (
    DAY_TYPES,
    PLAN,
    ConfirmedDay,
    DayTypesReply,
    DayTypesRequest,
    PlanReply,
    PlanRequest,
    PlanWindow,
)
from lookout.kernel.clock import Clock
from lookout.school.config import SchoolConfig
from services.patrol import domain, store

PLAN_QUERY = PLAN


async def plan_windows(school: SchoolConfig, req: PlanRequest) -> PlanReply:
    """Every announced window from `date_from` to `date_to`, soonest first."""
    names = {z.id: z.name for z in school.zones}
    windows: list[PlanWindow] = []
    day = req.date_from
    while day <= req.date_to:
        for w in domain.windows_for_day(school, day):
            if w.unannounced:
                continue
            windows.append(
                PlanWindow(
                    zone_id=w.zone_id,
                    zone_name=names[w.zone_id],
                    start=w.start,
                    end=w.end,
                    grace_minutes=int(w.grace / timedelta(minutes=1)),
                    period=w.period,
                )
            )
        day += timedelta(days=1)
    return PlanReply(windows=windows)


DAY_TYPES_QUERY = DAY_TYPES


class DayTypesQuery:
    """`query.<school>.patrol.day_types.<person>`: the patrol service's confirmed day types."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    async def answer(self, school: SchoolConfig, req: DayTypesRequest) -> DayTypesReply:
        first = req.date_from or self.clock.now().astimezone(school.tz).date()
        t = store.day_types
        async with self.sessions() as session:
            rows = await session.execute(
                select(t)
                .where(t.c.school_id == school.id, t.c.day >= first)
                .order_by(t.c.day)
                .limit(400)
            )
            return DayTypesReply(
                days=[
                    ConfirmedDay(
                        day=r.day,
                        day_type=r.day_type,
                        schedule=r.schedule,
                        confirmed_at=r.confirmed_at,
                    )
                    for r in rows
                ]
            )
