"""The console's "School now" by building and floor (`GET /api/v1/console/now?area=`) against a
real nats-server and the real patrol and alerts services (Lakeside, Monday 23 November 2026,
08:00): the seed of test_web_console_overview scans the cafeteria (07:45) and the main
entrance (07:52), both on the Main building's 1st floor, and misses the 1st floor north hallway
today (07:30) and the 2nd floor south one on Friday. An unknown area is a 422 naming `area`."""

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


async def test_school_now_by_building_and_floor(
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
