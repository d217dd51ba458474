"""Notifications that reach a phone, end to end through the web (issue 16): a real nats-server,
the real alerts service in process (its clock stopped at Monday 23 November 2026, 08:00 at
Lakeside; its ticker and dispatcher run by hand), a real SMTP server, the stand-in push service
(HTTPS; checks the VAPID signature, decrypts each push with the browser's keys) and the
stand-in SMS provider (Twilio's REST API; signs inbound replies), and the web app with its
lifespan. The principal asks for `critical: [push, sms, email after 2 min]`.

- Push: the principal's console hands the browser's subscription to the web, the critical
  alert's first step reaches the push service encrypted for that browser, and the push's
  `ack_url` POSTed as the service worker posts it (this site's Origin, no cookie) acknowledges
  the alert; ten minutes on, district safety's step never fires and nothing more is pushed.
- SMS: the text says "Reply 1a"; the provider posts the principal's reply `1a` to the web's
  webhook, signed; the alert is acknowledged as the principal and the reply texted back is the
  alerts service's message; the escalation stops."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from lookout.kernel.action_links import AckLinkClaims, alert_link_secret, verify_ack_link
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.alerts.app import AlertTimers
from services.web.app import create_app
from tests.integration import test_alerts_push_and_sms as alerts_side
from tests.integration.conftest import wait_until
from tests.integration.push_service import PushService
from tests.integration.sms_provider import SmsProvider
from tests.integration.test_web_alerts import Console
from tests.unit.alerts.conftest import SmtpSink

pytestmark = pytest.mark.nats

# The alerts side's fixtures: its database, SMTP sink, push service, SMS provider, settings
# (Lakeside with the principal's rule), clock and the running alerts service.
migrated_alerts_db = alerts_side.migrated_alerts_db
alerts_db = alerts_side.alerts_db
smtp_sink = alerts_side.smtp_sink
push_service = alerts_side.push_service
sms = alerts_side.sms
settings = alerts_side.settings
clock = alerts_side.clock
alerts = alerts_side.alerts

BASE = alerts_side.BASE
PRINCIPAL, PRINCIPAL_PHONE = alerts_side.PRINCIPAL, alerts_side.PRINCIPAL_PHONE
T0 = alerts_side.T0


@pytest.fixture
async def web(settings: Settings, clock: ManualClock) -> AsyncIterator[Any]:
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        yield app


def client(app: Any, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, headers=headers)


async def principal_console(app: Any, settings: Settings, clock: ManualClock) -> Console:
    console = Console(client(app, Origin=BASE))
    await console.sign_in(settings, clock, PRINCIPAL, "lhs")
    return console


async def step_one_settled(kernel: ServiceKernel) -> None:
    """Every attempt of the first step recorded (the principal's and the SSO's pushes, the
    principal's text, the SSO's email) before the test moves the clock on: a send still in
    flight when the clock jumps past its 5-minute lease would rightly be tried again."""
    await alerts_side.settled(kernel, "push", 2)
    await alerts_side.settled(kernel, "sms", 1)

    async def emailed() -> bool:
        rows = await alerts_side.timeline(kernel, "email")
        return any(r[1] == alerts_side.SSO and r[2] not in ("", "queued") for r in rows)

    await wait_until(emailed, within=30, what="the SSO's email recorded")


async def escalation_stopped(
    kernel: ServiceKernel, timers: AlertTimers, clock: ManualClock
) -> None:
    """Past district safety's step (10 minutes) and the delayed email: nothing more fires."""
    row = await alerts_side.the_alert(kernel)
    assert (row.status, row.acknowledged_by) == ("acknowledged", PRINCIPAL)
    clock.advance(timedelta(minutes=12))
    fired = await timers.ticker.tick()
    assert fired["escalations"] == 0
    await timers.dispatcher.run_once()
    await timers.mailer.run_once()


