"""Visitor timers (rows with deadlines, fired by the kernel's ticker): overdue visits, the
end-of-day checkout, and the purge of visitor PII after the retention period.

A visit still on site when the day closes is reported overdue (at the close at the latest),
then checked out automatically and reported unaccounted for, in that order: only a desk
sign-out says someone saw the visitor leave, so only it may settle their alerts.

Each claims its due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and changes them with a
conditional UPDATE in the same transaction as the outbox rows, so a restart or a second
replica never fires a row twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.envelope import Event
from lookout.contracts.visitors import (
    CheckoutMethod,
    DrillEndReason,
    VisitorCheckedOut,
    VisitorOverdue,
    VisitorUnaccounted,
    VisitStatus,
)
from lookout.kernel.storage import Outbox
from lookout.kernel.ticker import claim_due
from lookout.school.config import SchoolConfig
from services.visitors import domain
from services.visitors.drills import end_drill
from services.visitors.handlers import SERVICE_ACTOR
from services.visitors.store import DrillRepository, VisitorRepository, drills, visits


class OverdueVisits:
    """A visit still on site past its expected departure plus the grace: `overdue`, once."""

    name = "visitor-overdue"

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        rows = await session.execute(
            claim_due(
                session,
                visits,
                visits.c.overdue_at,
                now,
                visits.c.status == VisitStatus.ON_SITE.value,
                visits.c.overdue_reported_at.is_(None),
            )
        )
        repo = VisitorRepository(session)
        events: list[Event] = []
        for row in rows.all():
            if await repo.mark_overdue(row.visit_id, now):
                events.append(overdue(row, row.overdue_at))
        await self.outbox.add(session, events, now)
        return len(events)


def overdue(row: Any, at: datetime) -> VisitorOverdue:
    return VisitorOverdue.new(
        school_id=row.school_id,
        occurred_at=at,
        actor=SERVICE_ACTOR,
        visit_id=uuid.UUID(row.visit_id),
        badge_number=row.badge_number,
        expected_until=row.expected_until,
    )


class EndOfDayCheckout:
    """Visits still open when the day closes are checked out, recorded as automatic (at the
    closing time, even if the service was down then). A visit on site is reported overdue first
    if it was not yet (the overdue timer fires at the close at the latest, but a failed tick,
    the claim limit or a visit admitted before that rule can leave it to this one), then
    `checked_out` (automatic) and `unaccounted`: nobody saw the visitor leave. A visit still held
    for screening is closed too, without an event: it never checked in."""

    name = "visitor-auto-checkout"

    def __init__(self, outbox: Outbox, schools: Mapping[str, SchoolConfig]) -> None:
        self.outbox = outbox
        self.schools = schools

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        open_statuses = [VisitStatus.ON_SITE.value, VisitStatus.PENDING_SCREENING.value]
        rows = await session.execute(
            claim_due(
                session,
                visits,
                visits.c.auto_checkout_at,
                now,
                visits.c.status.in_(open_statuses),
            )
        )
        repo = VisitorRepository(session)
        events: list[Event] = []
        closed = 0
        for row in rows.all():
            school = self.schools.get(row.school_id)
            if school is None:
                continue
            at = row.auto_checkout_at
            on_site = row.status == VisitStatus.ON_SITE.value
            # Before the close: mark_overdue needs the visit on site. Both UPDATEs are
            # conditional on its status, so a desk sign-out that won the race leaves both alone.
            reported = row.overdue_reported_at is not None
            if on_site and not reported and await repo.mark_overdue(row.visit_id, now):
                deadline = row.overdue_at if row.overdue_at is not None else at
                events.append(overdue(row, min(deadline, at)))
            ok = await repo.close(
                row.visit_id,
                VisitStatus.CHECKED_OUT,
                at,
                domain.purge_at(school, at),
                method=CheckoutMethod.AUTOMATIC_END_OF_DAY,
                by=SERVICE_ACTOR.id,
                only_if=VisitStatus(row.status),
            )
            if not ok:
                continue
            closed += 1
            if on_site:
                events.append(
                    VisitorCheckedOut.new(
                        school_id=row.school_id,
                        occurred_at=at,
                        actor=SERVICE_ACTOR,
                        visit_id=uuid.UUID(row.visit_id),
                        badge_number=row.badge_number,
                        method=CheckoutMethod.AUTOMATIC_END_OF_DAY,
                    )
                )
                events.append(
                    VisitorUnaccounted.new(
                        school_id=row.school_id,
                        occurred_at=at,
                        actor=SERVICE_ACTOR,
                        visit_id=uuid.UUID(row.visit_id),
                        badge_number=row.badge_number,
                        expected_until=row.expected_until,
                        checked_out_at=at,
                        last_seen_zone=row.last_seen_zone,
                        last_seen_at=row.last_seen_at,
                    )
                )
        await self.outbox.add(session, events, now)
        return closed


class PiiPurge:
    """After the retention period, the visitor's name, ID type/last 4 and date of birth are
    deleted (and decision notes blanked); the visit's facts stay for the statistics."""

    name = "visitor-pii-purge"

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        rows = await session.execute(
            claim_due(session, visits, visits.c.purge_at, now, visits.c.pii_purged_at.is_(None))
        )
        ids = [r.visit_id for r in rows.all()]
        await VisitorRepository(session).purge_pii(ids, now)
        return len(ids)


class DrillDayEnd:
    """A drill nobody ended (or not everyone accounted for) is closed with its school day
    (`day_ended`, at its closing time), so the next day's Start begins a new drill."""

    name = "visitor-drill-day-end"

    def __init__(self, outbox: Outbox, schools: Mapping[str, SchoolConfig]) -> None:
        self.outbox = outbox
        self.schools = schools

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        rows = await session.execute(
            claim_due(session, drills, drills.c.closes_at, now, drills.c.ended_at.is_(None))
        )
        repo = DrillRepository(session)
        events: list[Event] = []
        for row in rows.all():
            school = self.schools.get(row.school_id)
            if school is None:
                continue
            events += await end_drill(
                repo,
                school,
                row,
                row.closes_at,
                SERVICE_ACTOR.id,
                DrillEndReason.DAY_ENDED,
                actor=SERVICE_ACTOR,
            )
        await self.outbox.add(session, events, now)
        return len(events)
