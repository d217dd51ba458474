"""Notifications that reach a phone (issue 16), end to end on the alerts side: a real
nats-server, the real alerts service in process (its clock stopped at Monday 23 November 2026,
08:00 at Lakeside), a real SMTP server (aiosmtpd), the stand-in push service (HTTPS, checks the
VAPID signature and decrypts each push with the browser's keys) and the stand-in SMS provider
(Twilio's REST API). Lakeside's principal asks for `critical: [push, sms, {channel: email,
after_minutes: 2}]`; the SSO for `critical: [push, email]` and has no browser subscribed."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from nats.aio.client import Client
from nats.js import JetStreamContext

from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import subject_of
from lookout.kernel.action_links import AckLinkClaims, alert_link_secret, verify_ack_link
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.kernel.vapid import vapid_keys
from services.alerts import app as alerts_app
from services.alerts import store
from services.alerts.app import AlertTimers
from tests.integration.conftest import running, wait_until
from tests.integration.push_service import PushService
from tests.integration.sms_provider import SmsProvider
from tests.unit.alerts import conftest as alerts_fixtures
from tests.unit.alerts.conftest import SmtpSink

pytestmark = pytest.mark.nats

migrated_alerts_db = alerts_fixtures.migrated_alerts_db
alerts_db = alerts_fixtures.alerts_db
smtp_sink = alerts_fixtures.smtp_sink

BASE = "https://lookout.test"
T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 08:00 in Chicago
PRINCIPAL, SSO = "principal-okafor", "sso-rivera"
PRINCIPAL_PHONE = "+15555550103"
STUDENT, NOTE = "S-104233", "Jordan showed a knife"
LINK = re.compile(r"https://lookout\.test/ack/(LA1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")


def lakeside(tmp_path: Path) -> str:
    doc = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    (principal,) = [p for p in doc["people"] if p["id"] == PRINCIPAL]
    principal["notify"] = {
        "critical": ["push", "sms", {"channel": "email", "after_minutes": 2}],
        "high": ["push", "email"],
    }
    (sso,) = [p for p in doc["people"] if p["id"] == SSO]
    sso["notify"]["medium"] = ["push"]
    path = tmp_path / "lhs.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return str(path)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def push_service(tmp_path: Path) -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture
def sms() -> Iterator[SmsProvider]:
    with SmsProvider() as provider:
        yield provider


@pytest.fixture
def settings(
    nats_server: Any,
    tmp_path: Path,
    alerts_db: str,
    smtp_sink: SmtpSink,
    sms: SmsProvider,
    push_service: PushService,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    monkeypatch.setenv("SSL_CERT_FILE", push_service.ca_file)  # trust the stand-in's TLS
    made = Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        schools=lakeside(tmp_path),
        alerts_db_url=alerts_db,
        smtp_port=smtp_sink.port,
        web_base_url=BASE,
        sms_api_url=sms.url,
        sms_account_sid=sms.account_sid,
        sms_auth_token=sms.auth_token,
        sms_from=sms.number,
    )
    push_service.application_server_key = vapid_keys(made).application_server_key
    return made


@pytest.fixture
async def alerts(
    settings: Settings, clock: ManualClock
) -> AsyncIterator[tuple[ServiceKernel, AlertTimers]]:
    built: list[AlertTimers] = []

    def build(kernel: ServiceKernel) -> Any:
        app, timers = alerts_app.build(kernel)
        built.append(timers)
        return app

    async with running(alerts_app.create_kernel(settings, clock), build) as kernel:
        yield kernel, built[0]


@pytest.fixture
async def nc(nats_server: Any) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    yield client
    await client.close()


async def command(nc: Client, name: str, person: str, body: dict[str, Any]) -> dict[str, Any]:
    """A command as the web sends it for a signed-in person (the subject names them)."""
    reply = await nc.request(
        f"command.lhs.alerts.{name}.{person}", json.dumps(body).encode(), timeout=10
    )
    return dict(json.loads(reply.data))


async def subscribe_browser(nc: Client, person: str, subscription: dict[str, Any]) -> None:
    keys = subscription["keys"]
    answer = await command(
        nc,
        "push_subscribe",
        person,
        {"endpoint": subscription["endpoint"], "p256dh": keys["p256dh"], "auth": keys["auth"]},
    )
    assert answer["ok"], answer


async def raise_critical(js: JetStreamContext) -> None:
    event = ConcernRaised.new(
        school_id="lhs",
        occurred_at=T0,
        actor={"kind": "sso_device", "id": "phone-rivera"},
        concern_id=uuid.uuid4(),
        category="weapon",
        severity="critical",
        zone_id="gym",
        student_refs=[STUDENT],
        note=NOTE,
    )
    await js.publish(subject_of(event), event.model_dump_json().encode())


async def the_alert(kernel: ServiceKernel) -> Any:
    async def opened() -> bool:
        async with kernel.sessions() as session:
            return len(list(await session.execute(store.alerts.select()))) == 1

    await wait_until(opened, within=30, what="the alert")
    async with kernel.sessions() as session:
        return (await session.execute(store.alerts.select())).one()


async def timeline(kernel: ServiceKernel, channel: str) -> list[tuple[str, str, str, str]]:
    t = store.alert_timeline
    async with kernel.sessions() as session:
        rows = await session.execute(t.select().where(t.c.channel == channel).order_by(t.c.id))
        return [(r.kind, r.person_id, r.outcome or "", r.detail or "") for r in rows]


async def settled(kernel: ServiceKernel, channel: str, count: int) -> None:
    """`count` attempts on `channel` recorded (delivered or failed)."""

    async def done() -> bool:
        rows = await timeline(kernel, channel)
        return sum(1 for r in rows if r[2] in ("delivered", "failed")) >= count

    await wait_until(done, within=30, what=f"{count} {channel} outcome(s) recorded")


def ack_token(payload: dict[str, Any]) -> str:
    """The signed token of a push's acknowledge path (`/ack/<token>`)."""
    path = str(payload["ack_url"])
    assert path.startswith("/ack/"), path
    return path.removeprefix("/ack/")


async def test_a_critical_concern_pushes_texts_and_emails_two_minutes_later(
    alerts: tuple[ServiceKernel, AlertTimers],
    js: JetStreamContext,
    nc: Client,
    push_service: PushService,
    sms: SmsProvider,
    smtp_sink: SmtpSink,
    settings: Settings,
    clock: ManualClock,
) -> None:
    kernel, timers = alerts
    browser = push_service.subscription()
    await subscribe_browser(nc, PRINCIPAL, browser)
    await raise_critical(js)
    aid = (await the_alert(kernel)).alert_id

    # At once: the principal's browser gets the push, decrypted with its own keys.
    (push,) = await push_service.wait_for(1)
    token = ack_token(push.payload)
    # The link proves this person and this alert, for a day from the step (by hand: T0 + 24 h).
    assert verify_ack_link(alert_link_secret(settings), token, now=T0) == AckLinkClaims(
        "lhs", uuid.UUID(aid), PRINCIPAL, datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    )
    assert push.endpoint == browser["endpoint"]
    assert push.payload == {
        "alert_id": aid,
        "title": "CRITICAL alert: weapon",
        "body": "Gymnasium. Escalation step 1. Lakeside High School",
        "ack_url": f"/ack/{token}",
        "url": "/app",
        "tag": f"alert-{aid}",
    }
    assert (push.urgency, push.claims["sub"]) == ("high", "mailto:lookout@localhost")

    # At once: the text, with the alert's number (1: the principal's first alert text).
    (text,) = await sms.wait_for(1)
    assert (text.to, text.from_) == (PRINCIPAL_PHONE, sms.number)
    assert (
        text.body == "Lookout LHS: CRITICAL weapon, Gymnasium (step 1). Reply 1a ack, 1e escalate"
    )

    # At once: the SSO's email; the SSO has no browser: a failed push, said on the timeline.
    await wait_until(lambda: _count(smtp_sink, 1), within=30, what="the SSO's email")
    assert [m["To"] for m in smtp_sink.messages] == ["d.rivera@lakeside.example.org"]
    await settled(kernel, "push", 2)
    # (people told at one moment: in no promised order)
    assert sorted(await timeline(kernel, "push")) == [
        ("notified", PRINCIPAL, "delivered", "attempt 1: 1 browser(s): 201"),
        ("notified", PRINCIPAL, "queued", ""),
        ("notified", SSO, "failed", "attempt 1: no browser subscribed; gave up"),
        ("notified", SSO, "queued", ""),
    ]
    await settled(kernel, "sms", 1)
    assert (await timeline(kernel, "sms"))[-1] == (
        "notified", PRINCIPAL, "delivered", "attempt 1: provider 201"
    )  # fmt: skip

    # Two minutes on, not acknowledged: the principal's email, with the push's token.
    await at_rest(kernel, clock)
    clock.advance(timedelta(minutes=2))
    await timers.mailer.run_once()
    await wait_until(lambda: _count(smtp_sink, 2), within=30, what="the principal's email")
    mail = smtp_sink.messages[1]
    assert mail["To"] == "a.okafor@lakeside.example.org"
    found = LINK.search(mail.get_content())
    assert found is not None and found.group(1) == token
    for sent in [push.payload["title"], push.payload["body"], text.body, mail.as_string()]:
        assert STUDENT not in sent and "knife" not in sent and "Jordan" not in sent


