"""The sensor ingress through the web app (its lifespan, its SMTP listener) against a real
nats-server: a HALO's set is stored as the exact event on `sensor.lhs.alert.raised` and answered
after the PubAck; the same set again and its email (sent by a real SMTP client) are the same
event, so the stream holds one message; its reset is a clearing; a Verkada signed raise and
clear; each refusal is its problem+json and its counter; with NATS gone the answer is a 503
(and 451 for a mail) that the vendor retries. Event ids are written out by hand here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext

from lookout.contracts.sensors import SENSOR_ALERT_NAMESPACE
from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import Settings
from lookout.local.runtime import free_port
from services.web import sensor_ingress
from services.web.app import create_app
from tests.integration.conftest import stream_messages, wait_until
from tests.integration.test_web import assert_problem

pytestmark = pytest.mark.nats

BASE = "https://lookout.test"
T0 = datetime(2026, 12, 7, 16, 15, 40, tzinfo=UTC)  # Monday 10:15:40 in Chicago
SENSOR_SECRET = "sensor-secret-for-tests-0123456789abcdef"
VERKADA_SECRET = "verkada-shared-secret-for-tests"
MAIL_TO = "sensors@lookout.test"
SENDER = "alerts@sensors.lakeside.example.org"  # the school file's email_senders
VERKADA_DEVICE = "e637120c-09bb-4601-a8bf-dcf54d46aece"


def by_hand(name: str) -> str:
    return str(uuid.uuid5(SENSOR_ALERT_NAMESPACE, name))


def token(sensor_id: str, school: str = "lhs") -> str:
    """The documented token, computed here: HMAC-SHA256 of `halo|<school>|<sensor>`."""
    mac = hmac.new(SENSOR_SECRET.encode(), f"halo|{school}|{sensor_id}".encode(), hashlib.sha256)
    return f"{school}.{sensor_id}." + base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def halo(state: str = "set", time_: str = "10:15:32", **over: str) -> dict[str, str]:
    return {
        "name": "HALO 1N Boys",
        "mac": "00:1A:2B:3C:4D:01",
        "eid": "Vape",
        "date": "12/07/2026",
        "time": time_,
        "state": state,
    } | over


def verkada_body(end_time: float | None = None, device: str = VERKADA_DEVICE) -> bytes:
    data = {
        "alert_event_id": "5d1c7e0a-alert",
        "start_time": 1796660100.5,
        "end_time": end_time,
        "most_extreme_value": 87.0,
        "threshold": 60.0,
        "reading": "vape_index",
        "device_id": device,
        "device_name": "2S Boys",
        "device_serial": "ABCD-1234-EFGH",
    }
    webhook = {"webhook_type": "sensor_alert", "org_id": "org", "webhook_id": "wh", "data": data}
    return json.dumps(webhook).encode()


def signed(body: bytes, at: float | None = None, secret: str = VERKADA_SECRET) -> dict[str, str]:
    """Verkada's header, by its documented formula: `<ts>|hex HMAC-SHA256(<body>|<ts>)`."""
    ts = str(int(at if at is not None else time.time()))
    signature = hmac.new(secret.encode(), body + b"|" + ts.encode(), hashlib.sha256).hexdigest()
    return {"Verkada-Signature": f"{ts}|{signature}", "Content-Type": "application/json"}


def alert_mail(subject: str, date: str = "Mon, 07 Dec 2026 16:15:58 +0000") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"HALO <{SENDER}>"
    message["To"] = MAIL_TO
    message["Subject"] = subject
    message["Date"] = date
    message.set_content("An event was detected by the sensor.")
    return message


@pytest.fixture
def settings(nats_server: Any, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        web_base_url=BASE,
        web_behind_proxy=True,
        sensor_secret=SENSOR_SECRET,  # type: ignore[arg-type]
        verkada_secret=VERKADA_SECRET,  # type: ignore[arg-type]
        sensor_mail_port=free_port(),
        sensor_mail_to=MAIL_TO,
    )


