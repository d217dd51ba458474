"""The web service on a real nats-server and a real SQLite file, through its ASGI app with its
lifespan (which opens the NATS connection): sign-in by link and password, the cookie, the CSRF
and Origin checks, school fences, idle and absolute session ends, the security headers of every
response, and phone events published to JetStream and applied by the patrol service once."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from nats.js import JetStreamContext
from sqlalchemy import select

from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from services.patrol import app as patrol_app
from services.patrol import store as patrol_store
from services.web import accounts, pages
from services.web.app import create_app
from services.web.store import WebRepository
from tests.integration.conftest import consumer_drained, running, wait_until

pytestmark = pytest.mark.nats

BASE = "https://lookout.test"
T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # a Saturday: no check windows, no timers
SSO, PRINCIPAL = "sso-rivera", "principal-okafor"
PASSWORD = "correct horse battery"
NONCE = re.compile(
    r"^default-src 'self'; script-src 'self' 'nonce-([A-Za-z0-9_-]{22})'; style-src 'self'; "
    r"object-src 'none'; frame-ancestors 'none'; base-uri 'none'$"
)
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def settings(nats_server: Any, tmp_path: Path) -> Settings:
    # A second school, so the fence between schools is tried: the example under another id.
    other = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    other.update(id="mhs", name="Meadow High School")
    other_path = tmp_path / "mhs.yaml"
    other_path.write_text(yaml.safe_dump(other), encoding="utf-8")
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        schools=f"{EXAMPLE_SCHOOL},{other_path}",
        web_base_url=BASE,
        web_behind_proxy=True,
        timers_enabled=False,
    )


@asynccontextmanager
async def web(settings: Settings, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE, headers={"Origin": BASE}
        ) as client:
            yield client


async def link_for(settings: Settings, clock: ManualClock, person: str, school: str = "lhs") -> str:
    url = await accounts.issue_link(settings, clock, school_id=school, person_id=person)
    assert url.startswith(f"{BASE}/signin/")
    return url.removeprefix(BASE)


async def sign_in(
    client: httpx.AsyncClient, settings: Settings, clock: ManualClock, person: str = SSO
) -> str:
    """Sign in by link; the page's CSRF token."""
    response = await client.post(await link_for(settings, clock, person))
    assert (response.status_code, response.headers["location"]) == (303, "/app")
    page = await client.get("/app")
    assert page.status_code == 200
    match = CSRF_META.search(page.text)
    assert match is not None
    return match.group(1)


def scan(tag: str = "T-OFC", zone: str = "main-office", **fields: Any) -> dict[str, Any]:
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "checkpoint.scanned",
        "school_id": "lhs",
        "occurred_at": T0.isoformat(),
        "actor": {"kind": "sso_device", "id": "spoofed"},
        "zone_id": zone,
        "checkpoint_tag": tag,
        "method": "qr",
    }
    event.update(fields)
    return event


