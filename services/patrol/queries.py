"""Patrol queries over NATS request-reply (`query.<school>.patrol.<name>`), and the weekly
patrol-focus publisher (a timer module).

Every request gets a reply: the result, or an error naming the field or the unknown school or
zone — never a timeout. Answers with student references are written to the access log in the
same transaction as the read.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from faststream import Context
from faststream.nats import NatsRouter
from faststream.nats.message import NatsMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.alerts import AlertSource
from lookout.contracts.envelope import Actor, ActorKind
from lookout.contracts.patrol import (
    ConcernCategory,
    FocusItem,
    ObservationCategory,
    PatrolFocusPublished,
    Severity,
)
from lookout.contracts.patrol_queries import (
    DETERRENCE,
    FOCUS,
    HOTSPOTS,
    MISSED,
    OPEN_CONCERNS,
    SENSOR_CHECKS,
    SHIFT_SUMMARY,
    TODAY,
    TOUR_STATS,
    ZONE_STATUS,
    AreaHotspot,
    AreaStatus,
    AreaTourStats,
    ConcernAlert,
    ConcernAlertState,
    DeterrenceReply,
    DeterrenceRequest,
    DueWindow,
    FocusReply,
    FocusRequest,
    Gaps,
    Hotspot,
    HotspotsReply,
    HotspotsRequest,
    MissedFollowUp,
    MissedReply,
    MissedRequest,
    MissedWindow,
    OfficerTourStats,
    OpenConcern,
    OpenConcernsReply,
    OpenConcernsRequest,
    PaddingFlag,
    PatrolQuery,
    SensorChecksReply,
    SensorChecksRequest,
    SensorKindToday,
    ShiftSummaryReply,
    ShiftSummaryRequest,
    TodayConcern,
    TodayFollowUp,
    TodayPagedAlert,
    TodayReply,
    TodayRequest,
    TodaySensorCheck,
    TodayUnannounced,
    TodayWindow,
    TourStatsReply,
    TourStatsRequest,
    ZoneDeterrence,
    ZoneStatus,
    ZoneStatusReply,
    ZoneStatusRequest,
    ZoneTourStats,
)
from lookout.kernel.clock import Clock
from lookout.kernel.queries import ErrorReply, Refused, answer, request_school, request_subscriber
from lookout.kernel.service import ServiceKernel
from lookout.kernel.storage import Outbox
from lookout.school import sensor_response
from lookout.school.config import Role, SchoolConfig
from services.patrol import planning, reads, sensor_rules
from services.patrol.plan_query import DAY_TYPES_QUERY, PLAN_QUERY, DayTypesQuery, plan_windows
from services.patrol.store import SERVICE

log = logging.getLogger("lookout.patrol.queries")

Handler = Callable[[SchoolConfig, Any], Awaitable[Any]]
DEFAULT_WEEKS = 4
MAX_PADDING_FLAGS = 500
FOCUS_NAMESPACE = uuid.UUID("5a0c6c0e-5d1f-4bd8-9a8e-3f5b2a4c7d10")
# A missed re-check stays on the officer's Today screen this long (it can still be done late,
# which resolves its alert); by then the alert has taken it to the people above the SSO.
MISSED_FOLLOW_UPS_SHOWN = timedelta(days=7)


def register_queries(router: NatsRouter, kernel: ServiceKernel) -> None:
    """Add a request subscriber for every patrol query to `router`."""
    queries = PatrolQueries(kernel.sessions, kernel.clock, kernel.schools)
    table: list[tuple[PatrolQuery, Handler]] = [
        (OPEN_CONCERNS, queries.open_concerns),
        (ZONE_STATUS, queries.zone_status),
        (SHIFT_SUMMARY, queries.shift_summary),
        (TOUR_STATS, queries.tour_stats),
        (HOTSPOTS, queries.hotspots),
        (FOCUS, queries.focus),
        (DETERRENCE, queries.deterrence),
        (TODAY, queries.today),
        (MISSED, queries.missed),
        (PLAN_QUERY, plan_windows),
        (DAY_TYPES_QUERY, DayTypesQuery(kernel.sessions, kernel.clock).answer),
        (SENSOR_CHECKS, queries.sensor_checks),
    ]
    for query, handle in table:
        _subscribe(router, kernel.schools, query, handle)


def _subscribe(
    router: NatsRouter, schools: Mapping[str, SchoolConfig], query: PatrolQuery, handle: Handler
) -> None:
    async def on_request(body: Any, message: NatsMessage = Context("message")) -> dict[str, Any]:
        # `query.<school>.patrol.<name>.<person>`: `answer` sets `requested_by` from the last
        # token (the server confines each user to its own id), so the access log names who asked.
        subject = message.raw_message.subject
        school_id = request_school(subject)
        school = schools.get(school_id)
        if school is None:
            return ErrorReply(error="school: not a school of this deployment").model_dump()

        async def run(request: Any) -> Any:
            return await handle(school, request)

        return await answer(body if isinstance(body, bytes) else b"", query.request, run, subject)

    on_request.__name__ = f"query_{query.name}"
    router.subscriber(**request_subscriber(query.wildcard, SERVICE), description=query.description)(
        on_request
    )


class PatrolQueries:
    """The query handlers: validated request in, reply model out (Refused for bad ids)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        schools: Mapping[str, SchoolConfig],
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.schools = schools

    def _today(self, school: SchoolConfig) -> date:
        return self.clock.now().astimezone(school.tz).date()

    def _range(
        self, school: SchoolConfig, req: TourStatsRequest | DeterrenceRequest
    ) -> tuple[date, date]:
        """The requested days; by default the 4 weeks ending today (or starting at date_from)."""
        last = req.date_to or (
            req.date_from + timedelta(days=7 * DEFAULT_WEEKS - 1)
            if req.date_from
            else self._today(school)
        )
        first = req.date_from or last - timedelta(days=7 * DEFAULT_WEEKS - 1)
        return first, last

    async def open_concerns(
        self, school: SchoolConfig, req: OpenConcernsRequest
    ) -> OpenConcernsReply:
        _check_zone(school, req.zone_id)
        async with self.sessions.begin() as session:
            rows, total = await reads.open_concerns(
                session=session,
                school_id=school.id,
                zone_id=req.zone_id,
                min_severity=req.min_severity,
                limit=req.limit,
            )
            items = [
                OpenConcern(
                    concern_id=uuid.UUID(r.concern_id),
                    category=ConcernCategory(r.category),
                    severity=Severity(r.severity),
                    zone_id=r.zone_id,
                    student_refs=list(r.student_refs),
                    raised_by_kind=ActorKind(r.raised_by_kind),
                    raised_by=r.raised_by,
                    raised_at=r.raised_at,
                    updated_at=r.updated_at,
                )
                for r in rows
            ]
            await reads.record_access(
                session=session,
                school_id=school.id,
                requested_by=req.requested_by,
                query=OPEN_CONCERNS.name,
                subject_ids={
                    "concern_ids": [str(c.concern_id) for c in items],
                    "student_refs": sorted({ref for c in items for ref in c.student_refs}),
                },
                at=self.clock.now(),
            )
        log.info(
            "event=student_data_read query=%s school=%s requested_by=%s concerns=%d",
            OPEN_CONCERNS.name,
            school.id,
            req.requested_by,
            len(items),
        )
        return OpenConcernsReply(concerns=items, total=total)

    async def zone_status(self, school: SchoolConfig, req: ZoneStatusRequest) -> ZoneStatusReply:
        wanted = _zones_asked(school, req.zone_id, req.area)
        now = self.clock.now()
        async with self.sessions() as session:
            last = await reads.last_scans(session=session, school_id=school.id)
            due = await reads.next_windows(session=session, school_id=school.id, now=now)
            officer_of = await reads.device_officers(session=session, school_id=school.id)
        zones = []
        for zone in school.zones:
            if wanted is not None and zone.id not in wanted:
                continue
            scan = last.get(zone.id)
            window = due.get(zone.id)
            zones.append(
                ZoneStatus(
                    zone_id=zone.id,
                    last_check_at=scan.scanned_at if scan else None,
                    last_checkpoint_tag=scan.checkpoint_tag if scan else None,
                    last_checked_by=(
                        officer_of.get(scan.officer_id, scan.officer_id) if scan else None
                    ),
                    next_window=(
                        DueWindow(
                            window_start=window.window_start,
                            window_end=window.window_end,
                            deadline_at=window.deadline_at,
                            period=window.period,
                        )
                        if window
                        else None
                    ),
                )
            )
        midnight, _ = planning.day_bounds(school, self._today(school), self._today(school))
        return ZoneStatusReply(as_of=now, zones=zones, areas=_area_status(school, zones, midnight))

    async def shift_summary(
        self, school: SchoolConfig, req: ShiftSummaryRequest
    ) -> ShiftSummaryReply:
        start, end = planning.day_bounds(school, req.day, req.day)
        async with self.sessions() as session:
            ids = await reads.actor_ids_of(
                session=session, school_id=school.id, officer_id=req.officer_id
            )
            span: dict[str, Any] = {
                "session": session,
                "school_id": school.id,
                "start": start,
                "end": end,
                "actor_ids": ids,
            }
            windows = await reads.window_outcomes(**span)
            scans = await reads.count_scans(**span)
            by_kind = await reads.contacts_by_kind(**span)
            raised, resolved = await reads.concern_activity(**span)
        return ShiftSummaryReply(
            officer_id=req.officer_id,
            day=req.day,
            scans=scans,
            checks_done=windows["checked"],
            checks_late=windows["late"],
            checks_missed=windows["missed"],
            contacts=by_kind,
            concerns_raised=raised,
            concerns_resolved=resolved,
        )

    async def tour_stats(self, school: SchoolConfig, req: TourStatsRequest) -> TourStatsReply:
        wanted = _zones_asked(school, req.zone_id, req.area)
        first, last = self._range(school, req)
        start, end = planning.day_bounds(school, first, last)
        async with self.sessions() as session:
            scans = await reads.scans_between(
                session=session, school_id=school.id, start=start, end=end
            )
        if req.officer_id is not None:
            scans = [s for s in scans if s.officer_id == req.officer_id]
        stats = planning.tour_stats(
            school,
            scans,
            padding_minutes=req.padding_minutes,
            zone_ids=wanted,
        )
        if wanted is not None:
            scans_in_zone = [s for s in scans if s.zone_id in wanted]
            stats = planning.TourStats(
                stats.zones,
                planning.tour_stats(
                    school, scans_in_zone, padding_minutes=req.padding_minutes
                ).officers,
                [p for p in stats.padding if p.zone_id in wanted],
            )
        return TourStatsReply(
            date_from=first,
            date_to=last,
            padding_minutes=req.padding_minutes,
            zones=[
                ZoneTourStats(
                    zone_id=z.zone_id,
                    scans=z.scans,
                    checkpoints=z.checkpoints,
                    gaps=_gaps(z.gaps),
                    padding_flags=z.padding_flags,
                )
                for z in stats.zones
            ],
            officers=[
                OfficerTourStats(
                    officer_id=o.officer_id,
                    scans=o.scans,
                    zones=o.zones,
                    checkpoints=o.checkpoints,
                    gaps=_gaps(o.gaps),
                    padding_flags=o.padding_flags,
                )
                for o in stats.officers
            ],
            padding=[
                PaddingFlag(
                    officer_id=p.officer_id,
                    zone_id=p.zone_id,
                    checkpoint_tag=p.checkpoint_tag,
                    first_at=p.first_at,
                    again_at=p.again_at,
                    gap_seconds=p.gap_seconds,
                )
                for p in stats.padding[:MAX_PADDING_FLAGS]
            ],
            areas=_area_tour_stats(school, stats.zones),
        )

    async def hotspots(self, school: SchoolConfig, req: HotspotsRequest) -> HotspotsReply:
        wanted = _zones_asked(school, None, req.area)
        window = planning.trailing_window(
            school, last=req.as_of or self._today(school), weeks=req.weeks
        )
        async with self.sessions() as session:
            cells = await hotspot_cells(session, school, window)
        if wanted is not None:
            cells = [c for c in cells if c.zone_id in wanted]
        return HotspotsReply(
            window_start=window.first,
            window_end=window.last,
            school_days=window.school_days,
            items=[
                Hotspot(
                    zone_id=c.zone_id,
                    period=c.period,
                    score=c.score,
                    concerns=c.concerns,
                    observations=c.observations,
                    severity_points=c.severity_points,
                    concerns_by_category={
                        ConcernCategory(k): n for k, n in c.concerns_by_category.items()
                    },
                    observations_by_category={
                        ObservationCategory(k): n for k, n in c.observations_by_category.items()
                    },
                    in_plan=c.in_plan,
                )
                for c in cells[: req.limit]
            ],
            areas=_area_hotspots(school, cells, window.school_days),
        )

    async def focus(self, school: SchoolConfig, req: FocusRequest) -> FocusReply:
        async with self.sessions() as session:
            return await weekly_focus(session, school, req.week, req.limit)

    async def deterrence(self, school: SchoolConfig, req: DeterrenceRequest) -> DeterrenceReply:
        first, last = self._range(school, req)
        start, end = planning.day_bounds(school, first, last)
        async with self.sessions() as session:
            scans = await reads.scans_between(
                session=session, school_id=school.id, start=start, end=end
            )
            concerns = await reads.concerns_between(
                session=session, school_id=school.id, start=start, end=end
            )
        results = planning.deterrence(
            school, scans, concerns, first=first, last=last, minutes=req.minutes
        )
        return DeterrenceReply(
            date_from=first,
            date_to=last,
            minutes=req.minutes,
            zones=[
                ZoneDeterrence(
                    zone_id=d.zone_id,
                    checks=d.checks,
                    concerns_after_check=d.concerns_after_check,
                    hours_after_check=d.hours_after_check,
                    concerns_other=d.concerns_other,
                    hours_other=d.hours_other,
                    rate_after_check=d.rate_after_check,
                    rate_other=d.rate_other,
                    ratio=d.ratio,
                    explanation=d.explanation(),
                )
                for d in results
            ],
        )

    async def today(self, school: SchoolConfig, req: TodayRequest) -> TodayReply:
        """The asking officer's day for the phone: no student references, no notes, so no
        access-log row. Unannounced checks only for an SSO of the school (as their notices)."""
        now = self.clock.now()
        day = now.astimezone(school.tz).date()
        start, end = planning.day_bounds(school, day, day)
        async with self.sessions() as session:
            ids = await reads.actor_ids_of(
                session=session, school_id=school.id, officer_id=req.requested_by
            )
            windows = await reads.windows_of_day(
                session=session, school_id=school.id, start=start, end=end, now=now
            )
            follow_ups = await reads.follow_ups_due(
                session=session,
                school_id=school.id,
                officer_ids=ids,
                now=now,
                missed_since=now - MISSED_FOLLOW_UPS_SHOWN,
            )
            concerns, concerns_total = await reads.open_concerns_raised_by(
                session=session, school_id=school.id, actor_ids=ids, limit=req.limit
            )
            sensors = await reads.unchecked_sensor_alerts(session=session, school_id=school.id)
            paged = await reads.alerts_paged_to(
                session=session,
                school_id=school.id,
                person_id=req.requested_by,
                not_raised_by=ids,
                since=start,
            )
        zone_order = {zone.id: i for i, zone in enumerate(school.zones)}
        windows.sort(key=lambda w: (w.window_start, zone_order.get(w.zone_id, len(zone_order))))
        planned = [w for w in windows if not w.unannounced]
        is_sso = any(p.id == req.requested_by and Role.SSO in p.roles for p in school.people)
        unannounced = [w for w in windows if w.unannounced and w.status == "open"] if is_sso else []
        sensors = sensors if is_sso else []
        return TodayReply(
            as_of=now,
            day=day,
            officer_id=req.requested_by,
            windows=[
                TodayWindow(
                    zone_id=w.zone_id,
                    window_start=w.window_start,
                    window_end=w.window_end,
                    deadline_at=w.deadline_at,
                    period=w.period,
                    checked=w.status != "open",
                )
                for w in planned[: req.limit]
            ],
            windows_total=len(planned),
            unannounced=[
                TodayUnannounced(
                    zone_id=w.zone_id,
                    check_at=w.window_start,
                    window_end=w.window_end,
                    deadline_at=w.deadline_at,
                )
                for w in unannounced[: req.limit]
            ],
            unannounced_total=len(unannounced),
            follow_ups=[
                TodayFollowUp(
                    concern_id=uuid.UUID(f.concern_id),
                    zone_id=f.zone_id,
                    category=ConcernCategory(f.category),
                    due_at=f.deadline_at,
                    # Missed, or past its deadline a moment before the ticker says so.
                    overdue=f.status == "missed" or f.deadline_at < now,
                )
                for f in follow_ups[: req.limit]
            ],
            follow_ups_total=len(follow_ups),
            concerns=[
                TodayConcern(
                    concern_id=uuid.UUID(c.concern_id),
                    category=ConcernCategory(c.category),
                    severity=Severity(c.severity),
                    zone_id=c.zone_id,
                    raised_at=c.raised_at,
                    alert=(
                        ConcernAlert(
                            alert_id=uuid.UUID(c.alert_id),
                            state=ConcernAlertState(c.alert_state),
                            by=c.alert_by,
                            at=c.alert_at,
                        )
                        if c.alert_id is not None
                        else None
                    ),
                )
                for c in concerns
            ],
            concerns_total=concerns_total,
            paged=[
                TodayPagedAlert(
                    alert_id=uuid.UUID(a.alert_id),
                    source=AlertSource(a.source),
                    severity=Severity(a.severity),
                    category=a.category,
                    zone_id=a.zone_id,
                    opened_at=a.opened_at,
                    paged_at=a.paged_at,
                    state=ConcernAlertState(a.state),
                    by=a.by_person_id,
                    at=a.at,
                )
                for a in paged[: req.limit]
            ],
            paged_total=len(paged),
            sensor_checks=[
                TodaySensorCheck(
                    sensor_event_id=uuid.UUID(c.sensor_event_id),
                    zone_id=c.zone_id,
                    sensor_kind=c.kind,
                    raised_at=c.raised_at,
                    check_by=c.check_by,
                    overdue=c.status == "missed" or c.check_by < now,
                    mine=c.officer_id == req.requested_by,
                )
                for c in sensors[: req.limit]
            ],
            sensor_checks_total=len(sensors),
        )

    async def missed(self, school: SchoolConfig, req: MissedRequest) -> MissedReply:
        """Today's missed windows and the week's missed re-checks, school-wide, for the
        console: no student references, no notes, so no access-log row."""
        now = self.clock.now()
        day = now.astimezone(school.tz).date()
        start, end = planning.day_bounds(school, day, day)
        async with self.sessions() as session:
            windows = await reads.missed_windows(
                session=session, school_id=school.id, start=start, end=end
            )
            follow_ups = await reads.missed_follow_ups(
                session=session, school_id=school.id, since=now - MISSED_FOLLOW_UPS_SHOWN
            )
        return MissedReply(
            as_of=now,
            day=day,
            windows=[
                MissedWindow(
                    zone_id=w.zone_id,
                    window_start=w.window_start,
                    window_end=w.window_end,
                    deadline_at=w.deadline_at,
                    period=w.period,
                    unannounced=bool(w.unannounced),
                )
                for w in windows[: req.limit]
            ],
            windows_total=len(windows),
            follow_ups=[
                MissedFollowUp(
                    concern_id=uuid.UUID(f.concern_id),
                    zone_id=f.zone_id,
                    category=ConcernCategory(f.category),
                    officer_id=f.officer_id,
                    deadline_at=f.deadline_at,
                )
                for f in follow_ups[: req.limit]
            ],
            follow_ups_total=len(follow_ups),
        )

    async def sensor_checks(
        self, school: SchoolConfig, req: SensorChecksRequest
    ) -> SensorChecksReply:
        """Today's sensor alerts of the school by kind, for the console: counts and times."""
        now = self.clock.now()
        day = now.astimezone(school.tz).date()
        start, end = planning.day_bounds(school, day, day)
        async with self.sessions() as session:
            rows = await reads.sensor_checks_raised(
                session=session, school_id=school.id, start=start, end=end
            )
        facts = [
            sensor_response.SensorCheckFact(
                kind=r.kind,
                raised_at=r.raised_at,
                checked_at=r.checked_at,
                response_seconds=(
                    sensor_rules.response_seconds(r.raised_at, r.checked_at)
                    if r.checked_at is not None
                    else None
                ),
                in_time=r.checked_at is not None and r.checked_at <= r.check_by,
            )
            for r in rows
        ]
        # Every scan the service has taken in counts: it is now for the console.
        kinds = sensor_response.figures(facts, until=max(now, end))
        return SensorChecksReply(
            as_of=now,
            day=day,
            check_minutes=school.sensors.check_minutes,
            kinds=[
                SensorKindToday(
                    sensor_kind=k.kind,
                    alerts=k.alerts,
                    checked_in_time=k.in_time,
                    checked=k.checked,
                    median_seconds=k.median_seconds,
                    unchecked=k.unchecked,
                )
                for k in kinds
            ],
        )


