"""The health endpoint's HTTP, served by uvicorn (lookout/kernel/health.py) on a real loopback
port: what a well-kept server does with what a hand-written one got wrong — a malformed request
gets a 400 and the server goes on, an unknown path or method gets problem+json, a failure inside
gets a 500 without a traceback, and a stop does not wait on an idle keep-alive connection."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from lookout.kernel.health import HealthServer, ServiceMetrics


@pytest.fixture
async def server() -> AsyncIterator[HealthServer]:
    health = HealthServer(ServiceMetrics("patrol"), ready=lambda: True, consumers=list,
                          jetstream=lambda: None)  # fmt: skip
    await health.start()
    yield health
    await health.stop()


async def raw(port: int, request: bytes) -> bytes:
    """Send bytes as they are and read the answer until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def get(port: int, path: str, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        return await client.request(method, path)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"NOT A REQUEST\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nno colon in this header\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # a TLS hello by mistake
    ],
    ids=["no-request-line", "bad-content-length", "bad-header", "tls-hello"],
)
async def test_a_malformed_request_gets_400_and_the_server_goes_on(
    server: HealthServer, request_bytes: bytes
) -> None:
    answer = await raw(server.port, request_bytes)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer[:80]
    assert b"Traceback" not in answer
    after = await get(server.port, "/healthz")
    assert (after.status_code, after.text) == (200, "ok\n")


async def test_the_probes_answer_as_before(server: HealthServer) -> None:
    healthz, readyz = await get(server.port, "/healthz"), await get(server.port, "/readyz")
    assert (healthz.status_code, healthz.text) == (200, "ok\n")
    assert (readyz.status_code, readyz.text) == (200, "ready\n")
    assert healthz.headers["content-type"] == "text/plain; charset=utf-8"
    assert "server" not in healthz.headers
    head = await get(server.port, "/healthz", "HEAD")
    assert (head.status_code, head.content) == (200, b"")
    server.ready = lambda: False
    assert (await get(server.port, "/readyz")).status_code == 503


async def test_unknown_paths_and_methods_are_problems(server: HealthServer) -> None:
    missing = await get(server.port, "/signin/a-secret-token")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert json.loads(missing.text) == {"type": "about:blank", "title": "Not found", "status": 404}
    posted = await get(server.port, "/metrics", "POST")
    assert posted.status_code == 405
    assert json.loads(posted.text) == {
        "type": "about:blank", "title": "Method not allowed", "status": 405,
    }  # fmt: skip


async def test_a_failure_inside_is_a_500_problem_never_a_traceback(
    server: HealthServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> bool:
        raise RuntimeError("the probe's own bug, with a secret: S-1234")

    server.ready = broken
    caplog.set_level(logging.DEBUG)
    answer = await get(server.port, "/readyz")
    assert answer.status_code == 500
    assert json.loads(answer.text) == {
        "type": "about:blank", "title": "Internal error", "status": 500,
    }  # fmt: skip
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "event=health_request_failed error=RuntimeError"
    ]
    assert not any(r.exc_info for r in caplog.records)
    assert "S-1234" not in caplog.text


async def test_a_stop_does_not_wait_on_an_idle_keep_alive_connection() -> None:
    health = HealthServer(ServiceMetrics("patrol"), ready=lambda: True, consumers=list,
                          jetstream=lambda: None)  # fmt: skip
    await health.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{health.port}") as client:
        assert (await client.get("/healthz")).status_code == 200  # the connection stays open
        await asyncio.wait_for(health.stop(), 5)
        with pytest.raises(httpx.TransportError):
            await client.get("/healthz")


async def test_a_taken_port_fails_the_start_with_os_error(server: HealthServer) -> None:
    second = HealthServer(ServiceMetrics("alerts"), ready=lambda: True, consumers=list,
                          jetstream=lambda: None, port=server.port)  # fmt: skip
    with pytest.raises(OSError):
        await second.start()


def test_the_kernel_serves_http_with_starlette_never_fastapi() -> None:
    """Every kernel module imported in a fresh interpreter: Starlette and uvicorn are loaded,
    FastAPI (the web service's framework) is not."""
    code = (
        "import importlib, pkgutil, sys, lookout.kernel as k\n"
        "for m in pkgutil.iter_modules(k.__path__):\n"
        "    importlib.import_module(f'lookout.kernel.{m.name}')\n"
        "print(sorted(n for n in ('fastapi', 'starlette', 'uvicorn') if n in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == "['starlette', 'uvicorn']\n"