async def test_a_1a_reply_acknowledges_stops_the_escalation_and_the_delayed_email(
    alerts: tuple[ServiceKernel, AlertTimers],
    js: JetStreamContext,
    nc: Client,
    sms: SmsProvider,
    smtp_sink: SmtpSink,
    clock: ManualClock,
) -> None:
    kernel, timers = alerts
    await raise_critical(js)
    aid = (await the_alert(kernel)).alert_id
    await sms.wait_for(1)
    await at_rest(kernel, clock)

    clock.advance(timedelta(minutes=1))
    answer = await command(nc, "sms_reply", PRINCIPAL, {"code": "1a"})
    assert answer == {
        "ok": True,
        "result": {
            "alert_id": aid,
            "action": "acknowledged",
            "message": "Alert 1 acknowledged. Resolve it in the Lookout console with an outcome "
            "note once handled.",
        },
    }
    row = await the_alert(kernel)
    assert (row.status, row.acknowledged_by) == ("acknowledged", PRINCIPAL)
    assert [r for r in await timeline(kernel, "email") if r[1] == PRINCIPAL] == [
        ("notified", PRINCIPAL, "queued", "due Mon 23 Nov 08:02 CST unless acknowledged"),
        ("cancelled", PRINCIPAL, "", "not sent: acknowledged before it was due"),
    ]

    # Past the delayed email and district safety's step (10 minutes): nothing more goes out.
    await at_rest(kernel, clock)
    clock.advance(timedelta(minutes=12))
    fired = await timers.ticker.tick()
    assert fired["escalations"] == 0
    await timers.mailer.run_once()
    await timers.dispatcher.run_once()
    assert [m["To"] for m in smtp_sink.messages] == ["d.rivera@lakeside.example.org"]
    assert len(sms.messages) == 1

    # The same code again: still acknowledged; `c` needs the console; an unknown number.
    assert (await command(nc, "sms_reply", PRINCIPAL, {"code": "1c"}))["result"]["action"] == (
        "needs_console"
    )
    assert await command(nc, "sms_reply", PRINCIPAL, {"code": "7a"}) == {
        "ok": False,
        "error": "code: no alert has number 7 in your texts",
    }
    # Another person's texts do not have this number.
    assert await command(nc, "sms_reply", "ap-chen", {"code": "1a"}) == {
        "ok": False,
        "error": "code: no alert has number 1 in your texts",
    }


async def test_a_1e_reply_fires_the_next_step_now_until_none_is_left(
    alerts: tuple[ServiceKernel, AlertTimers],
    js: JetStreamContext,
    nc: Client,
    sms: SmsProvider,
    clock: ManualClock,
) -> None:
    kernel, _ = alerts
    await raise_critical(js)
    aid = (await the_alert(kernel)).alert_id
    await sms.wait_for(1)
    await at_rest(kernel, clock)
    answer = await command(nc, "sms_reply", PRINCIPAL, {"code": "1e"})
    assert answer["result"] == {
        "alert_id": aid,
        "action": "escalated",
        "message": "Alert 1 escalated: its next step is told now.",
    }
    # Acknowledged, then `e`: the escalation goes on (an acknowledgement no longer holds it).
    await command(nc, "sms_reply", PRINCIPAL, {"code": "1a"})
    assert (await the_alert(kernel)).status == "acknowledged"
    await command(nc, "sms_reply", PRINCIPAL, {"code": "1e"})
    escalated = await the_alert(kernel)
    # Open again, and nobody is named as holding it any more.
    assert (escalated.status, escalated.acknowledged_by, escalated.acknowledged_at) == (
        "open",
        None,
        None,
    )
    # The critical policy: 2 steps, 3 passes. Step 0 fired at opening; 5 more by reply (two
    # above, three here).
    for _ in range(3):
        assert (await command(nc, "sms_reply", PRINCIPAL, {"code": "1e"}))["result"][
            "action"
        ] == "escalated"
    row = await the_alert(kernel)
    assert (row.status, row.routing, row.next_step_at) == ("open", "exhausted", None)
    assert (await command(nc, "sms_reply", PRINCIPAL, {"code": "1e"}))["result"] == {
        "alert_id": aid,
        "action": "no_further_step",
        "message": "Alert 1: everyone its policy names was told; no step is left. Reply 1a to "
        "acknowledge, or resolve it in the console.",
    }
    t = store.alert_timeline
    async with kernel.sessions() as session:
        kinds = [
            (r.kind, r.step, r.repeat)
            for r in await session.execute(
                t.select().where(t.c.kind.in_(("escalated", "escalate_now"))).order_by(t.c.id)
            )
        ]
    # District safety (step 2) at once instead of 10 minutes on, and so on to the last pass.
    assert kinds == [
        ("escalated", 0, 0),
        ("escalate_now", None, None),
        ("escalated", 1, 0),
        ("escalate_now", None, None),
        ("escalated", 0, 1),
        ("escalate_now", None, None),
        ("escalated", 1, 1),
        ("escalate_now", None, None),
        ("escalated", 0, 2),
        ("escalate_now", None, None),
        ("escalated", 1, 2),
    ]
    # Every pass's first step texted the principal again, with the alert's same number.
    await sms.wait_for(3)
    assert {m.body for m in sms.messages} == {
        "Lookout LHS: CRITICAL weapon, Gymnasium (step 1). Reply 1a ack, 1e escalate"
    }


