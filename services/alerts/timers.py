"""The alerts service's timers: escalation steps (`alerts.next_step_at`) and emails
(`alert_emails.due_at`), each driven by a loop that wakes at its next deadline.

Escalation steps are fired by a kernel `Ticker` module that claims due alerts with
`claim_due` (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and fires them in the claiming
transaction, so two replicas never fire one step twice.

Email is sent outside any transaction: the mailer (1) claims due rows and leases them
(`status=sending`, `due_at` = end of the lease) and commits, (2) talks SMTP, (3) records each
outcome on the timeline and as `alert.<school>.notified`. A crash before (1) commits sends
nothing; a crash after (2) and before (3) lets the lease expire and the email is sent again:
delivery is at least once, and the repeat carries the same Message-ID so mail systems that
de-duplicate by Message-ID show it once.
"""

from __future__ import annotations

import email.utils
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.alerts import (
    AlertNotified,
    AlertStatus,
    NotificationChannel,
    NotificationOutcome,
)
from lookout.contracts.patrol import Severity
from lookout.kernel.action_links import AckLinks
from lookout.kernel.background import BackgroundLoop
from lookout.kernel.clock import Clock
from lookout.kernel.settings import Settings
from lookout.kernel.smtp import send_mail
from lookout.kernel.storage import Outbox, lock_for_write
from lookout.kernel.ticker import claim_due
from lookout.school.config import SchoolConfig
from lookout.school.permissions import may_request
from lookout.school.words import moment_at_school as at_school
from services.alerts import domain
from services.alerts.escalation import ACTOR, Escalator
from services.alerts.store import (
    SERVICE,
    AlertRepository,
    PendingWrites,
    alert_emails,
    alerts,
    row_to_alert,
)

log = logging.getLogger("lookout.alerts.timers")
DIGEST_NAMESPACE = uuid.UUID("3f0b8e59-2a51-4c1e-9d7e-5b8d2f6c9a10")


class EscalationTimers:
    """Ticker module: fire every alert whose `next_step_at` is due."""

    name = "escalations"

    def __init__(self, escalator: Escalator, limit: int = 200) -> None:
        self.escalator = escalator
        self.limit = limit

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        # On SQLite, be the writer before claiming: an ack or resolve committed between the
        # claim and the flush would otherwise be overwritten by the state the claim read.
        await lock_for_write(session, alerts)
        stmt = claim_due(session, alerts, alerts.c.next_step_at, now, limit=self.limit)
        rows = (await session.execute(stmt)).all()
        writes = PendingWrites()
        for row in rows:
            await self.escalator.fire(session, row_to_alert(row), now, writes)
        await writes.flush(session, self.escalator.outbox, now)
        return len(rows)


class DayEndResolutions:
    """Ticker module: alerts that end with their day (a zone's missed checks) resolve by
    themselves at their `auto_resolve_at` if nobody resolved them."""

    name = "day_end_resolutions"

    def __init__(self, escalator: Escalator, limit: int = 200) -> None:
        self.escalator = escalator
        self.limit = limit

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        await lock_for_write(session, alerts)
        unresolved = alerts.c.status != AlertStatus.RESOLVED.value
        stmt = claim_due(
            session, alerts, alerts.c.auto_resolve_at, now, unresolved, limit=self.limit
        )
        rows = (await session.execute(stmt)).all()
        for row in rows:
            await self.escalator.resolve(
                session, row_to_alert(row), SERVICE, "school day ended", now
            )
        return len(rows)


class OutcomeNotePurge:
    """Ticker module: once the school's `student_records_retention_days` have passed since an
    alert was resolved, its outcome note (which may concern students) is erased; the alert's
    facts and timeline stay. Each alert once (`purged_at`)."""

    name = "outcome_note_purge"

    def __init__(self, schools: Mapping[str, SchoolConfig], limit: int = 500) -> None:
        self.schools = schools
        self.limit = limit

    async def fire_due(self, session: AsyncSession, now: datetime) -> int:
        purged = 0
        for school in self.schools.values():
            due = claim_due(
                session, alerts, alerts.c.resolved_at, school.student_records_cutoff(now),
                alerts.c.school_id == school.id, alerts.c.purged_at.is_(None), limit=self.limit,
            )  # fmt: skip
            ids = [r.alert_id for r in (await session.execute(due)).all()]
            if ids:
                await session.execute(
                    update(alerts)
                    .where(alerts.c.alert_id.in_(ids))
                    .values(resolution_note=None, purged_at=now)
                )
            purged += len(ids)
        return purged


@dataclass(frozen=True)
class MailPolicy:
    per_person_limit: int = 6  # emails per person per window (critical alerts are exempt)
    window: timedelta = timedelta(minutes=30)
    max_attempts: int = 3
    lease: timedelta = timedelta(minutes=5)
    batch: int = 50
    smtp_timeout_seconds: float = 15.0


