"""Sensor alerts become zone checks: the SENSORS stream's `sensor.alert.raised` asks the nearest
on-duty SSO to scan the zone by the school's deadline (`SensorCheckAssigned`, addressed to that
officer's phone) and adds a sensor observation to the zone's; the first scan of the zone after
it ends the check (`SensorCheckDone`, with the response time, however late); a deadline passed
without one is `SensorCheckMissed`, which the alerts service escalates."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.envelope import Actor, ActorKind, Event
from lookout.contracts.patrol import (
    CheckpointScanned,
    SensorCheckAssigned,
    SensorCheckDone,
    SensorCheckMissed,
)
from lookout.contracts.sensors import SensorAlertCleared, SensorAlertRaised, SensorKind
from lookout.kernel.clock import Clock
from lookout.kernel.storage import Outbox
from lookout.kernel.ticker import claim_due
from lookout.school.config import SchoolConfig
from services.patrol import sensor_rules
from services.patrol.reads import device_officers
from services.patrol.sensor_rules import LastSeen
from services.patrol.store import checkpoint_scans, observations, sensor_checks

SERVICE_ACTOR = Actor(kind=ActorKind.SERVICE, id="patrol")
Refusals = dict[uuid.UUID, str]
UNCHECKED = ("open", "missed")


class SensorCheckRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open_check_of_sensor(self, school_id: str, sensor_id: str) -> Any:
        t = sensor_checks.c
        return (
            await self.session.execute(
                select(sensor_checks)
                # A check past its deadline is escalating: a new alert gets a check of its own.
                .where(t.school_id == school_id, t.sensor_id == sensor_id, t.status == "open")
                .order_by(t.raised_at)
                .limit(1)
            )
        ).first()

    async def fold(self, sensor_event_id: str) -> None:
        t = sensor_checks.c
        await self.session.execute(
            update(sensor_checks)
            .where(t.sensor_event_id == sensor_event_id)
            .values(reports=t.reports + 1)
        )

    async def last_seen(self, school_id: str) -> dict[str, LastSeen]:
        """Where each officer (their phones included) last scanned, and when."""
        c = checkpoint_scans.c
        latest = (
            select(c.officer_id, func.max(c.scanned_at).label("at"))
            .where(c.school_id == school_id)
            .group_by(c.officer_id)
            .subquery()
        )
        rows = await self.session.execute(
            select(c.officer_id, c.zone_id, c.scanned_at).join(
                latest, (latest.c.officer_id == c.officer_id) & (latest.c.at == c.scanned_at)
            )
        )
        officers = await device_officers(session=self.session, school_id=school_id)
        seen: dict[str, LastSeen] = {}
        for r in rows:
            who = officers.get(r.officer_id, r.officer_id)
            if who not in seen or seen[who].at < r.scanned_at:
                seen[who] = LastSeen(r.zone_id, r.scanned_at)
        return seen

    async def unchecked_in_zones(self, school_id: str, zone_ids: Sequence[str]) -> list[Any]:
        t = sensor_checks.c
        rows = await self.session.execute(
            select(sensor_checks)
            .where(t.school_id == school_id, t.zone_id.in_(zone_ids), t.status.in_(UNCHECKED))
            .order_by(t.raised_at)
        )
        return list(rows.all())

    async def first_scan_since(self, school_id: str, zone_id: str, since: datetime) -> Any:
        """A scan of the zone already taken in at or after `since` (the PATROL stream may
        reach this service before the SENSORS one)."""
        c = checkpoint_scans.c
        return (
            await self.session.execute(
                select(c.officer_id, c.scanned_at)
                .where(c.school_id == school_id, c.zone_id == zone_id, c.scanned_at >= since)
                .order_by(c.scanned_at)
                .limit(1)
            )
        ).first()

    async def mark_checked(self, sensor_event_id: str, at: datetime, by: str) -> bool:
        t = sensor_checks.c
        done = await self.session.execute(
            update(sensor_checks)
            .where(t.sensor_event_id == sensor_event_id, t.status.in_(UNCHECKED))
            .values(status="checked", checked_at=at, checked_by=by)
        )
        return bool(done.rowcount)


class SensorCheckHandlers:
    def __init__(self, schools: Mapping[str, SchoolConfig], outbox: Outbox, clock: Clock) -> None:
        self.schools = schools
        self.outbox = outbox
        self.clock = clock

    async def sensor_events(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        """One at a time, in order: a second alert of a sensor folds into the first's check."""
        repo = SensorCheckRepository(session)
        refused: Refusals = {}
        emitted: list[Event] = []
        for e in events:
            if isinstance(e, SensorAlertCleared):
                continue  # the reading went down; the zone still needs its check
            assert isinstance(e, SensorAlertRaised)
            school = self.schools[e.school_id]
            sensor = school.sensors.by_id(e.sensor_id)
            if sensor is None:
                refused[e.event_id] = "sensor_id: not a sensor of the school file"
                continue
            if sensor.zone != e.zone_id:
                refused[e.event_id] = "zone_id: not the zone the school file places the sensor in"
                continue
            open_check = await repo.open_check_of_sensor(e.school_id, e.sensor_id)
            if open_check is not None:
                await repo.fold(open_check.sensor_event_id)
                continue
            now = self.clock.now()
            officer = sensor_rules.nearest_officer(
                school, e.zone_id, await repo.last_seen(e.school_id), now
            )
            deadline = sensor_rules.check_by(school, e.occurred_at)
            await session.execute(
                insert(sensor_checks).values(
                    sensor_event_id=str(e.event_id),
                    school_id=e.school_id,
                    sensor_id=e.sensor_id,
                    zone_id=e.zone_id,
                    kind=e.kind.value,
                    raised_at=e.occurred_at,
                    check_by=deadline,
                    officer_id=officer,
                    status="open",
                    reports=1,
                )
            )
            await session.execute(
                insert(observations).values(
                    event_id=str(e.event_id),
                    school_id=e.school_id,
                    zone_id=e.zone_id,
                    category=sensor_rules.OBSERVED_AS[SensorKind(e.kind)].value,
                    note="",
                    officer_id=e.sensor_id,  # recorded by the sensor, not by an officer
                    observed_at=e.occurred_at,
                )
            )
            earlier = await repo.first_scan_since(e.school_id, e.zone_id, e.occurred_at)
            if earlier is not None:  # checked before we heard of it: nobody needs asking
                officers = await device_officers(session=session, school_id=e.school_id)
                by = officers.get(earlier.officer_id, earlier.officer_id)
                await repo.mark_checked(str(e.event_id), earlier.scanned_at, by)
                emitted.append(
                    _done(e.school_id, e.zone_id, e.event_id, e.kind.value, e.occurred_at,
                          deadline, earlier.scanned_at, by)
                )  # fmt: skip
            elif officer is not None:
                emitted.append(
                    SensorCheckAssigned.new(
                        school_id=e.school_id,
                        occurred_at=now,
                        actor=SERVICE_ACTOR,
                        officer_id=officer,
                        zone_id=e.zone_id,
                        sensor_event_id=e.event_id,
                        sensor_kind=e.kind.value,
                        raised_at=e.occurred_at,
                        check_by=deadline,
                    )
                )
        if emitted:
            await self.outbox.add(session, emitted, self.clock.now())
        return refused

    async def scans_check_sensor_zones(
        self, session: AsyncSession, scans: Sequence[CheckpointScanned]
    ) -> None:
        """The first scan of a zone after a sensor alert there ends its check."""
        repo = SensorCheckRepository(session)
        emitted: list[Event] = []
        by_school: dict[str, list[CheckpointScanned]] = {}
        for scan in scans:
            by_school.setdefault(scan.school_id, []).append(scan)
        for school_id, school_scans in by_school.items():
            zones = sorted({s.zone_id for s in school_scans})
            checks = await repo.unchecked_in_zones(school_id, zones)
            if not checks:
                continue
            officers = await device_officers(session=session, school_id=school_id)
            for check in checks:
                after = [
                    s
                    for s in school_scans
                    if s.zone_id == check.zone_id and s.occurred_at >= check.raised_at
                ]
                if not after:
                    continue
                first = min(after, key=lambda s: s.occurred_at)
                by = officers.get(first.actor.id, first.actor.id)
                if not await repo.mark_checked(check.sensor_event_id, first.occurred_at, by):
                    continue
                emitted.append(
                    _done(school_id, check.zone_id, uuid.UUID(check.sensor_event_id), check.kind,
                          check.raised_at, check.check_by, first.occurred_at, by)
                )  # fmt: skip
        if emitted:
            await self.outbox.add(session, emitted, self.clock.now())


