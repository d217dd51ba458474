"""Bench: from an escalation step to the principal's phone — push, text and email dispatch.

A real nats-server (embedded), the alerts service as its own process (`lookout run alerts`,
SQLite), and on this machine: the stand-in Web Push service (HTTPS; checks each push's VAPID
signature and decrypts it with the browser's keys, tests/integration/push_service.py), the
stand-in SMS provider (Twilio's REST API, tests/integration/sms_provider.py) and an SMTP sink.
The principal's rule is `critical: [push, sms, email]` (all at once), one browser subscribed.

Critical concerns one at a time, each published once the previous one's three deliveries
arrived. For each: when step 0 fired (its `alert.lhs.escalated`'s `occurred_at`: the service's
clock is the system clock, the same machine's), and when the push, the text and the email
arrived (wall clock). Reported: step → push / text / email (dispatch), and publish → each
(end to end); with a raw nats-py publish → receive round trip on the same server in the same
run as the floor.
Usage: `.venv/bin/python bench/notify_dispatch.py [--alerts 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import yaml
from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-ins live in tests/

from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import subject_of
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.local.runtime import EmbeddedNats, free_port
from lookout.school.config import Weekday
from tests.integration.push_service import PushService
from tests.integration.sms_provider import SmsProvider

PRINCIPAL = "principal-okafor"
ADDRESS = "a.okafor@lakeside.example.org"
ACTOR = {"kind": "sso_device", "id": "phone-rivera"}


class Mailbox:
    def __init__(self) -> None:
        self.arrivals: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if ADDRESS in envelope.rcpt_tos:
            self.arrivals.append(time.time())
        return "250 OK"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(name: str, ms: list[float]) -> str:
    return (
        f"{name:<28} p50 {pct(ms, 0.5):7.1f} ms   p95 {pct(ms, 0.95):7.1f} ms   "
        f"max {max(ms):7.1f} ms   (n={len(ms)})"
    )


async def raw_round_trips(url: str, n: int) -> list[float]:
    """Core NATS publish → receive on one subscriber, one at a time (the floor)."""
    nc = await nats.connect(url)
    got: asyncio.Queue[float] = asyncio.Queue()

    async def cb(msg: Any) -> None:
        got.put_nowait(time.time())

    await nc.subscribe("raw.bench", cb=cb)
    await nc.flush()
    out = []
    for _ in range(n):
        start = time.time()
        await nc.publish("raw.bench", b"{}")
        out.append((await got.get() - start) * 1000)
    await nc.close()
    return out


async def main(alerts: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    server = EmbeddedNats(store_dir=tmp / "nats").start()
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    push = PushService().start()
    sms = SmsProvider().start()
    school = yaml.safe_load(EXAMPLE_SCHOOL.read_text())
    for person in school["people"]:
        person.update(on_duty=[d.value for d in Weekday], on_duty_no_school_days=True)
        person.pop("duty_hours", None)
        if person["id"] == PRINCIPAL:
            person["notify"] = {"critical": ["push", "sms", "email"]}
    (tmp / "school.yaml").write_text(yaml.safe_dump(school))
    env = dict(os.environ) | {
        "LOOKOUT_NATS_URL": server.url, "LOOKOUT_DATA_DIR": str(tmp),
        "LOOKOUT_SCHOOLS": str(tmp / "school.yaml"), "LOOKOUT_SMTP_PORT": str(smtp.port),
        "LOOKOUT_LOG_LEVEL": "WARNING", "LOOKOUT_SMS_API_URL": sms.url,
        "LOOKOUT_SMS_ACCOUNT_SID": sms.account_sid, "LOOKOUT_SMS_AUTH_TOKEN": sms.auth_token,
        "LOOKOUT_SMS_FROM": sms.number, "SSL_CERT_FILE": push.ca_file,
    }  # fmt: skip
    await ensure_streams(Settings(nats_url=server.url))
    service = _run_alerts(env, tmp / "alerts.log")
    nc = await nats.connect(server.url)
    js = nc.jetstream()
    try:
        browser = push.subscription()
        body = {"endpoint": browser["endpoint"], **browser["keys"]}
        while True:  # until the service answers (it is starting)
            try:
                reply = await nc.request(
                    f"command.lhs.alerts.push_subscribe.{PRINCIPAL}",
                    json.dumps(body).encode(),
                    timeout=2,
                )
                assert json.loads(reply.data)["ok"], reply.data
                break
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                await asyncio.sleep(0.2)
        steps: list[float] = []  # when each step fired: its alert.escalated's occurred_at
        notices: list[float] = []  # when the principal's notify subject arrived

        async def escalated(msg: Any) -> None:
            steps.append(datetime.fromisoformat(json.loads(msg.data)["occurred_at"]).timestamp())

        async def notified(msg: Any) -> None:
            notices.append(time.time())

        await nc.subscribe("alert.lhs.escalated", cb=escalated)
        await nc.subscribe(f"alert.lhs.notify.{PRINCIPAL}", cb=notified)
        published: list[float] = []
        for i in range(alerts + 3):  # 3 to warm up
            event = ConcernRaised.new(
                school_id="lhs", occurred_at=datetime.now(UTC), actor=ACTOR,
                concern_id=uuid.uuid4(), category="weapon", severity="critical", zone_id="gym",
                student_refs=["S-104233"], note="bench",
            )  # fmt: skip
            published.append(time.time())
            await js.publish(subject_of(event), event.model_dump_json().encode())
            deadline = time.time() + 60
            while (
                min(map(len, (push.received, sms.messages, mailbox.arrivals, steps, notices))) <= i
            ):
                if time.time() > deadline:
                    raise SystemExit(
                        f"alert {i}: push {len(push.received)}, sms {len(sms.messages)}, "
                        f"email {len(mailbox.arrivals)}; refused {push.refused} {sms.refused}; "
                        f"log {tmp / 'alerts.log'}"
                    )
                await asyncio.sleep(0.001)
        raw = await raw_round_trips(server.url, alerts)
    finally:
        await nc.close()
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=30)
        push.stop()
        sms.stop()
        smtp.stop()
        server.stop()
    w = slice(3, None)

    def ms(arrived: list[float], since: list[float]) -> list[float]:
        return [(a - s) * 1000 for a, s in zip(arrived[w], since[w], strict=True)]

    pushes = [r.received_at for r in push.received]
    texts = [m.received_at for m in sms.messages]
    print(f"{alerts} critical alerts, one at a time; alerts service as its own process, SQLite")
    print(line("raw nats-py pub -> sub", raw))
    print(line("publish -> step fired", ms(steps, published)))
    print(line("publish -> notify subject", ms(notices, published)))
    print(line("step -> push received", ms(pushes, steps)))
    print(line("step -> text received", ms(texts, steps)))
    print(line("step -> email received", ms(mailbox.arrivals, steps)))
    print(line("publish -> push received", ms(pushes, published)))
    print(line("publish -> text received", ms(texts, published)))
    print(line("publish -> email received", ms(mailbox.arrivals, published)))
    print(f"mean step -> push {statistics.mean(ms(pushes, steps)):.1f} ms")


def _run_alerts(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "lookout.cli", "run", "alerts"], env=env,
            stdout=subprocess.DEVNULL, stderr=out,
        )  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=50)
    asyncio.run(main(parser.parse_args().alerts))
