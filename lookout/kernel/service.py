"""What every service process has: settings, clock, schools, its database, broker, inbox,
outbox relay and the consumer error policy — assembled once, started and stopped in order."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from faststream import FastStream
from faststream.nats import NatsRouter
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.envelope import Event
from lookout.contracts.subjects import STREAMS
from lookout.kernel.clock import Clock
from lookout.kernel.clock_watch import ClockWatch
from lookout.kernel.day_types import DayTypeFollower, OnChange
from lookout.kernel.health import HealthServer, ServiceMetrics
from lookout.kernel.log import configure_logging
from lookout.kernel.messaging import (
    Apply,
    EventConsumer,
    check_streams,
    ensure_streams,
    make_broker,
)
from lookout.kernel.relay import OutboxRelay
from lookout.kernel.settings import Settings, load_schools
from lookout.kernel.storage import Inbox, Outbox, make_engine, make_sessionmaker, upgrade_database
from lookout.kernel.stream_consumer import StreamConsumer
from lookout.kernel.ticker import Ticker, TimerModule
from lookout.school.config import SchoolConfig

# The exit code of a service whose NATS connection was closed for good: the supervisor of
# `lookout up` and Kubernetes restart it (a fresh process connects anew).
EXIT_NATS_CLOSED = 3


class KernelApp(FastStream):
    """The service's FastStream app: after a stop the kernel asked for on a fatal condition,
    `run` ends the process with a non-zero code instead of returning as after Ctrl-C."""

    fatal: Callable[[], str | None] | None = None  # the kernel's reason to end, if any

    async def run(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super().run(*args, **kwargs)
        except Exception:  # ExceptionGroup too
            if not self._fatal():
                raise
            # Stopping the broker's subscriptions fails on a closed connection: nothing is
            # left to stop there, and the exit below says why.
        if self._fatal():
            raise SystemExit(EXIT_NATS_CLOSED)

    def _fatal(self) -> bool:
        return self.fatal is not None and self.fatal() is not None


class ServiceKernel:
    def __init__(
        self,
        name: str,
        *,
        inbox: Table,
        outbox: Table,
        migrations: Path,
        settings: Settings | None = None,
        clock: Clock | None = None,
        schools: Mapping[str, SchoolConfig] | None = None,
    ) -> None:
        self.name = name
        self.settings = settings or Settings()
        self.clock = clock or self.settings.make_clock()
        self.schools: Mapping[str, SchoolConfig] = (
            schools if schools is not None else load_schools(self.settings)
        )
        self.migrations = migrations
        self.engine = make_engine(
            self.settings.database_url(name), self.settings.sqlite_busy_timeout_seconds
        )
        self.sessions = make_sessionmaker(self.engine)
        self.broker = make_broker(self.settings, on_reconnected=self._reconnected)
        self.outbox = Outbox(outbox)
        self.relay = OutboxRelay(self.broker, self.sessions, self.outbox, self.clock)
        self.consumer = EventConsumer(
            name,
            self.broker,
            self.sessions,
            Inbox(inbox),
            self.clock,
            schools=lambda: self.schools,
        )
        self.log = logging.getLogger(f"lookout.{name}")
        self.ticker: Ticker | None = None
        # Timer loops to wake when a driven (simulated, stepped) clock moves.
        self.clock_watch = ClockWatch(self.clock)
        # (stream, durable) of every consumer this service declared: stream checks, lag metrics.
        self.consumers: list[tuple[str, str]] = []
        self.stream_consumers: list[StreamConsumer] = []
        self.metrics = ServiceMetrics(name)
        self.consumer.on_outcome = self.metrics.record
        self.relay.on_published = self.metrics.record_published
        self.health: HealthServer | None = None
        self.started = False
        # Why the process must end (e.g. its NATS connection was closed for good), else None.
        self.fatal: str | None = None
        self._app: KernelApp | None = None
        self.day_types: DayTypeFollower | None = None

    def use_timers(self, *modules: TimerModule) -> Ticker:
        """Fire these timer modules every tick (and right after a wake) while the service runs."""
        self.ticker = Ticker(
            self.sessions,
            self.clock,
            modules,
            interval_seconds=self.settings.tick_seconds,
        )
        self.ticker.on_caught_up = lambda now: self.metrics.timer_caught_up("ticker", now)
        self.clock_watch.on_move(self.ticker.wake)
        return self.ticker

    def consume(
        self,
        stream: str,
        apply: Apply,
        *,
        subject: str | None = None,
        subjects: Sequence[str] = (),
        name: str | None = None,
        description: str = "",
    ) -> StreamConsumer:
        """This service's durable consumer on one stream (all of it, only `subject`, or only
        `subjects`: several filters on one durable, whose events then reach `apply` in stream
        order; give a `name` when one service has two consumers on a stream): batches go to
        `apply` through the consumer error policy, acknowledged after the commit."""
        if isinstance(subjects, str):
            raise TypeError("consume: subjects must be a sequence of subjects, not one string")
        if subject is not None and subjects:
            raise ValueError("consume: give subject or subjects, not both")
        durable = f"{self.name}-{name or stream.lower()}"
        consumer = StreamConsumer(
            stream=stream,
            subjects=tuple(subjects) or (subject or STREAMS[stream][0],),
            durable=durable,
            description=description,
            apply=apply,
            consumer=self.consumer,
            settings=self.settings,
            on_closed=self._connection_closed,
        )
        self.stream_consumers.append(consumer)
        self.consumers.append((stream, durable))
        self.metrics.watch_stall(stream, consumer.stall)
        return consumer

    def follow_day_types(self, table: Table, on_change: OnChange | None = None) -> None:
        """Keep the confirmed day types (CALENDAR stream) in `table` and the school models:
        read at start-up, then kept current by this service's `<name>-calendar` consumer."""
        self.day_types = DayTypeFollower(table, self.schools, on_change)
        self.consume(
            "CALENDAR",
            self.day_types.apply,
            description="Confirmed day types: the bell this service plans each date by.",
        )

    async def prepare(self) -> None:
        """Before consuming: schema at head, streams present."""
        await upgrade_database(self.engine, self.migrations, self.name)
        if self.day_types is not None:
            await self.day_types.load(self.sessions)
        if self.settings.provision_streams:
            await ensure_streams(self.settings)
        else:  # provisioned by `lookout deploy streams`; this service may only look them up
            await check_streams(self.settings, sorted({s for s, _ in self.consumers} | {"DLQ"}))
        if self.settings.health_port is not None:
            self.health = HealthServer(
                self.metrics,
                ready=self.ready,
                consumers=lambda: self.consumers,
                stalls=lambda: [c.stall for c in self.stream_consumers],
                jetstream=lambda: self.broker.connection.jetstream(),
                host=self.settings.health_host,
                port=self.settings.health_port,
            )
            await self.health.start()

    def ready(self) -> bool:
        """Started, and connected to NATS (the readiness probe)."""
        try:
            return self.started and bool(self.broker.connection.is_connected)
        except Exception:
            return False

    def app(self, *routers: NatsRouter) -> FastStream:
        for router in routers:
            self.broker.include_router(router)
        configure_logging(self.settings.log_level, self.name)
        app = KernelApp(self.broker, logger=self.log)
        app.fatal = lambda: self.fatal
        self._app = app
        app.on_startup(self.prepare)
        app.after_startup(self._started)
        app.on_shutdown(self._stopping)
        app.after_shutdown(self.engine.dispose)
        return app

    def _connection_closed(self, durable: str) -> None:
        """nats-py closed the connection for good (it never reconnects after that): stop in
        order and exit non-zero, so a fresh process starts; it is not ready meanwhile."""
        if self.fatal is not None:
            return
        self.fatal = "NATS connection closed"
        self.started = False
        self.log.error("event=stopping reason=nats_connection_closed consumer=%s", durable)
        if self._app is not None:
            self._app.exit()

    async def _reconnected(self) -> None:
        # A long poll sent before a broker restart is forgotten by the new server: poll again
        # now rather than when it would have expired.
        for consumer in self.stream_consumers:
            consumer.repoll()

    async def _stopping(self) -> None:
        self.started = False
        for consumer in self.stream_consumers:  # first: a batch in hand is applied and acked
            await consumer.stop()
        if self.health is not None:
            await self.health.stop()
            self.health = None
        await self.clock_watch.stop()
        if self.ticker is not None:
            await self.ticker.stop()
        await self.relay.stop()

    async def _started(self) -> None:
        for consumer in self.stream_consumers:
            await consumer.start(self.broker.connection)
        self.relay.start()
        if self.ticker is not None and self.settings.timers_enabled:
            self.ticker.start()
        self.clock_watch.start()  # only for a driven clock; waking a stopped loop is harmless
        self.started = True
        self.log.info(
            "event=started schools=%s database=%s",
            ",".join(sorted(self.schools)),
            self.engine.url.render_as_string(hide_password=True),
        )