def _done(
    school_id: str,
    zone_id: str,
    sensor_event_id: uuid.UUID,
    kind: str,
    raised_at: datetime,
    check_by: datetime,
    checked_at: datetime,
    by: str,
) -> SensorCheckDone:
    return SensorCheckDone.new(
        school_id=school_id,
        occurred_at=checked_at,
        actor=SERVICE_ACTOR,
        zone_id=zone_id,
        sensor_event_id=sensor_event_id,
        sensor_kind=kind,
        raised_at=raised_at,
        checked_at=checked_at,
        response_seconds=sensor_rules.response_seconds(raised_at, checked_at),
        in_time=checked_at <= check_by,
        officer_id=by,
    )


class SensorCheckDeadlines:
    """A sensor alert's zone nobody scanned by its deadline: the alerts service escalates it."""

    name = "sensor_check_deadlines"

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        t = sensor_checks
        due = claim_due(session, t, t.c.check_by, now, t.c.status == "open")
        rows = (await session.execute(due)).all()
        if not rows:
            return 0
        await session.execute(
            update(t)
            .where(t.c.sensor_event_id.in_([r.sensor_event_id for r in rows]))
            .values(status="missed")
        )
        events = [
            SensorCheckMissed.new(
                school_id=r.school_id,
                occurred_at=r.check_by,
                actor=SERVICE_ACTOR,
                zone_id=r.zone_id,
                sensor_event_id=uuid.UUID(r.sensor_event_id),
                sensor_kind=r.kind,
                raised_at=r.raised_at,
                check_by=r.check_by,
            )
            for r in rows
        ]
        await self.outbox.add(session, events, now)
        return len(events)
