"""An alert email's acknowledge link, end to end: a real nats-server, the real alerts service in
process (its clock stopped at Monday 23 November 2026, 08:00 at Lakeside; its ticker fired by
hand), a real SMTP server (aiosmtpd) and the web app with its lifespan, sharing one data dir
and so one generated alert-link secret. A critical concern opens an alert; the
principal's email carries `<base>/ack/<token>` (the SSO's, whose role does not acknowledge
alerts, does not); opening it acknowledges nothing; the page's POST acknowledges as the
principal and the next step (district safety, 10 minutes on) never fires; a scanner's GET
afterwards changes nothing; a changed token, a POST from another site and an expired link
are refused."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import subject_of
from lookout.kernel.action_links import AckLinkClaims, alert_link_secret, sign_ack_link
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from lookout.local.runtime import free_port
from services.alerts import app as alerts_app
from services.alerts import store
from services.alerts.app import AlertTimers
from services.web.app import create_app
from tests.integration.conftest import running, wait_until
from tests.unit.alerts import conftest as alerts_fixtures
from tests.unit.alerts.conftest import SmtpSink

pytestmark = pytest.mark.nats

migrated_alerts_db = alerts_fixtures.migrated_alerts_db
alerts_db = alerts_fixtures.alerts_db
smtp_sink = alerts_fixtures.smtp_sink

BASE = "https://lookout.test"
T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 08:00 in Chicago
LINK = re.compile(r"^  (https://lookout\.test/ack/(LA1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+))$", re.M)
STUDENT = "S-104233"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def settings(nats_server: Any, tmp_path: Path, alerts_db: str, smtp_sink: SmtpSink) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        alerts_db_url=alerts_db,
        smtp_port=smtp_sink.port,
        web_base_url=BASE,
        web_behind_proxy=True,
        web_port=free_port(),
        timers_enabled=False,  # the test fires the ticker itself
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
        html = {"Accept": "text/html,application/xhtml+xml"}  # as a browser asks
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=html) as client:
            yield client


def served(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the suite logged (the test's own HTTP client, httpx, logs the URLs it asks for)."""
    return [r for r in caplog.records if not r.name.startswith("httpx")]


async def alert_row(kernel: ServiceKernel) -> Any:
    async with kernel.sessions() as session:
        rows = list(await session.execute(store.alerts.select()))
    assert len(rows) == 1
    return rows[0]


