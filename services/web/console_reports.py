"""The console's weekly reports archive: `/console/reports` lists the school's weekly summaries
(the reports service's `archive`), and `/console/reports/<week>` shows one exactly as it was
emailed (`sent_copy`: the stored message, not a new rendering). The console's roles may read
their own school's; the district roll-up stays with district safety (the reports service).

The copy is HTML our reports service rendered for mail clients: inline styles, charts as data:
URIs, no script. It is served with its own Content-Security-Policy that allows exactly that —
no script at all, no frame, no form — instead of the app's nonce policy, which would strip its
styles."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from lookout.contracts.reports import Archive, ArchiveRequest, SentCopy, SentCopyRequest
from lookout.kernel.queries import query_subject
from lookout.school import words
from services.web import asking
from services.web.console_overview import PROBLEMS, ConsoleReader
from services.web.deps import PageCaller, State
from services.web.domain import has_console
from services.web.pages import page_context, render
from services.web.problems import Problem

router = APIRouter(tags=["console"])

ARCHIVE_SHOWN = 52
WEEK = r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$"
COPY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
STATE_WORDS = {
    "sent": "sent",
    "failed": "not delivered",
    "pending": "due",
    "rendered": "being sent",
    "sending": "being sent",
}


class ArchivedSummary(BaseModel):
    week: str = Field(description="ISO week, e.g. 2026-W48.")
    dates: str = Field(description="The school week in words, e.g. '30 Nov - 4 Dec' (an en dash).")
    state: str = Field(description="sent, not delivered, due or being sent.")
    sent_at: datetime | None
    recipients: int = Field(ge=0)
    readable: bool = Field(description="Sent: its copy can be opened.")


class Summaries(BaseModel):
    weeks: list[ArchivedSummary] = Field(max_length=ARCHIVE_SHOWN, description="Newest first.")


async def _archive(caller: ConsoleReader, state: State) -> Summaries:
    school, me = caller.school.id, caller.person.id
    found = await asking.answer(
        state,
        "reports",
        query_subject(school, "reports", "archive", me),
        ArchiveRequest(limit=ARCHIVE_SHOWN),
        Archive,
    )
    return Summaries(
        weeks=[
            ArchivedSummary(
                week=w.week,
                dates=words.date_range(w.first_day, w.last_day),  # as the email names it
                state=STATE_WORDS.get(w.state, w.state),
                sent_at=w.sent_at,
                recipients=w.recipients,
                readable=w.state == "sent",
            )
            for w in found.weeks
        ]
    )


@router.get(
    "/api/v1/console/reports",
    response_model=Summaries,
    summary="The school's weekly summaries",
    responses=PROBLEMS,
)
async def summaries(caller: ConsoleReader, state: State) -> Summaries:
    """The school's weekly summaries, newest first (at most 52)."""
    return await _archive(caller, state)


@router.get("/console/reports", response_class=HTMLResponse, summary="Weekly reports archive")
async def archive_page(request: Request, caller: PageCaller, state: State) -> Response:
    """The archive, rendered on the server (a list of links; nothing live to update)."""
    if not has_console(caller.person.roles):
        raise Problem(404, "Not found")
    found = await _archive(caller, state)
    context = page_context(caller, state) | {"weeks": found.weeks}
    return render(request, state, "console_reports.html", context)


def _refusal(reason: str) -> Problem | None:
    return Problem(404, "Not found", "week: not sent") if reason.startswith("week:") else None


@router.get(
    "/console/reports/{week}",
    response_class=HTMLResponse,
    summary="One weekly summary as it was emailed",
    responses={**PROBLEMS, 404: {"description": "No summary was sent for that week"}},
)
async def sent_copy(
    caller: ConsoleReader, state: State, week: str = Path(pattern=WEEK)
) -> Response:
    """The email's HTML as its recipients got it, under a policy that runs no script."""
    school, me = caller.school.id, caller.person.id
    copy = await asking.answer(
        state,
        "reports",
        query_subject(school, "reports", "sent_copy", me),
        SentCopyRequest(week=week),
        SentCopy,
        _refusal,
    )
    return HTMLResponse(copy.html, headers={"Content-Security-Policy": COPY_POLICY})
