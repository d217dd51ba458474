"""kill -9 of a real patrol process mid-stream: nothing lost, nothing applied twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from lookout.kernel.messaging import ensure_streams
from lookout.kernel.settings import Settings
from services.patrol import store
from services.patrol.app import create_kernel
from tests.integration.conftest import consumer_drained, stream_messages, wait_until
from tests.integration.test_patrol_delivery import publish, scan

pytestmark = pytest.mark.nats

EVENTS = 3000


def start_patrol(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "lookout.cli", "run", "patrol"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_killed_mid_stream_then_restarted_stores_every_event_once(
    nats_server: Any, database_url: str, tmp_path: Path, js: JetStreamContext
) -> None:
    env = dict(os.environ)
    env.update(
        LOOKOUT_NATS_URL=nats_server.url,
        LOOKOUT_DATA_DIR=str(tmp_path),
        LOOKOUT_PATROL_DB_URL=database_url,
        LOOKOUT_CONSUMER_BATCH_SIZE="50",  # many small transactions, so the kill lands mid-way
        LOOKOUT_CONSUMER_ACK_WAIT_SECONDS="2",
        # Only the events this test sends: no planned windows, whatever day CI runs on.
        LOOKOUT_TIMERS_ENABLED="false",
    )
    settings = Settings(nats_url=nats_server.url, patrol_db_url=database_url, data_dir=tmp_path)
    await ensure_streams(settings)
    events = [scan(i) for i in range(EVENTS)]
    for e in events:
        await publish(js, e)
    kernel = create_kernel(settings)

    async def stored() -> int:
        try:
            async with kernel.sessions() as session:
                return await store.count_rows(session, store.checkpoint_scans)
        except Exception:  # tables not migrated yet by the child
            return 0

    first = start_patrol(env, tmp_path / "patrol.log")

    async def some_stored() -> bool:
        return await stored() > 0

    await wait_until(some_stored, within=30, what="the first batches to commit")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    at_kill = await stored()

    second = start_patrol(env, tmp_path / "patrol.log")
    try:

        async def all_stored() -> bool:
            return await stored() == EVENTS

        await wait_until(all_stored, within=60, what="every event stored after the restart")
        await wait_until(
            lambda: consumer_drained(js, "PATROL", "patrol-patrol"), within=30, what="drain"
        )
        # Re-sent by a phone after its duplicate window: still no second effect.
        for e in events[:10]:
            await publish(js, e, with_id=False)
        await wait_until(
            lambda: consumer_drained(js, "PATROL", "patrol-patrol"), within=30, what="re-sends"
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=15)
    assert 0 < at_kill <= EVENTS
    assert await stored() == EVENTS
    async with kernel.sessions() as session:
        assert await store.count_rows(session, store.inbox) == EVENTS
    assert await stream_messages(js, "DLQ") == 0
    assert second.returncode == 0
    await kernel.engine.dispose()