def _check_zone(school: SchoolConfig, zone_id: str | None) -> None:
    if zone_id is not None and zone_id not in school.zone_ids:
        raise Refused("zone_id: not a zone of this school")


def _zones_asked(school: SchoolConfig, zone_id: str | None, area: str | None) -> list[str] | None:
    """The zones a request with a zone and/or area filter asks about (file order); None: all."""
    _check_zone(school, zone_id)
    if area is not None and area not in school.area_tree.areas:
        raise Refused("area: not an area of this school")
    if zone_id is None and area is None:
        return None
    wanted = school.area_tree.zones_under(area) if area else [z.id for z in school.zones]
    return [z for z in wanted if zone_id in (None, z)]


def _areas_of(school: SchoolConfig, zone_ids: Iterable[str]) -> list[str]:
    """The areas with at least one of `zone_ids` under them, in the school file's area order."""
    hit = {a.id for z in zone_ids for a in school.area_tree.chain(z)}
    return [a.id for a in school.areas if a.id in hit]


def _area_status(
    school: SchoolConfig, zones: list[ZoneStatus], midnight: datetime
) -> list[AreaStatus]:
    tree = school.area_tree
    out = []
    for area_id in _areas_of(school, [z.zone_id for z in zones]):
        under = set(tree.zones_under(area_id))
        mine = [z for z in zones if z.zone_id in under]
        checks = [z.last_check_at for z in mine if z.last_check_at is not None]
        out.append(
            AreaStatus(
                area_id=area_id,
                zones=len(mine),
                checked_today=sum(1 for at in checks if at >= midnight),
                last_check_at=max(checks, default=None),
            )
        )
    return out


