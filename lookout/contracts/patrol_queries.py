"""Patrol queries (NATS request-reply on `query.<school>.patrol.<name>.<person>`): typed requests
and replies shared by the patrol service and its clients (CLI, dashboards).

Who asks is the subject's last token (`query.<school>.patrol.<name>.<person>`, which the server
confines each user to), never the body: the service sets `requested_by` from it, and answers
that carry student references are written to the patrol service's access log under it.
Replies are wrapped by the kernel's request helper as `{"ok": true, "result": <reply>}` or
`{"ok": false, "error": "…"}`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from lookout.contracts.alerts import AlertSource
from lookout.contracts.bounds import RequestDate, RequestIsoWeek
from lookout.contracts.envelope import ActorKind, StudentRef, Token
from lookout.contracts.patrol import (
    ConcernCategory,
    ContactKind,
    FocusItem,
    ObservationCategory,
    Severity,
)

IsoWeek = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$"),
    Field(description="ISO week, e.g. `2026-W49`."),
]
MAX_RANGE_DAYS = 366
AREA_FILTER = "Only the zones under this area (a building, floor or wing of the school file)."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PatrolRequest(_Strict):
    ACTING_FIELD: ClassVar[str] = "requested_by"
    requested_by: Token = Field(
        description="Who asks (access log): the subject's last token (refused in the body)."
    )


class _DateRange(PatrolRequest):
    """A range of school-local days, both ends included (default: the last 4 weeks)."""

    date_from: RequestDate | None = Field(
        default=None, description="First day (default: 27 days ago)."
    )
    date_to: RequestDate | None = Field(
        default=None, description="Last day, included (default: today)."
    )

    @field_validator("date_to")
    @classmethod
    def _ordered(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("date_from")
        if value is not None and start is not None:
            if value < start:
                raise ValueError("date_to is before date_from")
            if (value - start).days >= MAX_RANGE_DAYS:
                raise ValueError(f"the range is longer than {MAX_RANGE_DAYS} days")
        return value


# --- open concerns (student-level: access-logged) ---------------------------------------------


class OpenConcernsRequest(PatrolRequest):
    zone_id: Token | None = Field(default=None, description="Only concerns in this zone.")
    min_severity: Severity = Field(default=Severity.LOW, description="Only this severe or worse.")
    limit: int = Field(default=200, ge=1, le=500)


class OpenConcern(_Strict):
    concern_id: uuid.UUID
    category: ConcernCategory
    severity: Severity
    zone_id: Token | None
    student_refs: list[StudentRef]
    raised_by_kind: ActorKind
    raised_by: Token
    raised_at: AwareDatetime
    updated_at: AwareDatetime


class OpenConcernsReply(_Strict):
    concerns: list[OpenConcern] = Field(description="Most severe first, then oldest first.")
    total: int = Field(ge=0, description="Open concerns matching the filters (may exceed limit).")


# --- zone status ------------------------------------------------------------------------------


class ZoneStatusRequest(PatrolRequest):
    zone_id: Token | None = Field(default=None, description="Only this zone.")
    area: Token | None = Field(default=None, description=AREA_FILTER)


class DueWindow(_Strict):
    window_start: AwareDatetime
    window_end: AwareDatetime
    deadline_at: AwareDatetime = Field(description="Window end plus grace.")
    period: Token | None


class ZoneStatus(_Strict):
    zone_id: Token
    last_check_at: AwareDatetime | None
    last_checkpoint_tag: Token | None
    last_checked_by: Token | None = Field(description="Officer id (or device id if unknown).")
    next_window: DueWindow | None = Field(
        description="The earliest planned window still open (unannounced checks are not shown)."
    )


class AreaStatus(_Strict):
    """The zones of one area (and the areas inside it) taken together."""

    area_id: Token
    zones: int = Field(ge=0, description="Zones under the area that the reply lists.")
    checked_today: int = Field(ge=0, description="Of them, scanned since the school's midnight.")
    last_check_at: AwareDatetime | None = Field(description="The latest scan of any of them.")


class ZoneStatusReply(_Strict):
    as_of: AwareDatetime
    zones: list[ZoneStatus] = Field(description="In the school file's zone order.")
    areas: list[AreaStatus] = Field(
        default_factory=list,
        description="Roll-up by area (building, floor, wing), in the school file's area order: "
        "every area with a listed zone under it.",
    )


# --- shift summary ----------------------------------------------------------------------------


class ShiftSummaryRequest(PatrolRequest):
    officer_id: Token = Field(description="The SSO's person id (their devices are included).")
    day: RequestDate = Field(description="School-local day.")


class ShiftSummaryReply(_Strict):
    officer_id: Token
    day: date
    scans: int = Field(ge=0, description="Checkpoint scans by the officer.")
    checks_done: int = Field(ge=0, description="Windows checked on time by the officer's scans.")
    checks_late: int = Field(ge=0, description="Windows checked late (in grace) by the officer.")
    checks_missed: int = Field(
        ge=0, description="The school's windows missed that day (the plan is per school)."
    )
    contacts: dict[ContactKind, int] = Field(description="Contacts logged, by kind.")
    concerns_raised: int = Field(ge=0)
    concerns_resolved: int = Field(ge=0)


# --- tour-exception statistics ----------------------------------------------------------------


class TourStatsRequest(_DateRange):
    padding_minutes: int = Field(
        default=2, ge=1, le=60, description="Same tag by the same officer again within N minutes."
    )
    zone_id: Token | None = None
    area: Token | None = Field(default=None, description=AREA_FILTER)
    officer_id: Token | None = None


class Gaps(_Strict):
    """Time between consecutive scans on the same school day, in seconds."""

    count: int = Field(ge=0)
    min_seconds: float | None
    avg_seconds: float | None
    max_seconds: float | None


class ZoneTourStats(_Strict):
    zone_id: Token
    scans: int = Field(ge=0)
    checkpoints: dict[str, int] = Field(description="Scans per tag; configured tags included.")
    gaps: Gaps = Field(description="Between consecutive scans of the zone (any officer).")
    padding_flags: int = Field(ge=0)


class OfficerTourStats(_Strict):
    officer_id: Token
    scans: int = Field(ge=0)
    zones: int = Field(ge=0, description="Distinct zones scanned.")
    checkpoints: dict[str, int]
    gaps: Gaps = Field(description="Between the officer's consecutive scans (any zone).")
    padding_flags: int = Field(ge=0)


class PaddingFlag(_Strict):
    officer_id: Token
    zone_id: Token
    checkpoint_tag: Token
    first_at: AwareDatetime
    again_at: AwareDatetime
    gap_seconds: float = Field(ge=0)


class AreaTourStats(_Strict):
    area_id: Token
    zones: int = Field(ge=0, description="Zones under the area in the reply.")
    zones_scanned: int = Field(ge=0, description="Of them, scanned at least once in the range.")
    scans: int = Field(ge=0)
    padding_flags: int = Field(ge=0)


class TourStatsReply(_Strict):
    date_from: date
    date_to: date
    padding_minutes: int
    zones: list[ZoneTourStats]
    areas: list[AreaTourStats] = Field(
        default_factory=list, description="Coverage rolled up by area, in the file's area order."
    )
    officers: list[OfficerTourStats]
    padding: list[PaddingFlag] = Field(max_length=500, description="Oldest first, at most 500.")


# --- hotspots and focus -----------------------------------------------------------------------


class HotspotsRequest(PatrolRequest):
    as_of: RequestDate | None = Field(
        default=None, description="Last day of the window (default today)."
    )
    weeks: int = Field(default=4, ge=1, le=26, description="Trailing window length.")
    limit: int = Field(default=20, ge=1, le=100)
    area: Token | None = Field(default=None, description=AREA_FILTER)


class Hotspot(_Strict):
    zone_id: Token
    period: Token
    score: float = Field(ge=0, description="Weighted count per school day in the window.")
    concerns: int = Field(ge=0)
    observations: int = Field(ge=0)
    severity_points: int = Field(ge=0, description="low 1, medium 2, high 3, critical 5.")
    concerns_by_category: dict[ConcernCategory, int]
    observations_by_category: dict[ObservationCategory, int]
    in_plan: bool = Field(description="The patrol plan has windows for this zone and period.")


class AreaHotspot(_Strict):
    area_id: Token
    score: float = Field(
        ge=0, description="(Severity points + observations of its zones) / school days."
    )
    concerns: int = Field(ge=0)
    observations: int = Field(ge=0)


class HotspotsReply(_Strict):
    window_start: date
    window_end: date = Field(description="Last day of the window, included.")
    school_days: int = Field(ge=0)
    items: list[Hotspot] = Field(description="Highest score first.")
    areas: list[AreaHotspot] = Field(
        default_factory=list,
        description="Every cell (not only the first `limit`) rolled up by area, highest score "
        "first; areas without a fact are left out.",
    )


class FocusRequest(PatrolRequest):
    week: RequestIsoWeek
    limit: int = Field(default=10, ge=1, le=50)


class FocusReply(_Strict):
    week: IsoWeek
    window_start: date
    window_end: date
    school_days: int = Field(ge=0)
    items: list[FocusItem] = Field(description="What the weekly PatrolFocusPublished carries.")


# --- deterrence -------------------------------------------------------------------------------


class DeterrenceRequest(_DateRange):
    minutes: int = Field(default=15, ge=1, le=120, description="How long after a check counts.")


class ZoneDeterrence(_Strict):
    zone_id: Token
    checks: int = Field(ge=0, description="Scans of the zone in school hours.")
    concerns_after_check: int = Field(ge=0)
    hours_after_check: float = Field(ge=0)
    concerns_other: int = Field(ge=0)
    hours_other: float = Field(ge=0)
    rate_after_check: float | None = Field(description="Concerns per hour after a check.")
    rate_other: float | None = Field(description="Concerns per hour at other school times.")
    ratio: float | None = Field(description="rate_after_check / rate_other; < 1 means deterrence.")
    explanation: Annotated[str, StringConstraints(max_length=300)]


class DeterrenceReply(_Strict):
    date_from: date
    date_to: date
    minutes: int
    zones: list[ZoneDeterrence]


# --- today (the SSO's phone) -------------------------------------------------------------------


class TodayRequest(PatrolRequest):
    """Today's patrol for the officer who asks (the subject's person; their phones included)."""

    limit: int = Field(default=20, ge=1, le=100, description="At most this many items per list.")


class TodayWindow(_Strict):
    zone_id: Token
    window_start: AwareDatetime
    window_end: AwareDatetime
    deadline_at: AwareDatetime = Field(description="Window end plus grace.")
    period: Token | None
    checked: bool = Field(description="Already checked (on time, or late within the grace).")


class TodayUnannounced(_Strict):
    zone_id: Token
    check_at: AwareDatetime = Field(description="When the unannounced check starts.")
    window_end: AwareDatetime
    deadline_at: AwareDatetime = Field(description="Window end plus grace.")


class TodayFollowUp(_Strict):
    concern_id: uuid.UUID
    zone_id: Token | None
    category: ConcernCategory
    due_at: AwareDatetime = Field(description="The end of the re-check's school day.")
    overdue: bool = Field(description="That day ended without the re-check (reported missed).")


class ConcernAlertState(StrEnum):
    OPEN = "open"  # escalating: nobody has acknowledged it yet
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ConcernAlert(_Strict):
    """What became of the alert a concern raised: who acknowledged or resolved it, and when
    (loop closure: the officer who raised it sees that somebody has it)."""

    alert_id: uuid.UUID
    state: ConcernAlertState
    by: Token | None = Field(description="Who acknowledged or resolved it (a person id).")
    at: AwareDatetime | None = Field(description="When; None while it is open.")


class TodayConcern(_Strict):
    concern_id: uuid.UUID
    category: ConcernCategory
    severity: Severity
    zone_id: Token | None
    raised_at: AwareDatetime
    alert: ConcernAlert | None = Field(
        default=None, description="The alert it raised, if it raised one (not every concern)."
    )


class TodayPagedAlert(_Strict):
    """An alert the officer was paged for that did not come from a concern of theirs (a missed
    check, a visitor, a staff member's concern): what, where, and who has it (loop closure for
    everyone paged, not only the raiser)."""

    alert_id: uuid.UUID
    source: AlertSource
    severity: Severity
    category: Token | None = Field(description="The concern's category, or the source.")
    zone_id: Token | None
    opened_at: AwareDatetime
    paged_at: AwareDatetime = Field(description="When the officer was first paged for it.")
    state: ConcernAlertState
    by: Token | None = Field(description="Who acknowledged or resolved it (a person id).")
    at: AwareDatetime | None = Field(description="When; None while it is open.")


class TodaySensorCheck(_Strict):
    """A sensor alert whose zone nobody has scanned since: any SSO's scan there ends it."""

    sensor_event_id: uuid.UUID
    zone_id: Token
    sensor_kind: Token = Field(description="What the sensor detected (vape, thc, …).")
    raised_at: AwareDatetime
    check_by: AwareDatetime
    overdue: bool = Field(description="Past its deadline: escalating.")
    mine: bool = Field(description="This officer was the one asked to check it.")


