"""The alerts service on a real nats-server: a concern reaches the person's notify subject and
their inbox; the ticker fires the next step; the CLI acks, resolves, shows and lists."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from typer.testing import CliRunner

from lookout.cli import main as cli
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.alerts import store
from services.alerts.app import build_app, create_kernel
from tests.integration.conftest import running, wait_until
from tests.unit.alerts import conftest as alerts_fixtures
from tests.unit.alerts.conftest import SmtpSink
from tests.unit.alerts.test_engine import STUDENT, T0, concern

pytestmark = pytest.mark.nats

# The alerts unit tests' fixtures: a database migrated once per module, a real SMTP server.
migrated_alerts_db = alerts_fixtures.migrated_alerts_db
alerts_db = alerts_fixtures.alerts_db
smtp_sink = alerts_fixtures.smtp_sink


@pytest.fixture
async def service(
    nats_server: Any, alerts_db: str, tmp_path: Path, smtp_sink: SmtpSink
) -> AsyncIterator[tuple[ServiceKernel, ManualClock]]:
    clock = ManualClock(T0)
    settings = Settings(
        data_dir=tmp_path,
        nats_url=nats_server.url,
        alerts_db_url=alerts_db,
        smtp_port=smtp_sink.port,
        tick_seconds=0.05,
    )
    kernel = create_kernel(settings, clock)
    async with running(kernel, build_app):
        yield kernel, clock


async def alert_ids(kernel: ServiceKernel) -> list[str]:
    async with kernel.sessions() as session:
        return [r.alert_id for r in await session.execute(store.alerts.select())]


async def test_a_concern_reaches_the_notify_subject_and_the_inbox_then_the_next_step(
    service: tuple[ServiceKernel, ManualClock],
    nats_server: Any,
    js: JetStreamContext,
    smtp_sink: SmtpSink,
) -> None:
    _, clock = service
    nc = await nats.connect(nats_server.url)
    received: list[tuple[str, dict[str, Any]]] = []

    async def got(msg: Any) -> None:
        received.append((msg.subject, json.loads(msg.data)))

    await nc.subscribe("alert.lhs.notify.>", cb=got)
    event = concern()
    await js.publish(
        subject_of(event),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(event.event_id)},
    )

    async def notified(n: int) -> bool:
        return len(received) >= n

    await wait_until(lambda: notified(1), within=30, what="the SSO's notification")
    subject, payload = received[0]
    assert subject == "alert.lhs.notify.sso-rivera"
    assert (payload["type"], payload["person_id"], payload["step"]) == (
        "alert.notification",
        "sso-rivera",
        0,
    )

    async def mailed() -> bool:
        return len(smtp_sink.messages) == 1

    await wait_until(mailed, within=30, what="the SSO's email")
    assert smtp_sink.messages[0]["To"] == "d.rivera@lakeside.example.org"
    assert STUDENT not in smtp_sink.messages[0].as_string()

    clock.advance(timedelta(minutes=30))  # step 1 is due: the ticker fires it on its own
    await wait_until(lambda: notified(2), within=30, what="the AP's notification")
    assert received[1][0] == "alert.lhs.notify.ap-chen"
    await asyncio.sleep(0)  # let a stray duplicate show up if there were one
    assert [s for s, _ in received] == ["alert.lhs.notify.sso-rivera", "alert.lhs.notify.ap-chen"]
    await nc.close()


def lookout(nats_url: str, *args: str) -> Any:
    return CliRunner().invoke(cli.app, list(args), env={"LOOKOUT_NATS_URL": nats_url})


async def test_the_cli_acks_resolves_shows_and_lists_over_request_reply(
    service: tuple[ServiceKernel, ManualClock], nats_server: Any, js: JetStreamContext
) -> None:
    kernel, clock = service
    event = concern()
    await js.publish(subject_of(event), event.model_dump_json().encode())

    async def opened() -> bool:
        return len(await alert_ids(kernel)) == 1

    await wait_until(opened, within=30, what="the alert")
    (aid,) = await alert_ids(kernel)
    url = nats_server.url

    def run(*args: str) -> Any:
        return asyncio.to_thread(lookout, url, *args)

    listed = await run("alerts", "list", "--open")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[-1] == "1 alert(s)"
    assert aid in listed.stdout and "open" in listed.stdout

    acked = await run("alerts", "ack", aid, "--by", "ap-chen")
    assert acked.exit_code == 0, acked.output
    assert acked.stdout == (
        f"acknowledged {aid}; re-triggers at 2026-11-23 10:00:00 CST unless resolved\n"
    )

    no_note = await run("alerts", "resolve", aid, "--by", "ap-chen")
    assert (no_note.exit_code, no_note.stderr) == (
        1,
        "lookout: error: resolving an alert needs an outcome note (--note)\n",
    )
    unknown = str(uuid.UUID(int=7))
    missing = await run("alerts", "ack", unknown, "--by", "ap-chen")
    assert (missing.exit_code, missing.stderr) == (
        1,
        "lookout: error: alert_id: no such alert in this school\n",
    )
    # Only a person of the school may acknowledge (the CLI's default `--by cli` is nobody).
    nobody = await run("alerts", "ack", aid)
    assert (nobody.exit_code, nobody.stderr) == (
        1,
        "lookout: error: by_person_id: not a person of this school\n",
    )

    clock.advance(timedelta(minutes=3))
    resolved = await run("alerts", "resolve", aid, "--by", "ap-chen", "--note", "talked to them")
    assert (resolved.exit_code, resolved.stdout) == (0, f"resolved {aid}\n")

    shown = await run("alerts", "show", aid, "--by", "principal-okafor")
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    # The SSO's email may be recorded as delivered just after the ack, at the same 08:00.
    acknowledged = (
        "  2026-11-23 08:00:00 CST acknowledged ap-chen "
        "(re-triggers at Mon 23 Nov 10:00 CST unless resolved)"  # two hours on, school time
    )
    assert acknowledged in lines[-3:-1]
    assert lines[-1] == "  2026-11-23 08:03:00 CST resolved ap-chen"
    assert "  outcome note: talked to them" in lines

    after = await run("alerts", "list")
    assert after.stdout == "0 alert(s)\n"
    everything = await run("alerts", "list", "--all")
    assert everything.stdout.splitlines()[-1] == "1 alert(s)"


async def test_no_alerts_service_is_one_clear_line(nats_server: Any) -> None:
    result = await asyncio.to_thread(lookout, nats_server.url, "alerts", "list")
    assert (result.exit_code, result.stderr) == (
        1,
        "lookout: error: no alerts service answers query.lhs.alerts.list.cli at "
        f"{nats_server.url}\n",
    )
