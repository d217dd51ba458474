"""The console's "School now" by building and floor (`GET /api/v1/console/now?area=`) against a
real nats-server and the real patrol and alerts services (Lakeside, Monday 23 November 2026,
08:00): the seed of test_web_console_overview scans the cafeteria (07:45) and the main
entrance (07:52), both on the Main building's 1st floor, and misses the 1st floor north hallway
today (07:30) and the 2nd floor south one on Friday; its concerns, a medium one in the east
stairwell (Main building) on Friday in p6 and a low one in the 1st floor north boys' bathroom
this morning in p1, are the hotspots (`GET /api/v1/console/hotspots?area=`) of the 20 school
days to Monday. An unknown area is a 422 naming `area`."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext

from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from tests.integration.test_web import assert_problem
from tests.integration.test_web_alerts import (
    PRINCIPAL,
    alerts,
    alerts_db,
    clock,
    consoles,
    migrated_alerts_db,
    settings,
)
from tests.integration.test_web_console_overview import patrol, seed, z

__all__ = ["alerts", "alerts_db", "clock", "migrated_alerts_db", "patrol", "settings"]

pytestmark = pytest.mark.nats


def area(area_id: str, name: str, zones: int, checked: int, last: str | None) -> dict[str, object]:
    return {
        "area_id": area_id,
        "name": name,
        "zones": zones,
        "checked_today": checked,
        "last_check_at": last,
    }


async def test_school_now_and_hotspots_by_building_and_floor(
    settings: Settings,
    clock: ManualClock,
    alerts: ServiceKernel,
    patrol: ServiceKernel,
    js: JetStreamContext,
) -> None:
    await seed(js, patrol)
    async with consoles(settings, clock, (PRINCIPAL, "lhs")) as (principal,):
        whole = (await principal.get("/api/v1/console/now")).json()
        assert whole["area"] is None
        assert [a["area_id"] for a in whole["areas"]] == [
            "main",
            "main-1",
            "main-2",
            "gym-building",
            "grounds",
        ]
        assert whole["by_area"] == [
            area("main", "Main building", 16, 2, z(23, 7, 52)),
            area("main-1", "Main building, 1st floor", 9, 2, z(23, 7, 52)),
            area("main-2", "Main building, 2nd floor", 5, 0, None),
            area("gym-building", "Gym building", 4, 0, None),
            area("grounds", "Grounds", 3, 0, None),
        ]

        upstairs = await principal.get("/api/v1/console/now?area=main-2")
        assert upstairs.status_code == 200, upstairs.text
        body = upstairs.json()
        assert body["area"] == "main-2"
        assert [zone["zone_id"] for zone in body["zones"]] == [
            "bath-2s-boys",
            "bath-2s-girls",
            "hall-2-north",
            "hall-2-south",
            "library",
        ]
        # Friday's miss upstairs is not today's; her scans were downstairs.
        assert (body["missed"], body["missed_total"]) == ([], 0)
        assert [(o["name"], o["zone_id"], o["at"]) for o in body["officers"]] == [
            ("Dana Rivera", None, None)
        ]
        assert body["by_area"] == [
            area("main", "Main building", 5, 0, None),
            area("main-2", "Main building, 2nd floor", 5, 0, None),
        ]

        downstairs = (await principal.get("/api/v1/console/now?area=main-1")).json()
        assert len(downstairs["zones"]) == 9
        assert [m["zone_id"] for m in downstairs["missed"]] == ["hall-1-north"]
        assert downstairs["officers"][0]["zone_id"] == "entrance-main"

        wrong = await principal.get("/api/v1/console/now?area=annex")
        assert_problem(wrong, 422)
        assert wrong.json()["detail"] == "area: not an area of this school"

        # Hotspots of the 20 school days to Monday, by building and floor.
        hot = (await principal.get("/api/v1/console/hotspots")).json()
        assert hot["school_days"] == 20
        assert [(h["zone_name"], h["per_school_day"]) for h in hot["hotspots"]] == [
            ("East stairwell", 0.1),  # medium: 2 points / 20 days
            ("1st floor north boys' bathroom", 0.05),  # low: 1 / 20
        ]
        assert hot["by_area"] == [
            {
                "area_id": "main",
                "name": "Main building",
                "per_school_day": 0.15,
                "what": "2 concerns, 0 observations",
            },
            {
                "area_id": "main-1",
                "name": "Main building, 1st floor",
                "per_school_day": 0.05,
                "what": "1 concern, 0 observations",
            },
        ]
        floor = (await principal.get("/api/v1/console/hotspots?area=main-1")).json()
        assert floor["area"] == "main-1"
        assert [h["zone_name"] for h in floor["hotspots"]] == ["1st floor north boys' bathroom"]
        assert [(a["area_id"], a["per_school_day"]) for a in floor["by_area"]] == [
            ("main", 0.05),
            ("main-1", 0.05),
        ]
        wrong = await principal.get("/api/v1/console/hotspots?area=annex")
        assert_problem(wrong, 422)
        assert wrong.json()["detail"] == "area: not an area of this school"
