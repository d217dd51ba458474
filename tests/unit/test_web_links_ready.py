"""`lookout up` / `lookout demo` print the web's sign-in links only once a link can be opened:
the health port's `/readyz` answering 200 is not enough, because uvicorn binds the web port
after the app's start-up (CI clicked a link in that window and was refused)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lookout.cli.web_links import wait_until_web_ready
from lookout.local.runtime import free_port


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/readyz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # quiet
        pass


@dataclass
class _Child:
    name: str
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def ready_health_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_ready_health_port_but_no_web_listener_is_not_ready(ready_health_port: int) -> None:
    web_port = free_port()  # nothing listens here
    child = _Child("web", {"LOOKOUT_HEALTH_PORT": str(ready_health_port),
                           "LOOKOUT_WEB_PORT": str(web_port)})  # fmt: skip
    assert wait_until_web_ready([child], "127.0.0.1", timeout_seconds=0.5) is False


def test_ready_health_port_and_a_listening_web_port_is_ready(ready_health_port: int) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        web_port = int(listener.getsockname()[1])
        child = _Child("web", {"LOOKOUT_HEALTH_PORT": str(ready_health_port),
                               "LOOKOUT_WEB_PORT": str(web_port)})  # fmt: skip
        # A wildcard bind address is probed on loopback.
        assert wait_until_web_ready([child], "0.0.0.0", timeout_seconds=5) is True


def test_no_web_child_is_not_ready() -> None:
    assert wait_until_web_ready([_Child("patrol")], timeout_seconds=0.5) is False
