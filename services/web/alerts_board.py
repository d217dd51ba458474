"""The principal's console's alert board: `/api/v1/alerts…`, asked of the alerts service over
request-reply (`query|command.<school>.alerts.<name>.<person>`, the person being the signed-in
caller, never a field the browser sends), and its live stream. Who may: the roles that ask the
alerts service (`may_request`): principal, assistant principal, counselor, district safety.

The list is the open alerts, most urgent first (severity critical → low, then the oldest),
each with who was told and when (from its timeline: the alerts service's `show`, which logs the
reading as the caller). A resolution's outcome note goes to the alerts service and is never
answered back, logged or kept here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from lookout.contracts.alerts import (
    AckRequest,
    AlertDetail,
    AlertList,
    AlertSummary,
    ListRequest,
    ResolveRequest,
    ShowRequest,
    TimelineEntry,
)
from lookout.contracts.envelope import Note
from lookout.contracts.patrol import Severity
from lookout.kernel.queries import command_subject, query_subject
from lookout.school.config import SchoolConfig
from lookout.school.permissions import may_request
from services.web import asking
from services.web.deps import ApiCaller, Caller, CsrfCaller, State, WebState
from services.web.live import PING_SECONDS, Hub, stream_events
from services.web.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["alerts"])

LIST_LIMIT = 200  # asked of the alerts service (newest first), then ordered by urgency
BOARD_LIMIT = 50  # shown: the most urgent; `total` says how many are open
URGENCY = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
M = TypeVar("M", bound=BaseModel)


async def alert_reader(caller: ApiCaller) -> Caller:
    """A signed-in person whose role asks the alerts service, as their NATS user may."""
    if not may_request(caller.person.roles, "query", "alerts"):
        raise Problem(403, "Not for this role", "role: does not ask the alerts service")
    return caller


async def alert_actor(caller: CsrfCaller) -> Caller:
    """The same, for a change (acknowledge, resolve): CSRF and Origin checked first."""
    if not may_request(caller.person.roles, "command", "alerts"):
        raise Problem(403, "Not for this role", "role: does not command the alerts service")
    return caller


AlertReader = Annotated[Caller, Depends(alert_reader)]
AlertActor = Annotated[Caller, Depends(alert_actor)]


# --- what the board answers -------------------------------------------------------------------


class Notified(BaseModel):
    """One person told through one channel: when first, and how it went last."""

    person_id: str
    name: str | None = Field(description="From the school file; None for someone no longer in it.")
    channel: str | None = Field(description="nats (their Lookout client) or email.")
    at: datetime = Field(description="When they were first told through this channel.")
    outcome: str | None = Field(description="queued, delivered, failed or rate_limited.")


class BoardAlert(AlertSummary):
    """An open alert as the board shows it: the summary, the zone's name, who was told."""

    zone_name: str | None = Field(description="The zone's name in the school file.")
    acknowledged_by_name: str | None = None
    notified: list[Notified] = Field(description="Everyone told, in the order they were told.")


class Board(BaseModel):
    alerts: list[BoardAlert] = Field(max_length=BOARD_LIMIT)
    total: int = Field(ge=0, description="Open alerts found (at most the lookup's bound).")
    as_of: datetime = Field(description="The suite's time of this answer.")


class BoardEntry(TimelineEntry):
    name: str | None = Field(default=None, description="The person's name, if a person.")


class AlertShown(BaseModel):
    """One alert and its whole timeline (the outcome note is not shown on the console)."""

    alert: BoardAlert
    timeline: list[BoardEntry]


class Resolution(BaseModel):
    note: Note = Field(description="What was done: required, never shown back or logged.")


# --- asking the alerts service ---------------------------------------------------------------


def _alerts_refusal(error: str) -> Problem | None:
    # The alerts service's errors name fields, never values (a note is never in them).
    if error.startswith("alert_id: no such alert"):
        return Problem(404, "Not found", "alert_id: no such alert in this school")
    if error.endswith("already resolved"):
        return Problem(409, "Alert already resolved", "alert_id: already resolved")
    return None


async def _ask(state: WebState, subject: str, request: BaseModel) -> Any:
    """The alerts service's `result`, or a problem: 503 when it does not answer in time, 404
    for an alert not in the caller's school, 409 for one that cannot change, 502 otherwise."""
    return await asking.ask(state, "alerts", subject, request, _alerts_refusal)


def _read(model: type[M], result: Any) -> M:
    return asking.read("alerts", model, result)


def _names(school: SchoolConfig) -> dict[str, str]:
    return {p.id: p.name for p in school.people}


def _notified(timeline: list[TimelineEntry], names: dict[str, str]) -> list[Notified]:
    told: dict[tuple[str, str | None], Notified] = {}
    for entry in timeline:
        if entry.kind != "notified" or entry.person_id is None:
            continue
        key = (entry.person_id, entry.channel)
        first = told.get(key)
        told[key] = Notified(
            person_id=entry.person_id,
            name=names.get(entry.person_id),
            channel=entry.channel,
            at=first.at if first else entry.at,
            outcome=entry.outcome,
        )
    return list(told.values())


