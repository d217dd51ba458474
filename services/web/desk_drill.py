"""The front desk's evacuation drill (role `front_office`): start a drill, mark each visitor who
was in the building accounted for, see who is still unaccounted for live, and the time to full
accountability when the last one is marked. Asked of the visitors service
(`command|query.<school>.visitors.drill_*|drill.<person>`) as the signed-in caller; the live
page hears the `visitors` nudge (`visitor.<school>.drill_started|accounted_for|drill_ended`)
on `GET /api/v1/visitors/live`. Printable: the list, unaccounted first."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from lookout.contracts.visitors import (
    DrillAccount,
    DrillEnd,
    DrillQuery,
    DrillReply,
    DrillStart,
    DrillVisitor,
)
from lookout.kernel.queries import command_subject, query_subject
from services.web import asking
from services.web.deps import Caller, PageCaller, State, WebState
from services.web.front_desk import PROBLEMS, DeskActor, DeskReader, desk_page, zone_names
from services.web.pages import desk_context, render
from services.web.problems import Problem

router = APIRouter(tags=["front desk"])

ASK_TIMEOUT_SECONDS = 5.0


class DeskDrillVisitor(DrillVisitor):
    destination_names: list[str]
    last_seen_zone_name: str | None
    accounted_by_name: str | None


class DeskDrillState(BaseModel):
    drill_id: uuid.UUID
    started_at: datetime
    started_by_name: str
    ended_at: datetime | None
    end_reason: str | None = Field(description="all_accounted_for or ended_by_staff")
    seconds_to_account: int | None
    accounted: int
    unaccounted: int
    visitors: list[DeskDrillVisitor] = Field(description="Unaccounted for first.")


class DeskDrill(BaseModel):
    as_of: datetime
    drill: DeskDrillState | None = Field(description="The open drill, else the latest; None.")


class MarkAccounted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visit_id: uuid.UUID


def _refusal(error: str) -> Problem | None:
    # The visitors service's refusals name the field (and at most a drill id), never a value.
    if error.startswith("drill_id: no such drill"):
        return Problem(404, "Not found", error[:200])
    if error.endswith("has ended"):
        return Problem(409, "Drill ended", error[:200])
    if ":" in error.split(" ")[0]:
        return Problem(422, "Invalid request", error[:200])
    return None


async def _ask(state: WebState, subject: str, request: BaseModel) -> DrillReply:
    result = await asking.ask(state, "visitors", subject, request, _refusal, ASK_TIMEOUT_SECONDS)
    return asking.read("visitors", DrillReply, result)


def _desk_drill(reply: DrillReply, caller: Caller) -> DeskDrill:
    school = caller.school
    if reply.drill is None:
        return DeskDrill(as_of=reply.as_of, drill=None)
    d = reply.drill
    people = {p.id: p.name for p in school.people}
    zones = {z.id: z.name for z in school.zones}
    visitors = [
        DeskDrillVisitor(
            **v.model_dump(),
            destination_names=zone_names(school, v.destination_zones),
            last_seen_zone_name=zones.get(v.last_seen_zone or ""),
            accounted_by_name=people.get(v.accounted_by, v.accounted_by)
            if v.accounted_by
            else None,
        )
        for v in d.visitors
    ]
    accounted = sum(1 for v in visitors if v.accounted_at is not None)
    return DeskDrill(
        as_of=reply.as_of,
        drill=DeskDrillState(
            drill_id=d.drill_id,
            started_at=d.started_at,
            started_by_name=people.get(d.started_by, d.started_by),
            ended_at=d.ended_at,
            end_reason=d.end_reason.value if d.end_reason else None,
            seconds_to_account=d.seconds_to_account,
            accounted=accounted,
            unaccounted=len(visitors) - accounted,
            visitors=visitors,
        ),
    )


def _command(caller: Caller, name: str) -> str:
    return command_subject(caller.school.id, "visitors", name, caller.person.id)


@router.get(
    "/api/v1/visitors/drill",
    response_model=DeskDrill,
    summary="The evacuation drill under way (else the latest one)",
    responses=PROBLEMS,
)
async def drill(caller: DeskReader, state: State) -> DeskDrill:
    """Who was in the building at the drill's start, unaccounted for first, with who marked
    each and when; the time to full accountability once the last one is marked."""
    subject = query_subject(caller.school.id, "visitors", "drill", caller.person.id)
    return _desk_drill(await _ask(state, subject, DrillQuery()), caller)


@router.post(
    "/api/v1/visitors/drill/start",
    response_model=DeskDrill,
    summary="Start an evacuation drill (or join the one under way)",
    responses=PROBLEMS,
)
async def start(caller: DeskActor, state: State) -> DeskDrill:
    req = DrillStart(started_by=caller.person.id)
    return _desk_drill(await _ask(state, _command(caller, "drill_start"), req), caller)


@router.post(
    "/api/v1/visitors/drill/{drill_id}/account",
    response_model=DeskDrill,
    summary="Mark a visitor accounted for (again: no change)",
    responses={
        **PROBLEMS,
        404: {"description": "No such drill in the caller's school"},
        409: {"description": "The drill has ended"},
        422: {"description": "The visitor was not in the building when the drill started"},
    },
)
async def account(
    drill_id: uuid.UUID, body: MarkAccounted, caller: DeskActor, state: State
) -> DeskDrill:
    req = DrillAccount(drill_id=drill_id, visit_id=body.visit_id, accounted_by=caller.person.id)
    return _desk_drill(await _ask(state, _command(caller, "drill_account"), req), caller)


@router.post(
    "/api/v1/visitors/drill/{drill_id}/end",
    response_model=DeskDrill,
    summary="End a drill before everyone is accounted for",
    responses={**PROBLEMS, 404: {"description": "No such drill in the caller's school"}},
)
async def end(drill_id: uuid.UUID, caller: DeskActor, state: State) -> DeskDrill:
    req = DrillEnd(drill_id=drill_id, ended_by=caller.person.id)
    return _desk_drill(await _ask(state, _command(caller, "drill_end"), req), caller)


@router.get("/desk/drill", response_class=HTMLResponse, summary="Evacuation drill, printable")
async def drill_page(request: Request, caller: PageCaller, state: State) -> Response:
    desk_page(caller)
    return render(request, state, "desk_drill.html", desk_context(caller, state))
