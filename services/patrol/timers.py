"""The patrol service's timers: planning each day's windows, closing missed windows, noticing a
silent phone, reminding and watching welfare follow-ups. Each is a ticker module: it claims its
due rows and writes what it emits to the outbox in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.alerts import HeartbeatMissed
from lookout.contracts.envelope import Actor, ActorKind, Event
from lookout.contracts.patrol import (
    CheckMissed,
    CheckWindowClosed,
    ConcernCategory,
    FollowUpDue,
    FollowUpMissed,
    Severity,
    UnannouncedCheckScheduled,
    WindowOutcome,
)
from lookout.kernel.storage import Outbox
from lookout.kernel.ticker import CLAIM_LIMIT, claim_due
from lookout.school.config import Role, SchoolConfig
from services.patrol import domain
from services.patrol.store import (
    NOT_MONITORED,
    PlanRepository,
    RetentionRepository,
    check_windows,
    concerns,
    contacts,
    devices,
    follow_ups,
    observations,
)

SERVICE_ACTOR = Actor(kind=ActorKind.SERVICE, id="patrol")


class DayPlanner:
    """Writes today's and tomorrow's windows once per school and day (restart- and replica-safe)
    and sends the day's unannounced check times to the school's SSOs only. Windows already past
    when their day is first planned (the suite started mid-day) are stored as not monitored and
    announced to nobody."""

    name = "day_planner"

    def __init__(self, schools: Mapping[str, SchoolConfig], outbox: Outbox, seed: str) -> None:
        self.schools = schools
        self.outbox = outbox
        self.seed = seed
        # Days known to be planned (by us or another replica). A planned day never becomes
        # unplanned, so remembering it only saves a query per school and tick.
        self._known: set[tuple[str, date]] = set()

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        repo = PlanRepository(session)
        planned = 0
        for school in self.schools.values():
            today = now.astimezone(school.tz).date()
            for day in (today, today + timedelta(days=1)):
                if (school.id, day) in self._known:
                    continue
                if not await repo.claim_day(school.id, day, now):
                    # Planned and committed earlier; a day we plan now is remembered next tick,
                    # once this transaction has really committed.
                    self._known.add((school.id, day))
                    continue
                windows = domain.windows_for_day(school, day, self.seed)
                watched: list[domain.PlannedWindow] = []
                past: list[domain.PlannedWindow] = []
                for w in windows:
                    (watched if domain.is_monitored(w, now) else past).append(w)
                await repo.add_windows(school.id, watched)
                await repo.add_windows(school.id, past, NOT_MONITORED)
                await self.outbox.add(session, _unannounced_notices(school, watched, now), now)
                planned += 1
        return planned


def _unannounced_notices(
    school: SchoolConfig, windows: list[domain.PlannedWindow], now: datetime
) -> list[Event]:
    officers = [p.id for p in school.people if Role.SSO in p.roles]
    return [
        UnannouncedCheckScheduled.new(
            school_id=school.id,
            occurred_at=now,
            actor=SERVICE_ACTOR,
            officer_id=officer,
            zone_id=w.zone_id,
            check_at=w.start,
            window_end=w.end,
        )
        for w in windows
        if w.unannounced
        for officer in officers
    ]


class WindowCloser:
    """A window still open at its deadline was missed: mark it and say so."""

    name = "window_closer"

    def __init__(self, outbox: Outbox, claim_limit: int = 500) -> None:
        self.outbox = outbox
        self.claim_limit = claim_limit

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        # At a bell every zone's window closes at once: keep claiming until the backlog is gone.
        fired = 0
        while True:
            batch = await self._close_batch(session, now)
            fired += batch
            if batch < self.claim_limit:
                return fired

    async def _close_batch(self, session: AsyncSession, now: datetime) -> int:
        t = check_windows
        claim = claim_due(
            session, t, t.c.deadline_at, now, t.c.status == "open", limit=self.claim_limit
        )
        rows = (await session.execute(claim)).all()
        if not rows:
            return 0
        await session.execute(
            update(t).where(t.c.id.in_([r.id for r in rows])).values(status="missed", closed_at=now)
        )
        events: list[Event] = []
        for r in rows:
            common = {
                "school_id": r.school_id,
                "occurred_at": r.deadline_at,
                "actor": SERVICE_ACTOR,
                "zone_id": r.zone_id,
                "window_start": r.window_start,
                "window_end": r.window_end,
            }
            events.append(CheckMissed.new(**common))
            events.append(
                CheckWindowClosed.new(
                    **common,
                    outcome=WindowOutcome.MISSED,
                    unannounced=r.unannounced,
                    period=r.period,
                )
            )
        await self.outbox.add(session, events, now)
        return len(rows)


class SilenceWatch:
    """The SSO's phone stopped sending heartbeats: during school hours that is worth an alert.

    A silence is marked reported only when its HeartbeatMissed is emitted. One that becomes due
    outside school hours has its deadline moved to the next moment it matters (the next first
    bell), where it is looked at again; a heartbeat in between replaces it."""

    name = "silence_watch"

    def __init__(self, schools: Mapping[str, SchoolConfig], outbox: Outbox) -> None:
        self.schools = schools
        self.outbox = outbox

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        t = devices
        rows = (
            await session.execute(
                claim_due(session, t, t.c.silent_at, now, t.c.silence_reported.is_(False))
            )
        ).all()
        events: list[Event] = []
        for r in rows:
            # Compare-and-set on the heartbeat we read: one that arrived since wins (SQLite
            # has no row locks; a newer heartbeat's deadline must not be overwritten).
            same_silence = update(t).where(
                t.c.school_id == r.school_id,
                t.c.device_id == r.device_id,
                t.c.last_seen_at == r.last_seen_at,
                t.c.silence_reported.is_(False),
            )
            school = self.schools.get(r.school_id)
            if school is None:  # a school no longer configured: nobody to tell, ever
                await session.execute(same_silence.values(silence_reported=True))
                continue
            matters_at = domain.silence_matters_at(school, r.silent_at)
            if matters_at > now:
                await session.execute(same_silence.values(silent_at=matters_at))
                continue
            if not (await session.execute(same_silence.values(silence_reported=True))).rowcount:
                continue
            events.append(
                HeartbeatMissed.new(
                    school_id=r.school_id,
                    occurred_at=matters_at,
                    actor=SERVICE_ACTOR,
                    device_id=r.device_id,
                    officer_id=r.officer_id,
                    last_seen_at=r.last_seen_at,
                    silent_minutes=int((now - r.last_seen_at).total_seconds() // 60),
                )
            )
        await self.outbox.add(session, events, now)
        return len(events)


class FollowUpReminders:
    """A welfare re-check is due today: remind the person who resolved the concern (for a phone,
    its officer; see domain.follow_up_recipients)."""

    name = "follow_up_reminders"

    def __init__(self, schools: Mapping[str, SchoolConfig], outbox: Outbox) -> None:
        self.schools = schools
        self.outbox = outbox

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        t = follow_ups
        rows = (
            await session.execute(
                claim_due(session, t, t.c.remind_at, now, t.c.status == "scheduled")
            )
        ).all()
        if not rows:
            return 0
        await session.execute(
            update(t)
            .where(t.c.concern_id.in_([r.concern_id for r in rows]))
            .values(status="reminded")
        )
        repo = PlanRepository(session)
        events: list[Event] = []
        for school_id in sorted({r.school_id for r in rows}):
            school = self.schools.get(school_id)
            if school is None:  # a school no longer configured: nobody to remind
                continue
            mine = [r for r in rows if r.school_id == school_id]
            people = {p.id for p in school.people}
            phones = await repo.device_officers(
                school_id, [r.officer_id for r in mine if r.officer_id not in people]
            )
            events += [
                FollowUpDue.new(
                    school_id=r.school_id,
                    occurred_at=r.remind_at,
                    actor=SERVICE_ACTOR,
                    officer_id=officer,
                    concern_id=uuid.UUID(r.concern_id),
                    zone_id=r.zone_id,
                    due_at=r.deadline_at,
                )
                for r in mine
                for officer in domain.follow_up_recipients(
                    school, r.officer_id, phones.get(r.officer_id)
                )
            ]
        await self.outbox.add(session, events, now)
        return len(rows)  # re-checks reminded (the ticker compares it with its claim limit)


class FollowUpDeadlines:
    """The school day of a re-check ended without it: that is alert-worthy."""

    name = "follow_up_deadlines"

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        t = follow_ups
        pending = t.c.status.in_(["scheduled", "reminded"])
        rows = (await session.execute(claim_due(session, t, t.c.deadline_at, now, pending))).all()
        if not rows:
            return 0
        await session.execute(
            update(t)
            .where(t.c.concern_id.in_([r.concern_id for r in rows]))
            .values(status="missed")
        )
        events = [
            FollowUpMissed.new(
                school_id=r.school_id,
                occurred_at=r.deadline_at,
                actor=SERVICE_ACTOR,
                concern_id=uuid.UUID(r.concern_id),
                category=ConcernCategory(r.category),
                severity=Severity(r.severity),
                zone_id=r.zone_id,
                due_at=r.deadline_at,
            )
            for r in rows
        ]
        await self.outbox.add(session, events, now)
        return len(events)


class StudentRecordsPurge:
    """Once a school's `student_records_retention_days` have passed since a concern was resolved
    (open ones are kept), or since a contact or observation was logged, its student references
    and note text are erased. The row's deadline is that time plus the retention period, so a
    changed retention applies to every row; each row is purged once (`purged_at`)."""

    name = "student_records_purge"
    limit = CLAIM_LIMIT

    def __init__(self, schools: Mapping[str, SchoolConfig]) -> None:
        self.schools = schools

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        repo = RetentionRepository(session)
        purged = 0
        for school in self.schools.values():
            cutoff = school.student_records_cutoff(now)
            mine = (concerns.c.school_id == school.id, concerns.c.purged_at.is_(None))
            due = claim_due(
                session, concerns, concerns.c.resolved_at, cutoff, *mine, limit=self.limit
            )
            ids = [r.concern_id for r in (await session.execute(due)).all()]
            await repo.purge_concerns(ids, now)
            purged += len(ids)
            for table, since, purge in (
                (contacts, contacts.c.contacted_at, repo.purge_contacts),
                (observations, observations.c.observed_at, repo.purge_observations),
            ):
                where = (table.c.school_id == school.id, table.c.purged_at.is_(None))
                due = claim_due(session, table, since, cutoff, *where, limit=self.limit)
                ids = [r.event_id for r in (await session.execute(due)).all()]
                await purge(ids, now)
                purged += len(ids)
        return purged
