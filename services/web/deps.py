"""What every route needs, as FastAPI dependencies: the web's state (settings, clock, schools,
database, JetStream), the signed-in caller, and the CSRF check. A route reads as "who may call
it, what it takes, what it returns"; permission checks are dependencies, not `if` blocks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.kernel.clock import Clock
from lookout.kernel.settings import Settings
from lookout.school.config import Person, SchoolConfig
from services.web.domain import SessionKind, SessionState, csrf_refusal, session_state
from services.web.problems import Problem
from services.web.recall import KnownDevices, RecentSessions
from services.web.store import SessionRow, WebRepository, digest

# Only touch a session's last_seen_at when it is older than this: one write per half minute,
# not per request, and the idle limits are 15 and 30 minutes.
TOUCH_EVERY = timedelta(seconds=30)
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@dataclass
class WebState:
    """Everything the routes share, made in the app's lifespan."""

    settings: Settings
    clock: Clock  # real time: sessions, links and sign-in limits last what they say
    suite_clock: Clock  # the suite's time (simulated in the demo): events are judged by it
    schools: dict[str, SchoolConfig]
    sessions: async_sessionmaker[AsyncSession]
    nc: Client | None = None
    js: JetStreamContext | None = None
    recent_sessions: RecentSessions = field(default_factory=RecentSessions)
    known_devices: KnownDevices = field(default_factory=KnownDevices)

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def base_url(self) -> str:
        return self.settings.web_url()

    @property
    def secure_cookie(self) -> bool:
        """Secure when people come over HTTPS — and on a loopback base URL, where browsers
        accept Secure cookies over plain HTTP (a `__Host-` cookie must be Secure)."""
        host = (urlsplit(self.base_url).hostname or "").lower()
        return self.settings.web_tls() or host in LOOPBACK

    @property
    def cookie_name(self) -> str:
        # Browsers refuse a `__Host-` cookie that is not Secure: plain HTTP on a LAN address
        # (a trial install without TLS) gets a plain name rather than no session at all.
        return "__Host-lookout" if self.secure_cookie else "lookout"


async def web_state(request: Request) -> WebState:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a thread hop
    # per request for a lookup.
    state: WebState = request.app.state.web
    return state


State = Annotated[WebState, Depends(web_state)]


@dataclass(frozen=True)
class Caller:
    """The signed-in person and their session."""

    session: SessionRow
    school: SchoolConfig
    person: Person


class SignInFirst(Exception):
    """A page asked for without a usable session: redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.location = f"/signin?next={quote(next_path, safe='/')}"


def _who(state: WebState, row: SessionRow) -> tuple[SchoolConfig, Person] | None:
    school = state.schools.get(row.school_id)
    person = next((p for p in school.people if p.id == row.person_id), None) if school else None
    return (school, person) if school is not None and person is not None else None


async def _caller(request: Request, state: WebState) -> tuple[Caller | None, SessionState | None]:
    session_id = request.cookies.get(state.cookie_name)
    if not session_id:
        return None, None
    now = state.now()
    # A session seen active a moment ago, by this process, still is (see recall.py): a
    # phone's batches and heartbeats then cost no database round trip.
    remembered = state.recent_sessions.get(digest(session_id), now)
    if remembered is not None and (who := _who(state, remembered)) is not None:
        verdict = session_state(
            SessionKind(remembered.kind), remembered.created_at, remembered.last_seen_at, now
        )
        if verdict is SessionState.ACTIVE and now - remembered.last_seen_at < TOUCH_EVERY:
            return Caller(remembered, *who), verdict
    async with state.sessions.begin() as db:
        repo = WebRepository(db)
        row = await repo.live_session(session_id)
        if row is None:
            state.recent_sessions.forget(digest(session_id))
            return None, None
        verdict = session_state(SessionKind(row.kind), row.created_at, row.last_seen_at, now)
        if verdict is SessionState.EXPIRED:
            await end_session(state, repo, row.id_hash)
            return None, verdict
        if verdict is SessionState.LOCKED:
            state.recent_sessions.forget(row.id_hash)
            return None, verdict
        who = _who(state, row)
        if who is None:  # no longer in the school file
            await end_session(state, repo, row.id_hash)
            return None, SessionState.EXPIRED
        if now - row.last_seen_at >= TOUCH_EVERY:
            await repo.touch_session(id_hash=row.id_hash, now=now)
            row = replace(row, last_seen_at=now)
    state.recent_sessions.remember(row, now)
    return Caller(row, *who), verdict


async def end_session(state: WebState, repo: WebRepository, id_hash: str) -> None:
    """End a session in the database and in this process's memory of it."""
    state.recent_sessions.forget(id_hash)
    await repo.end_session(id_hash=id_hash, now=state.now())


async def optional_caller(request: Request, state: State) -> Caller | None:
    caller, _ = await _caller(request, state)
    return caller


async def api_caller(request: Request, state: State) -> Caller:
    """The API's caller; 401 problem+json without one (a locked phone says so)."""
    caller, verdict = await _caller(request, state)
    if caller is None:
        if verdict is SessionState.LOCKED:
            raise Problem(401, "Session locked", "session: idle too long; sign in again")
        raise Problem(401, "Sign-in required", "session: none, ended or expired")
    return caller


async def page_caller(request: Request, state: State) -> Caller:
    """A page's caller; without one, a redirect to sign in and back."""
    caller, _ = await _caller(request, state)
    if caller is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInFirst(path)
    return caller


def refuse_cross_site(request: Request, state: WebState, session_token: str | None) -> None:
    reason = csrf_refusal(
        method=request.method,
        origin=request.headers.get("origin"),
        base_url=state.base_url,
        header_token=request.headers.get("x-csrf-token"),
        session_token=session_token,
    )
    if reason is not None:
        raise Problem(403, "Cross-site request refused", reason)


async def same_origin(request: Request, state: State) -> None:
    """Before a session exists (the password form): the request comes from this site."""
    refuse_cross_site(request, state, None)


async def csrf_caller(request: Request, state: State) -> Caller:
    """A signed-in caller whose request carries this session's CSRF token from this site."""
    refuse_cross_site(request, state, None)  # the Origin first: no session lookup for strangers
    caller = await api_caller(request, state)
    refuse_cross_site(request, state, caller.session.csrf_token)
    return caller


PageCaller = Annotated[Caller, Depends(page_caller)]
ApiCaller = Annotated[Caller, Depends(api_caller)]
CsrfCaller = Annotated[Caller, Depends(csrf_caller)]
SameOrigin = Depends(same_origin)
