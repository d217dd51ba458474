"""The alerts service process: what raises and resolves alerts, the ack/resolve commands and
show/list queries, and the two timers (escalation steps, emails).

Run with `lookout run alerts` (or `faststream run services.alerts.app:create_app --factory`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faststream import Context, FastStream
from faststream.nats import NatsRouter
from faststream.nats.message import NatsMessage

from lookout.clock import Clock
from lookout.config import Settings
from lookout.contracts.alerts import (
    AckRequest,
    HeartbeatMissed,
    HeartbeatResumed,
    ListRequest,
    ResolveRequest,
    ShowRequest,
)
from lookout.contracts.envelope import Event
from lookout.contracts.patrol import (
    CheckMissed,
    CheckRecovered,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    FollowUpCompleted,
    FollowUpMissed,
)
from lookout.contracts.subjects import BY_MODEL
from lookout.contracts.visitors import (
    ScreeningFlagged,
    VisitorCheckedOut,
    VisitorOutOfBounds,
    VisitorOverdue,
)
from lookout.messaging import Apply
from lookout.queries import answer, command_subject, query_subject, request_subscriber
from lookout.service import ServiceKernel, by_type
from lookout.ticker import Ticker
from services.alerts import store
from services.alerts.escalation import Escalator
from services.alerts.handlers import AlertCommands, AlertHandlers
from services.alerts.timers import (
    DayEndResolutions,
    DeadlineLoop,
    EscalationTimers,
    Mailer,
    OutcomeNotePurge,
)

MIGRATIONS = Path(__file__).parent / "migrations"

# Events that raise an alert, each through its own filtered durable consumer (their streams
# carry much else this service does not read, such as every checkpoint scan).
RAISED_BY: tuple[type[Event], ...] = (
    CheckMissed,
    FollowUpMissed,
    HeartbeatMissed,
    ScreeningFlagged,
    VisitorOverdue,
    VisitorOutOfBounds,
)


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


class AlertTimers:
    """The escalation ticker and the mailer, each woken at its next deadline."""

    def __init__(self, kernel: ServiceKernel, escalator: Escalator) -> None:
        interval = kernel.settings.tick_seconds
        self.escalations = EscalationTimers(escalator)
        self.ticker = Ticker(
            kernel.sessions,
            kernel.clock,
            [self.escalations, DayEndResolutions(escalator), OutcomeNotePurge(kernel.schools)],
            after_fire=self._fired,
        )
        self.mailer = Mailer(
            kernel.sessions, kernel.clock, kernel.settings, kernel.outbox, schools=kernel.schools
        )
        self.escalation_loop = DeadlineLoop(
            "escalations",
            self._tick,
            lambda: self._deadline(store.AlertRepository.next_deadline),
            kernel.clock,
            interval,
            full=self.escalations.limit,
        )
        self.ticker.on_caught_up = lambda now: kernel.metrics.timer_caught_up("escalations", now)
        self.mail_loop = DeadlineLoop(
            "emails",
            self._mail,
            lambda: self._deadline(store.AlertRepository.next_email_due),
            kernel.clock,
            interval,
            full=self.mailer.policy.batch,
        )
        kernel.clock_watch.on_move(self.escalation_loop.wake)
        kernel.clock_watch.on_move(self.mail_loop.wake)
        self.kernel = kernel

    async def _mail(self) -> int:
        now = self.kernel.clock.now()
        sent = await self.mailer.run_once()
        if sent < self.mailer.policy.batch:
            self.kernel.metrics.timer_caught_up("emails", now)
        return sent

    async def _tick(self) -> int:
        return (await self.ticker.tick()).get(self.escalations.name, 0)

    async def _deadline(self, query: Any) -> Any:
        async with self.kernel.sessions() as session:
            return await query(store.AlertRepository(session))

    def _fired(self) -> None:
        self.mail_loop.wake()

    def after_commit(self) -> None:
        """Something was committed that may have queued emails or new deadlines (events in the
        outbox wake the relay by themselves)."""
        self.mail_loop.wake()
        self.escalation_loop.wake()

    async def start(self) -> None:
        self.escalation_loop.start()
        self.mail_loop.start()

    async def stop(self) -> None:
        await self.escalation_loop.stop()
        await self.mail_loop.stop()


def build_app(kernel: ServiceKernel) -> FastStream:
    """The alerts app on a given kernel (tests build the kernel themselves to reach its parts)."""
    return build(kernel)[0]


def build(kernel: ServiceKernel) -> tuple[FastStream, AlertTimers]:
    """The app and its timers (scenario tests drive the escalation ticker and the mailer)."""
    escalator = Escalator(kernel.schools, kernel.outbox)
    timers = AlertTimers(kernel, escalator)
    kernel.consumer.after_commit = timers.after_commit  # step 0 may have queued emails
    handlers = AlertHandlers(escalator, kernel.clock)
    commands = AlertCommands(
        kernel.sessions, kernel.schools, escalator, kernel.clock, timers.after_commit
    )
    router = NatsRouter()

    apply_concerns = by_type(
        {
            ConcernRaised: handlers.raise_alerts,
            ConcernUpdated: handlers.concerns_updated,
            ConcernResolved: handlers.concerns_resolved,
        },
        ignore=[Event],  # a concern event type added later changes no alert
    )

    kernel.consume(
        "CONCERNS",
        apply_concerns,
        description="A raised concern opens (or folds into) an alert; a resolved one resolves it.",
    )
    for model in RAISED_BY:
        _filtered(kernel, model, by_type({model: handlers.raise_alerts}), "Raises an alert")
    _filtered(
        kernel,
        VisitorCheckedOut,
        by_type({VisitorCheckedOut: handlers.visitors_left}),
        "Resolves the visit's overdue / out-of-bounds alerts",
    )
    _filtered(
        kernel,
        HeartbeatResumed,
        by_type({HeartbeatResumed: handlers.heartbeats_resumed}),
        "Resolves the lone-worker alarm about the officer",
    )
    _filtered(
        kernel,
        CheckRecovered,
        by_type({CheckRecovered: handlers.checks_recovered}),
        "Resolves the zone's missed-check alert of the day once no window is missed",
    )
    _filtered(
        kernel,
        FollowUpCompleted,
        by_type({FollowUpCompleted: handlers.follow_ups_completed}),
        "Resolves the missed re-check's alert",
    )

    def school(message: NatsMessage) -> str:
        return str(message.raw_message.subject.split(".")[1])

    @router.subscriber(**request_subscriber(command_subject("*", "alerts", "ack"), "alerts"))
    async def ack(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Acknowledge an alert: escalation stops until the policy's ack timeout."""
        return await answer(body, AckRequest, lambda r: commands.ack(school(message), r))

    @router.subscriber(**request_subscriber(command_subject("*", "alerts", "resolve"), "alerts"))
    async def resolve(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Resolve an alert with an outcome note."""
        return await answer(body, ResolveRequest, lambda r: commands.resolve(school(message), r))

    @router.subscriber(**request_subscriber(query_subject("*", "alerts", "show"), "alerts"))
    async def show(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """One alert with its timeline (access-logged)."""
        return await answer(body, ShowRequest, lambda r: commands.show(school(message), r))

    @router.subscriber(**request_subscriber(query_subject("*", "alerts", "list"), "alerts"))
    async def list_alerts(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Alerts of a school, newest first (open ones only by default)."""
        return await answer(body, ListRequest, lambda r: commands.list(school(message), r))

    app = kernel.app(router)
    app.after_startup(timers.start)
    app.on_shutdown(timers.stop)
    return app, timers


def _filtered(kernel: ServiceKernel, model: type[Event], apply: Apply, what: str) -> None:
    spec = BY_MODEL.get(model)
    if spec is None:  # not in the catalogue (yet): nothing can publish it
        return
    kernel.consume(
        spec.stream,
        apply,
        subject=spec.wildcard,
        name=f"{spec.stream.lower()}-{spec.type.replace('.', '-').replace('_', '-')}",
        description=f"{what}: {spec.description}",
    )
