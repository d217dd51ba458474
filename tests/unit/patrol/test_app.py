"""The patrol app's subscribers on FastStream's in-memory TestNatsBroker, with a real database.

The app's start-up hook would migrate the database and create the JetStream streams (which needs
a nats-server), so these tests migrate the database themselves and run only the broker in
memory. Batches are handed to the app's own stream consumers as JetStream messages whose
ack/nak/term are recorded; dead letters reach a subscriber on `dlq.patrol` in the DLQ stream.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream import Context
from faststream.nats import TestNatsBroker
from faststream.nats.message import NatsMessage
from nats.aio.msg import Msg
from nats.js.api import AckPolicy
from sqlalchemy import Table, select
from sqlalchemy.exc import OperationalError

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import (
    CheckMissed,
    CheckpointScanned,
    CheckRecovered,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    FollowUpCompleted,
    ObservationLogged,
)
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.messaging import DLQ_REASON, DLQ_SEQUENCE, DLQ_STREAM, DLQ_SUBJECT
from lookout.kernel.service import ServiceKernel
from lookout.kernel.storage import upgrade_database
from services.patrol import store
from services.patrol.app import MIGRATIONS, build_app, create_kernel

ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
T0 = datetime(2026, 11, 23, 14, 40, tzinfo=UTC)
CID = uuid.UUID("0b6f3f7e-9a43-4c55-8f43-5d0e0c1f2a3b")


def scan(i: int = 0, zone: str = "bath-1n-boys", tag: str = "T-1NB") -> CheckpointScanned:
    return CheckpointScanned.new(
        school_id="lhs",
        occurred_at=T0 + timedelta(seconds=i),
        actor=ACTOR,
        zone_id=zone,
        checkpoint_tag=tag,
        method="qr",
    )


Journal = list[tuple[int, str, Any]]


class RecordingMsg(Msg):
    """A JetStream message (the reply subject carries stream, sequence and delivery count)
    whose acknowledgements are written to a journal instead of sent to a server."""

    def __init__(
        self, journal: Journal, stream: str, seq: int, subject: str, data: bytes, delivered: int
    ) -> None:
        durable = f"patrol-{stream.lower()}"
        reply = f"$JS.ACK.{stream}.{durable}.{delivered}.{seq}.{seq}.1795000000000000000.0"
        super().__init__(_client=None, subject=subject, reply=reply, data=data, headers={})  # type: ignore[arg-type]
        self.seq = seq
        self.journal = journal

    async def ack(self) -> None:
        self.journal.append((self.seq, "ack", None))

    async def nak(self, delay: float | None = None) -> None:
        self.journal.append((self.seq, "nak", delay))

    async def term(self) -> None:
        self.journal.append((self.seq, "term", None))


@dataclass
class Patrol:
    kernel: ServiceKernel
    journal: Journal = field(default_factory=list)
    dead: list[NatsMessage] = field(default_factory=list)
    _next_seq: int = 0

    async def deliver(
        self, stream: str, events: Sequence[Event | tuple[str, bytes]], delivered: int = 1
    ) -> list[int]:
        """Hand one batch to the app's subscriber on `stream`; return the stream sequences."""
        msgs = []
        for item in events:
            self._next_seq += 1
            subject, data = (
                item
                if isinstance(item, tuple)
                else (subject_of(item), item.model_dump_json().encode())
            )
            msgs.append(
                RecordingMsg(self.journal, stream, self._next_seq, subject, data, delivered)
            )
        (consumer,) = [
            c for c in self.kernel.stream_consumers if c.durable == f"patrol-{stream.lower()}"
        ]
        await consumer.deliver(msgs)
        return [m.seq for m in msgs]

    async def rows(self, table: Table) -> list[dict[str, Any]]:
        async with self.kernel.sessions() as session:
            result = await session.execute(select(table))
            return [dict(r._mapping) for r in result]


