"""The reports service against a real nats-server, a real database and a real SMTP server:
the scripted week's email is exact, it is sent once per school and week (also after a restart
between rendering and sending), `--send` of a sent week is refused, and a rebuild by replay
gives the same read model, twice."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select

from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.settings import Settings
from lookout.local.runtime import MailSink
from services.reports import domain, store
from services.reports.app import build_app, create_kernel
from tests.integration.conftest import consumer_drained, running, stream_messages, wait_until
from tests.unit.reports import scripted_week as sw
from tests.unit.reports import sensor_week

pytestmark = pytest.mark.nats

DURABLES = [("PATROL", "reports-patrol"), ("CONCERNS", "reports-concerns")]
DURABLES += [("VISITORS", "reports-visitors"), ("ALERTS", "reports-alerts")]


@pytest.fixture
def sink(tmp_path: Path) -> Any:
    mail = MailSink(tmp_path / "mail").start()
    yield mail
    mail.stop()


def settings(nats_url: str, db: str, tmp_path: Path, sink: MailSink) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_url,
        reports_db_url=db,
        timers_enabled=False,
        smtp_port=sink.port,
        reports_district_recipients="district@example.org",
        web_base_url="https://lookout.lakeside.example.org",
    )


async def publish_week(js: JetStreamContext, *, with_sensors: bool = False) -> int:
    n = 0
    streams = sw.scripted_events()
    streams["PATROL"].append(sw.published_focus())
    if with_sensors:
        streams["PATROL"] += sensor_week.sensor_events()
    for events in streams.values():
        for e in events:
            headers = {"Nats-Msg-Id": str(e.event_id)}
            await js.publish(subject_of(e), e.model_dump_json().encode(), headers=headers)
            n += 1
    return n


async def drained(js: JetStreamContext) -> bool:
    return all([await consumer_drained(js, s, d) for s, d in DURABLES])


async def request(url: str, subject: str, body: dict[str, Any]) -> Any:
    nc = await nats.connect(url)
    try:
        msg = await nc.request(subject, json.dumps(body).encode(), timeout=30)
    finally:
        await nc.close()
    return json.loads(msg.data)


async def counts(kernel: Any) -> dict[str, int]:
    async with kernel.sessions() as session:
        return {
            t.name: int(await session.scalar(select(func.count()).select_from(t)) or 0)
            for t in store.READ_MODEL
        }


def received(sink: MailSink) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sink.messages()
    ]


async def test_weekly_summary_once_across_a_restart_between_render_and_send(
    nats_server: Any, js: JetStreamContext, database_url: str, tmp_path: Path, sink: MailSink
) -> None:
    clock = ManualClock(datetime(2026, 11, 27, 21, 5, tzinfo=UTC))  # Fri 15:05 in Chicago
    s = settings(nats_server.url, database_url, tmp_path, sink)
    await ensure_streams(s)
    await publish_week(js)

    kernel = create_kernel(s, clock)
    async with running(kernel, build_app):
        await wait_until(lambda: drained(js), what="the read model to take in the week")
        preview = await request(nats_server.url, "query.lhs.reports.weekly.cli", {"week": sw.WEEK})
        assert preview["ok"], preview
        found = sw.parse_html(preview["result"]["html"])
        for key, value in (sw.EXPECTED | sw.EXPECTED_PUBLISHED_FOCUS).items():
            assert found.get(key) == value, key
        assert preview["result"]["recipients"] == [
            "a.okafor@lakeside.example.org",
            "m.chen@lakeside.example.org",
        ]
        # The timer's first half only: marks due and renders, then the process "dies".
        mailer = kernel.reports_mailer  # type: ignore[attr-defined]
        assert await mailer.mark_due() == 2  # lhs and the district roll-up
        assert await mailer.render_due() == 2
    assert sink.messages() == []

    kernel = create_kernel(s, clock)
    async with running(kernel, build_app):
        mailer = kernel.reports_mailer  # type: ignore[attr-defined]
        assert await mailer.run_once() == 2
        assert await mailer.run_once() == 0
        clock.set(datetime(2026, 11, 28, 12, tzinfo=UTC))
        assert await mailer.run_once() == 0  # a day later: still the same week, sent
        await wait_until(
            lambda: _messages_are(js, "REPORTS", 1), what="weekly_summary.sent on REPORTS"
        )
        again = await request(nats_server.url, "command.lhs.reports.send.cli", {"week": sw.WEEK})
        assert again["ok"] is False and "sent already" in again["error"]

    mails = received(sink)
    assert sorted(m["To"] for m in mails) == [
        "a.okafor@lakeside.example.org, m.chen@lakeside.example.org",
        "district@example.org",
    ]
    school_mail = next(m for m in mails if "okafor" in m["To"])
    assert school_mail["Message-ID"] == domain.message_id("lhs", sw.WEEK)
    html = school_mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    found = sw.parse_html(html)
    for key, value in (sw.EXPECTED | sw.EXPECTED_PUBLISHED_FOCUS).items():
        assert found.get(key) == value, key
    # Read as the principal reads it: the subject's dates, what needs a decision first.
    assert school_mail["Subject"] == (
        "Lookout weekly summary \u2014 Lakeside High School \u2014 week of 23 \u2013 27 Nov"
    )
    text = school_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    lines = text.splitlines()
    assert lines[:6] == [
        "Lakeside High School: weekly safety summary, week of 23 \u2013 27 Nov",
        "Covers Fri 20 Nov 2026 15:00 to Fri 27 Nov 2026 15:00 (2026-W48)",
        "Console: https://lookout.lakeside.example.org/app",
        "",
        "NEEDS YOUR ATTENTION",
        "1. Weapon concern (critical)",
    ]
    assert [line for line in lines if line[:3] in {"2. ", "3. ", "4. ", "5. ", "6. "}] == [
        "2. Conflict concern (medium)",
        "3. Bullying concern (low)",
        "4. Alert never acknowledged: the SSO's phone went silent (high)",
        "5. Follow-up missed: vaping concern",
        "6. Visitor not signed out (badge closed automatically)",
    ]
    assert "   Who has it: Morgan Chen (assistant principal)" in lines
    assert found["attention.count"] == "6"
    raw = b"".join(p.read_bytes() for p in sink.messages())
    for secret in [sw.SECRET_NOTE, *sw.STUDENTS, "1123-001"]:
        assert secret.encode() not in raw
    district = next(m for m in mails if m["To"] == "district@example.org")
    d = sw.parse_html(district.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert d["lhs.concerns"] == "5" and d["total.concerns"] == "5"
    assert d["lhs.coverage"] == "78%" and d["total.alerts.change"] == "+3"


async def _messages_are(js: JetStreamContext, stream: str, n: int) -> bool:
    return await stream_messages(js, stream) == n


async def test_rebuild_replays_every_stream_into_the_same_read_model_twice(
    nats_server: Any, js: JetStreamContext, database_url: str, tmp_path: Path, sink: MailSink
) -> None:
    clock = ManualClock(datetime(2026, 11, 27, 21, 5, tzinfo=UTC))
    s = settings(nats_server.url, database_url, tmp_path, sink)
    await ensure_streams(s)
    published = await publish_week(js, with_sensors=True)
    # An invalid message is dead-lettered live and skipped by the replay.
    await js.publish("concern.lhs.raised", b"not json")
    kernel = create_kernel(s, clock)
    async with running(kernel, build_app):
        await wait_until(lambda: drained(js), what="the read model to take in the week")
        before = await counts(kernel)
        assert before == {
            "report_patrol_facts": 18,  # 15, 2 follow-ups missed and 1 completed
            "report_windows": 13,
            "report_concerns": 7,
            "report_alerts": 5,
            "report_visitor_facts": 14,  # 13 and 1 visitor not signed out
            "report_focus": 1,
            "report_sensor_checks": 7,  # 15 events of 7 sensor alerts
        }
        html_before = (
            await request(nats_server.url, "query.lhs.reports.weekly.cli", {"week": sw.WEEK})
        )["result"]["html"]
        for _ in range(2):
            reply = await request(nats_server.url, "command.lhs.reports.rebuild.cli", {})
            assert reply["ok"], reply
            assert sum(reply["result"]["events"].values()) == published + 1
            assert await counts(kernel) == before
        html_after = (
            await request(nats_server.url, "query.lhs.reports.weekly.cli", {"week": sw.WEEK})
        )["result"]["html"]
        assert sw.parse_html(html_after) == sw.parse_html(html_before)
        sensed = {k: v for k, v in sw.parse_html(html_after).items() if k.startswith("sensors.")}
        assert sensed == sensor_week.EXPECTED_HTML


async def test_cli_preview_send_and_rebuild(
    nats_server: Any,
    js: JetStreamContext,
    tmp_path: Path,
    sink: MailSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from lookout.cli.main import app as cli

    clock = ManualClock(datetime(2026, 11, 27, 21, 5, tzinfo=UTC))
    db = f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}"
    s = settings(nats_server.url, db, tmp_path, sink)
    await ensure_streams(s)
    await publish_week(js)
    monkeypatch.setenv("LOOKOUT_NATS_URL", nats_server.url)
    monkeypatch.setenv("LOOKOUT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    async def lookout(*args: str) -> Any:
        return await asyncio.to_thread(runner.invoke, cli, list(args))

    out = tmp_path / "summary.html"
    async with running(create_kernel(s, clock), build_app):
        await wait_until(lambda: drained(js), what="the read model to take in the week")
        result = await lookout("reports", "weekly", "--week", sw.WEEK, "--out", str(out))
        assert result.exit_code == 0, result.output
        assert "(not sent yet); HTML written to" in result.output
        found = sw.parse_html(out.read_text(encoding="utf-8"))
        assert {k: found.get(k) for k in sw.EXPECTED} == sw.EXPECTED
        bad = await lookout("reports", "weekly", "--week", "2026-W60")
        assert bad.exit_code == 2 and bad.output.count("\n") == 1, bad.output
        assert "lookout: error: week:" in bad.output
        sent = await lookout("reports", "weekly", "--week", sw.WEEK, "--send")
        assert sent.exit_code == 0, sent.output
        assert f"lhs {sw.WEEK}: sent to 2 recipient(s), Message-ID <weekly-summary" in sent.output
        again = await lookout("reports", "weekly", "--week", sw.WEEK, "--send")
        assert again.exit_code == 1 and "sent already" in again.output
        rebuilt = await lookout("reports", "rebuild")
        assert rebuilt.exit_code == 0 and rebuilt.output.startswith("rebuilt: "), rebuilt.output
    assert len(sink.messages()) == 1


# --- weeks out of range: an error reply naming the field (issue 13, item 4) -------------------


async def test_weeks_out_of_range_get_an_error_reply_naming_the_field(
    nats_server: Any, database_url: str, tmp_path: Path, sink: MailSink
) -> None:
    """`weekly` and `send` for week 0001 or 9999 (date arithmetic past year 1 or 9999) are
    refused by field name, never echoing the week; the years 2000 to 2100 are weeks like any."""
    clock = ManualClock(datetime(2026, 11, 27, 21, 5, tzinfo=UTC))
    s = settings(nats_server.url, database_url, tmp_path, sink)
    error = "invalid request: week: Value error, must be a week of the years 2000 to 2100"
    async with running(create_kernel(s, clock), build_app):
        for subject, week in [
            ("query.lhs.reports.weekly.cli", "0001-W01"),
            ("query.lhs.reports.weekly.cli", "9999-W52"),
            ("query.lhs.reports.weekly.cli", "1999-W52"),
            ("query.lhs.reports.weekly.cli", "2101-W01"),
            ("command.lhs.reports.send.cli", "0001-W01"),
            ("command.lhs.reports.send.cli", "9999-W52"),
        ]:
            reply = await request(nats_server.url, subject, {"week": week})
            assert reply == {"ok": False, "error": error}, (subject, week)
            assert week[:4] not in reply["error"]
        for week in ("2000-W01", "2100-W52"):
            reply = await request(nats_server.url, "query.lhs.reports.weekly.cli", {"week": week})
            assert reply["ok"] is True, reply
            assert (reply["result"]["week"], reply["result"]["status"]) == (week, None)
    assert sink.messages() == []
