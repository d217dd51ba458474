"""The console's school calendar: what the district's feed proposes (no school, early release,
late start) beside what is in effect, and a principal's or district safety's confirmation or
withdrawal of a date, published as `school.<school>.day_type.confirmed|withdrawn` (answered
after JetStream's PubAck) with the person as the actor — the same events as `lookout calendar`.

The feed is read by the web when the page asks, at most once per `refresh_minutes` per school
(kept in memory meanwhile); what is in effect comes from the patrol service, which plans by it
(`query.<school>.patrol.day_types.<person>`)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from nats.errors import Error as NatsError
from pydantic import BaseModel, ConfigDict, Field

from lookout.contracts.calendar import DayKind, DayTypeConfirmed, DayTypeWithdrawn
from lookout.contracts.envelope import Actor, ActorKind, Event, Token
from lookout.contracts.patrol_queries import DAY_TYPES, DayTypesReply, DayTypesRequest
from lookout.contracts.subjects import BY_TYPE, subject_of
from lookout.kernel.calendar_feed import feed_file, read_feed
from lookout.kernel.messaging import msg_id_headers
from lookout.kernel.settings import load_school
from lookout.school.config import SchoolConfig
from lookout.school.day_types import DayType, ProposedDay
from lookout.school.ical import CalendarError, propose
from services.web import asking
from services.web.deps import ApiCaller, Caller, CsrfCaller, PageCaller, State, WebState
from services.web.domain import confirms_calendar
from services.web.pages import page_context, render
from services.web.problems import Problem

router = APIRouter(prefix="/api/v1/console/calendar", tags=["console"])
page_router = APIRouter(tags=["console"])

PROPOSED_DAYS = 120  # how far ahead the page lists the feed's proposals
PUBLISH_TIMEOUT = 3.0
# Per process, keyed by what they were read from (a deployment's LOOKOUT_SCHOOLS, a feed's file
# or URL), so another configuration never gets a copy of this one's.
_feeds: dict[str, tuple[float, bytes]] = {}  # feed -> (monotonic time read, its bytes)
_files: dict[tuple[str, str], Path] = {}  # (LOOKOUT_SCHOOLS, school id) -> its school file


def calendar_admin(caller: ApiCaller) -> Caller:
    if not confirms_calendar(caller.person.roles):
        raise Problem(
            403, "Not for this role", "role: only a principal or district safety confirms days"
        )
    return caller


CalendarAdmin = Annotated[Caller, Depends(calendar_admin)]


def _school_file(state: WebState, school_id: str) -> Path:
    key = (state.settings.schools, school_id)
    if key not in _files:
        for path in state.settings.school_paths():
            _files[(state.settings.schools, load_school(path).id)] = path
    return _files[key]


async def _feed(state: WebState, school: SchoolConfig) -> bytes:
    assert school.calendar is not None
    path = _school_file(state, school.id)
    source = str(school.calendar.url or feed_file(school.calendar, path))
    held = _feeds.get(source)
    if held is not None and time.monotonic() - held[0] < school.calendar.refresh_minutes * 60:
        return held[1]
    ics = await read_feed(school.calendar, path, wait=5.0)
    _feeds[source] = (time.monotonic(), ics)
    return ics


async def proposals(state: WebState, school: SchoolConfig) -> dict[date, ProposedDay]:
    """The feed's proposals from today on; CalendarError (one line) when it cannot be read."""
    if school.calendar is None:
        raise CalendarError("calendar: the school file names no calendar")
    today = state.suite_clock.now().astimezone(school.tz).date()
    ics = await _feed(state, school)
    last = today + timedelta(days=PROPOSED_DAYS)
    return {p.day: p for p in propose(ics, school.calendar, school.tz, today, last)}


class Day(BaseModel):
    day: date
    day_type: DayKind
    schedule: Token | None = Field(description="The alternate bell (early release, late start).")
    titles: list[str] = Field(default_factory=list, description="The feed's event titles.")
    in_effect: bool = Field(description="Confirmed as it is proposed.")


class CalendarView(BaseModel):
    proposed: list[Day] = Field(description="What the feed proposes from today, in date order.")
    in_effect: list[Day] = Field(description="Confirmed day types from today, in date order.")
    feed_problem: str | None = Field(description="Why the feed could not be read (one line).")


async def _in_effect(state: WebState, caller: Caller) -> dict[date, DayType]:
    school, me = caller.school, caller.person.id
    reply = await asking.answer(
        state, "patrol", DAY_TYPES.subject(school.id, me), DayTypesRequest(requested_by=me),
        DayTypesReply,
    )  # fmt: skip
    return {d.day: DayType(DayKind(d.day_type), d.schedule) for d in reply.days}