@pytest.fixture
async def patrol(database_url: str, settings_for: Any, clock: ManualClock) -> AsyncIterator[Patrol]:
    clock.set(T0 + timedelta(minutes=30))  # the events below happened in the last half hour
    kernel = create_kernel(settings_for(patrol=database_url), clock)
    await upgrade_database(kernel.engine, MIGRATIONS, "patrol")
    build_app(kernel)
    harness = Patrol(kernel)

    @kernel.broker.subscriber("dlq.patrol", stream="DLQ")
    async def dead_letters(message: NatsMessage = Context("message")) -> None:
        seq = int(message.headers[DLQ_SEQUENCE])
        harness.journal.append((seq, "dlq", message.headers[DLQ_REASON]))
        harness.dead.append(message)

    async with TestNatsBroker(kernel.broker):
        yield harness
    await kernel.engine.dispose()


def assert_dead_letter(dead: NatsMessage, seq: int, stream: str, event: Event, reason: str) -> None:
    assert dead.body == event.model_dump_json().encode()
    assert {k: v for k, v in dead.headers.items() if k.startswith(("Lookout-", "Nats-"))} == {
        DLQ_REASON: reason,
        DLQ_SUBJECT: subject_of(event),
        DLQ_STREAM: stream,
        DLQ_SEQUENCE: str(seq),
        "Nats-Msg-Id": f"dlq-patrol-{stream}-{seq}",
    }


# --- wiring -------------------------------------------------------------------------------------


def test_app_has_one_durable_batch_consumer_per_stream(patrol: Patrol) -> None:
    consumers = {
        c.stream: (c.durable, c.subjects, c.config()) for c in patrol.kernel.stream_consumers
    }
    assert set(consumers) == {"PATROL", "CONCERNS", "ALERTS", "SENSORS", "CALENDAR"}
    for stream, subject in [
        ("PATROL", "patrol.>"),
        ("CONCERNS", "concern.>"),
        ("SENSORS", "sensor.>"),
        ("CALENDAR", "school.>"),
    ]:
        durable, filtered, config = consumers[stream]
        assert (durable, filtered) == (f"patrol-{stream.lower()}", (subject,))
        assert (config.durable_name, config.filter_subject) == (durable, subject)
        assert config.ack_policy == AckPolicy.EXPLICIT
        assert config.ack_wait == 5.0
    # ALERTS: what became of alerts and who was paged (loop closure), one durable, four filters.
    durable, filtered, config = consumers["ALERTS"]
    expected = ("alert.*.opened", "alert.*.notify.*", "alert.*.acknowledged", "alert.*.resolved")
    assert (durable, filtered) == ("patrol-alerts", expected)
    assert (config.durable_name, config.filter_subjects) == (durable, list(expected))
    assert (config.ack_policy, config.ack_wait) == (AckPolicy.EXPLICIT, 5.0)


# --- scans ------------------------------------------------------------------------------------


async def test_valid_scan_is_stored_with_its_values_and_acked(
    patrol: Patrol, clock: ManualClock
) -> None:
    event = scan(7)
    (seq,) = await patrol.deliver("PATROL", [event])

    assert await patrol.rows(store.checkpoint_scans) == [
        {
            "event_id": str(event.event_id),
            "school_id": "lhs",
            "zone_id": "bath-1n-boys",
            "checkpoint_tag": "T-1NB",
            "method": "qr",
            "officer_id": "phone-rivera",
            "scanned_at": datetime(2026, 11, 23, 14, 40, 7, tzinfo=UTC),
        }
    ]
    assert await patrol.rows(store.inbox) == [
        {
            "event_id": str(event.event_id),
            "event_type": "checkpoint.scanned",
            "received_at": clock.now(),
            "digest": hashlib.sha256(event.model_dump_json().encode()).hexdigest(),
        }
    ]
    assert patrol.journal == [(seq, "ack", None)]


async def test_same_event_three_times_in_one_batch_is_stored_once_and_all_acked(
    patrol: Patrol,
) -> None:
    event = scan()
    seqs = await patrol.deliver("PATROL", [event, event, event])

    rows = await patrol.rows(store.checkpoint_scans)
    assert [r["event_id"] for r in rows] == [str(event.event_id)]
    assert len(await patrol.rows(store.inbox)) == 1
    assert patrol.journal == [(s, "ack", None) for s in seqs]


async def test_redelivered_event_in_a_later_batch_has_no_second_effect(patrol: Patrol) -> None:
    event = scan()
    (first,) = await patrol.deliver("PATROL", [event])
    (again,) = await patrol.deliver("PATROL", [event], delivered=2)

    assert len(await patrol.rows(store.checkpoint_scans)) == 1
    assert patrol.journal == [(first, "ack", None), (again, "ack", None)]
    assert patrol.dead == []


