"""The request-reply side: preview a week, send it now, rebuild the read model."""

from __future__ import annotations

import asyncio

from lookout.contracts.reports import (
    Archive,
    ArchivedWeek,
    ArchiveRequest,
    RebuildReply,
    RebuildRequest,
    SendReply,
    SendRequest,
    SentCopy,
    SentCopyRequest,
    WeeklyPreview,
    WeeklyPreviewRequest,
)
from lookout.kernel.queries import OPERATOR, Refused
from lookout.kernel.service import ServiceKernel
from lookout.school.config import Role
from services.reports import domain, render
from services.reports.handlers import ReportHandlers
from services.reports.mailer import WeeklyMailer
from services.reports.rebuild import rebuild
from services.reports.store import ReportRepository


class ReportRequests:
    def __init__(self, kernel: ServiceKernel, handlers: ReportHandlers, mailer: WeeklyMailer):
        self.kernel = kernel
        self.handlers = handlers
        self.mailer = mailer
        self._rebuilding = asyncio.Lock()

    def _scope_week(self, school_id: str, week: str | None, district: bool) -> tuple[str, str]:
        if school_id not in self.kernel.schools:
            raise Refused("school: not a school of this deployment")
        scope = domain.DISTRICT if district else school_id
        if week is None:
            return scope, self.mailer.summaries.due(scope, self.kernel.clock.now())[0]
        try:
            domain.week_monday(week)
        except ValueError:
            raise Refused(f"week: {week} does not exist") from None
        return scope, week

    def _may_read_district(self, school_id: str, person: str) -> None:
        """The district roll-up (every school's figures) is for district safety and the
        operator; a school's leaders read their own school's summaries only."""
        if person == OPERATOR:
            return
        school = self.kernel.schools.get(school_id)
        found = next((p for p in school.people if p.id == person), None) if school else None
        if found is None or Role.DISTRICT_SAFETY not in found.roles:
            raise Refused("district: the roll-up is for district safety")

    async def preview(
        self, school_id: str, req: WeeklyPreviewRequest, person: str
    ) -> WeeklyPreview:
        if req.district:
            self._may_read_district(school_id, person)
        scope, week = self._scope_week(school_id, req.week, req.district)
        async with self.kernel.sessions() as session:
            rendered = await self.mailer.summaries.render(session, scope, week)
            row = await ReportRepository(session).send(scope, week)
        return WeeklyPreview(
            week=week,
            subject=rendered.subject,
            html=render.inline_data_uris(rendered),
            text=rendered.text,
            recipients=self.mailer.summaries.recipients(scope),
            status=row.state if row is not None else None,
        )

    async def archive(self, school_id: str, req: ArchiveRequest) -> Archive:
        if school_id not in self.kernel.schools:
            raise Refused("school: not a school of this deployment")
        async with self.kernel.sessions() as session:
            rows = await ReportRepository(session).sends_of(school_id, req.limit)
        school = self.kernel.schools[school_id]
        return Archive(
            weeks=[
                ArchivedWeek(
                    week=r.week,
                    first_day=(days := domain.week_dates(school, r.week))[0],
                    last_day=days[1],
                    state=r.state,
                    sent_at=r.sent_at,
                    recipients=r.recipients,
                )
                for r in rows
            ]
        )

    async def sent_copy(self, school_id: str, req: SentCopyRequest) -> SentCopy:
        scope, week = self._scope_week(school_id, req.week, district=False)
        async with self.kernel.sessions() as session:
            row = await ReportRepository(session).send(scope, week)
        if row is None or row.state != "sent" or row.message is None or row.sent_at is None:
            raise Refused(f"week: the {week} summary was not sent")
        subject, html = render.html_of_message(row.message)
        return SentCopy(week=week, subject=subject, html=html, sent_at=row.sent_at)

    async def send(self, school_id: str, req: SendRequest) -> SendReply:
        scope, week = self._scope_week(school_id, req.week, req.district)
        if scope == domain.DISTRICT and not self.mailer.summaries.district_recipients():
            raise Refused("no district recipients (LOOKOUT_REPORTS_DISTRICT_RECIPIENTS)")
        before = None
        async with self.kernel.sessions() as session:
            before = await ReportRepository(session).send(scope, week)
        if before is not None and before.state == "sent":
            raise Refused(
                f"the {week} summary of {scope} was sent already "
                f"({before.sent_at.isoformat(timespec='seconds')}); it is sent once"
            )
        row = await self.mailer.send_now(scope, week)
        return SendReply(
            week=week,
            scope=scope,
            status="pending" if row.state == "rendered" else row.state,
            message_id=row.message_id,
            recipients=row.recipients,
            attempts=row.attempts,
            last_error=row.last_error,
        )

    async def rebuild(self, school_id: str, req: RebuildRequest) -> RebuildReply:
        if school_id not in self.kernel.schools:
            raise Refused("school: not a school of this deployment")
        if self._rebuilding.locked():
            raise Refused("a rebuild is already running")
        async with self._rebuilding:
            js = self.kernel.broker.connection.jetstream()
            return await rebuild(self.kernel, self.handlers, js)
