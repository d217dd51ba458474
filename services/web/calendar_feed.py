"""An SSO's patrol plan as an iCalendar feed their own calendar app subscribes to:
`GET /calendar/<school>/<person>/<token>.ics` (the token is the key: a calendar app cannot sign
in; lookout/kernel/feed_links.py), and `GET /api/v1/calendar/feed` for the signed-in SSO's own
address. The windows come from the patrol service (`query.<school>.patrol.plan.<person>`): the
announced ones of the next two weeks, by each day's bell (confirmed early releases and no-school
days included), never the unannounced checks. Places and times only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Response
from icalendar import Calendar, Event
from pydantic import BaseModel, Field

from lookout.contracts.patrol_queries import PLAN, PlanReply, PlanRequest, PlanWindow
from lookout.kernel.feed_links import feed_secret, feed_url, token_matches
from lookout.school.config import Person, Role, SchoolConfig
from services.web import asking
from services.web.deps import ApiCaller, State
from services.web.problems import Problem

router = APIRouter(tags=["calendar"])

FEED_DAYS = 14
# Calendar apps poll on their own schedule (Google: hours); ask them not to keep it longer.
FEED_CACHE = "private, max-age=900"


def render_feed(
    school: SchoolConfig, person: Person, windows: list[PlanWindow], now: datetime
) -> bytes:
    """The windows as a VCALENDAR: one event per window, its UID stable across polls (the
    school, zone and start), so an app updates an event rather than adding another."""
    cal = Calendar()
    cal.add("prodid", "-//Lookout//patrol plan//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Patrol plan: {person.name} ({school.name})")
    cal.add("x-wr-timezone", school.timezone)
    cal.add("refresh-interval;value=duration", "PT1H")
    for w in windows:
        event = Event()
        event.add(
            "uid", f"{school.id}-{w.zone_id}-{w.start.astimezone(UTC):%Y%m%dT%H%M%SZ}@lookout"
        )
        # In UTC (`Z`): every app reads it alike, whatever zone object the reply parsed into.
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", w.start.astimezone(UTC))
        event.add("dtend", w.end.astimezone(UTC))
        event.add("summary", f"Check {w.zone_name}")
        event.add("location", w.zone_name)
        period = f" ({w.period})" if w.period else ""
        event.add(
            "description",
            f"Scan a checkpoint of {w.zone_name}{period}; a scan up to "
            f"{w.grace_minutes} min after the end counts as late.",
        )
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return bytes(cal.to_ical())


def _officer(school: SchoolConfig | None, person_id: str) -> Person | None:
    if school is None:
        return None
    person = next((p for p in school.people if p.id == person_id), None)
    return person if person is not None and Role.SSO in person.roles else None


@router.get(
    "/calendar/{school_id}/{person_id}/{token}.ics",
    response_class=Response,
    summary="An SSO's announced check windows as an iCalendar feed",
    responses={
        200: {"content": {"text/calendar": {}}, "description": "The next two weeks"},
        404: {"description": "No such feed (a wrong token says no more than that)"},
        503: {"description": "The patrol service did not answer"},
    },
)
async def feed(school_id: str, person_id: str, token: str, state: State) -> Response:
    """The next 14 days of the school's announced windows, for the SSO the address was made for
    (no session: the address is the key)."""
    school = state.schools.get(school_id)
    person = _officer(school, person_id)
    secret = feed_secret(state.settings)
    if school is None or person is None or not token_matches(secret, school_id, person_id, token):
        raise Problem(404, "Not found")
    now = state.suite_clock.now()
    today = now.astimezone(school.tz).date()
    request = PlanRequest(
        requested_by=person.id, date_from=today, date_to=today + timedelta(days=FEED_DAYS - 1)
    )
    plan = await asking.answer(
        state, "patrol", PLAN.subject(school.id, person.id), request, PlanReply
    )
    return Response(
        render_feed(school, person, plan.windows, now),
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": FEED_CACHE},
    )


class FeedAddress(BaseModel):
    url: str = Field(description="Subscribe to it in a calendar app (keep it to yourself).")


@router.get(
    "/api/v1/calendar/feed",
    response_model=FeedAddress,
    summary="The signed-in SSO's calendar feed address",
    responses={403: {"description": "Only an SSO has a patrol plan feed"}},
)
async def my_feed(caller: ApiCaller, state: State) -> FeedAddress:
    """The address of the caller's own feed (an SSO's only)."""
    if Role.SSO not in caller.person.roles:
        raise Problem(403, "Not for this role", "role: only an SSO has a patrol plan feed")
    return FeedAddress(url=feed_url(state.settings, caller.school.id, caller.person.id))