class TodayReply(_Strict):
    """No student references and no notes: the phone keeps this answer for offline use."""

    as_of: AwareDatetime
    day: date = Field(description="The school-local day.")
    officer_id: Token = Field(description="Who asked: the subject's last token.")
    windows: list[TodayWindow] = Field(
        max_length=100,
        description="Today's planned windows not yet past their deadline, soonest first "
        "(unannounced ones are not here).",
    )
    windows_total: int = Field(ge=0)
    unannounced: list[TodayUnannounced] = Field(
        max_length=100,
        description="Today's unannounced checks still open, soonest first; only for an SSO.",
    )
    unannounced_total: int = Field(ge=0)
    follow_ups: list[TodayFollowUp] = Field(
        max_length=100,
        description="Welfare re-checks addressed to the officer that are due, or were missed "
        "in the last 7 days; earliest deadline first.",
    )
    follow_ups_total: int = Field(ge=0)
    concerns: list[TodayConcern] = Field(
        max_length=100,
        description="Open concerns the officer raised (also from their phones), most severe "
        "then oldest first.",
    )
    concerns_total: int = Field(ge=0)
    paged: list[TodayPagedAlert] = Field(
        default_factory=list,
        max_length=100,
        description="Alerts the officer was paged for, other than their own concerns': those "
        "not resolved yet, and those paged or settled today; open first, then acknowledged, "
        "then resolved, the latest page first.",
    )
    paged_total: int = Field(default=0, ge=0)
    sensor_checks: list[TodaySensorCheck] = Field(
        default_factory=list,
        max_length=100,
        description="Sensor alerts of the school whose zone is still to be checked, oldest "
        "first; only for an SSO.",
    )
    sensor_checks_total: int = Field(default=0, ge=0)


