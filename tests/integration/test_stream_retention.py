"""Stream ages on a real nats-server (issue 13, item 14): ensure_streams creates the streams with
the schools' retention as `max_age`, brings existing streams (an older install's, an operator's
edit) to it, and the DLQ really drops what is older than its age."""

from __future__ import annotations

from typing import Any

import pytest
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from lookout.kernel.messaging import DLQ_REASON, ensure_streams
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings, load_school
from lookout.school.config import SchoolConfig
from tests.integration.conftest import stream_messages, wait_until

pytestmark = pytest.mark.nats

DAY = 86_400.0


def schools(retention_days: int) -> dict[str, SchoolConfig]:
    lhs = load_school(EXAMPLE_SCHOOL)
    return {"lhs": lhs.model_copy(update={"student_records_retention_days": retention_days})}


async def max_ages(js: JetStreamContext) -> dict[str, float | None]:
    names = ["PATROL", "CONCERNS", "VISITORS", "ALERTS", "REPORTS", "DLQ"]
    return {n: (await js.stream_info(n)).config.max_age for n in names}


async def test_created_streams_keep_student_records_for_the_schools_retention(
    nats_server: Any, js: JetStreamContext
) -> None:
    await ensure_streams(Settings(nats_url=nats_server.url), schools(30))
    assert await max_ages(js) == {
        "PATROL": 30 * DAY,
        "CONCERNS": 30 * DAY,
        "VISITORS": 0.0,  # no limit
        "ALERTS": 30 * DAY,
        "REPORTS": 0.0,
        "DLQ": 30 * DAY,
    }


async def test_existing_streams_are_brought_to_the_retention(
    nats_server: Any, js: JetStreamContext
) -> None:
    # An older install's stream (no max_age) and one an operator set to 5 years by hand.
    await js.add_stream(StreamConfig(name="CONCERNS", subjects=["concern.>"]))
    await js.add_stream(StreamConfig(name="PATROL", subjects=["patrol.>"], max_age=5 * 365 * DAY))
    await js.publish("concern.lhs.raised", b"{}")  # kept: max_age only drops what is too old
    settings = Settings(nats_url=nats_server.url, dlq_max_age_days=14)
    await ensure_streams(settings, schools(90))
    ages = await max_ages(js)
    assert (ages["CONCERNS"], ages["PATROL"], ages["ALERTS"], ages["DLQ"]) == (
        90 * DAY,
        90 * DAY,
        90 * DAY,
        14 * DAY,
    )
    assert await stream_messages(js, "CONCERNS") == 1

    # A school that shortens its retention shortens the streams at the next start.
    await ensure_streams(settings, schools(60))
    ages = await max_ages(js)
    assert (ages["CONCERNS"], ages["PATROL"], ages["ALERTS"], ages["DLQ"]) == (
        60 * DAY,
        60 * DAY,
        60 * DAY,
        14 * DAY,
    )


async def test_the_dlq_drops_dead_letters_older_than_its_age(
    nats_server: Any, js: JetStreamContext
) -> None:
    settings = Settings(nats_url=nats_server.url, dlq_max_age_days=1 / DAY)  # one second
    await ensure_streams(settings, schools(365))
    assert (await js.stream_info("DLQ")).config.max_age == 1.0
    await js.publish("dlq.patrol", b'{"note": "x"}', headers={DLQ_REASON: "test"}, stream="DLQ")
    assert await stream_messages(js, "DLQ") == 1

    async def gone() -> bool:
        return await stream_messages(js, "DLQ") == 0

    await wait_until(gone, within=15.0, what="the dead letter to expire")
