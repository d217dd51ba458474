"""Staff sign-in with Google Workspace and Microsoft Entra (OpenID Connect) against a local
provider the tests start (tests/integration/oidc_provider.py): the web service on a real
nats-server and SQLite through its ASGI app, the provider under uvicorn on a loopback port,
which the web's Authlib clients reach over HTTP. A sign-in that succeeds makes a session as a
one-time link does; each refusal says its reason (never the token, the code or the email) and
makes none."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from services.web.app import create_app
from services.web.store import sessions
from tests.integration.oidc_provider import (
    ENTRA_CLIENT,
    GOOGLE_CLIENT,
    SECRETS,
    LocalProvider,
    running_provider,
)

pytestmark = pytest.mark.nats

BASE = "https://lookout.test"
T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
TENANT = "3b8f5a2c-9d41-4e7a-b6c0-12f4e8a9d375"
OTHER_TENANT = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
DOMAIN = "lakeside.example.org"
RIVERA = "d.rivera@lakeside.example.org"  # sso-rivera in the example school
OKAFOR = "a.okafor@lakeside.example.org"  # principal-okafor
STATE_COOKIE = "__Host-lookout-oidc"


@pytest.fixture
async def provider() -> AsyncIterator[LocalProvider]:
    async with running_provider() as running:
        yield running


def school_with_sign_in(
    tmp_path: Path, provider: LocalProvider, google_discovery: str | None = None
) -> Path:
    school = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    school["staff_sign_in"] = {
        "google": {
            "client_id": GOOGLE_CLIENT,
            "hosted_domains": [DOMAIN],
            "discovery_url": google_discovery or provider.google_discovery(),
        },
        "entra": {
            "client_id": ENTRA_CLIENT,
            "tenants": [TENANT],
            "discovery_url": provider.entra_discovery(),
        },
    }
    path = tmp_path / ("lhs.yaml" if google_discovery is None else "lhs-down.yaml")
    path.write_text(yaml.safe_dump(school), encoding="utf-8")
    return path


@pytest.fixture
def settings(nats_server: Any, tmp_path: Path, provider: LocalProvider) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        schools=str(school_with_sign_in(tmp_path, provider)),
        web_base_url=BASE,
        web_behind_proxy=True,
        timers_enabled=False,
        oidc_google_client_secret=SECRETS[GOOGLE_CLIENT],
        oidc_entra_client_secret=SECRETS[ENTRA_CLIENT],
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@asynccontextmanager
async def web(settings: Settings, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE, headers={"Origin": BASE}
        ) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def to_provider(client: httpx.AsyncClient, which: str, next: str | None = None) -> str:
    """Tap a provider's button: where the browser is sent (the provider's authorize URL)."""
    form = {"next": next} if next is not None else {}
    started = await client.post(f"/signin/oidc/lhs/{which}", data=form)
    assert started.status_code == 303, started.text
    return started.headers["location"]


async def back_from_provider(authorize_url: str) -> str:
    """The provider signs the person in at once: the callback path it sends them back to."""
    async with httpx.AsyncClient() as browser_at_provider:
        answer = await browser_at_provider.get(authorize_url)
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"]
    assert back.startswith(f"{BASE}/signin/oidc/callback?")
    return back.removeprefix(BASE)


async def round_trip(client: httpx.AsyncClient, which: str = "google") -> str:
    """To the provider and back: the callback path, not yet opened."""
    return await back_from_provider(await to_provider(client, which))


async def sign_in_with(
    client: httpx.AsyncClient, which: str, accept: str = "application/json"
) -> httpx.Response:
    back = await back_from_provider(await to_provider(client, which))
    return await client.get(back, headers={"Accept": accept})


async def session_count(client: httpx.AsyncClient) -> int:
    async with client.app.state.web.sessions() as db:  # type: ignore[attr-defined]
        return int((await db.execute(select(func.count()).select_from(sessions))).scalar_one())


async def test_google_signs_in_the_person_of_the_verified_email_with_pkce_state_and_nonce(
    settings: Settings, clock: ManualClock, provider: LocalProvider
) -> None:
    provider.identity = {"email": "D.Rivera@Lakeside.example.org", "email_verified": True,
                         "hd": DOMAIN}  # fmt: skip
    async with web(settings, clock) as client:
        client.cookies.set("__Host-lookout", "planted-by-an-attacker", domain="lookout.test")
        authorize = await to_provider(client, "google", next="/t/lhs/T-OFC")
        assert authorize.startswith(f"{provider.url}/google/authorize?")
        cookie = client.cookies.jar._cookies["lookout.test"]["/"][STATE_COOKIE]  # type: ignore[attr-defined]
        assert (cookie.secure, cookie.has_nonstandard_attr("HttpOnly")) == (True, True)
        back = await back_from_provider(authorize)
        answer = await client.get(back)

        assert (answer.status_code, answer.headers["location"]) == (303, "/t/lhs/T-OFC")
        set_cookies = answer.headers.get_list("set-cookie")
        session_id = answer.cookies["__Host-lookout"]
        assert len(session_id) == 43 and session_id != "planted-by-an-attacker"
        assert f"__Host-lookout={session_id}; HttpOnly; Max-Age=43200; Path=/; SameSite=lax; " \
            "Secure" in set_cookies  # fmt: skip
        assert any(c.startswith(f'{STATE_COOKIE}=""; expires=') for c in set_cookies)
        assert STATE_COOKIE not in client.cookies
        page = await client.get("/app")
        assert page.status_code == 200 and "Dana Rivera" in page.text
        assert await session_count(client) == 1

    [asked] = provider.authorizations
    named = ("response_type", "client_id", "redirect_uri", "scope", "hd", "code_challenge_method")
    assert {k: asked[k] for k in named} == {
        "response_type": "code",
        "client_id": GOOGLE_CLIENT,
        "redirect_uri": f"{BASE}/signin/oidc/callback",
        "scope": "openid email profile",
        "hd": DOMAIN,
        "code_challenge_method": "S256",
    }
    assert len(asked["code_challenge"]) == 43 and len(asked["state"]) >= 20
    assert len(asked["nonce"]) >= 20
    [exchanged] = provider.token_requests
    assert exchanged["grant_type"] == "authorization_code"
    assert exchanged["redirect_uri"] == f"{BASE}/signin/oidc/callback"
    assert len(exchanged["code_verifier"]) >= 43  # checked by the provider against the challenge


async def test_entra_signs_in_a_person_of_an_allowed_tenant(
    settings: Settings, clock: ManualClock, provider: LocalProvider
) -> None:
    provider.identity = {"email": OKAFOR, "tid": TENANT}  # Entra sends no email_verified
    async with web(settings, clock) as client:
        answer = await sign_in_with(client, "entra")
        assert (answer.status_code, answer.headers["location"]) == (303, "/app")
        page = await client.get("/app")
        assert page.status_code == 200 and "Ada Okafor" in page.text
        assert await session_count(client) == 1
    [asked] = provider.authorizations
    assert asked["client_id"] == ENTRA_CLIENT and "hd" not in asked


GOOD_GOOGLE = {"email": RIVERA, "email_verified": True, "hd": DOMAIN}
GOOD_ENTRA = {"email": RIVERA, "tid": TENANT}
HOUR_AGO = int(datetime.now(UTC).timestamp()) - 3600
# (case, provider, what the ID token says differently from a good one, status, detail)
REFUSALS: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("google: wrong audience", "google", {"aud": "someone-else.apps.googleusercontent.com"},
     401, "id_token.aud: not for this school"),
    ("google: another audience, this client as azp", "google",
     {"aud": ["someone-else.apps.googleusercontent.com"], "azp": GOOGLE_CLIENT},
     401, "id_token.aud: not for this school"),
    ("entra: wrong audience", "entra", {"aud": "0f0f0f0f-0000-4000-8000-000000000000"},
     401, "id_token.aud: not for this school"),
    ("google: wrong issuer", "google", {"iss": "https://accounts.example.net"},
     401, "id_token.iss: not the provider"),
    ("entra: an allowed tenant's id, another issuer", "entra",
     {"iss": f"https://login.example.net/{TENANT}/v2.0"}, 401, "id_token.iss: not the provider"),
    ("google: expired an hour ago", "google", {"exp": HOUR_AGO, "iat": HOUR_AGO - 3600},
     401, "id_token.exp: expired"),
    ("entra: expired an hour ago", "entra", {"exp": HOUR_AGO, "iat": HOUR_AGO - 3600},
     401, "id_token.exp: expired"),
    ("google: another Workspace domain", "google", {"hd": "other.example.org"},
     401, "id_token.hd: not one of the school's Google Workspace domains"),
    ("google: a personal account (no hd)", "google",
     {"hd": None, "email": "d.rivera.home@gmail.com"},
     401, "id_token.hd: not one of the school's Google Workspace domains"),
    ("entra: another tenant", "entra", {"tid": OTHER_TENANT},
     401, "id_token.tid: not one of the school's Microsoft Entra tenants"),
    ("google: unverified email", "google", {"email_verified": False},
     401, "id_token.email_verified: the provider has not verified the email"),
    ("google: email_verified missing", "google", {"email_verified": None},
     401, "id_token.email_verified: the provider has not verified the email"),
    ("entra: xms_edov false", "entra", {"xms_edov": False},
     401, "id_token.email_verified: the provider has not verified the email"),
    ("google: unknown email", "google", {"email": "nobody@lakeside.example.org"},
     401, "id_token.email: no person of this school has it"),
    ("entra: unknown email", "entra", {"email": "nobody@lakeside.example.org"},
     401, "id_token.email: no person of this school has it"),
    ("entra: no email", "entra", {"email": None}, 401, "id_token.email: missing"),
    ("google: another sign-in's nonce", "google", {"nonce": "a-nonce-of-another-sign-in"},
     401, "id_token.nonce: does not match"),
]  # fmt: skip


async def test_each_spoiled_id_token_is_refused_by_name_and_makes_no_session(
    settings: Settings,
    clock: ManualClock,
    provider: LocalProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One app for every case (a web app each would cost a second apiece); each case is
    signed in from a fresh browser and named in its failure."""
    caplog.set_level(logging.INFO, logger="lookout")
    async with web(settings, clock) as client:
        for case, which, spoiled, status, detail in REFUSALS:
            provider.identity = (GOOD_GOOGLE if which == "google" else GOOD_ENTRA) | spoiled
            if which == "entra" and "tid" in spoiled:  # the other tenant's own issuer
                provider.identity["iss"] = provider.entra_issuer(spoiled["tid"])
            caplog.clear()
            client.cookies.clear()
            answer = await sign_in_with(client, which)
            assert (answer.status_code, answer.headers["content-type"]) == (
                status, "application/problem+json"), case  # fmt: skip
            assert answer.json() == {"type": "about:blank", "title": "Sign-in refused",
                                     "status": status, "detail": detail}, case  # fmt: skip
            assert "__Host-lookout" not in answer.cookies, case
            assert STATE_COOKIE not in client.cookies, case
            assert (await client.get("/app")).status_code == 303, case
            said = [*provider.issued, str(provider.identity.get("email"))]
            # The service's own lines: httpx logs the test's requests to it (the callback URL
            # with its code) when another test has set the root logger to INFO.
            logged = "\n".join(
                r.getMessage()
                for r in caplog.records
                if not (r.name == "httpx" and BASE in r.getMessage())
            )
            assert [s for s in said if s in answer.text or s in logged] == [], case
            assert f"provider={which} reason=" in caplog.text, case
        assert await session_count(client) == 0
        metrics = client.app.state.metrics.registry  # type: ignore[attr-defined]
        failures = {"method": "oidc"}
        assert metrics.get_sample_value("lookout_web_signin_failures_total", failures) == len(
            REFUSALS
        )


