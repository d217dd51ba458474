"""Patrol queries by area: Tiny High with a Main building (its 1st floor holds bathroom A and the
entrance) and an Annex (the cafeteria). At Monday 23 November 12:00 school time:

- scans: the entrance last Friday 07:20; bathroom A today 08:36 and again 08:37 (same officer,
  same tag: one padding flag); the cafeteria today 11:05;
- concerns in the week to Monday (school days Tue 17 to Fri 20 and Mon 23: 5): bathroom A high
  in pass-1 (3 points), the entrance low in p1 (1), the cafeteria medium at lunch (2).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.patrol_queries import HotspotsRequest, TourStatsRequest, ZoneStatusRequest
from lookout.kernel.clock import ManualClock
from lookout.kernel.queries import Refused
from services.patrol.queries import PatrolQueries
from tests.unit.patrol.tiny_school import ACTOR, SCHOOL, Day, at, started_day

SCHOOL_FILE = copy.deepcopy(SCHOOL)
SCHOOL_FILE["areas"] = [
    {"id": "main", "name": "Main building", "kind": "building"},
    {"id": "main-1", "name": "Main building, 1st floor", "kind": "floor", "parent": "main"},
    {"id": "annex", "name": "Annex", "kind": "building"},
]
for _zone, _area in zip(SCHOOL_FILE["zones"], ["main-1", "main-1", "annex"], strict=True):
    _zone["area"] = _area


def z(hhmm: str, day: int = 23) -> str:
    return at(hhmm, day).isoformat().replace("+00:00", "Z")


@pytest.fixture
async def day(database_url: str, tmp_path: Any) -> AsyncIterator[Day]:
    d = await started_day(database_url, ManualClock(at("06:30", 20)), tmp_path, SCHOOL_FILE)
    await d.scan("entrance", "T-E", "07:20", day=20)
    await d.scan("bath-a", "T-A", "08:36")
    await d.scan("bath-a", "T-A", "08:37")
    await d.scan("cafeteria", "T-C", "11:05")
    raised = [(1, "high", "bath-a", "08:38"), (2, "low", "entrance", "07:50")]
    raised.append((3, "medium", "cafeteria", "11:10"))
    for n, severity, zone, hhmm in raised:
        d.clock.set(at(hhmm))
        event = ConcernRaised.new(
            school_id="tiny", occurred_at=at(hhmm), actor=ACTOR,
            concern_id=uuid.UUID(f"00000000-0000-4000-8000-{n:012d}"), category="vaping",
            severity=severity, zone_id=zone, student_refs=["S-1001"], note="",
        )  # fmt: skip
        await d.apply(d.handlers.concern_events, event)
    d.clock.set(at("12:00"))
    yield d
    await d.kernel.engine.dispose()


def queries(day: Day) -> PatrolQueries:
    return PatrolQueries(day.kernel.sessions, day.clock, day.kernel.schools)


async def test_zone_status_of_one_building_and_the_roll_up(day: Day) -> None:
    school = day.kernel.schools["tiny"]
    reply = await queries(day).zone_status(
        school, ZoneStatusRequest(requested_by="ap-diaz", area="main")
    )
    body = reply.model_dump(mode="json")
    assert [zone["zone_id"] for zone in body["zones"]] == ["bath-a", "entrance"]
    assert body["areas"] == [
        {"area_id": "main", "zones": 2, "checked_today": 1, "last_check_at": z("08:37")},
        {"area_id": "main-1", "zones": 2, "checked_today": 1, "last_check_at": z("08:37")},
    ]
    everything = await queries(day).zone_status(school, ZoneStatusRequest(requested_by="ap-diaz"))
    assert [a.model_dump(mode="json") for a in everything.areas][2] == {
        "area_id": "annex",
        "zones": 1,
        "checked_today": 1,
        "last_check_at": z("11:05"),
    }


async def test_coverage_of_a_floor(day: Day) -> None:
    school = day.kernel.schools["tiny"]
    reply = await queries(day).tour_stats(
        school,
        TourStatsRequest(
            requested_by="ap-diaz",
            area="main-1",
            date_from=at("12:00", 16).date(),
            date_to=at("12:00", 23).date(),
        ),
    )
    assert [(zone.zone_id, zone.scans) for zone in reply.zones] == [("bath-a", 2), ("entrance", 1)]
    assert [o.scans for o in reply.officers] == [3]  # the cafeteria's scan is not on this floor
    assert [a.model_dump() for a in reply.areas] == [
        {"area_id": "main", "zones": 2, "zones_scanned": 2, "scans": 3, "padding_flags": 1},
        {"area_id": "main-1", "zones": 2, "zones_scanned": 2, "scans": 3, "padding_flags": 1},
    ]


async def test_hotspots_of_a_building_and_by_area(day: Day) -> None:
    school = day.kernel.schools["tiny"]
    everywhere = await queries(day).hotspots(
        school, HotspotsRequest(requested_by="ap-diaz", weeks=1)
    )
    assert everywhere.school_days == 5
    assert [(a.area_id, a.score, a.concerns) for a in everywhere.areas] == [
        ("main", 0.8, 2),  # 0.6 (3 / 5) + 0.2 (1 / 5)
        ("main-1", 0.8, 2),
        ("annex", 0.4, 1),
    ]
    main = await queries(day).hotspots(
        school, HotspotsRequest(requested_by="ap-diaz", weeks=1, area="main")
    )
    assert [(h.zone_id, h.period, h.score) for h in main.items] == [
        ("bath-a", "pass-1", 0.6),
        ("entrance", "p1", 0.2),
    ]
    assert [a.area_id for a in main.areas] == ["main", "main-1"]


async def test_an_unknown_area_is_refused_by_name(day: Day) -> None:
    school = day.kernel.schools["tiny"]
    with pytest.raises(Refused, match=r"^area: not an area of this school$"):
        await queries(day).zone_status(
            school, ZoneStatusRequest(requested_by="ap-diaz", area="gym")
        )
