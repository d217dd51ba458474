"""The reports service process: a read model of every stream, weekly summary emails, and the
preview / send / rebuild requests of `lookout reports`.

Run with `lookout run reports` (or `faststream run services.reports.app:create_app --factory`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faststream import Context, FastStream
from faststream.nats import NatsRouter
from faststream.nats.message import NatsMessage

from lookout.contracts.reports import (
    ArchiveRequest,
    RebuildRequest,
    SendRequest,
    SentCopyRequest,
    WeeklyPreviewRequest,
)
from lookout.kernel.clock import Clock
from lookout.kernel.queries import (
    answer,
    command_subject,
    query_subject,
    request_person,
    request_school,
    request_subscriber,
)
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.reports import store
from services.reports.handlers import ReportHandlers
from services.reports.mailer import WeeklyMailer
from services.reports.requests import ReportRequests

MIGRATIONS = Path(__file__).parent / "migrations"


def create_kernel(settings: Settings | None = None, clock: Clock | None = None) -> ServiceKernel:
    return ServiceKernel(
        store.SERVICE,
        inbox=store.inbox,
        outbox=store.outbox,
        migrations=MIGRATIONS,
        settings=settings,
        clock=clock,
    )


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastStream:
    return build_app(create_kernel(settings, clock))


def build_app(kernel: ServiceKernel) -> FastStream:
    """The reports app on a given kernel (tests build the kernel themselves to reach its parts)."""
    handlers = ReportHandlers(kernel.schools)
    mailer = WeeklyMailer(
        kernel.schools, kernel.sessions, kernel.clock, kernel.settings, kernel.outbox
    )
    mailer.on_caught_up = lambda now: kernel.metrics.timer_caught_up("weekly-mail", now)
    kernel.clock_watch.on_move(mailer.wake)
    requests = ReportRequests(kernel, handlers, mailer)
    kernel.reports_mailer = mailer  # type: ignore[attr-defined]  # for tests and benches
    router = NatsRouter()

    facts = [
        ("PATROL", handlers.apply_patrol, "scans, observations, contacts, windows, focus"),
        ("CONCERNS", handlers.apply_concerns, "concerns raised, updated and resolved"),
        ("VISITORS", handlers.apply_visitors, "check-ins, screening flags, overdue, out of bounds"),
        ("ALERTS", handlers.apply_alerts, "alerts opened, escalated, acknowledged, resolved"),
    ]
    for stream, apply, what in facts:
        kernel.consume(stream, apply, description=f"Facts for the weekly report: {what}.")
    # Confirmed day types: the school days and bell periods the report counts by.
    kernel.follow_day_types(store.day_types, handlers.day_type_changed)

    # `command|query.<school>.reports.<name>.<person>` (operators: the admin user, as `cli`).
    def school(message: NatsMessage) -> str:
        return request_school(message.raw_message.subject)

    def request(kind: str, name: str) -> dict[str, Any]:
        make = command_subject if kind == "command" else query_subject
        return request_subscriber(make("*", "reports", name, "*"), "reports")

    @router.subscriber(**request("query", "weekly"))
    async def weekly(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Render a week's summary (or the district roll-up) without sending it."""
        subject = message.raw_message.subject
        return await answer(
            body,
            WeeklyPreviewRequest,
            lambda r: requests.preview(school(message), r, request_person(subject)),
        )

    @router.subscriber(**request("query", "archive"))
    async def archive(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """The school's weekly summaries, newest first (the console's archive)."""
        return await answer(body, ArchiveRequest, lambda r: requests.archive(school(message), r))

    @router.subscriber(**request("query", "sent_copy"))
    async def sent_copy(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """A week's summary exactly as it was emailed."""
        return await answer(body, SentCopyRequest, lambda r: requests.sent_copy(school(message), r))

    @router.subscriber(**request("command", "send"))
    async def send(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Send a week's summary now, unless it was sent already."""
        return await answer(body, SendRequest, lambda r: requests.send(school(message), r))

    @router.subscriber(**request("command", "rebuild"))
    async def rebuild(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Replay every stream into a fresh read model (all schools of this deployment)."""
        return await answer(body, RebuildRequest, lambda r: requests.rebuild(school(message), r))

    app = kernel.app(router)
    app.after_startup(mailer.start)
    app.on_shutdown(mailer.stop)
    return app