# --- missed (the principal's console) ---------------------------------------------------------


class MissedRequest(PatrolRequest):
    """The school's misses: today's missed checks, re-checks missed in the last 7 days."""

    limit: int = Field(default=50, ge=1, le=100, description="At most this many items per list.")


class MissedWindow(_Strict):
    zone_id: Token
    window_start: AwareDatetime
    window_end: AwareDatetime
    deadline_at: AwareDatetime = Field(description="Window end plus grace: missed since then.")
    period: Token | None
    unannounced: bool


class MissedFollowUp(_Strict):
    concern_id: uuid.UUID
    zone_id: Token | None
    category: ConcernCategory
    officer_id: Token = Field(description="Who the re-check was addressed to.")
    deadline_at: AwareDatetime = Field(description="The end of the re-check's school day.")


class MissedReply(_Strict):
    """No student references and no notes (so no access-log row): places, times, people."""

    as_of: AwareDatetime
    day: date = Field(description="The school-local day of `windows`.")
    windows: list[MissedWindow] = Field(
        max_length=100, description="Today's windows missed (still unchecked), oldest first."
    )
    windows_total: int = Field(ge=0)
    follow_ups: list[MissedFollowUp] = Field(
        max_length=100,
        description="Welfare re-checks missed in the last 7 days, oldest deadline first.",
    )
    follow_ups_total: int = Field(ge=0)


