"""Evacuation drills (front-office commands and a query, each its own transaction): staff start
a drill, and every visitor in the building at its start — on site, or held for screening at
the desk — must be accounted for. The time to full accountability is the last one's moment.

- Starting while a drill is open answers that drill: two desks pressing Start get one.
- Marking a visitor already accounted for changes nothing and emits nothing (a conditional
  UPDATE), so two desks marking at once record it once.
- A visitor signed out at the desk during the drill was seen leaving: accounted for
  (`signed_out`), in the sign-out's own transaction.
- The last one accounted for ends the drill (`all_accounted_for`); staff may end it sooner
  (`ended_by_staff`), and the unaccounted count goes with the event. A drill nobody ended is
  closed with its school day (`day_ended`, timers.DrillDayEnd), so the next day's Start begins
  a new one. A new drill may follow.

Events carry ids only; the query's reply carries names, like the roster (the evacuation list).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.envelope import Actor, ActorKind, Event
from lookout.contracts.visitors import (
    AccountedHow,
    DrillAccount,
    DrillEnd,
    DrillEnded,
    DrillEndReason,
    DrillQuery,
    DrillReply,
    DrillStart,
    DrillStarted,
    DrillState,
    DrillVisitor,
    VisitorAccountedFor,
)
from lookout.kernel.clock import Clock
from lookout.kernel.queries import Refused
from lookout.kernel.storage import lock_for_write
from lookout.school.config import SchoolConfig
from services.visitors import domain
from services.visitors.store import DrillRepository, drills

log = logging.getLogger("lookout.visitors")

# One transaction with its events in the outbox (VisitorHandlers.commit).
Work = Callable[[AsyncSession, datetime], Awaitable[tuple[Any, list[Event]]]]
Commit = Callable[[Work], Awaitable[Any]]


def _desk(person: str) -> Actor:
    return Actor(kind=ActorKind.FRONT_OFFICE, id=person)


async def account(
    repo: DrillRepository,
    school: SchoolConfig,
    drill: Any,
    visit_id: str,
    by: str,
    how: AccountedHow,
    now: datetime,
) -> list[Event]:
    """Account for one visitor of an open drill; the last one ends it. Nothing when already
    accounted for."""
    if not await repo.account(drill.drill_id, visit_id, now, by, how.value):
        return []
    events: list[Event] = [
        VisitorAccountedFor.new(
            school_id=school.id,
            occurred_at=now,
            actor=_desk(by),
            drill_id=uuid.UUID(drill.drill_id),
            visit_id=uuid.UUID(visit_id),
            how=how,
            accounted_by=by,
        )
    ]
    _, unaccounted = await repo.counts(drill.drill_id)
    if unaccounted == 0:
        events += await end_drill(repo, school, drill, now, by, DrillEndReason.ALL_ACCOUNTED_FOR)
    return events


async def end_drill(
    repo: DrillRepository,
    school: SchoolConfig,
    drill: Any,
    now: datetime,
    by: str,
    reason: DrillEndReason,
    actor: Actor | None = None,
) -> list[Event]:
    """End an open drill (nothing when it had ended already), with its counts; the time to
    full accountability only when everyone was accounted for."""
    if not await repo.end(drill.drill_id, now, by, reason.value):
        return []
    accounted, unaccounted = await repo.counts(drill.drill_id)
    log.info(
        "event=drill_ended school=%s drill=%s reason=%s accounted=%d unaccounted=%d",
        school.id,
        drill.drill_id,
        reason.value,
        accounted,
        unaccounted,
    )
    complete = reason is DrillEndReason.ALL_ACCOUNTED_FOR
    return [
        DrillEnded.new(
            school_id=school.id,
            occurred_at=now,
            actor=actor or _desk(by),
            drill_id=uuid.UUID(drill.drill_id),
            reason=reason,
            accounted=accounted,
            unaccounted=unaccounted,
            seconds_to_account=domain.seconds_to_account(drill.started_at, now)
            if complete
            else None,
        )
    ]


async def account_signed_out(
    session: AsyncSession, school: SchoolConfig, visit_id: str, by: str, now: datetime
) -> list[Event]:
    """Inside a sign-out's transaction: a visitor signed out during a drill was seen leaving."""
    repo = DrillRepository(session)
    events: list[Event] = []
    for drill_id in await repo.open_with(school.id, visit_id):
        drill = await repo.get(school.id, drill_id, lock=True)
        events += await account(repo, school, drill, visit_id, by, AccountedHow.SIGNED_OUT, now)
    return events