async def test_scan_in_unknown_zone_is_dead_lettered_then_terminated(patrol: Patrol) -> None:
    good, bad = scan(1), scan(2, zone="bath-9z-boys")
    s_good, s_bad = await patrol.deliver("PATROL", [good, bad])

    rows = await patrol.rows(store.checkpoint_scans)
    assert [r["event_id"] for r in rows] == [str(good.event_id)]
    assert [r["event_id"] for r in await patrol.rows(store.inbox)] == [str(good.event_id)]
    reason = "zone_id: not a zone of this school"
    assert patrol.journal == [  # refused before the batch is applied
        (s_bad, "dlq", reason),
        (s_bad, "term", None),
        (s_good, "ack", None),
    ]
    (dead,) = patrol.dead
    assert_dead_letter(dead, s_bad, "PATROL", bad, reason)


async def test_copies_of_a_refused_event_are_dead_lettered_once(patrol: Patrol) -> None:
    bad = scan(zone="bath-1n-boys", tag="T-1NG")
    s1, s2 = await patrol.deliver("PATROL", [bad, bad])

    reason = "checkpoint_tag: belongs to another zone than zone_id"
    assert patrol.journal == [(s1, "dlq", reason), (s1, "term", None), (s2, "term", None)]
    assert await patrol.rows(store.checkpoint_scans) == []


REUSED = "event_id: already used by a different event of this type"


async def test_a_different_scan_reusing_an_id_is_refused_in_a_later_batch(patrol: Patrol) -> None:
    first = scan(1)
    other = scan(2, zone="cafeteria", tag="T-CAF-S").model_copy(update={"event_id": first.event_id})
    (s1,) = await patrol.deliver("PATROL", [first])
    (s2,) = await patrol.deliver("PATROL", [other])

    assert patrol.journal == [(s1, "ack", None), (s2, "dlq", REUSED), (s2, "term", None)]
    rows = await patrol.rows(store.checkpoint_scans)
    assert [(r["event_id"], r["zone_id"]) for r in rows] == [(str(first.event_id), "bath-1n-boys")]


async def test_a_different_scan_reusing_an_id_in_the_same_batch_is_refused(
    patrol: Patrol,
) -> None:
    first = scan(1)
    other = scan(2).model_copy(update={"event_id": first.event_id})
    s1, s2, s3 = await patrol.deliver("PATROL", [first, other, first])

    assert patrol.journal == [
        (s1, "ack", None),
        (s2, "dlq", REUSED),
        (s2, "term", None),
        (s3, "ack", None),  # a copy of the first: a redelivery
    ]
    rows = await patrol.rows(store.checkpoint_scans)
    assert [r["scanned_at"] for r in rows] == [T0 + timedelta(seconds=1)]


async def test_an_event_of_another_type_with_a_scans_id_is_its_own_event(patrol: Patrol) -> None:
    # A consumer of concerns never sees the scans, so it cannot tell the id was taken: every
    # consumer keys the inbox by id and type, and all of them apply the concern alike.
    first = scan(1)
    raised = ConcernRaised.new(
        school_id="lhs", occurred_at=T0, actor=ACTOR, concern_id=CID, category="vaping",
        severity="low", zone_id="bath-1n-boys",
    ).model_copy(update={"event_id": first.event_id})  # fmt: skip
    (s1,) = await patrol.deliver("PATROL", [first])
    (s2,) = await patrol.deliver("CONCERNS", [raised])

    assert patrol.journal == [(s1, "ack", None), (s2, "ack", None)]
    inbox = await patrol.rows(store.inbox)
    assert sorted((r["event_id"], r["event_type"]) for r in inbox) == [
        (str(first.event_id), "checkpoint.scanned"),
        (str(first.event_id), "concern.raised"),
    ]
    assert [r["concern_id"] for r in await patrol.rows(store.concerns)] == [str(CID)]


async def test_a_scan_stamped_in_the_future_is_dead_lettered(
    patrol: Patrol, clock: ManualClock
) -> None:
    ahead = scan().model_copy(update={"occurred_at": clock.now() + timedelta(minutes=6)})
    (seq,) = await patrol.deliver("PATROL", [ahead])

    reason = "occurred_at: more than 5 minutes ahead of the server's clock"
    assert patrol.journal == [(seq, "dlq", reason), (seq, "term", None)]
    assert await patrol.rows(store.checkpoint_scans) == []


