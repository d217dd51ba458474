"""The console's open concerns counted by grade (never by name): the students the open concerns
name, by their grade on the web's roster — nothing before the school has a roster, and a
reference the roster does not know counted apart. Against a real nats-server with the patrol
and alerts services in process, as tests/integration/test_web_console_concerns.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from lookout.kernel.clock import ManualClock, SystemClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.web import roster_import
from tests.integration.test_web_alerts import (
    PRINCIPAL,
    alerts,
    alerts_db,
    clock,
    consoles,
    migrated_alerts_db,
    settings,
)
from tests.integration.test_web_console_overview import patrol, seed
from tests.oneroster_bundles import student, write_bundle

__all__ = ["alerts", "alerts_db", "clock", "migrated_alerts_db", "patrol", "settings"]

pytestmark = pytest.mark.nats


async def test_open_concerns_counted_by_grade_from_the_roster(
    settings: Settings,
    clock: ManualClock,
    alerts: ServiceKernel,
    patrol: ServiceKernel,
    js: JetStreamContext,
    tmp_path: Path,
) -> None:
    await seed(js, patrol)  # open concerns naming S-104233 and S-2001
    async with consoles(settings, clock, (PRINCIPAL, "lhs")) as (principal,):
        before = await principal.get("/api/v1/console/concerns")
        assert before.status_code == 200, before.text
        assert before.json()["by_grade"] == []

        bundle = write_bundle(
            tmp_path / "roster.zip",
            users=[
                student("S-104233", "Jordan", "Avery", "10"),
                student("S-104234", "Sam", "Avery", "09"),  # on the roster, in no concern
            ],
        )
        done = await asyncio.to_thread(
            roster_import.import_bundle, settings, SystemClock(), school_id="lhs", bundle=bundle
        )
        assert done.problems == []
        after = await principal.get("/api/v1/console/concerns")
        assert after.json()["by_grade"] == [
            {"grade": "10", "students": 1},
            {"grade": None, "students": 1},  # S-2001: not on the roster
        ]
        assert "Jordan" not in after.text and "Avery" not in after.text
