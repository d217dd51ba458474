"""`GET /api/v1/live`: what changes the SSO's Today screen, pushed to the phone over Server-Sent
Events the moment the patrol service says so.

- `unannounced_check` and `follow_up_due` are addressed to one officer
  (`patrol.<school>.sso.<officer>.…`) and go to that officer's streams only, in their school only;
- `today` names no data: something changed the Today answer for the school (a window closed or
  was recovered, a re-check done or missed, a concern raised, updated or resolved, an alert
  acknowledged or resolved), or for one person (`alert.<school>.notify.<person>`: a step of an
  alert reached them, and their Today lists the alerts they were paged for), and the phone
  asks `GET /api/v1/today` again through the normal access checks;
- `hello` opens every stream (the phone fetches Today then: whatever was pushed while it was
  away is in that answer), `ended` says why the server closed it;
- `visitors`, on the front desk's streams only (`GET /api/v1/visitors/live`, front_desk.py), names
  no data: a visitor of the school checked in or out, was flagged, overdue, out of bounds or
  unaccounted, and the desk asks `GET /api/v1/visitors/roster` again (sightings are not heard:
  the web publishes them itself, many a day, and they move no one on or off the roster);
- `alerts`, on the console's streams only (`GET /api/v1/alerts/live`, alerts_board.py), names
  no data either: an alert of the school opened, escalated, was notified, acknowledged or
  resolved, and the console asks `GET /api/v1/alerts` again.

The web service listens with a **core NATS subscription**, not a JetStream consumer: the
Today query is the source of truth and a push is only a hint to ask it sooner, so a message
missed while the web service was down or reconnecting costs nothing (the phone asks again on
every new stream). Core subscriptions keep no server-side state, and every web replica hears
every message (no queue group), which is what SSE needs: an officer's stream may be held by any
replica. An ordered consumer would add a JetStream consumer per replica and replay for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from sse_starlette import EventSourceResponse, ServerSentEvent

from lookout.contracts import alerts, patrol, visitors
from lookout.contracts.envelope import Event
from lookout.contracts.subjects import BY_MODEL, InvalidEvent, parse_event
from services.web.problems import Problem
from services.web.today import PatrolAsker

log = logging.getLogger("lookout.web.live")

router = APIRouter(prefix="/api/v1", tags=["live"])

MAX_STREAMS_PER_PERSON = 3  # a phone and a couple of tabs; a newer stream ends the oldest
QUEUE_SIZE = 64  # a stream this far behind is ended: the phone reconnects and asks Today again
STREAM_SECONDS = 300.0  # then the phone reconnects, and its session is judged again
RETRY_MS = 3000  # how long EventSource waits before reconnecting
PING_SECONDS = 15  # a comment line that keeps proxies from closing a quiet stream

# Addressed to one officer: the SSE event name and the fields the phone needs.
ADDRESSED: dict[type[Event], tuple[str, tuple[str, ...]]] = {
    patrol.UnannouncedCheckScheduled: ("unannounced_check", ("zone_id", "check_at", "window_end")),
    patrol.FollowUpDue: ("follow_up_due", ("concern_id", "zone_id", "due_at")),
    patrol.SensorCheckAssigned: (
        "sensor_check",
        ("zone_id", "sensor_event_id", "sensor_kind", "raised_at", "check_by"),
    ),
}
# What changes the school's Today answers: a `today` nudge to its streams.
NUDGES: tuple[type[Event], ...] = (
    patrol.CheckWindowClosed,
    patrol.CheckRecovered,
    patrol.FollowUpCompleted,
    patrol.FollowUpMissed,
    patrol.ConcernRaised,
    patrol.ConcernUpdated,
    patrol.ConcernResolved,
    patrol.SensorCheckDone,
    patrol.SensorCheckMissed,
)
# What changes a school's alert board: an `alerts` nudge to the console streams of that school.
ALERT_NUDGES: tuple[type[Event], ...] = (
    alerts.AlertOpened,
    alerts.AlertEscalated,
    alerts.AlertNotified,
    alerts.AlertAcknowledged,
    alerts.AlertResolved,
)
# Of those, what also changes officers' Today: who acknowledged or resolved the alert of a
# concern they raised or of one they were paged for (loop closure; the patrol service keeps it
# for the `today` answer).
CLOSES_THE_LOOP: tuple[type[Event], ...] = (alerts.AlertAcknowledged, alerts.AlertResolved)


def _closes_the_loop(event: Event) -> bool:
    """An alert's outcome, or a concern's alert opening (others' openings change no Today)."""
    if isinstance(event, alerts.AlertOpened):
        return event.source == alerts.AlertSource.CONCERN
    return isinstance(event, CLOSES_THE_LOOP)


# A step of an alert reached one person (`alert.<school>.notify.<person>`): a `today` nudge to
# that person's phone, whose Today lists the alerts they were paged for.
PAGES: tuple[type[Event], ...] = (alerts.AlertNotification,)

# What changes a school's on-site roster: a `visitors` nudge to the front desk's streams.
VISITOR_NUDGES: tuple[type[Event], ...] = (
    visitors.VisitorCheckedIn,
    visitors.VisitorCheckedOut,
    visitors.ScreeningFlagged,
    visitors.VisitorOverdue,
    visitors.VisitorOutOfBounds,
    visitors.VisitorUnaccounted,
    visitors.DrillStarted,
    visitors.VisitorAccountedFor,
    visitors.DrillEnded,
)


@dataclass(frozen=True)
class Push:
    """One SSE message: its event name and JSON data (ids, zones and times only)."""

    event: str
    data: str


@dataclass(eq=False)
class Stream:
    """One open SSE connection of one person."""

    school_id: str
    person_id: str
    # Bounded by `offer` (QUEUE_SIZE); None, put by `end`, says the stream is over.
    queue: asyncio.Queue[Push | None] = field(default_factory=asyncio.Queue)
    ended: str | None = None  # why the server ended it
    # The phone's; a console's: {"alerts"}; the front desk's: {"visitors"}.
    nudges: frozenset[str] = frozenset({"today"})
    waiting: set[str] = field(default_factory=set)  # nudges already queued: one of each is enough

    def offer(self, push: Push) -> None:
        if self.ended is not None:
            return
        if push.event in self.nudges:
            if push.event in self.waiting:
                return
            self.waiting.add(push.event)
        if self.queue.qsize() >= QUEUE_SIZE:
            self.end("lagging")
            return
        self.queue.put_nowait(push)

    def end(self, reason: str) -> None:
        if self.ended is None:
            self.ended = reason
            self.queue.put_nowait(None)

    async def next(self) -> Push | None:
        """The next push; None when the stream has ended."""
        push = await self.queue.get()
        if push is not None:
            self.waiting.discard(push.event)
        return push


class LiveHub:
    """The open streams by (school, person), and the NATS subscriptions that feed them."""

    def __init__(self, school_ids: Iterable[str], *, per_person: int = MAX_STREAMS_PER_PERSON):
        self.school_ids = tuple(school_ids)
        self.per_person = per_person
        self.streams: dict[tuple[str, str], list[Stream]] = {}
        self.subscriptions: list[Subscription] = []

    def subjects(self) -> list[str]:
        """This web service's schools only: what it listens to is fenced like its people. The
        web's NATS user may subscribe to exactly these (lookout/deploy/nats.py `WEB_HEARS`; a
        unit test keeps the two equal)."""
        return [
            BY_MODEL[model].for_school(
                school, **{p: "*" for p in BY_MODEL[model].placeholders if p != "school"}
            )
            for school in self.school_ids
            for model in (*ADDRESSED, *NUDGES, *ALERT_NUDGES, *PAGES, *VISITOR_NUDGES)
        ]

    async def start(self, nc: Client) -> None:
        for subject in self.subjects():
            self.subscriptions.append(await nc.subscribe(subject, cb=self._on_message))

    async def stop(self) -> None:
        for sub in self.subscriptions:
            with contextlib.suppress(Exception):  # the connection is going anyway
                await sub.unsubscribe()
        self.subscriptions.clear()
        self.end_all("stopping")

    def end_all(self, reason: str) -> None:
        for streams in list(self.streams.values()):
            for stream in list(streams):
                stream.end(reason)

    def open(self, school_id: str, person_id: str, nudges: Iterable[str] = ("today",)) -> Stream:
        """A new stream of this person, hearing `nudges`; past the bound, their oldest one is
        ended."""
        mine = self.streams.setdefault((school_id, person_id), [])
        while len(mine) >= self.per_person:
            mine.pop(0).end("replaced")
        stream = Stream(school_id, person_id, nudges=frozenset(nudges))
        mine.append(stream)
        return stream

    def close(self, stream: Stream) -> None:
        key = (stream.school_id, stream.person_id)
        mine = self.streams.get(key, [])
        if stream in mine:
            mine.remove(stream)
        if not mine:
            self.streams.pop(key, None)

    def count(self, school_id: str, person_id: str) -> int:
        return len(self.streams.get((school_id, person_id), []))

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = parse_event(msg.subject, msg.data)
        except InvalidEvent as exc:  # the reason names fields, never values
            log.warning("event=live_message_refused subject_kind=%s reason=%s", _kind(msg), exc)
            return
        self.route(event)

    def route(self, event: Event) -> None:
        if event.school_id not in self.school_ids:
            return
        addressed = ADDRESSED.get(type(event))
        if addressed is not None:
            name, fields = addressed
            data = {"event_id": str(event.event_id)} | {f: _json(getattr(event, f)) for f in fields}
            push = Push(name, json.dumps(data))
            officer = str(event.officer_id)  # type: ignore[attr-defined]
            for stream in self.streams.get((event.school_id, officer), []):
                stream.offer(push)
            if isinstance(event, patrol.SensorCheckAssigned):
                # A new sensor alert changes every SSO's Today (it lists the school's unchecked
                # ones) and the consoles' School now (today's by kind); the asked SSO heard it.
                push = Push("today", json.dumps({"because": event.type}))
                self._nudge(event.school_id, push, besides=officer)
        elif isinstance(event, NUDGES):
            self._nudge(event.school_id, Push("today", json.dumps({"because": event.type})))
        elif isinstance(event, ALERT_NUDGES):
            self._nudge(event.school_id, Push("alerts", json.dumps({"because": event.type})))
            if _closes_the_loop(event):  # the raiser's and the paged's Today show who has it
                # Not to a stream that heard `alerts` just now: a console asks both again.
                push = Push("today", json.dumps({"because": event.type}))
                self._nudge(event.school_id, push, unless="alerts")
        elif isinstance(event, alerts.AlertNotification):  # the paged officer's Today lists it
            push = Push("today", json.dumps({"because": event.type}))
            for stream in self.streams.get((event.school_id, event.person_id), []):
                if "today" in stream.nudges and "alerts" not in stream.nudges:
                    stream.offer(push)
        elif isinstance(event, VISITOR_NUDGES):
            self._nudge(event.school_id, Push("visitors", json.dumps({"because": event.type})))

    def _nudge(
        self, school_id: str, nudge: Push, unless: str | None = None, besides: str | None = None
    ) -> None:
        """To every stream of the school that hears this kind of nudge (and not `unless`), but
        the streams of the person `besides`."""
        for (school, person), streams in self.streams.items():
            if school == school_id and person != besides:
                for stream in streams:
                    if nudge.event in stream.nudges and unless not in stream.nudges:
                        stream.offer(nudge)


def _json(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def _kind(msg: Msg) -> str:
    """The subject without its school and person tokens (those are ids, but keep logs lean)."""
    tokens = msg.subject.split(".")
    return ".".join([tokens[0], *tokens[-2:]]) if len(tokens) > 2 else "?"


async def live_hub(request: Request) -> LiveHub:
    hub: LiveHub | None = getattr(request.app.state, "live", None)
    if hub is None:
        raise Problem(503, "Live updates unavailable", "retry later")
    return hub


Hub = Annotated[LiveHub, Depends(live_hub)]


@router.get(
    "/live",
    summary="Live updates for the SSO's Today screen (Server-Sent Events)",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`hello`, then `unannounced_check`, `follow_up_due`, `today`; "
            "`ended` with the reason when the server closes it",
        },
        401: {"description": "Not signed in, or the session is locked"},
        403: {"description": "The caller's role does not ask the patrol service"},
    },
)
async def live(caller: PatrolAsker, hub: Hub) -> EventSourceResponse:
    """The caller's stream: only what is addressed to them, only in their school. It ends
    after a few minutes (the phone reconnects and its session is judged again)."""
    stream = hub.open(caller.school.id, caller.person.id)
    return EventSourceResponse(stream_events(hub, stream), ping=PING_SECONDS)


async def stream_events(
    hub: LiveHub, stream: Stream, lifetime: float = STREAM_SECONDS
) -> AsyncIterator[ServerSentEvent]:
    """An open stream as Server-Sent Events (a phone's or a console's): `hello`, what is
    pushed, `ended`; closed after `lifetime` so the session is judged again."""
    deadline = asyncio.get_running_loop().time() + lifetime
    try:
        yield ServerSentEvent(event="hello", data="{}", retry=RETRY_MS)
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    push = await stream.next()
            except TimeoutError:
                return  # EventSource reconnects: the session is judged again
            if push is None:
                yield ServerSentEvent(event="ended", data=json.dumps({"reason": stream.ended}))
                return
            yield ServerSentEvent(event=push.event, data=push.data)
    finally:
        hub.close(stream)