def _area_tour_stats(school: SchoolConfig, zones: list[planning.ZoneTour]) -> list[AreaTourStats]:
    tree = school.area_tree
    scans = tree.roll_up({z.zone_id: z.scans for z in zones})
    flags = tree.roll_up({z.zone_id: z.padding_flags for z in zones})
    scanned = tree.roll_up({z.zone_id: 1 if z.scans else 0 for z in zones})
    listed = tree.roll_up(dict.fromkeys((z.zone_id for z in zones), 1))
    return [
        AreaTourStats(
            area_id=a,
            zones=int(listed[a]),
            zones_scanned=int(scanned[a]),
            scans=int(scans[a]),
            padding_flags=int(flags[a]),
        )
        for a in _areas_of(school, [z.zone_id for z in zones])
    ]


def _area_hotspots(
    school: SchoolConfig, cells: list[planning.HotspotCell], school_days: int
) -> list[AreaHotspot]:
    """Each area's score by the cells' rule, from its cells' points (not their rounded
    scores): (severity points + observations) / school days."""
    tree = school.area_tree
    points: dict[str, int] = defaultdict(int)
    concerns: dict[str, int] = defaultdict(int)
    observations: dict[str, int] = defaultdict(int)
    for c in cells:
        for area in tree.chain(c.zone_id):
            points[area.id] += c.severity_points + c.observations
            concerns[area.id] += c.concerns
            observations[area.id] += c.observations
    score = {a: round(n / school_days, 2) if school_days else 0.0 for a, n in points.items()}
    order = {a.id: i for i, a in enumerate(school.areas)}
    return [
        AreaHotspot(
            area_id=a,
            score=score[a],
            concerns=concerns[a],
            observations=observations[a],
        )
        for a in sorted(score, key=lambda a: (-score[a], order[a]))
    ]