async def test_own_check_missed_output_is_ignored_but_acked(patrol: Patrol) -> None:
    missed = CheckMissed.new(
        school_id="lhs",
        occurred_at=T0,
        actor={"kind": "service", "id": "patrol"},
        zone_id="cafeteria",
        window_start=T0 - timedelta(minutes=30),
        window_end=T0,
    )
    (seq,) = await patrol.deliver("PATROL", [missed])

    assert patrol.journal == [(seq, "ack", None)]
    assert patrol.dead == []
    assert await patrol.rows(store.checkpoint_scans) == []


async def test_own_recovery_and_follow_up_completed_outputs_are_ignored_but_acked(
    patrol: Patrol,
) -> None:
    service = {"kind": "service", "id": "patrol"}
    recovered = CheckRecovered.new(
        school_id="lhs", occurred_at=T0, actor=service, zone_id="cafeteria",
        window_start=T0 - timedelta(minutes=30), window_end=T0, outcome="late", missed_today=0,
    )  # fmt: skip
    done = FollowUpCompleted.new(
        school_id="lhs", occurred_at=T0, actor=service, concern_id=CID, late=False
    )
    seqs = await patrol.deliver("PATROL", [recovered, done])

    assert patrol.journal == [(s, "ack", None) for s in seqs]
    assert patrol.dead == []


async def test_undecodable_message_is_dead_lettered_with_the_reason(patrol: Patrol) -> None:
    (seq,) = await patrol.deliver("PATROL", [("patrol.lhs.checkpoint.scanned", b"{not json")])

    reason = "undecodable JSON: not JSON"
    assert patrol.journal == [(seq, "dlq", reason), (seq, "term", None)]
    (dead,) = patrol.dead
    assert dead.body == b"{not json"


async def test_mixed_batch_goes_to_each_types_handler(patrol: Patrol) -> None:
    obs = ObservationLogged.new(
        school_id="lhs", occurred_at=T0, actor=ACTOR, zone_id="bath-2s-girls", category="vaping"
    )
    first, second = scan(1), scan(2, zone="cafeteria", tag="T-CAF-S")
    await patrol.deliver("PATROL", [first, obs, second])

    scans = await patrol.rows(store.checkpoint_scans)
    assert sorted(r["event_id"] for r in scans) == sorted(
        [str(first.event_id), str(second.event_id)]
    )
    (stored_obs,) = await patrol.rows(store.observations)
    assert (stored_obs["event_id"], stored_obs["zone_id"], stored_obs["category"]) == (
        str(obs.event_id),
        "bath-2s-girls",
        "vaping",
    )
    assert [kind for _, kind, _ in patrol.journal] == ["ack", "ack", "ack"]


# --- concerns ---------------------------------------------------------------------------------


async def test_concern_raised_updated_resolved_in_one_batch(patrol: Patrol) -> None:
    raised = ConcernRaised.new(
        school_id="lhs",
        occurred_at=T0,
        actor=ACTOR,
        concern_id=CID,
        category="conflict",
        severity="medium",
        zone_id="cafeteria",
        student_refs=["S-104233", "S-104871"],
        note="two students arguing",
    )
    updated = ConcernUpdated.new(
        school_id="lhs",
        occurred_at=T0 + timedelta(minutes=3),
        actor={"kind": "staff", "id": "ap-chen"},
        concern_id=CID,
        severity="high",
        note="pushing started",
    )
    resolved = ConcernResolved.new(
        school_id="lhs",
        occurred_at=T0 + timedelta(minutes=20),
        actor=ACTOR,
        concern_id=CID,
        outcome="referred_to_counselor",
        note="separated, counselor meeting set",
    )
    seqs = await patrol.deliver("CONCERNS", [raised, updated, resolved])

    assert await patrol.rows(store.concerns) == [
        {
            "concern_id": str(CID),
            "school_id": "lhs",
            "category": "conflict",
            "severity": "high",
            "zone_id": "cafeteria",
            "student_refs": ["S-104233", "S-104871"],
            "status": "resolved",
            "outcome": "referred_to_counselor",
            "raised_by_kind": "sso_device",
            "raised_by": "phone-rivera",
            "raised_at": T0,
            "updated_at": T0 + timedelta(minutes=20),
            "resolved_at": T0 + timedelta(minutes=20),
            "purged_at": None,
        }
    ]
    timeline = await patrol.rows(store.concern_timeline)
    assert [
        (r["concern_id"], r["event_id"], r["kind"], r["actor_id"], r["note"], r["at"])
        for r in sorted(timeline, key=lambda r: r["id"])
    ] == [
        (str(CID), str(raised.event_id), "raised", "phone-rivera", "two students arguing", T0),
        (
            str(CID),
            str(updated.event_id),
            "updated",
            "ap-chen",
            "pushing started",
            T0 + timedelta(minutes=3),
        ),
        (
            str(CID),
            str(resolved.event_id),
            "resolved",
            "phone-rivera",
            "separated, counselor meeting set",
            T0 + timedelta(minutes=20),
        ),
    ]
    assert patrol.journal == [(s, "ack", None) for s in seqs]


