"""Patrol tables and the repository over them. Inbox and outbox come from the kernel."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.alerts import (
    AlertAcknowledged,
    AlertNotification,
    AlertOpened,
    AlertResolved,
)
from lookout.contracts.patrol import (
    CheckpointScanned,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    ContactLogged,
    ObservationLogged,
)
from lookout.kernel.day_types import day_types_table
from lookout.kernel.storage import UTCDateTime, inbox_table, new_metadata, outbox_table
from services.patrol.domain import ConcernState, ConcernStatus, PlannedWindow

SERVICE = "patrol"
NOT_MONITORED = "not_monitored"  # a check window's status: see check_windows
metadata = new_metadata()
inbox = inbox_table(metadata, SERVICE)
outbox = outbox_table(metadata, SERVICE)
day_types = day_types_table(metadata, SERVICE)  # confirmed day types (CALENDAR)

checkpoint_scans = Table(
    "checkpoint_scans",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("zone_id", String(64), nullable=False),
    Column("checkpoint_tag", String(64), nullable=False),
    Column("method", String(16), nullable=False),
    Column("officer_id", String(64), nullable=False),
    Column("scanned_at", UTCDateTime(), nullable=False),
    Index("ix_checkpoint_scans_zone_time", "school_id", "zone_id", "scanned_at"),
)

observations = Table(
    "observations",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("zone_id", String(64), nullable=False),
    Column("category", String(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("officer_id", String(64), nullable=False),
    Column("observed_at", UTCDateTime(), nullable=False),
    Column("purged_at", UTCDateTime(), nullable=True),  # note erased after the retention period
    Index("ix_observations_purge", "purged_at", "observed_at"),
)

concerns = Table(
    "concerns",
    metadata,
    Column("concern_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("category", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("zone_id", String(64), nullable=True),
    Column("student_refs", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("outcome", String(32), nullable=True),
    Column("raised_by_kind", String(16), nullable=False),
    Column("raised_by", String(64), nullable=False),
    Column("raised_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    # Student refs and the timeline's notes erased after the retention period.
    Column("purged_at", UTCDateTime(), nullable=True),
    Index("ix_concerns_open", "school_id", "status", "severity"),
    Index("ix_concerns_purge", "purged_at", "resolved_at"),
)

# Every raise, update and resolve of a concern, with its note: the concern's history.
concern_timeline = Table(
    "concern_timeline",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("concern_id", String(36), ForeignKey("concerns.concern_id"), nullable=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("zone_id", String(64), nullable=True),
    Column("student_refs", JSON, nullable=False),
    Column("concern_id", String(36), nullable=True),
    Column("note", Text, nullable=False),
    Column("officer_id", String(64), nullable=False),
    Column("contacted_at", UTCDateTime(), nullable=False),
    Column("purged_at", UTCDateTime(), nullable=True),  # refs and note erased after retention
    Index("ix_contacts_purge", "purged_at", "contacted_at"),
)


# One row per check window of the plan (timers are data): closed by a scan or by the ticker.
check_windows = Table(
    "check_windows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String(32), nullable=False),
    Column("zone_id", String(64), nullable=False),
    Column("window_start", UTCDateTime(), nullable=False),
    Column("window_end", UTCDateTime(), nullable=False),
    Column("deadline_at", UTCDateTime(), nullable=False),
    Column("period", String(64), nullable=True),
    Column("unannounced", Boolean, nullable=False, default=False),
    # open | checked | late | missed (a missed one is upgraded by a scan delivered late) |
    # not_monitored (already past when its day was first planned: never watched, never missed)
    Column("status", String(16), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("scan_event_id", String(36), nullable=True),
    UniqueConstraint("school_id", "zone_id", "window_start", "window_end", "unannounced"),
    Index("ix_check_windows_due", "status", "deadline_at"),
    Index("ix_check_windows_zone", "school_id", "zone_id", "window_start"),
)

# Days whose windows have been written, so a restart or a second replica never plans twice.
planned_days = Table(
    "planned_days",
    metadata,
    Column("school_id", String(32), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("planned_at", UTCDateTime(), nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("school_id", String(32), primary_key=True),
    Column("device_id", String(64), primary_key=True),
    Column("officer_id", String(64), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("silent_at", UTCDateTime(), nullable=False),
    Column("silence_reported", Boolean, nullable=False, default=False),
    Index("ix_devices_silent", "silence_reported", "silent_at"),
)

# Welfare re-checks scheduled when a concern was resolved with "check back".
follow_ups = Table(
    "follow_ups",
    metadata,
    Column("concern_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    # Whom to remind: a person, or a phone not heard from when the concern was resolved (its
    # officer is looked up when the reminder is due; see domain.follow_up_recipients).
    Column("officer_id", String(64), nullable=False),
    Column("zone_id", String(64), nullable=True),
    Column("category", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("remind_at", UTCDateTime(), nullable=False),
    Column("deadline_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # scheduled | reminded | done | missed
    Column("done_at", UTCDateTime(), nullable=True),
    Index("ix_follow_ups_due", "status", "remind_at", "deadline_at"),
)

# Every alert the service heard open (the ALERTS stream's `alert.opened`), and what became of
# it (acknowledged, resolved): the officer who raised a concern sees who has its alert, and an
# officer paged for any alert sees who has that one. Joined to a concern by the raise's event id
# (`concern_timeline.event_id`), so the order in which the CONCERNS and ALERTS streams reach
# this service does not matter.
alert_outcomes = Table(
    "alert_outcomes",
    metadata,
    Column("alert_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("source", String(32), nullable=False),  # AlertSource
    Column("severity", String(16), nullable=False),
    Column("zone_id", String(64), nullable=True),
    Column("category", String(32), nullable=True),
    Column("source_event_id", String(36), nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False),  # open | acknowledged | resolved
    Column("by_person_id", String(64), nullable=True),
    Column("at", UTCDateTime(), nullable=True),
    Index("ix_alert_outcomes_source", "source_event_id"),
)

# Who was paged for which alert (`alert.<school>.notify.<person>`, which every escalation step
# publishes for each person it reaches, whatever else tells them: push, text, email), so the
# phone lists the alerts its officer was paged for and who has them.
alert_pages = Table(
    "alert_pages",
    metadata,
    Column("alert_id", String(36), primary_key=True),
    Column("person_id", String(64), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("paged_at", UTCDateTime(), nullable=False),
    Index("ix_alert_pages_person", "school_id", "person_id"),
)

# Each sensor alert's zone check (the SENSORS stream's `sensor.alert.raised`): who was asked,
# by when (`check_by`, a deadline the SensorCheckDeadlines timer fires), and the first scan of
# the zone after it (`checked_at`, which ends it however late). A second alert of the sensor
# while its check is open folds in (`reports`).
sensor_checks = Table(
    "sensor_checks",
    metadata,
    Column("sensor_event_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("sensor_id", String(64), nullable=False),
    Column("zone_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # SensorKind
    Column("raised_at", UTCDateTime(), nullable=False),
    Column("check_by", UTCDateTime(), nullable=False),
    Column("officer_id", String(64), nullable=True),  # asked to check; None: no SSO on duty
    Column("status", String(16), nullable=False),  # open | missed | checked
    Column("reports", Integer, nullable=False),
    Column("checked_at", UTCDateTime(), nullable=True),
    Column("checked_by", String(64), nullable=True),
    Index("ix_sensor_checks_due", "status", "check_by"),
    Index("ix_sensor_checks_zone", "school_id", "zone_id", "status"),
)

# Who read student-level data through a query, what, and when (FERPA access log).
access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String(32), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("query", String(64), nullable=False),
    Column("subject_ids", JSON, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)

# Weeks whose patrol focus was published (published once per school and week).
published_focus = Table(
    "published_focus",
    metadata,
    Column("school_id", String(32), primary_key=True),
    Column("week", String(8), primary_key=True),
    Column("published_at", UTCDateTime(), nullable=False),
)


class PatrolRepository:
    """Writes and reads of patrol facts inside a caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_scans(self, scans: Sequence[CheckpointScanned]) -> None:
        await self.session.execute(
            insert(checkpoint_scans),
            [
                {
                    "event_id": str(s.event_id),
                    "school_id": s.school_id,
                    "zone_id": s.zone_id,
                    "checkpoint_tag": s.checkpoint_tag,
                    "method": s.method.value,
                    "officer_id": s.actor.id,
                    "scanned_at": s.occurred_at,
                }
                for s in scans
            ],
        )

    async def add_observations(self, items: Sequence[ObservationLogged]) -> None:
        await self.session.execute(
            insert(observations),
            [
                {
                    "event_id": str(o.event_id),
                    "school_id": o.school_id,
                    "zone_id": o.zone_id,
                    "category": o.category.value,
                    "note": o.note,
                    "officer_id": o.actor.id,
                    "observed_at": o.occurred_at,
                }
                for o in items
            ],
        )

    async def add_contacts(self, items: Sequence[ContactLogged]) -> None:
        await self.session.execute(
            insert(contacts),
            [
                {
                    "event_id": str(c.event_id),
                    "school_id": c.school_id,
                    "kind": c.kind.value,
                    "zone_id": c.zone_id,
                    "student_refs": list(c.student_refs),
                    "concern_id": str(c.concern_id) if c.concern_id else None,
                    "note": c.note,
                    "officer_id": c.actor.id,
                    "contacted_at": c.occurred_at,
                }
                for c in items
            ],
        )

    async def concern_state(self, concern_id: uuid.UUID) -> ConcernState | None:
        row = (
            await self.session.execute(
                select(concerns.c.status, concerns.c.school_id).where(
                    concerns.c.concern_id == str(concern_id)
                )
            )
        ).first()
        return None if row is None else ConcernState(ConcernStatus(row.status), row.school_id)

    async def alert_opened(self, e: AlertOpened) -> None:
        await self.session.execute(
            insert(alert_outcomes).values(
                alert_id=str(e.alert_id),
                school_id=e.school_id,
                source=e.source.value,
                severity=e.severity.value,
                zone_id=e.zone_id,
                category=e.category,
                source_event_id=str(e.source_event_id),
                opened_at=e.occurred_at,
                state="open",
                by_person_id=None,
                at=None,
            )
        )

    async def alert_paged(self, e: AlertNotification) -> None:
        """The first step that reached this person for this alert (later steps and repeats add
        nothing: the phone says they were paged, and when first)."""
        await self.session.execute(
            dialect_insert(self.session, alert_pages)
            .values(
                alert_id=str(e.alert_id),
                person_id=e.person_id,
                school_id=e.school_id,
                paged_at=e.occurred_at,
            )
            .on_conflict_do_nothing()
        )

    async def alert_settled(self, e: AlertAcknowledged | AlertResolved) -> None:
        """The alert's last word: acknowledged (again, after a re-trigger), or resolved, which
        nothing after it changes."""
        state = "resolved" if isinstance(e, AlertResolved) else "acknowledged"
        await self.session.execute(
            sql_update(alert_outcomes)
            .where(
                alert_outcomes.c.alert_id == str(e.alert_id),
                alert_outcomes.c.school_id == e.school_id,
                alert_outcomes.c.state != "resolved",
            )
            .values(state=state, by_person_id=e.by_person_id, at=e.occurred_at)
        )

    async def raise_concern(self, e: ConcernRaised) -> None:
        await self.session.execute(
            insert(concerns).values(
                concern_id=str(e.concern_id),
                school_id=e.school_id,
                category=e.category.value,
                severity=e.severity.value,
                zone_id=e.zone_id,
                student_refs=list(e.student_refs),
                status=ConcernStatus.OPEN.value,
                raised_by_kind=e.actor.kind.value,
                raised_by=e.actor.id,
                raised_at=e.occurred_at,
                updated_at=e.occurred_at,
            )
        )
        await self._timeline(e, "raised")

    async def update_concern(self, e: ConcernUpdated) -> None:
        changes: dict[str, object] = {"updated_at": e.occurred_at}
        if e.severity is not None:
            changes["severity"] = e.severity.value
        if e.zone_id is not None:
            changes["zone_id"] = e.zone_id
        if e.student_refs is not None:
            changes["student_refs"] = list(e.student_refs)
        await self._set(e.concern_id, changes)
        await self._timeline(e, "updated")

    async def resolve_concern(self, e: ConcernResolved) -> None:
        await self._set(
            e.concern_id,
            {
                "status": ConcernStatus.RESOLVED.value,
                "outcome": e.outcome.value,
                "updated_at": e.occurred_at,
                "resolved_at": e.occurred_at,
            },
        )
        await self._timeline(e, "resolved")

    async def _set(self, concern_id: uuid.UUID, values: dict[str, object]) -> None:
        await self.session.execute(
            sql_update(concerns).where(concerns.c.concern_id == str(concern_id)).values(**values)
        )

    async def _timeline(
        self, e: ConcernRaised | ConcernUpdated | ConcernResolved, kind: str
    ) -> None:
        await self.session.execute(
            insert(concern_timeline).values(
                concern_id=str(e.concern_id),
                event_id=str(e.event_id),
                kind=kind,
                actor_id=e.actor.id,
                note=e.note,
                at=e.occurred_at,
            )
        )