@dataclass(frozen=True)
class _Claimed:
    """One email to send: a single alert's, or a digest of several deferred ones."""

    ids: tuple[int, ...]
    notification_id: str
    alert_ids: tuple[str, ...]
    school_id: str
    person_id: str
    address: str
    subject: str
    body: str
    attempts: int


@dataclass(frozen=True)
class _Sent:
    """What the timeline and the `notified` event of one alert need."""

    alert_id: str
    school_id: str
    person_id: str


class Mailer:
    """Sends the emails escalation steps queued, with retries and a per-person rate limit.

    Over the limit, a low or medium email is deferred (`status=deferred`, due when the window
    allows one more) and every deferred email of that person then goes out as one digest; high
    and critical ones are always sent at once. Nothing is dropped by the limit."""

    name = "emails"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        outbox: Outbox,
        policy: MailPolicy | None = None,
        schools: Mapping[str, SchoolConfig] | None = None,
        ack_links: AckLinks | None = None,
    ) -> None:
        self.ack_links = ack_links  # a digest's alerts carry acknowledge links
        self.sessions = sessions
        self.clock = clock
        self.settings = settings
        self.outbox = outbox
        self.policy = policy or MailPolicy()
        self.schools = schools or {}

    async def run_once(self) -> int:
        """Claim due emails, send them, record the outcomes; returns how many were claimed."""
        claimed, handled = await self._claim()
        results = [(c, await self._send(c)) for c in claimed]
        if results:
            await self._record(results)
        return handled

    async def _claim(self) -> tuple[list[_Claimed], int]:
        p = self.policy
        now = self.clock.now()
        to_send: list[_Claimed] = []
        async with self.sessions.begin() as session:
            await lock_for_write(session, alert_emails)
            stmt = claim_due(session, alert_emails, alert_emails.c.due_at, now, limit=p.batch)
            rows = (await session.execute(stmt)).all()
            repo = AlertRepository(session)
            sent: dict[str, int] = {}
            digests: dict[str, list[Any]] = {}
            events = []
            for row in rows:
                if row.person_id not in sent:
                    sent[row.person_id] = await repo.emails_delivered_since(
                        row.person_id, now - p.window
                    )
                if row.status == "deferred":
                    digests.setdefault(row.person_id, []).append(row)
                    continue
                # A row reclaimed after a lost lease was already let through the limit.
                if row.attempts == 0 and domain.is_rate_limited(
                    Severity(row.severity), sent[row.person_id], p.per_person_limit
                ):
                    until = await self._window_allows(repo, row.person_id, now)
                    await session.execute(
                        update(alert_emails)
                        .where(alert_emails.c.id == row.id)
                        .values(status="deferred", due_at=until)
                    )
                    await self._timeline(
                        repo, row, now, NotificationOutcome.RATE_LIMITED,
                        f"over {p.per_person_limit} emails in {p.window}; deferred to a digest "
                        f"at {at_school(until, self.schools.get(row.school_id))}",
                    )  # fmt: skip
                    events.append(self._event(row, now, NotificationOutcome.RATE_LIMITED))
                    continue
                sent[row.person_id] += 1
                to_send.append(self._lease_one(row))
            for person_id, deferred in digests.items():
                if sent[person_id] >= p.per_person_limit:
                    until = await self._window_allows(repo, person_id, now)
                    await session.execute(
                        update(alert_emails)
                        .where(alert_emails.c.id.in_([r.id for r in deferred]))
                        .values(due_at=until)
                    )
                    continue
                sent[person_id] += 1
                to_send.append(self._digest(deferred))
            for c in to_send:
                await session.execute(
                    update(alert_emails)
                    .where(alert_emails.c.id.in_(c.ids))
                    .values(
                        status="sending",
                        attempts=c.attempts,
                        due_at=now + p.lease,
                        digest_of=c.notification_id if len(c.ids) > 1 else None,
                    )
                )
            await self.outbox.add(session, events, now)
        return to_send, len(rows)

    async def _window_allows(
        self, repo: AlertRepository, person_id: str, now: datetime
    ) -> datetime:
        """When this person's window first holds fewer emails than the limit again."""
        oldest = await repo.oldest_delivered_since(person_id, now - self.policy.window)
        return (oldest or now) + self.policy.window

    @staticmethod
    def _lease_one(row: Any) -> _Claimed:
        return _Claimed(
            (row.id,),
            row.notification_id,
            (row.alert_id,),
            row.school_id,
            row.person_id,
            row.address,
            row.subject,
            row.body,
            row.attempts + 1,
        )

    def _digest(self, rows: list[Any]) -> _Claimed:
        first = rows[0]
        school = self.schools.get(first.school_id)
        person = (
            next((p for p in school.people if p.id == first.person_id), None) if school else None
        )
        links: dict[str, str] = {}
        if self.ack_links and person and may_request(person.roles, "command", "alerts"):
            now = self.clock.now()
            links = {
                r.alert_id: self.ack_links.url(r.school_id, uuid.UUID(r.alert_id), r.person_id, now)
                for r in rows
            }
        subject, body = domain.render_digest(
            school.name if school else first.school_id,
            [(r.alert_id, r.subject) for r in rows],
            links,
        )
        return _Claimed(
            tuple(r.id for r in rows),
            str(uuid.uuid5(DIGEST_NAMESPACE, first.notification_id)),  # stable across retries
            tuple(r.alert_id for r in rows),
            first.school_id,
            first.person_id,
            rows[-1].address,
            subject,
            body,
            max(r.attempts for r in rows) + 1,
        )

    async def _send(self, c: _Claimed) -> BaseException | None:
        s = self.settings
        msg = EmailMessage()
        msg["From"] = s.smtp_sender
        msg["To"] = c.address
        msg["Subject"] = c.subject
        msg["Date"] = email.utils.format_datetime(self.clock.now())
        msg["Message-ID"] = f"<{c.notification_id}@lookout.{c.school_id}>"
        msg.set_content(c.body)
        return await send_mail(s, msg, self.policy.smtp_timeout_seconds)

    async def _record(self, results: list[tuple[_Claimed, BaseException | None]]) -> None:
        now = self.clock.now()
        async with self.sessions.begin() as session:
            repo = AlertRepository(session)
            events = []
            for c, error in results:
                # Only if the lease is still ours: a replica may have taken over an expired one.
                mine = alert_emails.c.id.in_(c.ids) & (alert_emails.c.attempts == c.attempts)
                if error is None:
                    values: dict[str, Any] = {"status": "delivered", "due_at": None}
                    values["done_at"] = now
                    outcome, detail = NotificationOutcome.DELIVERED, f"attempt {c.attempts}"
                else:
                    retry = c.attempts < self.policy.max_attempts and not _permanent(error)
                    why = _describe(error)
                    values = {"last_error": why[:200]}
                    if retry:
                        values |= {"status": "pending"}
                        values["due_at"] = now + domain.email_retry_delay(c.attempts)
                    else:
                        values |= {"status": "failed", "due_at": None, "done_at": now}
                    outcome = NotificationOutcome.FAILED
                    detail = f"attempt {c.attempts}: {why}; " + (
                        "will retry" if retry else "gave up"
                    )
                if len(c.ids) > 1:
                    detail = f"digest of {len(c.ids)}, " + detail
                result = await session.execute(update(alert_emails).where(mine).values(**values))
                if result.rowcount == 0:  # type: ignore[attr-defined]
                    continue
                for alert_id in c.alert_ids:
                    one = _Sent(alert_id, c.school_id, c.person_id)
                    await self._timeline(repo, one, now, outcome, detail)
                    events.append(self._event(one, now, outcome))
            await self.outbox.add(session, events, now)

    @staticmethod
    async def _timeline(
        repo: AlertRepository, row: Any, now: datetime, outcome: NotificationOutcome, detail: str
    ) -> None:
        await repo.timeline(
            uuid.UUID(row.alert_id),
            now,
            "notified",
            person_id=row.person_id,
            channel="email",
            outcome=outcome.value,
            detail=detail[:500],
        )

    @staticmethod
    def _event(row: Any, now: datetime, outcome: NotificationOutcome) -> AlertNotified:
        return AlertNotified.new(
            school_id=row.school_id,
            occurred_at=now,
            actor=ACTOR,
            alert_id=row.alert_id,
            person_id=row.person_id,
            channel=NotificationChannel.EMAIL,
            outcome=outcome,
        )


