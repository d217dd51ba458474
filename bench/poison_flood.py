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
from alerts_rig import AlertsRig
from nats.js.api import ConsumerConfig, StreamConfig
from pydantic_core import from_json  # a bench runs as a script: bench/ is on sys.path

from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import subject_of
from services.alerts import domain

ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
NESTED = b"[" * 3000 + b"]" * 3000


async def raw_baseline(url: str, rounds: int, flood: int) -> dict[str, list[float]]:
    """The same rounds through raw nats-py: one pull consumer reads the stream in order as the
    service's does (fetch 1, then what is waiting, up to 500), decodes each message with the
    same decoder, copies each undecodable one to a DLQ stream (all of a batch's copies at once,
    then terminates each) and resolves the concern on reading it. No database, no alert: the
    flood's cost to a consumer that must read in order and keep a copy of what it refuses."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="RAWFLOOD", subjects=["rawflood.>"]))
    await js.add_stream(StreamConfig(name="RAWDLQ", subjects=["rawdlq.>"]))
    await js.add_consumer("RAWFLOOD", ConsumerConfig(durable_name="raw", max_ack_pending=2000))
    sub = await js.pull_subscribe("rawflood.>", durable="raw", stream="RAWFLOOD")
    arrived: dict[bytes, asyncio.Future[float]] = {}

    async def consume() -> None:
        while True:
            try:
                msgs = await sub.fetch(1, timeout=5)
            except TimeoutError:
                continue
            waiting = min(msgs[0].metadata.num_pending or 0, 499)
            if waiting:
                msgs += await sub.fetch(waiting, timeout=1)
            poison = []
            for msg in msgs:
                try:
                    from_json(msg.data)
                except ValueError:
                    poison.append(msg)
                    continue
                await msg.ack()
                done = arrived.get(msg.data)
                if done is not None and not done.done():
                    done.set_result(time.perf_counter())
            copies = [
                await js.publish_async("rawdlq.flood", m.data, headers={"Reason": "undecodable"})
                for m in poison
            ]
            await asyncio.gather(*copies)
            for msg in poison:
                await msg.term()

    reader = asyncio.create_task(consume())
    results: dict[str, list[float]] = {"without flood": [], "with flood": []}
    try:
        for i in range(rounds + 1):
            for label, poison in (("without flood", 0), ("with flood", flood)):
                if poison:
                    acks = [await js.publish_async("rawflood.x", NESTED) for _ in range(poison)]
                    await asyncio.gather(*acks)
                body = json.dumps({"round": i, "label": label}).encode()
                done = asyncio.get_running_loop().create_future()
                arrived[body] = done
                started = time.perf_counter()
                await js.publish("rawflood.x", body)
                took = await asyncio.wait_for(done, 120) - started
                if i:  # the first round warms up
                    results[label].append(took)
    finally:
        reader.cancel()
        await nc.close()
    return results


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
        raw = await raw_baseline(rig.url, rounds, flood)
    finally:
        rig.stop()
    for name, figures in (("lookout", results), ("raw nats-py", raw)):
        for label, values in figures.items():
            print(
                f"{name:>11} {label:>13}: median {statistics.median(values) * 1000:.0f} ms, "
                f"max {max(values) * 1000:.0f} ms over {len(values)} rounds"
            )
        added = statistics.median(figures["with flood"]) - statistics.median(
            figures["without flood"]
        )
        print(f"{name:>11} the flood adds {added * 1000:.0f} ms (medians)")
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