# --- today's sensor alerts (the principal's console) ---------------------------------------


class SensorChecksRequest(PatrolRequest):
    """The school's sensor alerts raised today, by kind: how fast their zones were checked."""


class SensorKindToday(_Strict):
    sensor_kind: Token = Field(description="What the sensors detected (vape, thc, …).")
    alerts: int = Field(
        ge=0,
        description="Alerts raised today (a second alert of a sensor whose check is open is "
        "folded into the first).",
    )
    checked_in_time: int = Field(ge=0, description="Zones scanned within the check minutes.")
    checked: int = Field(ge=0, description="Zones scanned since their alert, in time or late.")
    median_seconds: int | None = Field(
        default=None,
        ge=0,
        description="Median time from alert to scan of those checked (None: none yet).",
    )
    unchecked: int = Field(ge=0, description="Alerts whose zone nobody has scanned yet.")


class SensorChecksReply(_Strict):
    """Counts and times only: no student (a sensor knows none), no officer."""

    as_of: AwareDatetime
    day: date = Field(description="The school-local day.")
    check_minutes: int = Field(ge=1, description="The school's `sensors.check_minutes`.")
    kinds: list[SensorKindToday] = Field(
        max_length=20, description="Kinds with an alert today (vape, THC, loud sound, tamper)."
    )


