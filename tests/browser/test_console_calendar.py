"""The console's school calendar in Chromium, against the real suite (a real nats-server; patrol
and the web in process, Thursday 17 December 2026, 12:00 at Lakeside, whose district calendar
proposes an early release on Friday the 18th): the principal confirms it, the page shows it in
effect once the patrol service plans by it, and withdraws it; axe-core finds no violation and
the browser no CSP violation at 360x800 and 1280x800; screenshots under SHOTS."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from lookout.contracts.calendar import DayKind
from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL
from lookout.school.day_types import DayType
from tests.browser.suite import DESKTOP, PHONE, running_suite, suite_settings
from tests.browser.test_phone_flow import SHOTS
from tests.browser.visit import visit
from tests.integration.test_calendar import EARLY, ICS, RULES
from tests.integration.test_calendar_feed import FRIDAY, NOW

pytestmark = [pytest.mark.browser, pytest.mark.nats]


def school_file(tmp_path: Path) -> str:
    data = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    data["bell_schedule"]["alternates"] = {"early": copy.deepcopy(EARLY)}
    data["calendar"] = {"file": "district.ics", "rules": RULES}
    for person in data["people"]:
        person.pop("email", None)
        person.pop("notify", None)
    data.pop("reports", None)
    (tmp_path / "district.ics").write_text(ICS, encoding="utf-8", newline="")
    path = tmp_path / "lhs.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_the_principal_confirms_the_early_release_and_withdraws_it(
    browser: Any, nats_server: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    settings = suite_settings(nats_server.url, tmp_path, schools=school_file(tmp_path))
    async with (
        running_suite(settings, ManualClock(NOW)) as suite,
        visit(browser, suite, "principal-okafor", viewport) as v,
    ):
        page = v.page
        await page.goto(f"{suite.web.url}/console/concerns")  # any console page's nav has it
        await page.get_by_role("link", name="School calendar").click()
        await page.get_by_role("heading", name="School calendar").wait_for()
        proposed = page.locator("#proposed-list li")
        assert await proposed.all_inner_texts() == [
            "Fri 18 Dec 2026: Early release (early bell)\n\n"
            "Early Release - end of semester\n\n"
            "Confirm Fri 18 Dec 2026"
        ]
        assert await page.locator("#in-effect-none").inner_text() == (
            "No day type is in effect from today on."
        )
        await v.audit.check(page, "calendar: proposed")

        await page.get_by_role("button", name="Confirm Fri 18 Dec 2026").click()
        await page.locator("#in-effect-list").wait_for()
        assert await page.locator("#in-effect-list li").all_inner_texts() == [
            "Fri 18 Dec 2026: Early release (early bell)\n\n"
            "Early Release - end of semester\n\n"
            "Withdraw Fri 18 Dec 2026"
        ]
        assert await proposed.all_inner_texts() == [
            "Fri 18 Dec 2026: Early release (early bell)\n\n"
            "Early Release - end of semester\n\n"
            "Confirmed"
        ]
        assert suite.patrol.schools["lhs"].day_type(FRIDAY) == DayType(
            DayKind.EARLY_RELEASE, "early"
        )
        await v.audit.check(page, "calendar: confirmed")
        await page.screenshot(path=SHOTS / f"console-calendar-{size}.png", full_page=True)

        await page.get_by_role("button", name="Withdraw Fri 18 Dec 2026").click()
        await page.locator("#in-effect-none").wait_for()
        assert suite.patrol.schools["lhs"].day_type(FRIDAY) is None
        v.assert_clean()
