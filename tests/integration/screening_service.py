"""A stand-in screening service for tests: the HTTP JSON provider's side of the wire
(services/visitors/providers/http_json.py), on this machine (plain HTTP on 127.0.0.1, a free
port).

- `POST /matches` with `Authorization: Bearer <token>`: answered 200 with
  `{"candidates": [...]}` (every candidate it was given, whoever is asked about: scoring is
  Lookout's job) and the request's JSON recorded in `.asked`; a wrong or missing token: 401.
- `answer_with(status, body)`: every later call is answered so (a 503, a body that is not the
  shape); `hang()`: every later call is kept waiting, never answered, until the service stops.

Use:

    with ScreeningService(candidates=[...]) as service:   # options: base_url=service.url,
        ...                                               # token in LOOKOUT_WATCHLIST_TOKEN
        service.asked[0]["last_name"]
        service.stop()    # nobody listening any more: a refused connection
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


def free_port_url() -> str:
    """A URL where nothing listens (a port taken and given back): a refused connection."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class ScreeningService:
    candidates: list[dict[str, Any]] = field(default_factory=list)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    asked: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _status: int = 200
    _body: bytes | None = None
    _hang: bool = False
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer_with(self, status: int, body: bytes) -> None:
        self._status, self._body = status, body

    def hang(self) -> None:
        self._hang = True

    def __enter__(self) -> ScreeningService:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if self.path != "/matches":
                    self._send(404, b"{}")
                    return
                if self.headers.get("Authorization") != f"Bearer {service.token}":
                    self._send(401, b'{"error": "unauthorized"}')
                    return
                service.asked.append(json.loads(raw))
                service.headers.append(dict(self.headers.items()))
                if service._hang:
                    service._stopping.wait(30)  # never answered while the test runs
                    return
                if service._body is not None:
                    self._send(service._status, service._body)
                    return
                self._send(200, json.dumps({"candidates": service.candidates}).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        # A short poll: stopping waits for the serving loop to look up, at most this long.
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop answering and close the port (again: nothing more)."""
        self._stopping.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
