"""Web Push subscriptions through the web, against a real nats-server and a stand-in for the
alerts service's push_subscribe / push_unsubscribe handlers (a NATS responder that records what
it was asked on which subject): the console's roles get the VAPID key, subscribe and
unsubscribe as themselves (the subject's last token), a bad subscription is a 422 naming the
field (never its value), the front office a 403 (the SSO, paged by escalation steps, may), a
request without the CSRF token a 403, and no alerts service a 503. The endpoint is never logged."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest

from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import Settings
from lookout.kernel.vapid import vapid_keys
from lookout.local.runtime import free_port
from tests.integration.test_web import assert_problem
from tests.integration.test_web_alerts import BASE, T0, consoles

pytestmark = pytest.mark.nats

PRINCIPAL, SSO, OFFICE, DISTRICT = (
    "principal-okafor",
    "sso-rivera",
    "office-garcia",
    "district-lee",
)
ENDPOINT = "https://push.example.test/wp/dGhpcy1icm93c2Vy"
P256DH = "BMKOUhL1fNf1XqN0i53vJzn2WHXROTX37ZgWO9JAdolQ7iXSwaazzwx1-1AbyzOuO-NsRmXqdl_p2ZXltGUOZ_o"
AUTH = "urO4XC6kCBw90tzPWatlZQ"
# What Chromium's PushSubscription.toJSON() gives.
SUBSCRIPTION = {
    "endpoint": ENDPOINT,
    "expirationTime": None,
    "keys": {"p256dh": P256DH, "auth": AUTH},
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def settings(nats_server: Any, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        web_base_url=BASE,
        web_behind_proxy=True,
        web_port=free_port(),
    )


class StandIn:
    """The alerts service's push handlers as a NATS responder: each request's subject and body."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture
async def alerts_stand_in(nats_server: Any) -> AsyncIterator[StandIn]:
    stand_in = StandIn()
    nc = await nats.connect(nats_server.url)

    async def answer(msg: Any) -> None:
        stand_in.asked.append((msg.subject, json.loads(msg.data)))
        await msg.respond(json.dumps({"ok": True, "result": {}}).encode())

    await nc.subscribe("command.*.alerts.push_subscribe.*", cb=answer)
    await nc.subscribe("command.*.alerts.push_unsubscribe.*", cb=answer)
    await nc.flush()
    yield stand_in
    await nc.close()


async def test_the_console_gets_the_key_subscribes_and_unsubscribes_as_itself(
    settings: Settings,
    clock: ManualClock,
    alerts_stand_in: StandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with consoles(settings, clock, (PRINCIPAL, "lhs")) as (okafor,):
        key = await okafor.get("/api/v1/push/key")
        assert key.status_code == 200
        # The same key the alerts service signs with (one per deployment, kept in the data dir).
        assert key.json() == {"application_server_key": vapid_keys(settings).application_server_key}
        assert len(key.json()["application_server_key"]) == 87  # 65 bytes, base64url

        subscribed = await okafor.post("/api/v1/push/subscriptions", SUBSCRIPTION)
        assert (subscribed.status_code, subscribed.json()) == (200, {"subscribed": True})
        gone = await okafor.client.request(
            "DELETE",
            "/api/v1/push/subscriptions",
            json=SUBSCRIPTION,
            headers={"X-CSRF-Token": okafor.csrf},
        )
        assert (gone.status_code, gone.json()) == (200, {"subscribed": False})

    assert alerts_stand_in.asked == [
        (
            "command.lhs.alerts.push_subscribe.principal-okafor",
            {"endpoint": ENDPOINT, "p256dh": P256DH, "auth": AUTH},
        ),
        ("command.lhs.alerts.push_unsubscribe.principal-okafor", {"endpoint": ENDPOINT}),
    ]
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "push.example.test" not in logged and AUTH not in logged


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            dict(SUBSCRIPTION, endpoint="http://push.example.test/wp/x"),
            "endpoint: String should match pattern '^https://[^\\s]+$'",
        ),
        (
            dict(SUBSCRIPTION, keys={"p256dh": P256DH[:40], "auth": AUTH}),
            "keys.p256dh: String should have at least 87 characters",
        ),
        (
            dict(SUBSCRIPTION, keys={"p256dh": P256DH, "auth": "not base64url!!!!!!!!!"}),
            "keys.auth: String should match pattern '^[A-Za-z0-9_-]+$'",
        ),
        ({"endpoint": ENDPOINT}, "keys: Field required"),
    ],
)
async def test_a_bad_subscription_is_a_422_naming_the_field(
    settings: Settings,
    clock: ManualClock,
    alerts_stand_in: StandIn,
    body: dict[str, Any],
    detail: str,
) -> None:
    async with consoles(settings, clock, (PRINCIPAL, "lhs")) as (okafor,):
        refused = await okafor.post("/api/v1/push/subscriptions", body)
        assert_problem(refused, 422, detail)
        assert "push.example.test" not in refused.text
    assert alerts_stand_in.asked == []


async def test_the_front_office_is_refused_the_sso_may_and_cross_site_requests_are_refused(
    settings: Settings, clock: ManualClock, alerts_stand_in: StandIn
) -> None:
    people = ((SSO, "lhs"), (OFFICE, "lhs"), (PRINCIPAL, "lhs"), (DISTRICT, "lhs"))
    async with consoles(settings, clock, *people) as (rivera, garcia, okafor, lee):
        # Escalation steps never page the front office.
        assert_problem(
            await garcia.get("/api/v1/push/key"), 403, "role: is not told of alerts by push"
        )
        assert_problem(
            await garcia.post("/api/v1/push/subscriptions", SUBSCRIPTION),
            403,
            "role: is not told of alerts by push",
        )
        assert_problem(
            await okafor.post("/api/v1/push/subscriptions", SUBSCRIPTION, **{"X-CSRF-Token": ""}),
            403,
            "X-CSRF-Token: missing or not this session's",
        )
        assert_problem(
            await okafor.post(
                "/api/v1/push/subscriptions", SUBSCRIPTION, Origin="https://evil.test"
            ),
            403,
            "Origin: missing or not this site",
        )
        assert (await lee.post("/api/v1/push/subscriptions", SUBSCRIPTION)).status_code == 200
        # The SSO is paged by escalation steps: their phone may turn pushes on and off.
        assert (await rivera.get("/api/v1/push/key")).status_code == 200
        assert (await rivera.post("/api/v1/push/subscriptions", SUBSCRIPTION)).status_code == 200
    assert alerts_stand_in.asked == [
        (
            "command.lhs.alerts.push_subscribe.district-lee",
            {"endpoint": ENDPOINT, "p256dh": P256DH, "auth": AUTH},
        ),
        (
            "command.lhs.alerts.push_subscribe.sso-rivera",
            {"endpoint": ENDPOINT, "p256dh": P256DH, "auth": AUTH},
        ),
    ]


async def test_without_the_alerts_service_subscribing_is_a_503(
    settings: Settings, clock: ManualClock
) -> None:
    async with consoles(settings, clock, (PRINCIPAL, "lhs")) as (okafor,):
        assert_problem(
            await okafor.post("/api/v1/push/subscriptions", SUBSCRIPTION), 503, "retry later"
        )
