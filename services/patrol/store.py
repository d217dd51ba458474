"""Patrol tables and the repository over them. Inbox and outbox come from the kernel."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

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
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.patrol import (
    CheckpointScanned,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    ContactLogged,
    ObservationLogged,
)
from lookout.storage import UTCDateTime, inbox_table, new_metadata, outbox_table
from services.patrol.domain import ConcernState, ConcernStatus

SERVICE = "patrol"
metadata = new_metadata()
inbox = inbox_table(metadata, SERVICE)
outbox = outbox_table(metadata, SERVICE)

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
    Index("ix_concerns_open", "school_id", "status", "severity"),
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
    Column("status", String(16), nullable=False),  # open | checked | late | missed
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
                select(concerns.c.status).where(concerns.c.concern_id == str(concern_id))
            )
        ).first()
        return None if row is None else ConcernState(ConcernStatus(row.status))

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
