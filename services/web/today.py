"""`GET /api/v1/today`: the SSO's Today screen, asked of the patrol service over request-reply
(`query.<school>.patrol.today.<person>`, the person being the signed-in caller, never a field
the phone sends), plus how often the phone sends its heartbeat."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import Field

from lookout.contracts.patrol_queries import TODAY, TodayReply
from lookout.school.config import SchoolConfig
from lookout.school.permissions import may_request
from services.web import asking
from services.web.deps import ApiCaller, Caller, State
from services.web.domain import has_console
from services.web.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["today"])

MIN_HEARTBEAT_SECONDS = 30


async def patrol_asker(caller: ApiCaller) -> Caller:
    """A signed-in person whose role asks the patrol service and carries the phone (the SSO),
    as their NATS user may; the console's roles ask patrol for the console only."""
    roles = caller.person.roles
    if not may_request(roles, "query", "patrol") or has_console(roles):
        raise Problem(403, "Not for this role", "role: does not ask the patrol service")
    return caller


PatrolAsker = Annotated[Caller, Depends(patrol_asker)]


def heartbeat_seconds(school: SchoolConfig) -> int:
    """How often the open app says the phone is alive: a third of the school's lone-worker
    limit (`heartbeat_limit_minutes`, 10 by default: every 200 s), so two heartbeats can be
    lost to a dead spot (a stairwell, the gym) and the third still arrives before the patrol
    service calls the silence an alarm; never more often than every 30 s."""
    return max(MIN_HEARTBEAT_SECONDS, school.heartbeat_limit_minutes * 60 // 3)


class TodayAnswer(TodayReply):
    heartbeat_seconds: int = Field(
        ge=MIN_HEARTBEAT_SECONDS, description="Send a device.heartbeat this often while open."
    )
    names: dict[str, str] = Field(
        default_factory=dict,
        description="The name of each person the answer mentions by id (who acknowledged or "
        "resolved an alert of a concern or one the officer was paged for), from the school "
        "file.",
    )


@router.get(
    "/today",
    response_model=TodayAnswer,
    summary="The SSO's Today screen",
    responses={
        401: {"description": "Not signed in, or the session is locked"},
        403: {"description": "The caller's role does not ask the patrol service"},
        502: {"description": "The patrol service refused the question"},
        503: {"description": "The patrol service did not answer: keep the last copy"},
    },
)
async def today(caller: PatrolAsker, state: State) -> TodayAnswer:
    """Next planned windows, unannounced checks still ahead, welfare re-checks due, the open
    concerns the caller raised, the alerts the caller was paged for and who has them: no
    student references and no notes (the phone keeps it)."""
    subject = TODAY.subject(caller.school.id, caller.person.id)
    result = await asking.answer(state, "patrol", subject, None, TodayReply)
    people = {p.id: p.name for p in caller.school.people}
    mentioned = {c.alert.by for c in result.concerns if c.alert is not None and c.alert.by}
    mentioned |= {a.by for a in result.paged if a.by}
    return TodayAnswer(
        **result.model_dump(),
        heartbeat_seconds=heartbeat_seconds(caller.school),
        names={i: people[i] for i in sorted(mentioned) if i in people},
    )
