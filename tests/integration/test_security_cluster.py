"""A 3-node NATS cluster on loopback (JetStream, `sync_interval: always`, streams at R3): a
publisher and the patrol service run against it; one node — the one the service is connected
to — is killed mid-stream. No acknowledged event is lost, none is applied twice, and the node
rejoins and catches up after a restart."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest
from nats.js.errors import APIError, NoStreamResponseError

from lookout.contracts.patrol import CheckpointScanned
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.settings import Settings
from lookout.local.runtime import free_port, nats_server_binary, wait_for_port
from services.patrol import store
from services.patrol.app import build_app, create_kernel
from tests.integration.conftest import running, wait_until

pytestmark = [pytest.mark.nats, pytest.mark.slow]

T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # a Saturday: timers add nothing
EVENTS = 300
KILL_AFTER = 100


class Node:
    def __init__(self, name: str, base: Path, port: int, route: int, routes: list[int]) -> None:
        self.name, self.port = name, port
        self.config = base / f"{name}.conf"
        self.log = base / f"{name}.log"
        peers = ", ".join(f'"nats-route://127.0.0.1:{r}"' for r in routes if r != route)
        self.config.write_text(
            f"server_name: {name}\n"
            f"listen: 127.0.0.1:{port}\n"
            f'jetstream {{\n  store_dir: "{base / name}"\n  sync_interval: always\n}}\n'
            f"cluster {{\n  name: lookout\n  listen: 127.0.0.1:{route}\n  routes: [{peers}]\n}}\n",
            encoding="utf-8",
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [nats_server_binary(), "-c", str(self.config)], stdout=out, stderr=out
            )
        wait_for_port(self.port, proc=self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[Node]]:
    ports = [free_port() for _ in range(3)]
    routes = [free_port() for _ in range(3)]
    nodes = [Node(f"n{i + 1}", tmp_path, ports[i], routes[i], routes) for i in range(3)]
    for node in nodes:
        node.start()
    yield nodes
    for node in nodes:
        node.kill()


def scan(i: int) -> CheckpointScanned:
    return CheckpointScanned.new(
        school_id="lhs",
        occurred_at=T0 + timedelta(seconds=i),
        actor={"kind": "sso_device", "id": "phone-rivera"},
        zone_id="bath-1n-boys",
        checkpoint_tag="T-1NB",
        method="nfc",
    )


async def test_node_loss_mid_stream_loses_no_acknowledged_event(
    cluster: list[Node], tmp_path: Path
) -> None:
    urls = [n.url for n in cluster]
    settings = Settings(
        data_dir=tmp_path / "data",
        nats_url=cluster[0].url,  # the node that will be killed; the others are discovered
        stream_replicas=3,
        timers_enabled=False,
        consumer_batch_size=50,
    )

    async def streams_ready() -> bool:
        try:
            await ensure_streams(settings)  # needs a JetStream meta leader elected
        except Exception:
            return False
        return True

    await wait_until(streams_ready, within=30, what="JetStream cluster and R3 streams")
    publisher = await nats.connect(urls, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    js = publisher.jetstream(timeout=2)
    acked: set[uuid.UUID] = set()

    async def publish_until_acked(event: CheckpointScanned) -> None:
        body = event.model_dump_json().encode()
        headers = {"Nats-Msg-Id": str(event.event_id)}
        for _ in range(100):  # retry the same event through a failover: same id, no duplicate
            try:
                ack = await js.publish(subject_of(event), body, headers=headers)
            except (nats.errors.TimeoutError, NoStreamResponseError, APIError, ConnectionError):
                await asyncio.sleep(0.1)
                continue
            except nats.errors.Error:
                await asyncio.sleep(0.1)
                continue
            assert ack.stream == "PATROL"
            acked.add(event.event_id)
            return
        raise AssertionError("no PubAck after 100 attempts")

    kernel = create_kernel(settings, ManualClock(T0))
    try:
        async with running(kernel, build_app):
            for i in range(EVENTS):
                if i == KILL_AFTER:
                    cluster[0].kill()  # mid-stream, under the service's connection
                await publish_until_acked(scan(i))

            async def applied_all() -> bool:
                async with kernel.sessions() as session:
                    return await store.count_rows(session, store.inbox) >= len(acked)

            await wait_until(applied_all, within=60, what="every acknowledged scan applied")
            async with kernel.sessions() as session:
                assert await store.count_rows(session, store.inbox) == EVENTS
                assert await store.count_rows(session, store.checkpoint_scans) == EVENTS
        assert len(acked) == EVENTS

        # The killed node restarts and catches up: every replica of PATROL is current.
        cluster[0].start()

        async def replicas_current() -> bool:
            try:
                info = await js.stream_info("PATROL")
            except Exception:
                return False
            peers = info.cluster.replicas if info.cluster else None
            return (
                info.state.messages == EVENTS
                and peers is not None
                and len(peers) == 2
                and all(p.current for p in peers)
            )

        await wait_until(replicas_current, within=30, what="the restarted node to catch up")
    finally:
        await publisher.close()
