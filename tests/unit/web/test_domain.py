"""The web's pure rules: session lifetimes, the CSRF check, the sign-in limits, redirects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lookout.school.config import Role
from services.web.domain import (
    SessionKind,
    SessionState,
    csrf_refusal,
    link_usable,
    locked_out,
    safe_next,
    session_kind,
    session_state,
)

T0 = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("kind", "age", "idle", "expected"),
    [
        (SessionKind.CONSOLE, 29 * MIN, 29 * MIN, SessionState.ACTIVE),
        (SessionKind.CONSOLE, 30 * MIN, 30 * MIN, SessionState.EXPIRED),
        (SessionKind.CONSOLE, 11 * 60 * MIN, 1 * MIN, SessionState.ACTIVE),
        (SessionKind.CONSOLE, 12 * 60 * MIN, 0 * MIN, SessionState.EXPIRED),
        (SessionKind.PHONE, 14 * MIN, 14 * MIN, SessionState.ACTIVE),
        (SessionKind.PHONE, 15 * MIN, 15 * MIN, SessionState.LOCKED),
        (SessionKind.PHONE, 11 * 60 * MIN, 14 * MIN, SessionState.ACTIVE),
        (SessionKind.PHONE, 12 * 60 * MIN, 0 * MIN, SessionState.EXPIRED),
        (SessionKind.PHONE, 12 * 60 * MIN, 20 * MIN, SessionState.EXPIRED),
    ],
)
def test_session_lifetimes(
    kind: SessionKind, age: timedelta, idle: timedelta, expected: SessionState
) -> None:
    now = T0 + age
    assert session_state(kind, T0, now - idle, now) is expected


def test_an_sso_signs_in_on_a_phone_everyone_else_on_a_console() -> None:
    assert session_kind([Role.SSO]) is SessionKind.PHONE
    assert session_kind([Role.PRINCIPAL, Role.SSO]) is SessionKind.PHONE
    for role in set(Role) - {Role.SSO}:
        assert session_kind([role]) is SessionKind.CONSOLE


BASE = "https://lookout.example.org"


@pytest.mark.parametrize(
    ("method", "origin", "header", "session", "expected"),
    [
        ("GET", None, None, "tok", None),
        ("HEAD", "https://evil.example", None, "tok", None),
        ("POST", BASE, "tok", "tok", None),
        ("POST", "HTTPS://LOOKOUT.EXAMPLE.ORG", "tok", "tok", None),
        ("POST", None, "tok", "tok", "Origin: missing or not this site"),
        ("POST", "https://evil.example", "tok", "tok", "Origin: missing or not this site"),
        ("POST", "http://lookout.example.org", "tok", "tok", "Origin: missing or not this site"),
        ("POST", BASE, None, "tok", "X-CSRF-Token: missing or not this session's"),
        ("POST", BASE, "other", "tok", "X-CSRF-Token: missing or not this session's"),
        ("DELETE", BASE, "", "tok", "X-CSRF-Token: missing or not this session's"),
        ("POST", BASE, None, None, None),  # before a session: the Origin is what there is
        ("POST", "https://evil.example", None, None, "Origin: missing or not this site"),
    ],
)
def test_csrf(
    method: str, origin: str | None, header: str | None, session: str | None, expected: str | None
) -> None:
    refusal = csrf_refusal(
        method=method, origin=origin, base_url=BASE, header_token=header, session_token=session
    )
    assert refusal == expected


def test_five_failures_lock_out_and_a_link_is_usable_once_until_it_expires() -> None:
    assert [locked_out(n) for n in range(7)] == [False] * 5 + [True] * 2
    assert link_usable(T0 + 15 * MIN, None, T0 + 14 * MIN)
    assert not link_usable(T0 + 15 * MIN, None, T0 + 15 * MIN)
    assert not link_usable(T0 + 15 * MIN, T0, T0 + MIN)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "/app"),
        ("", "/app"),
        ("/t/lhs/T-OFC", "/t/lhs/T-OFC"),
        ("//evil.example/x", "/app"),
        ("https://evil.example/", "/app"),
        ("/\\evil.example", "/app"),
        ("app", "/app"),
    ],
)
def test_after_sign_in_only_a_path_of_this_site(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected
