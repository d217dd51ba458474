"""Health and metrics of one service process: `/healthz`, `/readyz` and Prometheus `/metrics`.

Started by the ServiceKernel when `LOOKOUT_HEALTH_PORT` is set (off by default, so `lookout up`
and the tests open no ports). A tiny asyncio HTTP server on the service's own event loop:

- `/healthz` answers 200 while the event loop runs (liveness: a wedged process stops answering);
- `/readyz` answers 200 once the service has started and its NATS connection is up, else 503;
- both add one line per consumer stalled on a transient failure (durable, seconds, error type)
  and stay 200 for it: a consumer waiting for its database is alive and will go on by itself,
  and a restart would only hand its batch to the same outage;
- `/metrics`: events processed by outcome, dead letters, events published, escalations fired,
  per-durable consumer lag (pending and unacknowledged), read from JetStream at scrape time,
  and per-durable stalls (`lookout_consumer_stalled` 1/0, `…_stalled_seconds`, `…_stalls_total`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from lookout.contracts.alerts import AlertEscalated
from lookout.contracts.subjects import InvalidEvent, lookup

if TYPE_CHECKING:
    from lookout.kernel.messaging import BatchOutcome
    from lookout.kernel.stall import Stall

log = logging.getLogger("lookout.health")
ESCALATED = AlertEscalated.event_type()
LAG_METRICS = ("lookout_consumer_lag", "lookout_consumer_ack_pending")


class ServiceMetrics:
    """The service's counters, in a registry of its own (several kernels may share a process)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "lookout_events_processed",
            "Events taken from JetStream, by outcome (applied, duplicate, dead_lettered, retried)",
            ["service", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "lookout_dlq_messages", "Messages copied to dlq.<service>", ["service"], registry=r
        )
        self.published = Counter(
            "lookout_events_published",
            "Events published by the outbox relay, by event domain and name",
            ["service", "type"],
            registry=r,
        )
        self.escalations = Counter(
            "lookout_escalations_fired", "alert.<school>.escalated events published", ["service"],
            registry=r,
        )  # fmt: skip
        self.lag = Gauge(
            "lookout_consumer_lag",
            "Messages in the stream not yet delivered to this service's durable consumer",
            ["service", "stream", "consumer"],
            registry=r,
        )
        self.ack_pending = Gauge(
            "lookout_consumer_ack_pending",
            "Messages delivered to the durable consumer and not yet acknowledged",
            ["service", "stream", "consumer"],
            registry=r,
        )
        self.timers_caught_up = Gauge(
            "lookout_timers_caught_up_to",
            "Clock reading (epoch seconds) of this timer loop's last pass that left nothing due",
            ["service", "timer"],
            registry=r,
        )
        self.stalled = Gauge(
            "lookout_consumer_stalled",
            "1 while the durable consumer holds a batch through a transient failure (retrying "
            "it in place, fetching nothing else), else 0",
            ["service", "stream", "consumer"],
            registry=r,
        )
        self.stalled_seconds = Gauge(
            "lookout_consumer_stalled_seconds",
            "How long the durable consumer has been stalled (0 when it is not)",
            ["service", "stream", "consumer"],
            registry=r,
        )
        self.stalls = Counter(
            "lookout_consumer_stalls",
            "Stalls begun by the durable consumer (a short one between two scrapes counts too)",
            ["service", "stream", "consumer"],
            registry=r,
        )
        for outcome in ("applied", "duplicate", "dead_lettered", "retried", "handed_back"):
            self.events.labels(service, outcome)
        self.dead_letters.labels(service)
        self.escalations.labels(service)

    def watch_stall(self, stream: str, stall: Stall) -> None:
        """Read the consumer's stall at every scrape."""
        labels = (self.service, stream, stall.durable)
        self.stalled.labels(*labels).set_function(lambda: 1.0 if stall.active else 0.0)
        self.stalled_seconds.labels(*labels).set_function(stall.seconds)
        stall.on_stall = self.stalls.labels(*labels).inc

    def timer_caught_up(self, timer: str, now: datetime) -> None:
        self.timers_caught_up.labels(self.service, timer).set(now.timestamp())

    def record(self, outcome: BatchOutcome) -> None:
        s = self.service
        counts = {
            "applied": outcome.applied,
            "duplicate": outcome.duplicates,
            "dead_lettered": outcome.dead_lettered,
            "retried": outcome.retried,
            "handed_back": outcome.handed_back,
        }
        for name, n in counts.items():
            if n > 0:  # a batch's bookkeeping may net a category below zero; count only gains
                self.events.labels(s, name).inc(n)
        if outcome.dead_lettered > 0:
            self.dead_letters.labels(s).inc(outcome.dead_lettered)

    def record_published(self, subject: str) -> None:
        # Labelled by event type, never by school or person, so the label set stays small.
        try:
            kind = lookup(subject)[0].type
        except InvalidEvent:
            kind = subject.split(".", 1)[0]
        self.published.labels(self.service, kind).inc()
        if kind == ESCALATED:
            self.escalations.labels(self.service).inc()