def _gaps(g: planning.GapStats) -> Gaps:
    return Gaps(
        count=g.count,
        min_seconds=g.min_seconds,
        avg_seconds=g.avg_seconds,
        max_seconds=g.max_seconds,
    )


async def hotspot_cells(
    session: AsyncSession, school: SchoolConfig, window: planning.DayWindow
) -> list[planning.HotspotCell]:
    """Read the window's concerns and observations and score them per zone and period."""
    start, end = planning.day_bounds(school, window.first, window.last)
    concerns = await reads.concerns_between(
        session=session, school_id=school.id, start=start, end=end
    )
    observations = await reads.observations_between(
        session=session, school_id=school.id, start=start, end=end
    )
    return planning.hotspots(school, concerns, observations, window=window)


async def weekly_focus(
    session: AsyncSession, school: SchoolConfig, week: str, limit: int = 10
) -> FocusReply:
    """The recommended focus for an ISO week, from the four weeks before its Monday."""
    try:
        window = planning.focus_window(school, week, DEFAULT_WEEKS)
    except ValueError:
        raise Refused(f"week: {week} does not exist") from None
    cells = await hotspot_cells(session, school, window)
    lines = planning.recommend_focus(cells, window=window, limit=limit)
    return FocusReply(
        week=week,
        window_start=window.first,
        window_end=window.last,
        school_days=window.school_days,
        items=[
            FocusItem(
                zone_id=line.zone_id,
                period=line.period,
                score=line.score,
                concerns=line.concerns,
                observations=line.observations,
                reason=line.reason,
            )
            for line in lines
        ],
    )


