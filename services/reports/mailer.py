"""Weekly summaries: building them from the read model, and sending each exactly once.

A week's email is a `report_sends` row (`scope` = school id or `_district`, `week`), created
when its report moment has passed and worked by `run_once` outside any long transaction:

1. `pending` (due at the report moment): the summary is rendered and the whole MIME message,
   with its Message-ID fixed per (scope, week), is stored in the row → `rendered`.
2. `rendered` (due now, or at the next retry): leased (`sending`, attempts+1, due at the end
   of the lease) and committed; then handed to SMTP.
3. accepted → `sent`, and `report.<school>.weekly_summary.sent` goes to the outbox in the same
   transaction. Refused or unreachable → back to `rendered`, due after a backoff, the error in
   `last_error` and the log; after the last attempt → `failed` (logged as an error; the row
   stays for `lookout reports weekly --send` to retry).

A crash after (1) re-sends the stored message, never a second rendering: one message. A crash
between SMTP accepting the message and the commit of (3) — milliseconds — lets the lease expire
and the same bytes, with the same Message-ID, are sent again: that window is at least once;
mail systems that de-duplicate by Message-ID show it once. Replicas never send a row twice at
the same time: claims use `FOR UPDATE SKIP LOCKED` and a lease; outcomes are recorded only by
the holder of the current attempt.
"""

from __future__ import annotations

import email
import email.policy
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.envelope import Actor, ActorKind
from lookout.contracts.patrol import WindowOutcome
from lookout.contracts.reports import WeeklySummarySent
from lookout.kernel.background import BackgroundLoop
from lookout.kernel.clock import Clock
from lookout.kernel.settings import Settings
from lookout.kernel.smtp import send_mail
from lookout.kernel.storage import Outbox
from lookout.kernel.ticker import claim_due
from lookout.school.config import Role, SchoolConfig
from services.reports import domain, render
from services.reports.store import (
    SERVICE,
    ReportRepository,
    concerns,
    patrol_facts,
    sends,
    windows,
)

log = logging.getLogger("lookout.reports.mailer")
ACTOR = Actor(kind=ActorKind.SERVICE, id=SERVICE)
SENT_NAMESPACE = uuid.UUID("6f1d6c1e-5d0e-4c59-9f43-3c1a1f0b7a21")
TREND_WEEKS = 8


@dataclass(frozen=True)
class MailPolicy:
    max_attempts: int = 6
    lease: timedelta = timedelta(minutes=5)
    first_retry: timedelta = timedelta(minutes=1)
    max_retry: timedelta = timedelta(hours=1)
    smtp_timeout_seconds: float = 30.0


def retry_delay(policy: MailPolicy, attempts: int) -> timedelta:
    """1 min, 4 min, 16 min… capped at an hour."""
    return min(policy.first_retry * 4 ** max(attempts - 1, 0), policy.max_retry)


