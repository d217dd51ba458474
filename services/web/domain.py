"""The web tier's rules, pure: how long a session lasts, what a state-changing request must
carry, how many failed sign-ins are too many, and what a person's roles may do over HTTP
(derived from the one permission model that also makes the NATS permissions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from lookout.contracts.patrol import CheckpointScanned
from lookout.school.config import Role
from lookout.school.permissions import may_publish, may_request


class SessionKind(StrEnum):
    """A phone (an SSO on a shift) or a console (office, principal: a desk)."""

    PHONE = "phone"
    CONSOLE = "console"


@dataclass(frozen=True)
class SessionLimits:
    idle: timedelta  # quiet this long: console → ended, phone → locked (the queue stays)
    absolute: timedelta  # after this long the session ends whatever happens


LIMITS: dict[SessionKind, SessionLimits] = {
    SessionKind.CONSOLE: SessionLimits(idle=timedelta(minutes=30), absolute=timedelta(hours=12)),
    # A 12 h shift; a phone left alone 15 min locks, and unlocking is signing in again.
    SessionKind.PHONE: SessionLimits(idle=timedelta(minutes=15), absolute=timedelta(hours=12)),
}


class SessionState(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"  # a phone idle past its lock: sign in again; nothing on the phone is lost
    EXPIRED = "expired"


def session_kind(roles: Iterable[Role]) -> SessionKind:
    """An SSO signs in on a phone; everyone else on a console."""
    return SessionKind.PHONE if Role.SSO in set(roles) else SessionKind.CONSOLE


def session_state(
    kind: SessionKind, created_at: datetime, last_seen_at: datetime, now: datetime
) -> SessionState:
    limits = LIMITS[kind]
    if now - created_at >= limits.absolute:
        return SessionState.EXPIRED
    if now - last_seen_at >= limits.idle:
        return SessionState.LOCKED if kind == SessionKind.PHONE else SessionState.EXPIRED
    return SessionState.ACTIVE


# --- sign-in -------------------------------------------------------------------------------------

LINK_LIFETIME = timedelta(minutes=15)
# Failed sign-ins: this many within the window, per account and per address, → refused (429).
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


def locked_out(failures_in_window: int) -> bool:
    return failures_in_window >= MAX_FAILURES


def link_usable(expires_at: datetime, used_at: datetime | None, now: datetime) -> bool:
    return used_at is None and now < expires_at


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path of this site only (never `//host` or a URL)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/app"
    return path


# --- CSRF ----------------------------------------------------------------------------------------

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def csrf_refusal(
    *,
    method: str,
    origin: str | None,
    base_url: str,
    header_token: str | None,
    session_token: str | None,
) -> str | None:
    """Why a request may not change state (None: it may). Every non-GET request must come from
    our own origin and, once signed in, carry the session's token in `X-CSRF-Token`; before a
    session exists (the password form) the Origin is what there is to check."""
    if method.upper() in SAFE_METHODS:
        return None
    if not origin or origin.lower() != origin_of(base_url):
        return "Origin: missing or not this site"
    if session_token is None:
        return None
    if not header_token or not _equal(header_token, session_token):
        return "X-CSRF-Token: missing or not this session's"
    return None


def _equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


# --- what a role may do over HTTP ----------------------------------------------------------------


def may_send_event(roles: Iterable[Role], event_type: str) -> bool:
    """Whether these roles may send an event of `type` through the web: exactly what their NATS
    users may publish (lookout/school/permissions.py)."""
    return may_publish(roles, event_type)


# Who confirms and withdraws school calendar days on the console (lookout calendar: any admin).
CALENDAR_CONFIRMERS = frozenset({Role.PRINCIPAL, Role.DISTRICT_SAFETY})


def confirms_calendar(roles: Iterable[Role]) -> bool:
    return bool(CALENDAR_CONFIRMERS.intersection(roles))


def has_console(roles: Iterable[Role]) -> bool:
    """Whether these roles get the principal's console (its alert board): those that ask the
    alerts service and do not carry the SSO's phone (they scan no checkpoint)."""
    roles = set(roles)
    return may_request(roles, "query", "alerts") and not may_publish(
        roles, CheckpointScanned.event_type()
    )


def has_desk(roles: Iterable[Role]) -> bool:
    """Whether these roles get the front desk (sign visitors in and out, the roster): those
    that command the visitors service."""
    return may_request(set(roles), "command", "visitors")
