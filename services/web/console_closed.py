"""The console's "Closed today" (`GET /api/v1/console/closed`): the school's alerts resolved
since the start of the school's day, who resolved each and when — so everyone who was paged for
an alert sees who closed it, not just that it left the board (loop closure). The outcome note
stays behind the alerts service's access-logged `show`."""

from __future__ import annotations

from datetime import UTC, datetime, time

from fastapi import APIRouter
from pydantic import BaseModel, Field

from lookout.contracts.alerts import AlertList, AlertSource, ListRequest
from lookout.contracts.patrol import Severity
from lookout.kernel.queries import query_subject
from lookout.school import words
from services.web import asking
from services.web.alerts_board import PROBLEMS, AlertReader
from services.web.deps import State

router = APIRouter(prefix="/api/v1/console", tags=["console"])

SHOWN = 50


class ClosedAlert(BaseModel):
    alert_id: str
    what: str = Field(description="In words, e.g. 'conflict concern' or 'missed patrol check'.")
    severity: Severity
    zone_name: str | None
    opened_at: datetime
    acknowledged_by: str | None = Field(description="A name, or None if never acknowledged.")
    resolved_by: str = Field(description="A name (or the id of someone no longer listed).")
    resolved_at: datetime


class ClosedToday(BaseModel):
    alerts: list[ClosedAlert] = Field(max_length=SHOWN, description="Last resolved first.")
    since: datetime = Field(description="The start of the school's day.")


def _what(source: AlertSource, category: str) -> str:
    if source == AlertSource.CONCERN:
        return f"{words.category(category)} concern"
    return words.category(source.value)


@router.get(
    "/closed",
    response_model=ClosedToday,
    summary="Alerts resolved today, and who resolved them",
    responses=PROBLEMS,
)
async def closed_today(caller: AlertReader, state: State) -> ClosedToday:
    """The school's alerts resolved since midnight at the school, last resolved first."""
    school, me = caller.school, caller.person.id
    now = state.suite_clock.now().astimezone(school.tz)
    since = datetime.combine(now.date(), time(0), tzinfo=school.tz)
    subject = query_subject(school.id, "alerts", "list", me)
    asked = ListRequest(resolved_since=since, limit=SHOWN)  # last resolved first
    found = await asking.answer(state, "alerts", subject, asked, AlertList)
    names = {p.id: p.name for p in school.people}
    return ClosedToday(
        alerts=[
            ClosedAlert(
                alert_id=str(a.alert_id),
                what=_what(a.source, a.category),
                severity=a.severity,
                zone_name=words.zone(school, a.zone_id) if a.zone_id else None,
                opened_at=a.opened_at,
                acknowledged_by=(
                    names.get(a.acknowledged_by, a.acknowledged_by) if a.acknowledged_by else None
                ),
                resolved_by=names.get(a.resolved_by or "", a.resolved_by or "someone"),
                resolved_at=a.resolved_at,
            )
            for a in found.alerts
            if a.resolved_at is not None
        ],
        since=since.astimezone(UTC),
    )