async def test_a_push_subscribed_through_the_console_acknowledges_by_its_ack_url(
    alerts: tuple[ServiceKernel, AlertTimers],
    web: Any,
    js: JetStreamContext,
    push_service: PushService,
    smtp_sink: SmtpSink,
    settings: Settings,
    clock: ManualClock,
) -> None:
    kernel, timers = alerts
    okafor = await principal_console(web, settings, clock)
    browser = push_service.subscription() | {"expirationTime": None}  # as toJSON() gives it
    subscribed = await okafor.post("/api/v1/push/subscriptions", browser)
    assert (subscribed.status_code, subscribed.json()) == (200, {"subscribed": True})

    await alerts_side.raise_critical(js)
    aid = (await alerts_side.the_alert(kernel)).alert_id
    (push,) = await push_service.wait_for(1)
    await step_one_settled(kernel)
    assert push.endpoint == browser["endpoint"]
    token = alerts_side.ack_token(push.payload)
    # The link proves this person and this alert, for a day from the step (by hand: T0 + 24 h).
    assert verify_ack_link(alert_link_secret(settings), token, now=T0) == AckLinkClaims(
        "lhs", uuid.UUID(aid), PRINCIPAL, datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    )
    assert push.payload == {
        "alert_id": aid,
        "title": "CRITICAL alert: weapon",
        "body": "Gymnasium. Escalation step 1. Lakeside High School",
        "ack_url": f"/ack/{token}",
        "url": "/app",
        "tag": f"alert-{aid}",
    }

    # The service worker's Acknowledge: POST ack_url, this site's Origin, no session cookie.
    clock.advance(timedelta(minutes=1))
    async with client(web, Origin=BASE, Accept="application/json") as worker:
        acked = await worker.post(push.payload["ack_url"])
    assert acked.status_code == 200
    assert "Acknowledged by Ada Okafor at Mon 23 Nov 2026, 08:01 CST." in acked.text

    await escalation_stopped(kernel, timers, clock)
    assert len(push_service.received) == 1
    # Only the SSO's email of step 1: the principal's (due at 08:02) was cancelled by the ack.
    assert [m["To"] for m in smtp_sink.messages] == ["d.rivera@lakeside.example.org"]
    await okafor.client.aclose()


async def test_the_providers_1a_reply_through_the_webhook_acknowledges(
    alerts: tuple[ServiceKernel, AlertTimers],
    web: Any,
    js: JetStreamContext,
    sms: SmsProvider,
    push_service: PushService,
    smtp_sink: SmtpSink,
    clock: ManualClock,
) -> None:
    kernel, timers = alerts
    await alerts_side.raise_critical(js)
    aid = (await alerts_side.the_alert(kernel)).alert_id
    (text,) = await sms.wait_for(1)
    assert text.to == PRINCIPAL_PHONE
    assert text.body.endswith("Reply 1a ack, 1e escalate")
    await step_one_settled(kernel)

    clock.advance(timedelta(minutes=1))
    async with client(web) as provider:  # no cookie, no Origin, no CSRF token: a server
        answer = await sms.reply(
            f"{BASE}/sms/inbound", from_=PRINCIPAL_PHONE, body=" 1A ", client=provider
        )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/xml"
    assert answer.text == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Alert 1 acknowledged. '
        "Resolve it in the Lookout console with an outcome note once handled."
        "</Message></Response>"
    )
    row = await alerts_side.the_alert(kernel)
    assert (row.alert_id, row.status, row.acknowledged_by) == (aid, "acknowledged", PRINCIPAL)

    await escalation_stopped(kernel, timers, clock)
    assert len(sms.messages) == 1  # no text for a later step

    # A forged reply (signed with another token) changes nothing and learns nothing.
    async with client(web) as forger:
        forged = await sms.reply(
            f"{BASE}/sms/inbound",
            from_=PRINCIPAL_PHONE,
            body="1e",
            client=forger,
            auth_token="not-the-accounts-token",
        )
    assert forged.status_code == 403
    assert forged.json()["detail"] == "X-Twilio-Signature: not valid"