async def test_a_refusal_to_a_browser_is_the_sign_in_page_saying_why(
    settings: Settings, clock: ManualClock, provider: LocalProvider
) -> None:
    provider.identity = GOOD_GOOGLE | {"email": "nobody@lakeside.example.org"}
    async with web(settings, clock) as client:
        back = await back_from_provider(await to_provider(client, "google", next="/console"))
        answer = await client.get(back, headers={"Accept": "text/html,application/xhtml+xml"})
        assert answer.status_code == 401
        assert '<input type="hidden" name="next" value="/console">' in answer.text
        assert answer.headers["content-type"].startswith("text/html")
        assert (
            '<p class="form__error" id="signin-provider-error" role="alert">Your account is not '
            "one of this school&#39;s staff in Lookout. Ask the school&#39;s admin.</p>"
        ) in answer.text
        assert "nobody@" not in answer.text
        assert await session_count(client) == 0


async def test_a_callback_without_this_browsers_state_is_refused(
    settings: Settings, clock: ManualClock, provider: LocalProvider
) -> None:
    provider.identity = GOOD_GOOGLE
    state_refused = {"type": "about:blank", "title": "Sign-in refused", "status": 400,
                     "detail": "state: missing, expired or not this browser's sign-in"}  # fmt: skip
    async with web(settings, clock) as client:
        # The state in the URL is not the one this browser's sign-in sent.
        back = await back_from_provider(await to_provider(client, "google"))
        query = parse_qs(urlsplit(back).query)
        forged = f"/signin/oidc/callback?code={query['code'][0]}&state=not-the-state"
        answer = await client.get(forged)
        assert (answer.status_code, answer.json()) == (400, state_refused)
        # The state cookie went with that refusal: the true callback is refused too.
        assert (await client.get(back)).json() == state_refused

        # Another browser (no state cookie) brought a callback URL: refused.
        back = await back_from_provider(await to_provider(client, "google"))
        async with httpx.AsyncClient(transport=client._transport, base_url=BASE) as other:
            assert (await other.get(back)).json() == state_refused

        # More than 10 minutes at the provider: the sign-in has to start again.
        back = await back_from_provider(await to_provider(client, "google"))
        clock.advance(timedelta(minutes=10, seconds=1))
        assert (await client.get(back)).json() == state_refused
        assert await session_count(client) == 0
    assert provider.token_requests == []  # no code was ever exchanged


