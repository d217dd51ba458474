"""Visitor tables and the repository over them. Inbox and outbox come from the kernel.

The visitor's PII (name, ID type and last 4, date of birth) lives in `visitor_pii` only, one row
per visit, deleted by the purge after the retention period; every other table refers to the
visit id and badge number.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.visitors import (
    CheckoutMethod,
    ScreeningAnswer,
    SignIn,
    VisitStatus,
)
from lookout.kernel.day_types import day_types_table
from lookout.kernel.storage import UTCDateTime, inbox_table, new_metadata, outbox_table

SERVICE = "visitors"
metadata = new_metadata()
inbox = inbox_table(metadata, SERVICE)
outbox = outbox_table(metadata, SERVICE)
day_types = day_types_table(metadata, SERVICE)  # confirmed day types (CALENDAR)

visits = Table(
    "visits",
    metadata,
    Column("visit_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("request_id", String(36), nullable=False, unique=True),
    Column("status", String(24), nullable=False),
    Column("visitor_type", String(16), nullable=False),
    Column("purpose", String(200), nullable=False),
    Column("host_id", String(64), nullable=False),
    Column("destination_zones", JSON, nullable=False),
    Column("expected_minutes", Integer, nullable=False),
    Column("signed_in_by", String(64), nullable=False),
    Column("signed_in_at", UTCDateTime(), nullable=False),
    # Set when admitted (at sign-in, or when the last possible match is answered No).
    Column("badge_day", Date, nullable=True),
    Column("badge_seq", Integer, nullable=True),
    Column("badge_number", String(16), nullable=True),
    Column("checked_in_at", UTCDateTime(), nullable=True),
    Column("expected_until", UTCDateTime(), nullable=True),
    # Timers are data: the ticker fires what is due and records that it did. overdue_at is at
    # the auto checkout at the latest (NULL on visits admitted before that rule: the checkout
    # reports those overdue itself).
    Column("overdue_at", UTCDateTime(), nullable=True),
    Column("overdue_reported_at", UTCDateTime(), nullable=True),
    Column("auto_checkout_at", UTCDateTime(), nullable=True),
    Column("checked_out_at", UTCDateTime(), nullable=True),
    Column("checkout_method", String(24), nullable=True),
    Column("checked_out_by", String(64), nullable=True),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("purge_at", UTCDateTime(), nullable=True),
    Column("pii_purged_at", UTCDateTime(), nullable=True),
    Column("last_seen_zone", String(64), nullable=True),
    Column("last_seen_at", UTCDateTime(), nullable=True),
    UniqueConstraint("school_id", "badge_day", "badge_seq"),
    Index("ix_visits_on_site", "school_id", "status"),
    Index("ix_visits_badge", "school_id", "badge_number"),
    Index("ix_visits_overdue_due", "status", "overdue_at"),
    Index("ix_visits_checkout_due", "status", "auto_checkout_at"),
    Index("ix_visits_purge_due", "purge_at"),
)

# The only table with the visitor's PII; purged after the retention period.
visitor_pii = Table(
    "visitor_pii",
    metadata,
    Column("visit_id", String(36), ForeignKey("visits.visit_id"), primary_key=True),
    Column("first_name", String(60), nullable=False),
    Column("last_name", String(60), nullable=False),
    Column("id_type", String(24), nullable=False),
    Column("id_last4", String(4), nullable=False),
    Column("date_of_birth", Date, nullable=True),
)

# Possible watchlist matches found at sign-in (entry ids and scores, no visitor PII). What the
# dates of birth said is kept as found (same, swapped, differs, missing), since the visitor's date
# is purged and the list may change; the review band follows from it (matching.ReviewBand).
screening_matches = Table(
    "screening_matches",
    metadata,
    Column("visit_id", String(36), ForeignKey("visits.visit_id"), primary_key=True),
    Column("watchlist_entry_id", String(64), primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("score", Float, nullable=False),
    Column("listed_name", String(130), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("note", String(500), nullable=False),
    Column("date_of_birth_check", String(16), nullable=True),  # None: found before 0002
    Column("review_band", String(16), nullable=True),
    # The listed person's date of birth as the list gave it, for the clerk's side-by-side
    # (None: the list has none, found before 0004, or purged with the visitor's PII).
    Column("listed_date_of_birth", Date, nullable=True),
)

# Every screening answer, kept: who decided what, when.
screening_decisions = Table(
    "screening_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("visit_id", String(36), ForeignKey("visits.visit_id"), nullable=False),
    Column("watchlist_entry_id", String(64), nullable=False),
    Column("answer", String(16), nullable=False),
    Column("decided_by", String(64), nullable=False),
    Column("note", String(500), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=False),
    Column("flag_event_id", String(36), nullable=True),
    Index("ix_screening_decisions_visit", "visit_id"),
)

# Badge sightings from the SSO, with whether they were out of bounds.
sightings = Table(
    "sightings",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("badge_number", String(16), nullable=False),
    Column("visit_id", String(36), nullable=False),
    Column("zone_id", String(64), nullable=False),
    Column("seen_by", String(64), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    Column("out_of_bounds", Integer, nullable=False),
    Index("ix_sightings_visit", "visit_id", "seen_at"),
)


# Evacuation drills: one open drill per school at most (the partial unique index makes two desks
# pressing Start at once get one drill); who was on site at its start, each accounted for once.
drills = Table(
    "drills",
    metadata,
    Column("drill_id", String(36), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("started_by", String(64), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("ended_by", String(64), nullable=True),
    Column("end_reason", String(24), nullable=True),
    # A drill nobody ended is closed with its school day (a timer: DrillDayEnd); NULL before 0006.
    Column("closes_at", UTCDateTime(), nullable=True),
    Index(
        "ix_drills_open",
        "school_id",
        unique=True,
        sqlite_where=text("ended_at IS NULL"),
        postgresql_where=text("ended_at IS NULL"),
    ),
    Index("ix_drills_school_started", "school_id", "started_at"),
    Index("ix_drills_closes_due", "closes_at"),
)

drill_visitors = Table(
    "drill_visitors",
    metadata,
    Column("drill_id", String(36), ForeignKey("drills.drill_id"), primary_key=True),
    Column("visit_id", String(36), ForeignKey("visits.visit_id"), primary_key=True),
    Column("accounted_at", UTCDateTime(), nullable=True),
    Column("accounted_by", String(64), nullable=True),
    Column("how", String(16), nullable=True),
)


@dataclass(frozen=True)
class Admitted:
    badge_day: date
    badge_seq: int
    badge_number: str
    checked_in_at: datetime
    expected_until: datetime
    overdue_at: datetime
    auto_checkout_at: datetime


class VisitorRepository:
    """Writes and reads of visits inside a caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_request(self, request_id: uuid.UUID) -> Any | None:
        return (
            await self.session.execute(select(visits).where(visits.c.request_id == str(request_id)))
        ).first()

    async def get(self, school_id: str, visit_id: uuid.UUID) -> Any | None:
        return (
            await self.session.execute(
                select(visits).where(
                    visits.c.visit_id == str(visit_id), visits.c.school_id == school_id
                )
            )
        ).first()

    async def by_badge(self, school_id: str, badge_number: str) -> Any | None:
        """The latest visit that carried this badge number."""
        return (
            await self.session.execute(
                select(visits)
                .where(visits.c.school_id == school_id, visits.c.badge_number == badge_number)
                .order_by(visits.c.checked_in_at.desc())
                .limit(1)
            )
        ).first()

    async def next_badge_seq(self, school_id: str, day: date) -> int:
        top = (
            await self.session.execute(
                select(func.max(visits.c.badge_seq)).where(
                    visits.c.school_id == school_id, visits.c.badge_day == day
                )
            )
        ).scalar_one()
        return int(top or 0) + 1

    async def add_visit(
        self,
        visit_id: uuid.UUID,
        school_id: str,
        request: SignIn,
        status: VisitStatus,
        at: datetime,
    ) -> None:
        await self.session.execute(
            insert(visits).values(
                visit_id=str(visit_id),
                school_id=school_id,
                request_id=str(request.request_id),
                status=status.value,
                visitor_type=request.visitor_type.value,
                purpose=request.purpose,
                host_id=request.host_id,
                destination_zones=list(request.destination_zones),
                expected_minutes=request.expected_minutes,
                signed_in_by=request.signed_in_by,
                signed_in_at=at,
            )
        )
        await self.session.execute(
            insert(visitor_pii).values(
                visit_id=str(visit_id),
                first_name=request.first_name,
                last_name=request.last_name,
                id_type=request.id_type.value,
                id_last4=request.id_last4,
                date_of_birth=request.date_of_birth,
            )
        )

    async def add_matches(self, visit_id: uuid.UUID, matches: Sequence[dict[str, Any]]) -> None:
        if matches:
            await self.session.execute(
                insert(screening_matches), [{"visit_id": str(visit_id), **m} for m in matches]
            )

    async def matches(self, visit_id: str) -> list[Any]:
        return list(
            (
                await self.session.execute(
                    select(screening_matches)
                    .where(screening_matches.c.visit_id == visit_id)
                    .order_by(
                        screening_matches.c.score.desc(), screening_matches.c.watchlist_entry_id
                    )
                )
            ).all()
        )

    async def latest_answers(self, visit_id: str) -> dict[str, ScreeningAnswer | None]:
        """Each possible match of a visit → its latest answer (None: not answered yet)."""
        answers: dict[str, ScreeningAnswer | None] = {
            m.watchlist_entry_id: None for m in await self.matches(visit_id)
        }
        rows = await self.session.execute(
            select(screening_decisions)
            .where(screening_decisions.c.visit_id == visit_id)
            .order_by(screening_decisions.c.id)
        )
        for row in rows:
            answers[row.watchlist_entry_id] = ScreeningAnswer(row.answer)
        return answers

    async def add_decision(self, **values: Any) -> None:
        await self.session.execute(insert(screening_decisions).values(**values))

    async def decisions(self, visit_id: str) -> list[Any]:
        return list(
            (
                await self.session.execute(
                    select(screening_decisions)
                    .where(screening_decisions.c.visit_id == visit_id)
                    .order_by(screening_decisions.c.id)
                )
            ).all()
        )

    async def admit(self, visit_id: str, admitted: Admitted) -> None:
        await self._set(
            visit_id,
            status=VisitStatus.ON_SITE.value,
            badge_day=admitted.badge_day,
            badge_seq=admitted.badge_seq,
            badge_number=admitted.badge_number,
            checked_in_at=admitted.checked_in_at,
            expected_until=admitted.expected_until,
            overdue_at=admitted.overdue_at,
            auto_checkout_at=admitted.auto_checkout_at,
        )

    async def close(
        self,
        visit_id: str,
        status: VisitStatus,
        at: datetime,
        purge_at: datetime,
        method: CheckoutMethod | None = None,
        by: str | None = None,
        only_if: VisitStatus | None = None,
    ) -> bool:
        """Close a visit (checked out or denied); False when it was not `only_if` any more."""
        values: dict[str, Any] = {"status": status.value, "closed_at": at, "purge_at": purge_at}
        if method is not None:
            values |= {"checked_out_at": at, "checkout_method": method.value, "checked_out_by": by}
        stmt = update(visits).where(visits.c.visit_id == visit_id)
        if only_if is not None:
            stmt = stmt.where(visits.c.status == only_if.value)
        result = await self.session.execute(stmt.values(**values))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def hold_until(self, visit_id: str, auto_checkout_at: datetime) -> None:
        """A visit held for screening is still closed at the end of the day."""
        await self._set(visit_id, auto_checkout_at=auto_checkout_at)

    async def mark_overdue(self, visit_id: str, at: datetime) -> bool:
        result = await self.session.execute(
            update(visits)
            .where(
                visits.c.visit_id == visit_id,
                visits.c.status == VisitStatus.ON_SITE.value,
                visits.c.overdue_reported_at.is_(None),
            )
            .values(overdue_reported_at=at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def add_sighting(self, **values: Any) -> None:
        await self.session.execute(insert(sightings).values(**values))

    async def seen(self, visit_id: str, zone_id: str, at: datetime) -> None:
        await self.session.execute(
            update(visits)
            .where(
                visits.c.visit_id == visit_id,
                (visits.c.last_seen_at.is_(None)) | (visits.c.last_seen_at <= at),
            )
            .values(last_seen_zone=zone_id, last_seen_at=at)
        )

    async def roster(self, school_id: str, statuses: Sequence[VisitStatus]) -> list[Any]:
        stmt = (
            select(visits, visitor_pii.c.first_name, visitor_pii.c.last_name)
            .join(visitor_pii, visitor_pii.c.visit_id == visits.c.visit_id)
            .where(
                visits.c.school_id == school_id, visits.c.status.in_([s.value for s in statuses])
            )
            .order_by(visits.c.signed_in_at, visits.c.visit_id)
        )
        return list((await self.session.execute(stmt)).all())

    async def held(self, school_id: str) -> list[Any]:
        """Visits awaiting a screening decision, with the visitor's name, ID type and date of
        birth (never the ID's digits), oldest first."""
        stmt = (
            select(
                visits,
                visitor_pii.c.first_name,
                visitor_pii.c.last_name,
                visitor_pii.c.id_type,
                visitor_pii.c.date_of_birth,
            )
            .join(visitor_pii, visitor_pii.c.visit_id == visits.c.visit_id)
            .where(
                visits.c.school_id == school_id,
                visits.c.status == VisitStatus.PENDING_SCREENING.value,
            )
            .order_by(visits.c.signed_in_at, visits.c.visit_id)
        )
        return list((await self.session.execute(stmt)).all())

    async def closed_unseen(self, school_id: str, day: date) -> list[Any]:
        """Visits admitted on `day` (the school's date) that the end-of-day checkout closed:
        nobody saw them leave. The name is None once purged."""
        stmt = (
            select(visits, visitor_pii.c.first_name, visitor_pii.c.last_name)
            .outerjoin(visitor_pii, visitor_pii.c.visit_id == visits.c.visit_id)
            .where(
                visits.c.school_id == school_id,
                visits.c.badge_day == day,
                visits.c.checkout_method == CheckoutMethod.AUTOMATIC_END_OF_DAY.value,
            )
            .order_by(visits.c.checked_in_at, visits.c.visit_id)
        )
        return list((await self.session.execute(stmt)).all())

    async def purge_pii(self, visit_ids: Sequence[str], at: datetime) -> None:
        """Delete the visitor's PII; keep the visit's facts (times, zones, decisions)."""
        if not visit_ids:
            return
        await self.session.execute(delete(visitor_pii).where(visitor_pii.c.visit_id.in_(visit_ids)))
        await self.session.execute(
            update(screening_decisions)
            .where(screening_decisions.c.visit_id.in_(visit_ids))
            .values(note=None)
        )
        await self.session.execute(
            update(screening_matches)
            .where(screening_matches.c.visit_id.in_(visit_ids))
            .values(listed_date_of_birth=None)
        )
        await self.session.execute(
            update(visits).where(visits.c.visit_id.in_(visit_ids)).values(pii_purged_at=at)
        )

    async def _set(self, visit_id: str, **values: Any) -> None:
        await self.session.execute(
            update(visits).where(visits.c.visit_id == visit_id).values(**values)
        )


async def count_rows(session: AsyncSession, table: Table) -> int:
    return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


class DrillRepository:
    """Evacuation drills inside a caller's transaction. Marking is a conditional UPDATE, so two
    desks marking one visitor at once record it once."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open_drill(self, school_id: str) -> Any | None:
        return (
            await self.session.execute(
                select(drills).where(drills.c.school_id == school_id, drills.c.ended_at.is_(None))
            )
        ).first()

    async def get(
        self, school_id: str, drill_id: uuid.UUID | str, *, lock: bool = False
    ) -> Any | None:
        """`lock`: hold the drill's row to the end of the transaction (PostgreSQL; SQLite's
        writer lock is `lock_for_write`), so two desks marking its last two visitors at once
        count one after the other and the last mark ends it."""
        stmt = select(drills).where(
            drills.c.drill_id == str(drill_id), drills.c.school_id == school_id
        )
        return (await self.session.execute(stmt.with_for_update() if lock else stmt)).first()

    async def latest(self, school_id: str) -> Any | None:
        """The open drill, else the one started last."""
        return (
            await self.session.execute(
                select(drills)
                .where(drills.c.school_id == school_id)
                .order_by(drills.c.ended_at.is_not(None), drills.c.started_at.desc())
                .limit(1)
            )
        ).first()

    async def on_site(self, school_id: str) -> list[str]:
        """Who is in the building: on site, or held for screening at the desk."""
        statuses = [VisitStatus.ON_SITE.value, VisitStatus.PENDING_SCREENING.value]
        rows = await self.session.execute(
            select(visits.c.visit_id)
            .where(visits.c.school_id == school_id, visits.c.status.in_(statuses))
            .order_by(visits.c.signed_in_at, visits.c.visit_id)
        )
        return [r.visit_id for r in rows]

    async def add(
        self,
        drill_id: str,
        school_id: str,
        at: datetime,
        by: str,
        visit_ids: Sequence[str],
        closes_at: datetime,
    ) -> None:
        await self.session.execute(
            insert(drills).values(
                drill_id=drill_id,
                school_id=school_id,
                started_at=at,
                started_by=by,
                closes_at=closes_at,
            )
        )
        if visit_ids:
            await self.session.execute(
                insert(drill_visitors), [{"drill_id": drill_id, "visit_id": v} for v in visit_ids]
            )

    async def member(self, drill_id: str, visit_id: str) -> Any | None:
        return (
            await self.session.execute(
                select(drill_visitors).where(
                    drill_visitors.c.drill_id == drill_id, drill_visitors.c.visit_id == visit_id
                )
            )
        ).first()

    async def account(self, drill_id: str, visit_id: str, at: datetime, by: str, how: str) -> bool:
        """False when the visitor was accounted for already (by another desk, or signed out)."""
        result = await self.session.execute(
            update(drill_visitors)
            .where(
                drill_visitors.c.drill_id == drill_id,
                drill_visitors.c.visit_id == visit_id,
                drill_visitors.c.accounted_at.is_(None),
            )
            .values(accounted_at=at, accounted_by=by, how=how)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def counts(self, drill_id: str) -> tuple[int, int]:
        """(accounted for, still unaccounted)."""
        rows = await self.session.execute(
            select(drill_visitors.c.accounted_at.is_not(None), func.count())
            .where(drill_visitors.c.drill_id == drill_id)
            .group_by(drill_visitors.c.accounted_at.is_not(None))
        )
        found = {bool(done): int(n) for done, n in rows}
        return found.get(True, 0), found.get(False, 0)

    async def end(self, drill_id: str, at: datetime, by: str, reason: str) -> bool:
        result = await self.session.execute(
            update(drills)
            .where(drills.c.drill_id == drill_id, drills.c.ended_at.is_(None))
            .values(ended_at=at, ended_by=by, end_reason=reason)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def open_with(self, school_id: str, visit_id: str) -> list[str]:
        """Open drills in which this visitor is still unaccounted for."""
        rows = await self.session.execute(
            select(drills.c.drill_id)
            .join(drill_visitors, drill_visitors.c.drill_id == drills.c.drill_id)
            .where(
                drills.c.school_id == school_id,
                drills.c.ended_at.is_(None),
                drill_visitors.c.visit_id == visit_id,
                drill_visitors.c.accounted_at.is_(None),
            )
        )
        return [r.drill_id for r in rows]

    async def visitors(self, drill_id: str) -> list[Any]:
        stmt = (
            select(
                drill_visitors,
                visits.c.badge_number,
                visits.c.visitor_type,
                visits.c.host_id,
                visits.c.destination_zones,
                visits.c.last_seen_zone,
                visits.c.last_seen_at,
                visits.c.signed_in_at,
                visitor_pii.c.first_name,
                visitor_pii.c.last_name,
            )
            .join(visits, visits.c.visit_id == drill_visitors.c.visit_id)
            .outerjoin(visitor_pii, visitor_pii.c.visit_id == drill_visitors.c.visit_id)
            .where(drill_visitors.c.drill_id == drill_id)
            .order_by(
                drill_visitors.c.accounted_at.is_not(None),
                visits.c.signed_in_at,
                visits.c.visit_id,
            )
        )
        return list((await self.session.execute(stmt)).all())