def _card(summary: AlertSummary, school: SchoolConfig, timeline: list[TimelineEntry]) -> BoardAlert:
    names = _names(school)
    zones = {z.id: z.name for z in school.zones}
    return BoardAlert(
        **summary.model_dump(exclude={"notifications"}),
        zone_name=zones.get(summary.zone_id) if summary.zone_id else None,
        acknowledged_by_name=names.get(summary.acknowledged_by or ""),
        notified=_notified(timeline, names),
    )


def urgency(alert: AlertSummary) -> tuple[int, datetime]:
    """Critical first, then high, medium, low; within one severity the oldest first."""
    return URGENCY.get(alert.severity, len(URGENCY)), alert.opened_at


async def _show(state: WebState, caller: Caller, alert_id: uuid.UUID) -> AlertDetail:
    request = ShowRequest(alert_id=alert_id, by_person_id=caller.person.id)
    subject = query_subject(caller.school.id, "alerts", "show", caller.person.id)
    return _read(AlertDetail, await _ask(state, subject, request))


# --- the routes -------------------------------------------------------------------------------

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "The caller's role does not ask the alerts service (or CSRF refused)"},
    502: {"description": "The alerts service refused the request"},
    503: {"description": "The alerts service did not answer"},
}


@router.get("/alerts", response_model=Board, summary="The open alerts", responses=PROBLEMS)
async def board(caller: AlertReader, state: State) -> Board:
    """The caller's school's open alerts, most urgent first (at most 50), each with who was
    told and when. One question to the alerts service, whatever the board's size: the list
    carries each alert's notifications (no `show` per alert, so no access-log row per card)."""
    subject = query_subject(caller.school.id, "alerts", "list", caller.person.id)
    asked = ListRequest(limit=LIST_LIMIT, with_notified=True)
    found = _read(AlertList, await _ask(state, subject, asked))
    shown = sorted(found.alerts, key=urgency)[:BOARD_LIMIT]
    return Board(
        alerts=[_card(a, caller.school, a.notifications or []) for a in shown],
        total=len(found.alerts),
        as_of=state.suite_clock.now(),
    )


@router.get(
    "/alerts/live",
    summary="Live updates for the alert board (Server-Sent Events)",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`hello`, then `alerts` when an alert of the school opens, escalates, "
            "is notified, acknowledged or resolved (ask the board again); `ended` with why",
        },
        401: {"description": "Not signed in"},
        403: {"description": "The caller's role does not ask the alerts service"},
    },
)
async def live(caller: AlertReader, hub: Hub) -> EventSourceResponse:
    """An `alerts` nudge (naming only the event's type) when the board's answer changed."""
    stream = hub.open(caller.school.id, caller.person.id, nudges=("alerts",))
    return EventSourceResponse(stream_events(hub, stream), ping=PING_SECONDS)


@router.get(
    "/alerts/{alert_id}",
    response_model=AlertShown,
    summary="One alert and its timeline",
    responses={**PROBLEMS, 404: {"description": "No such alert in the caller's school"}},
)
async def show(alert_id: uuid.UUID, caller: AlertReader, state: State) -> AlertShown:
    """The alert (open or not) with every step of its timeline; its outcome note is not
    shown here. Another school's alert is a 404."""
    detail = await _show(state, caller, alert_id)
    names = _names(caller.school)
    return AlertShown(
        alert=_card(detail.alert, caller.school, detail.timeline),
        timeline=[
            BoardEntry(**e.model_dump(), name=names.get(e.person_id or "")) for e in detail.timeline
        ],
    )


CHANGE_PROBLEMS = {
    **PROBLEMS,
    404: {"description": "No such alert in the caller's school"},
    409: {"description": "The alert is already resolved"},
}


@router.post(
    "/alerts/{alert_id}/ack",
    response_model=BoardAlert,
    summary="Acknowledge an alert",
    responses=CHANGE_PROBLEMS,
)
async def acknowledge(alert_id: uuid.UUID, caller: AlertActor, state: State) -> BoardAlert:
    """Escalation stops; it re-triggers after the policy's ack timeout unless resolved."""
    request = AckRequest(alert_id=alert_id, by_person_id=caller.person.id)
    subject = command_subject(caller.school.id, "alerts", "ack", caller.person.id)
    return _card(_read(AlertSummary, await _ask(state, subject, request)), caller.school, [])


@router.post(
    "/alerts/{alert_id}/resolve",
    response_model=BoardAlert,
    summary="Resolve an alert with an outcome note",
    responses={**CHANGE_PROBLEMS, 422: {"description": "note: missing or blank"}},
)
async def resolve(
    alert_id: uuid.UUID, resolution: Resolution, caller: AlertActor, state: State
) -> BoardAlert:
    """Closes the alert; the note (required) goes to the alerts service only."""
    if not resolution.note.strip():
        raise Problem(422, "Invalid request", "note: an outcome note is required")
    request = ResolveRequest(alert_id=alert_id, by_person_id=caller.person.id, note=resolution.note)
    subject = command_subject(caller.school.id, "alerts", "resolve", caller.person.id)
    return _card(_read(AlertSummary, await _ask(state, subject, request)), caller.school, [])
