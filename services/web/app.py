"""The web service: the people's clients over HTTPS. FastAPI (on Starlette, served by uvicorn)
because it writes the OpenAPI document from the same pydantic models the contracts use (and
schemathesis fuzzes that document); the routes live in one module per noun, this file wires
them and the middlewares in order, and opens the database and the NATS connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import nats
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from lookout.kernel.clock import Clock, SystemClock
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.nats_connect import connect_options
from lookout.kernel.settings import Settings, load_schools
from lookout.kernel.storage import make_engine, make_sessionmaker, upgrade_database
from services.web import (
    ack_links,
    alerts_board,
    calendar_feed,
    console_calendar,
    console_closed,
    console_concerns,
    console_overview,
    console_reports,
    desk_drill,
    events,
    front_desk,
    live,
    oidc,
    pages,
    problems,
    push,
    roster,
    sensor_ingress,
    sensor_mail,
    signin,
    sms_webhook,
    suite_time,
    today,
)
from services.web.deps import SignInFirst, WebState
from services.web.metrics import CountRequests, WebMetrics, health_port
from services.web.middleware import BodyLimit, SecurityHeaders
from services.web.oidc_providers import Providers
from services.web.store import MIGRATIONS

__all__ = ["MIGRATIONS", "create_app"]

log = logging.getLogger("lookout.web")


# nats-py's default callbacks print a traceback for every refused subject or lost connection;
# one line is what an operator needs. The server's text names at most a subject, and subjects
# carry school and person ids, never a student's or visitor's details.
async def _nats_error(exc: Exception) -> None:
    log.warning("event=nats_error error=%s detail=%r", type(exc).__name__, str(exc)[:200])


def _nats_disconnected(stopping: asyncio.Event) -> Callable[[], Awaitable[None]]:
    async def disconnected() -> None:
        if not stopping.is_set():  # our own drain at shutdown is no news for an operator
            log.warning("event=nats_disconnected")

    return disconnected


async def _nats_reconnected() -> None:
    log.info("event=nats_reconnected")


def create_app(
    settings: Settings | None = None, clock: Clock | None = None, suite_clock: Clock | None = None
) -> FastAPI:
    """`clock` times sessions, links and sign-in limits (default: the wall clock, even under a
    simulated LOOKOUT_CLOCK: a demo's sign-in link must not expire in a second and a half);
    `suite_clock` is the time events are judged by (default: `clock` when given, else
    LOOKOUT_CLOCK's), as every consumer judges them."""
    settings = settings or Settings()
    schools = load_schools(settings)  # a bad school file fails here, before anything starts
    oidc_providers = Providers(settings, schools)  # and a provider without its client secret
    sensor_mail.check(settings)  # and a sensor mail listener without its address
    suite_clock = suite_clock or clock or settings.make_clock()
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url("web"))
        await upgrade_database(engine, MIGRATIONS, "web")
        if settings.provision_streams:
            await ensure_streams(settings, schools)
        stopping = asyncio.Event()
        nc = await nats.connect(
            settings.nats_servers(),
            max_reconnect_attempts=-1,  # ride out a broker restart
            reconnect_time_wait=0.5,
            error_cb=_nats_error,
            disconnected_cb=_nats_disconnected(stopping),
            reconnected_cb=_nats_reconnected,
            **connect_options(settings),
        )
        state = WebState(
            settings, clock, suite_clock, schools, make_sessionmaker(engine), nc, nc.jetstream()
        )
        app.state.web = state
        hub = live.LiveHub(schools)  # the phones' live updates: core NATS subscriptions
        await hub.start(nc)
        app.state.live = hub
        mail = await sensor_mail.start(state, app.state.sensor_metrics)
        try:
            yield
        finally:
            await sensor_mail.stop(mail)
            await hub.stop()
            stopping.set()
            await nc.drain()
            await engine.dispose()

    app = FastAPI(
        title="Lookout web",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # no third-party assets: Swagger UI would load them from a CDN
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    problems.install(app)
    app.state.oidc = oidc_providers

    @app.exception_handler(SignInFirst)
    async def _sign_in_first(_request: Request, exc: SignInFirst) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    # Middlewares, outermost last: headers on every answer (even a 413), then the body bound;
    # the metrics (served on the health port only) count what each request was answered.
    app.state.metrics = WebMetrics()
    sensor_ingress.install(app)  # its counters, in the same registry
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders, hsts=settings.web_tls())
    app.add_middleware(CountRequests, metrics=app.state.metrics)

    app.include_router(signin.router)
    app.include_router(oidc.router)
    app.include_router(ack_links.router)
    app.include_router(pages.router)
    app.include_router(events.router)
    app.include_router(roster.router)
    app.include_router(today.router)
    app.include_router(live.router)
    app.include_router(alerts_board.router)
    app.include_router(console_overview.router)
    app.include_router(console_closed.router)
    app.include_router(console_concerns.router)
    app.include_router(console_reports.router)
    app.include_router(front_desk.router)
    app.include_router(desk_drill.router)
    app.include_router(suite_time.router)
    app.include_router(push.router)
    app.include_router(sms_webhook.router)
    app.include_router(sensor_ingress.router)
    app.include_router(calendar_feed.router)
    app.include_router(console_calendar.router)
    app.include_router(console_calendar.page_router)
    # The modules and the stylesheet go gzip'd (a phone's first load, on a weak signal). Only
    # static files: a page carries its CSRF token, and compressing secrets next to reflected
    # input is what BREACH reads.
    static = StaticFiles(directory=pages.STATIC, check_dir=False)
    app.mount("/static", GZipMiddleware(static, minimum_size=512), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        state: WebState | None = getattr(request.app.state, "web", None)
        ready = state is not None and state.nc is not None and state.nc.is_connected
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    return app


async def serve(settings: Settings) -> None:
    """Serve the web app with uvicorn until SIGTERM/SIGINT (`lookout run web`): its own TLS
    when a certificate is set; behind a proxy, the client address from `X-Forwarded-For` sent
    by the addresses uvicorn trusts (`FORWARDED_ALLOW_IPS`, default 127.0.0.1). With
    LOOKOUT_HEALTH_PORT set, `/healthz`, `/readyz` and `/metrics` answer there (`/metrics` only
    there), as every service's do, for `lookout up`'s supervisor, the orchestrator's probes and
    Prometheus."""
    import uvicorn

    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.web_host,
            port=settings.web_port,
            ssl_certfile=str(settings.web_tls_cert) if settings.web_tls_cert else None,
            ssl_keyfile=str(settings.web_tls_key) if settings.web_tls_key else None,
            proxy_headers=settings.web_behind_proxy,
            server_header=False,
            log_config=None,  # the suite's logging
            access_log=False,  # it would print paths (a one-time sign-in link's token)
            lifespan="on",
        )
    )
    servers = [server]
    if settings.health_port is not None:
        servers.append(
            uvicorn.Server(
                uvicorn.Config(
                    health_port(app),
                    host=settings.health_host,
                    port=settings.health_port,
                    server_header=False,
                    log_config=None,
                    access_log=False,
                    lifespan="off",
                )
            )
        )

    def stop() -> None:
        hub = getattr(app.state, "live", None)
        if hub is not None:  # uvicorn waits for open responses: end the SSE streams first
            hub.end_all("stopping")
        for each in servers:
            each.should_exit = True

    # uvicorn re-raises SIGTERM after its graceful shutdown (exit by the signal); like the
    # other services, stop gracefully and exit 0.
    loop = asyncio.get_running_loop()
    for each in servers:
        each.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)

    async def main() -> None:
        try:
            await server.serve()
        finally:
            stop()  # the health port goes when the app goes

    await asyncio.gather(main(), *(each.serve() for each in servers[1:]))
    if not server.started:  # start-up failed (no database, no NATS): the supervisor restarts
        raise SystemExit(3)
