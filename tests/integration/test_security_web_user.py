"""The web service's NATS user (`svc-web`, from `lookout deploy nats-config`) against a real
nats-server running deploy/nats/nats-server.conf, in the style of test_security_permissions.py
(whose server fixture and helpers this reuses): it publishes and asks what the people it serves
may — an SSO's events, each person's requests as that person —, hears the patrol events of the
Today screen, and cannot publish a service's outputs (`alert.*`), touch the JetStream API
(delete or purge a stream, make a consumer) or ask as someone of no such role. Then the web
service itself runs under svc-web beside the patrol service under svc-patrol: an SSO signs in,
a scan is stored and the Today query is answered, with no permission violation."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from lookout.contracts.requests import REQUESTS
from lookout.kernel.clock import ManualClock
from services.patrol import app as patrol_app
from services.web import accounts
from services.web.app import create_app
from tests.integration import test_security_permissions as matrix
from tests.integration.conftest import running, wait_until
from tests.integration.test_security_permissions import (
    ALLOWED,
    ASKS,
    ASKS_ONE,
    ORIGINATES,
    PEOPLE,
    REFUSED,
    Conn,
    _diff,
    event_subjects,
    fire,
    jetstream_calls,
    outcome,
    refused,
)

pytestmark = pytest.mark.nats

# The module's own secured server (both schools, lhs and mhs, users generated for both).
secured = matrix.secured
as_user = matrix.as_user

WEB = "svc-web"
BASE = "https://lookout.test"
T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # a Saturday: no timers add events
# The roles of the people the web serves: what any of them originates, it may publish.
ROLES = {role for role, _ in PEOPLE.values()}
# What the SSO's Today screen is told live (services/web/live.py), per school: hand-written.
HEARS = [
    "patrol.{s}.sso.*.unannounced_check", "patrol.{s}.sso.*.follow_up_due",
    "patrol.{s}.check.window_closed", "patrol.{s}.check.recovered",
    "patrol.{s}.follow_up.completed", "patrol.{s}.follow_up.missed",
    "concern.{s}.raised", "concern.{s}.updated", "concern.{s}.resolved",
    "patrol.{s}.sso.*.sensor_check", "patrol.{s}.sensor_check.done",
    "patrol.{s}.sensor_check.missed",
    "alert.{s}.opened", "alert.{s}.escalated", "alert.{s}.notified", "alert.{s}.acknowledged",
    "alert.{s}.resolved",
    # a step of an alert reaching one person: the paged officer's Today is nudged
    "alert.{s}.notify.*", "alert.{s}.notify.sso-rivera",
    "visitor.{s}.checked_in", "visitor.{s}.checked_out", "visitor.{s}.screening_flagged",
    "visitor.{s}.overdue", "visitor.{s}.out_of_bounds", "visitor.{s}.unaccounted",
]  # fmt: skip


def scan_event(event_id: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "type": "checkpoint.scanned",
        "school_id": "lhs",
        "occurred_at": T0.isoformat(),
        "actor": {"kind": "sso_device", "id": "phone-rivera"},
        "zone_id": "bath-1n-boys",
        "checkpoint_tag": "T-1NB",
        "method": "nfc",
    }


async def test_svc_web_publishes_an_sso_event_and_asks_a_patrol_query_only_as_a_patrol_asker(
    as_user: Callable[[str], Awaitable[Conn]],
) -> None:
    web = await as_user(WEB)
    event = scan_event()
    ack = await web.nc.jetstream().publish(
        "patrol.lhs.checkpoint.scanned",
        json.dumps(event).encode(),
        headers={"Nats-Msg-Id": event["event_id"]},
    )
    assert ack.stream == "PATROL"
    # Nobody answers patrol queries here: allowed is the server's no-responders status.
    assert await outcome(web, "query.lhs.patrol.today.sso-rivera", b"{}") == (ALLOWED, None)
    # The school's leaders ask patrol too (the console); district safety and nobody of the
    # school do not: refused by the server.
    assert await outcome(web, "query.lhs.patrol.zone_status.principal-okafor", b"{}") == (
        ALLOWED,
        None,
    )
    assert (await outcome(web, "query.lhs.patrol.today.district-lee", b"{}"))[0] == REFUSED
    assert (await outcome(web, "query.lhs.patrol.today.someone-else", b"{}"))[0] == REFUSED
    assert web.errors == [
        'nats: permissions violation for publish to "query.lhs.patrol.today.district-lee"',
        'nats: permissions violation for publish to "query.lhs.patrol.today.someone-else"',
    ]


async def test_svc_web_cannot_publish_alerts_or_delete_streams(
    as_user: Callable[[str], Awaitable[Conn]],
) -> None:
    web = await as_user(WEB)
    assert (await outcome(web, "alert.lhs.opened", b"{}"))[0] == REFUSED
    assert (await outcome(web, "alert.lhs.notify.principal-okafor", b"{}"))[0] == REFUSED
    js = web.nc.jetstream(timeout=3)
    await refused(web, "publish", "$JS.API.STREAM.DELETE.PATROL", js.delete_stream("PATROL"))
    await refused(web, "publish", "$JS.API.STREAM.PURGE.CONCERNS", js.purge_stream("CONCERNS"))
    admin = (await as_user("admin")).nc.jetstream()
    assert (await admin.stream_info("PATROL")).config.name == "PATROL"  # still there


async def test_svc_web_on_every_event_request_and_jetstream_subject(
    as_user: Callable[[str], Awaitable[Conn]],
) -> None:
    """The whole catalogue, both schools of the deployment: publish what a served role
    originates, ask as each person whose role asks that service, nothing of the JetStream API."""
    web = await as_user(WEB)
    observed, expected = {}, {}
    body = json.dumps({"probe": str(uuid.uuid4())}).encode()
    for spec, _school, subject, _ in event_subjects():
        observed[subject], _ = await outcome(web, subject, body)
        # What a served role originates, and the sensor events of its ingress.
        web_publishes = ORIGINATES[spec.type] in ROLES or ORIGINATES[spec.type] == WEB
        expected[subject] = ALLOWED if web_publishes else REFUSED
    for service in ("patrol", "visitors", "alerts", "reports"):
        observed[f"dlq.{service}"], _ = await outcome(web, f"dlq.{service}", body)
        expected[f"dlq.{service}"] = REFUSED
    people = [*PEOPLE.values(), ("nobody", "someone-else")]
    for spec in REQUESTS:
        for school in ("lhs", "mhs"):
            for role, person in people:
                subject = spec.subject(school, person)
                observed[subject], _ = await outcome(web, subject, b"{}")
                asks = role in ASKS[(spec.kind, spec.service)] or role in ASKS_ONE.get(
                    (spec.kind, spec.service, spec.name), set()
                )
                expected[subject] = ALLOWED if asks else REFUSED
    for label, subject, verdict in jetstream_calls(WEB):
        assert verdict == REFUSED  # the web has no JetStream API at all
        if subject.startswith("$JS.ACK."):
            observed[label] = await fire(
                web, "publish", subject, lambda s=subject: web.nc.publish(s, b"")
            )
        else:
            observed[label], _ = await outcome(web, subject, b"{")
        expected[label] = REFUSED
    assert _diff(observed, expected) == []
    # In each school: the SSO's 8 events; the 12 patrol requests as the SSO, the principal, the
    # AP and the counselor; the 10 visitors requests (sign-in, sign-out, screen, roster, held,
    # end of day, the drill's start, account, end and query) as the front office; the 7 alerts
    # requests as each of the 4 console people, and its push on/off as the SSO; the 3 reports
    # queries (weekly, archive, sent copy) as the 4 console people, no reports command.
    # And the 2 sensor events (raised, cleared) of its ingress; the 2 day-type events (confirmed,
    # withdrawn) of the console's calendar, and its day_types query as district safety.
    allowed = 8 + 2 + 2 + 12 * 4 + 1 + 10 * 1 + (7 * 4 + 2) + 3 * 4
    assert sum(v == ALLOWED for v in expected.values()) == 2 * allowed


async def test_svc_web_hears_only_the_today_screens_and_alert_boards_subjects(
    as_user: Callable[[str], Awaitable[Conn]],
) -> None:
    web = await as_user(WEB)
    observed, expected = {}, {}

    async def subscribe(subject: str) -> str:
        subs: list[Any] = []

        async def sub() -> None:
            subs.append(await web.nc.subscribe(subject))

        verdict = await fire(web, "subscription", subject, sub)
        await subs[0].unsubscribe()
        return verdict

    for school in ("lhs", "mhs"):
        for template in HEARS:
            subject = template.format(s=school)
            observed[subject], expected[subject] = await subscribe(subject), ALLOWED
    for subject in (
        "alert.lhs.>", "alert.lhs.notify.sso-rivera.x", "patrol.lhs.checkpoint.scanned",
        "patrol.lhs.>", "patrol.lhs.sso.sso-rivera.>", "concern.>", "visitor.lhs.sighted",
        "visitor.lhs.>", "dlq.>", "_INBOX.>",
        "query.lhs.patrol.today.sso-rivera", "_INBOX.lhs-sso-rivera.x",
    ):  # fmt: skip
        observed[subject], expected[subject] = await subscribe(subject), REFUSED
    observed["_INBOX.svc-web.x"], expected["_INBOX.svc-web.x"] = (
        await subscribe("_INBOX.svc-web.x"),
        ALLOWED,
    )
    assert _diff(observed, expected) == []


@pytest.mark.serial
async def test_the_web_service_runs_under_svc_web(
    secured: matrix.Secured,
    as_user: Callable[[str], Awaitable[Conn]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Streams provisioned by admin, LOOKOUT_PROVISION_STREAMS=false: the web starts (its live
    subscriptions included), stores a phone's scan and asks the patrol service for the SSO's
    Today screen as the SSO, with no permission violation anywhere."""
    clock = ManualClock(T0)
    common = {"provision_streams": False, "timers_enabled": False, "schools": ""}
    patrol = patrol_app.create_kernel(
        secured.settings("svc-patrol", data_dir=tmp_path / "patrol", **common), clock
    )
    settings = secured.settings(
        WEB, data_dir=tmp_path / "web", web_base_url=BASE, web_behind_proxy=True, **common
    )
    link = await accounts.issue_link(settings, clock, school_id="lhs", person_id="sso-rivera")
    app = create_app(settings, clock)
    # The suite's logging stops at the `lookout` logger (no propagation to the root, where
    # caplog listens): hear the web's lines directly.
    web_log = logging.getLogger("lookout.web")
    web_log.addHandler(caplog.handler)
    async with (
        running(patrol, patrol_app.build_app),
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE, headers={"Origin": BASE}
        ) as client,
    ):
        assert (await client.post(link.removeprefix(BASE))).status_code == 303
        page = await client.get("/app")
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert csrf is not None
        event = scan_event()
        answer = await client.post(
            "/api/v1/events",
            json={"device_id": "phone-rivera", "events": [event]},
            headers={"X-CSRF-Token": csrf.group(1)},
        )
        assert answer.json() == {
            "results": [{"index": 0, "event_id": event["event_id"], "status": "stored",
                         "reason": None}]
        }  # fmt: skip
        today = await client.get("/api/v1/today")
        assert today.status_code == 200, today.text
        assert today.json()["officer_id"] == "sso-rivera"
        # A refused publish is one warning line with the error's class, no traceback.
        await app.state.web.nc.publish("alert.lhs.forged", b"{}")

        async def refused() -> bool:
            return any(r.getMessage().startswith("event=nats_error") for r in caplog.records)

        await wait_until(refused, within=10, what="the refused publish's log line")
    errors = [r for r in caplog.records if r.getMessage().startswith("event=nats_error")]
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in errors] == [
        (
            "WARNING",
            "event=nats_error error=Error "
            """detail='nats: permissions violation for publish to "alert.lhs.forged"'""",
            None,
        )
    ]
    assert len([r for r in caplog.records if "ermissions violation" in r.getMessage()]) == 1
    web_log.removeHandler(caplog.handler)