async def test_a_code_from_another_sign_in_fails_its_pkce_check_at_the_provider(
    settings: Settings, clock: ManualClock, provider: LocalProvider
) -> None:
    """An attacker's code injected into a victim's callback (with the victim's own state):
    the victim's PKCE verifier does not match the challenge the attacker's code was made for."""
    provider.identity = GOOD_GOOGLE
    async with web(settings, clock) as attacker, web(settings, clock) as victim:
        stolen = parse_qs(urlsplit(await round_trip(attacker)).query)
        own = parse_qs(urlsplit(await round_trip(victim)).query)
        injected = f"/signin/oidc/callback?code={stolen['code'][0]}&state={own['state'][0]}"
        answer = await victim.get(injected)
        assert answer.status_code == 401
        assert answer.json()["detail"] == "code: refused by the provider"
        assert await session_count(victim) == 0


async def test_the_sign_in_page_shows_a_button_only_for_each_configured_provider(
    settings: Settings, clock: ManualClock, nats_server: Any, tmp_path: Path
) -> None:
    async with web(settings, clock) as client:
        page = (await client.get("/signin?next=/console")).text
        assert page.count('<button type="submit" class="btn">Sign in with ') == 2
        assert '<form class="form" method="post" action="/signin/oidc/lhs/google">' in page
        assert '<form class="form" method="post" action="/signin/oidc/lhs/entra">' in page
        assert '<input type="hidden" name="next" value="/console">' in page
        assert (await client.post("/signin/oidc/lhs/okta")).status_code == 404
        assert (await client.post("/signin/oidc/mhs/google")).status_code == 404
    plain = settings.model_copy(update={"schools": str(EXAMPLE_SCHOOL), "data_dir": tmp_path / "b"})
    async with web(plain, clock) as client:
        page = (await client.get("/signin")).text
        assert "Sign in with" not in page and "Or with a Lookout password" not in page
        assert (await client.post("/signin/oidc/lhs/google")).status_code == 404


async def test_a_provider_that_does_not_answer_is_a_502_and_no_failed_sign_in(
    settings: Settings, clock: ManualClock, tmp_path: Path, provider: LocalProvider
) -> None:
    closed = "http://127.0.0.1:1/.well-known/openid-configuration"  # nothing listens on port 1
    path = school_with_sign_in(tmp_path, provider, google_discovery=closed)
    async with web(settings.model_copy(update={"schools": str(path)}), clock) as client:
        answer = await client.post("/signin/oidc/lhs/google")
        assert answer.status_code == 502
        assert answer.json() == {"type": "about:blank", "title": "Sign-in refused",
                                 "status": 502, "detail": "provider: did not answer"}  # fmt: skip
        assert STATE_COOKIE not in client.cookies
        page = await client.post("/signin/oidc/lhs/google", headers={"Accept": "text/html"})
        assert page.status_code == 502
        assert "Your account&#39;s provider did not answer. Try again in a minute." in page.text
        metrics = client.app.state.metrics.registry  # type: ignore[attr-defined]
        assert (
            metrics.get_sample_value("lookout_web_signin_failures_total", {"method": "oidc"}) == 0
        )
