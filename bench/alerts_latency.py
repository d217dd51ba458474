"""Bench: concern raised -> the principal's notify subject, with 1,000 events/s of background.

A real nats-server (embedded), the alerts service as its own process (`lookout run alerts`,
SQLite unless --db), a real SMTP sink. Background: 800 checkpoint scans/s (PATROL, not read
by alerts) and 200 concern updates/s (read by the alerts consumer, which ignores them).
Measured: critical concerns at 20/s; latency = from just before the JetStream publish of
`concern.lhs.raised` to receipt of `alert.lhs.notify.principal-okafor`. Everyone is put on
duty so the bench runs at any hour.
Usage: `.venv/bin/python bench/alerts_latency.py [--seconds 20] [--db URL]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import nats
from alerts_rig import AlertsRig  # a bench runs as a script: bench/ is on sys.path

from lookout.contracts.patrol import CheckpointScanned, ConcernRaised, ConcernUpdated
from lookout.contracts.subjects import subject_of
from services.alerts import domain

ACTOR = {"kind": "sso_device", "id": "phone-rivera"}


def now() -> datetime:
    return datetime.now(UTC)


async def main(seconds: float, db: str | None, rate: int) -> None:
    rig = await AlertsRig.start("WARNING", db)
    latencies: list[float] = []
    sent: dict[str, float] = {}
    background = 0
    try:
        nc = await nats.connect(rig.url)
        js = nc.jetstream()

        async def received(msg: Any) -> None:
            started = sent.pop(json.loads(msg.data)["alert_id"], None)
            if started is not None:
                latencies.append(time.perf_counter() - started)

        await nc.subscribe("alert.lhs.notify.principal-okafor", cb=received)
        await rig.consuming(js)
        updates = [uuid.uuid4() for _ in range(50)]

        async def publish(event: Any) -> None:
            await js.publish(
                subject_of(event),
                event.model_dump_json().encode(),
                headers={"Nats-Msg-Id": str(event.event_id)},
            )

        async def noise() -> None:
            nonlocal background
            tick = 0
            next_at = time.perf_counter()  # absolute schedule: a slow tick is caught up
            while True:
                batch = []
                for i in range(rate // 100):  # every 10 ms: 1,000/s by default
                    if i % 5 != 4:  # 4 of 5 are scans
                        batch.append(
                            CheckpointScanned.new(
                                school_id="lhs", occurred_at=now(), actor=ACTOR,
                                zone_id="bath-1n-boys", checkpoint_tag="T-1NB", method="nfc",
                            )
                        )  # fmt: skip
                    else:
                        batch.append(
                            ConcernUpdated.new(
                                school_id="lhs", occurred_at=now(), actor=ACTOR,
                                concern_id=updates[tick % 50], severity="medium",
                            )
                        )  # fmt: skip
                # Pipelined (publish_async): one publisher awaiting each PubAck in turn could
                # not reach 1,000 events/s here.
                acks = [
                    await js.publish_async(
                        subject_of(e),
                        e.model_dump_json().encode(),
                        headers={"Nats-Msg-Id": str(e.event_id)},
                    )
                    for e in batch
                ]
                await asyncio.gather(*acks)
                background += len(batch)
                tick += 1
                next_at += 0.01
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

        async def measured() -> None:
            while True:
                event = ConcernRaised.new(
                    school_id="lhs", occurred_at=now(), actor=ACTOR,
                    concern_id=uuid.uuid4(), category="weapon", severity="critical",
                    zone_id="gym", student_refs=["S-1001"],
                )  # fmt: skip
                sent[str(domain.alert_id_for(event.event_id))] = time.perf_counter()
                await publish(event)
                await asyncio.sleep(0.05)

        t0 = time.perf_counter()
        tasks = [asyncio.create_task(noise()), asyncio.create_task(measured())]
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        elapsed = time.perf_counter() - t0
        await asyncio.sleep(1.0)  # let the last notifications arrive
        await nc.close()
    finally:
        rig.stop()
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=100)
    print(
        f"alerts latency ({'sqlite' if not db else db.split(':')[0]}): concern.raised -> "
        f"alert.lhs.notify.principal-okafor, {len(lat)} concerns (missing {len(sent)}), "
        f"background {background / elapsed:.0f} events/s; p50 {q[49] * 1000:.1f} ms, "
        f"p99 {q[98] * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--background", type=int, default=1000, help="events/s of background")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.db, args.background))
