"""Browser fixtures: the system's Chromium driven by Playwright, and a stand-in backend that
serves the real templates and static files with the web service's CSP, and answers
`POST /api/v1/events` as a test scripts it (for the outbox and sync logic alone)."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, select_autoescape

from lookout.kernel.settings import EXAMPLE_SCHOOL, load_school

WEB = Path(__file__).resolve().parents[2] / "services" / "web"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CSRF = "csrf-test-token"
CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'"
)


def require_browser() -> None:
    """Skip (fail under CI=true) with one line naming what to install."""
    missing = None
    if importlib.util.find_spec("playwright") is None:
        missing = "the Python package playwright (pip install -e '.[test]')"
    elif not Path(CHROMIUM).exists():
        missing = "Debian's chromium package (apt-get install chromium)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests need {missing}")
        pytest.skip(f"browser tests need {missing}")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@dataclass
class FakeEvents:
    """What the stand-in's events endpoint does: fail the next N requests, reject by type."""

    fail_next: int = 0
    reject: dict[str, str] = field(default_factory=dict)
    posts: list[list[dict[str, Any]]] = field(default_factory=list)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    device_ids: list[str] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            # The Today card's heartbeats (sent straight, never queued) are kept apart from
            # the outbox's batches that the tests count.
            if body["events"] and all(e["type"] == "device.heartbeat" for e in body["events"]):
                self.heartbeats += body["events"]
                results = [{"event_id": e["event_id"], "status": "stored"} for e in body["events"]]
                return 200, {"results": results}
            self.posts.append(body["events"])
            self.device_ids.append(body["device_id"])
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, {"title": "Service Unavailable", "status": 503}
            # The real service's answer (services/web/events.py): `results`, by position.
            results: list[dict[str, Any]] = []
            for index, event in enumerate(body["events"]):
                eid = event["event_id"]
                receipt = {"index": index, "event_id": eid, "status": "stored", "reason": None}
                if event["type"] in self.reject:
                    receipt |= {"status": "rejected", "reason": self.reject[event["type"]]}
                elif eid in self.stored:
                    receipt["status"] = "duplicate"
                else:
                    self.stored[eid] = event
                results.append(receipt)
            return 200, {"results": results}

    def sent(self, event_id: str) -> int:
        return sum(1 for batch in self.posts for e in batch if e["event_id"] == event_id)


@dataclass
class StandIn:
    url: str
    events: FakeEvents


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    """The real templates and static files behind a stand-in of the web service's API."""
    school = load_school(EXAMPLE_SCHOOL)
    env = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape())
    events = FakeEvents()
    context = {
        "csrf_token": CSRF,
        "school": {
            "id": school.id,
            "name": school.name,
            "student_reference_pattern": school.student_reference_pattern,
        },
        "person": {"id": "sso-rivera", "name": "Dana Rivera"},
        "zones": [
            {"id": z.id, "name": z.name, "checkpoints": list(z.checkpoints)} for z in school.zones
        ],
    }
    tags = {tag: z.id for z in school.zones for tag in z.checkpoints}
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
             ".webmanifest": "application/manifest+json"}  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def send(self, status: int, body: bytes, ctype: str, nonce: str = "x") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP.format(nonce=nonce))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def page(self, name: str, **extra: str) -> None:
            nonce = secrets.token_urlsafe(16)
            html = env.get_template(name).render(context | extra, nonce=nonce, base_url="")
            self.send(200, html.encode(), "text/html; charset=utf-8", nonce)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/app":
                self.page("phone.html")
            elif path.startswith("/t/lhs/") and path[7:] in tags:
                self.page("scan.html", zone_id=tags[path[7:]], tag=path[7:])
            elif path in ("/api/v1/today", "/api/v1/live"):  # no patrol service here
                problem = b'{"title": "Unavailable", "status": 503}'
                self.send(503, problem, "application/problem+json")
            elif path == "/sw.js" or path.startswith("/static/"):
                file = WEB / "static" / path.removeprefix("/static/").lstrip("/")
                if not file.is_file() or ".." in path:
                    self.send(404, b"not found", "text/plain")
                    return
                self.send(200, file.read_bytes(), types.get(file.suffix, "text/plain"))
            else:
                self.send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/api/v1/events" or self.headers.get("X-CSRF-Token") != CSRF:
                self.send(403, b'{"title": "Forbidden"}', "application/problem+json")
                return
            status, answer = events.answer(body)
            ctype = "application/json" if status == 200 else "application/problem+json"
            self.send(status, json.dumps(answer).encode(), ctype)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield StandIn(url=f"http://127.0.0.1:{server.server_port}", events=events)
    server.shutdown()
    server.server_close()


class PageErrors:
    """Console errors, uncaught exceptions and CSP violations seen by a page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )


# The real suite's fixtures (tests/browser/suite.py), for every browser test.
from tests.browser.suite import suite  # noqa: E402, F401
