"""Bench: a critical concern's latency to the principal, with and without a poison flood ahead.

A real nats-server (embedded), the alerts service as its own process (`lookout run alerts`,
SQLite), a real SMTP sink. Without flood: critical concerns one at a time, each published once
the previous one's notification arrived. With flood: before each critical concern, 2,000
messages of JSON nested 3,000 deep on `concern.lhs.raised` (a buggy phone), published in one
pipelined burst; the concern is published right behind them. Latency = from just before the
concern's JetStream publish to receipt of `alert.lhs.notify.principal-okafor`; with the flood
it includes dead-lettering all 2,000 ahead of it (the consumer keeps stream order).
Usage: `.venv/bin/python bench/poison_flood.py [--rounds 5] [--flood 2000]`.
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

from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import subject_of
from services.alerts import domain

ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
NESTED = b"[" * 3000 + b"]" * 3000


async def main(rounds: int, flood: int) -> None:
    rig = await AlertsRig.start("ERROR")
    results: dict[str, list[float]] = {"without flood": [], "with flood": []}
    try:
        nc = await nats.connect(rig.url)
        js = nc.jetstream()
        arrived: dict[str, asyncio.Future[float]] = {}

        async def received(msg: Any) -> None:
            waiting = arrived.get(json.loads(msg.data)["alert_id"])
            if waiting is not None and not waiting.done():
                waiting.set_result(time.perf_counter())

        await nc.subscribe("alert.lhs.notify.principal-okafor", cb=received)
        await rig.consuming(js)

        async def one(label: str, poison: int) -> None:
            if poison:
                acks = [await js.publish_async("concern.lhs.raised", NESTED) for _ in range(poison)]
                await asyncio.gather(*acks)
            event = ConcernRaised.new(
                school_id="lhs", occurred_at=datetime.now(UTC), actor=ACTOR,
                concern_id=uuid.uuid4(), category="weapon", severity="critical", zone_id="gym",
            )  # fmt: skip
            done = asyncio.get_running_loop().create_future()
            arrived[str(domain.alert_id_for(event.event_id))] = done
            started = time.perf_counter()
            await js.publish(subject_of(event), event.model_dump_json().encode())
            results[label].append(await asyncio.wait_for(done, 120) - started)

        await one("without flood", 0)  # warm-up, not counted
        results["without flood"].clear()
        for _ in range(rounds):
            await one("without flood", 0)
            await one("with flood", flood)
        info = await js.consumer_info("CONCERNS", "alerts-concerns")
        dlq = (await js.stream_info("DLQ")).state.messages
        await nc.close()
    finally:
        rig.stop()
    for label, values in results.items():
        print(
            f"{label:>13}: median {statistics.median(values) * 1000:.0f} ms, "
            f"max {max(values) * 1000:.0f} ms over {len(values)} critical concerns"
        )
    print(
        f"dead-lettered {dlq} of {rounds * flood} poison messages; "
        f"left unacknowledged {info.num_ack_pending}, redelivered {info.num_redelivered}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--flood", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.flood))