def assert_problem(response: httpx.Response, status: int, detail: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    if detail is not None:
        assert body["detail"] == detail


async def test_sign_in_by_link_sets_the_cookie_rotates_the_session_and_is_single_use(
    settings: Settings, clock: ManualClock
) -> None:
    async with web(settings, clock) as client:
        client.cookies.set("__Host-lookout", "planted-by-an-attacker", domain="lookout.test")
        path = await link_for(settings, clock, SSO)
        response = await client.post(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/app"
        cookie = response.headers["set-cookie"]
        session_id = cookie.split(";")[0].removeprefix("__Host-lookout=")
        assert cookie == (
            f"__Host-lookout={session_id}; HttpOnly; Max-Age=43200; Path=/; SameSite=lax; Secure"
        )
        assert len(session_id) == 43 and session_id != "planted-by-an-attacker"

        assert_problem(await client.post(path), 404, "token: unknown, used or expired")
        assert_problem(await client.get(path), 404, "token: unknown, used or expired")
        assert (await client.get("/app")).status_code == 200

        # A second sign-in in the same browser ends the first session: the id is new.
        first = session_id
        second_response = await client.post(await link_for(settings, clock, SSO))
        second = second_response.cookies["__Host-lookout"]
        assert second != first
        stale = httpx.AsyncClient(
            transport=client._transport, base_url=BASE, cookies={"__Host-lookout": first}
        )
        async with stale:
            gone = await stale.get("/app")
        assert (gone.status_code, gone.headers["location"]) == (303, "/signin?next=/app")

        clock.advance(timedelta(minutes=16))  # an unused link expires after 15 minutes
        late = await link_for(settings, clock, SSO)
        clock.advance(timedelta(minutes=15))
        assert_problem(await client.get(late), 404)
        assert_problem(await client.post(late), 404)


async def test_password_sign_in_and_lockout_after_five_failures(
    settings: Settings, clock: ManualClock
) -> None:
    await accounts.set_password(settings, clock, school_id="lhs", person_id=SSO, password=PASSWORD)
    form = {"school": "lhs", "person": SSO, "password": PASSWORD, "next": "/t/lhs/T-OFC"}
    async with web(settings, clock) as client:
        ok = await client.post("/signin", data=form)
        assert (ok.status_code, ok.headers["location"]) == (303, "/t/lhs/T-OFC")
        assert "__Host-lookout" in ok.cookies
        client.cookies.clear()

        for _ in range(5):
            assert_problem(
                await client.post("/signin", data=form | {"password": "wrong"}),
                401,
                "school, person or password: not recognised",
            )
        locked = await client.post("/signin", data=form)  # the right password, too late
        assert_problem(locked, 429, "try again later")
        assert locked.headers["retry-after"] == "900"

        # The same address trying other accounts is locked out as well.
        other = form | {"person": PRINCIPAL}
        assert_problem(await client.post("/signin", data=other), 429)

        clock.advance(timedelta(minutes=15, seconds=1))
        again = await client.post("/signin", data=form)
        assert again.status_code == 303

        # Unknown people and schools fail the same way, and count.
        assert_problem(await client.post("/signin", data=form | {"person": "nobody"}), 401)
        assert_problem(await client.post("/signin", data=form | {"school": "zzz"}), 401)


async def test_every_state_change_needs_this_sites_origin_and_the_sessions_token(
    settings: Settings, clock: ManualClock
) -> None:
    async with web(settings, clock) as client:
        token = await sign_in(client, settings, clock)
        body = {"device_id": "phone-1", "events": [scan()]}
        no_token = await client.post("/api/v1/events", json=body)
        assert_problem(no_token, 403, "X-CSRF-Token: missing or not this session's")
        wrong = await client.post("/api/v1/events", json=body, headers={"X-CSRF-Token": "x"})
        assert_problem(wrong, 403, "X-CSRF-Token: missing or not this session's")
        for origin in ("https://evil.example", "http://lookout.test"):
            elsewhere = await client.post(
                "/api/v1/events", json=body, headers={"X-CSRF-Token": token, "Origin": origin}
            )
            assert_problem(elsewhere, 403, "Origin: missing or not this site")
        assert_problem(
            await client.post("/signout", headers={"Origin": "https://evil.example"}), 403
        )
        assert_problem(
            await client.post(
                "/signin",
                data={"school": "lhs", "person": SSO, "password": "x"},
                headers={"Origin": "https://evil.example"},
            ),
            403,
            "Origin: missing or not this site",
        )
        assert_problem(await client.post("/signout"), 403)

        out = await client.post("/signout", headers={"X-CSRF-Token": token})
        assert (out.status_code, out.headers["location"]) == (303, "/signin")
        assert_problem(
            await client.post("/api/v1/events", json=body, headers={"X-CSRF-Token": token}),
            401,
            "session: none, ended or expired",
        )


async def test_a_person_sees_only_their_own_school(settings: Settings, clock: ManualClock) -> None:
    async with web(settings, clock) as client:
        token = await sign_in(client, settings, clock)
        page = await client.get("/t/lhs/T-OFC")
        assert page.status_code == 200
        assert 'content="' + token + '"' in page.text
        for path in ("/t/mhs/T-OFC", "/t/lhs/T-NOPE", "/t/zzz/T-OFC"):
            assert_problem(await client.get(path), 404)
        answer = await client.post(
            "/api/v1/events",
            json={"device_id": "phone-1", "events": [scan(school_id="mhs")]},
            headers={"X-CSRF-Token": token},
        )
        assert answer.json()["results"][0]["status"] == "rejected"
        assert (
            answer.json()["results"][0]["reason"] == "school_id: not the signed-in person's school"
        )

    async with web(settings, clock) as anonymous:
        first = await anonymous.get("/t/lhs/T-OFC")
        assert (first.status_code, first.headers["location"]) == (303, "/signin?next=/t/lhs/T-OFC")


async def test_console_sessions_idle_out_and_phones_lock(
    settings: Settings, clock: ManualClock
) -> None:
    async with web(settings, clock) as phone, web(settings, clock) as console:
        token = await sign_in(phone, settings, clock, SSO)
        await sign_in(console, settings, clock, PRINCIPAL)
        clock.advance(timedelta(minutes=14, seconds=59))
        assert (await phone.get("/app")).status_code == 200  # active: the idle clock restarts
        assert (await console.get("/app")).status_code == 200
        clock.advance(timedelta(minutes=15))
        locked = await phone.post(
            "/api/v1/events",
            json={"device_id": "phone-1", "events": []},
            headers={"X-CSRF-Token": token},
        )
        assert_problem(locked, 401, "session: idle too long; sign in again")
        assert (await console.get("/app")).status_code == 200  # 15 of its 30 minutes
        clock.advance(timedelta(minutes=30))
        assert (await console.get("/app")).headers["location"] == "/signin?next=/app"

        token = await sign_in(phone, settings, clock, SSO)  # unlocking is signing in again
        for _ in range(51):  # a busy 12 h shift, never idle (51 x 14 min): it still ends
            clock.advance(timedelta(minutes=14))
            assert (await phone.get("/app")).status_code == 200
        clock.advance(timedelta(minutes=6))  # 12 h after signing in
        assert (await phone.get("/app")).headers["location"] == "/signin?next=/app"


async def test_phone_events_are_stored_once_by_the_patrol_service(
    settings: Settings, clock: ManualClock, js: JetStreamContext
) -> None:
    patrol = patrol_app.create_kernel(settings, clock)
    async with running(patrol, patrol_app.build_app), web(settings, clock) as client:
        token = await sign_in(client, settings, clock)
        good = [scan("T-OFC", "main-office"), scan("T-ENT-M", "entrance-main")]
        bad = [
            scan(zone="pool"),
            {k: v for k, v in scan().items() if k != "zone_id"},
            scan(method="telepathy"),
            {"type": "alert.opened", "event_id": str(uuid.uuid4())},
            {"type": "no.such.type"},
            "not an object",
        ]
        batch = {"device_id": "phone-rivera", "events": [*good, *bad]}
        headers = {"X-CSRF-Token": token}
        first = await client.post("/api/v1/events", json=batch, headers=headers)
        assert first.status_code == 200, first.text
        results = first.json()["results"]
        assert [(r["index"], r["status"], r.get("reason")) for r in results] == [
            (0, "stored", None),
            (1, "stored", None),
            (2, "rejected", "zone_id: not a zone of this school"),
            (3, "rejected", "zone_id: Field required"),
            (4, "rejected", "method: Input should be 'nfc', 'qr' or 'manual'"),
            (5, "rejected", "type: not an event this person's role sends"),
            (6, "rejected", "type: not an event type"),
            (7, "rejected", "<event>: not a JSON object"),
        ]
        assert [r["event_id"] for r in results[:3]] == [e["event_id"] for e in good[:2]] + [
            bad[0]["event_id"]
        ]
        assert "telepathy" not in first.text and "pool" not in first.text

        replay = await client.post("/api/v1/events", json=batch, headers=headers)
        assert [r["status"] for r in replay.json()["results"][:2]] == ["duplicate", "duplicate"]

        await wait_until(lambda: consumer_drained(js, "PATROL", "patrol-patrol"), what="drained")
        async with patrol.sessions() as session:
            rows = (await session.execute(select(patrol_store.checkpoint_scans))).all()
        assert sorted((r.event_id, r.zone_id, r.checkpoint_tag, r.officer_id) for r in rows) == (
            sorted((e["event_id"], e["zone_id"], e["checkpoint_tag"], "phone-rivera") for e in good)
        )
        stored = await js.get_last_msg("PATROL", "patrol.lhs.checkpoint.scanned")
        assert stored.headers is not None
        assert stored.headers["Nats-Msg-Id"] == good[1]["event_id"]


async def test_a_device_is_bound_to_the_officer_who_used_it_first(
    settings: Settings, clock: ManualClock
) -> None:
    mhs_sso = await accounts.issue_link(settings, clock, school_id="mhs", person_id=SSO)
    async with web(settings, clock) as rivera, web(settings, clock) as stranger:
        token = await sign_in(rivera, settings, clock)
        body = {"device_id": "phone-1", "events": []}
        assert (
            await rivera.post("/api/v1/events", json=body, headers={"X-CSRF-Token": token})
        ).json() == {"results": []}
        assert (await stranger.post(mhs_sso.removeprefix(BASE))).status_code == 303
        match = CSRF_META.search((await stranger.get("/app")).text)
        assert match is not None
        refused = await stranger.post(
            "/api/v1/events", json=body, headers={"X-CSRF-Token": match.group(1)}
        )
        assert_problem(refused, 403, "device_id: bound to another person")


async def test_bounds_and_errors_are_problems(settings: Settings, clock: ManualClock) -> None:
    async with web(settings, clock) as client:
        token = await sign_in(client, settings, clock)
        headers = {"X-CSRF-Token": token}
        too_many = {"device_id": "phone-1", "events": [{"type": "x"}] * 101}
        assert_problem(
            await client.post("/api/v1/events", json=too_many, headers=headers),
            413,
            "events: at most 100 per request",
        )
        huge = {"device_id": "phone-1", "events": [scan(note="x" * 70_000)]}
        assert_problem(
            await client.post("/api/v1/events", json=huge, headers=headers),
            413,
            "body: at most 65536 bytes",
        )
        assert_problem(
            await client.post("/api/v1/events", json={"device_id": "a b"}, headers=headers),
            422,
            "device_id: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'; "
            "events: Field required",
        )
        assert_problem(await client.get("/nowhere"), 404)
        assert_problem(await client.delete("/app", headers=headers), 405)


async def test_every_response_carries_the_security_headers(
    settings: Settings, clock: ManualClock
) -> None:
    async with web(settings, clock) as client:
        responses = [await client.get("/signin"), await client.get("/app")]
        token = await sign_in(client, settings, clock)
        responses += [
            await client.get("/app"),
            await client.get("/t/lhs/T-OFC"),
            await client.get("/t/mhs/T-OFC"),
            await client.get("/nowhere"),
            await client.get("/api/v1/openapi.json"),
            await client.get("/healthz"),
            await client.post("/api/v1/events", json={"device_id": "p", "events": []}),
            await client.post(
                "/api/v1/events", content=b"x" * 70_000, headers={"X-CSRF-Token": token}
            ),
        ]
        nonces = []
        for response in responses:
            match = NONCE.match(response.headers["content-security-policy"])
            assert match is not None, response.request.url
            nonces.append(match.group(1))
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["strict-transport-security"] == "max-age=63072000"
        assert len(set(nonces)) == len(nonces)  # a fresh nonce for every response
        page = await client.get("/app")
        nonce = NONCE.match(page.headers["content-security-policy"])
        assert nonce is not None
        if "<script" in page.text:  # every script the page has carries this response's nonce
            assert page.text.count("<script") == page.text.count(f'nonce="{nonce.group(1)}"')


async def test_static_files_and_the_service_worker_at_the_root(
    settings: Settings, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "sw.js").write_text("self.addEventListener('fetch', () => {});\n")
    (static / "app.css").write_text("body { margin: 0 }\n")
    monkeypatch.setattr(pages, "STATIC", static)
    async with web(settings, clock) as client:
        worker = await client.get("/sw.js")
        assert worker.status_code == 200
        assert worker.headers["service-worker-allowed"] == "/"
        assert worker.headers["content-type"] == "text/javascript; charset=utf-8"
        assert worker.headers["cache-control"] == "no-cache"
        css = await client.get("/static/app.css")
        assert (css.status_code, css.text) == (200, "body { margin: 0 }\n")
        assert css.headers["cache-control"] == "no-cache"
        assert NONCE.match(css.headers["content-security-policy"])
        assert_problem(await client.get("/static/missing.js"), 404)
        assert_problem(await client.get("/static/../store.py"), 404)
        (static / "sw.js").unlink()
        assert_problem(await client.get("/sw.js"), 404)


@pytest.mark.parametrize(
    ("base_url", "cookie"),
    [
        ("http://127.0.0.1:8000", "__Host-lookout={id}; HttpOnly; Max-Age=43200; Path=/; "
         "SameSite=lax; Secure"),
        ("http://localhost:8000", "__Host-lookout={id}; HttpOnly; Max-Age=43200; Path=/; "
         "SameSite=lax; Secure"),
        # Plain HTTP on a LAN address: browsers refuse a `__Host-` cookie that is not Secure.
        ("http://192.168.1.20:8000", "lookout={id}; HttpOnly; Max-Age=43200; Path=/; SameSite=lax"),
    ],
)  # fmt: skip
async def test_the_cookie_without_tls(
    settings: Settings, clock: ManualClock, base_url: str, cookie: str
) -> None:
    plain = settings.model_copy(update={"web_base_url": base_url, "web_behind_proxy": False})
    app = create_app(plain, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=base_url, headers={"Origin": base_url}
        ) as client:
            url = await accounts.issue_link(plain, clock, school_id="lhs", person_id=SSO)
            response = await client.post(url.removeprefix(base_url))
    assert response.status_code == 303
    set_cookie = response.headers["set-cookie"]
    session_id = set_cookie.split(";")[0].split("=", 1)[1]
    assert set_cookie == cookie.format(id=session_id)
    assert "strict-transport-security" not in response.headers


async def test_an_unexpected_failure_logs_the_route_and_error_class_never_the_token(
    settings: Settings, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: WebRepository, **_: Any) -> None:
        raise RuntimeError("DETAIL: Failing row contains (Jane Doe, 1234, 2009-04-01)")

    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("lookout.web")
    logger.addHandler(handler)
    try:
        async with web(settings, clock) as client:
            link = await link_for(settings, clock, SSO)
            monkeypatch.setattr(WebRepository, "consume_link", broken)
            response = await client.post(link)
    finally:
        logger.removeHandler(handler)
    assert_problem(response, 500)
    token = link.removeprefix("/signin/")
    assert [line for line in lines if "request_failed" in line] == [
        "event=request_failed method=POST route=/signin/{token} error=RuntimeError"
    ]
    assert not any(token in line or "Jane" in line for line in lines)


async def test_a_sign_out_on_one_replica_reaches_another_within_five_seconds(
    settings: Settings, clock: ManualClock
) -> None:
    """Each web process remembers a session it saw active for up to 5 s (a phone's batches cost
    no database round trip); the process that ends a session forgets it at once, another
    replica reads it again within 5 s."""
    async with web(settings, clock) as first, web(settings, clock) as second:
        token = await sign_in(first, settings, clock)
        second.cookies = first.cookies
        body = {"device_id": "phone-1", "events": []}
        headers = {"X-CSRF-Token": token}
        assert (await second.post("/api/v1/events", json=body, headers=headers)).status_code == 200
        signed_out = await first.post("/signout", headers=headers)
        assert signed_out.status_code == 303
        # The replica that signed out refuses the session at once, at the same instant.
        stale = httpx.AsyncClient(
            transport=first._transport, base_url=BASE, headers={"Origin": BASE}
        )
        stale.cookies = second.cookies
        async with stale:
            assert_problem(
                await stale.post("/api/v1/events", json=body, headers=headers),
                401,
                "session: none, ended or expired",
            )
            clock.advance(timedelta(seconds=5))
            assert_problem(
                await second.post("/api/v1/events", json=body, headers=headers),
                401,
                "session: none, ended or expired",
            )


async def test_a_known_device_is_refused_to_another_person_and_last_seen_every_half_minute(
    settings: Settings, clock: ManualClock
) -> None:
    from lookout.kernel.storage import make_engine
    from services.web.store import devices

    async with web(settings, clock) as rivera:
        token = await sign_in(rivera, settings, clock)
        body = {"device_id": "phone-1", "events": []}
        headers = {"X-CSRF-Token": token}

        async def send() -> int:
            return (await rivera.post("/api/v1/events", json=body, headers=headers)).status_code

        engine = make_engine(settings.database_url("web"))

        async def last_seen() -> datetime:
            async with engine.connect() as db:
                return (await db.execute(select(devices.c.last_seen_at))).scalar_one()

        try:
            assert await send() == 200
            assert await last_seen() == T0
            clock.advance(timedelta(seconds=29))
            assert await send() == 200
            assert await last_seen() == T0
            clock.advance(timedelta(seconds=1))
            assert await send() == 200
            assert await last_seen() == T0 + timedelta(seconds=30)
        finally:
            await engine.dispose()

        # Another person signed in on the same web process: the binding it remembers refuses.
        other = httpx.AsyncClient(
            transport=rivera._transport, base_url=BASE, headers={"Origin": BASE}
        )
        async with other:
            other_token = await sign_in(other, settings, clock, PRINCIPAL)
            refused = await other.post(
                "/api/v1/events", json=body, headers={"X-CSRF-Token": other_token}
            )
            assert_problem(refused, 403, "device_id: bound to another person")


async def test_opening_a_sign_in_link_uses_nothing_until_the_person_taps_sign_in(
    settings: Settings, clock: ManualClock
) -> None:
    """Mail scanners and chat previews fetch a link before its person opens it: GET shows whom
    it signs in and a button; only the button's POST (from this site) uses the link."""
    async with web(settings, clock) as client:
        path = await link_for(settings, clock, SSO)
        for _ in range(3):  # a preview, a scanner, the person: the link is still there
            page = await client.get(path)
            assert page.status_code == 200
            assert "set-cookie" not in page.headers
            assert '<h1 id="link-title">Sign in as Dana Rivera</h1>' in page.text
            assert f'<form class="form" method="post" action="{path}">' in page.text
            assert page.headers["cache-control"] == "no-store"
        assert (await client.get("/app")).headers["location"] == "/signin?next=/app"

        foreign = httpx.AsyncClient(
            transport=client._transport, base_url=BASE, headers={"Origin": "https://evil.test"}
        )
        async with foreign:  # another site's form cannot spend it
            assert (await foreign.post(path)).status_code == 403
        signed_in = await client.post(path)
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/app")
        assert (await client.get("/app")).status_code == 200
        assert_problem(await client.get(path), 404, "token: unknown, used or expired")


async def test_a_clean_stop_logs_no_lost_connection_and_a_lost_broker_does(
    settings: Settings, clock: ManualClock, nats_server: Any
) -> None:
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("lookout.web")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        async with web(settings, clock):
            pass
        assert [line for line in lines if "nats_" in line] == []

        async with web(settings, clock) as client:
            assert (await client.get("/readyz")).status_code == 200

            def logged(line: str) -> Callable[[], Awaitable[bool]]:
                async def seen() -> bool:
                    return line in lines

                return seen

            nats_server.stop()
            await wait_until(logged("event=nats_disconnected"), what="the lost connection logged")
            nats_server.start()
            await wait_until(logged("event=nats_reconnected"), what="the reconnection logged")
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)


async def test_modules_and_styles_go_gzipped_and_pages_never(
    settings: Settings, clock: ManualClock
) -> None:
    """A phone's first load on a weak signal: the static files are compressed. A page never is
    (it carries the session's CSRF token; compressing it next to reflected input is BREACH)."""
    from services.web.pages import STATIC

    async with web(settings, clock) as client:
        await sign_in(client, settings, clock)
        for name in ("app.js", "today.js", "app.css"):
            answer = await client.get(f"/static/{name}", headers={"Accept-Encoding": "gzip"})
            assert answer.headers["content-encoding"] == "gzip", name
            assert answer.headers["vary"] == "Accept-Encoding"
            assert answer.content == (STATIC / name).read_bytes()  # httpx decoded it
            assert int(answer.headers["content-length"]) < len(answer.content) // 2
        plain = await client.get("/static/app.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        page = await client.get("/app", headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200 and "content-encoding" not in page.headers
