"""Reads behind the patrol queries: SQLAlchemy Core over the patrol store, portable between
SQLite and PostgreSQL, inside the caller's session. The access log and the once-per-week focus
marker are the only writes."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.patrol import ContactKind, Severity
from services.patrol.domain import ConcernStatus
from services.patrol.planning import ConcernFact, ObservationFact, ScanFact
from services.patrol.store import (
    access_log,
    alert_outcomes,
    alert_pages,
    check_windows,
    checkpoint_scans,
    concern_timeline,
    concerns,
    contacts,
    devices,
    follow_ups,
    observations,
    published_focus,
    sensor_checks,
)

SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


async def open_concerns(
    *,
    session: AsyncSession,
    school_id: str,
    zone_id: str | None,
    min_severity: Severity,
    limit: int,
) -> tuple[list[Any], int]:
    """Open concerns at or above a severity (most severe, then oldest first) and their total."""
    wanted = [s.value for s in Severity if SEVERITY_RANK[s] >= SEVERITY_RANK[min_severity]]
    where = [
        concerns.c.school_id == school_id,
        concerns.c.status == ConcernStatus.OPEN.value,
        concerns.c.severity.in_(wanted),
    ]
    if zone_id is not None:
        where.append(concerns.c.zone_id == zone_id)
    rank = case({s.value: r for s, r in SEVERITY_RANK.items()}, value=concerns.c.severity)
    rows = await session.execute(
        select(concerns)
        .where(*where)
        .order_by(rank.desc(), concerns.c.raised_at, concerns.c.concern_id)
        .limit(limit)
    )
    total = await session.execute(select(func.count()).select_from(concerns).where(*where))
    return list(rows.all()), int(total.scalar_one())


async def open_concerns_raised_by(
    *, session: AsyncSession, school_id: str, actor_ids: Collection[str], limit: int
) -> tuple[list[Any], int]:
    """Open concerns raised under these ids (an officer and their phones), most severe then
    oldest first, and their total. Only the facts: no student references, no notes."""
    where = [
        concerns.c.school_id == school_id,
        concerns.c.status == ConcernStatus.OPEN.value,
        concerns.c.raised_by.in_(sorted(actor_ids)),
    ]
    rank = case({s.value: r for s, r in SEVERITY_RANK.items()}, value=concerns.c.severity)
    # The alert each raised, found by the raise's event id (loop closure); a concern raises at
    # most one (a second raise of its id is refused everywhere).
    raised = concern_timeline.alias("raised")
    rows = await session.execute(
        select(
            concerns.c.concern_id,
            concerns.c.category,
            concerns.c.severity,
            concerns.c.zone_id,
            concerns.c.raised_at,
            alert_outcomes.c.alert_id,
            alert_outcomes.c.state.label("alert_state"),
            alert_outcomes.c.by_person_id.label("alert_by"),
            alert_outcomes.c.at.label("alert_at"),
        )
        .select_from(
            concerns.outerjoin(
                raised,
                and_(raised.c.concern_id == concerns.c.concern_id, raised.c.kind == "raised"),
            ).outerjoin(
                alert_outcomes,
                and_(
                    alert_outcomes.c.source_event_id == raised.c.event_id,
                    alert_outcomes.c.school_id == concerns.c.school_id,
                    alert_outcomes.c.source == "concern",
                ),
            )
        )
        .where(*where)
        .order_by(rank.desc(), concerns.c.raised_at, concerns.c.concern_id)
        .limit(limit)
    )
    total = await session.execute(select(func.count()).select_from(concerns).where(*where))
    return list(rows.all()), int(total.scalar_one())


async def alerts_paged_to(
    *,
    session: AsyncSession,
    school_id: str,
    person_id: str,
    not_raised_by: Collection[str],
    since: datetime,
) -> list[Any]:
    """Alerts this person was paged for that are still open or acknowledged, or were paged or
    settled since `since`: unresolved first (open before acknowledged), then the latest page
    first. An alert of a concern raised under `not_raised_by` (the officer and their phones)
    is left out: the officer's own concerns already say what became of their alerts."""
    o, p = alert_outcomes.c, alert_pages.c
    raised = concern_timeline.alias("raised")
    settled_rank = case({"open": 0, "acknowledged": 1}, value=o.state, else_=2)
    rows = await session.execute(
        select(
            o.alert_id,
            o.source,
            o.severity,
            o.zone_id,
            o.category,
            o.opened_at,
            o.state,
            o.by_person_id,
            o.at,
            p.paged_at,
            concerns.c.raised_by,
        )
        .select_from(
            alert_pages.join(alert_outcomes, o.alert_id == p.alert_id)
            .outerjoin(
                raised,
                and_(
                    o.source == "concern",
                    raised.c.event_id == o.source_event_id,
                    raised.c.kind == "raised",
                ),
            )
            .outerjoin(concerns, concerns.c.concern_id == raised.c.concern_id)
        )
        .where(
            p.school_id == school_id,
            p.person_id == person_id,
            o.school_id == school_id,
            or_(o.state != "resolved", p.paged_at >= since, o.at >= since),
            or_(concerns.c.raised_by.is_(None), concerns.c.raised_by.not_in(sorted(not_raised_by))),
        )
        .order_by(settled_rank, p.paged_at.desc(), o.alert_id)
    )
    return list(rows.all())


