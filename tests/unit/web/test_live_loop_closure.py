"""Loop closure in the live hub: when the alert of a concern is opened, acknowledged or resolved,
the phones of the school get a `today` nudge (their Today answer now says who has it) and the
consoles their `alerts` nudge (one, though a console also hears `today`); an escalation step,
a notification or another source's alert opening nudges the consoles only."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from lookout.contracts.alerts import (
    AlertAcknowledged,
    AlertEscalated,
    AlertOpened,
    AlertResolved,
)
from services.web.live import LiveHub, Push, Stream

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
ALERTS = {"kind": "service", "id": "alerts"}
ALERT = uuid.UUID("00000000-0000-4000-8000-00000000a001")


async def test_an_alerts_outcome_nudges_the_phones_today_and_the_consoles_board() -> None:
    hub = LiveHub(["lhs"])
    phone = hub.open("lhs", "sso-rivera")  # the phone's stream hears `today`
    console = hub.open("lhs", "principal-okafor", nudges=("alerts", "today"))
    board = hub.open("lhs", "ap-chen", nudges=("alerts",))
    opened = AlertOpened.new(
        school_id="lhs", occurred_at=NOW, actor=ALERTS, alert_id=ALERT, dedup_key="k",
        source="concern", severity="high", source_event_id=uuid.uuid4(), zone_id="gym",
        category="conflict", policy="high",
    )  # fmt: skip
    escalated = AlertEscalated.new(
        school_id="lhs", occurred_at=NOW, actor=ALERTS, alert_id=ALERT, step=1, repeat=0,
        targets=[{"kind": "role", "id": "principal"}],
    )  # fmt: skip
    acked = AlertAcknowledged.new(
        school_id="lhs", occurred_at=NOW, actor=ALERTS, alert_id=ALERT, by_person_id="ap-chen"
    )
    resolved = AlertResolved.new(
        school_id="lhs", occurred_at=NOW, actor=ALERTS, alert_id=ALERT, by_person_id="ap-chen"
    )

    async def read(stream: Stream) -> list[Push | None]:
        """Everything queued, read as the stream's sender reads it (a nudge is one until read)."""
        pushes = []
        while not stream.queue.empty():
            pushes.append(await stream.next())
        return pushes

    def nudge(name: str, because: str) -> Push:
        return Push(name, json.dumps({"because": because}))

    hub.route(opened)
    assert await read(phone) == [nudge("today", "alert.opened")]
    # A console hears `alerts` and `today`: one nudge, not both (each makes it ask again).
    assert await read(console) == [nudge("alerts", "alert.opened")]
    assert await read(board) == [nudge("alerts", "alert.opened")]
    hub.route(escalated)
    assert await read(phone) == []
    assert await read(board) == [nudge("alerts", "alert.escalated")]
    hub.route(acked)
    assert await read(phone) == [nudge("today", "alert.acknowledged")]
    hub.route(resolved)
    assert await read(phone) == [nudge("today", "alert.resolved")]
    assert await read(board) == [nudge("alerts", "alert.acknowledged")]  # one until read
    # Another source's alert (a missed check) opening changes no officer's Today.
    missed = AlertOpened.new(
        school_id="lhs", occurred_at=NOW, actor=ALERTS, alert_id=uuid.uuid4(), dedup_key="m",
        source="check_missed", severity="medium", source_event_id=uuid.uuid4(), zone_id="gym",
        category="check_missed", policy="missed-checks",
    )  # fmt: skip
    hub.route(missed)
    assert await read(phone) == []
