"""The pages: the SSO's phone app (`/app`), the principal's console (`/console`, and `/app`
for the people who have it, so signing in lands there), a checkpoint's URL
(`/t/<school>/<tag>`, written to its NFC tag and printed as its QR), the sign-in form; static
files and the service worker.
Rendered on the server with Jinja2 from services/web/templates; a page whose template is not
there yet renders a minimal stand-in with the same context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, TemplateNotFound, select_autoescape

from lookout.contracts.visitors import IdType, VisitorType
from services.web.deps import Caller, PageCaller, State, WebState
from services.web.domain import confirms_calendar, has_console, has_desk
from services.web.problems import Problem

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

router = APIRouter(tags=["pages"])

_env = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=True
)

# Stand-ins until the real templates exist: the same context, nothing more.
_FALLBACKS = {
    "phone.html": (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="csrf-token" content="{{ csrf_token }}"><title>Lookout</title></head>'
        "<body><h1>{{ school.name }}</h1><p>{{ person.name }}</p><ul>"
        "{% for z in zones %}<li>{{ z.name }}</li>{% endfor %}</ul></body></html>"
    ),
    "scan.html": (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="csrf-token" content="{{ csrf_token }}"><title>Scan</title></head>'
        "<body><h1>Checkpoint {{ tag }}</h1><p>{{ zone_id }}</p></body></html>"
    ),
    "signin.html": (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Sign in</title></head>"
        '<body><h1>Sign in</h1><form method="post" action="/signin">'
        '<input type="hidden" name="next" value="{{ next }}">'
        '<label>School <input name="school" required></label>'
        '<label>Person <input name="person" required autocomplete="username"></label>'
        '<label>Password <input name="password" type="password" required '
        'autocomplete="current-password"></label>'
        "<button>Sign in</button></form></body></html>"
    ),
}


def render(request: Request, state: WebState, name: str, context: dict[str, Any]) -> HTMLResponse:
    full = {"nonce": request.state.csp_nonce, "base_url": state.base_url, **context}
    try:
        template = _env.get_template(name)
    except TemplateNotFound:
        template = _env.from_string(_FALLBACKS[name])
    return HTMLResponse(template.render(full))


def page_context(caller: Caller, state: WebState) -> dict[str, Any]:
    school = caller.school
    return {
        "csrf_token": caller.session.csrf_token,
        "school": {
            "id": school.id,
            "name": school.name,
            "student_reference_pattern": school.student_reference_pattern,
        },
        "person": {"id": caller.person.id, "name": caller.person.name},
        # The console's nav shows the school calendar page to those who confirm its days.
        "confirms_calendar": confirms_calendar(caller.person.roles),
        "zones": [
            {"id": z.id, "name": z.name, "checkpoints": list(z.checkpoints)} for z in school.zones
        ],
    }


def desk_context(caller: Caller, state: WebState) -> dict[str, Any]:
    """The front desk's pages (front_desk.py): whom a visitor may visit, the kinds of visitor
    and ID, and the school's date (an ID past its expiry is flagged)."""
    today = state.suite_clock.now().astimezone(caller.school.tz).date()
    return page_context(caller, state) | {
        "hosts": [{"id": p.id, "name": p.name} for p in caller.school.people],
        "visitor_types": [t.value for t in VisitorType],
        "id_types": [t.value for t in IdType],
        "today": today.isoformat(),
    }


@router.get("/app", response_class=HTMLResponse, summary="The signed-in person's app")
async def phone(request: Request, caller: PageCaller, state: State) -> Response:
    """The SSO's phone app; for a principal (and the other alert roles) the console, for the
    front office the desk, so a sign-in (whose link and form land on /app) lands on it."""
    if has_console(caller.person.roles):
        return render(request, state, "console.html", page_context(caller, state))
    if has_desk(caller.person.roles):
        return render(request, state, "desk.html", desk_context(caller, state))
    return render(request, state, "phone.html", page_context(caller, state))


@router.get("/console", response_class=HTMLResponse, summary="The principal's console")
async def console(request: Request, caller: PageCaller, state: State) -> Response:
    """The live alert board; 404 for anyone whose role does not ask the alerts service."""
    if not has_console(caller.person.roles):
        raise Problem(404, "Not found")
    return render(request, state, "console.html", page_context(caller, state))


@router.get("/t/{school}/{tag}", response_class=HTMLResponse, summary="A checkpoint's URL")
async def checkpoint(
    school: str, tag: str, request: Request, caller: PageCaller, state: State
) -> Response:
    """404 for a tag the school does not have and for any school but the caller's own."""
    zone_id = caller.school.zone_by_checkpoint.get(tag) if school == caller.school.id else None
    if zone_id is None:
        raise Problem(404, "Not found")
    context = page_context(caller, state) | {"zone_id": zone_id, "tag": tag}
    return render(request, state, "scan.html", context)


@router.get("/sw.js", include_in_schema=False)
async def service_worker() -> Response:
    """The service worker at the root, so its scope is the whole app."""
    path = STATIC / "sw.js"
    if not path.is_file():
        raise Problem(404, "Not found")
    return FileResponse(
        path,
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
    )
