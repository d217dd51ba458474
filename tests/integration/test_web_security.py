"""The web service's security checklist, where tests/integration/test_web.py leaves gaps: a
state change without an Origin or with another session's token is refused; a password sign-in
rotates the session id too; a console session ends 12 h after sign-in however busy; failed
sign-ins lock out per account (from any address) and per address (for any account), and a
browser's form hears it in words; and the CSP is on every kind of response (redirects, 401,
405, 422, 429, 500, static files, the service worker, the sign-in form's error)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from services.web import accounts
from services.web.app import create_app
from services.web.store import WebRepository

pytestmark = pytest.mark.nats

BASE = "https://lookout.test"
T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # a Saturday: no check windows
SSO, PRINCIPAL, OFFICE = "sso-rivera", "principal-okafor", "office-garcia"
PASSWORD = "correct horse battery"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
CSP = re.compile(
    r"^default-src 'self'; script-src 'self' 'nonce-[A-Za-z0-9_-]{22}'; style-src 'self'; "
    r"object-src 'none'; frame-ancestors 'none'; base-uri 'none'$"
)
COOKIE = "__Host-lookout"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def settings(nats_server: Any, tmp_path: Path) -> Settings:
    other = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    other.update(id="mhs", name="Meadow High School")
    other_path = tmp_path / "mhs.yaml"
    other_path.write_text(yaml.safe_dump(other), encoding="utf-8")
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        schools=f"{EXAMPLE_SCHOOL},{other_path}",
        web_base_url=BASE,
        web_behind_proxy=True,  # HTTPS at the proxy: the `__Host-` cookie
        timers_enabled=False,
    )


class Web:
    """The web app with its lifespan; a client per address (`client("10.0.0.7")`)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.clients: list[httpx.AsyncClient] = []

    def client(self, address: str = "127.0.0.1", **headers: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        client = httpx.AsyncClient(
            transport=transport, base_url=BASE, headers={"Origin": BASE, **headers}
        )
        self.clients.append(client)
        return client


@asynccontextmanager
async def web(settings: Settings, clock: ManualClock) -> AsyncIterator[Web]:
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        each = Web(app)
        try:
            yield each
        finally:
            for client in each.clients:
                await client.aclose()


async def sign_in(
    client: httpx.AsyncClient, settings: Settings, clock: ManualClock, person: str = SSO
) -> str:
    """Sign in by link; the page's CSRF token."""
    link = await accounts.issue_link(settings, clock, school_id="lhs", person_id=person)
    answer = await client.post(link.removeprefix(BASE))
    assert (answer.status_code, answer.headers["location"]) == (303, "/app")
    match = CSRF_META.search((await client.get("/app")).text)
    assert match is not None
    return match.group(1)


def assert_problem(response: httpx.Response, status: int, detail: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if detail is not None:
        assert response.json()["detail"] == detail


def form(person: str = SSO, password: str = PASSWORD, school: str = "lhs") -> dict[str, str]:
    return {"school": school, "person": person, "password": password, "next": "/app"}


async def test_a_state_change_without_an_origin_or_with_another_sessions_token_is_refused(
    settings: Settings, clock: ManualClock
) -> None:
    async with web(settings, clock) as app:
        mine, theirs = app.client(), app.client()
        token = await sign_in(mine, settings, clock)
        their_token = await sign_in(theirs, settings, clock, PRINCIPAL)
        body = {"device_id": "phone-1", "events": []}
        del mine.headers["Origin"]
        no_origin = await mine.post("/api/v1/events", json=body, headers={"X-CSRF-Token": token})
        assert_problem(no_origin, 403, "Origin: missing or not this site")
        mine.headers["Origin"] = BASE
        crossed = await mine.post(
            "/api/v1/events", json=body, headers={"X-CSRF-Token": their_token}
        )
        assert_problem(crossed, 403, "X-CSRF-Token: missing or not this session's")
        # A GET changes nothing, whoever asks: signing out takes a POST.
        assert_problem(await mine.get("/signout"), 405)
        assert (await mine.get("/app")).status_code == 200
        ok = await mine.post("/api/v1/events", json=body, headers={"X-CSRF-Token": token})
        assert (ok.status_code, ok.json()) == (200, {"results": []})


async def test_a_password_sign_in_rotates_the_session_id(
    settings: Settings, clock: ManualClock
) -> None:
    await accounts.set_password(settings, clock, school_id="lhs", person_id=SSO, password=PASSWORD)
    async with web(settings, clock) as app:
        victim = app.client()
        # An attacker's own session, planted in the victim's browser before they sign in.
        attacker = app.client()
        await sign_in(attacker, settings, clock)
        planted = attacker.cookies[COOKIE]
        victim.cookies.set(COOKIE, planted, domain="lookout.test")

        signed_in = await victim.post("/signin", data=form())
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/app")
        fresh = signed_in.cookies[COOKIE]
        assert len(fresh) == 43 and fresh != planted
        assert (await victim.get("/app")).status_code == 200
        # The planted session ended at the sign-in: the attacker holds nothing.
        gone = await attacker.get("/app")
        assert (gone.status_code, gone.headers["location"]) == (303, "/signin?next=/app")


async def test_a_console_session_ends_12_hours_after_sign_in_however_busy(
    settings: Settings, clock: ManualClock
) -> None:
    async with web(settings, clock) as app:
        console = app.client()
        await sign_in(console, settings, clock, PRINCIPAL)
        for _ in range(25):  # 25 x 28 min = 11 h 40 min, never idle 30 min
            clock.advance(timedelta(minutes=28))
            assert (await console.get("/app")).status_code == 200
        clock.advance(timedelta(minutes=19, seconds=59))
        assert (await console.get("/app")).status_code == 200
        clock.advance(timedelta(seconds=1))  # 12 h after signing in
        ended = await console.get("/app")
        assert (ended.status_code, ended.headers["location"]) == (303, "/signin?next=/app")


async def test_failed_sign_ins_lock_the_account_from_any_address(
    settings: Settings, clock: ManualClock
) -> None:
    await accounts.set_password(settings, clock, school_id="lhs", person_id=SSO, password=PASSWORD)
    async with web(settings, clock) as app:
        guesser = app.client("203.0.113.9")
        for _ in range(5):
            assert_problem(await guesser.post("/signin", data=form(password="guess")), 401)
        # The officer, elsewhere, with the right password: the account waits out the window.
        officer = app.client("198.51.100.20")
        assert_problem(await officer.post("/signin", data=form()), 429, "try again later")
        # Another account from that other address is not locked.
        assert_problem(await officer.post("/signin", data=form(PRINCIPAL, "guess")), 401)
        clock.advance(timedelta(minutes=15, seconds=1))  # the window is over
        assert (await officer.post("/signin", data=form())).status_code == 303


async def test_failed_sign_ins_lock_the_address_for_every_account(
    settings: Settings, clock: ManualClock
) -> None:
    await accounts.set_password(settings, clock, school_id="lhs", person_id=SSO, password=PASSWORD)
    async with web(settings, clock) as app:
        sprayer = app.client("203.0.113.9")
        for person in ("nobody-1", "nobody-2", PRINCIPAL, OFFICE, "nobody-3"):
            assert_problem(await sprayer.post("/signin", data=form(person, "guess")), 401)
        # One failure per account, five from one address: that address is locked out…
        assert_problem(await sprayer.post("/signin", data=form()), 429)
        # …and the officer's account is not.
        officer = app.client("198.51.100.20")
        assert (await officer.post("/signin", data=form())).status_code == 303


async def test_a_browsers_sign_in_form_says_what_went_wrong_in_words(
    settings: Settings, clock: ManualClock
) -> None:
    async with web(settings, clock) as app:
        browser = app.client(Accept="text/html,application/xhtml+xml,*/*;q=0.8")
        for _ in range(5):
            refused = await browser.post("/signin", data=form(password="guess"))
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "text/html; charset=utf-8"
            assert "The school, person or password was not recognised." in refused.text
            assert "guess" not in refused.text  # never the password back
            assert 'value="sso-rivera"' in refused.text  # the person, kept for another try
        locked = await browser.post("/signin", data=form())
        assert (locked.status_code, locked.headers["retry-after"]) == (429, "900")
        assert "Too many failed sign-ins. Try again in 15 minutes." in locked.text


async def test_every_kind_of_response_carries_the_csp(
    settings: Settings, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with web(settings, clock) as app:
        client = app.client()
        anonymous = app.client()
        token = await sign_in(client, settings, clock)
        answers = {
            "the sign-in link's page": await anonymous.get(
                (
                    await accounts.issue_link(settings, clock, school_id="lhs", person_id=SSO)
                ).removeprefix(BASE)
            ),
            "the sign-in link's redirect": await anonymous.post(
                (
                    await accounts.issue_link(settings, clock, school_id="lhs", person_id=SSO)
                ).removeprefix(BASE)
            ),
            "a page's redirect to sign in": await app.client().get("/app"),
            "an unknown link (404)": await anonymous.get("/signin/nope"),
            "401": await app.client().post("/api/v1/events", json={"device_id": "p", "events": []}),
            "405": await client.put("/api/v1/events"),
            "422": await client.post(
                "/api/v1/events", json={"device_id": "a b"}, headers={"X-CSRF-Token": token}
            ),
            "the service worker": await client.get("/sw.js"),
            "a module": await client.get("/static/outbox.js"),
            "the stylesheet": await client.get("/static/app.css"),
            "the manifest": await client.get("/static/manifest.webmanifest"),
            "a missing static file": await client.get("/static/nope.js"),
            "the sign-in form's error": await app.client(Accept="text/html").post(
                "/signin", data=form(password="guess")
            ),
        }
        for _ in range(4):
            await anonymous.post("/signin", data=form(password="guess"))
        answers["429"] = await anonymous.post("/signin", data=form(password="guess"))

        async def broken(self: WebRepository, **_: Any) -> None:
            raise RuntimeError("broken on purpose")

        monkeypatch.setattr(WebRepository, "consume_link", broken)
        logging.getLogger("lookout.web").disabled = True  # the 500's log line is tested elsewhere
        try:
            answers["500"] = await anonymous.post("/signin/anything")
        finally:
            logging.getLogger("lookout.web").disabled = False

    statuses = {what: answer.status_code for what, answer in answers.items()}
    assert statuses == {
        "the sign-in link's page": 200,
        "the sign-in link's redirect": 303,
        "a page's redirect to sign in": 303,
        "an unknown link (404)": 404,
        "401": 401,
        "405": 405,
        "422": 422,
        "the service worker": 200,
        "a module": 200,
        "the stylesheet": 200,
        "the manifest": 200,
        "a missing static file": 404,
        "the sign-in form's error": 401,
        "429": 429,
        "500": 500,
    }
    missing = [
        w for w, a in answers.items() if not CSP.match(a.headers.get("content-security-policy", ""))
    ]
    assert missing == []
    assert all(a.headers["x-content-type-options"] == "nosniff" for a in answers.values())
