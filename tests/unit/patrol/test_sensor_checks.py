"""Sensor alerts become zone checks (Tiny High, Monday 23 November 2026, Chicago time): a vape
alert in bathroom A asks the on-duty SSO nearest to it — the one whose last scan was there,
else the one seen last, else the first on duty — to scan the zone within the school's five
minutes; a second alert of the sensor while that check is open folds in; the first scan of the
zone after the alert ends it with the response time, however late; a deadline passed without
one is `sensor_check.missed`. A scan the service took in before the alert (the PATROL stream
ahead of SENSORS) ends the check at once. An unknown sensor, or one in a zone the school file
does not place it in, is refused with the field named."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from lookout.contracts.patrol import CheckpointScanned
from lookout.contracts.sensors import SensorAlertRaised
from lookout.kernel.clock import ManualClock
from lookout.school.config import SchoolConfig
from services.patrol.sensor_rules import LastSeen, nearest_officer
from tests.unit.patrol.test_today import ask
from tests.unit.patrol.tiny_school import SCHOOL, Day, at, started_day

SCHOOL_FILE = copy.deepcopy(SCHOOL)
SCHOOL_FILE["people"] = [
    {"id": "sso-kim", "name": "Jo Kim", "roles": ["sso"]},
    {"id": "sso-ortiz", "name": "Lu Ortiz", "roles": ["sso"]},
    {"id": "ap-diaz", "name": "Ana Diaz", "roles": ["assistant_principal"]},
]
SCHOOL_FILE["sensors"] = {
    "check_minutes": 5,
    "devices": [
        {"id": "halo-a", "vendor": "halo", "zone": "bath-a", "mac": "00:1a:2b:3c:4d:5e"},
        {"id": "halo-c", "vendor": "halo", "zone": "cafeteria", "name": "HALO Cafe"},
    ],
}
ORTIZ_PHONE = {"kind": "sso_device", "id": "phone-ortiz"}


def sid(n: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-8000-0000000c{n:04d}")


def raised(n: int, hhmm: str, sensor: str = "halo-a", zone: str = "bath-a") -> SensorAlertRaised:
    return SensorAlertRaised(
        event_id=sid(n), type="sensor.alert.raised", school_id="tiny", occurred_at=at(hhmm),
        actor={"kind": "sensor", "id": sensor}, sensor_id=sensor, zone_id=zone, kind="vape",
        vendor="halo",
    )  # fmt: skip


def scan_by_ortiz(zone: str, tag: str, hhmm: str) -> CheckpointScanned:
    return CheckpointScanned.new(
        school_id="tiny", occurred_at=at(hhmm), actor=ORTIZ_PHONE, zone_id=zone,
        checkpoint_tag=tag, method="nfc",
    )  # fmt: skip


@pytest.fixture
async def day(database_url: str, tmp_path: Any) -> AsyncIterator[Day]:
    d = await started_day(database_url, ManualClock(at("07:00")), tmp_path, SCHOOL_FILE)
    await d.heartbeat("07:01")  # phone-kim is sso-kim's
    await d.heartbeat("07:01", device="phone-ortiz", officer="sso-ortiz")
    yield d
    await d.kernel.engine.dispose()


def sensor_outputs(events: list[Any]) -> list[dict[str, Any]]:
    return [
        e.model_dump(mode="json", exclude={"event_id", "actor", "school_id", "schema_version"})
        for e in events
        if e.type.startswith("sensor_check.")
    ]


def z(hhmm: str) -> str:
    return at(hhmm).isoformat().replace("+00:00", "Z")


async def test_the_sso_seen_in_the_zone_is_asked_and_the_first_scan_ends_the_check(
    day: Day,
) -> None:
    await day.scan("cafeteria", "T-C", "09:50")  # sso-kim, by her phone
    day.clock.set(at("09:40"))
    await day.apply(day.handlers.checkpoint_scans, scan_by_ortiz("bath-a", "T-A", "09:40"))
    day.clock.set(at("10:00"))
    await day.apply(day.handlers.sensor_checks.sensor_events, raised(1, "10:00"))
    # The same sensor again a minute later (its alert email, say): folded, nobody asked twice.
    day.clock.set(at("10:01"))
    await day.apply(day.handlers.sensor_checks.sensor_events, raised(2, "10:01"))
    await day.scan("bath-a", "T-A", "10:02")  # sso-kim gets there first
    await day.tick_at("10:06")  # past the deadline: nothing missed, it was checked
    assert sensor_outputs(await day.emitted()) == [
        {
            "type": "sensor_check.assigned",
            "occurred_at": z("10:00"),
            "officer_id": "sso-ortiz",  # her last scan was in bathroom A
            "zone_id": "bath-a",
            "sensor_event_id": str(sid(1)),
            "sensor_kind": "vape",
            "raised_at": z("10:00"),
            "check_by": z("10:05"),
        },
        {
            "type": "sensor_check.done",
            "occurred_at": z("10:02"),
            "zone_id": "bath-a",
            "sensor_event_id": str(sid(1)),
            "sensor_kind": "vape",
            "raised_at": z("10:00"),
            "checked_at": z("10:02"),
            "response_seconds": 120,
            "in_time": True,
            "officer_id": "sso-kim",
        },
    ]


async def test_an_unchecked_zone_is_missed_at_its_deadline_and_a_late_scan_still_ends_it(
    day: Day,
) -> None:
    day.clock.set(at("10:00"))
    await day.apply(day.handlers.sensor_checks.sensor_events, raised(1, "10:00"))
    await day.tick_at("10:04")
    await day.tick_at("10:05")
    await day.tick_at("10:06")
    # A new alert of the sensor once the first is escalating is a check of its own.
    day.clock.set(at("10:07"))
    await day.apply(day.handlers.sensor_checks.sensor_events, raised(2, "10:07"))
    await day.scan("bath-a", "T-A", "10:09")  # ends both
    outputs = sensor_outputs(await day.emitted())
    assert [(o["type"], o["sensor_event_id"], o["occurred_at"]) for o in outputs] == [
        ("sensor_check.assigned", str(sid(1)), z("10:00")),
        ("sensor_check.missed", str(sid(1)), z("10:05")),
        ("sensor_check.assigned", str(sid(2)), z("10:07")),
        ("sensor_check.done", str(sid(1)), z("10:09")),
        ("sensor_check.done", str(sid(2)), z("10:09")),
    ]
    assert outputs[1] == {
        "type": "sensor_check.missed",
        "occurred_at": z("10:05"),
        "zone_id": "bath-a",
        "sensor_event_id": str(sid(1)),
        "sensor_kind": "vape",
        "raised_at": z("10:00"),
        "check_by": z("10:05"),
    }
    assert [(o["response_seconds"], o["in_time"]) for o in outputs[3:]] == [
        (540, False),
        (120, True),
    ]


async def test_a_scan_taken_in_before_the_alert_ends_its_check_at_once(day: Day) -> None:
    await day.scan("bath-a", "T-A", "10:01")
    day.clock.set(at("10:02"))  # the alert (set at 10:00) arrives after the scan
    await day.apply(day.handlers.sensor_checks.sensor_events, raised(1, "10:00"))
    await day.tick_at("10:06")
    outputs = sensor_outputs(await day.emitted())
    assert [(o["type"], o.get("response_seconds"), o.get("officer_id")) for o in outputs] == [
        ("sensor_check.done", 60, "sso-kim")
    ]


async def test_an_unknown_sensor_or_a_moved_one_is_refused_naming_the_field(day: Day) -> None:
    stranger = raised(1, "10:00", sensor="halo-z")
    moved = raised(2, "10:00", sensor="halo-c", zone="bath-a")
    async with day.kernel.sessions.begin() as session:
        refused = await day.handlers.sensor_checks.sensor_events(session, [stranger, moved])
    assert refused == {
        sid(1): "sensor_id: not a sensor of the school file",
        sid(2): "zone_id: not the zone the school file places the sensor in",
    }
    assert sensor_outputs(await day.emitted()) == []


def test_nearest_officer_prefers_the_zone_then_the_latest_seen_then_the_first_on_duty() -> None:
    school = SchoolConfig.model_validate(SCHOOL_FILE)
    monday = at("10:00")
    seen = {
        "sso-kim": LastSeen("cafeteria", at("09:58")),
        "sso-ortiz": LastSeen("bath-a", at("09:30")),
    }
    assert nearest_officer(school, "bath-a", seen, monday) == "sso-ortiz"
    assert nearest_officer(school, "entrance", seen, monday) == "sso-kim"  # seen last
    assert nearest_officer(school, "entrance", {}, monday) == "sso-kim"  # first in the file
    saturday = datetime(2026, 11, 28, 16, 0, tzinfo=monday.tzinfo)
    assert nearest_officer(school, "bath-a", seen, saturday) is None  # nobody on duty


async def test_today_lists_each_unchecked_sensor_alert_to_every_sso(day: Day) -> None:
    """At 10:06 the 10:00 alert is overdue and the 10:04 one in the cafeteria still open; both
    were asked of sso-ortiz (her scan in bathroom A; the only SSO seen scanning), and every
    SSO sees both, since any scan of the zone ends them. The assistant principal has no phone
    patrol: no sensor checks in her Today."""
    day.clock.set(at("09:40"))
    await day.apply(day.handlers.checkpoint_scans, scan_by_ortiz("bath-a", "T-A", "09:40"))
    day.clock.set(at("10:00"))
    await day.apply(day.handlers.sensor_checks.sensor_events, raised(1, "10:00"))
    day.clock.set(at("10:04"))
    cafe = raised(2, "10:04", sensor="halo-c", zone="cafeteria")
    await day.apply(day.handlers.sensor_checks.sensor_events, cafe)
    await day.tick_at("10:06")
    kim = await ask(day, "sso-kim", "10:06")
    assert (kim["sensor_checks"], kim["sensor_checks_total"]) == (
        [
            {
                "sensor_event_id": str(sid(1)), "zone_id": "bath-a", "sensor_kind": "vape",
                "raised_at": z("10:00"), "check_by": z("10:05"), "overdue": True,
                "mine": False,
            },
            {
                "sensor_event_id": str(sid(2)), "zone_id": "cafeteria", "sensor_kind": "vape",
                "raised_at": z("10:04"), "check_by": z("10:09"), "overdue": False,
                "mine": False,
            },
        ],
        2,
    )  # fmt: skip
    ortiz = await ask(day, "sso-ortiz", "10:06")
    assert [c["mine"] for c in ortiz["sensor_checks"]] == [True, True]
    diaz = await ask(day, "ap-diaz", "10:06")
    assert (diaz["sensor_checks"], diaz["sensor_checks_total"]) == ([], 0)