async def test_resolving_an_unknown_concern_is_dead_lettered(patrol: Patrol) -> None:
    resolved = ConcernResolved.new(
        school_id="lhs", occurred_at=T0, actor=ACTOR, concern_id=CID, outcome="no_action_needed"
    )
    (seq,) = await patrol.deliver("CONCERNS", [resolved])

    reason = "concern_id: unknown (never raised)"
    assert patrol.journal == [(seq, "dlq", reason), (seq, "term", None)]
    (dead,) = patrol.dead
    assert_dead_letter(dead, seq, "CONCERNS", resolved, reason)
    assert await patrol.rows(store.concerns) == []
    assert await patrol.rows(store.concern_timeline) == []
    assert await patrol.rows(store.inbox) == []


# --- failures while applying ------------------------------------------------------------------


async def test_poison_event_is_dead_lettered_alone_and_the_rest_stored(
    patrol: Patrol, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, poison, last = scan(1), scan(2), scan(3)
    original = store.PatrolRepository.add_scans

    async def add_scans(self: store.PatrolRepository, scans: Sequence[CheckpointScanned]) -> None:
        if any(s.event_id == poison.event_id for s in scans):
            raise KeyError("boom")
        await original(self, scans)

    monkeypatch.setattr(store.PatrolRepository, "add_scans", add_scans)
    s1, s2, s3 = await patrol.deliver("PATROL", [first, poison, last])

    rows = await patrol.rows(store.checkpoint_scans)
    assert sorted(r["event_id"] for r in rows) == sorted([str(first.event_id), str(last.event_id)])
    assert sorted(r["event_id"] for r in await patrol.rows(store.inbox)) == sorted(
        [str(first.event_id), str(last.event_id)]
    )
    reason = "processing failed: KeyError"
    assert patrol.journal == [
        (s1, "ack", None),
        (s2, "dlq", reason),
        (s2, "term", None),
        (s3, "ack", None),
    ]
    (dead,) = patrol.dead
    assert_dead_letter(dead, s2, "PATROL", poison, reason)


async def test_a_transient_database_error_holds_the_batch_until_it_is_stored_once(
    patrol: Patrol, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database is away for two attempts: the same batch is retried in place (the kernel's
    policy, lookout/kernel/stall.py), then stored and acknowledged; nothing is nak'ed or
    dead-lettered."""
    events = [scan(1), scan(2)]
    original = store.PatrolRepository.add_scans
    failures = [OperationalError("INSERT", {}, Exception("disk I/O error"))] * 2

    async def add_scans(self: store.PatrolRepository, scans: Sequence[CheckpointScanned]) -> None:
        if failures:
            raise failures.pop()
        await original(self, scans)

    monkeypatch.setattr(store.PatrolRepository, "add_scans", add_scans)
    (consumer,) = [c for c in patrol.kernel.stream_consumers if c.durable == "patrol-patrol"]
    consumer.stall.first_pause = 0.0  # no real waiting between the retries
    seqs = await patrol.deliver("PATROL", events)

    assert patrol.journal == [(s, "ack", None) for s in seqs]
    assert patrol.dead == []
    assert len(await patrol.rows(store.checkpoint_scans)) == 2
    assert (consumer.stall.active, consumer.stall.stalls) == (False, 1)