class Summaries:
    """Builds and renders a school's (or the district's) weekly summary from the read model."""

    def __init__(self, schools: Mapping[str, SchoolConfig], settings: Settings) -> None:
        self.schools = schools
        self.settings = settings

    async def summary(
        self, session: AsyncSession, school: SchoolConfig, week: str
    ) -> domain.WeeklySummary:
        repo = ReportRepository(session)
        next_week = domain.shift_week(week, 1)
        start, end = domain.summary_span(school, week)
        facts = await repo.week_facts(school.id, start, end, focus_week=next_week)
        p_start, p_end = domain.summary_span(school, domain.shift_week(week, -1))
        previous = await repo.week_facts(school.id, p_start, p_end, focus_week=week)
        h_start, h_end, _ = domain.hotspot_span(school, next_week)
        h_concerns, h_observations = await repo.hotspot_facts(school.id, h_start, h_end)
        trend = await self.trend(session, school, week)
        return domain.summarize(school, week, facts, previous, h_concerns, h_observations, trend)

    async def trend(
        self, session: AsyncSession, school: SchoolConfig, week: str
    ) -> list[tuple[str, int, int, int | None]]:
        """(week, concerns raised, preventive contacts, coverage %) for the last 8 weeks."""
        out = []
        for back in range(TREND_WEEKS - 1, -1, -1):
            w = domain.shift_week(week, -back)
            start, end = domain.summary_span(school, w)
            c, f, win = concerns.c, patrol_facts.c, windows.c
            raised = await session.scalar(
                select(func.count()).where(
                    c.school_id == school.id, c.raised_at >= start, c.raised_at < end
                )
            )
            preventive = await session.scalar(
                select(func.count()).where(
                    f.school_id == school.id,
                    f.kind == "contact",
                    f.category.in_([k.value for k in domain.PREVENTIVE]),
                    f.at >= start,
                    f.at < end,
                )
            )
            in_span = (win.school_id == school.id) & (win.window_end >= start)
            in_span &= win.window_end < end
            planned = await session.scalar(select(func.count()).where(in_span))
            done = await session.scalar(
                select(func.count()).where(in_span, win.outcome != WindowOutcome.MISSED.value)
            )
            out.append(
                (w, int(raised or 0), int(preventive or 0), domain.pct(done or 0, planned or 0))
            )
        return out

    def recipients(self, scope: str) -> list[str]:
        if scope == domain.DISTRICT:
            return self.district_recipients()
        school = self.schools[scope]
        people = {p.id: p for p in school.people}
        return [str(people[r].email) for r in school.reports.recipients if people[r].email]

    def district_recipients(self) -> list[str]:
        configured = [a.strip() for a in self.settings.reports_district_recipients.split(",")]
        if any(configured):
            return [a for a in configured if a]
        found: list[str] = []
        for school in self.schools.values():
            for p in school.people:
                if Role.DISTRICT_SAFETY in p.roles and p.email and str(p.email) not in found:
                    found.append(str(p.email))
        return found

    async def render(
        self, session: AsyncSession, scope: str, week: str, *, with_charts: bool = True
    ) -> render.Rendered:
        if scope == domain.DISTRICT:
            rows = []
            for school in self.schools.values():
                s = await self.summary(session, school, week)
                rows.append(domain.DistrictRow(school.id, school.name, s.headlines))
            names = {s.id: s.name for s in self.schools.values()}
            return render.render_district(week, rows, names)
        school = self.schools[scope]
        summary = await self.summary(session, school, week)
        return render.render_weekly(
            summary, school.tz, console=self.console_url(), with_charts=with_charts
        )

    def console_url(self) -> str:
        """Where a principal's console lands (the web service's `/app`)."""
        return f"{self.settings.web_url()}/app"

    async def started(self, session: AsyncSession, scope: str, moment: datetime) -> bool:
        """Lookout was running at the school (any school, for the district) before the week's
        report moment: the read model holds a fact from before it. A fresh install sends no
        empty summary for the week before it started."""
        repo = ReportRepository(session)
        ids = list(self.schools) if scope == domain.DISTRICT else [scope]
        for school_id in ids:
            if await repo.has_facts_before(school_id, moment):
                return True
        return False

    def due(self, scope: str, now: datetime) -> tuple[str, datetime]:
        """The latest week due for `scope` at `now` and its report moment (the district's is
        the last of its schools' moments)."""
        if scope != domain.DISTRICT:
            school = self.schools[scope]
            week = domain.due_week(school, now)
            return week, domain.report_moment(school, week)
        for back in range(3):
            week = domain.shift_week(domain.iso_week(now.date()), -back)
            moment = max(domain.report_moment(s, week) for s in self.schools.values())
            if moment <= now:
                return week, moment
        raise AssertionError("unreachable: a report moment lies within two weeks")


