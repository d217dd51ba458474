"""A text reply, end to end: a real nats-server, the real alerts service in process (its clock
stopped at Monday 23 November 2026, 08:00 at Lakeside), the web app with its lifespan (the
provider's webhook, `POST /sms/inbound`), and the stand-in SMS provider, which receives the
alert's text and posts the principal's reply signed with X-Twilio-Signature, as Twilio does.
The principal's rule: `critical: [sms, email]`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from nats.js import JetStreamContext

from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.local.runtime import free_port
from services.alerts import app as alerts_app
from services.alerts import store
from services.alerts.app import AlertTimers
from services.web.app import create_app
from tests.integration.conftest import running, wait_until
from tests.integration.sms_provider import SmsProvider
from tests.unit.alerts import conftest as alerts_fixtures
from tests.unit.alerts.conftest import SmtpSink

pytestmark = pytest.mark.nats

migrated_alerts_db = alerts_fixtures.migrated_alerts_db
alerts_db = alerts_fixtures.alerts_db
smtp_sink = alerts_fixtures.smtp_sink

BASE = "https://lookout.test"
WEBHOOK = f"{BASE}/sms/inbound"
T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 08:00 in Chicago
PRINCIPAL, PHONE = "principal-okafor", "+15555550103"


def lakeside(tmp_path: Path) -> str:
    doc = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    (principal,) = [p for p in doc["people"] if p["id"] == PRINCIPAL]
    principal["notify"] = {"critical": ["sms", "email"]}
    path = tmp_path / "lhs.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return str(path)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sms() -> Iterator[SmsProvider]:
    with SmsProvider() as provider:
        yield provider


@pytest.fixture
def settings(
    nats_server: Any, tmp_path: Path, alerts_db: str, smtp_sink: SmtpSink, sms: SmsProvider
) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        schools=lakeside(tmp_path),
        alerts_db_url=alerts_db,
        smtp_port=smtp_sink.port,
        web_base_url=BASE,
        web_behind_proxy=True,
        web_port=free_port(),
        sms_api_url=sms.url,
        sms_account_sid=sms.account_sid,
        sms_auth_token=sms.auth_token,
        sms_from=sms.number,
    )


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
async def web(settings: Settings, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client


async def alert_row(kernel: ServiceKernel) -> Any:
    async def opened() -> bool:
        async with kernel.sessions() as session:
            return len(list(await session.execute(store.alerts.select()))) == 1

    await wait_until(opened, within=30, what="the alert")
    async with kernel.sessions() as session:
        return (await session.execute(store.alerts.select())).one()


async def test_replying_1a_to_the_text_acknowledges_and_the_next_step_never_fires(
    alerts: tuple[ServiceKernel, AlertTimers],
    web: httpx.AsyncClient,
    js: JetStreamContext,
    sms: SmsProvider,
    clock: ManualClock,
) -> None:
    kernel, timers = alerts
    event = ConcernRaised.new(
        school_id="lhs",
        occurred_at=T0,
        actor={"kind": "sso_device", "id": "phone-rivera"},
        concern_id=uuid.uuid4(),
        category="weapon",
        severity="critical",
        zone_id="gym",
        student_refs=["S-104233"],
        note="Jordan showed a knife",
    )
    await js.publish(subject_of(event), event.model_dump_json().encode())
    (text,) = await sms.wait_for(1)
    assert (text.to, text.body) == (
        PHONE,
        "Lookout LHS: CRITICAL weapon, Gymnasium (step 1). Reply 1a ack, 1e escalate",
    )

    # A forged reply (signed with another token) acknowledges nothing.
    forged = await sms.reply(WEBHOOK, from_=PHONE, body="1a", client=web, auth_token="not-it")
    assert forged.status_code == 403
    assert (await alert_row(kernel)).status == "open"

    await at_rest(kernel, clock)
    clock.advance(timedelta(minutes=1))
    answer = await sms.reply(WEBHOOK, from_=PHONE, body=" 1A ", client=web)
    assert answer.status_code == 200
    assert answer.text == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Alert 1 acknowledged. '
        "Resolve it in the Lookout console with an outcome note once handled."
        "</Message></Response>"
    )
    row = await alert_row(kernel)
    assert (row.status, row.acknowledged_by) == ("acknowledged", PRINCIPAL)

    # District safety's step (10 minutes on) never fires; no second text.
    await at_rest(kernel, clock)
    clock.advance(timedelta(minutes=12))
    assert (await timers.ticker.tick())["escalations"] == 0
    await timers.dispatcher.run_once()
    assert len(sms.messages) == 1

    # `1c`: closing needs the console.
    close = await sms.reply(WEBHOOK, from_=PHONE, body="1c", client=web)
    assert (
        "<Message>Alert 1: closing needs an outcome note. Resolve it in the Lookout console."
        in (close.text)
    )


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