def by_type(
    handlers: Mapping[type[Event], Apply],
    ignore: Sequence[type[Event]] = (),
    *,
    independent: bool = False,
) -> Apply:
    """One Apply for a stream: runs of consecutive events of one type go to that type's handler,
    in stream order (a concern's resolve never overtakes its raise).

    `independent=True` says no handler's effect depends on another type's events in the same
    batch (scans, heartbeats, contacts): then each type's events, still in stream order, go to
    its handler in one call per batch, instead of one call per run. In a mixed stream the runs
    are short, and each call costs its own statements."""
    ignored = tuple(ignore)

    def groups(events: Sequence[Event]) -> Iterable[tuple[type[Event], list[Event]]]:
        if not independent:
            return ((kind, list(run)) for kind, run in itertools.groupby(events, key=type))
        by_kind: dict[type[Event], list[Event]] = {}
        for e in events:
            by_kind.setdefault(type(e), []).append(e)
        return by_kind.items()

    async def apply(session: AsyncSession, events: Sequence[Event]) -> dict[uuid.UUID, str]:
        rejected: dict[uuid.UUID, str] = {}
        for kind, group in groups(events):
            if kind in handlers:
                rejected.update(await handlers[kind](session, group))
            elif not issubclass(kind, ignored):
                for e in group:
                    rejected[e.event_id] = f"{e.type} is not consumed by this service"
        return rejected

    return apply