class WeeklyMailer:
    """Creates each week's send marks when due and works them: render, lease, send, record."""

    name = "weekly_summaries"

    def __init__(
        self,
        schools: Mapping[str, SchoolConfig],
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        outbox: Outbox,
        policy: MailPolicy | None = None,
    ) -> None:
        self.schools = schools
        self.sessions = sessions
        self.clock = clock
        self.settings = settings
        self.outbox = outbox
        self.policy = policy or MailPolicy()
        self.summaries = Summaries(schools, settings)
        self.focus_wait = timedelta(seconds=settings.reports_focus_wait_seconds)
        self._loop = BackgroundLoop("reports-weekly", self._pass, settings.tick_seconds)
        self.on_commit: Any = None  # the relay's wake, set by the app
        self.on_caught_up: Any = None  # the clock reading of a finished pass (metrics)

    def scopes(self) -> list[str]:
        scopes = list(self.schools)
        if self.summaries.district_recipients():
            scopes.append(domain.DISTRICT)
        return scopes

    # --- the cycle ---------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Mark what became due, render what is pending, send what is rendered."""
        await self.mark_due()
        rendered = await self.render_due()
        sent = await self.send_due()
        return rendered + sent

    async def mark_due(self) -> int:
        now = self.clock.now()
        created = 0
        async with self.sessions.begin() as session:
            repo = ReportRepository(session)
            for scope in self.scopes():
                week, moment = self.summaries.due(scope, now)
                if await repo.send(scope, week) is not None:
                    continue
                # Not started yet (or the read model has not caught up): asked again next pass;
                # once the next report moment passes, this week is never due again.
                if not await self.summaries.started(session, scope, moment):
                    continue
                created += await repo.add_send(scope=scope, week=week, due_at=moment, now=now)
        return created

    async def render_due(self, only: tuple[str, str] | None = None) -> int:
        """Render due `pending` rows into stored messages (`rendered`)."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            stmt = claim_due(session, sends, sends.c.due_at, now, sends.c.state == "pending")
            rows = [r for r in (await session.execute(stmt)).all() if _is(r, only)]
            repo = ReportRepository(session)
            todo = []
            for r in rows:
                if await self._waiting_for_focus(session, r, now):
                    continue
                # Lease the rendering, so a replica does not render it at the same time.
                await repo.update_send(r.scope, r.week, due_at=now + self.policy.lease)
                todo.append(r)
        done = 0
        for r in todo:
            done += await self._render_row(r.scope, r.week)
        return done

    async def _waiting_for_focus(self, session: AsyncSession, row: Any, now: datetime) -> bool:
        """A school's pending row waits (up to the focus wait) for next week's patrol focus."""
        if row.scope == domain.DISTRICT or row.scope not in self.schools:
            return False
        moment = domain.report_moment(self.schools[row.scope], row.week)
        if now >= moment + self.focus_wait:
            return False
        from services.reports.store import focus

        next_week = domain.shift_week(row.week, 1)
        have = await session.scalar(
            select(focus.c.week).where(focus.c.school_id == row.scope, focus.c.week == next_week)
        )
        if have is not None:
            return False
        await ReportRepository(session).update_send(
            row.scope, row.week, due_at=min(moment + self.focus_wait, now + timedelta(seconds=30))
        )
        return True

    async def _render_row(self, scope: str, week: str) -> int:
        recipients = self.summaries.recipients(scope) if self._known(scope) else []
        async with self.sessions() as session:
            rendered = await self.summaries.render(session, scope, week) if recipients else None
        now = self.clock.now()
        async with self.sessions.begin() as session:
            repo = ReportRepository(session)
            if rendered is None:
                why = "no recipients with an email address"
                log.error("event=weekly_summary_failed scope=%s week=%s error=%s", scope, week, why)
                return await repo.update_send(
                    scope, week, sends.c.state == "pending",
                    state="failed", due_at=None, last_error=why,
                )  # fmt: skip
            msg = render.mime_message(
                rendered,
                sender=self.settings.smtp_sender,
                recipients=recipients,
                message_id=domain.message_id(scope, week),
                at=now,
            )
            return await repo.update_send(
                scope, week, sends.c.state == "pending",
                state="rendered", message=msg.as_bytes(), rendered_at=now,
                recipients=len(recipients), due_at=now,
            )  # fmt: skip

    def _known(self, scope: str) -> bool:
        return scope == domain.DISTRICT or scope in self.schools

    async def send_due(self, only: tuple[str, str] | None = None) -> int:
        """Lease due `rendered` rows (and `sending` rows whose lease ran out), send, record."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            stmt = claim_due(
                session, sends, sends.c.due_at, now, sends.c.state.in_(("rendered", "sending"))
            )
            rows = [r for r in (await session.execute(stmt)).all() if _is(r, only)]
            repo = ReportRepository(session)
            for r in rows:
                await repo.update_send(
                    r.scope, r.week,
                    state="sending", attempts=r.attempts + 1, due_at=now + self.policy.lease,
                )  # fmt: skip
        for r in rows:
            error = await self._smtp(r.message)
            await self._record(r, r.attempts + 1, error)
        return len(rows)

    async def _smtp(self, message: bytes) -> BaseException | None:
        msg = email.message_from_bytes(message, policy=email.policy.default)
        return await send_mail(self.settings, msg, self.policy.smtp_timeout_seconds)

    async def _record(self, row: Any, attempt: int, error: BaseException | None) -> None:
        now = self.clock.now()
        async with self.sessions.begin() as session:
            repo = ReportRepository(session)
            mine = (sends.c.state == "sending", sends.c.attempts == attempt)
            if error is None:
                if await repo.update_send(
                    row.scope, row.week, *mine,
                    state="sent", sent_at=now, due_at=None, last_error=None,
                ):  # fmt: skip
                    log.info(
                        "event=weekly_summary_sent scope=%s week=%s recipients=%d attempt=%d",
                        row.scope, row.week, row.recipients, attempt,
                    )  # fmt: skip
                    if row.scope != domain.DISTRICT:
                        await self.outbox.add(session, [self._sent_event(row, now)], now)
            else:
                await self._failed_attempt(repo, row, attempt, error, now)
        if self.on_commit is not None:
            self.on_commit()

    async def _failed_attempt(
        self, repo: ReportRepository, row: Any, attempt: int, error: BaseException, now: datetime
    ) -> None:
        mine = (sends.c.state == "sending", sends.c.attempts == attempt)
        why = _describe(error)
        if attempt < self.policy.max_attempts and not _permanent(error):
            retry_at = now + retry_delay(self.policy, attempt)
            values: dict[str, Any] = {"state": "rendered", "due_at": retry_at}
            log.warning(
                "event=weekly_summary_retry scope=%s week=%s attempt=%d error=%s retry_at=%s",
                row.scope, row.week, attempt, why, retry_at.isoformat(),
            )  # fmt: skip
        else:
            values = {"state": "failed", "due_at": None}
            log.error(
                "event=weekly_summary_failed scope=%s week=%s attempt=%d error=%s",
                row.scope, row.week, attempt, why,
            )  # fmt: skip
        await repo.update_send(row.scope, row.week, *mine, last_error=why[:200], **values)

    @staticmethod
    def _sent_event(row: Any, now: datetime) -> WeeklySummarySent:
        return WeeklySummarySent(
            event_id=uuid.uuid5(SENT_NAMESPACE, f"{row.scope}/{row.week}"),
            type=WeeklySummarySent.event_type(),
            school_id=row.scope,
            occurred_at=now,
            actor=ACTOR,
            week=row.week,
            recipient_count=row.recipients,
        )

    # --- on demand ---------------------------------------------------------------------------

    async def send_now(self, scope: str, week: str) -> Any:
        """Send (scope, week) now unless it was sent; returns the row afterwards. A failed row
        is rendered afresh and tried again; a row being sent by someone else is left to them."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            repo = ReportRepository(session)
            row = await repo.send(scope, week)
            if row is None:
                await repo.add_send(scope=scope, week=week, due_at=now, now=now)
            elif row.state == "sent":
                return row
            elif row.state == "failed":
                await repo.update_send(scope, week, state="pending", attempts=0, due_at=now)
            elif row.state in ("pending", "rendered"):
                await repo.update_send(scope, week, due_at=now)
        key = (scope, week)
        await self._render_now(scope, week)
        await self.send_due(only=key)
        if self.on_commit is not None:
            self.on_commit()
        async with self.sessions() as session:
            return await ReportRepository(session).send(scope, week)

    async def _render_now(self, scope: str, week: str) -> None:
        async with self.sessions() as session:
            row = await ReportRepository(session).send(scope, week)
        if row is not None and row.state == "pending":
            await self._render_row(scope, week)

    # --- the loop ----------------------------------------------------------------------------

    def wake(self) -> None:
        self._loop.wake()

    @property
    def running(self) -> bool:
        return self._loop.running

    async def _pass(self) -> None:
        now = self.clock.now()
        if await self.run_once() and self.on_commit is not None:
            self.on_commit()
        if self.on_caught_up is not None:
            self.on_caught_up(now)

    async def start(self) -> None:
        # Async so FastStream runs it on the event loop (a plain function goes to a thread).
        if self.settings.timers_enabled:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()


def _is(row: Any, only: tuple[str, str] | None) -> bool:
    return only is None or (row.scope, row.week) == only


def _permanent(exc: BaseException) -> bool:
    """5xx replies (unknown mailbox, refused sender) do not get better by retrying."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in exc.recipients)
    code = getattr(exc, "code", None)
    return isinstance(code, int) and 500 <= code < 600


def _describe(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}" + (f" {code}" if isinstance(code, int) and code > 0 else "")
