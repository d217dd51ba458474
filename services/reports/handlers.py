"""Apply runs of validated events to the read model, inside the consumer's transaction.

Only facts are kept: notes, student references, badge numbers, hosts, purposes and visit ids
are dropped here. Kept for "Needs your attention": who raised a concern (its actor: a device or
a staff person id), an alert's category, zone, acknowledger and last targets, a follow-up's
concern id, where an unaccounted visitor was last seen. One Apply per stream, built by
`by_type`; the rebuild replays through the same functions, so a rebuilt read model equals the
live one.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.alerts import (
    AlertAcknowledged,
    AlertEscalated,
    AlertNotification,
    AlertNotified,
    AlertOpened,
    AlertResolved,
    HeartbeatMissed,
    TargetKind,
)
from lookout.contracts.envelope import Event
from lookout.contracts.patrol import (
    CheckMissed,
    CheckpointScanned,
    CheckRecovered,
    CheckWindowClosed,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    ContactLogged,
    DeviceHeartbeat,
    FollowUpCompleted,
    FollowUpDue,
    FollowUpMissed,
    ObservationLogged,
    PatrolFocusPublished,
    SensorCheckAssigned,
    SensorCheckDone,
    SensorCheckMissed,
    UnannouncedCheckScheduled,
    WindowOutcome,
)
from lookout.contracts.visitors import (
    DrillEnded,
    DrillStarted,
    ScreeningFlagged,
    VisitorAccountedFor,
    VisitorCheckedIn,
    VisitorCheckedOut,
    VisitorOutOfBounds,
    VisitorOverdue,
    VisitorSighted,
    VisitorUnaccounted,
)
from lookout.school.config import Role, SchoolConfig
from services.reports.store import (
    alerts,
    concerns,
    focus,
    patrol_facts,
    sensor_checks,
    visitor_facts,
    windows,
)

Refusals = dict[uuid.UUID, str]
Handler = Callable[[AsyncSession, Sequence[Event]], Awaitable[Refusals]]


def by_handler(handlers: Mapping[type[Event], Handler], ignore: Sequence[type[Event]] = ()) -> Any:
    """Like the kernel's `by_type`, but one call per handler per batch with its events in
    stream order. The handlers write disjoint tables (and each folds its own events in order),
    so a batch of interleaved scans and windows costs two statements, not one per run."""
    ignored = tuple(ignore)

    async def apply(session: AsyncSession, events: Sequence[Event]) -> Refusals:
        groups: dict[Handler, list[Event]] = {}
        rejected: Refusals = {}
        for e in events:
            handler = handlers.get(type(e))
            if handler is not None:
                groups.setdefault(handler, []).append(e)
            elif not isinstance(e, ignored):
                rejected[e.event_id] = f"{e.type} is not consumed by this service"
        for handler, group in groups.items():
            rejected.update(await handler(session, group))
        return rejected

    return apply


PRINCIPAL = Role.PRINCIPAL.value


class ReportHandlers:
    """The read model's writers, one per kind of event."""

    def __init__(self, schools: Mapping[str, SchoolConfig]) -> None:
        self.schools = schools
        self._periods: dict[tuple[str, date], list[tuple[datetime, datetime, str]]] = {}
        self.apply_patrol = by_handler(
            {
                CheckpointScanned: self.patrol_facts,
                ObservationLogged: self.patrol_facts,
                ContactLogged: self.patrol_facts,
                FollowUpMissed: self.patrol_facts,
                FollowUpCompleted: self.patrol_facts,
                CheckWindowClosed: self.windows,
                CheckRecovered: self.windows,
                PatrolFocusPublished: self.focus,
                SensorCheckAssigned: self.sensor_checks,
                SensorCheckMissed: self.sensor_checks,
                SensorCheckDone: self.sensor_checks,
            },
            # CheckMissed duplicates a missed CheckWindowClosed; the rest are not summarised.
            ignore=[
                CheckMissed,
                DeviceHeartbeat,
                FollowUpDue,
                UnannouncedCheckScheduled,
            ],
        )
        self.apply_concerns = by_handler(
            {
                ConcernRaised: self.concerns,
                ConcernUpdated: self.concerns,
                ConcernResolved: self.concerns,
            }
        )
        self.apply_visitors = by_handler(
            {
                VisitorCheckedIn: self.visitor_facts,
                ScreeningFlagged: self.visitor_facts,
                VisitorOverdue: self.visitor_facts,
                VisitorOutOfBounds: self.visitor_facts,
                VisitorUnaccounted: self.visitor_facts,
            },
            # Evacuation drills are the front desk's; the weekly summary does not count them.
            ignore=[
                VisitorCheckedOut,
                VisitorSighted,
                DrillStarted,
                VisitorAccountedFor,
                DrillEnded,
            ],
        )
        self.apply_alerts = by_handler(
            {
                AlertOpened: self.alerts,
                AlertEscalated: self.alerts,
                AlertAcknowledged: self.alerts,
                AlertResolved: self.alerts,
            },
            ignore=[AlertNotified, AlertNotification, HeartbeatMissed],
        )
        self.by_stream = {
            "PATROL": self.apply_patrol,
            "CONCERNS": self.apply_concerns,
            "VISITORS": self.apply_visitors,
            "ALERTS": self.apply_alerts,
        }

    async def day_type_changed(
        self, session: AsyncSession, school: SchoolConfig, day: date
    ) -> None:
        """A confirmed or withdrawn day type: that day's bell periods are read again."""
        self._periods.pop((school.id, day), None)

    def _period(self, school_id: str, at: datetime) -> str | None:
        """The bell period of a moment, from a per-day table of UTC bounds (hot path)."""
        school = self.schools[school_id]
        day = at.astimezone(school.tz).date()
        key = (school_id, day)
        bounds = self._periods.get(key)
        if bounds is None:
            bounds = []
            if school.is_school_day(day):
                for p in school.periods_on(day):
                    start = datetime.combine(day, p.start, tzinfo=school.tz).astimezone(UTC)
                    end = datetime.combine(day, p.end, tzinfo=school.tz).astimezone(UTC)
                    bounds.append((start, end, p.name))
            if len(self._periods) > 4096:
                self._periods.clear()
            self._periods[key] = bounds
        for start, end, name in bounds:
            if start <= at < end:
                return name
        return None

    async def patrol_facts(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        rows = []
        for e in events:
            zone = getattr(e, "zone_id", None)
            category: Any = None
            concern: str | None = None
            if isinstance(e, CheckpointScanned):
                kind = "scan"
            elif isinstance(e, ObservationLogged):
                kind, category = "observation", e.category.value
            elif isinstance(e, ContactLogged):
                kind, category = "contact", e.kind.value
            elif isinstance(e, FollowUpCompleted):
                kind, concern = "follow_up_completed", str(e.concern_id)
            else:
                assert isinstance(e, FollowUpMissed)
                kind, category, concern = "follow_up_missed", e.category.value, str(e.concern_id)
            rows.append(
                {
                    "event_id": str(e.event_id),
                    "school_id": e.school_id,
                    "kind": kind,
                    "category": category,
                    "zone_id": zone,
                    "period": self._period(e.school_id, e.occurred_at),
                    "at": e.occurred_at,
                    "concern_id": concern,
                }
            )
        await session.execute(insert(patrol_facts), rows)
        return {}

    async def windows(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        """Closed windows are stored; a recovery (a scan delivered after the deadline) turns
        its missed window into checked or late. A recovery always follows its window's closing
        in the stream, and a window closes once, so closings are written before recoveries;
        a recovery applied twice finds the window no longer missed and changes nothing."""
        rows = [
            {
                "event_id": str(e.event_id),
                "school_id": e.school_id,
                "zone_id": e.zone_id,
                "period": e.period or self._period(e.school_id, e.window_start),
                "outcome": e.outcome.value,
                "unannounced": e.unannounced,
                "window_start": e.window_start,
                "window_end": e.window_end,
            }
            for e in events
            if isinstance(e, CheckWindowClosed)
        ]
        if rows:
            await session.execute(insert(windows), rows)
        w = windows.c
        for e in events:
            if isinstance(e, CheckRecovered):
                await session.execute(
                    update(windows)
                    .where(
                        w.school_id == e.school_id,
                        w.zone_id == e.zone_id,
                        w.window_start == e.window_start,
                        w.window_end == e.window_end,
                        w.unannounced == e.unannounced,
                        w.outcome == WindowOutcome.MISSED.value,
                    )
                    .values(outcome=e.outcome.value)
                )
        return {}

    async def focus(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        for e in events:
            assert isinstance(e, PatrolFocusPublished)
            key = (focus.c.school_id == e.school_id) & (focus.c.week == e.week)
            items = [i.model_dump(mode="json") for i in e.items]
            if await session.scalar(select(focus.c.week).where(key)) is None:
                await session.execute(
                    insert(focus).values(
                        school_id=e.school_id, week=e.week, items=items, published_at=e.occurred_at
                    )
                )
            else:  # a later publication of the same week replaces the earlier one
                await session.execute(
                    update(focus).where(key).values(items=items, published_at=e.occurred_at)
                )
        return {}

    async def sensor_checks(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        """Fold a sensor alert's zone check into one row: asked (its deadline), missed, done
        (when the zone was scanned, the response time, in time or not). Each event carries the
        alert's kind, zone and time, so whichever comes first makes the row; the first `done`
        stands."""
        ids = list({str(e.sensor_event_id) for e in events})  # type: ignore[attr-defined]
        t = sensor_checks
        existing = {
            r.sensor_event_id: dict(r._mapping)
            for r in await session.execute(select(t).where(t.c.sensor_event_id.in_(ids)))
        }
        rows: dict[str, dict[str, Any]] = {}
        refused: Refusals = {}
        for e in events:
            assert isinstance(e, SensorCheckAssigned | SensorCheckMissed | SensorCheckDone)
            sid = str(e.sensor_event_id)
            row = rows.get(sid) or existing.get(sid)
            if row is not None and row["school_id"] != e.school_id:
                refused[e.event_id] = "sensor_event_id: belongs to another school"
                continue
            if row is None:
                row = {c.name: None for c in t.columns}
                row |= {
                    "sensor_event_id": sid,
                    "school_id": e.school_id,
                    "zone_id": e.zone_id,
                    "kind": e.sensor_kind,
                    "raised_at": e.raised_at,
                    "missed": False,
                }
            row = dict(row)
            if isinstance(e, SensorCheckAssigned | SensorCheckMissed):
                row["check_by"] = e.check_by
            if isinstance(e, SensorCheckMissed):
                row["missed"] = True
            elif isinstance(e, SensorCheckDone) and row["checked_at"] is None:
                row |= {
                    "checked_at": e.checked_at,
                    "response_seconds": e.response_seconds,
                    "in_time": e.in_time,
                }
            rows[sid] = row
        await _upsert(session, t, t.c.sensor_event_id, rows, existing)
        return refused

    async def concerns(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        """Fold raised/updated/resolved into one row per concern (stream order holds)."""
        ids = list({str(e.concern_id) for e in events})  # type: ignore[attr-defined]
        existing = {
            r.concern_id: dict(r._mapping)
            for r in await session.execute(select(concerns).where(concerns.c.concern_id.in_(ids)))
        }
        rows: dict[str, dict[str, Any]] = {}
        refused: Refusals = {}
        for e in events:
            cid = str(e.concern_id)  # type: ignore[attr-defined]
            row = rows.get(cid) or existing.get(cid)
            if row is not None and row["school_id"] != e.school_id:
                # A concern id belongs to its school (patrol refuses the same events).
                refused[e.event_id] = "concern_id: belongs to another school"
                continue
            if row is not None and row["raised_at"] is not None and isinstance(e, ConcernRaised):
                refused[e.event_id] = "concern_id: already raised"  # as patrol and alerts
                continue
            if row is None:
                row = {c.name: None for c in concerns.columns}
                row |= {"concern_id": cid, "school_id": e.school_id}
            row = dict(row)
            if isinstance(e, ConcernRaised):
                row |= {
                    "category": e.category.value,
                    "severity": e.severity.value,
                    "zone_id": e.zone_id,
                    "period": self._period(e.school_id, e.occurred_at),
                    "raised_at": e.occurred_at,
                    "raised_event_id": str(e.event_id),
                    "raised_by": f"{e.actor.kind.value}:{e.actor.id}",
                }
            elif isinstance(e, ConcernUpdated):
                if e.severity is not None:
                    row["severity"] = e.severity.value
                if e.zone_id is not None:
                    row["zone_id"] = e.zone_id
            elif isinstance(e, ConcernResolved):
                row |= {"resolved_at": e.occurred_at, "outcome": e.outcome.value}
            rows[cid] = row
        await _upsert(session, concerns, concerns.c.concern_id, rows, existing)
        return refused

    async def alerts(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        """Fold an alert's events into one row: opened, highest step, principal reached, first
        acknowledgement, resolution."""
        ids = list({str(e.alert_id) for e in events})  # type: ignore[attr-defined]
        existing = {
            r.alert_id: dict(r._mapping)
            for r in await session.execute(select(alerts).where(alerts.c.alert_id.in_(ids)))
        }
        rows: dict[str, dict[str, Any]] = {}
        for e in events:
            aid = str(e.alert_id)  # type: ignore[attr-defined]
            row = rows.get(aid) or existing.get(aid)
            if row is None:
                row = {c.name: None for c in alerts.columns}
                row |= {"alert_id": aid, "school_id": e.school_id, "reached_principal": False}
            row = dict(row)
            if isinstance(e, AlertOpened):
                row |= {
                    "source": e.source.value,
                    "severity": e.severity.value,
                    "opened_at": e.occurred_at,
                    "category": e.category or e.source.value,
                    "zone_id": e.zone_id,
                    "source_event_id": str(e.source_event_id),
                }
            elif isinstance(e, AlertEscalated):
                if row["max_step"] is None or e.step >= row["max_step"]:
                    row["targets"] = [f"{t.kind.value}:{t.id}" for t in e.targets]
                row["max_step"] = max(
                    e.step, row["max_step"] if row["max_step"] is not None else -1
                )
                if self._reaches_principal(e):
                    row["reached_principal"] = True
            elif isinstance(e, AlertAcknowledged):
                if row["acknowledged_at"] is None:
                    row["acknowledged_at"] = e.occurred_at
                    row["acknowledged_by"] = e.by_person_id
            elif isinstance(e, AlertResolved):
                row["resolved_at"] = e.occurred_at
            rows[aid] = row
        await _upsert(session, alerts, alerts.c.alert_id, rows, existing)
        return {}

    def _reaches_principal(self, e: AlertEscalated) -> bool:
        school = self.schools[e.school_id]
        principals = {p.id for p in school.people if Role.PRINCIPAL in p.roles}
        return any(
            (t.kind == TargetKind.ROLE and t.id == PRINCIPAL)
            or (t.kind == TargetKind.PERSON and t.id in principals)
            for t in e.targets
        )

    async def visitor_facts(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        rows = []
        for e in events:
            detail: str | None = None
            zone: str | None = None
            if isinstance(e, VisitorCheckedIn):
                kind, detail = "checked_in", e.visitor_type.value
            elif isinstance(e, ScreeningFlagged):
                kind, detail = "screening_flagged", e.decision.value
            elif isinstance(e, VisitorOverdue):
                kind = "overdue"
            elif isinstance(e, VisitorUnaccounted):
                kind, zone = "unaccounted", e.last_seen_zone
            else:
                kind, zone = "out_of_bounds", getattr(e, "zone_id", None)
            rows.append(
                {
                    "event_id": str(e.event_id),
                    "school_id": e.school_id,
                    "kind": kind,
                    "detail": detail,
                    "zone_id": zone,
                    "at": e.occurred_at,
                }
            )
        await session.execute(insert(visitor_facts), rows)
        return {}


async def _upsert(
    session: AsyncSession,
    table: Any,
    key: Any,
    rows: dict[str, dict[str, Any]],
    existing: Mapping[str, Any],
) -> None:
    columns = {c.name for c in table.columns}
    fresh = [
        {k: v for k, v in r.items() if k in columns} for i, r in rows.items() if i not in existing
    ]
    if fresh:
        await session.execute(insert(table), fresh)
    for i, r in rows.items():
        if i in existing:
            values = {k: v for k, v in r.items() if k in columns and k != key.name}
            await session.execute(update(table).where(key == i).values(**values))
