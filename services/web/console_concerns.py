"""The console's concerns page (`/console/concerns`): the school's open concerns for the people
with a legitimate educational interest in them (`GET /api/v1/console/concerns`), and where
trouble gathers — the hotspots of the last four weeks and next week's patrol focus
(`GET /api/v1/console/hotspots`) — asked of the patrol service as the signed-in person.

Open concerns carry student references (opaque ids, never names) and are shown to the roles
that ask the patrol service (principal, assistant principal, counselor; not district safety):
the patrol service access-logs every reading under the caller, so the FERPA log says who read.
Note text never leaves the patrol service. Everything else is in words (zones, bell periods,
categories, people), as the weekly email says it (lookout/school/words.py)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from lookout.contracts.patrol import Severity
from lookout.contracts.patrol_queries import (
    FOCUS,
    HOTSPOTS,
    OPEN_CONCERNS,
    FocusReply,
    FocusRequest,
    HotspotsReply,
    HotspotsRequest,
    OpenConcernsReply,
    OpenConcernsRequest,
)
from lookout.school import words
from lookout.school.config import SchoolConfig
from services.web import asking
from services.web.console_overview import (
    PROBLEMS,
    AreaChoice,
    AreaParam,
    ConsoleReader,
    area_choices,
    asks_patrol,
    check_area,
    minutes,
)
from services.web.deps import Caller, PageCaller, State, WebState
from services.web.domain import has_console
from services.web.pages import page_context, render
from services.web.problems import Problem
from services.web.roster import GradeCount, by_grade

router = APIRouter(tags=["console"])

CONCERNS_SHOWN = 200
HOTSPOT_WEEKS = 4
HOTSPOTS_SHOWN = 10
FOCUS_SHOWN = 10


class ConcernLine(BaseModel):
    """One open concern as the console lists it: references, never names or notes."""

    concern_id: str
    category: str = Field(description="In words, e.g. 'emotional distress'.")
    severity: Severity
    zone_name: str = Field(description="The zone's name, or 'no zone given'.")
    students: list[str] = Field(description="Opaque student references (the school's format).")
    raised_by: str = Field(description="Who raised it: a name, or the SSO phone's id.")
    raised_at: datetime
    updated_at: datetime
    age_minutes: int = Field(ge=0, description="Minutes from `raised_at` to `as_of`.")


class OpenConcerns(BaseModel):
    concerns: list[ConcernLine] = Field(
        max_length=CONCERNS_SHOWN, description="Most severe first, then oldest first."
    )
    total: int = Field(ge=0, description="Open concerns in all (may exceed those listed).")
    access_logged: bool = Field(
        default=True, description="This reading is on the patrol service's access log."
    )
    by_grade: list[GradeCount] = Field(
        default_factory=list,
        description="The students these concerns name, counted by their grade on the school's "
        "roster (empty without one); never a name.",
    )
    as_of: datetime


class HotspotLine(BaseModel):
    zone_name: str
    period: str = Field(description="The bell period in words, with its times.")
    what: str = Field(description="What happened there, e.g. '3 concerns (vaping 2, …)'.")
    per_school_day: float = Field(ge=0, description="The weighted count per school day.")
    in_plan: bool = Field(description="The patrol plan already checks this zone then.")


class FocusLine(BaseModel):
    zone_name: str
    period: str
    reason: str = Field(description="Why the patrol service recommends it.")


class AreaHotspotLine(BaseModel):
    area_id: str
    name: str
    per_school_day: float = Field(
        ge=0, description="Its zones' weighted count per school day (as a hotspot's)."
    )
    what: str = Field(description="e.g. '3 concerns, 1 observation'.")


class Hotspots(BaseModel):
    window_start: date
    window_end: date = Field(description="The last day of the window, included.")
    school_days: int = Field(ge=0)
    hotspots: list[HotspotLine] = Field(max_length=HOTSPOTS_SHOWN, description="Worst first.")
    focus_week: str = Field(description="The ISO week the focus is for (next week).")
    focus: list[FocusLine] = Field(max_length=FOCUS_SHOWN)
    area: str | None = Field(default=None, description="The area asked for (`?area=`), if any.")
    areas: list[AreaChoice] = Field(default_factory=list, description="The school's areas.")
    by_area: list[AreaHotspotLine] = Field(
        default_factory=list, description="The hotspots rolled up by building and floor."
    )


def _patrol_reader(caller: Caller) -> None:
    if not asks_patrol(caller.person.roles):
        raise Problem(403, "Not for this role", "role: does not ask the patrol service")


def _raised_by(school: SchoolConfig, kind: str, who: str) -> str:
    if kind == "sso_device":
        return f"an SSO's phone ({who})"
    return next((p.name for p in school.people if p.id == who), who)


def _counts(by_category: dict[str, int]) -> str:
    ranked = sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{words.category(k)} {n}" for k, n in ranked if n)


def _what(concerns: int, by_concern: dict[str, int], seen: int, by_seen: dict[str, int]) -> str:
    parts = []
    if concerns:
        parts.append(f"{words.plural(concerns, 'concern')} ({_counts(by_concern)})")
    if seen:
        parts.append(f"{words.plural(seen, 'observation')} ({_counts(by_seen)})")
    return "; ".join(parts) or "nothing recorded"


def next_iso_week(today: date) -> str:
    year, week, _ = (today + timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


@router.get(
    "/api/v1/console/concerns",
    response_model=OpenConcerns,
    summary="The school's open concerns (access-logged)",
    responses=PROBLEMS,
)
async def open_concerns(caller: ConsoleReader, state: State) -> OpenConcerns:
    """Every open concern, most severe first, then oldest first (at most 200), with the
    students' references; the patrol service logs this reading under the caller."""
    _patrol_reader(caller)
    school, me = caller.school, caller.person.id
    found = await asking.answer(
        state,
        "patrol",
        OPEN_CONCERNS.subject(school.id, me),
        OpenConcernsRequest(requested_by=me, limit=CONCERNS_SHOWN),
        OpenConcernsReply,
    )
    now = state.suite_clock.now()
    return OpenConcerns(
        concerns=[
            ConcernLine(
                concern_id=str(c.concern_id),
                category=words.category(c.category),
                severity=c.severity,
                zone_name=words.zone(school, c.zone_id),
                students=list(c.student_refs),
                raised_by=_raised_by(school, c.raised_by_kind, c.raised_by),
                raised_at=c.raised_at,
                updated_at=c.updated_at,
                age_minutes=minutes(c.raised_at, now),
            )
            for c in found.concerns
        ],
        total=found.total,
        by_grade=await by_grade(
            state, school.id, (ref for c in found.concerns for ref in c.student_refs)
        ),
        as_of=now,
    )