# --- the SSO's planned windows (their calendar app's feed) -------------------------------------

PLAN_MAX_DAYS = 31


class PlanRequest(PatrolRequest):
    """The school's announced check windows from `date_from` to `date_to` (school-local days,
    both included), by the bell each day keeps (confirmed early releases, late starts and
    no-school days included). Unannounced checks are never in it."""

    date_from: RequestDate = Field(description="First day.")
    date_to: RequestDate = Field(description="Last day, included.")

    @field_validator("date_to")
    @classmethod
    def _ordered(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("date_from")
        if start is not None:
            if value < start:
                raise ValueError("date_to is before date_from")
            if (value - start).days >= PLAN_MAX_DAYS:
                raise ValueError(f"the range is longer than {PLAN_MAX_DAYS} days")
        return value


class PlanWindow(_Strict):
    zone_id: Token
    zone_name: str = Field(max_length=120, description="The zone's name in the school file.")
    start: AwareDatetime
    end: AwareDatetime
    grace_minutes: int = Field(ge=0, le=120, description="A scan this long after `end` is late.")
    period: Token | None = Field(description="The bell period it falls in, if any.")


class PlanReply(_Strict):
    """Places and times only; the same for every SSO of the school."""

    windows: list[PlanWindow] = Field(max_length=5000, description="Soonest first.")


class DayTypesRequest(PatrolRequest):
    """The confirmed day types (no school, early release, late start) the patrol service plans
    by, from `date_from` on: the console's school calendar."""

    date_from: RequestDate | None = Field(default=None, description="First day (default: today).")


class ConfirmedDay(_Strict):
    day: date
    day_type: Token = Field(description="no_school, early_release or late_start.")
    schedule: Token | None = Field(description="The alternate bell it runs on.")
    confirmed_at: AwareDatetime


class DayTypesReply(_Strict):
    days: list[ConfirmedDay] = Field(max_length=400, description="In date order.")


# --- catalogue --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatrolQuery:
    """One query: its subject name, request and reply models, and whether it is access-logged."""

    name: str
    request: type[PatrolRequest]
    reply: type[BaseModel]
    student_level: bool
    description: str

    def subject(self, school_id: str, person: str) -> str:
        """`query.<school>.patrol.<name>.<person>`: who asks is the last token."""
        return f"query.{school_id}.patrol.{self.name}.{person}"

    @property
    def wildcard(self) -> str:
        return self.subject("*", "*")


OPEN_CONCERNS = PatrolQuery(
    "open_concerns",
    OpenConcernsRequest,
    OpenConcernsReply,
    True,
    "Open concerns by zone and minimum severity (student-level; access-logged).",
)
ZONE_STATUS = PatrolQuery(
    "zone_status",
    ZoneStatusRequest,
    ZoneStatusReply,
    False,
    "Last check per zone and the next planned window.",
)
SHIFT_SUMMARY = PatrolQuery(
    "shift_summary",
    ShiftSummaryRequest,
    ShiftSummaryReply,
    False,
    "An SSO's day: checks done, late and missed; contacts by kind; concerns raised/resolved.",
)
TOUR_STATS = PatrolQuery(
    "tour_stats",
    TourStatsRequest,
    TourStatsReply,
    False,
    "Tour exceptions per zone and officer: scans per tag, gaps between scans, padding.",
)
HOTSPOTS = PatrolQuery(
    "hotspots",
    HotspotsRequest,
    HotspotsReply,
    False,
    "Concerns and observations per zone and bell period over a trailing window, scored.",
)
FOCUS = PatrolQuery(
    "focus",
    FocusRequest,
    FocusReply,
    False,
    "The recommended patrol focus for an ISO week, with the counts behind each line.",
)
DETERRENCE = PatrolQuery(
    "deterrence",
    DeterrenceRequest,
    DeterrenceReply,
    False,
    "Concerns per hour shortly after a check vs. at other school times, per zone.",
)

TODAY = PatrolQuery(
    "today",
    TodayRequest,
    TodayReply,
    False,
    "The asking SSO's day: next windows, unannounced checks, follow-ups due, open concerns.",
)

MISSED = PatrolQuery(
    "missed",
    MissedRequest,
    MissedReply,
    False,
    "The school's misses: today's missed checks and welfare re-checks missed in 7 days.",
)

PLAN = PatrolQuery(
    "plan",
    PlanRequest,
    PlanReply,
    False,
    "The school's announced check windows over up to 31 days (an SSO's calendar feed).",
)

DAY_TYPES = PatrolQuery(
    "day_types",
    DayTypesRequest,
    DayTypesReply,
    False,
    "The confirmed day types the patrol service plans by, from a day on (the console).",
)

SENSOR_CHECKS = PatrolQuery(
    "sensor_checks",
    SensorChecksRequest,
    SensorChecksReply,
    False,
    "Today's sensor alerts by kind: how many, checked in time, median response, not checked.",
)

QUERIES: tuple[PatrolQuery, ...] = (
    OPEN_CONCERNS,
    ZONE_STATUS,
    SHIFT_SUMMARY,
    TOUR_STATS,
    HOTSPOTS,
    FOCUS,
    DETERRENCE,
    TODAY,
    MISSED,
    PLAN,
    DAY_TYPES,
    SENSOR_CHECKS,
)
BY_NAME: dict[str, PatrolQuery] = {q.name: q for q in QUERIES}
