"""Plain ASGI middlewares, one concern each, listed in order in app.py: the security headers
of every response (a CSP with a fresh nonce per response), and the request body bound."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("lookout.web")

# The largest request body accepted (a batch of 100 phone events fits easily).
MAX_BODY_BYTES = 64 * 1024


def content_security_policy(nonce: str) -> str:
    return (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; "
        "object-src 'none'; "
        "frame-ancestors 'none'; "
        "base-uri 'none'"
    )


class SecurityHeaders:
    """Every response: CSP with a per-response nonce (in `request.state.csp_nonce` for the
    templates), nosniff, a same-origin Referrer-Policy, `no-store` unless the route set its own
    Cache-Control (static files revalidate), HSTS when people reach us over HTTPS."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        static = scope["path"].startswith("/static/") or scope["path"] == "/sw.js"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A route may set a stricter policy of its own (an archived email's HTML: no
                # script at all, its inline styles allowed); every other response gets ours.
                own = [
                    v
                    for k, v in message.get("headers", [])
                    if k.lower() == b"content-security-policy"
                ]
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"content-security-policy"
                ]
                names = {k.lower() for k, _ in headers}
                policy = own[0] if own else content_security_policy(nonce).encode()
                headers.append((b"content-security-policy", policy))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-cache" if static else b"no-store"))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=63072000"))
                message = {**message, "headers": headers}
            await send(message)

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # Never a traceback to the client: a problem+json with these headers. The log names
            # the route's template, not the path (`/signin/<token>` is a secret), and the error
            # class, not its message (PostgreSQL's DETAIL quotes the failing row), as the
            # kernel's request logging does.
            route = getattr(scope.get("route"), "path", "unrouted")
            log.error(
                "event=request_failed method=%s route=%s error=%s",
                scope["method"],
                route,
                type(exc).__name__,
            )
            if started:
                raise
            await send_problem(tracking_send, 500, "Internal error")


class BodyLimit:
    """Read at most MAX_BODY_BYTES of a request body before the app sees it; more → 413
    problem+json (a declared Content-Length is refused without reading)."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        await send_problem(send, 413, "Request too large", f"body: at most {self.limit} bytes")


async def send_problem(send: Send, status: int, title: str, detail: str | None = None) -> None:
    """A problem+json answer written straight to ASGI (outside FastAPI's handlers)."""
    problem: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        problem["detail"] = detail
    body = json.dumps(problem).encode()
    headers: list[Any] = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
