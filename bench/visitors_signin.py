"""Front-office sign-in round trip: request → screening against a 10,000-row watchlist → reply.

Starts its own nats-server and one visitors service process (`lookout run visitors`) on a
temporary SQLite file, with a synthetic 10,000-entry watchlist, then signs visitors in one at a
time over request-reply and reports p50/p99/max. The baseline, measured in the same run, is a
raw nats-py request-reply round trip to a responder that only echoes. Target (issue 5): p99 of
the sign-in round trip ≤ 50 ms.

    .venv/bin/python bench/visitors_signin.py --signins 500
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nats
import yaml

from lookout.kernel.settings import EXAMPLE_SCHOOL
from lookout.local.runtime import EmbeddedNats

FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Ana",
    "José",
    "Wei",
    "Fatima",
    "Olu",
    "Priya",
    "Mateo",
]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
        "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Nguyen", "Okafor", "Kowalski",
        "Haddad"]  # fmt: skip


SYLLABLES = ["ba", "ker", "mon", "ti", "son", "dra", "vel", "lo", "ric", "han", "sen", "qui",
             "mar", "do", "wen", "fal", "zo", "gri", "pet", "ros", "ka", "len", "bur", "ni",
             "sto", "vic", "ham", "el", "tor", "gu"]  # fmt: skip


def surname(rng: random.Random) -> str:
    """A plausible, mostly distinct surname (3 syllables: 27,000 combinations)."""
    return "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def write_school(tmp: Path, entries: int, rng: random.Random) -> Path:
    with open(tmp / "watchlist.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["entry_id", "first_name", "last_name", "date_of_birth", "kind", "note"])
        for i in range(entries):
            last = rng.choice(LAST) if i % 10 == 0 else surname(rng)
            out.writerow([f"WL-{i:05d}", rng.choice(FIRST), last, "", "banned", ""])
    school = yaml.safe_load(EXAMPLE_SCHOOL.read_text())
    school["watchlist"] = {"csv_path": "watchlist.csv"}
    path = tmp / "lhs.yaml"
    path.write_text(yaml.safe_dump(school))
    return path


async def baseline(url: str, count: int) -> list[float]:
    nc = await nats.connect(url)

    async def echo(msg: object) -> None:
        await msg.respond(msg.data)  # type: ignore[attr-defined]

    await nc.subscribe("bench.echo", cb=echo)
    other = await nats.connect(url)
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        await other.request("bench.echo", b'{"ok": true}', timeout=5)
        times.append(time.perf_counter() - t0)
    await other.close()
    await nc.close()
    return times


async def sign_ins(url: str, count: int, rng: random.Random) -> tuple[list[float], int]:
    nc = await nats.connect(url)
    times, errors = [], 0
    for i in range(count):
        request = {
            "request_id": str(uuid.uuid4()),
            "first_name": rng.choice(FIRST),
            "last_name": surname(rng),
            "visitor_type": "parent",
            "id_type": "drivers_license",
            "id_last4": f"{i % 10000:04d}",
            "purpose": "Parent-teacher conference",
            "host_id": "ap-chen",
            "destination_zones": ["main-office"],
            "expected_minutes": 30,
        }
        t0 = time.perf_counter()
        reply = await nc.request(
            "command.lhs.visitors.sign_in.office-garcia", json.dumps(request).encode(), timeout=10
        )
        times.append(time.perf_counter() - t0)
        errors += not json.loads(reply.data).get("ok")
    await nc.close()
    return times, errors


async def wait_for_service(url: str, deadline: float) -> None:
    nc = await nats.connect(url)
    try:
        while time.monotonic() < deadline:
            try:
                await nc.request("query.lhs.visitors.roster.cli", b"{}", timeout=1)
                return
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                await asyncio.sleep(0.2)
        raise TimeoutError("visitors service did not answer")
    finally:
        await nc.close()


def start_service(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "lookout.cli", "run", "visitors"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def run(count: int, entries: int) -> None:
    rng = random.Random(48)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        school = write_school(tmp, entries, rng)
        server = EmbeddedNats(store_dir=tmp / "nats").start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
        env.update(
            LOOKOUT_NATS_URL=server.url,
            LOOKOUT_DATA_DIR=str(tmp / "data"),
            LOOKOUT_SCHOOLS=str(school),
            LOOKOUT_LOG_LEVEL="WARNING",
        )
        proc = start_service(env, tmp / "visitors.log")
        try:
            try:
                await wait_for_service(server.url, time.monotonic() + 60)
            except TimeoutError:
                print((tmp / "visitors.log").read_text()[-3000:])
                raise
            raw = await baseline(server.url, count)
            await sign_ins(server.url, 20, rng)  # warm-up
            signin, errors = await sign_ins(server.url, count, rng)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            server.stop()

    def ms(x: float) -> str:
        return f"{x * 1000:.2f} ms"

    print(f"load average        {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
    print(f"watchlist entries   {entries}")
    print(f"round trips         {count} each (sign-ins answered with an error: {errors})")
    print(f"{'':20}{'p50':>12}{'p99':>12}{'max':>12}")
    for name, values in (("raw request-reply", raw), ("sign-in", signin)):
        print(
            f"{name:20}{ms(statistics.median(values)):>12}"
            f"{ms(percentile(values, 0.99)):>12}{ms(max(values)):>12}"
        )
    print(f"p99 ratio sign-in / raw: {percentile(signin, 0.99) / percentile(raw, 0.99):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--signins", type=int, default=500)
    parser.add_argument("--watchlist", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(run(args.signins, args.watchlist))


if __name__ == "__main__":
    main()