def _permanent(exc: BaseException) -> bool:
    """5xx replies (unknown mailbox, refused sender) will not get better by retrying."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in exc.recipients)
    code = getattr(exc, "code", None)
    return isinstance(code, int) and 500 <= code < 600


def _describe(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}" + (f" {code}" if isinstance(code, int) and code > 0 else "")


class DeadlineLoop(BackgroundLoop):
    """Runs `fire` when something is due: at the next deadline, at once when a batch was full
    or after `wake()`, and at least every `interval` seconds (real time)."""

    def __init__(
        self,
        name: str,
        fire: Callable[[], Awaitable[int]],
        next_deadline: Callable[[], Awaitable[datetime | None]],
        clock: Clock,
        interval: float,
        full: int,
    ) -> None:
        super().__init__(f"alerts-{name}", self._pass, interval)
        self.fire = fire
        self.next_deadline = next_deadline
        self.clock = clock
        self.interval = interval
        self.full = full

    async def _pass(self) -> float:
        return await self.seconds_to_wait(await self.fire())

    async def seconds_to_wait(self, done: int) -> float:
        if done >= self.full:
            return 0.0  # a full batch: more may be due right now
        deadline = await self.next_deadline()
        if deadline is None:
            return self.interval
        # Simulated clocks run faster than the wall clock: wait their real-time equivalent.
        speed = float(getattr(self.clock, "speed", 1.0))
        wait = (deadline - self.clock.now()).total_seconds() / speed
        if wait <= 0:
            # Due but not claimed by us (another replica holds it, or firing failed): back off.
            return min(self.interval, 0.05) if done == 0 else 0.0
        return min(wait, self.interval)