async def test_a_push_service_answering_410_removes_that_browser(
    alerts: tuple[ServiceKernel, AlertTimers],
    js: JetStreamContext,
    nc: Client,
    push_service: PushService,
) -> None:
    kernel, _ = alerts
    kept, dropped = push_service.subscription(), push_service.subscription()
    await subscribe_browser(nc, PRINCIPAL, kept)
    await subscribe_browser(nc, PRINCIPAL, dropped)
    push_service.answer_with(dropped["endpoint"], 410)
    await raise_critical(js)
    await the_alert(kernel)
    (push,) = await push_service.wait_for(1)
    assert push.endpoint == kept["endpoint"]
    await settled(kernel, "push", 2)
    (principal,) = [
        r for r in await timeline(kernel, "push") if r[1] == PRINCIPAL and r[2] != "queued"
    ]
    detail = "attempt 1: 2 browser(s): 201; 410, subscription removed"
    assert principal == ("notified", PRINCIPAL, "delivered", detail)
    s = store.push_subscriptions
    async with kernel.sessions() as session:
        left = [r.endpoint for r in await session.execute(s.select())]
    assert left == [kept["endpoint"]]
    # Unsubscribing the last one: the person has no browser left.
    answer = await command(nc, "push_unsubscribe", PRINCIPAL, {"endpoint": kept["endpoint"]})
    assert answer == {"ok": True, "result": {"browsers": 0, "changed": True}}


async def _count(sink: SmtpSink, n: int) -> bool:
    return len(sink.messages) >= n


async def test_a_medium_alert_is_pushed_at_normal_urgency(
    alerts: tuple[ServiceKernel, AlertTimers],
    js: JetStreamContext,
    nc: Client,
    push_service: PushService,
) -> None:
    kernel, _ = alerts
    await subscribe_browser(nc, SSO, push_service.subscription())
    event = ConcernRaised.new(
        school_id="lhs",
        occurred_at=T0,
        actor={"kind": "sso_device", "id": "phone-rivera"},
        concern_id=uuid.uuid4(),
        category="vaping",
        severity="medium",
        zone_id="gym",
        student_refs=[STUDENT],
    )
    await js.publish(subject_of(event), event.model_dump_json().encode())
    aid = (await the_alert(kernel)).alert_id
    (push,) = await push_service.wait_for(1)
    assert push.urgency == "normal"  # a phone saving its battery may hold it back a little
    assert (push.payload["title"], push.payload["ack_url"]) == ("MEDIUM alert: vaping", "")
    assert push.topic == uuid.UUID(aid).hex  # a newer push of this alert replaces this one


async def test_a_text_the_provider_refuses_with_503_is_sent_again_a_minute_later(
    alerts: tuple[ServiceKernel, AlertTimers],
    js: JetStreamContext,
    sms: SmsProvider,
    clock: ManualClock,
) -> None:
    kernel, timers = alerts
    sms.fail_with(503)
    await raise_critical(js)
    await the_alert(kernel)
    await settled(kernel, "sms", 1)
    assert sms.messages == []
    clock.advance(timedelta(minutes=1))
    await timers.dispatcher.run_once()
    (text,) = await sms.wait_for(1)
    assert (
        text.body == "Lookout LHS: CRITICAL weapon, Gymnasium (step 1). Reply 1a ack, 1e escalate"
    )
    await settled(kernel, "sms", 2)
    assert [r for r in await timeline(kernel, "sms") if r[2] != "queued"] == [
        ("notified", PRINCIPAL, "failed", "attempt 1: provider 503; will retry"),
        ("notified", PRINCIPAL, "delivered", "attempt 2: provider 201"),
    ]


async def at_rest(kernel: ServiceKernel, clock: ManualClock) -> None:
    """Nothing being sent and nothing due: a clock moved on while a send is in flight would
    let its lease expire and send it again (at least once), which is not what a test means."""

    async def rest() -> bool:
        async with kernel.sessions() as session:
            for table in (store.alert_emails, store.alert_deliveries):
                busy = await session.execute(
                    table.select().where(
                        (table.c.status == "sending")
                        | ((table.c.status == "pending") & (table.c.due_at <= clock.now()))
                    )
                )
                if busy.first() is not None:
                    return False
        return True

    await wait_until(rest, within=30, what="every due email, push and text sent and recorded")
