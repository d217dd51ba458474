"""The student roster at the edge: `GET /api/v1/roster/students?q=` finds students by name for
the SSO's phone and the console (the answer is the only place a name leaves the web's
database), each lookup on the access log; and the check that an event's student references are
on the school's roster, once the school has one."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from lookout.contracts.envelope import Event
from lookout.school.config import Role
from services.web.deps import ApiCaller, Caller, State, WebState
from services.web.domain import has_console
from services.web.oneroster import GRADE_ORDER
from services.web.problems import Problem
from services.web.roster_store import RosterRepository

router = APIRouter(prefix="/api/v1", tags=["roster"])
log = logging.getLogger("lookout.web")

PAGE = 10  # a phone screen of answers: type more letters for fewer
MIN_QUERY, MAX_QUERY = 2, 64
OFF_ROSTER = "not on the school's roster"


def may_look_up(roles: Iterable[Role]) -> bool:
    """The SSO (who names students in concerns and contacts) and the console's people."""
    roles = set(roles)
    return Role.SSO in roles or has_console(roles)


async def roster_reader(caller: ApiCaller) -> Caller:
    if not may_look_up(caller.person.roles):
        raise Problem(403, "Not allowed", "roster: not for this person's role")
    return caller


RosterReader = Annotated[Caller, Depends(roster_reader)]


class RosterStudent(BaseModel):
    reference: str = Field(description="The student's reference: what events carry.")
    given_name: str
    family_name: str
    grade: str | None = Field(description="CEDS grade level (`09`…`12`), when the SIS gave one.")


class RosterAnswer(BaseModel):
    roster: bool = Field(description="Whether the school has a roster imported at all.")
    students: list[RosterStudent] = Field(description=f"At most {PAGE}, by family name.")
    more: bool = Field(description="More students match: type more of the name.")


@router.get(
    "/roster/students",
    response_model=RosterAnswer,
    summary="Find students on the school's roster by name",
    responses={
        401: {"description": "Not signed in, or the session is locked"},
        403: {"description": "Not a role that looks students up"},
        422: {"description": "q: 2 to 64 characters"},
    },
)
async def find_students(
    caller: RosterReader,
    state: State,
    q: Annotated[
        str,
        Query(
            min_length=MIN_QUERY,
            max_length=MAX_QUERY,
            description="The start of a given or family name (or a reference), each word.",
        ),
    ],
) -> RosterAnswer:
    """Students each of whose words of `q` begins a word of their name, or their reference.
    Every lookup is written to the access log (who, when, how many answers; never `q`)."""
    if len(q.strip()) < MIN_QUERY:
        raise Problem(422, "Invalid request", f"q: at least {MIN_QUERY} characters, not spaces")
    school, person = caller.school.id, caller.person.id
    async with state.sessions.begin() as db:
        repo = RosterRepository(db)
        found = await repo.search(school_id=school, query=q, limit=PAGE + 1)
        has_roster = bool(found) or await repo.has_roster(school)
        await repo.log_lookup(
            school_id=school, person_id=person, now=state.now(), results=min(len(found), PAGE)
        )
    log.info(
        "event=roster_lookup school=%s person=%s results=%d", school, person, min(len(found), PAGE)
    )
    return RosterAnswer(
        roster=has_roster,
        students=[
            RosterStudent(
                reference=s.reference,
                given_name=s.given_name,
                family_name=s.family_name,
                grade=s.grade,
            )
            for s in found[:PAGE]
        ],
        more=len(found) > PAGE,
    )


def student_refs(event: Event) -> list[str]:
    """The student references an event carries (concerns and contacts)."""
    refs = getattr(event, "student_refs", None)
    return list(refs) if refs else []


async def off_roster(state: WebState, school_id: str, events: Iterable[Event]) -> set[str]:
    """Those of the events' student references that are not on the school's roster; none
    while the school has no roster (its `student_reference_pattern` is the check then)."""
    refs = sorted({ref for event in events for ref in student_refs(event)})
    if not refs:
        return set()
    async with state.sessions.begin() as db:
        repo = RosterRepository(db)
        if not await repo.has_roster(school_id):
            return set()
        return await repo.missing(school_id=school_id, references=refs)


class GradeCount(BaseModel):
    grade: str | None = Field(
        description="CEDS grade level (`09`…); null: not on the roster, or no grade given."
    )
    students: int = Field(ge=1)


async def by_grade(state: WebState, school_id: str, references: Iterable[str]) -> list[GradeCount]:
    """The distinct students of `references` counted by their roster grade, youngest first
    (unknown last); none while the school has no roster. Counts only: never a name."""
    refs = sorted(set(references))
    if not refs:
        return []
    async with state.sessions.begin() as db:
        repo = RosterRepository(db)
        if not await repo.has_roster(school_id):
            return []
        grades = await repo.grades(school_id=school_id, references=refs)
    return grade_counts([grades.get(ref) for ref in refs])


def grade_counts(grades: Iterable[str | None]) -> list[GradeCount]:
    """Each student's grade (None: unknown) counted, youngest grade first, unknown last."""
    counts = Counter(grades)
    order = {g: i for i, g in enumerate(GRADE_ORDER)}
    ranked = sorted(counts, key=lambda g: order.get(g, len(order)) if g else len(order) + 1)
    return [GradeCount(grade=g, students=counts[g]) for g in ranked]
