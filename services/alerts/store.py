"""Alerts tables and the repository over them. Inbox and outbox come from the kernel.

- `alerts`: one row per alert, with its policy snapshot and its timer (`next_step_at`);
- `alert_timeline`: every state change and every notification attempt, in order;
- `alert_emails`: emails to send — an outbox of its own, worked by the mailer (`due_at` is
  its timer: the next attempt, or the end of a sending lease);
- `alert_deliveries`: pushes and texts to send, worked the same way by the dispatcher;
- `push_subscriptions`: each person's browsers; `sms_numbers`: each alert's number in a
  person's texts (for reply codes);
- `alerts_access_log`: who read an alert (its outcome note may concern students).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.alerts import (
    AlertSource,
    AlertStatus,
    AlertSummary,
    RoutingState,
    TimelineEntry,
)
from lookout.contracts.envelope import Event
from lookout.contracts.patrol import Severity
from lookout.kernel.day_types import day_types_table
from lookout.kernel.storage import Outbox, UTCDateTime, inbox_table, new_metadata, outbox_table
from services.alerts.domain import AlertFacts, AlertSeed, Escalation, PolicySnapshot

SERVICE = "alerts"
metadata = new_metadata()
inbox = inbox_table(metadata, SERVICE)
outbox = outbox_table(metadata, SERVICE)
day_types = day_types_table(metadata, SERVICE)  # confirmed day types (CALENDAR)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("dedup_key", String(200), nullable=False),
    Column("source", String(32), nullable=False),
    Column("category", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("zone_id", String(64), nullable=True),
    Column("source_event_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("count", Integer, nullable=False),
    Column("policy_name", String(64), nullable=False),
    Column("policy", JSON, nullable=False),  # the snapshot the alert escalates by
    Column("step", Integer, nullable=False),
    Column("repeat", Integer, nullable=False),
    Column("next_step_at", UTCDateTime(), nullable=True),
    # escalating, held, unroutable, exhausted, acknowledged, resolved (RoutingState)
    Column("routing", String(16), nullable=False, server_default="escalating"),
    # The officer a lone-worker alarm is about: never counted as reached by it.
    Column("about_person_id", String(64), nullable=True),
    # Resolves by itself then if nobody did (a missed check: the end of its school day).
    Column("auto_resolve_at", UTCDateTime(), nullable=True),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("acknowledged_by", String(64), nullable=True),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("resolved_by", String(64), nullable=True),
    Column("resolution_note", Text, nullable=True),
    # The outcome note (it may concern students) erased after the school's retention period.
    Column("purged_at", UTCDateTime(), nullable=True),
    Index("ix_alerts_next_step_at", "next_step_at"),
    Index("ix_alerts_auto_resolve_at", "auto_resolve_at"),
    Index("ix_alerts_purge", "purged_at", "resolved_at"),
    Index("ix_alerts_school_status", "school_id", "status", "opened_at"),
    # One unresolved alert per dedup key: repeats fold into it, even across replicas.
    Index(
        "uq_alerts_unresolved_dedup_key",
        "school_id",
        "dedup_key",
        unique=True,
        sqlite_where=text("status != 'resolved'"),
        postgresql_where=text("status != 'resolved'"),
    ),
)

alert_timeline = Table(
    "alert_timeline",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", String(36), ForeignKey("alerts.alert_id"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("step", Integer, nullable=True),
    Column("repeat", Integer, nullable=True),
    Column("person_id", String(64), nullable=True),
    Column("channel", String(16), nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("detail", String(500), nullable=True),
    Index("ix_alert_timeline_alert", "alert_id", "id"),
)

alert_emails = Table(
    "alert_emails",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", String(36), nullable=False, unique=True),
    Column("alert_id", String(36), ForeignKey("alerts.alert_id"), nullable=False),
    Column("school_id", String(32), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("address", String(320), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("step", Integer, nullable=False),
    Column("repeat", Integer, nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending, sending, delivered, failed…
    Column("attempts", Integer, nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime(), nullable=True),
    Column("last_error", String(200), nullable=True),
    # Set on emails deferred by the per-person limit and sent inside one digest: its id.
    Column("digest_of", String(36), nullable=True),
    Index("ix_alert_emails_due_at", "due_at"),
    Index("ix_alert_emails_person_done", "person_id", "status", "done_at"),
)

# Pushes and texts an escalation step queued, one row per channel and person; `due_at` is its
# timer (the channel's delay after the step, the next attempt, or the end of a sending lease).
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", String(36), nullable=False, unique=True),
    Column("alert_id", String(36), ForeignKey("alerts.alert_id"), nullable=False),
    Column("school_id", String(32), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),  # push, sms
    Column("step", Integer, nullable=False),
    Column("repeat", Integer, nullable=False),
    # The signed acknowledge link's token (the one the step's email carries); None for a
    # person whose role does not acknowledge alerts.
    Column("ack_token", String(256), nullable=True),
    Column("status", String(16), nullable=False),  # pending, sending, delivered, failed, cancelled
    Column("attempts", Integer, nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime(), nullable=True),
    Column("last_error", String(200), nullable=True),
    Index("ix_alert_deliveries_due_at", "due_at"),
    Index("ix_alert_deliveries_alert_id", "alert_id"),
)

# The browsers a person turned alerts on in (Web Push, RFC 8030/8291). An endpoint belongs to
# one browser, so to the person who subscribed it last.
push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String(32), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("endpoint", String(2048), nullable=False, unique=True),
    Column("p256dh", String(88), nullable=False),
    Column("auth", String(24), nullable=False),
    Column("subscribed_at", UTCDateTime(), nullable=False),
    Index("ix_push_subscriptions_person_id", "person_id", "school_id"),
)

# The number each alert has among one person's texts (`3` in "Reply 3a ack"), 1-999, reused
# after 999 from the oldest.
sms_numbers = Table(
    "sms_numbers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String(32), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("number", Integer, nullable=False),
    Column("alert_id", String(36), ForeignKey("alerts.alert_id"), nullable=False),
    Column("assigned_at", UTCDateTime(), nullable=False),
    Index("uq_sms_numbers_person", "school_id", "person_id", "number", unique=True),
)

access_log = Table(
    "alerts_access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("school_id", String(32), nullable=False),
    Column("alert_id", String(36), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("query", String(32), nullable=False),
)


@dataclass(frozen=True)
class AlertRow:
    """An alert as loaded for the rules."""

    alert_id: uuid.UUID
    school_id: str
    policy: PolicySnapshot
    state: Escalation
    facts: AlertFacts
    about_person_id: str | None = None


def row_to_alert(r: Any) -> AlertRow:
    return AlertRow(
        uuid.UUID(r.alert_id),
        r.school_id,
        PolicySnapshot.from_json(r.policy),
        Escalation(
            AlertStatus(r.status), r.step, r.repeat, r.next_step_at, RoutingState(r.routing)
        ),
        AlertFacts(
            uuid.UUID(r.alert_id),
            AlertSource(r.source),
            r.category,
            Severity(r.severity),
            r.zone_id,
            r.count,
            r.opened_at,
        ),
        r.about_person_id,
    )


def _entry(r: Any) -> TimelineEntry:
    return TimelineEntry(
        at=r.at,
        kind=r.kind,
        step=r.step,
        repeat=r.repeat,
        person_id=r.person_id,
        channel=r.channel,
        outcome=r.outcome,
        detail=r.detail,
    )


def _summary(r: Any) -> AlertSummary:
    return AlertSummary(
        alert_id=uuid.UUID(r.alert_id),
        school_id=r.school_id,
        status=AlertStatus(r.status),
        source=AlertSource(r.source),
        category=r.category,
        severity=Severity(r.severity),
        zone_id=r.zone_id,
        count=r.count,
        policy=r.policy_name,
        step=r.step,
        repeat=r.repeat,
        next_step_at=r.next_step_at,
        routing=RoutingState(r.routing),
        opened_at=r.opened_at,
        acknowledged_at=r.acknowledged_at,
        acknowledged_by=r.acknowledged_by,
        resolved_at=r.resolved_at,
        resolved_by=r.resolved_by,
    )


class AlertRepository:
    """Reads and writes of alerts inside a caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def unresolved(self, school_id: str, dedup_key: str) -> AlertRow | None:
        row = (
            await self.session.execute(
                select(alerts).where(
                    alerts.c.school_id == school_id,
                    alerts.c.dedup_key == dedup_key,
                    alerts.c.status != AlertStatus.RESOLVED.value,
                )
            )
        ).first()
        return None if row is None else row_to_alert(row)

    async def latest(self, school_id: str, dedup_key: str) -> AlertRow | None:
        """The most recently opened alert with this key, resolved or not."""
        row = (
            await self.session.execute(
                select(alerts)
                .where(alerts.c.school_id == school_id, alerts.c.dedup_key == dedup_key)
                .order_by(alerts.c.opened_at.desc())
                .limit(1)
            )
        ).first()
        return None if row is None else row_to_alert(row)

    async def get(self, alert_id: uuid.UUID, *, lock: bool = False) -> AlertRow | None:
        stmt = select(alerts).where(alerts.c.alert_id == str(alert_id))
        if lock and self._postgres:
            stmt = stmt.with_for_update()  # the ticker skips it meanwhile; we wait for its fire
        row = (await self.session.execute(stmt)).first()
        return None if row is None else row_to_alert(row)

    @property
    def _postgres(self) -> bool:
        bind = self.session.bind
        return bind is not None and bind.dialect.name == "postgresql"

    async def open(
        self,
        alert_id: uuid.UUID,
        school_id: str,
        seed: AlertSeed,
        source_event_id: uuid.UUID,
        policy: PolicySnapshot,
        state: Escalation,
        now: datetime,
    ) -> AlertRow:
        await self.session.execute(
            insert(alerts).values(
                alert_id=str(alert_id),
                school_id=school_id,
                dedup_key=seed.dedup_key,
                source=seed.source.value,
                category=seed.category,
                severity=seed.severity.value,
                zone_id=seed.zone_id,
                source_event_id=str(source_event_id),
                status=state.status.value,
                count=1,
                policy_name=policy.name,
                policy=policy.to_json(),
                step=state.step,
                repeat=state.repeat,
                next_step_at=state.next_step_at,
                routing=state.routing.value,
                about_person_id=seed.about_person,
                auto_resolve_at=seed.resolves_at,
                opened_at=now,
                last_seen_at=now,
            )
        )
        facts = AlertFacts(
            alert_id, seed.source, seed.category, seed.severity, seed.zone_id, 1, now
        )
        return AlertRow(alert_id, school_id, policy, state, facts, seed.about_person)

    async def fold(self, alert_id: uuid.UUID, now: datetime) -> int:
        """One more report of an open alert; returns the new count."""
        await self.session.execute(
            update(alerts)
            .where(alerts.c.alert_id == str(alert_id))
            .values(count=alerts.c.count + 1, last_seen_at=now)
        )
        count = await self.session.scalar(
            select(alerts.c.count).where(alerts.c.alert_id == str(alert_id))
        )
        return int(count or 0)

    async def set_state(self, alert_id: uuid.UUID, state: Escalation, **values: Any) -> None:
        await self.session.execute(
            update(alerts)
            .where(alerts.c.alert_id == str(alert_id))
            .values(
                status=state.status.value,
                step=state.step,
                repeat=state.repeat,
                next_step_at=state.next_step_at,
                routing=state.routing.value,
                **values,
            )
        )

    async def set_severity(self, alert_id: uuid.UUID, severity: Severity) -> None:
        await self.session.execute(
            update(alerts).where(alerts.c.alert_id == str(alert_id)).values(severity=severity.value)
        )

    async def reroute(
        self, alert_id: uuid.UUID, severity: Severity, policy: PolicySnapshot, state: Escalation
    ) -> None:
        """A new severity and the policy it routes to, starting over at that policy's step 0."""
        await self.set_state(
            alert_id,
            state,
            severity=severity.value,
            policy_name=policy.name,
            policy=policy.to_json(),
            acknowledged_at=None,
            acknowledged_by=None,
        )

    async def timeline(self, alert_id: uuid.UUID, at: datetime, kind: str, **values: Any) -> None:
        await self.session.execute(
            insert(alert_timeline).values(alert_id=str(alert_id), at=at, kind=kind, **values)
        )

    async def add_email(self, **values: Any) -> None:
        await self.session.execute(insert(alert_emails).values(**values))

    async def add_delivery(self, **values: Any) -> None:
        await self.session.execute(insert(alert_deliveries).values(**values))

    async def cancel_delayed(self, alert_id: uuid.UUID, now: datetime) -> list[tuple[str, str]]:
        """Deliveries of this alert meant for later and not yet attempted are cancelled (it was
        acknowledged or resolved); returns (person, channel) of each."""
        cancelled: list[tuple[str, str]] = []
        for table, channel in ((alert_emails, None), (alert_deliveries, "channel")):
            delayed = (
                (table.c.alert_id == str(alert_id))
                & (table.c.status == "pending")
                & (table.c.attempts == 0)
                & (table.c.due_at > table.c.created_at)
            )
            which = table.c[channel] if channel else literal("email")
            rows = (
                await self.session.execute(select(table.c.person_id, which).where(delayed))
            ).all()
            if rows:
                await self.session.execute(
                    update(table)
                    .where(delayed)
                    .values(status="cancelled", due_at=None, done_at=now)
                )
            cancelled += [(r[0], r[1]) for r in rows]
        return cancelled

    async def summary(self, alert_id: uuid.UUID) -> tuple[AlertSummary, str | None] | None:
        row = (
            await self.session.execute(select(alerts).where(alerts.c.alert_id == str(alert_id)))
        ).first()
        return None if row is None else (_summary(row), row.resolution_note)

    async def entries(self, alert_id: uuid.UUID) -> list[TimelineEntry]:
        t = alert_timeline
        rows = await self.session.execute(
            select(t).where(t.c.alert_id == str(alert_id)).order_by(t.c.id)
        )
        return [_entry(r) for r in rows]

    async def listing(
        self,
        school_id: str,
        open_only: bool,
        limit: int,
        with_notified: bool = False,
        resolved_since: datetime | None = None,
    ) -> list[AlertSummary]:
        stmt = select(alerts).where(alerts.c.school_id == school_id)
        if resolved_since is not None:  # however long ago they were opened
            stmt = stmt.where(alerts.c.resolved_at >= resolved_since).order_by(
                alerts.c.resolved_at.desc(), alerts.c.alert_id
            )
        else:
            if open_only:
                stmt = stmt.where(alerts.c.status != AlertStatus.RESOLVED.value)
            stmt = stmt.order_by(alerts.c.opened_at.desc(), alerts.c.alert_id)
        stmt = stmt.limit(limit)
        found = [_summary(r) for r in await self.session.execute(stmt)]
        if not with_notified or not found:
            return found
        told = await self._notified_entries([str(a.alert_id) for a in found])
        return [
            a.model_copy(update={"notifications": told.get(str(a.alert_id), [])}) for a in found
        ]

    async def _notified_entries(self, alert_ids: list[str]) -> dict[str, list[TimelineEntry]]:
        """The `notified` timeline entries of these alerts, oldest first: one query for a whole
        board, instead of one `show` per alert."""
        t = alert_timeline
        rows = await self.session.execute(
            select(t)
            .where(t.c.alert_id.in_(alert_ids), t.c.kind == "notified")
            .order_by(t.c.alert_id, t.c.id)
        )
        told: dict[str, list[TimelineEntry]] = {}
        for r in rows:
            told.setdefault(r.alert_id, []).append(_entry(r))
        return told

    async def log_access(
        self, school_id: str, alert_id: uuid.UUID, person_id: str, query: str, now: datetime
    ) -> None:
        await self.session.execute(
            insert(access_log).values(
                at=now,
                school_id=school_id,
                alert_id=str(alert_id),
                person_id=person_id,
                query=query,
            )
        )

    async def next_deadline(self) -> datetime | None:
        """The next escalation step, ack timeout, re-check or day-end resolution."""
        step = await self.session.scalar(select(func.min(alerts.c.next_step_at)))
        ends = await self.session.scalar(
            select(func.min(alerts.c.auto_resolve_at)).where(
                alerts.c.status != AlertStatus.RESOLVED.value
            )
        )
        due = [d for d in (step, ends) if d is not None]
        return min(due) if due else None

    async def next_email_due(self) -> datetime | None:
        return await self.session.scalar(select(func.min(alert_emails.c.due_at)))

    async def next_delivery_due(self) -> datetime | None:
        return await self.session.scalar(select(func.min(alert_deliveries.c.due_at)))

    async def oldest_delivered_since(self, person_id: str, since: datetime) -> datetime | None:
        e = alert_emails
        return await self.session.scalar(
            select(func.min(e.c.done_at)).where(
                e.c.person_id == person_id, e.c.status == "delivered", e.c.done_at > since
            )
        )

    async def emails_delivered_since(self, person_id: str, since: datetime) -> int:
        e = alert_emails
        # A digest is one email however many alerts it carries.
        one_email = func.coalesce(e.c.digest_of, e.c.notification_id)
        n = await self.session.scalar(
            select(func.count(one_email.distinct())).where(
                e.c.person_id == person_id, e.c.status == "delivered", e.c.done_at > since
            )
        )
        return int(n or 0)


