"""JetStream publish rate with the default fsync vs `sync_interval: always` (deploy/nats).

Same run, same machine, raw nats-py: for each setting a fresh nats-server with a file-store
stream; N publishes awaited one at a time (what a phone or the outbox relay does: wait for the
PubAck), then N publishes pipelined in windows of 256 outstanding PubAcks.

    .venv/bin/python bench/nats_sync.py [--messages 5000] [--size 300]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

import nats

from lookout.local.runtime import free_port, nats_server_binary, wait_for_port


def start(store: Path, sync_always: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    conf = store / "nats.conf"
    sync = "  sync_interval: always\n" if sync_always else ""
    conf.write_text(f'jetstream {{\n  store_dir: "{store / "js"}"\n{sync}}}\n')
    proc = subprocess.Popen(
        [nats_server_binary(), "-c", str(conf), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc=proc)
    return proc, f"nats://127.0.0.1:{port}"


async def measure(url: str, n: int, size: int) -> tuple[float, float]:
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=10)
    await js.add_stream(name="BENCH", subjects=["bench.>"])
    body = b"x" * size
    t0 = time.perf_counter()
    for i in range(n):
        await js.publish("bench.one", body, headers={"Nats-Msg-Id": f"a{i}"})
    sequential = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    window = 256
    for start_at in range(0, n, window):
        batch = [
            js.publish("bench.many", body, headers={"Nats-Msg-Id": f"b{i}"})
            for i in range(start_at, min(n, start_at + window))
        ]
        await asyncio.gather(*batch)
    pipelined = n / (time.perf_counter() - t0)
    await nc.close()
    return sequential, pipelined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--size", type=int, default=300, help="payload bytes (an event is ~300)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"default": [], "always": []}
    for _ in range(args.rounds):
        for label in ("default", "always"):  # interleaved, so drift hits both alike
            with tempfile.TemporaryDirectory() as tmp:
                proc, url = start(Path(tmp), sync_always=label == "always")
                try:
                    results[label].append(asyncio.run(measure(url, args.messages, args.size)))
                finally:
                    proc.terminate()
                    proc.wait()
    print(f"{args.messages} publishes of {args.size} B, best of {args.rounds} rounds (msg/s)")
    print(f"{'sync':10} {'awaited one by one':>20} {'pipelined (256)':>16}")
    best = {k: (max(r[0] for r in v), max(r[1] for r in v)) for k, v in results.items()}
    for label, (seq, pipe) in best.items():
        print(f"{label:10} {seq:20.0f} {pipe:16.0f}")
    d, a = best["default"], best["always"]
    print(f"cost of always: {1 - a[0] / d[0]:.0%} one by one, {1 - a[1] / d[1]:.0%} pipelined")


if __name__ == "__main__":
    main()
