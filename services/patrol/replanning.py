"""A day type confirmed or withdrawn for a day already planned (today or tomorrow: a snow day
called at 6 a.m.): the day's windows not yet begun are planned again by the day's new bell.
Windows past keep their outcome; one under way stays open if the new bell has it too, and is no
longer watched (never missed) if it does not."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.kernel.clock import Clock
from lookout.kernel.storage import Outbox
from lookout.school.config import SchoolConfig
from services.patrol import domain
from services.patrol.store import NOT_MONITORED, PlanRepository, check_windows, planned_days
from services.patrol.timers import _unannounced_notices


class DayReplanner:
    """The kernel's day-type hook for the patrol service (runs in the consumer's transaction)."""

    def __init__(self, outbox: Outbox, clock: Clock, seed: str) -> None:
        self.outbox = outbox
        self.clock = clock
        self.seed = seed

    async def __call__(self, session: AsyncSession, school: SchoolConfig, day: date) -> None:
        planned = await session.execute(
            select(planned_days.c.day).where(
                planned_days.c.school_id == school.id, planned_days.c.day == day
            )
        )
        if planned.first() is None:
            return  # the day planner will plan it by the new bell when its day comes
        now = self.clock.now()
        day_start = datetime.combine(day, time(0), tzinfo=school.tz)
        from_ = max(now, day_start)
        until = datetime.combine(day + timedelta(days=1), time(0), tzinfo=school.tz)
        t = check_windows
        await session.execute(
            delete(t).where(
                t.c.school_id == school.id, t.c.window_start >= from_, t.c.window_start < until
            )
        )
        plan = domain.windows_for_day(school, day, self.seed)
        # A window under way that the day's new bell does not have is no longer watched: nobody
        # is told they missed a check the school called off (a snow day at 08:36).
        kept = {(w.zone_id, w.start, w.end, w.unannounced) for w in plan}
        under_way = await session.execute(
            select(t.c.id, t.c.zone_id, t.c.window_start, t.c.window_end, t.c.unannounced).where(
                t.c.school_id == school.id,
                t.c.status == "open",
                t.c.window_start >= day_start,
                t.c.window_start < from_,
            )
        )
        dropped = [
            r.id
            for r in under_way
            if (r.zone_id, r.window_start, r.window_end, bool(r.unannounced)) not in kept
        ]
        if dropped:
            await session.execute(update(t).where(t.c.id.in_(dropped)).values(status=NOT_MONITORED))
        windows = [w for w in plan if w.start >= from_]
        await PlanRepository(session).add_windows(school.id, windows)
        await self.outbox.add(session, _unannounced_notices(school, windows, now), now)
