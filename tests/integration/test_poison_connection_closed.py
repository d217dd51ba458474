"""A service whose NATS connection is closed for good exits non-zero (issue 13, item 1).

nats-py closes the connection without reconnecting when the server sends it an error (a payload
over max_payload, an authorization violation). The process used to stay alive, logging
`fetch_failed … ConnectionClosedError` every 5 s and consuming nothing, so neither `lookout up`'s
supervisor nor Kubernetes ever restarted it. Here the real patrol process (`lookout run
patrol`) runs against a real nats-server; the server's configuration is reloaded with a
password the service does not have, and the server closes its connection with an
authorization violation. The service must stop and exit with code 3.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.errors import NotFoundError

from lookout.kernel.service import EXIT_NATS_CLOSED
from lookout.local.runtime import free_port, nats_server_binary, wait_for_port

pytestmark = pytest.mark.nats

OPEN = "listen: 127.0.0.1:{port}\njetstream {{ store_dir: {store} }}\n"
LOCKED = OPEN + 'authorization {{ user: "ops", password: "not-the-service" }}\n'


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, int]]:
    port = free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(OPEN.format(port=port, store=tmp_path / "js"), "utf-8")
    log = open(tmp_path / "nats.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([nats_server_binary(), "-c", str(conf)], stdout=log, stderr=log)
    wait_for_port(port, proc=proc)
    yield proc, conf, port
    proc.terminate()
    proc.wait(10)
    log.close()


async def durable_exists(url: str, stream: str, durable: str) -> bool:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().consumer_info(stream, durable)
        return True
    except NotFoundError:
        return False
    finally:
        await nc.close()


def test_a_service_whose_connection_is_closed_for_good_exits_non_zero(
    server: tuple[subprocess.Popen[bytes], Path, int], tmp_path: Path
) -> None:
    nats_proc, conf, port = server
    url = f"nats://127.0.0.1:{port}"
    env = dict(os.environ) | {
        "LOOKOUT_NATS_URL": url,
        "LOOKOUT_DATA_DIR": str(tmp_path / "data"),
        "LOOKOUT_TIMERS_ENABLED": "false",
    }
    env.pop("LOOKOUT_HEALTH_PORT", None)
    log_path = tmp_path / "patrol.log"
    with open(log_path, "ab") as log:
        service = subprocess.Popen(
            [sys.executable, "-m", "lookout.cli", "run", "patrol"], env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 60
        while not asyncio.run(durable_exists(url, "CONCERNS", "patrol-concerns")):
            assert service.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "patrol never started consuming"
            time.sleep(0.1)  # polls the server until the service's consumer is there
        conf.write_text(LOCKED.format(port=port, store=tmp_path / "js"), "utf-8")
        nats_proc.send_signal(signal.SIGHUP)  # reload: unauthorized clients are disconnected
        try:
            code = service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("patrol stayed alive with its NATS connection closed for good")
        assert code == EXIT_NATS_CLOSED == 3
        text = log_path.read_text()
        assert "event=nats_connection_closed consumer=patrol-" in text
        assert "event=stopping reason=nats_connection_closed" in text
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
