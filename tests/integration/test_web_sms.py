"""The SMS provider's webhook through the web app, against a real nats-server and a stand-in
for the alerts service's sms_reply handler (a NATS responder recording each subject and body):
a signed reply from the principal's number goes out as `command.lhs.alerts.sms_reply.
principal-okafor` with the code read loosely, and the alerts service's message comes back as
TwiML; a bad or missing signature and a number that is no one's get one and the same 403; a
reply that is no code gets the how-to text without asking anyone; a role that does not answer
alerts is told so; no alerts service: the sender is told it failed. Neither the body nor the
number is logged; no session and no CSRF token are needed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import nats
import pytest
from pydantic import SecretStr

from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import Settings
from lookout.local.runtime import free_port
from services.web.app import create_app
from tests.integration.test_web import assert_problem
from tests.integration.test_web_alerts import T0

pytestmark = pytest.mark.nats

BASE = "https://lookout.test"
TOKEN = "twilio-auth-token-for-tests"
OKAFOR_PHONE, RIVERA_PHONE = "+15555550103", "+15555550101"  # the school file's
SCHOOL_NUMBER = "+15555550000"
ALERT = uuid.UUID("6a1f5c3e-8d2b-4f70-9a51-0c3d2e1f4b5a")
ACKED = "Alert 1 (weapon, Gym) acknowledged by Ada Okafor."
HOW_TO = (
    "Lookout: reply with the alert's number and a letter, e.g. 1a to acknowledge alert 1 or 1e "
    "to escalate it now. Resolving needs the console."
)


def signed(params: dict[str, str], token: str = TOKEN, url: str = f"{BASE}/sms/inbound") -> str:
    """Twilio's signature, written out here apart from the webhook's own code."""
    text = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()).decode()


def text_from(number: str, body: str) -> dict[str, str]:
    return {
        "MessageSid": "SM0123456789abcdef0123456789abcdef",
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": number,
        "To": SCHOOL_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }


def twiml(message: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{message}</Message></Response>'
    )


@pytest.fixture
def settings(nats_server: Any, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        web_base_url=BASE,
        web_behind_proxy=True,
        web_port=free_port(),
        sms_account_sid="AC0123456789abcdef0123456789abcdef",
        sms_auth_token=TOKEN,  # type: ignore[arg-type]
    )


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The SMS provider posting to the web app (no cookie, no Origin: a server, not a browser)."""
    app = create_app(settings, ManualClock(T0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client


class StandIn:
    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture
async def alerts_stand_in(nats_server: Any) -> AsyncIterator[StandIn]:
    stand_in = StandIn()
    nc = await nats.connect(nats_server.url)

    async def answer(msg: Any) -> None:
        body = json.loads(msg.data)
        stand_in.asked.append((msg.subject, body))
        if body["code"] == "7a":
            reply = {"ok": False, "error": "code: no alert with that number in your texts"}
        else:
            result = {"alert_id": str(ALERT), "action": "acknowledged", "message": ACKED}
            reply = {"ok": True, "result": result}
        await msg.respond(json.dumps(reply).encode())

    await nc.subscribe("command.*.alerts.sms_reply.*", cb=answer)
    await nc.flush()
    yield stand_in
    await nc.close()


async def post(
    client: httpx.AsyncClient, params: dict[str, str], signature: str | None
) -> httpx.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return await client.post("/sms/inbound", content=urlencode(params), headers=headers)


async def test_a_signed_reply_acknowledges_as_the_numbers_person(
    provider: httpx.AsyncClient, alerts_stand_in: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    params = text_from(OKAFOR_PHONE, " 1A ")
    answer = await post(provider, params, signed(params))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/xml"
    assert answer.text == twiml(ACKED)
    assert alerts_stand_in.asked == [
        ("command.lhs.alerts.sms_reply.principal-okafor", {"code": "1a"})
    ]
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "5555550103" not in logged and "1A" not in logged
    assert (
        f"event=sms_reply school=lhs person=principal-okafor alert_id={ALERT} action=acknowledged"
        in logged
    )


async def test_bad_signatures_and_strangers_get_one_and_the_same_403(
    provider: httpx.AsyncClient, alerts_stand_in: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = text_from(OKAFOR_PHONE, "1a")
    stranger = text_from("+15555550199", "1a")
    refused = [
        await post(provider, good, None),
        await post(provider, good, signed(good, token="another-account's-token")),
        await post(provider, good, signed(good, url="http://lookout.test/sms/inbound")),
        await post(provider, dict(good, Body="1e"), signed(good)),  # the body changed
        await post(provider, stranger, signed(stranger)),  # signed, but no one's number
    ]
    for answer in refused:
        assert_problem(answer, 403, "X-Twilio-Signature: not valid")
    assert len({a.text for a in refused}) == 1
    assert alerts_stand_in.asked == []
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "5555550199" not in logged and "5555550103" not in logged


async def test_anything_but_a_code_gets_how_to_reply_and_asks_no_one(
    provider: httpx.AsyncClient, alerts_stand_in: StandIn
) -> None:
    for body in ("ok", "", "1b", "acknowledged 1"):
        params = text_from(OKAFOR_PHONE, body)
        answer = await post(provider, params, signed(params))
        assert (answer.status_code, answer.text) == (200, twiml(HOW_TO))
    assert alerts_stand_in.asked == []


async def test_an_unknown_code_a_role_without_alerts_and_no_service_are_said_in_words(
    settings: Settings, provider: httpx.AsyncClient, nats_server: Any
) -> None:
    # No alerts service answers yet: the sender is told it failed, not left in silence.
    params = text_from(OKAFOR_PHONE, "1a")
    answer = await post(provider, params, signed(params))
    assert answer.text == twiml(
        "Lookout could not take your reply just now. Acknowledge in the console or the email link."
    )
    # The SSO's role does not command the alerts service (lookout/school/permissions.py).
    params = text_from(RIVERA_PHONE, "1a")
    answer = await post(provider, params, signed(params))
    assert answer.text == twiml(
        "Lookout: your role does not acknowledge alerts, by text or otherwise."
    )


async def test_a_code_of_no_alert_says_so(
    provider: httpx.AsyncClient, alerts_stand_in: StandIn
) -> None:
    params = text_from(OKAFOR_PHONE, "7a")
    answer = await post(provider, params, signed(params))
    assert answer.text == twiml(
        "Lookout: no alert of yours has that number. Reply with the number your alert text gave."
    )
    assert alerts_stand_in.asked == [
        ("command.lhs.alerts.sms_reply.principal-okafor", {"code": "7a"})
    ]


async def test_without_an_auth_token_every_post_is_refused(
    settings: Settings, alerts_stand_in: StandIn
) -> None:
    unconfigured = settings.model_copy(update={"sms_auth_token": SecretStr("")})
    app = create_app(unconfigured, ManualClock(T0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            params = text_from(OKAFOR_PHONE, "1a")
            assert_problem(await post(client, params, signed(params, token="")), 403)
    assert alerts_stand_in.asked == []
