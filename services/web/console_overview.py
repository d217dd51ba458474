"""The principal's console's overview: "Needs your attention" (`GET /api/v1/console/attention`)
and "School now" (`GET /api/v1/console/now`), asked of the alerts and patrol services over
request-reply as the signed-in person (the subject's last token), and their live stream
(`GET /api/v1/console/live`: the board's `alerts` nudges and the phone's `today` ones).

Every item is in words — what, where (the zone's name), since when, who has it — never a
student reference or a note: the patrol service's `open_concerns` answer carries student
references (and access-logs the reading under the caller); they are dropped here, unread.
Who may: the console's roles; the patrol parts only for the roles that ask the patrol service
(principal, assistant principal, counselor — not district safety)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from lookout.contracts.alerts import AlertList, AlertSource, AlertSummary, ListRequest
from lookout.contracts.patrol import Severity
from lookout.contracts.patrol_queries import (
    MISSED,
    OPEN_CONCERNS,
    SENSOR_CHECKS,
    ZONE_STATUS,
    MissedReply,
    MissedRequest,
    OpenConcernsReply,
    OpenConcernsRequest,
    SensorChecksReply,
    SensorChecksRequest,
    ZoneStatusReply,
    ZoneStatusRequest,
)
from lookout.kernel.queries import query_subject
from lookout.school import sensor_response
from lookout.school.config import Role, SchoolConfig
from lookout.school.permissions import may_request
from services.web import asking
from services.web.deps import ApiCaller, Caller, State, WebState
from services.web.domain import has_console
from services.web.live import PING_SECONDS, Hub, stream_events
from services.web.problems import Problem

router = APIRouter(prefix="/api/v1/console", tags=["console"])

ATTENTION_LIMIT = 30  # items shown; `total` says how many there are
CONCERNS_ASKED = 200
MISSED_ASKED = 50
URGENCY = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
M = TypeVar("M", bound=BaseModel)


async def console_reader(caller: ApiCaller) -> Caller:
    """A signed-in person with the console (the roles that ask the alerts service, no phone)."""
    if not has_console(caller.person.roles):
        raise Problem(403, "Not for this role", "role: has no console")
    return caller


ConsoleReader = Annotated[Caller, Depends(console_reader)]


def asks_patrol(roles: set[Role] | list[Role]) -> bool:
    return may_request(roles, "query", "patrol")


# --- what the sections answer -----------------------------------------------------------------


class AttentionItem(BaseModel):
    """One thing that needs the principal, in words: no student reference, no note."""

    kind: Literal["alert", "concern", "follow_up", "visitor"] = Field(
        description="An unacknowledged alert, a concern open too long, a re-check missed, a "
        "visitor nobody saw leave (their alert acknowledged, not yet resolved)."
    )
    what: str = Field(description="The item in words, e.g. 'Alert not acknowledged: vaping'.")
    severity: Severity | None
    zone_id: str | None
    zone_name: str | None = Field(description="The zone's name in the school file.")
    since: datetime = Field(description="Opened, raised, or missed since.")
    age_minutes: int = Field(ge=0, description="Minutes from `since` to `as_of`.")
    owner: str | None = Field(
        description="Who has it: told last (alert), raised it (concern), was asked (re-check)."
    )
    alert_id: str | None = Field(default=None, description="The board's alert, if an alert.")


class Attention(BaseModel):
    items: list[AttentionItem] = Field(max_length=ATTENTION_LIMIT)
    total: int = Field(ge=0)
    concern_attention_hours: int = Field(description="The school's age for a concern to list.")
    patrol_shown: bool = Field(description="False for a role that does not ask patrol.")
    as_of: datetime


class ZoneNow(BaseModel):
    zone_id: str
    zone_name: str
    last_check_at: datetime | None
    last_checked_by: str | None = Field(description="A name, or the device id if unknown.")
    next_window_start: datetime | None
    next_window_end: datetime | None
    next_period: str | None


class OfficerNow(BaseModel):
    person_id: str
    name: str
    zone_id: str | None
    zone_name: str | None = Field(description="Where their last checkpoint scan was.")
    at: datetime | None


class MissedCheck(BaseModel):
    zone_id: str
    zone_name: str
    window_start: datetime
    window_end: datetime
    period: str | None
    unannounced: bool


class AreaChoice(BaseModel):
    """A building, floor or wing of the school file: the console's filter offers each."""

    area_id: str
    name: str
    kind: str = Field(description="building, floor or wing.")
    parent: str | None


