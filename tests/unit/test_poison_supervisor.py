"""`lookout up`'s supervisor restarts a live service that is not ready for longer than a bound
(issue 13, item 1). Real child processes stand in for the services: one answers `/readyz` with
503 forever (alive, not ready: its NATS connection gone for good), one with 200."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from lookout.local.readiness import ReadinessWatch
from lookout.local.runtime import Supervisor

FAKE_SERVICE = """
import os, http.server
class Probe(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response({status})
        self.end_headers()
    def log_message(self, *args):
        pass
address = (os.environ["LOOKOUT_HEALTH_HOST"], int(os.environ["LOOKOUT_HEALTH_PORT"]))
http.server.HTTPServer(address, Probe).serve_forever()
"""


def test_a_live_service_not_ready_past_the_bound_is_restarted_and_a_ready_one_is_not(
    tmp_path: Path,
) -> None:
    reports: list[str] = []
    env = {"PATH": "/usr/bin:/bin"}  # no LOOKOUT_HEALTH_PORT: the supervisor gives each one
    supervisor = Supervisor(["patrol", "alerts"], env, tmp_path, reports.append)
    patrol, alerts = supervisor.children
    patrol.argv = [sys.executable, "-c", FAKE_SERVICE.format(status=503)]
    alerts.argv = [sys.executable, "-c", FAKE_SERVICE.format(status=200)]
    supervisor.readiness = ReadinessWatch(not_ready_seconds=1.0, probe_every_seconds=0.1)
    supervisor.start()
    try:
        assert patrol.env["LOOKOUT_HEALTH_PORT"] != alerts.env["LOOKOUT_HEALTH_PORT"]
        assert patrol.env["LOOKOUT_HEALTH_HOST"] == "127.0.0.1"
        first_alerts = alerts.proc.pid if alerts.proc else None
        deadline = time.monotonic() + 15
        while patrol.restarts == 0:
            assert time.monotonic() < deadline, f"patrol never restarted: {reports}"
            supervisor.check()
            time.sleep(0.05)  # the supervisor's own loop checks every 0.2 s
        assert patrol.alive()
        assert alerts.restarts == 0 and alerts.proc is not None
        assert alerts.proc.pid == first_alerts
        assert reports[0].startswith("patrol not ready for ")
        assert reports[0].endswith("s; stopping it to restart")
        assert reports[1].startswith("patrol exited (code -15); restarting in 0.5s")
        assert reports[2] == "patrol restarted (restart #1)"
        assert len(reports) == 3
    finally:
        supervisor.stop()
