"""`query.<school>.patrol.plan.<person>`: the school's announced check windows over a range of
days, for an SSO's calendar feed. Pure over the school model, which carries the confirmed day
types, so a day is planned by the bell it keeps; unannounced checks never leave the service."""

from __future__ import annotations

from datetime import timedelta

from lookout.contracts.patrol_queries import PLAN, PlanReply, PlanRequest, PlanWindow
from lookout.school.config import SchoolConfig
from services.patrol import domain

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