async def count_rows(session: AsyncSession, table: Table, *where: Any) -> int:
    stmt = select(func.count()).select_from(table)
    if where:
        stmt = stmt.where(*where)
    return int((await session.execute(stmt)).scalar_one())


class PendingWrites:
    """What firing many alerts writes, buffered and written with one statement per table: a
    tick fires hundreds of alerts, and a statement per row would make the escalation late."""

    def __init__(self) -> None:
        self.timeline_rows: list[dict[str, Any]] = []
        self.emails: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.states: list[dict[str, Any]] = []
        self.events: list[Event] = []

    async def timeline(self, alert_id: uuid.UUID, at: datetime, kind: str, **values: Any) -> None:
        row = dict.fromkeys(("step", "repeat", "person_id", "channel", "outcome", "detail"))
        row.update(alert_id=str(alert_id), at=at, kind=kind, **values)
        self.timeline_rows.append(row)

    async def add_email(self, **values: Any) -> None:
        self.emails.append(values)

    async def add_delivery(self, **values: Any) -> None:
        self.deliveries.append(values)

    async def set_state(self, alert_id: uuid.UUID, state: Escalation) -> None:
        self.states.append(
            {
                "b_id": str(alert_id),
                "b_status": state.status.value,
                "b_step": state.step,
                "b_repeat": state.repeat,
                "b_next": state.next_step_at,
                "b_routing": state.routing.value,
            }
        )

    async def flush(self, session: AsyncSession, outbox: Outbox, now: datetime) -> None:
        if self.timeline_rows:
            await session.execute(insert(alert_timeline), self.timeline_rows)
        if self.emails:
            await session.execute(insert(alert_emails), self.emails)
        if self.deliveries:
            await session.execute(insert(alert_deliveries), self.deliveries)
        if self.states:
            stmt = (
                update(alerts)
                .where(alerts.c.alert_id == bindparam("b_id"))
                .values(
                    status=bindparam("b_status"),
                    step=bindparam("b_step"),
                    repeat=bindparam("b_repeat"),
                    next_step_at=bindparam("b_next", type_=UTCDateTime()),
                    routing=bindparam("b_routing"),
                )
            )
            await session.execute(stmt, self.states)
        await outbox.add(session, self.events, now)
        self.__init__()  # type: ignore[misc]
