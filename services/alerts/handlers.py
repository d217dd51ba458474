"""Alerts handlers: events that raise or resolve alerts (inside the consumer's transaction), and
the ack/resolve commands and show/list queries (request-reply, one transaction each)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.alerts import (
    AckRequest,
    AlertDetail,
    AlertList,
    AlertSummary,
    HeartbeatResumed,
    ListRequest,
    ResolveRequest,
    ShowRequest,
)
from lookout.contracts.envelope import Event
from lookout.contracts.patrol import (
    CheckRecovered,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    FollowUpCompleted,
    SensorCheckDone,
)
from lookout.contracts.visitors import CheckoutMethod, VisitorCheckedOut
from lookout.kernel.clock import Clock
from lookout.kernel.queries import Refused
from lookout.kernel.storage import lock_for_write
from lookout.school.config import SchoolConfig
from services.alerts import domain
from services.alerts.escalation import Escalator
from services.alerts.store import AlertRepository, AlertRow, alerts

Refusals = dict[uuid.UUID, str]


class AlertHandlers:
    """Events from the other services' streams."""

    def __init__(self, escalator: Escalator, clock: Clock) -> None:
        self.escalator = escalator
        self.clock = clock

    async def raise_alerts(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        # In order, one at a time: a repeat in the same batch folds into the alert just opened.
        repo = AlertRepository(session)
        refused: Refusals = {}
        for event in events:
            if isinstance(event, ConcernRaised):
                # A concern is raised once (patrol refuses a re-raise too); a change of its
                # severity comes as concern.updated, which re-routes. Folding a re-raise into
                # the earlier alert would hide a worse severity.
                key = domain.concern_key(event.concern_id)
                if await repo.latest(event.school_id, key) is not None:
                    refused[event.event_id] = "concern_id: already raised"
                    continue
            await self.escalator.report(session, event, self.clock.now())
        return refused

    async def concerns_resolved(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        """A resolved concern resolves its alert and a missed re-check of it (the concern's
        outcome is the note)."""
        for event in events:
            assert isinstance(event, ConcernResolved)
            note = f"concern resolved: {event.outcome.value}"
            for key in (
                domain.concern_key(event.concern_id),
                domain.follow_up_key(event.concern_id),
            ):
                await self._clear(session, event, key, note)
        return {}

    async def concerns_updated(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        """A concern's severity changed: its alert follows (re-routed when it went up; a new
        alert when its alert was already resolved and it got worse)."""
        repo = AlertRepository(session)
        for event in events:
            assert isinstance(event, ConcernUpdated)
            if event.severity is None:
                continue  # zone, students or a note: nothing that changes who must know
            alert = await repo.unresolved(event.school_id, domain.concern_key(event.concern_id))
            if alert is None:
                await self.escalator.worsened_after_resolution(session, event, self.clock.now())
            elif alert.facts.severity is not event.severity:
                await self.escalator.severity_changed(
                    session, alert, event.severity, self.clock.now()
                )
        return {}

    async def visitors_left(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        """A visitor who signed out at the desk is no longer overdue or out of bounds: those
        alerts resolve. The end-of-day checkout resolves nothing: nobody saw that visitor leave
        (the visitors service reports them unaccounted for). A screening flag stays."""
        for event in events:
            assert isinstance(event, VisitorCheckedOut)
            if event.method is not CheckoutMethod.FRONT_OFFICE:
                continue
            note = f"visitor checked out ({event.method.value})"
            for key in domain.visit_keys(event.visit_id):
                await self._clear(session, event, key, note)
        return {}

    async def heartbeats_resumed(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        """The silent phone is back: the lone-worker alarm about its officer clears."""
        for event in events:
            assert isinstance(event, HeartbeatResumed)
            key = domain.heartbeat_key(event.officer_id)
            await self._clear(session, event, key, "heartbeats resumed")
        return {}

    async def checks_recovered(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        """A missed window was checked after all (a late-delivered scan): once no window of
        that zone is missed that day, the day's missed-check alert resolves."""
        for event in events:
            assert isinstance(event, CheckRecovered)
            if event.missed_today > 0:
                continue
            school = self.escalator.schools[event.school_id]
            day = event.window_start.astimezone(school.tz).date()
            key = domain.check_missed_key(event.zone_id, day)
            await self._clear(session, event, key, "checked after all (a late-delivered scan)")
        return {}

    async def sensor_checks_done(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        """A sensor alert's zone was scanned: the alert its miss opened, if any, resolves."""
        for event in events:
            assert isinstance(event, SensorCheckDone)
            if event.in_time:
                continue  # checked by the deadline: no alert was opened
            key = domain.sensor_key(event.sensor_event_id)
            await self._clear(session, event, key, "zone checked after the sensor alert")
        return {}

    async def follow_ups_completed(
        self, session: AsyncSession, events: Sequence[Event]
    ) -> Refusals:
        """A welfare re-check reported missed was done after all."""
        for event in events:
            assert isinstance(event, FollowUpCompleted)
            key = domain.follow_up_key(event.concern_id)
            await self._clear(session, event, key, "follow-up done")
        return {}

    async def _clear(self, session: AsyncSession, event: Event, key: str, note: str) -> None:
        await self.escalator.resolve_key(
            session, event.school_id, key, event.actor.id, note, self.clock.now()
        )


class AlertCommands:
    """Request-reply: acknowledge, resolve, show, list. Unknown alert or missing note → Refused."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        schools: Mapping[str, SchoolConfig],
        escalator: Escalator,
        clock: Clock,
        after_commit: Callable[[], None],
    ) -> None:
        self.sessions = sessions
        self.schools = schools
        self.escalator = escalator
        self.clock = clock
        self.after_commit = after_commit

    def _school(self, school_id: str) -> str:
        if school_id not in self.schools:
            raise Refused("school: not a school of this deployment")
        return school_id

    async def _alert(
        self, repo: AlertRepository, school_id: str, alert_id: uuid.UUID, lock: bool = False
    ) -> AlertRow:
        alert = await repo.get(alert_id, lock=lock)
        if alert is None or alert.school_id != school_id:
            raise Refused("alert_id: no such alert in this school")
        return alert

    async def ack(self, school_id: str, request: AckRequest) -> AlertSummary:
        return await self._change(school_id, request.alert_id, request.by_person_id, None)

    async def resolve(self, school_id: str, request: ResolveRequest) -> AlertSummary:
        if not request.note.strip():  # before looking anything up: the clearest error first
            raise Refused("resolving an alert needs an outcome note (--note)")
        return await self._change(school_id, request.alert_id, request.by_person_id, request.note)

    async def _change(
        self, school_id: str, alert_id: uuid.UUID, by: str, note: str | None
    ) -> AlertSummary:
        self._school(school_id)
        if all(p.id != by for p in self.schools[school_id].people):
            raise Refused("by_person_id: not a person of this school")
        async with self.sessions.begin() as session:
            # The ticker may be firing this alert: read it only once it has committed.
            await lock_for_write(session, alerts)
            repo = AlertRepository(session)
            alert = await self._alert(repo, school_id, alert_id, lock=True)
            now = self.clock.now()
            try:
                if note is None:
                    await self.escalator.acknowledge(session, alert, by, now)
                else:
                    await self.escalator.resolve(session, alert, by, note, now)
            except domain.Refusal as exc:
                raise Refused(f"alert {alert_id}: {exc}") from None
            found = await repo.summary(alert_id)
        self.after_commit()
        assert found is not None
        return found[0]

    async def show(self, school_id: str, request: ShowRequest) -> AlertDetail:
        self._school(school_id)
        async with self.sessions.begin() as session:
            repo = AlertRepository(session)
            await self._alert(repo, school_id, request.alert_id)
            found = await repo.summary(request.alert_id)
            assert found is not None
            timeline = await repo.entries(request.alert_id)
            await repo.log_access(
                school_id, request.alert_id, request.by_person_id, "show", self.clock.now()
            )
        summary, note = found
        return AlertDetail(alert=summary, resolution_note=note, timeline=timeline)

    async def list(self, school_id: str, request: ListRequest) -> AlertList:
        self._school(school_id)
        async with self.sessions() as session:
            alerts = await AlertRepository(session).listing(
                school_id,
                request.open_only,
                request.limit,
                request.with_notified,
                request.resolved_since,
            )
        return AlertList(alerts=alerts)
