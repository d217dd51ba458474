"""Signing in and out: a one-time link (`lookout users link`), a password (`lookout users
set-password`), and signing out. Every sign-in makes a new session (the id is rotated: a
cookie planted before sign-in is ended, never promoted) and sets the `__Host-` cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from lookout.school.config import SchoolConfig
from services.web import pages
from services.web.deps import CsrfCaller, SameOrigin, State, WebState, end_session
from services.web.domain import (
    FAILURE_WINDOW,
    LIMITS,
    SessionKind,
    locked_out,
    safe_next,
    session_kind,
)
from services.web.oidc_providers import buttons
from services.web.problems import Problem
from services.web.store import WebRepository, digest, password_matches

router = APIRouter(tags=["sign-in"])


async def start_session(
    state: WebState, request: Request, repo: WebRepository, school: SchoolConfig, person_id: str
) -> tuple[str, SessionKind]:
    """A new session for the person (every way of signing in comes through here)."""
    now = state.now()
    old = request.cookies.get(state.cookie_name)
    if old:  # rotate: whatever session the browser held before ends here
        await end_session(state, repo, digest(old))
    person = next(p for p in school.people if p.id == person_id)
    kind = session_kind(person.roles)
    session_id, _csrf = await repo.add_session(
        school_id=school.id, person_id=person_id, kind=kind.value, now=now
    )
    return session_id, kind


def signed_in(state: WebState, session_id: str, kind: SessionKind, location: str) -> Response:
    """The redirect that sets the session's cookie."""
    response = RedirectResponse(location, status_code=303)
    response.set_cookie(
        state.cookie_name,
        session_id,
        max_age=int(LIMITS[kind].absolute.total_seconds()),
        path="/",
        secure=state.secure_cookie,
        httponly=True,
        samesite="lax",
    )
    return response


LINK_GONE = "token: unknown, used or expired"


@router.get(
    "/signin/{token}", response_class=HTMLResponse, summary="A one-time link's sign-in page"
)
async def sign_in_link_page(token: str, request: Request, state: State) -> Response:
    """Says whom the link signs in and asks for one tap; opening it uses nothing. Mail
    scanners and chat link previews fetch links before the person does: were GET to use the
    link, it would be spent before they tapped it. A used, expired or unknown link is 404."""
    if len(token) > 128:
        raise Problem(404, "Not found", LINK_GONE)
    async with state.sessions() as db:
        owner = await WebRepository(db).valid_link(token=token, now=state.now())
    school = state.schools.get(owner[0]) if owner else None
    person = (
        next((p for p in school.people if p.id == owner[1]), None) if owner and school else None
    )
    if school is None or person is None:
        raise Problem(404, "Not found", LINK_GONE)
    context = {"token": token, "school_name": school.name, "person_name": person.name}
    return pages.render(request, state, "signin_link.html", context)


@router.post(
    "/signin/{token}",
    summary="Sign in with a one-time link",
    status_code=303,
    dependencies=[SameOrigin],
    responses={404: {"description": "The link is unknown, used or expired"}},
)
async def sign_in_by_link(token: str, request: Request, state: State) -> Response:
    """Uses the link (once), starts a session and goes to the app."""
    if len(token) > 128:
        raise Problem(404, "Not found", LINK_GONE)
    async with state.sessions.begin() as db:
        repo = WebRepository(db)
        owner = await repo.consume_link(token=token, now=state.now())
        school = state.schools.get(owner[0]) if owner else None
        if owner is None or school is None or owner[1] not in school.person_ids:
            raise Problem(404, "Not found", LINK_GONE)
        session_id, kind = await start_session(state, request, repo, school, owner[1])
    return signed_in(state, session_id, kind, "/app")


@router.get("/signin", response_class=HTMLResponse, summary="The sign-in form")
async def sign_in_form(request: Request, state: State, next: str | None = None) -> Response:
    context = {"next": safe_next(next), "buttons": buttons(request)}
    return pages.render(request, state, "signin.html", context)


NOT_RECOGNISED = "The school, person or password was not recognised."
LOCKED_OUT = "Too many failed sign-ins. Try again in 15 minutes."


def wants_page(request: Request) -> bool:
    """A browser's form post (it accepts HTML) is answered with the form again, its error
    said in words; an API client gets the problem+json."""
    return "text/html" in request.headers.get("accept", "")


def _form_again(
    request: Request,
    state: WebState,
    status: int,
    error: str,
    school: str,
    person: str,
    next: str | None,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {
        "next": safe_next(next),
        "error": error,
        "school": school,
        "person": person,
        "buttons": buttons(request),
    }
    response = pages.render(request, state, "signin.html", context)
    response.status_code = status
    response.headers.update(headers or {})
    return response


@router.post(
    "/signin",
    summary="Sign in with a password",
    status_code=303,
    dependencies=[SameOrigin],
    responses={401: {"description": "Wrong school, person or password"}, 429: {}},
)
async def sign_in_with_password(
    request: Request,
    state: State,
    school: Annotated[str, Form(max_length=32)],
    person: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str | None, Form(max_length=2048)] = None,
) -> Response:
    """Failed sign-ins are limited per account and per address: the 5th failure within 15
    minutes locks both out for the rest of the window (429), right password or not."""
    now = state.now()
    address = request.client.host if request.client else "unknown"
    keys = [f"account:{school}:{person}", f"address:{address}"]
    async with state.sessions.begin() as db:
        repo = WebRepository(db)
        if locked_out(await repo.failures_since(keys=keys, since=now - FAILURE_WINDOW)):
            retry = {"Retry-After": str(int(FAILURE_WINDOW.total_seconds()))}
            if wants_page(request):
                return _form_again(request, state, 429, LOCKED_OUT, school, person, next, retry)
            raise Problem(429, "Too many failed sign-ins", "try again later", headers=retry)
        config = state.schools.get(school)
        known = config is not None and person in config.person_ids
        stored = await repo.password_hash(school_id=school, person_id=person) if known else None
        if config is None or not password_matches(stored, password):
            await repo.add_failure(keys=keys, now=now)
            failed = True
        else:
            failed = False
            session_id, kind = await start_session(state, request, repo, config, person)
    if failed:  # the failure is committed before answering
        if wants_page(request):
            return _form_again(request, state, 401, NOT_RECOGNISED, school, person, next)
        raise Problem(401, "Sign-in failed", "school, person or password: not recognised")
    return signed_in(state, session_id, kind, safe_next(next))


@router.post("/signout", summary="Sign out", status_code=303)
async def sign_out(caller: CsrfCaller, state: State) -> Response:
    async with state.sessions.begin() as db:
        await end_session(state, WebRepository(db), caller.session.id_hash)
    # Again once committed: a request that read the session meanwhile may have remembered it.
    state.recent_sessions.forget(caller.session.id_hash)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(
        state.cookie_name, path="/", secure=state.secure_cookie, httponly=True, samesite="lax"
    )
    return response