class AreaNow(BaseModel):
    area_id: str
    name: str
    zones: int = Field(ge=0, description="Zones under the area (within the filter).")
    checked_today: int = Field(ge=0, description="Of them, scanned since midnight.")
    last_check_at: datetime | None


class SensorsToday(BaseModel):
    """One kind of sensor alert today, in words and in numbers (the whole school)."""

    sensor_kind: str
    words: str = Field(
        description="e.g. 'Vape alerts today: 3, checked within 5 min: 2, median 2:40; "
        "1 not checked yet'."
    )
    alerts: int = Field(ge=0)
    checked_in_time: int = Field(ge=0)
    median_seconds: int | None
    unchecked: int = Field(ge=0, description="Zones nobody has scanned since their alert.")


class SchoolNow(BaseModel):
    zones: list[ZoneNow] = Field(max_length=200, description="In the school file's order.")
    officers: list[OfficerNow] = Field(max_length=50, description="The school's SSOs.")
    missed: list[MissedCheck] = Field(max_length=MISSED_ASKED, description="Oldest first.")
    missed_total: int = Field(ge=0)
    sensors: list[SensorsToday] = Field(
        default_factory=list,
        max_length=20,
        description="Today's sensor alerts of the whole school, by kind.",
    )
    sensors_configured: bool = Field(
        default=False, description="The school file names sensors (else the part is not shown)."
    )
    as_of: datetime
    area: str | None = Field(default=None, description="The area asked for (`?area=`), if any.")
    areas: list[AreaChoice] = Field(default_factory=list, description="The school's areas.")
    by_area: list[AreaNow] = Field(
        default_factory=list, description="The zones shown, rolled up by building and floor."
    )


# --- asking ------------------------------------------------------------------------------------


def words(category: str) -> str:
    """`heartbeat_missed` → `heartbeat missed`."""
    return category.replace("_", " ")