async def _hotspots(
    state: WebState, caller: Caller, today: date, area: str | None = None
) -> tuple[HotspotsReply, FocusReply]:
    school, me = caller.school, caller.person.id
    hot, focus = await asyncio.gather(
        asking.ask(
            state,
            "patrol",
            HOTSPOTS.subject(school.id, me),
            HotspotsRequest(
                requested_by=me,
                as_of=today,
                weeks=HOTSPOT_WEEKS,
                limit=HOTSPOTS_SHOWN,
                area=area,
            ),
        ),
        asking.ask(
            state,
            "patrol",
            FOCUS.subject(school.id, me),
            FocusRequest(requested_by=me, week=next_iso_week(today), limit=FOCUS_SHOWN),
        ),
    )
    return asking.read("patrol", HotspotsReply, hot), asking.read("patrol", FocusReply, focus)


@router.get(
    "/api/v1/console/hotspots",
    response_model=Hotspots,
    summary="Hotspots of the last four weeks and next week's patrol focus",
    responses={**PROBLEMS, 422: {"description": "area: not an area of this school"}},
)
async def hotspots(caller: ConsoleReader, state: State, area: AreaParam = None) -> Hotspots:
    """Where and when concerns and observations gathered in the last four weeks (worst first),
    with `area` only under that building or floor, rolled up by area; and what the patrol
    service recommends for next week (the whole school), in words."""
    _patrol_reader(caller)
    school = caller.school
    check_area(school, area)
    today = state.suite_clock.now().astimezone(school.tz).date()
    hot, focus = await _hotspots(state, caller, today, area)
    names = {a.id: a.name for a in school.areas}
    return Hotspots(
        window_start=hot.window_start,
        window_end=hot.window_end,
        school_days=hot.school_days,
        hotspots=[
            HotspotLine(
                zone_name=words.zone(school, h.zone_id),
                period=words.period(school, h.period),
                what=_what(
                    h.concerns,
                    dict(h.concerns_by_category),
                    h.observations,
                    dict(h.observations_by_category),
                ),
                per_school_day=round(h.score, 2),
                in_plan=h.in_plan,
            )
            for h in hot.items
        ],
        focus_week=focus.week,
        focus=[
            FocusLine(
                zone_name=words.zone(school, f.zone_id),
                period=words.period(school, f.period),
                reason=f.reason,
            )
            for f in focus.items
        ],
        area=area,
        areas=area_choices(school),
        by_area=[
            AreaHotspotLine(
                area_id=a.area_id,
                name=names[a.area_id],
                per_school_day=a.score,
                what=f"{words.plural(a.concerns, 'concern')}, "
                f"{words.plural(a.observations, 'observation')}",
            )
            for a in hot.areas
        ],
    )


@router.get("/console/concerns", response_class=HTMLResponse, summary="Concerns and hotspots")
async def concerns_page(request: Request, caller: PageCaller, state: State) -> Response:
    """The page; console_concerns.js fills it from the two routes above. 404 for a role
    that does not read open concerns (as /console is for a role without a console)."""
    if not (has_console(caller.person.roles) and asks_patrol(caller.person.roles)):
        raise Problem(404, "Not found")
    return render(request, state, "console_concerns.html", page_context(caller, state))