class DrillHandlers:
    """The drill commands and query; `commit` is the visitors handlers' one-transaction runner
    (events through the outbox)."""

    def __init__(
        self, commit: Commit, sessions: async_sessionmaker[AsyncSession], clock: Clock
    ) -> None:
        self.commit = commit
        self.sessions = sessions
        self.clock = clock

    async def start(self, school: SchoolConfig, req: DrillStart) -> DrillReply:
        if (reason := domain.refuse_staff(school, "started_by", req.started_by)) is not None:
            raise Refused(reason)

        async def work(session: AsyncSession, now: datetime) -> tuple[str, list[Event]]:
            await lock_for_write(session, drills)  # one open drill: read it under the lock
            repo = DrillRepository(session)
            open_drill = await repo.open_drill(school.id)
            if open_drill is not None:
                return open_drill.drill_id, []
            drill_id = str(uuid.uuid4())
            on_site = await repo.on_site(school.id)
            closes_at = domain.day_end(school, now)
            await repo.add(drill_id, school.id, now, req.started_by, on_site, closes_at)
            log.info(
                "event=drill_started school=%s drill=%s visitors=%d",
                school.id,
                drill_id,
                len(on_site),
            )
            events: list[Event] = [
                DrillStarted.new(
                    school_id=school.id,
                    occurred_at=now,
                    actor=_desk(req.started_by),
                    drill_id=uuid.UUID(drill_id),
                    visitors=len(on_site),
                )
            ]
            if not on_site:  # nobody to account for: accounted for at once
                drill = await repo.get(school.id, drill_id)
                events += await end_drill(
                    repo, school, drill, now, req.started_by, DrillEndReason.ALL_ACCOUNTED_FOR
                )
            return drill_id, events

        drill_id = await self.commit(work)
        return await self.reply(school, drill_id)

    async def account(self, school: SchoolConfig, req: DrillAccount) -> DrillReply:
        if (reason := domain.refuse_staff(school, "accounted_by", req.accounted_by)) is not None:
            raise Refused(reason)

        async def work(session: AsyncSession, now: datetime) -> tuple[str, list[Event]]:
            await lock_for_write(session, drills)
            repo = DrillRepository(session)
            drill = await repo.get(school.id, req.drill_id, lock=True)
            if drill is None:
                raise Refused("drill_id: no such drill in this school")
            member = await repo.member(drill.drill_id, str(req.visit_id))
            if member is None:
                raise Refused("visit_id: not in the building when the drill started")
            if member.accounted_at is not None:
                return drill.drill_id, []  # another desk was first: the same answer
            if drill.ended_at is not None:
                raise Refused(f"drill {drill.drill_id} has ended")
            by = req.accounted_by
            events = await account(
                repo, school, drill, member.visit_id, by, AccountedHow.MARKED, now
            )
            return drill.drill_id, events

        drill_id = await self.commit(work)
        return await self.reply(school, drill_id)

    async def end(self, school: SchoolConfig, req: DrillEnd) -> DrillReply:
        if (reason := domain.refuse_staff(school, "ended_by", req.ended_by)) is not None:
            raise Refused(reason)

        async def work(session: AsyncSession, now: datetime) -> tuple[str, list[Event]]:
            await lock_for_write(session, drills)
            repo = DrillRepository(session)
            drill = await repo.get(school.id, req.drill_id, lock=True)
            if drill is None:
                raise Refused("drill_id: no such drill in this school")
            events = await end_drill(
                repo, school, drill, now, req.ended_by, DrillEndReason.ENDED_BY_STAFF
            )
            return drill.drill_id, events  # already ended: the same answer

        drill_id = await self.commit(work)
        return await self.reply(school, drill_id)

    async def query(self, school: SchoolConfig, req: DrillQuery) -> DrillReply:
        async with self.sessions() as session:
            repo = DrillRepository(session)
            drill = (
                await repo.get(school.id, req.drill_id)
                if req.drill_id is not None
                else await repo.latest(school.id)
            )
        if req.drill_id is not None and drill is None:
            raise Refused("drill_id: no such drill in this school")
        if drill is None:
            return DrillReply(as_of=self.clock.now(), drill=None)
        return await self.reply(school, drill.drill_id)

    async def reply(self, school: SchoolConfig, drill_id: str) -> DrillReply:
        hosts = {p.id: p.name for p in school.people}
        async with self.sessions() as session:
            repo = DrillRepository(session)
            drill = await repo.get(school.id, drill_id)
            assert drill is not None
            rows = await repo.visitors(drill_id)
        complete = drill.end_reason == DrillEndReason.ALL_ACCOUNTED_FOR.value
        return DrillReply(
            as_of=self.clock.now(),
            drill=DrillState(
                drill_id=uuid.UUID(drill.drill_id),
                started_at=drill.started_at,
                started_by=drill.started_by,
                ended_at=drill.ended_at,
                ended_by=drill.ended_by,
                end_reason=drill.end_reason,
                seconds_to_account=domain.seconds_to_account(drill.started_at, drill.ended_at)
                if complete
                else None,
                visitors=[
                    DrillVisitor(
                        **domain.visit_listing(r, hosts),
                        accounted_at=r.accounted_at,
                        accounted_by=r.accounted_by,
                        how=r.how,
                    )
                    for r in rows
                ],
            ),
        )
