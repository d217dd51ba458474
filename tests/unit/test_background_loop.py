"""The background loop every timer, relay and mailer runs on: stopping lets the pass in hand
finish (a pass cancelled mid-transaction left SQLite locked for the next process), and still
ends a pass that hangs."""

from __future__ import annotations

import asyncio

from lookout.kernel.background import BackgroundLoop


async def test_stop_lets_the_pass_in_hand_finish_and_runs_no_further_pass() -> None:
    entered = asyncio.Event()
    release = asyncio.Event()
    passes: list[str] = []

    async def step() -> float | None:
        passes.append("started")
        entered.set()
        await release.wait()  # a transaction in progress
        passes.append("committed")
        return None

    loop = BackgroundLoop("test", step, interval_seconds=0.0)
    loop.start()
    await entered.wait()
    stopping = asyncio.create_task(loop.stop(grace_seconds=30))
    await asyncio.sleep(0)  # stop has begun waiting
    assert not stopping.done()
    release.set()
    await stopping
    assert passes == ["started", "committed"]
    assert not loop.running


async def test_a_pass_that_outstays_the_grace_is_cancelled() -> None:
    entered = asyncio.Event()
    outcome: list[str] = []

    async def step() -> float | None:
        entered.set()
        try:
            await asyncio.Event().wait()  # an SMTP server that never answers
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        return None

    loop = BackgroundLoop("test", step, interval_seconds=1.0)
    loop.start()
    await entered.wait()
    await loop.stop(grace_seconds=0.01)
    assert outcome == ["cancelled"]
    assert not loop.running


async def test_stop_while_waiting_for_the_next_pass_runs_no_further_pass() -> None:
    passes: list[int] = []
    passed = asyncio.Event()

    async def step() -> float | None:
        passes.append(1)
        passed.set()
        return 3600.0  # next pass in an hour

    loop = BackgroundLoop("test", step, interval_seconds=1.0)
    loop.start()
    await passed.wait()
    await loop.stop(grace_seconds=30)
    assert passes == [1]
    assert not loop.running
