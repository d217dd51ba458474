"""`lookout run web`: the web service as its own process under uvicorn on a real port, with a
real nats-server: ready, a person signs in with a link printed by `lookout users link`, a
phone event reaches JetStream, and SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from lookout.local.runtime import free_port, wait_for_port

pytestmark = pytest.mark.nats


def lookout(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lookout.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_web_serves_sign_in_and_events(
    nats_server: Any, js: JetStreamContext, tmp_path: Path
) -> None:
    port, health = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        LOOKOUT_NATS_URL=nats_server.url,
        LOOKOUT_DATA_DIR=str(tmp_path),
        LOOKOUT_WEB_PORT=str(port),
        LOOKOUT_HEALTH_PORT=str(health),
        LOOKOUT_HEALTH_HOST="127.0.0.1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookout.cli", "run", "web"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=30, proc=proc)
        wait_for_port(health, timeout=30, proc=proc)
        with httpx.Client(base_url=f"http://127.0.0.1:{health}") as probe:
            assert probe.get("/readyz").json() == {"ready": True}
            assert probe.get("/healthz").status_code == 200
            assert probe.get("/app").status_code == 404  # only the probes on the health port
        link = lookout("users", "link", "sso-rivera", "--school", "lhs", env=env)
        assert link.returncode == 0, link.stderr
        url = link.stdout.strip()
        assert url.startswith(f"{base}/signin/")
        with httpx.Client(base_url=base, headers={"Origin": base}) as client:
            assert client.get("/readyz").json() == {"ready": True}
            signed_in = client.post(url.removeprefix(base))
            assert signed_in.status_code == 303
            assert "server" not in signed_in.headers
            session = signed_in.headers["set-cookie"].split(";")[0].split("=", 1)[1]
            # Secure (a loopback base URL): httpx would keep it for https, so send it by hand.
            cookie = {"Cookie": f"__Host-lookout={session}"}
            page = client.get("/app", headers=cookie)
            assert page.status_code == 200
            match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
            assert match is not None
            event = {
                "event_id": str(uuid.uuid4()),
                "type": "checkpoint.scanned",
                "occurred_at": datetime.now(UTC).isoformat(),
                "zone_id": "main-office",
                "checkpoint_tag": "T-OFC",
                "method": "nfc",
            }
            answer = client.post(
                "/api/v1/events",
                json={"device_id": "phone-1", "events": [event]},
                headers={"X-CSRF-Token": match.group(1), **cookie},
            )
            assert answer.json() == {
                "results": [{"index": 0, "event_id": event["event_id"], "status": "stored",
                             "reason": None}]
            }  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