async def unchecked_sensor_alerts(*, session: AsyncSession, school_id: str) -> list[Any]:
    """Sensor alerts whose zone nobody has scanned since (open or past their deadline), oldest
    first."""
    t = sensor_checks.c
    rows = await session.execute(
        select(sensor_checks)
        .where(t.school_id == school_id, t.status.in_(["open", "missed"]))
        .order_by(t.raised_at, t.sensor_event_id)
    )
    return list(rows.all())


async def sensor_checks_raised(
    *, session: AsyncSession, school_id: str, start: datetime, end: datetime
) -> list[Any]:
    """Sensor checks of alerts raised in [start, end), oldest first."""
    t = sensor_checks.c
    rows = await session.execute(
        select(t.kind, t.raised_at, t.check_by, t.checked_at)
        .where(t.school_id == school_id, t.raised_at >= start, t.raised_at < end)
        .order_by(t.raised_at, t.sensor_event_id)
    )
    return list(rows.all())


async def windows_of_day(
    *, session: AsyncSession, school_id: str, start: datetime, end: datetime, now: datetime
) -> list[Any]:
    """Windows starting in [start, end) whose deadline is still ahead at `now` (planned and
    unannounced; open, checked or late), soonest first."""
    t = check_windows.c
    rows = await session.execute(
        select(check_windows)
        .where(
            t.school_id == school_id,
            t.window_start >= start,
            t.window_start < end,
            t.deadline_at >= now,
            t.status.in_(["open", "checked", "late"]),
        )
        .order_by(t.window_start, t.id)
    )
    return list(rows.all())


async def follow_ups_due(
    *,
    session: AsyncSession,
    school_id: str,
    officer_ids: Collection[str],
    now: datetime,
    missed_since: datetime,
) -> list[Any]:
    """Re-checks addressed to these ids that are due at `now` (reminded, or due and not yet
    reminded) or were missed with a deadline after `missed_since`; earliest deadline first."""
    f = follow_ups.c
    rows = await session.execute(
        select(follow_ups)
        .where(
            f.school_id == school_id,
            f.officer_id.in_(sorted(officer_ids)),
            or_(
                and_(f.status.in_(["scheduled", "reminded"]), f.remind_at <= now),
                and_(f.status == "missed", f.deadline_at >= missed_since),
            ),
        )
        .order_by(f.deadline_at, f.concern_id)
    )
    return list(rows.all())


async def missed_windows(
    *, session: AsyncSession, school_id: str, start: datetime, end: datetime
) -> list[Any]:
    """Windows starting in [start, end) that are missed (not checked, not recovered), oldest
    first."""
    t = check_windows.c
    rows = await session.execute(
        select(check_windows)
        .where(
            t.school_id == school_id,
            t.window_start >= start,
            t.window_start < end,
            t.status == "missed",
        )
        .order_by(t.window_start, t.id)
    )
    return list(rows.all())


async def missed_follow_ups(*, session: AsyncSession, school_id: str, since: datetime) -> list[Any]:
    """The school's re-checks missed with a deadline after `since`, oldest deadline first."""
    f = follow_ups.c
    rows = await session.execute(
        select(follow_ups)
        .where(f.school_id == school_id, f.status == "missed", f.deadline_at >= since)
        .order_by(f.deadline_at, f.concern_id)
    )
    return list(rows.all())


async def record_access(
    *,
    session: AsyncSession,
    school_id: str,
    requested_by: str,
    query: str,
    subject_ids: dict[str, list[str]],
    at: datetime,
) -> None:
    """Write one access-log row: who read which student-level records through which query."""
    await session.execute(
        access_log.insert().values(
            school_id=school_id,
            requested_by=requested_by,
            query=query,
            subject_ids=subject_ids,
            at=at,
        )
    )


