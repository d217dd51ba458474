"""A dead letter always fits under the server's max_payload (issue 13, item 1).

An event just under the 1 MiB limit, stored on CONCERNS before the streams bounded message
size (an older deployment, or a stream an operator created by hand), is refused by patrol. Its
dead letter used to be the original bytes plus the `Lookout-Dlq-*` headers: over the limit, so
the server closed patrol's connection for good, and the critical concern raised after it was
never applied. Now the copy is truncated, says so in a header, names the original by stream and
sequence, and the concern behind it is applied.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from sqlalchemy import select

from lookout.cli.tail import replay_dead_letters
from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import Settings
from services.patrol import store
from services.patrol.app import build_app, create_kernel
from tests.integration.conftest import consumer_drained, running, stream_messages, wait_until

pytestmark = pytest.mark.nats

T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # a Saturday: no check windows, no timers
ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
MAX_PAYLOAD = 1024 * 1024  # nats-server's default
BIG = MAX_PAYLOAD - 100  # fits as published (with its Nats-Msg-Id), not with the DLQ headers


def big_concern() -> bytes:
    """A concern whose note alone is nearly a megabyte: a schema violation (notes stop at
    2000 characters), padded to exactly BIG bytes."""
    body = {
        "event_id": str(uuid.uuid4()), "type": "concern.raised", "school_id": "lhs",
        "occurred_at": "2026-11-28T16:00:00Z", "actor": ACTOR, "concern_id": str(uuid.uuid4()),
        "category": "other", "severity": "low", "note": "",
    }  # fmt: skip
    empty = len(json.dumps(body).encode())
    body["note"] = "x" * (BIG - empty)
    data = json.dumps(body).encode()
    assert len(data) == BIG
    return data


async def test_an_event_just_under_max_payload_is_dead_lettered_and_the_next_is_applied(
    nats_server: Any, js: JetStreamContext, tmp_path: Path
) -> None:
    # The stream as created before it bounded message size.
    await js.add_stream(name="CONCERNS", subjects=["concern.>"])
    big = big_concern()
    ack = await js.publish("concern.lhs.raised", big, headers={"Nats-Msg-Id": "big-1"})
    critical = ConcernRaised.new(
        school_id="lhs", occurred_at=T0, actor=ACTOR, concern_id=uuid.uuid4(), category="weapon",
        severity="critical", zone_id="bath-2s-boys",
    )  # fmt: skip
    await js.publish(
        subject_of(critical),
        critical.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(critical.event_id)},
    )

    settings = Settings(data_dir=tmp_path, nats_url=nats_server.url, timers_enabled=False)
    kernel = create_kernel(settings, ManualClock(T0))
    async with running(kernel, build_app):

        async def applied() -> bool:
            async with kernel.sessions() as session:
                rows = (await session.execute(select(store.concerns.c.concern_id))).all()
            return [r.concern_id for r in rows] == [str(critical.concern_id)]

        await wait_until(applied, within=10, what="the critical concern applied")
        await wait_until(
            lambda: consumer_drained(js, "CONCERNS", "patrol-concerns"),
            within=10,
            what="nothing left unacknowledged",
        )
        assert kernel.broker.connection.is_connected

    assert await stream_messages(js, "DLQ") == 1
    sub = await js.subscribe("dlq.>", ordered_consumer=True)
    letter = await sub.next_msg(timeout=5)
    await sub.unsubscribe()
    headers = letter.headers or {}
    assert letter.subject == "dlq.patrol"
    assert headers["Lookout-Dlq-Stream"] == "CONCERNS"
    assert headers["Lookout-Dlq-Stream-Seq"] == str(ack.seq)
    assert headers["Lookout-Dlq-Subject"] == "concern.lhs.raised"
    assert headers["Lookout-Dlq-Truncated"] == str(BIG)
    assert headers["Lookout-Dlq-Reason"] == (
        "schema violation for concern.raised: note: String should have at most 2000 characters"
        f"; copy truncated to 4096 of {BIG} bytes"
    )
    header_bytes = sum(len(k) + len(v) + 4 for k, v in headers.items()) + 12
    assert len(letter.data) + header_bytes < MAX_PAYLOAD
    assert letter.data == big[:4096]  # the first 4 KiB: enough to see what it was

    # A truncated copy is never replayed: it would publish a different, broken event.
    done = await replay_dead_letters(nats_server.url)
    assert done == [f"DLQ#1 skipped: a truncated copy (the original is CONCERNS seq {ack.seq})"]
    assert await stream_messages(js, "DLQ") == 1
