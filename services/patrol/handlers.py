"""Patrol handlers: apply a run of validated events inside the consumer's transaction.

Each returns the events it refused (event_id → reason) and writes nothing for those.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.alerts import (
    AlertAcknowledged,
    AlertNotification,
    AlertOpened,
    AlertResolved,
    HeartbeatResumed,
)
from lookout.contracts.envelope import Actor, ActorKind, Event
from lookout.contracts.patrol import (
    CheckpointScanned,
    CheckRecovered,
    CheckWindowClosed,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    ContactLogged,
    DeviceHeartbeat,
    FollowUpCompleted,
    ObservationLogged,
    WindowOutcome,
)
from lookout.kernel.clock import Clock
from lookout.kernel.storage import Outbox
from lookout.school.config import SchoolConfig
from services.patrol import domain, planning
from services.patrol.sensor_checks import SensorCheckHandlers
from services.patrol.store import PatrolRepository, PlanRepository

SERVICE_ACTOR = Actor(kind=ActorKind.SERVICE, id="patrol")
Refusals = dict[uuid.UUID, str]


class PatrolHandlers:
    def __init__(
        self,
        schools: Mapping[str, SchoolConfig],
        outbox: Outbox,
        clock: Clock,
        sensor_checks: SensorCheckHandlers | None = None,
    ) -> None:
        self.schools = schools
        self.outbox = outbox
        self.clock = clock
        self.sensor_checks = sensor_checks or SensorCheckHandlers(schools, outbox, clock)

    async def checkpoint_scans(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        scans = cast(list[CheckpointScanned], list(events))
        await PatrolRepository(session).add_scans(scans)
        await self._close_windows(session, scans)
        await self.sensor_checks.scans_check_sensor_zones(session, scans)
        return {}

    async def _close_windows(self, session: AsyncSession, scans: list[CheckpointScanned]) -> None:
        """Scans inside a window check it; scans in its grace check it late. A window already
        marked missed (the scan was made in time but delivered after the deadline) is upgraded
        the same way, and CheckRecovered says how many of the zone's windows are still missed
        that school day (the window's missed CheckWindowClosed stands; reports and alerts
        revise it by the recovery)."""
        repo = PlanRepository(session)
        emitted: list[Event] = []
        now = self.clock.now()
        by_school: dict[str, list[CheckpointScanned]] = {}
        for scan in scans:
            by_school.setdefault(scan.school_id, []).append(scan)
        for school_id, school_scans in by_school.items():
            times = [s.occurred_at for s in school_scans]
            rows = await repo.closable_windows_for(
                school_id, sorted({s.zone_id for s in school_scans}), min(times), max(times)
            )
            for row in rows:
                window = domain.PlannedWindow(
                    row.zone_id,
                    row.window_start,
                    row.window_end,
                    row.deadline_at - row.window_end,
                    row.period,
                    row.unannounced,
                )
                first = _first_closing_scan(window, school_scans)
                if first is None:
                    continue
                scan, outcome = first
                checked = (row.id, outcome.value, scan.occurred_at, str(scan.event_id))
                # An open window may have been missed by the WindowCloser since we read it: then
                # the scan upgrades it instead.
                if row.status == "open" and await repo.close_window(*checked):
                    emitted.append(
                        CheckWindowClosed.new(
                            school_id=school_id,
                            occurred_at=scan.occurred_at,
                            actor=SERVICE_ACTOR,
                            zone_id=row.zone_id,
                            window_start=row.window_start,
                            window_end=row.window_end,
                            outcome=outcome,
                            unannounced=row.unannounced,
                            period=row.period,
                        )
                    )
                elif await repo.recover_window(*checked):
                    school = self.schools[school_id]
                    local_day = row.window_start.astimezone(school.tz).date()
                    day_start, day_end = planning.day_bounds(school, local_day, local_day)
                    emitted.append(
                        CheckRecovered.new(
                            school_id=school_id,
                            occurred_at=now,
                            actor=SERVICE_ACTOR,
                            zone_id=row.zone_id,
                            window_start=row.window_start,
                            window_end=row.window_end,
                            outcome=outcome,
                            unannounced=row.unannounced,
                            period=row.period,
                            missed_today=await repo.count_missed(
                                school_id, row.zone_id, day_start, day_end
                            ),
                        )
                    )
        await self.outbox.add(session, emitted, now)

    async def heartbeats(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        now = self.clock.now()
        newest: dict[tuple[str, str], DeviceHeartbeat] = {}
        for e in events:
            assert isinstance(e, DeviceHeartbeat)
            key = (e.school_id, e.device_id)
            if key not in newest or newest[key].occurred_at < e.occurred_at:
                newest[key] = e
        repo = PlanRepository(session)
        reported = await repo.reported_silences(list(newest))
        seen_rows = []
        resumed: list[Event] = []
        for key, e in newest.items():
            # Liveness counts from when the service received the heartbeat, never later: the
            # phone's clock may run ahead, and one heartbeat stamped 3 h in the future would
            # hide a silence for 3 h. This handler runs right after the server received it,
            # so `now` is that moment; a heartbeat replayed late from the phone's offline queue
            # keeps its own, older stamp.
            seen = min(e.occurred_at, now)
            silent_at = domain.silence_deadline(self.schools[e.school_id], seen)
            silence = reported.get(key)
            # A queued heartbeat already past its own deadline says the phone was alive then,
            # not now: a reported silence goes on (no resumption, no second alarm).
            still_silent = silence is not None and silent_at <= now
            seen_rows.append(
                {
                    "school_id": e.school_id,
                    "device_id": e.device_id,
                    "officer_id": e.officer_id,
                    "last_seen_at": seen,
                    "silent_at": silent_at,
                    "silence_reported": still_silent,
                }
            )
            if silence is not None and not still_silent and seen > silence.last_seen_at:
                resumed.append(
                    HeartbeatResumed.new(
                        school_id=e.school_id,
                        occurred_at=seen,
                        actor=SERVICE_ACTOR,
                        device_id=e.device_id,
                        officer_id=silence.officer_id,
                        silent_since=silence.last_seen_at,
                    )
                )
        await repo.saw_devices(seen_rows)
        await self.outbox.add(session, resumed, now)
        return {}

    async def observations(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        await PatrolRepository(session).add_observations(
            cast(list[ObservationLogged], list(events))
        )
        return {}

    async def contacts(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        contacts = cast(list[ContactLogged], list(events))
        await PatrolRepository(session).add_contacts(contacts)
        plan = PlanRepository(session)
        completed: list[Event] = []
        for contact in contacts:
            # A contact about a resolved concern on or after its re-check day is the re-check
            # (late once the re-check was reported missed: alerts resolves that alert).
            if contact.concern_id is None:
                continue
            late = await plan.complete_follow_up(
                contact.school_id, str(contact.concern_id), contact.occurred_at
            )
            if late is not None:
                completed.append(
                    FollowUpCompleted.new(
                        school_id=contact.school_id,
                        occurred_at=contact.occurred_at,
                        actor=SERVICE_ACTOR,
                        concern_id=contact.concern_id,
                        late=late,
                    )
                )
        await self.outbox.add(session, completed, self.clock.now())
        return {}

    async def alert_outcomes(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        """What became of the school's alerts, in stream order: opened, who was paged for each
        (`alert.notification`), acknowledged, resolved. A page of an alert never seen open is
        kept but shown nowhere, and its outcome changes nothing: without the opening there is
        nothing to show them with."""
        repo = PatrolRepository(session)
        for e in events:
            if isinstance(e, AlertOpened):
                await repo.alert_opened(e)
            elif isinstance(e, AlertNotification):
                await repo.alert_paged(e)
            elif isinstance(e, AlertAcknowledged | AlertResolved):
                await repo.alert_settled(e)
        return {}

    async def concern_events(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        # One at a time, in order: each step of the lifecycle depends on the one before.
        repo = PatrolRepository(session)
        refused: Refusals = {}
        for e in events:
            assert isinstance(e, ConcernRaised | ConcernUpdated | ConcernResolved)
            current = await repo.concern_state(e.concern_id)
            reason = domain.refuse_concern_event(e, current)
            if reason is not None:
                refused[e.event_id] = reason
            elif isinstance(e, ConcernRaised):
                await repo.raise_concern(e)
            elif isinstance(e, ConcernUpdated):
                await repo.update_concern(e)
            else:
                await repo.resolve_concern(e)
                if e.follow_up_in_school_days:
                    await self._schedule_follow_up(session, e)
        return refused

    async def _schedule_follow_up(self, session: AsyncSession, e: ConcernResolved) -> None:
        plan = PlanRepository(session)
        concern = await plan.concern_row(str(e.concern_id))
        assert e.follow_up_in_school_days is not None
        remind_at, deadline_at = domain.follow_up_times(
            self.schools[e.school_id], e.occurred_at, e.follow_up_in_school_days
        )
        # Addressed to a person: a phone's officer is the one it reported at the resolution.
        # A phone not heard from yet keeps its id; the reminder resolves it when it is due.
        officer = e.actor.id
        if e.actor.kind is ActorKind.SSO_DEVICE:
            known = await plan.device_officers(e.school_id, [e.actor.id])
            officer = known.get(e.actor.id, officer)
        await plan.schedule_follow_up(
            {
                "concern_id": str(e.concern_id),
                "school_id": e.school_id,
                "officer_id": officer,
                "zone_id": concern.zone_id,
                "category": concern.category,
                "severity": concern.severity,
                "remind_at": remind_at,
                "deadline_at": deadline_at,
                "status": "scheduled",
            }
        )


def _first_closing_scan(
    window: domain.PlannedWindow, scans: Sequence[CheckpointScanned]
) -> tuple[CheckpointScanned, WindowOutcome] | None:
    """The earliest scan of the window's zone that checks it (on time beats late)."""
    best: tuple[CheckpointScanned, WindowOutcome] | None = None
    for scan in sorted(scans, key=lambda s: s.occurred_at):
        if scan.zone_id != window.zone_id:
            continue
        outcome = domain.scan_outcome(window, scan.occurred_at)
        if outcome is WindowOutcome.CHECKED:
            return scan, outcome
        if outcome is WindowOutcome.LATE and best is None:
            best = (scan, outcome)
    return best
