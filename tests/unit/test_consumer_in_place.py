"""The consumer error policy on a transient failure: the same batch is retried in place until it
commits, its messages kept alive meanwhile, and nothing is nak'ed and passed over (issue 12,
item 7). Batches are handed to a kernel consumer as JetStream messages whose acknowledgements
are written to a journal; the database is a real SQLite file, the failures come from the apply.

The pauses between retries are the consumer's own (0.5 s, then 1 s): real time, kept to one or
two retries a test. ack_wait is 0.3 s here, so the keep-alive runs during every pause.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faststream.nats import TestNatsBroker
from nats.aio.msg import Msg
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import CheckpointScanned
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from lookout.kernel.stall import Stall
from lookout.kernel.storage import upgrade_database
from lookout.kernel.stream_consumer import StreamConsumer
from services.patrol.app import MIGRATIONS, create_kernel

T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
DURABLE = "patrol-held"
LABELS = {"service": "patrol", "stream": "PATROL", "consumer": DURABLE}

Journal = list[tuple[int, str, Any]]


def scan(i: int) -> CheckpointScanned:
    return CheckpointScanned.new(
        school_id="lhs", occurred_at=T0 + timedelta(seconds=i), actor=ACTOR,
        zone_id="bath-1n-boys", checkpoint_tag="T-1NB", method="nfc",
    )  # fmt: skip


class JournalMsg(Msg):
    """A JetStream message whose acknowledgements go to a journal instead of a server."""

    def __init__(self, journal: Journal, seq: int, event: Event) -> None:
        reply = f"$JS.ACK.PATROL.{DURABLE}.1.{seq}.{seq}.1795000000000000000.0"
        data = event.model_dump_json().encode()
        super().__init__(_client=None, subject=subject_of(event), reply=reply, data=data)  # type: ignore[arg-type]
        self.seq = seq
        self.journal = journal

    async def ack(self) -> None:
        self.journal.append((self.seq, "ack", None))
        self._ackd = True

    async def nak(self, delay: float | None = None) -> None:
        self.journal.append((self.seq, "nak", delay))
        self._ackd = True

    async def term(self) -> None:
        self.journal.append((self.seq, "term", None))
        self._ackd = True

    async def in_progress(self) -> None:
        self.journal.append((self.seq, "in_progress", None))


@dataclass
class FlakyApply:
    """Stands in for a service's apply: records each call's events, and fails as told."""

    kernel: ServiceKernel
    transient: dict[uuid.UUID | None, int] = field(default_factory=dict)  # None: any batch
    poison: set[uuid.UUID] = field(default_factory=set)
    calls: list[list[uuid.UUID]] = field(default_factory=list)
    stalled_gauge: list[float | None] = field(default_factory=list)
    called: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(
        self, session: AsyncSession, events: Sequence[Event]
    ) -> Mapping[uuid.UUID, str]:
        ids = [e.event_id for e in events]
        self.calls.append(ids)
        self.stalled_gauge.append(
            self.kernel.metrics.registry.get_sample_value("lookout_consumer_stalled", LABELS)
        )
        self.called.set()
        if self.poison & set(ids):
            raise KeyError("a bug this event triggers")
        for key in (None, *ids):
            if self.transient.get(key, 0) > 0:
                self.transient[key] -= 1
                raise OperationalError("INSERT", {}, Exception("database is locked"))
        return {}


@dataclass
class Held:
    kernel: ServiceKernel
    apply: FlakyApply
    consumer: StreamConsumer
    journal: Journal = field(default_factory=list)

    def batch(self, events: Sequence[Event]) -> list[Msg]:
        return [JournalMsg(self.journal, i + 1, e) for i, e in enumerate(events)]

    def settled(self) -> Journal:
        """The journal without the keep-alives: what each message ended as, in order."""
        return [j for j in self.journal if j[1] != "in_progress"]

    def kept_alive(self) -> set[int]:
        return {seq for seq, what, _ in self.journal if what == "in_progress"}

    def kept_alive_after_settling(self) -> set[int]:
        settled: set[int] = set()
        late: set[int] = set()
        for seq, what, _ in self.journal:
            if what == "in_progress" and seq in settled:
                late.add(seq)
            elif what != "in_progress":
                settled.add(seq)
        return late


@pytest.fixture
async def held(tmp_path: Path) -> AsyncIterator[Held]:
    settings = Settings(data_dir=tmp_path, consumer_ack_wait_seconds=0.3)
    kernel = create_kernel(settings, ManualClock(T0))
    await upgrade_database(kernel.engine, MIGRATIONS, "patrol")
    apply = FlakyApply(kernel)
    consumer = kernel.consume("PATROL", apply, subject="patrol.>", name="held")
    async with TestNatsBroker(kernel.broker):  # dead letters are published in memory
        yield Held(kernel, apply, consumer)
    await kernel.engine.dispose()


async def test_a_transient_failure_retries_the_same_batch_in_place_until_it_commits(
    held: Held,
) -> None:
    events = [scan(1), scan(2), scan(3)]
    held.apply.transient[None] = 2  # the database is away for two attempts
    await held.consumer.deliver(held.batch(events))

    ids = [e.event_id for e in events]
    assert held.apply.calls == [ids, ids, ids]  # the same batch, whole, in stream order
    assert held.settled() == [(1, "ack", None), (2, "ack", None), (3, "ack", None)]
    assert held.kept_alive() == {1, 2, 3}  # in_progress while held: never redelivered
    assert held.kept_alive_after_settling() == set()
    # Stalled from the first failure until the commit; counted once.
    assert held.apply.stalled_gauge == [0.0, 1.0, 1.0]
    registry = held.kernel.metrics.registry
    assert registry.get_sample_value("lookout_consumer_stalled", LABELS) == 0.0
    assert registry.get_sample_value("lookout_consumer_stalled_seconds", LABELS) == 0.0
    assert registry.get_sample_value("lookout_consumer_stalls_total", LABELS) == 1.0
    processed = {"service": "patrol", "outcome": "retried"}
    assert registry.get_sample_value("lookout_events_processed_total", processed) == 6.0


async def test_a_transient_failure_while_isolating_a_poison_holds_that_message_in_place(
    held: Held,
) -> None:
    a, poison, b, c = scan(1), scan(2), scan(3), scan(4)
    held.apply.poison.add(poison.event_id)
    held.apply.transient[b.event_id] = 1  # the database goes away as b is applied alone
    await held.consumer.deliver(held.batch([a, poison, b, c]))

    ids = [e.event_id for e in (a, poison, b, c)]
    assert held.apply.calls == [ids, ids[:1], ids[1:2], ids[2:3], ids[2:3], ids[3:]]
    assert held.settled() == [(1, "ack", None), (2, "term", None), (3, "ack", None),
                              (4, "ack", None)]  # fmt: skip
    assert {3, 4} <= held.kept_alive()  # still in hand during b's pause
    assert held.kept_alive_after_settling() == set()


async def test_stopping_during_a_stall_hands_the_batch_back_at_once(held: Held) -> None:
    held.consumer.stall.first_pause = 60.0  # a pause the stop must cut short
    held.apply.transient[None] = 1_000_000  # the database never comes back
    delivery = asyncio.create_task(held.consumer.deliver(held.batch([scan(1), scan(2)])))
    await held.apply.called.wait()  # the first attempt is under way (it will fail)
    began = time.monotonic()
    await held.consumer.stop()
    outcome = await asyncio.wait_for(delivery, 5.0)

    assert time.monotonic() - began < 1.0
    assert len(held.apply.calls) == 1
    # Handed back for immediate redelivery (no delay), in order; nothing dead-lettered.
    assert held.settled() == [(1, "nak", None), (2, "nak", None)]
    assert (outcome.handed_back, outcome.applied, outcome.dead_lettered) == (2, 0, 0)
    assert not held.consumer.stall.active


def test_the_pause_between_retries_doubles_from_half_a_second_to_five() -> None:
    pauses = [Stall(DURABLE).pause_seconds(n) for n in range(7)]
    assert pauses == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
