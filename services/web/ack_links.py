"""An alert email's acknowledge link, `/ack/<token>` (lookout/kernel/action_links.py: the
alerts service signs it for one person and one alert, for a day). Opening it shows the alert
(what, where, when: asked of the alerts service as that person) and one "Acknowledge" button;
only the page's POST acknowledges (`command.<school>.alerts.ack.<person>`). Mail scanners and
link previews open links; they do not post forms, so they cannot acknowledge.

No session is needed: the signed token proves the person, as a one-time sign-in link does; the
POST must come from this site (its Origin). A forged, changed or expired token, a person no
longer in the school file or no longer in a role that acknowledges alerts are one 404 page that
does not say which. The token is never logged (the access log records the path's first part)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from lookout.contracts.alerts import AckRequest, AlertDetail, AlertStatus, AlertSummary, ShowRequest
from lookout.kernel.action_links import MAX_TOKEN, alert_link_secret, verify_ack_link
from lookout.kernel.queries import command_subject, query_subject
from lookout.school.config import Person, SchoolConfig
from lookout.school.permissions import may_request
from services.web import pages
from services.web.alerts_board import _ask, _read
from services.web.deps import SameOrigin, State, WebState
from services.web.problems import Problem, problem_response

router = APIRouter(tags=["alerts"])

TEMPLATE = "ack_link.html"


def secret_of(request: Request) -> bytes:
    """The alert-link secret, read once per app (an env var or a file: alert_link_secret)."""
    secret: bytes | None = getattr(request.app.state, "alert_link_secret", None)
    if secret is None:
        secret = alert_link_secret(request.app.state.web.settings)
        request.app.state.alert_link_secret = secret
    return secret


def _holder(
    request: Request, state: WebState, token: str
) -> tuple[SchoolConfig, Person, uuid.UUID] | None:
    """The school, person and alert of a token this deployment signed, still valid, for a
    person of the school file who may acknowledge alerts; None otherwise."""
    if len(token) > MAX_TOKEN:
        return None
    # By the suite's time: the alerts service signed the link by it (simulated in the demo).
    claims = verify_ack_link(secret_of(request), token, now=state.suite_clock.now())
    school = state.schools.get(claims.school_id) if claims else None
    if claims is None or school is None:
        return None
    person = next((p for p in school.people if p.id == claims.person_id), None)
    if person is None or not may_request(person.roles, "command", "alerts"):
        return None
    return school, person, claims.alert_id


TITLES = {
    404: ("Not found", "token: not valid"),  # never which: forged, changed, expired, not allowed
    409: ("Alert already resolved", "alert_id: already resolved"),
    502: ("Alerts service refused", "alerts: the request was refused"),
    503: ("Alerts service unavailable", "retry later"),
}


def _page(request: Request, state: WebState, status: int, context: dict[str, Any]) -> Response:
    """The page for a browser (it accepts HTML); a refusal to anything else is problem+json."""
    if status >= 400 and "text/html" not in request.headers.get("accept", ""):
        return problem_response(status, *TITLES[status])
    response = pages.render(request, state, TEMPLATE, context)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    # The token is in the URL: the middleware's same-origin Referrer-Policy keeps it from other
    # sites (not no-referrer: the browser would then send the form's POST `Origin: null`).
    return response


def _gone(request: Request, state: WebState) -> Response:
    return _page(request, state, 404, {"mode": "gone", "school_name": None})


def _when(at: datetime | None, school: SchoolConfig) -> str | None:
    return at.astimezone(school.tz).strftime("%a %d %b %Y, %H:%M %Z") if at else None


def _facts(summary: AlertSummary, school: SchoolConfig) -> dict[str, Any]:
    """What the page says of the alert: no student, no note (the alerts service sends none)."""
    zones = {z.id: z.name for z in school.zones}
    names = {p.id: p.name for p in school.people}
    return {
        "what": summary.category.replace("_", " "),
        "severity": summary.severity.value,
        "where": zones.get(summary.zone_id, summary.zone_id) if summary.zone_id else None,
        "opened": _when(summary.opened_at, school),
        "status": summary.status.value,
        "acked_by": names.get(summary.acknowledged_by or "", summary.acknowledged_by),
        "acked_at": _when(summary.acknowledged_at, school),
    }


async def _problem_page(
    request: Request, state: WebState, school: SchoolConfig, exc: Problem
) -> Response:
    if exc.status == 404:
        return _gone(request, state)
    if exc.status == 409:
        context = {"mode": "resolved", "school_name": school.name}
        return _page(request, state, 409, context)
    context = {"mode": "unavailable", "school_name": school.name}
    return _page(request, state, 503 if exc.status == 503 else 502, context)


@router.get(
    "/ack/{token}",
    response_class=HTMLResponse,
    summary="An alert email's acknowledge link: the confirm page",
    responses={404: {"description": "The link is forged, changed or expired, or not yours"}},
)
async def ack_link_page(token: str, request: Request, state: State) -> Response:
    """Shows the alert and asks for one tap; opening it acknowledges nothing."""
    holder = _holder(request, state, token)
    if holder is None:
        return _gone(request, state)
    school, person, alert_id = holder
    subject = query_subject(school.id, "alerts", "show", person.id)
    try:
        answer = await _ask(state, subject, ShowRequest(alert_id=alert_id, by_person_id=person.id))
        detail = _read(AlertDetail, answer)
    except Problem as exc:
        return await _problem_page(request, state, school, exc)
    facts = _facts(detail.alert, school)
    mode = "resolved" if detail.alert.status == AlertStatus.RESOLVED else "confirm"
    context = {
        "mode": mode,
        "token": token,
        "school_name": school.name,
        "person_name": person.name,
        "alert": facts,
    }
    return _page(request, state, 200, context)


@router.post(
    "/ack/{token}",
    response_class=HTMLResponse,
    summary="Acknowledge an alert with its email's link",
    dependencies=[SameOrigin],
    responses={
        403: {"description": "Not from this site (Origin)"},
        404: {"description": "The link is forged, changed or expired, or not yours"},
        409: {"description": "The alert is already resolved"},
    },
)
async def ack_by_link(token: str, request: Request, state: State) -> Response:
    """Acknowledges the alert as the link's person; the page says by whom and when."""
    holder = _holder(request, state, token)
    if holder is None:
        return _gone(request, state)
    school, person, alert_id = holder
    subject = command_subject(school.id, "alerts", "ack", person.id)
    try:
        answer = await _ask(state, subject, AckRequest(alert_id=alert_id, by_person_id=person.id))
        summary = _read(AlertSummary, answer)
    except Problem as exc:
        return await _problem_page(request, state, school, exc)
    context = {
        "mode": "done",
        "school_name": school.name,
        "person_name": person.name,
        "alert": _facts(summary, school),
    }
    return _page(request, state, 200, context)
