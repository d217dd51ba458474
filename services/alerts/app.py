"""The alerts service process: what raises and resolves alerts, the ack/resolve commands and
show/list queries, and the two timers (escalation steps, emails).

Run with `lookout run alerts` (or `faststream run services.alerts.app:create_app --factory`).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from faststream import Context, FastStream
from faststream.nats import NatsRouter
from faststream.nats.message import NatsMessage

from lookout.contracts.alerts import (
    AckRequest,
    HeartbeatMissed,
    HeartbeatResumed,
    ListRequest,
    PushSubscribeRequest,
    PushUnsubscribeRequest,
    ResolveRequest,
    ShowRequest,
    SmsReplyRequest,
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
    SensorCheckDone,
    SensorCheckMissed,
)
from lookout.contracts.subjects import BY_MODEL
from lookout.contracts.visitors import (
    ScreeningFlagged,
    VisitorCheckedOut,
    VisitorOutOfBounds,
    VisitorOverdue,
    VisitorUnaccounted,
)
from lookout.kernel.action_links import AckLinks
from lookout.kernel.clock import Clock
from lookout.kernel.queries import (
    answer,
    command_subject,
    query_subject,
    request_person,
    request_school,
    request_subscriber,
)
from lookout.kernel.service import ServiceKernel, by_type
from lookout.kernel.settings import ConfigurationError, Settings
from lookout.kernel.ticker import Ticker
from lookout.kernel.vapid import VapidKeys, vapid_keys
from lookout.school.coverage import log_coverage_gaps
from services.alerts import notices, store
from services.alerts.dispatch import Dispatcher
from services.alerts.escalation import Escalator
from services.alerts.handlers import AlertCommands, AlertHandlers
from services.alerts.phone_commands import PhoneCommands
from services.alerts.timers import (
    DayEndResolutions,
    DeadlineLoop,
    EscalationTimers,
    Mailer,
    OutcomeNotePurge,
)

MIGRATIONS = Path(__file__).parent / "migrations"

# What this service reads from the other streams: one durable per stream, filtered to these
# subjects (the streams carry much else, such as every checkpoint scan). One durable keeps
# stream order between the events about one thing: a visitor's checkout never overtakes the
# overdue or out-of-bounds report before it, nor a recovered check its missed one.
INPUTS: dict[str, tuple[type[Event], ...]] = {
    "PATROL": (
        CheckMissed,
        CheckRecovered,
        FollowUpMissed,
        FollowUpCompleted,
        SensorCheckMissed,
        SensorCheckDone,
    ),
    "ALERTS": (HeartbeatMissed, HeartbeatResumed),
    "VISITORS": (
        ScreeningFlagged,
        VisitorOverdue,
        VisitorOutOfBounds,
        VisitorCheckedOut,
        VisitorUnaccounted,
    ),
}


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
    """The escalation ticker, the mailer and the push/SMS dispatcher, each woken at its next
    deadline."""

    def __init__(
        self, kernel: ServiceKernel, escalator: Escalator, vapid: VapidKeys | None = None
    ) -> None:
        interval = kernel.settings.tick_seconds
        self.escalations = EscalationTimers(escalator)
        self.ticker = Ticker(
            kernel.sessions,
            kernel.clock,
            [self.escalations, DayEndResolutions(escalator), OutcomeNotePurge(kernel.schools)],
            after_fire=self._fired,
        )
        self.mailer = Mailer(
            kernel.sessions,
            kernel.clock,
            kernel.settings,
            kernel.outbox,
            schools=kernel.schools,
            ack_links=escalator.ack_links,
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
        self.dispatcher = Dispatcher(
            kernel.sessions,
            kernel.clock,
            kernel.settings,
            kernel.outbox,
            kernel.schools,
            vapid or vapid_keys(kernel.settings),
        )
        self.delivery_loop = DeadlineLoop(
            "deliveries",
            self._deliver,
            lambda: self._deadline(store.AlertRepository.next_delivery_due),
            kernel.clock,
            interval,
            full=self.dispatcher.policy.batch,
        )
        kernel.clock_watch.on_move(self.escalation_loop.wake)
        kernel.clock_watch.on_move(self.mail_loop.wake)
        kernel.clock_watch.on_move(self.delivery_loop.wake)
        self.kernel = kernel

    async def _mail(self) -> int:
        now = self.kernel.clock.now()
        sent = await self.mailer.run_once()
        if sent < self.mailer.policy.batch:
            self.kernel.metrics.timer_caught_up("emails", now)
        return sent

    async def _deliver(self) -> int:
        now = self.kernel.clock.now()
        sent = await self.dispatcher.run_once()
        if sent < self.dispatcher.policy.batch:
            self.kernel.metrics.timer_caught_up("deliveries", now)
        return sent

    async def _tick(self) -> int:
        return (await self.ticker.tick()).get(self.escalations.name, 0)

    async def _deadline(self, query: Any) -> Any:
        async with self.kernel.sessions() as session:
            return await query(store.AlertRepository(session))

    def _fired(self) -> None:
        self.mail_loop.wake()
        self.delivery_loop.wake()

    def after_commit(self) -> None:
        """Something was committed that may have queued emails or new deadlines (events in the
        outbox wake the relay by themselves)."""
        self.mail_loop.wake()
        self.delivery_loop.wake()
        self.escalation_loop.wake()

    async def start(self) -> None:
        self.escalation_loop.start()
        self.mail_loop.start()
        self.delivery_loop.start()

    async def stop(self) -> None:
        await self.escalation_loop.stop()
        await self.mail_loop.stop()
        await self.delivery_loop.stop()
        await self.dispatcher.close()


def build_app(kernel: ServiceKernel) -> FastStream:
    """The alerts app on a given kernel (tests build the kernel themselves to reach its parts)."""
    return build(kernel)[0]


def build(kernel: ServiceKernel) -> tuple[FastStream, AlertTimers]:
    """The app and its timers (scenario tests drive the escalation ticker and the mailer)."""
    problem = notices.sms_account_missing(list(kernel.schools.values()), sms_account(kernel))
    if problem is not None:
        raise ConfigurationError(problem)
    escalator = Escalator(kernel.schools, kernel.outbox, AckLinks.of(kernel.settings))
    timers = AlertTimers(kernel, escalator)
    kernel.consumer.after_commit = timers.after_commit  # step 0 may have queued emails
    handlers = AlertHandlers(escalator, kernel.clock)
    commands = AlertCommands(
        kernel.sessions, kernel.schools, escalator, kernel.clock, timers.after_commit
    )
    phone = PhoneCommands(
        kernel.sessions, kernel.schools, escalator, commands, kernel.clock, timers.after_commit
    )
    router = NatsRouter()
    # Confirmed day types: school hours for `when:` steps, and who is on duty.
    kernel.follow_day_types(store.day_types)

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
    raises = handlers.raise_alerts
    applies = {
        "PATROL": by_type(
            {
                CheckMissed: raises,
                CheckRecovered: handlers.checks_recovered,
                FollowUpMissed: raises,
                FollowUpCompleted: handlers.follow_ups_completed,
                SensorCheckMissed: raises,
                SensorCheckDone: handlers.sensor_checks_done,
            }
        ),
        "ALERTS": by_type({HeartbeatMissed: raises, HeartbeatResumed: handlers.heartbeats_resumed}),
        "VISITORS": by_type(
            {
                ScreeningFlagged: raises,
                VisitorOverdue: raises,
                VisitorOutOfBounds: raises,
                VisitorCheckedOut: handlers.visitors_left,
                VisitorUnaccounted: raises,
            }
        ),
    }
    for stream, models in INPUTS.items():
        kernel.consume(
            stream,
            applies[stream],
            subjects=[BY_MODEL[m].wildcard for m in models],
            description="Raises, and clears, alerts: "
            + "; ".join(BY_MODEL[m].description for m in models),
        )

    # `command|query.<school>.alerts.<name>.<person>`: the acting person is the last token,
    # which the server confines each user to; `answer` puts it into the request.
    def school(message: NatsMessage) -> str:
        return request_school(message.raw_message.subject)

    def subject(message: NatsMessage) -> str:
        return str(message.raw_message.subject)

    @router.subscriber(**request_subscriber(command_subject("*", "alerts", "ack", "*"), "alerts"))
    async def ack(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Acknowledge an alert: escalation stops until the policy's ack timeout."""
        return await answer(
            body, AckRequest, lambda r: commands.ack(school(message), r), subject(message)
        )

    @router.subscriber(
        **request_subscriber(command_subject("*", "alerts", "resolve", "*"), "alerts")
    )
    async def resolve(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Resolve an alert with an outcome note."""
        return await answer(
            body, ResolveRequest, lambda r: commands.resolve(school(message), r), subject(message)
        )

    @router.subscriber(**request_subscriber(query_subject("*", "alerts", "show", "*"), "alerts"))
    async def show(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """One alert with its timeline (access-logged)."""
        return await answer(
            body, ShowRequest, lambda r: commands.show(school(message), r), subject(message)
        )

    @router.subscriber(**request_subscriber(query_subject("*", "alerts", "list", "*"), "alerts"))
    async def list_alerts(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Alerts of a school, newest first (open ones only by default)."""
        return await answer(
            body, ListRequest, lambda r: commands.list(school(message), r), subject(message)
        )

    def person(message: NatsMessage) -> str:
        return request_person(message.raw_message.subject)

    @router.subscriber(
        **request_subscriber(command_subject("*", "alerts", "push_subscribe", "*"), "alerts")
    )
    async def push_subscribe(
        body: bytes, message: NatsMessage = Context("message")
    ) -> dict[str, Any]:
        """Keep one browser's Web Push subscription for the acting person."""
        return await answer(
            body,
            PushSubscribeRequest,
            lambda r: phone.push_subscribe(school(message), person(message), r),
            subject(message),
        )

    @router.subscriber(
        **request_subscriber(command_subject("*", "alerts", "push_unsubscribe", "*"), "alerts")
    )
    async def push_unsubscribe(
        body: bytes, message: NatsMessage = Context("message")
    ) -> dict[str, Any]:
        """Forget one of the acting person's browsers."""
        return await answer(
            body,
            PushUnsubscribeRequest,
            lambda r: phone.push_unsubscribe(school(message), person(message), r),
            subject(message),
        )

    @router.subscriber(
        **request_subscriber(command_subject("*", "alerts", "sms_reply", "*"), "alerts")
    )
    async def sms_reply(body: bytes, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """A reply code to an alert text (`3a` acknowledge, `3e` escalate now, `3c` close)."""
        return await answer(
            body,
            SmsReplyRequest,
            lambda r: phone.sms_reply(school(message), person(message), r),
            subject(message),
        )

    app = kernel.app(router)

    async def warn_coverage_gaps() -> None:  # a lambda returning the coroutine was never awaited
        await _warn_coverage_gaps(kernel)

    app.on_startup(warn_coverage_gaps)
    app.after_startup(timers.start)
    app.on_shutdown(timers.stop)
    return app, timers


def sms_account(kernel: ServiceKernel) -> bool:
    s = kernel.settings
    return bool(s.sms_account_sid and s.sms_auth_token.get_secret_value() and s.sms_from)


async def _warn_coverage_gaps(kernel: ServiceKernel) -> None:
    """Start-up: say (as warnings) where a school's policies leave high or critical alerts
    reaching nobody within 15 minutes; `lookout check school` lists them all."""
    # A walk over every minute of a week: off the event loop, which is serving already.
    await asyncio.to_thread(
        log_coverage_gaps, kernel.schools, logging.getLogger("lookout.alerts.coverage")
    )
