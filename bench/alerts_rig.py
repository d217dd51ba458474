"""What the alerts benches share: a real nats-server (embedded) with the streams, an SMTP sink,
the example school with everyone on duty (whatever the hour the bench runs), and the alerts
service as its own process (`lookout run alerts`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import yaml
from aiosmtpd.controller import Controller
from nats.js import JetStreamContext

from lookout.kernel.messaging import ensure_streams
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.local.runtime import EmbeddedNats, free_port
from lookout.school.config import Weekday


class Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@dataclass
class AlertsRig:
    tmp: Path
    server: EmbeddedNats
    smtp: Controller
    service: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def log(self) -> Path:
        return self.tmp / "alerts.log"

    @classmethod
    async def start(cls, log_level: str, db: str | None = None) -> AlertsRig:
        tmp = Path(tempfile.mkdtemp())
        server = EmbeddedNats(store_dir=tmp / "nats").start()
        smtp = Controller(Sink(), hostname="127.0.0.1", port=free_port())
        smtp.start()
        school = yaml.safe_load(EXAMPLE_SCHOOL.read_text())
        for person in school["people"]:
            person.update(on_duty=[d.value for d in Weekday], on_duty_no_school_days=True)
            person.pop("duty_hours", None)
        (tmp / "school.yaml").write_text(yaml.safe_dump(school))
        env = dict(os.environ) | {
            "LOOKOUT_NATS_URL": server.url, "LOOKOUT_DATA_DIR": str(tmp),
            "LOOKOUT_SCHOOLS": str(tmp / "school.yaml"), "LOOKOUT_SMTP_PORT": str(smtp.port),
            "LOOKOUT_LOG_LEVEL": log_level,
        }  # fmt: skip
        if db:
            env["LOOKOUT_ALERTS_DB_URL"] = db
        await ensure_streams(Settings(nats_url=server.url))
        return cls(tmp, server, smtp, _run_alerts(env, tmp / "alerts.log"))

    @staticmethod
    async def consuming(js: JetStreamContext) -> None:
        """Until the service is up: its durable consumer on CONCERNS exists."""
        while True:
            try:
                await js.consumer_info("CONCERNS", "alerts-concerns")
                return
            except nats.js.errors.NotFoundError:
                await asyncio.sleep(0.1)  # polling another process: nothing to await

    def stop(self) -> None:
        self.service.send_signal(signal.SIGTERM)
        try:
            self.service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"the service did not stop in 30 s (log: {self.log})")
            self.service.kill()
        self.smtp.stop()
        self.server.stop()


def _run_alerts(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "lookout.cli", "run", "alerts"], env=env,
            stdout=subprocess.DEVNULL, stderr=out,
        )  # fmt: skip