def minutes(since: datetime, now: datetime) -> int:
    return max(0, int((now - since).total_seconds() // 60))


def _last_told(alert: AlertSummary) -> str | None:
    told = [e.person_id for e in alert.notifications or [] if e.person_id]
    return told[-1] if told else None


async def _alert_items(
    state: WebState, caller: Caller, names: dict[str, str], zones: dict[str, str], now: datetime
) -> list[AttentionItem]:
    school, me = caller.school.id, caller.person.id
    found = await asking.answer(
        state,
        "alerts",
        query_subject(school, "alerts", "list", me),
        ListRequest(limit=200, with_notified=True),  # who was told last, without a `show` each
        AlertList,
    )
    waiting = sorted(
        (a for a in found.alerts if a.acknowledged_at is None and a.resolved_at is None),
        key=lambda a: (URGENCY.get(a.severity, len(URGENCY)), a.opened_at),
    )

    def owner(alert: AlertSummary) -> str | None:
        person = _last_told(alert)
        return names.get(person, person) if person else None

    # A visitor nobody saw leave stays here until their alert is resolved (someone found out
    # where they went), not only until it is acknowledged: unacknowledged, it is listed above.
    unaccounted = sorted(
        (
            a
            for a in found.alerts
            if a.source == AlertSource.VISITOR_UNACCOUNTED
            and a.acknowledged_at is not None
            and a.resolved_at is None
        ),
        key=lambda a: a.opened_at,
    )
    visitors = [
        AttentionItem(
            kind="visitor",
            what="Visitor unaccounted for: nobody saw them leave before the day ended",
            severity=a.severity,
            zone_id=a.zone_id,
            zone_name=zones.get(a.zone_id or ""),
            since=a.opened_at,
            age_minutes=minutes(a.opened_at, now),
            owner=names.get(a.acknowledged_by or "", a.acknowledged_by),
            alert_id=str(a.alert_id),
        )
        for a in unaccounted
    ]
    return [
        AttentionItem(
            kind="alert",
            what=f"Alert not acknowledged: {words(a.category)}",
            severity=a.severity,
            zone_id=a.zone_id,
            zone_name=zones.get(a.zone_id or ""),
            since=a.opened_at,
            age_minutes=minutes(a.opened_at, now),
            owner=owner(a),
            alert_id=str(a.alert_id),
        )
        for a in waiting
    ] + visitors


async def _patrol_items(
    state: WebState, caller: Caller, names: dict[str, str], zones: dict[str, str], now: datetime
) -> list[AttentionItem]:
    school, me = caller.school, caller.person.id
    concerns, missed = await asyncio.gather(
        asking.answer(
            state,
            "patrol",
            OPEN_CONCERNS.subject(school.id, me),
            OpenConcernsRequest(requested_by=me, limit=CONCERNS_ASKED),
            OpenConcernsReply,
        ),
        asking.answer(
            state,
            "patrol",
            MISSED.subject(school.id, me),
            MissedRequest(requested_by=me, limit=MISSED_ASKED),
            MissedReply,
        ),
    )
    limit = now - timedelta(hours=school.concern_attention_hours)
    old = sorted((c for c in concerns.concerns if c.raised_at <= limit), key=lambda c: c.raised_at)
    items = [
        AttentionItem(
            kind="concern",
            what=f"Concern open over {school.concern_attention_hours} h: {words(c.category)}",
            severity=c.severity,
            zone_id=c.zone_id,
            zone_name=zones.get(c.zone_id or ""),
            since=c.raised_at,
            age_minutes=minutes(c.raised_at, now),
            owner=(
                f"An SSO phone ({c.raised_by})"
                if c.raised_by_kind == "sso_device"
                else names.get(c.raised_by, c.raised_by)
            ),
        )
        for c in old  # student_refs are not read
    ]
    items += [
        AttentionItem(
            kind="follow_up",
            what=f"Welfare re-check missed: {words(f.category)}",
            severity=None,
            zone_id=f.zone_id,
            zone_name=zones.get(f.zone_id or ""),
            since=f.deadline_at,
            age_minutes=minutes(f.deadline_at, now),
            owner=names.get(f.officer_id, f.officer_id),
        )
        for f in missed.follow_ups
    ]
    return items


def _sensors_today(answer: SensorChecksReply) -> list[SensorsToday]:
    out = []
    for k in answer.kinds:
        figures = sensor_response.KindFigures(
            k.sensor_kind, k.alerts, k.checked_in_time, k.checked, k.median_seconds
        )
        said = sensor_response.sentence(
            figures, answer.check_minutes, when=" today", unchecked="not checked yet"
        )
        out.append(
            SensorsToday(
                sensor_kind=k.sensor_kind,
                words=said,
                alerts=k.alerts,
                checked_in_time=k.checked_in_time,
                median_seconds=k.median_seconds,
                unchecked=k.unchecked,
            )
        )
    return out


def _names(school: SchoolConfig) -> tuple[dict[str, str], dict[str, str]]:
    return {p.id: p.name for p in school.people}, {z.id: z.name for z in school.zones}


# --- the routes --------------------------------------------------------------------------------

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "The caller's role has no console (or does not ask patrol)"},
    502: {"description": "A service refused the question"},
    503: {"description": "A service did not answer within 3 s"},
}


@router.get(
    "/attention", response_model=Attention, summary="Needs your attention", responses=PROBLEMS
)
async def attention(caller: ConsoleReader, state: State) -> Attention:
    """Unacknowledged alerts (most urgent first), concerns open longer than the school's
    `concern_attention_hours` and welfare re-checks missed in the last 7 days (oldest first):
    at most 30, in words."""
    now = state.suite_clock.now()
    names, zones = _names(caller.school)
    patrol = asks_patrol(caller.person.roles)
    asked = [_alert_items(state, caller, names, zones, now)]
    if patrol:
        asked.append(_patrol_items(state, caller, names, zones, now))
    items = [item for part in await asyncio.gather(*asked) for item in part]
    return Attention(
        items=items[:ATTENTION_LIMIT],
        total=len(items),
        concern_attention_hours=caller.school.concern_attention_hours,
        patrol_shown=patrol,
        as_of=now,
    )


AreaParam = Annotated[
    str | None,
    Query(max_length=64, description="Only the zones under this building, floor or wing."),
]


