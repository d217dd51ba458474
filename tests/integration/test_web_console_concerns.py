"""The console's concerns page against a real nats-server, the real patrol and alerts services
in process (clocks stopped at Monday 23 November 2026, 08:00 at Lakeside) and the web app:
`GET /api/v1/console/concerns` lists the open concerns with the students' references (never a
note), and the patrol service access-logs the reading under the principal; `GET
/api/v1/console/hotspots` says where trouble gathered in the last four weeks and next week's
focus, in words; district safety and the SSO are refused (403), and the page is a 404 for them."""

from __future__ import annotations

from typing import Any

import pytest
from nats.js import JetStreamContext
from sqlalchemy import select

from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.patrol import store
from tests.integration.test_web import assert_problem
from tests.integration.test_web_alerts import (
    PRINCIPAL,
    SSO,
    alerts,
    alerts_db,
    clock,
    consoles,
    migrated_alerts_db,
    settings,
)
from tests.integration.test_web_console_overview import DISTRICT, NEW, OLD, patrol, seed

__all__ = ["alerts", "alerts_db", "clock", "migrated_alerts_db", "patrol", "settings"]

pytestmark = pytest.mark.nats

EN_DASH = "\N{EN DASH}"


async def test_open_concerns_with_references_only_and_the_reading_access_logged(
    settings: Settings,
    clock: ManualClock,
    alerts: ServiceKernel,
    patrol: ServiceKernel,
    js: JetStreamContext,
) -> None:
    await seed(js, patrol)
    async with consoles(settings, clock, (PRINCIPAL, "lhs"), (DISTRICT, "lhs"), (SSO, "lhs")) as (
        principal,
        district,
        sso,
    ):
        answer = await principal.get("/api/v1/console/concerns")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert body["total"] == 2 and body["access_logged"] is True
        assert body["as_of"] == "2026-11-23T14:00:00Z"
        # Most severe first: Friday's medium bullying concern, then this morning's low vaping.
        assert body["concerns"] == [
            {
                "concern_id": str(OLD),
                "category": "bullying",
                "severity": "medium",
                "zone_name": "East stairwell",
                "students": ["S-104233"],
                "raised_by": "Ravi Patel",
                "raised_at": "2026-11-20T20:10:00Z",
                "updated_at": "2026-11-20T20:10:00Z",
                "age_minutes": 3 * 24 * 60 - 6 * 60 - 10,
            },
            {
                "concern_id": str(NEW),
                "category": "vaping",
                "severity": "low",
                "zone_name": "1st floor north boys' bathroom",
                "students": ["S-2001"],
                "raised_by": "an SSO's phone (phone-rivera)",
                "raised_at": "2026-11-23T13:50:00Z",
                "updated_at": "2026-11-23T13:50:00Z",
                "age_minutes": 10,
            },
        ]
        assert "Jordan" not in answer.text and "sinks" not in answer.text  # notes stay behind
        async with patrol.sessions() as session:
            logged = (
                await session.execute(
                    select(store.access_log.c.requested_by, store.access_log.c.query).where(
                        store.access_log.c.query == "open_concerns"
                    )
                )
            ).all()
        assert [tuple(row) for row in logged] == [(PRINCIPAL, "open_concerns")]

        for refused in (district, sso):
            assert_problem(await refused.get("/api/v1/console/concerns"), 403)
            assert_problem(await refused.get("/api/v1/console/hotspots"), 403)
        page = await principal.get("/console/concerns")
        assert page.status_code == 200 and "Concerns and hotspots" in page.text
        assert (await district.get("/console/concerns")).status_code == 404


async def test_hotspots_and_next_weeks_focus_in_words(
    settings: Settings,
    clock: ManualClock,
    alerts: ServiceKernel,
    patrol: ServiceKernel,
    js: JetStreamContext,
) -> None:
    await seed(js, patrol)
    async with consoles(settings, clock, (PRINCIPAL, "lhs")) as (principal,):
        answer = await principal.get("/api/v1/console/hotspots")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        # Four weeks back from Monday the 23rd: 20 school days (no day off in the window).
        assert (body["window_start"], body["window_end"], body["school_days"]) == (
            "2026-10-27",
            "2026-11-23",
            20,
        )
        # Score = (severity points + observations) / school days: medium 2 / 20, low 1 / 20.
        assert body["hotspots"] == [
            {
                "zone_name": "East stairwell",
                "period": f"period 6 (13:30{EN_DASH}14:20)",
                "what": "1 concern (bullying 1)",
                "per_school_day": 0.1,
                "in_plan": True,
            },
            {
                "zone_name": "1st floor north boys' bathroom",
                "period": f"period 1 (07:45{EN_DASH}08:35)",
                "what": "1 concern (vaping 1)",
                "per_school_day": 0.05,
                "in_plan": False,
            },
        ]
        assert body["focus_week"] == "2026-W49"
        # In the plan: extra checks; outside it: unannounced ones (services/patrol/planning.py).
        assert body["focus"] == [
            {
                "zone_name": "East stairwell",
                "period": f"period 6 (13:30{EN_DASH}14:20)",
                "reason": "extra checks: 1 concern (1 bullying) and 0 observations in the last "
                "4 weeks",
            },
            {
                "zone_name": "1st floor north boys' bathroom",
                "period": f"period 1 (07:45{EN_DASH}08:35)",
                "reason": "unannounced checks (no planned window): 1 concern (1 vaping) and 0 "
                "observations in the last 4 weeks",
            },
        ]
        assert "S-" not in answer.text