async def test_the_emailed_link_shows_then_acknowledges_and_the_escalation_stops(
    alerts: tuple[ServiceKernel, AlertTimers],
    web: httpx.AsyncClient,
    js: JetStreamContext,
    smtp_sink: SmtpSink,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
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
        student_refs=[STUDENT],
        note="Jordan showed a knife",
    )
    await js.publish(subject_of(event), event.model_dump_json().encode())

    async def opened() -> bool:
        async with kernel.sessions() as session:
            return len(list(await session.execute(store.alerts.select()))) == 1

    await wait_until(opened, within=30, what="the alert")

    async def mailed() -> bool:  # step 0: the principal and the SSO (the mailer is woken)
        return len(smtp_sink.messages) == 2

    await wait_until(mailed, within=30, what="step 0's emails")
    mail = {m["To"]: m.get_content().replace("\r\n", "\n") for m in smtp_sink.messages}
    assert set(mail) == {"a.okafor@lakeside.example.org", "d.rivera@lakeside.example.org"}
    assert LINK.search(mail["d.rivera@lakeside.example.org"]) is None  # an SSO does not ack
    assert "Acknowledge it in the Lookout client" in mail["d.rivera@lakeside.example.org"]
    found = LINK.search(mail["a.okafor@lakeside.example.org"])
    assert found is not None
    url, token = found.groups()
    alert_id = (await alert_row(kernel)).alert_id
    assert (
        f"lookout alerts ack {alert_id} --by principal-okafor"
        in mail["a.okafor@lakeside.example.org"]
    )
    assert all(
        STUDENT not in m.as_string() and "knife" not in m.as_string() for m in smtp_sink.messages
    )

    # Opening the link (as a mail scanner would) acknowledges nothing.
    page = await web.get(url.removeprefix(BASE))
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert '<h1 id="ack-title">Acknowledge this alert?</h1>' in page.text
    assert "<dd>weapon (critical)</dd>" in page.text
    assert "<dd>Gymnasium</dd>" in page.text
    assert "<dd>Mon 23 Nov 2026, 08:00 CST</dd>" in page.text
    assert f'<form class="form" method="post" action="/ack/{token}">' in page.text
    assert STUDENT not in page.text
    row = await alert_row(kernel)
    assert (row.status, row.acknowledged_by) == ("open", None)

    # A POST from another site, or with a changed token, is refused; still nothing acknowledged.
    cross = await web.post(f"/ack/{token}", headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    changed = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    forged = await web.post(f"/ack/{changed}", headers={"Origin": BASE})
    assert forged.status_code == 404
    assert "This link is not valid" in forged.text
    assert (await alert_row(kernel)).status == "open"

    # The page's button: acknowledged by the principal.
    clock.advance(timedelta(minutes=2))
    done = await web.post(f"/ack/{token}", headers={"Origin": BASE})
    assert done.status_code == 200
    assert '<p role="status">Acknowledged by Ada Okafor at Mon 23 Nov 2026, 08:02 CST.</p>' in (
        done.text
    )
    row = await alert_row(kernel)
    assert (row.status, row.acknowledged_by) == ("acknowledged", "principal-okafor")

    # The escalation stops: district safety's step (10 minutes on) never fires.
    clock.advance(timedelta(minutes=12))
    fired = await timers.ticker.tick()
    assert fired["escalations"] == 0
    assert await timers.mailer.run_once() == 0
    assert len(smtp_sink.messages) == 2

    # A scanner's GET afterwards changes nothing: the page says who acknowledged it.
    again = await web.get(f"/ack/{token}")
    assert again.status_code == 200
    assert "Already acknowledged by Ada Okafor at Mon 23 Nov 2026, 08:02 CST." in again.text
    row = await alert_row(kernel)
    assert (row.status, row.acknowledged_by) == ("acknowledged", "principal-okafor")

    # A day after the email, the link is no longer valid (one 404 page, saying no more).
    clock.advance(timedelta(hours=24) - timedelta(minutes=14))
    expired = await web.get(f"/ack/{token}")
    assert expired.status_code == 404
    assert "This link is not valid" in expired.text and "Gymnasium" not in expired.text
    assert not [r for r in served(caplog) if token[4:40] in r.getMessage()]  # never logged
    # Asked by something other than a browser: the same refusal as problem+json.
    problem = await web.get(f"/ack/{token}", headers={"Accept": "application/json"})
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.json() == {
        "type": "about:blank",
        "title": "Not found",
        "status": 404,
        "detail": "token: not valid",
    }


@pytest.mark.parametrize(
    "person",
    [
        "sso-rivera",  # in the school file, but her role does not acknowledge alerts
        "principal-gone",  # no longer in the school file
    ],
)
async def test_a_link_for_someone_who_may_not_acknowledge_is_the_same_404(
    settings: Settings,
    web: httpx.AsyncClient,
    clock: ManualClock,
    person: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Signed with this deployment's secret (the file the web generated), and still refused,
    saying no more than a forged link does; the token is in no log line."""
    claims = AckLinkClaims("lhs", uuid.uuid4(), person, T0 + timedelta(hours=1))
    token = sign_ack_link(alert_link_secret(settings), claims)
    for answer in (
        await web.get(f"/ack/{token}"),
        await web.post(f"/ack/{token}", headers={"Origin": BASE}),
    ):
        assert answer.status_code == 404
        assert '<h1 id="ack-title">This link is not valid</h1>' in answer.text
        assert person not in answer.text
    assert not [r for r in served(caplog) if token[4:40] in r.getMessage()]
