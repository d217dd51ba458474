"""Email through a real SMTP server (aiosmtpd): delivery, retries, permanent failures, the
per-person rate limit, and what a crash between sending and recording does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from lookout.local.runtime import free_port
from services.alerts import store
from services.alerts.app import create_kernel
from services.alerts.escalation import Escalator
from services.alerts.handlers import AlertHandlers
from services.alerts.timers import Mailer, MailPolicy
from tests.unit.alerts.conftest import FROZEN_SCHOOL, SmtpSink
from tests.unit.alerts.test_engine import NOTE, STUDENT, T0, concern


@dataclass
class Mail:
    kernel: ServiceKernel
    clock: ManualClock
    mailer: Mailer

    async def raise_(self, *events: Any) -> None:
        handlers = AlertHandlers(Escalator(self.kernel.schools, self.kernel.outbox), self.clock)
        async with self.kernel.sessions.begin() as session:
            await handlers.raise_alerts(session, events)

    async def emails(self) -> list[dict[str, Any]]:
        async with self.kernel.sessions() as session:
            rows = await session.execute(
                select(store.alert_emails).order_by(store.alert_emails.c.id)
            )
            return [dict(r._mapping) for r in rows]

    async def attempts(self) -> list[tuple[str | None, str | None, str | None]]:
        t = store.alert_timeline
        async with self.kernel.sessions() as session:
            rows = await session.execute(
                select(t).where(t.c.channel == "email", t.c.outcome != "queued").order_by(t.c.id)
            )
            return [(r.person_id, r.outcome, r.detail) for r in rows]

    async def notified_events(self) -> list[tuple[str, str, str]]:
        async with self.kernel.sessions() as session:
            rows = await session.execute(select(store.outbox).order_by(store.outbox.c.id))
            found = []
            for r in rows:
                payload = json.loads(r.payload)
                if payload["type"] == "alert.notified":
                    found.append((payload["person_id"], payload["channel"], payload["outcome"]))
            return found


def make_mail(url: str, tmp_path: Path, port: int, policy: MailPolicy | None = None) -> Mail:
    clock = ManualClock(T0)
    settings = Settings(
        data_dir=tmp_path,
        nats_url="nats://127.0.0.1:1",
        alerts_db_url=url,
        smtp_port=port,
        schools=str(FROZEN_SCHOOL),
    )
    kernel = create_kernel(settings, clock)
    return Mail(kernel, clock, Mailer(kernel.sessions, clock, settings, kernel.outbox, policy))


@pytest.fixture
async def mail(alerts_db: str, tmp_path: Path, smtp_sink: SmtpSink) -> AsyncIterator[Mail]:
    m = make_mail(alerts_db, tmp_path, smtp_sink.port)
    yield m
    await m.kernel.engine.dispose()


async def test_an_escalation_email_arrives_with_no_student_reference_or_note(
    mail: Mail, smtp_sink: SmtpSink
) -> None:
    await mail.raise_(concern("critical", "weapon"))
    assert await mail.mailer.run_once() == 2

    by_to = {m["To"]: m for m in smtp_sink.messages}
    assert sorted(by_to) == ["a.okafor@lakeside.example.org", "d.rivera@lakeside.example.org"]
    message = by_to["a.okafor@lakeside.example.org"]
    assert message["Subject"] == (
        "[Lookout] CRITICAL alert: weapon at 1st floor north boys' bathroom"
    )
    assert message["From"] == "lookout@localhost"
    rows = await mail.emails()
    okafor = next(r for r in rows if r["person_id"] == "principal-okafor")
    assert message["Message-ID"] == f"<{okafor['notification_id']}@lookout.lhs>"
    body = message.get_content()
    assert f"lookout alerts ack {okafor['alert_id']} --by principal-okafor" in body
    for m in smtp_sink.messages:
        text = m.as_string()
        assert STUDENT not in text and "Jordan" not in text and NOTE not in text

    assert [(r["status"], r["attempts"], r["due_at"], r["done_at"]) for r in rows] == [
        ("delivered", 1, None, T0),
        ("delivered", 1, None, T0),
    ]
    assert await mail.attempts() == [
        ("sso-rivera", "delivered", "attempt 1"),
        ("principal-okafor", "delivered", "attempt 1"),
    ]
    assert await mail.notified_events() == [
        ("sso-rivera", "email", "delivered"),
        ("principal-okafor", "email", "delivered"),
    ]
    assert await mail.mailer.run_once() == 0  # nothing sent twice


async def test_smtp_down_is_retried_after_1_and_5_minutes_then_given_up(
    alerts_db: str, tmp_path: Path
) -> None:
    mail = make_mail(alerts_db, tmp_path, free_port())  # nothing listens there
    try:
        await mail.raise_(concern())
        assert await mail.mailer.run_once() == 1
        (row,) = await mail.emails()
        assert (row["status"], row["attempts"], row["due_at"]) == (
            "pending",
            1,
            T0 + timedelta(minutes=1),
        )
        mail.clock.advance(timedelta(seconds=59))
        assert await mail.mailer.run_once() == 0
        mail.clock.advance(timedelta(seconds=1))
        assert await mail.mailer.run_once() == 1
        mail.clock.advance(timedelta(minutes=5))
        assert await mail.mailer.run_once() == 1
        (row,) = await mail.emails()
        assert (row["status"], row["attempts"], row["due_at"]) == ("failed", 3, None)
        assert row["last_error"] == "SMTPConnectError"
        assert await mail.attempts() == [
            ("sso-rivera", "failed", "attempt 1: SMTPConnectError; will retry"),
            ("sso-rivera", "failed", "attempt 2: SMTPConnectError; will retry"),
            ("sso-rivera", "failed", "attempt 3: SMTPConnectError; gave up"),
        ]
        assert await mail.notified_events() == [("sso-rivera", "email", "failed")] * 3
    finally:
        await mail.kernel.engine.dispose()


async def test_a_refused_mailbox_is_not_retried(mail: Mail, smtp_sink: SmtpSink) -> None:
    smtp_sink.refuse.add("d.rivera@lakeside.example.org")
    await mail.raise_(concern())
    assert await mail.mailer.run_once() == 1
    (row,) = await mail.emails()
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert await mail.attempts() == [
        ("sso-rivera", "failed", "attempt 1: SMTPRecipientsRefused; gave up")
    ]
    assert smtp_sink.messages == []


async def test_over_the_limit_low_emails_wait_for_one_digest_and_high_ones_go_at_once(
    alerts_db: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    mail = make_mail(alerts_db, tmp_path, smtp_sink.port, MailPolicy(per_person_limit=2))
    to_sso = "d.rivera@lakeside.example.org"
    try:
        await mail.raise_(concern(), concern(), concern())  # three low alerts, each to the SSO
        assert await mail.mailer.run_once() == 3
        assert [r["status"] for r in await mail.emails()] == ["delivered", "delivered", "deferred"]
        deferred = (await mail.emails())[2]
        assert deferred["due_at"] == T0 + timedelta(minutes=30)  # the window allows one then
        # Decided when claimed, so recorded before the two sends' outcomes.
        assert await mail.attempts() == [
            (
                "sso-rivera",
                "rate_limited",
                # The mailer here has no school file: the time is in UTC, and says so.
                "over 2 emails in 0:30:00; deferred to a digest at Mon 23 Nov 14:30 UTC",
            ),
            ("sso-rivera", "delivered", "attempt 1"),
            ("sso-rivera", "delivered", "attempt 1"),
        ]
        # A high alert is never held back by the limit.
        await mail.raise_(concern("high"))
        assert await mail.mailer.run_once() == 1
        assert [m["To"] for m in smtp_sink.messages].count(to_sso) == 3
        # Another low one a minute later waits for the same digest.
        mail.clock.advance(timedelta(minutes=1))
        await mail.raise_(concern())
        assert await mail.mailer.run_once() == 1
        assert (await mail.emails())[-1]["status"] == "deferred"
        assert (await mail.emails())[-1]["due_at"] == T0 + timedelta(minutes=30)

        mail.clock.advance(timedelta(minutes=28, seconds=59))
        assert await mail.mailer.run_once() == 0  # not yet
        mail.clock.advance(timedelta(seconds=1))  # T0 + 30 min: the first three left the window
        assert await mail.mailer.run_once() == 2
        assert [m["To"] for m in smtp_sink.messages].count(to_sso) == 4  # one digest for two
        digest = smtp_sink.messages[-1]
        assert digest["Subject"] == "[Lookout] 2 alerts held back by your email limit"
        assert [r["status"] for r in await mail.emails()] == ["delivered"] * 5
        assert (await mail.attempts())[-2:] == [
            ("sso-rivera", "delivered", "digest of 2, attempt 1"),
            ("sso-rivera", "delivered", "digest of 2, attempt 1"),
        ]
    finally:
        await mail.kernel.engine.dispose()


async def test_a_crash_after_sending_resends_once_the_lease_expires_with_the_same_message_id(
    mail: Mail, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    await mail.raise_(concern())

    async def crash(*_: Any) -> None:
        raise RuntimeError("killed between SMTP and the database")

    with monkeypatch.context() as m:
        m.setattr(mail.mailer, "_record", crash)
        with pytest.raises(RuntimeError):
            await mail.mailer.run_once()
    assert len(smtp_sink.messages) == 1
    (row,) = await mail.emails()
    assert (row["status"], row["due_at"]) == ("sending", T0 + timedelta(minutes=5))

    mail.clock.advance(timedelta(minutes=4, seconds=59))
    assert await mail.mailer.run_once() == 0  # still leased: no second send yet
    mail.clock.advance(timedelta(seconds=1))
    assert await mail.mailer.run_once() == 1
    first, second = smtp_sink.messages
    assert first["Message-ID"] == second["Message-ID"]  # at least once, recognisably the same
    assert await mail.attempts() == [("sso-rivera", "delivered", "attempt 2")]