Probe = Callable[[], bool]


class HealthServer:
    def __init__(
        self,
        metrics: ServiceMetrics,
        ready: Probe,
        consumers: Callable[[], Sequence[tuple[str, str]]],
        jetstream: Callable[[], Any],
        host: str = "127.0.0.1",
        port: int = 0,
        stalls: Callable[[], Sequence[Stall]] = list,
    ) -> None:
        self.metrics = metrics
        self.ready = ready
        self.consumers = consumers
        self.stalls = stalls
        self.jetstream = jetstream
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("event=health_listening host=%s port=%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def refresh_lag(self) -> None:
        try:
            js = self.jetstream()
        except Exception:
            return
        for stream, durable in self.consumers():
            try:
                info = await asyncio.wait_for(js.consumer_info(stream, durable), 2.0)
            except Exception:  # not created yet, or NATS unreachable: keep the last value
                continue
            labels = (self.metrics.service, stream, durable)
            self.metrics.lag.labels(*labels).set(info.num_pending or 0)
            self.metrics.ack_pending.labels(*labels).set(info.num_ack_pending or 0)

    def _stalled(self) -> bytes:
        """One line per stalled consumer. Not a failure of either probe: the consumer is alive
        and goes on by itself when the database is back (a restart would not help)."""
        lines = [stall.describe() + "\n" for stall in self.stalls() if stall.active]
        return "".join(lines).encode()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5.0)
            while (await asyncio.wait_for(reader.readline(), 5.0)) not in (b"\r\n", b"\n", b""):
                pass  # headers: not needed
            parts = request.decode("latin-1").split()
            method, target = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
            url = urlsplit(target)
            names = parse_qs(url.query).get("name[]", [])
            status, ctype, body = await self._route(method, url.path, names)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (body if method != "HEAD" else b""))
            await writer.drain()
        except Exception:  # a broken probe connection must not disturb the service
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _route(
        self, method: str, path: str, names: Sequence[str] = ()
    ) -> tuple[str, str, bytes]:
        text = "text/plain; charset=utf-8"
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", text, b"method not allowed\n"
        if path == "/healthz":
            return "200 OK", text, b"ok\n" + self._stalled()
        if path == "/readyz":
            if self.ready():
                return "200 OK", text, b"ready\n" + self._stalled()
            return "503 Service Unavailable", text, b"not ready\n" + self._stalled()
        if path == "/metrics":
            # `?name[]=…` (as Prometheus' own handler takes it) narrows the answer to those
            # samples (a counter by its `_total` name), and asks JetStream for consumer lag
            # only when that is among them.
            registry: Any = self.metrics.registry
            if names:
                registry = self.metrics.registry.restricted_registry(names)
            if not names or any(n.startswith(LAG_METRICS) for n in names):
                await self.refresh_lag()
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(registry)
        return "404 Not Found", text, b"not found\n"