async def count_rows(session: AsyncSession, table: Table) -> int:
    return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


class RetentionRepository:
    """Erasing student references and note text once a school's retention period is over; the
    facts (category, severity, zone, times, outcome, officer) stay for the statistics."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def purge_concerns(self, ids: Sequence[str], now: datetime) -> None:
        if not ids:
            return
        await self.session.execute(
            sql_update(concerns)
            .where(concerns.c.concern_id.in_(ids))
            .values(student_refs=[], purged_at=now)
        )
        await self.session.execute(
            sql_update(concern_timeline)
            .where(concern_timeline.c.concern_id.in_(ids))
            .values(note="")
        )

    async def purge_contacts(self, ids: Sequence[str], now: datetime) -> None:
        if ids:
            await self.session.execute(
                sql_update(contacts)
                .where(contacts.c.event_id.in_(ids))
                .values(student_refs=[], note="", purged_at=now)
            )

    async def purge_observations(self, ids: Sequence[str], now: datetime) -> None:
        if ids:
            await self.session.execute(
                sql_update(observations)
                .where(observations.c.event_id.in_(ids))
                .values(note="", purged_at=now)
            )


class PlanRepository:
    """The plan's timer rows: windows, planned days, devices, follow-ups."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_day(self, school_id: str, day: date, now: datetime) -> bool:
        """Mark `day` planned; False when it already was (by us earlier or by another replica)."""
        exists = await self.session.execute(
            select(planned_days.c.day).where(
                planned_days.c.school_id == school_id, planned_days.c.day == day
            )
        )
        if exists.first() is not None:
            return False
        stmt = (
            dialect_insert(self.session, planned_days)
            .values(school_id=school_id, day=day, planned_at=now)
            .on_conflict_do_nothing()
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)

    async def add_windows(
        self, school_id: str, windows: Sequence[PlannedWindow], status: str = "open"
    ) -> None:
        if windows:
            await self.session.execute(
                insert(check_windows),
                [
                    {
                        "school_id": school_id,
                        "zone_id": w.zone_id,
                        "window_start": w.start,
                        "window_end": w.end,
                        "deadline_at": w.deadline,
                        "period": w.period,
                        "unannounced": w.unannounced,
                        "status": status,
                    }
                    for w in windows
                ],
            )

    async def closable_windows_for(
        self, school_id: str, zone_ids: Sequence[str], earliest: datetime, latest: datetime
    ) -> list[Any]:
        """Windows of these zones that a scan made between `earliest` and `latest` could close
        (open) or upgrade (missed: the scan was delivered after the deadline)."""
        t = check_windows
        rows = await self.session.execute(
            select(t).where(
                t.c.school_id == school_id,
                t.c.zone_id.in_(list(zone_ids)),
                t.c.status.in_(["open", "missed"]),
                t.c.window_start <= latest,
                t.c.deadline_at >= earliest,
            )
        )
        return list(rows.all())

    async def close_window(
        self, window_id: int, status: str, closed_at: datetime, scan_event_id: str | None
    ) -> bool:
        """Close an open window; False if something else closed it first (no double close)."""
        return await self._check_window(window_id, "open", status, closed_at, scan_event_id)

    async def recover_window(
        self, window_id: int, status: str, closed_at: datetime, scan_event_id: str
    ) -> bool:
        """Upgrade a missed window to checked or late; False unless it was still missed (so a
        window is upgraded once)."""
        return await self._check_window(window_id, "missed", status, closed_at, scan_event_id)

    async def _check_window(
        self,
        window_id: int,
        was: str,
        status: str,
        closed_at: datetime,
        scan_event_id: str | None,
    ) -> bool:
        t = check_windows
        result = await self.session.execute(
            sql_update(t)
            .where(t.c.id == window_id, t.c.status == was)
            .values(status=status, closed_at=closed_at, scan_event_id=scan_event_id)
        )
        return bool(result.rowcount)

    async def count_missed(
        self, school_id: str, zone_id: str, start: datetime, end: datetime
    ) -> int:
        """Windows of a zone starting in [start, end) still marked missed."""
        t = check_windows
        count = await self.session.execute(
            select(func.count())
            .select_from(t)
            .where(
                t.c.school_id == school_id,
                t.c.zone_id == zone_id,
                t.c.status == "missed",
                t.c.window_start >= start,
                t.c.window_start < end,
            )
        )
        return int(count.scalar_one())

    async def reported_silences(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Any]:
        """Of these (school, device) keys, the devices whose silence was reported (an alert was
        emitted), with the officer and last heartbeat it was about. One statement for a batch;
        on PostgreSQL the rows are locked, so two replicas never both resume one silence."""
        if not keys:
            return {}
        d = devices.c
        stmt = select(d.school_id, d.device_id, d.officer_id, d.last_seen_at).where(
            d.silence_reported.is_(True), d.device_id.in_(sorted({k[1] for k in keys}))
        )
        bind = self.session.bind
        if bind is not None and bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        wanted = set(keys)
        rows = (await self.session.execute(stmt)).all()
        return {(r.school_id, r.device_id): r for r in rows if (r.school_id, r.device_id) in wanted}

    async def saw_devices(self, seen: Sequence[dict[str, Any]]) -> None:
        """Record heartbeats (rows of devices' columns), at most one per device: a newer one
        replaces what is stored, an old one arriving late changes nothing. One statement."""
        if not seen:
            return
        stmt = dialect_insert(self.session, devices)
        stmt = stmt.on_conflict_do_update(
            index_elements=[devices.c.school_id, devices.c.device_id],
            set_={
                c: stmt.excluded[c]
                for c in ("officer_id", "last_seen_at", "silent_at", "silence_reported")
            },
            where=devices.c.last_seen_at < stmt.excluded.last_seen_at,
        )
        await self.session.execute(stmt, list(seen))

    async def device_officers(self, school_id: str, device_ids: Sequence[str]) -> dict[str, str]:
        """The officer each of these phones last reported in a heartbeat (unknown ones left out)."""
        if not device_ids:
            return {}
        d = devices.c
        rows = await self.session.execute(
            select(d.device_id, d.officer_id).where(
                d.school_id == school_id, d.device_id.in_(sorted(set(device_ids)))
            )
        )
        return {r.device_id: r.officer_id for r in rows}

    async def schedule_follow_up(self, row: dict[str, Any]) -> None:
        await self.session.execute(insert(follow_ups).values(**row))

    async def complete_follow_up(
        self, school_id: str, concern_id: str, done_at: datetime
    ) -> bool | None:
        """A contact at `done_at` is the re-check if it is on or after the re-check day: the
        follow-up is done. Returns whether it was done late (after it was reported missed), or
        None when there was nothing to complete (not yet due, already done, no follow-up)."""
        f = follow_ups.c
        for pending, late in ((["scheduled", "reminded"], False), (["missed"], True)):
            result = await self.session.execute(
                sql_update(follow_ups)
                .where(
                    f.school_id == school_id,  # a concern id belongs to its school
                    f.concern_id == concern_id,
                    f.status.in_(pending),
                    f.remind_at <= done_at,
                )
                .values(status="done", done_at=done_at)
            )
            if result.rowcount:
                return late
        return None

    async def concern_row(self, concern_id: str) -> Any:
        return (
            await self.session.execute(select(concerns).where(concerns.c.concern_id == concern_id))
        ).first()


def dialect_insert(session: AsyncSession, table: Table) -> Any:
    """INSERT with ON CONFLICT support on both SQLite and PostgreSQL."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)