async def device_officers(*, session: AsyncSession, school_id: str) -> dict[str, str]:
    """Device id → the officer it last reported (from heartbeats)."""
    rows = await session.execute(
        select(devices.c.device_id, devices.c.officer_id).where(devices.c.school_id == school_id)
    )
    return {r.device_id: r.officer_id for r in rows}


async def actor_ids_of(*, session: AsyncSession, school_id: str, officer_id: str) -> set[str]:
    """The ids an officer's facts are recorded under: their own and their devices'."""
    mapping = await device_officers(session=session, school_id=school_id)
    return {officer_id} | {device for device, officer in mapping.items() if officer == officer_id}


async def last_scans(*, session: AsyncSession, school_id: str) -> dict[str, Any]:
    """The latest scan of each zone."""
    latest = (
        select(
            checkpoint_scans.c.zone_id,
            func.max(checkpoint_scans.c.scanned_at).label("at"),
        )
        .where(checkpoint_scans.c.school_id == school_id)
        .group_by(checkpoint_scans.c.zone_id)
        .subquery()
    )
    rows = await session.execute(
        select(checkpoint_scans)
        .join(
            latest,
            and_(
                checkpoint_scans.c.zone_id == latest.c.zone_id,
                checkpoint_scans.c.scanned_at == latest.c.at,
            ),
        )
        .where(checkpoint_scans.c.school_id == school_id)
        .order_by(checkpoint_scans.c.event_id)
    )
    found: dict[str, Any] = {}
    for row in rows:
        found.setdefault(row.zone_id, row)
    return found


async def next_windows(*, session: AsyncSession, school_id: str, now: datetime) -> dict[str, Any]:
    """Each zone's earliest planned (not unannounced) window still open at `now`."""
    rows = await session.execute(
        select(check_windows)
        .where(
            check_windows.c.school_id == school_id,
            check_windows.c.status == "open",
            check_windows.c.unannounced.is_(False),
            check_windows.c.deadline_at >= now,
        )
        .order_by(check_windows.c.zone_id, check_windows.c.window_start, check_windows.c.id)
    )
    found: dict[str, Any] = {}
    for row in rows:
        found.setdefault(row.zone_id, row)
    return found


async def window_outcomes(
    *,
    session: AsyncSession,
    school_id: str,
    start: datetime,
    end: datetime,
    actor_ids: Collection[str],
) -> dict[str, int]:
    """Windows ending in [start, end): checked and late by these actors' scans, and missed."""
    scanned_by = (
        select(checkpoint_scans.c.event_id)
        .where(checkpoint_scans.c.officer_id.in_(list(actor_ids)))
        .scalar_subquery()
    )
    in_range = [
        check_windows.c.school_id == school_id,
        check_windows.c.window_end >= start,
        check_windows.c.window_end < end,
    ]
    mine = await session.execute(
        select(check_windows.c.status, func.count())
        .where(
            *in_range,
            check_windows.c.status.in_(["checked", "late"]),
            check_windows.c.scan_event_id.in_(scanned_by),
        )
        .group_by(check_windows.c.status)
    )
    counts = {"checked": 0, "late": 0, "missed": 0}
    counts.update({status: int(n) for status, n in mine.all()})
    missed = await session.execute(
        select(func.count())
        .select_from(check_windows)
        .where(*in_range, check_windows.c.status == "missed")
    )
    counts["missed"] = int(missed.scalar_one())
    return counts


async def count_scans(
    *,
    session: AsyncSession,
    school_id: str,
    start: datetime,
    end: datetime,
    actor_ids: Collection[str],
) -> int:
    """Scans by these actors in [start, end)."""
    result = await session.execute(
        select(func.count())
        .select_from(checkpoint_scans)
        .where(
            checkpoint_scans.c.school_id == school_id,
            checkpoint_scans.c.officer_id.in_(list(actor_ids)),
            checkpoint_scans.c.scanned_at >= start,
            checkpoint_scans.c.scanned_at < end,
        )
    )
    return int(result.scalar_one())


