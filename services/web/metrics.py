"""The web service's Prometheus metrics, served at `/metrics` on its health port
(LOOKOUT_HEALTH_PORT) beside `/healthz` and `/readyz`, never on the public port.

Counted from the HTTP answers by one outermost middleware, so every route is counted the same
way and no route carries metrics code:

- requests by route *template* (`/signin/{token}`, never the path: it may hold a one-time
  sign-in token), method and status class;
- phone events by the receipt the phone got (`stored`, `duplicate`, `rejected`);
- sign-in failures (a wrong password, an unknown/used/expired link) and refusals while an
  account or address is locked out (429);
- Server-Sent Events streams open now.

Labels hold only route templates, methods, status classes and fixed words: no school, person,
token or event content.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry, Counter, Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lookout.kernel.health import exposition
from services.web.middleware import send_problem

log = logging.getLogger("lookout.web")

EVENTS_ROUTE = ("POST", "/api/v1/events")
PASSWORD_SIGN_IN = ("POST", "/signin")
LINK_SIGN_IN = "/signin/{token}"
OIDC_SIGN_IN = "/signin/oidc/callback"  # back from Google or Microsoft: a 4xx is a refusal
UNROUTED = "unrouted"  # no route matched (a 404): the path is not a label either
RECEIPTS = ("stored", "duplicate", "rejected")
# The largest receipts body read for counting (100 receipts are about 12 KiB).
MAX_RECEIPTS_BYTES = 256 * 1024


class WebMetrics:
    """The web's counters, in a registry of its own (tests run several apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "lookout_web_requests",
            "HTTP requests answered, by route template, method and status class",
            ["route", "method", "status"],
            registry=r,
        )
        self.events = Counter(
            "lookout_web_events",
            "Phone events answered by POST /api/v1/events, by receipt "
            "(stored: JetStream stored it; duplicate: it already had it; rejected: never stored)",
            ["outcome"],
            registry=r,
        )
        self.sign_in_failures = Counter(
            "lookout_web_signin_failures",
            "Failed sign-ins: a wrong school, person or password, an unknown, used or "
            "expired one-time link, or a Google or Microsoft account refused (oidc)",
            ["method"],
            registry=r,
        )
        self.lockouts = Counter(
            "lookout_web_signin_lockouts",
            "Password sign-ins refused because the account or the address is locked out (429)",
            registry=r,
        )
        self.streams = Gauge(
            "lookout_web_sse_connections",
            "Server-Sent Events streams open now",
            registry=r,
        )
        for outcome in RECEIPTS:
            self.events.labels(outcome)
        for method in ("password", "link", "oidc"):
            self.sign_in_failures.labels(method)

    def answered(self, route: str, method: str, status: int, body: bytes | None) -> None:
        """Count one answered request (`body`: the answer's bytes when they are receipts)."""
        self.requests.labels(route, method, f"{status // 100}xx").inc()
        if (method, route) == PASSWORD_SIGN_IN and status == 401:
            self.sign_in_failures.labels("password").inc()
        elif (method, route) == PASSWORD_SIGN_IN and status == 429:
            self.lockouts.inc()
        elif route == LINK_SIGN_IN and status == 404:  # the link's page or its button
            self.sign_in_failures.labels("link").inc()
        elif route == OIDC_SIGN_IN and 400 <= status < 500:  # not a provider that is down
            self.sign_in_failures.labels("oidc").inc()
        if body is not None:
            self._receipts(body)

    def _receipts(self, body: bytes) -> None:
        try:
            results = json.loads(body)["results"]
            statuses = [r["status"] for r in results]
        except (ValueError, KeyError, TypeError):
            log.warning("event=metrics_receipts_unreadable")
            return
        for status in statuses:
            if status in RECEIPTS:
                self.events.labels(status).inc()


def route_template(scope: Scope) -> str:
    """The matched route's template (`/t/{school}/{tag}`, `/static`), never the path."""
    return str(getattr(scope.get("route"), "path", UNROUTED))


class CountRequests:
    """Outermost middleware: counts what each request was answered (after the security
    headers and the body bound have had their say), and the SSE streams open."""

    def __init__(self, app: ASGIApp, *, metrics: WebMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: int | None = None
        route = UNROUTED
        streaming = False
        receipts: list[bytes] | None = None

        async def observe(message: Message) -> None:
            nonlocal status, route, streaming, receipts
            if message["type"] == "http.response.start":
                status = int(message["status"])
                route = route_template(scope)  # routing has happened by now
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/event-stream"):
                    streaming = True
                    self.metrics.streams.inc()
                if (scope["method"], route) == EVENTS_ROUTE and status == 200:
                    receipts = []
            elif message["type"] == "http.response.body" and receipts is not None:
                receipts.append(message.get("body", b""))
                if sum(map(len, receipts)) > MAX_RECEIPTS_BYTES:
                    receipts = None
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            if streaming:
                self.metrics.streams.dec()
            if status is not None:
                body = b"".join(receipts) if receipts is not None else None
                self.metrics.answered(route, scope["method"], status, body)


def health_port(app: Any) -> ASGIApp:
    """What the health port serves: the app's `/healthz` and `/readyz`, its metrics at
    `/metrics` (`?name[]=…` narrows them), and a problem+json 404 for anything else."""
    metrics: WebMetrics = app.state.metrics

    async def health(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] in ("/healthz", "/readyz"):
            await app(scope, receive, send)
        elif scope["path"] == "/metrics" and scope["method"] in ("GET", "HEAD"):
            names = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("name[]", [])
            await exposition(metrics.registry, names)(scope, receive, send)
        else:
            await send_problem(send, 404, "Not found")

    return health