@router.get(
    "/now",
    response_model=SchoolNow,
    summary="School now",
    responses={**PROBLEMS, 422: {"description": "area: not an area of this school"}},
)
async def school_now(caller: ConsoleReader, state: State, area: AreaParam = None) -> SchoolNow:
    """Each zone's last check and next planned window, where each SSO last scanned, today's
    missed checks; with `area`, only the zones under it. Rolled up by building and floor.
    Today's sensor alerts by kind (the whole school)."""
    if not asks_patrol(caller.person.roles):
        raise Problem(403, "Not for this role", "role: does not ask the patrol service")
    school, me = caller.school, caller.person.id
    check_area(school, area)
    names, zones = _names(school)
    status, missed, sensed = await asyncio.gather(
        asking.answer(
            state,
            "patrol",
            ZONE_STATUS.subject(school.id, me),
            ZoneStatusRequest(requested_by=me, area=area),
            ZoneStatusReply,
        ),
        asking.answer(
            state,
            "patrol",
            MISSED.subject(school.id, me),
            MissedRequest(requested_by=me, limit=MISSED_ASKED),
            MissedReply,
        ),
        asking.answer(
            state,
            "patrol",
            SENSOR_CHECKS.subject(school.id, me),
            SensorChecksRequest(requested_by=me),
            SensorChecksReply,
        ),
    )
    if area is not None:  # patrol's `missed` has no area filter: today's misses are few
        under = set(school.area_tree.zones_under(area))
        missed = missed.model_copy(
            update={"windows": [w for w in missed.windows if w.zone_id in under]}
        )
        missed = missed.model_copy(update={"windows_total": len(missed.windows)})
    officers = []
    for person in school.people:
        if Role.SSO not in person.roles:
            continue
        theirs = [z for z in status.zones if z.last_checked_by == person.id and z.last_check_at]
        last = max(theirs, key=lambda z: z.last_check_at or status.as_of, default=None)
        officers.append(
            OfficerNow(
                person_id=person.id,
                name=person.name,
                zone_id=last.zone_id if last else None,
                zone_name=zones.get(last.zone_id) if last else None,
                at=last.last_check_at if last else None,
            )
        )
    return SchoolNow(
        zones=[
            ZoneNow(
                zone_id=z.zone_id,
                zone_name=zones.get(z.zone_id, z.zone_id),
                last_check_at=z.last_check_at,
                last_checked_by=(
                    names.get(z.last_checked_by, z.last_checked_by) if z.last_checked_by else None
                ),
                next_window_start=z.next_window.window_start if z.next_window else None,
                next_window_end=z.next_window.window_end if z.next_window else None,
                next_period=z.next_window.period if z.next_window else None,
            )
            for z in status.zones
        ],
        officers=officers,
        missed=[
            MissedCheck(
                zone_id=w.zone_id,
                zone_name=zones.get(w.zone_id, w.zone_id),
                window_start=w.window_start,
                window_end=w.window_end,
                period=w.period,
                unannounced=w.unannounced,
            )
            for w in missed.windows
        ],
        missed_total=missed.windows_total,
        sensors=_sensors_today(sensed),
        sensors_configured=bool(school.sensors.devices),
        as_of=state.suite_clock.now(),
        area=area,
        **_areas_now(school, status),
    )


def check_area(school: SchoolConfig, area: str | None) -> None:
    """422 naming `area` for an area the school file does not have."""
    if area is not None and area not in school.area_tree.areas:
        raise Problem(422, "Invalid request", "area: not an area of this school")


def area_choices(school: SchoolConfig) -> list[AreaChoice]:
    """The school's areas in its file's order: what the console's area select offers."""
    return [
        AreaChoice(area_id=a.id, name=a.name, kind=a.kind.value, parent=a.parent)
        for a in school.areas
    ]


def _areas_now(school: SchoolConfig, status: ZoneStatusReply) -> dict[str, Any]:
    names = {a.id: a.name for a in school.areas}
    return {
        "areas": area_choices(school),
        "by_area": [
            AreaNow(
                area_id=a.area_id,
                name=names[a.area_id],
                zones=a.zones,
                checked_today=a.checked_today,
                last_check_at=a.last_check_at,
            )
            for a in status.areas
        ],
    }


@router.get(
    "/live",
    summary="Live updates for the console's overview (Server-Sent Events)",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`hello`, then `alerts` (an alert changed) and `today` (a window "
            "closed, a concern or re-check changed): ask again; `ended` with why",
        },
        401: {"description": "Not signed in"},
        403: {"description": "The caller's role has no console"},
    },
)
async def live(caller: ConsoleReader, hub: Hub) -> EventSourceResponse:
    """Nudges (naming only the event's type) when the overview's answers changed."""
    stream = hub.open(caller.school.id, caller.person.id, nudges=("alerts", "today"))
    return EventSourceResponse(stream_events(hub, stream), ping=PING_SECONDS)