@dataclass
class Web:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    def refused(self, vendor: str, reason: str) -> float | None:
        return self.app.state.metrics.registry.get_sample_value(
            "lookout_web_sensor_refusals_total", {"vendor": vendor, "reason": reason}
        )

    async def mail(self, message: EmailMessage, sender: str = SENDER, to: str = MAIL_TO) -> str:
        """Send through a real SMTP client; the server's answer to the message, or raises."""
        port = self.settings.sensor_mail_port
        assert port is not None
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10) as smtp:
            _errors, answer = await smtp.send_message(message, sender=sender, recipients=[to])
        return answer


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Web]:
    """The web app with its lifespan (database, NATS, the SMTP listener); the vendors post to it
    with no cookie and no Origin."""
    app = create_app(settings, ManualClock(T0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield Web(app, client, settings)


async def last(js: JetStreamContext, subject: str) -> dict[str, Any]:
    msg = await js.get_last_msg("SENSORS", subject)
    assert msg.headers is not None
    body: dict[str, Any] = json.loads(msg.data)
    assert msg.headers["Nats-Msg-Id"] == body["event_id"]
    return body


def event(kind_of_event: str, event_id: str, sensor: str, zone: str, vendor: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": f"sensor.alert.{kind_of_event}",
        "schema_version": 1,
        "school_id": "lhs",
        "occurred_at": "2026-12-07T16:15:40Z",
        "actor": {"kind": "sensor", "id": sensor},
        "sensor_id": sensor,
        "zone_id": zone,
        "kind": "vape",
        "vendor": vendor,
    }


async def test_a_halo_set_its_repeat_its_email_and_its_reset(
    settings: Settings, js: JetStreamContext
) -> None:
    raised_id = by_hand("lhs|halo-1n-boys|vape|2026-12-07T10:15|raised")
    async with serving(settings) as web:
        url = f"/sensors/halo/{token('halo-1n-boys')}"
        first = await web.client.post(url, json=halo())
        assert first.status_code == 200, first.text
        assert first.json() == {"status": "stored", "event_id": raised_id}
        assert await last(js, "sensor.lhs.alert.raised") == event(
            "raised", raised_id, "halo-1n-boys", "bath-1n-boys", "halo"
        )
        # The HALO retries (its answer was lost): the same event, still one message.
        again = await web.client.post(url, json=halo(time_="10:15:50"))
        assert again.json() == {"status": "duplicate", "event_id": raised_id}
        # Its email of the same minute (16:15:58 UTC = 10:15:58 in Chicago) folds in.
        answer = await web.mail(alert_mail("HALO 1N Boys: Vape event"))
        assert answer == f"OK duplicate {raised_id}"
        assert await stream_messages(js, "SENSORS") == 1
        # The reset, as a query string (a HALO set to GET): a clearing.
        query = halo(state="reset", time_="10:19:05")
        reset = await web.client.get(url, params=query)
        cleared_id = by_hand("lhs|halo-1n-boys|vape|2026-12-07T10:19|cleared")
        assert reset.json() == {"status": "stored", "event_id": cleared_id}
        assert await last(js, "sensor.lhs.alert.cleared") == event(
            "cleared", cleared_id, "halo-1n-boys", "bath-1n-boys", "halo"
        )
        # A sensor that only sends email: its own event, by the name in the subject.
        gym = await web.mail(alert_mail("Vape detected at Gym Boys Locker"))
        gym_id = by_hand("lhs|soter-gym-boys|vape|2026-12-07T10:15|raised")
        assert gym == f"OK stored {gym_id}"
        assert await last(js, "sensor.lhs.alert.raised") == event(
            "raised", gym_id, "soter-gym-boys", "bath-gym-boys", "email"
        )
        assert await stream_messages(js, "SENSORS") == 3
        taken = web.app.state.metrics.registry.get_sample_value
        labels = {"vendor": "halo", "outcome": "stored"}
        assert taken("lookout_web_sensor_messages_total", labels) == 2
        labels = {"vendor": "halo", "outcome": "duplicate"}
        assert taken("lookout_web_sensor_messages_total", labels) == 1
        labels = {"vendor": "email", "outcome": "duplicate"}
        assert taken("lookout_web_sensor_messages_total", labels) == 1


async def test_a_verkada_alert_signed_raised_then_cleared(
    settings: Settings, js: JetStreamContext
) -> None:
    async with serving(settings) as web:
        url = "/sensors/verkada/lhs"
        body = verkada_body()
        raised = await web.client.post(url, content=body, headers=signed(body))
        raised_id = by_hand("verkada|lhs|5d1c7e0a-alert|raised")
        assert raised.json() == {"status": "stored", "event_id": raised_id}, raised.text
        assert await last(js, "sensor.lhs.alert.raised") == event(
            "raised", raised_id, "verkada-2s-boys", "bath-2s-boys", "verkada"
        )
        body = verkada_body(end_time=1796660400.0)
        cleared = await web.client.post(url, content=body, headers=signed(body))
        cleared_id = by_hand("verkada|lhs|5d1c7e0a-alert|cleared")
        assert cleared.json() == {"status": "stored", "event_id": cleared_id}
        assert await last(js, "sensor.lhs.alert.cleared") == event(
            "cleared", cleared_id, "verkada-2s-boys", "bath-2s-boys", "verkada"
        )
        assert await stream_messages(js, "SENSORS") == 2


async def test_refusals_are_problems_and_counted(
    settings: Settings, js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lookout.web")
    async with serving(settings) as web:
        client = web.client
        good = token("halo-1n-boys")
        forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        assert_problem(await client.post(f"/sensors/halo/{forged}", json=halo()), 401)
        assert_problem(await client.get("/sensors/halo/not-a-token", params=halo()), 401)
        # A token this deployment signed, for a sensor the school file no longer has.
        gone = await client.post(f"/sensors/halo/{token('halo-removed')}", json=halo())
        assert_problem(gone, 404, "sensor: not a HALO sensor of the school file")
        assert_problem(await client.post(f"/sensors/halo/{token('x', 'nosuch')}"), 404)
        url = f"/sensors/halo/{good}"
        missing = {k: v for k, v in halo().items() if k != "state"}
        assert_problem(await client.post(url, json=missing), 422, "state: missing")
        assert_problem(await client.post(url, content=b"{not json"), 422, "<body>: not JSON")
        other_mac = await client.post(url, json=halo(mac="00:1A:2B:3C:4D:02"))
        assert_problem(other_mac, 422, "mac: not this sensor's")
        assert "4D:02" not in other_mac.text  # the field, never the value

        verkada = "/sensors/verkada/lhs"
        body = verkada_body()
        unsigned = await client.post(verkada, content=body)
        assert_problem(unsigned, 401, "Verkada-Signature: not valid")
        wrong = await client.post(verkada, content=body, headers=signed(body, secret="guess"))
        assert_problem(wrong, 401, "Verkada-Signature: not valid")
        stale = await client.post(verkada, content=body, headers=signed(body, time.time() - 600))
        assert_problem(stale, 401, "Verkada-Signature: too old")
        other = verkada_body(device="00000000-unknown")
        unknown = await client.post(verkada, content=other, headers=signed(other))
        assert_problem(unknown, 404, "data.device_id: not a Verkada sensor of the school file")
        school = await client.post("/sensors/verkada/nosuch", content=body, headers=signed(body))
        assert_problem(school, 404, "school: unknown")
        junk = b'{"webhook_type": "sensor_alert"}'
        assert_problem(await client.post(verkada, content=junk, headers=signed(junk)), 422)

        with pytest.raises(aiosmtplib.SMTPSenderRefused) as sender:
            await web.mail(alert_mail("HALO 1N Boys: Vape"), sender="someone@example.org")
        assert (sender.value.code, sender.value.message) == (
            550,
            "5.7.1 Not an allowed sensor alert sender",
        )
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as recipient:
            await web.mail(alert_mail("HALO 1N Boys: Vape"), to="principal@lookout.test")
        assert recipient.value.recipients[0].code == 550
        with pytest.raises(aiosmtplib.SMTPDataError) as nameless:
            await web.mail(alert_mail("Vape detected somewhere"))
        assert nameless.value.code == 550

        assert await stream_messages(js, "SENSORS") == 0
        expected = {
            ("halo", "token"): 2,
            ("halo", "unknown_sensor"): 1,
            ("halo", "unknown_school"): 1,
            ("halo", "malformed"): 2,
            ("halo", "mismatch"): 1,
            ("verkada", "signature"): 2,
            ("verkada", "stale"): 1,
            ("verkada", "unknown_sensor"): 1,
            ("verkada", "unknown_school"): 1,
            ("verkada", "malformed"): 1,
            ("email", "sender"): 1,
            ("email", "recipient"): 1,
            ("email", "unknown_sensor"): 1,
        }
        counted = {
            (vendor, reason): web.refused(vendor, reason)
            for vendor in ("halo", "verkada", "email")
            for reason in sensor_ingress.REASONS
        }
        assert {key: value for key, value in counted.items() if value} == expected

    # The log names the vendor, the sensor and the reason: never a token, address or value.
    lines = [r.getMessage() for r in caplog.records if r.name == "lookout.web"]
    assert "event=sensor_message_refused vendor=halo sensor=halo-1n-boys reason=mismatch" in lines
    assert "event=sensor_message_refused vendor=email sensor=- reason=sender" in lines
    secrets = [good.rsplit(".", 1)[1], "4D:02", "4D:01", "someone@", SENDER, "principal@", "Vape"]
    assert [line for line in lines if any(secret in line for secret in secrets)] == []


async def test_without_nats_the_answer_is_a_503_to_retry(
    settings: Settings, nats_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sensor_ingress, "PUBLISH_TIMEOUT", 0.5)
    async with serving(settings) as web:
        nats_server.stop()
        url = f"/sensors/halo/{token('halo-1n-boys')}"
        assert_problem(await web.client.post(url, json=halo()), 503, "retry later")
        body = verkada_body()
        verkada = await web.client.post("/sensors/verkada/lhs", content=body, headers=signed(body))
        assert_problem(verkada, 503, "retry later")
        with pytest.raises(aiosmtplib.SMTPDataError) as later:
            await web.mail(alert_mail("HALO 1N Boys: Vape event"))
        assert (later.value.code, later.value.message) == (
            451,
            "4.3.0 Event store unavailable, try again later",
        )
        assert web.refused("halo", "unavailable") == 1
        assert web.refused("verkada", "unavailable") == 1
        assert web.refused("email", "unavailable") == 1

        # NATS back: each vendor retries. What the client kept while reconnecting may have
        # reached JetStream meanwhile (so `duplicate` or `stored`); either way each alert is
        # one message, and the sending server's retry of the mail is the HALO's alert.
        nats_server.start()

        async def ready() -> bool:
            return (await web.client.get("/readyz")).status_code == 200

        await wait_until(ready, what="the web reconnected to NATS")
        raised_id = by_hand("lhs|halo-1n-boys|vape|2026-12-07T10:15|raised")
        retry = await web.client.post(url, json=halo())
        assert retry.status_code == 200 and retry.json()["event_id"] == raised_id
        verkada = await web.client.post("/sensors/verkada/lhs", content=body, headers=signed(body))
        assert verkada.status_code == 200
        answer = await web.mail(alert_mail("HALO 1N Boys: Vape event"))
        assert answer == f"OK duplicate {raised_id}"
        nc = await nats.connect(nats_server.url)
        try:
            assert await stream_messages(nc.jetstream(), "SENSORS") == 2
        finally:
            await nc.close()
