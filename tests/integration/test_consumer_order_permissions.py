"""A durable with several filter subjects works under a service's own NATS permissions from
`lookout deploy nats-config` (real nats-server with deploy/nats/nats-server.conf): nats-py creates
it through `$JS.API.CONSUMER.CREATE.<stream>.<durable>` (no filter in the subject, unlike a
one-filter durable), and the kernel's update of an existing durable goes the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import nats
import pytest
from nats.aio.msg import Msg

from lookout.kernel.messaging import EventConsumer
from lookout.kernel.nats_connect import connect_options
from lookout.kernel.stream_consumer import StreamConsumer
from tests.integration.conftest import wait_until
from tests.integration.test_security_permissions import Secured, secured  # noqa: F401

pytestmark = pytest.mark.nats

# The alerts service's durable on VISITORS (deploy_nats.SERVICE_CONSUMERS).
DURABLE = "alerts-visitors"
FILTERS = ("visitor.*.overdue", "visitor.*.out_of_bounds", "visitor.*.checked_out")


class Recorder:
    """Stands in for EventConsumer: records each message's subject, acknowledges it."""

    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def consume_messages(self, msgs: Sequence[Msg], apply: Any, stall: Any) -> None:
        for m in msgs:
            self.subjects.append(m.subject)
            await m.ack()


async def test_a_several_subject_durable_is_created_updated_and_fed_under_service_credentials(
    secured: Secured,  # noqa: F811
) -> None:
    settings = secured.settings("svc-alerts")
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    service = await nats.connect(
        settings.nats_servers(), error_cb=on_error, allow_reconnect=False,
        **connect_options(settings),
    )  # fmt: skip
    admin = await nats.connect(secured.server.url, **connect_options(secured.settings("admin")))
    recorder = Recorder()

    def consumer(subjects: tuple[str, ...]) -> StreamConsumer:
        return StreamConsumer(
            stream="VISITORS", subjects=subjects, durable=DURABLE, description="",
            apply=cast(Any, None), consumer=cast(EventConsumer, recorder), settings=settings,
        )  # fmt: skip

    try:
        first = consumer(FILTERS[:2])  # created with two filters
        await first.start(service)
        await first.stop()
        second = consumer(FILTERS)  # the next version adds the check-out: an update
        await second.start(service)
        try:
            for subject in ("visitor.lhs.overdue", "visitor.lhs.sighted",
                            "visitor.lhs.checked_out", "visitor.lhs.out_of_bounds"):  # fmt: skip
                await admin.jetstream().publish(subject, b"{}")

            async def all_three() -> bool:
                return len(recorder.subjects) == 3

            await wait_until(all_three, within=10, what="the three filtered subjects")
        finally:
            await second.stop()
        info = await admin.jetstream().consumer_info("VISITORS", DURABLE)
        await service.flush()  # a refusal of the last acks arrives before this round trip ends
    finally:
        await service.close()
        await admin.close()
    assert recorder.subjects == [
        "visitor.lhs.overdue",
        "visitor.lhs.checked_out",
        "visitor.lhs.out_of_bounds",
    ]
    assert info.config.filter_subjects == list(FILTERS)
    assert errors == []
