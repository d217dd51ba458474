"""The health endpoint of a service (LOOKOUT_HEALTH_PORT): liveness, readiness and metrics,
against a real nats-server."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest

from lookout.contracts.patrol import CheckpointScanned
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import Settings
from services.patrol.app import build_app, create_kernel
from tests.integration.conftest import running, wait_until

pytestmark = pytest.mark.nats

T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)


async def get(port: int, path: str) -> tuple[int, str]:
    def fetch() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    return await asyncio.to_thread(fetch)


def metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in metrics")


async def test_healthz_readyz_and_metrics(nats_server: Any, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, nats_url=nats_server.url, timers_enabled=False, health_port=0,
        health_host="127.0.0.1",
    )  # fmt: skip
    kernel = create_kernel(settings, ManualClock(T0))
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    try:
        async with running(kernel, build_app):
            assert kernel.health is not None
            port = kernel.health.port
            assert await get(port, "/healthz") == (200, "ok\n")
            assert await get(port, "/readyz") == (200, "ready\n")
            assert (await get(port, "/nope"))[0] == 404
            for i in range(2):
                event = CheckpointScanned.new(
                    school_id="lhs", occurred_at=T0, actor={"kind": "sso_device", "id": f"p{i}"},
                    zone_id="bath-1n-boys", checkpoint_tag="T-1NB", method="nfc",
                )  # fmt: skip
                await js.publish(subject_of(event), event.model_dump_json().encode())
            await js.publish("patrol.lhs.checkpoint.scanned", b"not json")
            prefix = 'lookout_events_processed_total{outcome="%s",service="patrol"}'

            async def counted() -> bool:
                _, text = await get(port, "/metrics")
                return metric(text, prefix % "applied") == 2 and (
                    metric(text, prefix % "dead_lettered") == 1
                )

            await wait_until(counted, what="metrics of 2 applied, 1 dead-lettered")
            status, text = await get(port, "/metrics")
            assert status == 200
            assert metric(text, 'lookout_dlq_messages_total{service="patrol"}') == 1
            lag = 'lookout_consumer_lag{consumer="patrol-patrol",service="patrol",stream="PATROL"}'
            assert metric(text, lag) == 0
            assert metric(text, 'lookout_escalations_fired_total{service="patrol"}') == 0
            # `name[]` narrows the answer to the metrics asked for.
            status, only = await get(port, "/metrics?name[]=lookout_dlq_messages_total")
            samples = [line for line in only.splitlines() if not line.startswith("#")]
            assert (status, samples) == (200, ['lookout_dlq_messages_total{service="patrol"} 1.0'])
            kernel.started = False  # as while stopping: not ready, still alive
            assert (await get(port, "/readyz"))[0] == 503
            assert (await get(port, "/healthz"))[0] == 200
        assert kernel.health is None  # closed with the service
    finally:
        await nc.close()


def test_health_server_is_off_by_default(tmp_path: Path) -> None:
    assert Settings().health_port is None
    kernel = create_kernel(Settings(data_dir=tmp_path), ManualClock(T0))
    assert kernel.health is None