async def contacts_by_kind(
    *,
    session: AsyncSession,
    school_id: str,
    start: datetime,
    end: datetime,
    actor_ids: Collection[str],
) -> dict[ContactKind, int]:
    """Contacts logged by these actors in [start, end), every kind present (0 when none)."""
    rows = await session.execute(
        select(contacts.c.kind, func.count())
        .where(
            contacts.c.school_id == school_id,
            contacts.c.officer_id.in_(list(actor_ids)),
            contacts.c.contacted_at >= start,
            contacts.c.contacted_at < end,
        )
        .group_by(contacts.c.kind)
    )
    counts = dict.fromkeys(ContactKind, 0)
    counts.update({ContactKind(kind): int(n) for kind, n in rows.all()})
    return counts


async def concern_activity(
    *,
    session: AsyncSession,
    school_id: str,
    start: datetime,
    end: datetime,
    actor_ids: Collection[str],
) -> tuple[int, int]:
    """Concerns raised and resolved by these actors in [start, end)."""
    ids = list(actor_ids)
    raised = await session.execute(
        select(func.count())
        .select_from(concerns)
        .where(
            concerns.c.school_id == school_id,
            concerns.c.raised_by.in_(ids),
            concerns.c.raised_at >= start,
            concerns.c.raised_at < end,
        )
    )
    resolved = await session.execute(
        select(func.count())
        .select_from(concern_timeline.join(concerns))
        .where(
            concerns.c.school_id == school_id,
            concern_timeline.c.kind == "resolved",
            concern_timeline.c.actor_id.in_(ids),
            concern_timeline.c.at >= start,
            concern_timeline.c.at < end,
        )
    )
    return int(raised.scalar_one()), int(resolved.scalar_one())


async def scans_between(
    *, session: AsyncSession, school_id: str, start: datetime, end: datetime
) -> list[ScanFact]:
    """Scans in [start, end), attributed to the officer behind the device where known."""
    officer_of = await device_officers(session=session, school_id=school_id)
    rows = await session.execute(
        select(
            checkpoint_scans.c.zone_id,
            checkpoint_scans.c.checkpoint_tag,
            checkpoint_scans.c.officer_id,
            checkpoint_scans.c.scanned_at,
        )
        .where(
            checkpoint_scans.c.school_id == school_id,
            checkpoint_scans.c.scanned_at >= start,
            checkpoint_scans.c.scanned_at < end,
        )
        .order_by(checkpoint_scans.c.scanned_at, checkpoint_scans.c.event_id)
    )
    return [
        ScanFact(
            r.zone_id, r.checkpoint_tag, officer_of.get(r.officer_id, r.officer_id), r.scanned_at
        )
        for r in rows
    ]


async def concerns_between(
    *, session: AsyncSession, school_id: str, start: datetime, end: datetime
) -> list[ConcernFact]:
    """Concerns raised in [start, end), with their current zone, category and severity."""
    rows = await session.execute(
        select(concerns.c.zone_id, concerns.c.category, concerns.c.severity, concerns.c.raised_at)
        .where(
            concerns.c.school_id == school_id,
            concerns.c.raised_at >= start,
            concerns.c.raised_at < end,
        )
        .order_by(concerns.c.raised_at, concerns.c.concern_id)
    )
    return [ConcernFact(r.zone_id, r.category, r.severity, r.raised_at) for r in rows]


async def observations_between(
    *, session: AsyncSession, school_id: str, start: datetime, end: datetime
) -> list[ObservationFact]:
    """Observations logged in [start, end)."""
    rows = await session.execute(
        select(observations.c.zone_id, observations.c.category, observations.c.observed_at)
        .where(
            observations.c.school_id == school_id,
            observations.c.observed_at >= start,
            observations.c.observed_at < end,
        )
        .order_by(observations.c.observed_at, observations.c.event_id)
    )
    return [ObservationFact(r.zone_id, r.category, r.observed_at) for r in rows]


async def focus_published(*, session: AsyncSession, school_id: str, week: str) -> bool:
    """Whether the focus for this school and week was already published."""
    row = await session.execute(
        select(published_focus.c.week).where(
            published_focus.c.school_id == school_id, published_focus.c.week == week
        )
    )
    return row.first() is not None


async def claim_focus_week(
    *, session: AsyncSession, school_id: str, week: str, at: datetime
) -> bool:
    """Insert the week's publication marker once; True only for the transaction that inserted
    it (a concurrent replica's insert waits on the key, then does nothing)."""
    bind = session.bind
    dialect = bind.dialect.name if bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await session.execute(
        insert(published_focus)
        .values(school_id=school_id, week=week, published_at=at)
        .on_conflict_do_nothing(index_elements=["school_id", "week"])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
