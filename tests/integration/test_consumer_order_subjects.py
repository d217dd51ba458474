"""One durable with several filter subjects (NATS 2.10 `filter_subjects`) on a real nats-server:
a visitor's overdue, out-of-bounds and checked-out events reach one apply in the order they were
published, so a check-out can never be overtaken by an alert-raising event published before it
(issue 12, item 7: separate durables race each other)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faststream import FastStream
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.envelope import Event
from lookout.contracts.subjects import subject_of
from lookout.contracts.visitors import (
    VisitorCheckedOut,
    VisitorOutOfBounds,
    VisitorOverdue,
    VisitorSighted,
)
from lookout.kernel.clock import ManualClock
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.patrol.app import create_kernel
from tests.integration.conftest import consumer_drained, running, wait_until

pytestmark = pytest.mark.nats

T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
ACTOR = {"kind": "service", "id": "visitors"}
FILTERS = ("visitor.*.overdue", "visitor.*.out_of_bounds", "visitor.*.checked_out")
DURABLE = "patrol-visits"
V1 = uuid.UUID("5a0c3c1e-2b7d-4f7e-9d51-3f4a1e2b9c70")
V2 = uuid.UUID("0e8b7c52-61d4-4c1a-a7e3-2c9d5b1f4a08")


def overdue(visit: uuid.UUID, badge: str) -> VisitorOverdue:
    return VisitorOverdue.new(
        school_id="lhs", occurred_at=T0, actor=ACTOR, visit_id=visit, badge_number=badge,
        expected_until=T0 - timedelta(minutes=30),
    )  # fmt: skip


def out_of_bounds(visit: uuid.UUID, badge: str) -> VisitorOutOfBounds:
    return VisitorOutOfBounds.new(
        school_id="lhs", occurred_at=T0, actor=ACTOR, visit_id=visit, badge_number=badge,
        zone_id="gym", destination_zones=["library"],
    )  # fmt: skip


def checked_out(visit: uuid.UUID, badge: str) -> VisitorCheckedOut:
    return VisitorCheckedOut.new(
        school_id="lhs", occurred_at=T0, actor=ACTOR, visit_id=visit, badge_number=badge,
        method="front_office",
    )  # fmt: skip


class Arrivals:
    """The one apply of the durable: what reached it, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    async def __call__(
        self, session: AsyncSession, events: Sequence[Event]
    ) -> Mapping[uuid.UUID, str]:
        self.events += [(e.type, e.badge_number) for e in events]  # type: ignore[attr-defined]
        return {}


def with_visits(arrivals: Arrivals) -> Callable[[ServiceKernel], FastStream]:
    def build(kernel: ServiceKernel) -> FastStream:
        kernel.consume("VISITORS", arrivals, subjects=FILTERS, name="visits")
        return kernel.app()

    return build


async def publish_visits(js: JetStreamContext) -> None:
    sighted = VisitorSighted.new(
        school_id="lhs", occurred_at=T0, actor=ACTOR, badge_number="B-017", zone_id="gym"
    )
    for event in (
        overdue(V1, "B-017"),
        sighted,  # not among the filters: never delivered
        out_of_bounds(V1, "B-017"),
        checked_out(V1, "B-017"),
        overdue(V2, "B-022"),
        checked_out(V2, "B-022"),
        out_of_bounds(V2, "B-022"),  # published after its check-out: arrives after it
    ):
        await js.publish(subject_of(event), event.model_dump_json().encode())


EXPECTED = [
    ("visitor.overdue", "B-017"),
    ("visitor.out_of_bounds", "B-017"),
    ("visitor.checked_out", "B-017"),
    ("visitor.overdue", "B-022"),
    ("visitor.checked_out", "B-022"),
    ("visitor.out_of_bounds", "B-022"),
]


def make_kernel(nats_server: Any, tmp_path: Path) -> ServiceKernel:
    settings = Settings(data_dir=tmp_path, nats_url=nats_server.url, timers_enabled=False)
    return create_kernel(settings, ManualClock(T0))


async def test_three_subjects_reach_one_apply_in_publish_order(
    nats_server: Any, js: JetStreamContext, tmp_path: Path
) -> None:
    kernel = make_kernel(nats_server, tmp_path)
    arrivals = Arrivals()
    async with running(kernel, with_visits(arrivals)):
        await publish_visits(js)
        await wait_until(lambda: consumer_drained(js, "VISITORS", DURABLE), what="the drain")
        info = await js.consumer_info("VISITORS", DURABLE)
    assert arrivals.events == EXPECTED
    assert (info.config.filter_subject, info.config.filter_subjects) == (None, list(FILTERS))
    assert (info.delivered.stream_seq, info.delivered.consumer_seq) == (7, 6)


async def test_a_durable_left_with_one_filter_is_given_all_of_them_at_start(
    nats_server: Any, js: JetStreamContext, tmp_path: Path
) -> None:
    """pull_subscribe binds to an existing durable as it is; an older deploy's one-filter
    durable would silently miss the other subjects."""
    kernel = make_kernel(nats_server, tmp_path)
    await ensure_streams(kernel.settings)
    await js.add_consumer(
        "VISITORS",
        ConsumerConfig(
            durable_name=DURABLE, filter_subject=FILTERS[0], ack_policy=AckPolicy.EXPLICIT
        ),
    )
    arrivals = Arrivals()
    async with running(kernel, with_visits(arrivals)):
        await publish_visits(js)
        await wait_until(lambda: consumer_drained(js, "VISITORS", DURABLE), what="the drain")
        info = await js.consumer_info("VISITORS", DURABLE)
    assert arrivals.events == EXPECTED
    assert info.config.filter_subjects == list(FILTERS)
    assert info.config.ack_wait == 5.0