class FocusPublisher:
    """Timer module: once the school's report moment of a week has passed (reports.weekday and
    .at, school time), publish the coming week's PatrolFocusPublished — once per school and
    week, also across replicas (the `published_focus` row is inserted once; only the
    transaction that inserted it emits)."""

    name = "patrol_focus"

    def __init__(
        self, schools: Mapping[str, SchoolConfig], outbox: Outbox, *, limit: int = 10
    ) -> None:
        self.schools = schools
        self.outbox = outbox
        self.limit = limit
        self._published: set[tuple[str, str]] = set()  # committed markers seen; saves a query

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        fired = 0
        for school in self.schools.values():
            week = planning.due_focus_week(school, now)
            if week is None or (school.id, week) in self._published:
                continue
            if await reads.focus_published(session=session, school_id=school.id, week=week):
                self._published.add((school.id, week))
                continue
            if not await reads.claim_focus_week(
                session=session, school_id=school.id, week=week, at=now
            ):
                continue
            focus = await weekly_focus(session, school, week, self.limit)
            event = PatrolFocusPublished(
                event_id=uuid.uuid5(FOCUS_NAMESPACE, f"{school.id}/{week}"),
                type=PatrolFocusPublished.event_type(),
                school_id=school.id,
                occurred_at=now,
                actor=Actor(kind=ActorKind.SERVICE, id=SERVICE),
                week=week,
                items=focus.items,
            )
            await self.outbox.add(session, [event], now)
            log.info(
                "event=focus_published school=%s week=%s items=%d",
                school.id,
                week,
                len(focus.items),
            )
            fired += 1
        return fired
