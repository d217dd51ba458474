"""Health and metrics of one service process: `/healthz`, `/readyz` and Prometheus `/metrics`.

Started by the ServiceKernel when `LOOKOUT_HEALTH_PORT` is set (off by default, so `lookout up`
and the tests open no ports). A Starlette app served by uvicorn on the service's own event loop
(the web service serves its own on the same stack), never a hand-written HTTP parser:

- `/healthz` answers 200 while the event loop runs (liveness: a wedged process stops answering);
- `/readyz` answers 200 once the service has started and its NATS connection is up, else 503;
- both add one line per consumer stalled on a transient failure (durable, seconds, error type)
  and stay 200 for it: a consumer waiting for its database is alive and will go on by itself,
  and a restart would only hand its batch to the same outage;
- `/metrics`: events processed by outcome, dead letters, events published, escalations fired,
  per-durable consumer lag (pending and unacknowledged), read from JetStream at scrape time,
  and per-durable stalls (`lookout_consumer_stalled` 1/0, `…_stalled_seconds`, `…_stalls_total`);
- anything else: 404 (405 for another method) as problem+json; a malformed request: uvicorn's
  400; a failure inside: 500 problem+json, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import uvicorn
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
TEXT = "text/plain; charset=utf-8"
PROBLEM = "application/problem+json"
# How long a stop waits for probe and scrape connections in flight before cancelling them.
STOP_GRACE_SECONDS = 2


def exposition(registry: CollectorRegistry, names: Sequence[str] = ()) -> Response:
    """The Prometheus text exposition of `registry`; `names` (`?name[]=…`, as Prometheus' own
    handler takes it) narrows it to those samples (a counter by its `_total` name)."""
    chosen: Any = registry.restricted_registry(names) if names else registry
    return Response(generate_latest(chosen), media_type=CONTENT_TYPE_LATEST)


def problem(status: int, title: str) -> Response:
    """An `application/problem+json` answer (RFC 9457) naming only the status."""
    body = {"type": "about:blank", "title": title, "status": status}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


async def _http_problem(_request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    titles = {404: "Not found", 405: "Method not allowed", 500: "Internal error"}
    return problem(status, titles.get(status, "Request refused"))


class NeverRaise:
    """Outermost: whatever fails inside answers 500 problem+json and logs the error class,
    never a traceback (to the client or to the log, where uvicorn would print one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            log.error("event=health_request_failed error=%s", type(exc).__name__)
            if scope["type"] == "http" and not started:
                with contextlib.suppress(Exception):  # the client may be gone
                    await problem(500, "Internal error")(scope, receive, send)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn on a loop someone else runs: leaves the process' signal handlers to the service
    (FastStream stops it on SIGTERM, and stops this server in order), and says when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket: bound here, so a taken port fails the service's start with an
    OSError (uvicorn's own bind would exit the process) and port 0 tells the port chosen."""
    family, *_ = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class HealthServer:
    """`/healthz`, `/readyz` and `/metrics` of one service: a Starlette app served by uvicorn
    on the service's own event loop (a well-kept server parses HTTP: a malformed request gets
    uvicorn's 400)."""

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
        self.app = NeverRaise(
            Starlette(
                routes=[
                    Route("/healthz", self._healthz, methods=["GET"]),
                    Route("/readyz", self._readyz, methods=["GET"]),
                    Route("/metrics", self._metrics, methods=["GET"]),
                ],
                # Starlette answers a failure with this, then raises it on to NeverRaise.
                exception_handlers={HTTPException: _http_problem, Exception: _http_problem},
            )
        )
        self._server: _EmbeddedServer | None = None
        self._serving: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sock = bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        server = _EmbeddedServer(
            uvicorn.Config(
                self.app,
                lifespan="off",
                log_config=None,  # the service's logging
                log_level="warning",  # not uvicorn's start/stop lines in the service's log
                access_log=False,  # a probe every few seconds is not news
                server_header=False,
                timeout_graceful_shutdown=STOP_GRACE_SECONDS,
            )
        )
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="health-server")
        listening = asyncio.create_task(server.listening.wait())
        await asyncio.wait({serving, listening}, return_when=asyncio.FIRST_COMPLETED)
        if not server.listening.is_set():
            listening.cancel()
            sock.close()
            serving.result()  # its failure, if it failed
            raise RuntimeError("health server ended before it listened")
        self._server, self._serving = server, serving
        log.info("event=health_listening host=%s port=%d", self.host, self.port)

    async def stop(self) -> None:
        server, serving = self._server, self._serving
        self._server = self._serving = None
        if server is None or serving is None:
            return
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving

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

    def _stalled(self) -> str:
        """One line per stalled consumer. Not a failure of either probe: the consumer is alive
        and goes on by itself when the database is back (a restart would not help)."""
        return "".join(stall.describe() + "\n" for stall in self.stalls() if stall.active)

    async def _healthz(self, _request: Request) -> Response:
        return PlainTextResponse("ok\n" + self._stalled(), media_type=TEXT)

    async def _readyz(self, _request: Request) -> Response:
        if self.ready():
            return PlainTextResponse("ready\n" + self._stalled(), media_type=TEXT)
        return PlainTextResponse("not ready\n" + self._stalled(), 503, media_type=TEXT)

    async def _metrics(self, request: Request) -> Response:
        # Consumer lag is asked of JetStream only when it is among the samples asked for.
        names = request.query_params.getlist("name[]")
        if not names or any(n.startswith(LAG_METRICS) for n in names):
            await self.refresh_lag()
        return exposition(self.metrics.registry, names)
