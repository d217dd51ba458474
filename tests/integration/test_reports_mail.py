"""Sending weekly summaries against a real SMTP server, without NATS: an unreachable server is
retried with backoff and reported in the send mark (never dropped); the retry sends the same
stored message; a permanent refusal fails the mark and `send_now` tries again."""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lookout.contracts.patrol import CheckWindowClosed
from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings, load_school
from lookout.kernel.storage import Outbox, make_engine, make_sessionmaker, upgrade_database
from lookout.local.runtime import MailSink, free_port
from services.reports import domain, store
from services.reports.app import MIGRATIONS
from services.reports.handlers import ReportHandlers
from services.reports.mailer import WeeklyMailer

WEEK = "2026-W49"
DUE = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)  # Fri 15:00 in Chicago


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Any]:
    engine = make_engine(database_url)
    await upgrade_database(engine, MIGRATIONS, store.SERVICE)
    yield make_sessionmaker(engine)
    await engine.dispose()


def mailer(sessions: Any, clock: ManualClock, port: int) -> WeeklyMailer:
    school = load_school(EXAMPLE_SCHOOL)
    s = Settings(smtp_port=port, reports_focus_wait_seconds=0, timers_enabled=False)
    return WeeklyMailer({school.id: school}, sessions, clock, s, Outbox(store.outbox))


async def started(sessions: Any) -> None:
    """One closed check window on Wed 2 Dec: the school had started before W49's moment (a
    fresh install sends nothing for a week before its first event)."""
    school = load_school(EXAMPLE_SCHOOL)
    end = datetime(2026, 12, 2, 14, 42, tzinfo=UTC)
    window = CheckWindowClosed.new(
        school_id="lhs",
        occurred_at=end,
        actor={"kind": "service", "id": "patrol"},
        zone_id="bath-1n-boys",
        window_start=end - timedelta(minutes=7),
        window_end=end,
        outcome="checked",
    )
    async with sessions.begin() as session:
        await ReportHandlers({school.id: school}).apply_patrol(session, [window])


async def mark(sessions: Any) -> Any:
    async with sessions() as session:
        return (await session.execute(select(store.sends))).one()


async def test_unreachable_smtp_is_retried_with_backoff_then_sent_once(
    sessions: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await started(sessions)
    clock = ManualClock(DUE)
    port = free_port()
    m = mailer(sessions, clock, port)
    m.summaries.district_recipients = lambda: []  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="lookout.reports.mailer"):
        await m.run_once()  # rendered, and the send fails: nothing listens on the port
    row = await mark(sessions)
    assert (row.scope, row.week, row.state, row.attempts) == ("lhs", WEEK, "rendered", 1)
    assert row.last_error == "SMTPConnectError"
    assert row.due_at == DUE + timedelta(minutes=1)
    assert "event=weekly_summary_retry scope=lhs week=2026-W49 attempt=1" in caplog.text
    first_message = row.message

    clock.advance(timedelta(seconds=59))
    assert await m.send_due() == 0  # backoff not over
    sink = MailSink(tmp_path / "mail", port=port).start()
    try:
        clock.advance(timedelta(seconds=1))
        assert await m.send_due() == 1
        clock.advance(timedelta(hours=2))
        assert await m.run_once() == 0
    finally:
        sink.stop()
    row = await mark(sessions)
    assert (row.state, row.attempts, row.due_at, row.message) == ("sent", 2, None, first_message)
    [path] = sink.messages()
    assert path.read_bytes().replace(b"\r\n", b"\n") == first_message.replace(b"\r\n", b"\n")
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["Message-ID"] == domain.message_id("lhs", WEEK)
    async with sessions() as session:
        out = (await session.execute(select(store.outbox))).all()
    assert [o.subject for o in out] == ["report.lhs.weekly_summary.sent"]


class Refusing(MailSink):
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, _o: Any):  # type: ignore[no-untyped-def]
        return "550 5.1.1 no such mailbox"


async def test_a_permanent_refusal_fails_the_mark_and_send_now_retries(
    sessions: Any, tmp_path: Path
) -> None:
    await started(sessions)
    clock = ManualClock(DUE)
    refusing = Refusing(tmp_path / "refused").start()
    try:
        m = mailer(sessions, clock, refusing.port)
        await m.run_once()
    finally:
        refusing.stop()
    rows = {r.scope: r for r in await _rows(sessions)}
    assert rows["lhs"].state == "failed" and rows["lhs"].attempts == 1
    assert rows["lhs"].last_error == "SMTPRecipientsRefused"
    sink = MailSink(tmp_path / "mail", port=refusing.port).start()
    try:
        row = await m.send_now("lhs", WEEK)
        assert (row.state, row.attempts) == ("sent", 1)
        again = await m.send_now("lhs", WEEK)
        assert again.state == "sent"
    finally:
        sink.stop()
    assert len(sink.messages()) == 1


async def _rows(sessions: Any) -> list[Any]:
    async with sessions() as session:
        return list(await session.execute(select(store.sends)))