@router.get("", response_model=CalendarView, summary="The school calendar's day types")
async def view(caller: CalendarAdmin, state: State) -> CalendarView:
    """The feed's proposals beside the day types in effect (those the patrol service plans by)."""
    current = await _in_effect(state, caller)
    problem = None
    proposed: dict[date, ProposedDay] = {}
    try:
        proposed = await proposals(state, caller.school)
    except CalendarError as exc:
        problem = str(exc)
    return CalendarView(
        proposed=[
            Day(day=d, day_type=p.day_type.kind, schedule=p.day_type.schedule,
                titles=list(p.titles), in_effect=current.get(d) == p.day_type)
            for d, p in sorted(proposed.items())
        ],
        in_effect=[
            Day(day=d, day_type=t.kind, schedule=t.schedule,
                titles=list(proposed[d].titles) if d in proposed else [], in_effect=True)
            for d, t in sorted(current.items())
        ],
        feed_problem=problem,
    )  # fmt: skip


class ConfirmDay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date
    day_type: DayKind | None = Field(
        default=None, description="For a date the feed does not propose (a snow day)."
    )
    schedule: Token | None = Field(default=None, description="With early_release, late_start.")


class WithdrawDay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date


class Changed(BaseModel):
    day: date
    status: str = Field(description="confirmed or withdrawn")


async def _publish(state: WebState, event: Event) -> None:
    if state.js is None:
        raise Problem(503, "Messaging unavailable", "retry later")
    try:
        await state.js.publish(
            subject_of(event),
            event.model_dump_json().encode(),
            headers=msg_id_headers(event),
            stream=BY_TYPE[event.type].stream,
            timeout=PUBLISH_TIMEOUT,
        )
    except (NatsError, TimeoutError) as exc:
        raise Problem(503, "Messaging unavailable", "retry later") from exc


def _actor(caller: Caller) -> Actor:
    return Actor(kind=ActorKind.STAFF, id=caller.person.id)


@router.post("/confirm", response_model=Changed, summary="Confirm a day type")
async def confirm(body: ConfirmDay, caller: CsrfCaller, state: State) -> Changed:
    """Put the feed's proposal for `day` (or the given day type) into effect for every service."""
    calendar_admin(caller)
    school = caller.school
    if body.day_type is None:
        try:
            proposed = await proposals(state, school)
        except CalendarError as exc:
            raise Problem(502, "Calendar feed unreadable", str(exc)) from None
        if body.day not in proposed:
            raise Problem(422, "Invalid request", "day: the feed proposes no day type for it")
        wanted = proposed[body.day].day_type
        titles = [t[:200] for t in proposed[body.day].titles[:10]]
    else:
        if (body.day_type is DayKind.NO_SCHOOL) != (body.schedule is None):
            raise Problem(422, "Invalid request", "schedule: for early release and late start")
        if body.schedule is not None and body.schedule not in school.bell_schedule.alternates:
            raise Problem(422, "Invalid request", "schedule: not an alternate bell of the school")
        wanted, titles = DayType(body.day_type, body.schedule), []
    event = DayTypeConfirmed.new(
        school_id=school.id,
        occurred_at=state.suite_clock.now(),
        actor=_actor(caller),
        day=body.day,
        day_type=wanted.kind,
        schedule=wanted.schedule,
        titles=titles,
    )
    await _publish(state, event)
    return Changed(day=body.day, status="confirmed")


@router.post("/withdraw", response_model=Changed, summary="Withdraw a day type")
async def withdraw(body: WithdrawDay, caller: CsrfCaller, state: State) -> Changed:
    """The date keeps the school file's own bell again."""
    calendar_admin(caller)
    if body.day not in await _in_effect(state, caller):
        raise Problem(422, "Invalid request", "day: no day type in effect to withdraw")
    event = DayTypeWithdrawn.new(
        school_id=caller.school.id,
        occurred_at=state.suite_clock.now(),
        actor=_actor(caller),
        day=body.day,
    )
    await _publish(state, event)
    return Changed(day=body.day, status="withdrawn")


# --- the page ----------------------------------------------------------------------------------

KIND_WORDS = {
    DayKind.NO_SCHOOL: "No school",
    DayKind.EARLY_RELEASE: "Early release",
    DayKind.LATE_START: "Late start",
}


def _line(d: Day) -> dict[str, str | bool]:
    bell = f" ({d.schedule} bell)" if d.schedule else ""
    return {
        "day": d.day.isoformat(),
        "date": f"{d.day:%a} {d.day.day} {d.day:%b %Y}",
        "what": KIND_WORDS[d.day_type] + bell,
        "titles": "; ".join(d.titles),
        "in_effect": d.in_effect,
    }


@page_router.get("/console/calendar", response_class=HTMLResponse, summary="School calendar")
async def calendar_page(request: Request, caller: PageCaller, state: State) -> Response:
    """The feed's proposals and the day types in effect, rendered on the server; the buttons
    post to the API (console_calendar.js) and the page is loaded again."""
    if not confirms_calendar(caller.person.roles):
        raise Problem(404, "Not found")
    found = await view(caller, state)
    context = page_context(caller, state) | {
        "proposed": [_line(d) for d in found.proposed],
        "in_effect": [_line(d) for d in found.in_effect],
        "feed_problem": found.feed_problem,
    }
    return render(request, state, "console_calendar.html", context)
