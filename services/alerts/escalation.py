"""Applying the escalation rules inside a transaction: open or fold an alert, fire its due
step, acknowledge, resolve. Every change writes a timeline row and what it emits goes to the
outbox (or, for email, to `alert_emails`; for push and text messages, to `alert_deliveries`) in
the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.alerts import (
    AlertAcknowledged,
    AlertEscalated,
    AlertNotification,
    AlertOpened,
    AlertResolved,
    EscalationTarget,
    NotificationRoute,
    RoutingState,
    TargetKind,
)
from lookout.contracts.envelope import Actor, ActorKind, Event
from lookout.contracts.patrol import ConcernUpdated, Severity
from lookout.kernel.action_links import AckLinks
from lookout.kernel.storage import Outbox
from lookout.school.config import NotifyChannel, SchoolConfig
from lookout.school.permissions import may_request
from lookout.school.words import moment_at_school as at_school
from services.alerts import domain, notices
from services.alerts.store import SERVICE, AlertRepository, AlertRow, PendingWrites

ACTOR = Actor(kind=ActorKind.SERVICE, id=SERVICE)


class Escalator:
    def __init__(
        self, schools: Mapping[str, SchoolConfig], outbox: Outbox, ack_links: AckLinks | None = None
    ) -> None:
        self.schools = schools
        self.outbox = outbox
        self.ack_links = ack_links  # emails carry acknowledge links (None: they do not)

    async def report(self, session: AsyncSession, event: Event, now: datetime) -> None:
        """An event that raises an alert: fold it into the unresolved alert with its dedup key
        (re-notifying from step 0 when that alert was acknowledged or had fired every step),
        or open one (and fire step 0 at once when its delay is 0)."""
        school = self.schools[event.school_id]
        seed = domain.seed_for(event, school)
        repo = AlertRepository(session)
        existing = await repo.unresolved(school.id, seed.dedup_key)
        if existing is not None:
            count = await repo.fold(existing.alert_id, now)
            await repo.timeline(
                existing.alert_id, now, "repeated", detail=f"report {count} ({event.type})"
            )
            if existing.state.awaits_renotify:
                await self.renotify(session, existing, now)
            return
        await self.open(session, school, seed, event.event_id, now)

    async def renotify(self, session: AsyncSession, alert: AlertRow, now: datetime) -> None:
        """A repeat of an acknowledged or exhausted alert: tell people again from step 0."""
        repo = AlertRepository(session)
        was = alert.state.routing.value
        state = domain.opened(alert.policy, now)
        await repo.set_state(alert.alert_id, state, acknowledged_at=None, acknowledged_by=None)
        await repo.timeline(
            alert.alert_id, now, "renotified", detail=f"repeat of a {was} alert; from step 1"
        )
        if state.next_step_at is not None and state.next_step_at <= now:
            again = await repo.get(alert.alert_id)
            assert again is not None
            await self.fire(session, again, now)

    async def open(
        self,
        session: AsyncSession,
        school: SchoolConfig,
        seed: domain.AlertSeed,
        source_event_id: uuid.UUID,
        now: datetime,
    ) -> None:
        """Open an alert for `seed` (its id derived from the event that opened it)."""
        repo = AlertRepository(session)
        policy = domain.choose_policy(school, seed)
        state = domain.opened(policy, now)
        alert_id = domain.alert_id_for(source_event_id)
        # Two replicas opening the same key at once: the unique index refuses the second; the
        # consumer then re-applies that event on its own, and it folds into the first alert.
        row = await repo.open(alert_id, school.id, seed, source_event_id, policy, state, now)
        await repo.timeline(
            alert_id, now, "opened", detail=f"{seed.source.value}; policy {policy.name}"
        )
        opened = AlertOpened.new(
            school_id=school.id,
            occurred_at=now,
            actor=ACTOR,
            alert_id=alert_id,
            dedup_key=seed.dedup_key,
            source=seed.source,
            severity=seed.severity,
            source_event_id=source_event_id,
            zone_id=seed.zone_id,
            category=seed.category,
            policy=policy.name,
        )
        await self.outbox.add(session, [opened], now)
        if state.next_step_at is not None and state.next_step_at <= now:
            await self.fire(session, row, now)

    async def fire(
        self,
        session: AsyncSession,
        alert: AlertRow,
        now: datetime,
        writes: PendingWrites | None = None,
    ) -> None:
        """The alert's timer is due: apply `domain.fire` and record what it did (into
        `writes` when the caller fires many and writes them together)."""
        school = self.schools.get(alert.school_id)
        repo = writes or PendingWrites()
        if school is None:  # the school left the configuration: stop its timers, say so
            stopped = domain.Escalation(alert.state.status, 0, 0, None, RoutingState.UNROUTABLE)
            await repo.set_state(alert.alert_id, stopped)
            await repo.timeline(alert.alert_id, now, "unroutable", detail="school not configured")
            if writes is None:
                await repo.flush(session, self.outbox, now)
            return
        outcome = domain.fire(
            school, alert.policy, alert.state, now, alert.facts.severity, alert.about_person_id
        )
        aid = alert.alert_id
        if outcome.retriggered:
            await repo.timeline(
                aid,
                now,
                "retriggered",
                detail=f"acknowledged but not resolved within {alert.policy.ack_timeout_minutes}"
                " min",
            )
        emitted: list[Event] = []
        for action in outcome.actions:
            if isinstance(action, domain.Skipped):
                await repo.timeline(
                    aid,
                    now,
                    "skipped",
                    step=action.step,
                    repeat=action.repeat,
                    detail=action.reason,
                )
                continue
            emitted += await self._fired(repo, school, alert, action, now)
        if outcome.unroutable:
            await repo.timeline(
                aid,
                now,
                "unroutable",
                detail=f"no step of policy {alert.policy.name} reaches anyone within "
                f"{domain.HOLD_HORIZON_DAYS} days; looked at again "
                f"{at_school(outcome.held_until, school) if outcome.held_until else 'never'}",
            )
        elif outcome.held_until is not None:
            await repo.timeline(
                aid,
                now,
                "held",
                detail="nobody reachable now; next attempt "
                f"{at_school(outcome.held_until, school)}",
            )
        if outcome.exhausted:
            await repo.timeline(
                aid, now, "exhausted", detail="policy finished; open until acknowledged"
            )
        await repo.set_state(aid, outcome.state)
        repo.events += emitted
        if writes is None:
            await repo.flush(session, self.outbox, now)

    async def _fired(
        self,
        repo: PendingWrites,
        school: SchoolConfig,
        alert: AlertRow,
        fired: domain.Fired,
        now: datetime,
    ) -> list[Event]:
        aid, facts = alert.alert_id, alert.facts
        detail = "notified " + ", ".join(p.id for p in fired.notified)
        if fired.off_duty:
            detail += "; off duty " + ", ".join(fired.off_duty)
        kind = "escalated"
        if fired.route is NotificationRoute.ON_CALL:
            kind, detail = "fallback", "no step reaches anyone on duty; on call: " + detail
        elif fired.route is NotificationRoute.NOBODY_ON_DUTY:
            kind, detail = "fallback", "nobody on duty; every target: " + detail
        await repo.timeline(
            aid, now, kind, step=fired.step, repeat=fired.repeat, detail=detail[:500]
        )
        events: list[Event] = [
            AlertEscalated.new(
                school_id=school.id,
                occurred_at=now,
                actor=ACTOR,
                alert_id=aid,
                step=fired.step,
                repeat=fired.repeat,
                targets=[EscalationTarget(kind=TargetKind.PERSON, id=p.id) for p in fired.notified],
            )
        ]
        for person in fired.notified:
            events.append(
                AlertNotification.new(
                    school_id=school.id,
                    occurred_at=now,
                    actor=ACTOR,
                    alert_id=aid,
                    person_id=person.id,
                    source=facts.source,
                    category=facts.category,
                    severity=facts.severity,
                    zone_id=facts.zone_id,
                    step=fired.step,
                    repeat=fired.repeat,
                    count=facts.count,
                    opened_at=facts.opened_at,
                    route=fired.route,
                )
            )
            await repo.timeline(
                aid,
                now,
                "notified",
                step=fired.step,
                repeat=fired.repeat,
                person_id=person.id,
                channel="nats",
                outcome="queued",
            )
            ack_url = (
                self.ack_links.url(school.id, aid, person.id, now)
                if self.ack_links and may_request(person.roles, "command", "alerts")
                else None
            )
            for delivery in notices.deliveries(person, facts.severity, now):
                channel = delivery.channel
                if channel is NotifyChannel.EMAIL:
                    assert person.email is not None  # the school file refuses a rule without
                    subject, body = domain.render_email(
                        school, facts, person, fired, alert.policy, ack_url
                    )
                    await repo.add_email(
                        notification_id=str(uuid.uuid4()),
                        alert_id=str(aid),
                        school_id=school.id,
                        person_id=person.id,
                        address=str(person.email),
                        severity=facts.severity.value,
                        step=fired.step,
                        repeat=fired.repeat,
                        subject=subject[:300],
                        body=body,
                        status="pending",
                        attempts=0,
                        due_at=delivery.due_at,
                        created_at=now,
                    )
                else:
                    await repo.add_delivery(
                        notification_id=str(uuid.uuid4()),
                        alert_id=str(aid),
                        school_id=school.id,
                        person_id=person.id,
                        channel=channel.value,
                        step=fired.step,
                        repeat=fired.repeat,
                        ack_token=ack_url.rsplit("/ack/", 1)[1] if ack_url else None,
                        status="pending",
                        attempts=0,
                        due_at=delivery.due_at,
                        created_at=now,
                    )
                await repo.timeline(
                    aid,
                    now,
                    "notified",
                    step=fired.step,
                    repeat=fired.repeat,
                    person_id=person.id,
                    channel=channel.value,
                    outcome="queued",
                    detail=f"due {at_school(delivery.due_at, school)} unless acknowledged"
                    if delivery.delayed(now)
                    else None,
                )
        return events

    async def acknowledge(
        self, session: AsyncSession, alert: AlertRow, by: str, now: datetime
    ) -> None:
        state = domain.acknowledge(alert.policy, alert.state, now)
        school = self.schools.get(alert.school_id)
        repo = AlertRepository(session)
        await repo.set_state(alert.alert_id, state, acknowledged_at=now, acknowledged_by=by)
        await self._cancel_delayed(repo, alert.alert_id, "acknowledged", now)
        await repo.timeline(
            alert.alert_id,
            now,
            "acknowledged",
            person_id=by,
            detail=f"re-triggers at {at_school(state.next_step_at, school)} unless resolved"
            if state.next_step_at
            else None,
        )
        event = AlertAcknowledged.new(
            school_id=alert.school_id,
            occurred_at=now,
            actor=ACTOR,
            alert_id=alert.alert_id,
            by_person_id=by,
        )
        await self.outbox.add(session, [event], now)

    @staticmethod
    async def _cancel_delayed(
        repo: AlertRepository, alert_id: uuid.UUID, why: str, now: datetime
    ) -> None:
        """A delayed notification (`{channel: email, after_minutes: 2}`) is for an alert nobody
        took up: once it is acknowledged or resolved, it is not sent."""
        for person_id, channel in await repo.cancel_delayed(alert_id, now):
            await repo.timeline(
                alert_id,
                now,
                "cancelled",
                person_id=person_id,
                channel=channel,
                detail=f"not sent: {why} before it was due",
            )

    async def resolve_key(
        self, session: AsyncSession, school_id: str, key: str, by: str, note: str, now: datetime
    ) -> bool:
        """Resolve the unresolved alert with this key, if any (a condition that cleared)."""
        alert = await AlertRepository(session).unresolved(school_id, key)
        if alert is None:
            return False
        await self.resolve(session, alert, by, note, now)
        return True

    async def worsened_after_resolution(
        self, session: AsyncSession, event: ConcernUpdated, now: datetime
    ) -> None:
        """A concern whose alert was already resolved got worse: a new alert under the new
        severity's policy (an adult resolved the milder one; nobody has seen this one)."""
        assert event.severity is not None
        key = domain.concern_key(event.concern_id)
        previous = await AlertRepository(session).latest(event.school_id, key)
        if previous is None or not domain.raised_after_resolution(previous.facts, event.severity):
            return
        seed = domain.reseed(previous.facts, event.severity, key)
        await self.open(session, self.schools[event.school_id], seed, event.event_id, now)

    async def severity_changed(
        self, session: AsyncSession, alert: AlertRow, severity: Severity, now: datetime
    ) -> None:
        """Record a concern's new severity; re-route the alert when it went up."""
        school = self.schools.get(alert.school_id)
        if school is None:
            return
        reroute = domain.severity_changed(school, alert.facts, alert.state, severity, now)
        repo = AlertRepository(session)
        old = alert.facts.severity
        if reroute is None:
            await repo.set_severity(alert.alert_id, severity)
            await repo.timeline(
                alert.alert_id, now, "severity", detail=f"{old.value} -> {severity.value}"
            )
            return
        await repo.reroute(alert.alert_id, severity, reroute.policy, reroute.state)
        await repo.timeline(
            alert.alert_id,
            now,
            "rerouted",
            detail=f"{old.value} -> {severity.value}; policy {reroute.policy.name}",
        )
        if reroute.state.next_step_at is not None and reroute.state.next_step_at <= now:
            rerouted = await repo.get(alert.alert_id)
            assert rerouted is not None
            await self.fire(session, rerouted, now)

    async def resolve(
        self, session: AsyncSession, alert: AlertRow, by: str, note: str, now: datetime
    ) -> None:
        state = domain.resolve(alert.state, note)
        repo = AlertRepository(session)
        await repo.set_state(
            alert.alert_id, state, resolved_at=now, resolved_by=by, resolution_note=note
        )
        await self._cancel_delayed(repo, alert.alert_id, "resolved", now)
        # The note stays in the alert row (read through `show`, which is access-logged).
        await repo.timeline(alert.alert_id, now, "resolved", person_id=by)
        event = AlertResolved.new(
            school_id=alert.school_id,
            occurred_at=now,
            actor=ACTOR,
            alert_id=alert.alert_id,
            by_person_id=by,
            has_outcome_note=True,  # the note itself stays behind `show` (access-logged)
        )
        await self.outbox.add(session, [event], now)
