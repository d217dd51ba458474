"""by_type: how one stream's batch is handed to the handlers of its event types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import CheckpointScanned, DeviceHeartbeat, ObservationLogged
from lookout.kernel.service import by_type

T0 = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
ACTOR = {"kind": "sso_device", "id": "phone-rivera"}


def scan(i: int) -> CheckpointScanned:
    return CheckpointScanned.new(
        school_id="lhs", occurred_at=T0 + timedelta(seconds=i), actor=ACTOR,
        zone_id="bath-1n-boys", checkpoint_tag="T-1NB", method="nfc",
    )  # fmt: skip


def beat(i: int) -> DeviceHeartbeat:
    return DeviceHeartbeat.new(
        school_id="lhs", occurred_at=T0 + timedelta(seconds=i), actor=ACTOR,
        device_id="phone-rivera", officer_id="sso-rivera",
    )  # fmt: skip


class Calls:
    def __init__(self) -> None:
        self.made: list[tuple[str, list[Event]]] = []

    def handler(self, name: str) -> Any:
        async def handle(session: Any, events: Sequence[Event]) -> dict[Any, str]:
            self.made.append((name, list(events)))
            return {}

        return handle


async def test_in_order_runs_of_one_type_each_make_a_call() -> None:
    calls = Calls()
    apply = by_type(
        {CheckpointScanned: calls.handler("scans"), DeviceHeartbeat: calls.handler("beats")}
    )
    s1, b1, s2, s3, b2 = scan(1), beat(2), scan(3), scan(4), beat(5)
    assert await apply(None, [s1, b1, s2, s3, b2]) == {}  # type: ignore[arg-type]
    assert calls.made == [
        ("scans", [s1]),
        ("beats", [b1]),
        ("scans", [s2, s3]),
        ("beats", [b2]),
    ]


async def test_independent_types_make_one_call_each_in_stream_order_within_the_type() -> None:
    calls = Calls()
    apply = by_type(
        {CheckpointScanned: calls.handler("scans"), DeviceHeartbeat: calls.handler("beats")},
        independent=True,
    )
    s1, b1, s2, s3, b2 = scan(1), beat(2), scan(3), scan(4), beat(5)
    assert await apply(None, [s1, b1, s2, s3, b2]) == {}  # type: ignore[arg-type]
    assert calls.made == [("scans", [s1, s2, s3]), ("beats", [b1, b2])]


async def test_a_type_nobody_handles_is_refused_by_name_unless_ignored() -> None:
    calls = Calls()
    observation = ObservationLogged.new(
        school_id="lhs", occurred_at=T0, actor=ACTOR, zone_id="bath-1n-boys", category="vaping"
    )
    for independent in (False, True):
        apply = by_type({CheckpointScanned: calls.handler("scans")}, independent=independent)
        assert await apply(None, [observation]) == {  # type: ignore[arg-type]
            observation.event_id: "observation.logged is not consumed by this service"
        }
        ignoring = by_type(
            {CheckpointScanned: calls.handler("scans")},
            ignore=[ObservationLogged],
            independent=independent,
        )
        assert await ignoring(None, [observation]) == {}  # type: ignore[arg-type]
    assert calls.made == []
