"""The scripted week's weekly email in Chromium at 600 px wide (the email's column): nothing
wider than the window, both charts load, the attention list comes first; a full-page
screenshot goes to SHOTS (`weekly-email-600.png`) to be looked at."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lookout.kernel.settings import Settings
from lookout.kernel.storage import make_engine, make_sessionmaker, upgrade_database
from lookout.school.config import SchoolConfig
from services.reports import render, store
from services.reports.app import MIGRATIONS
from services.reports.mailer import Summaries
from tests.browser.test_phone_flow import SHOTS
from tests.unit.reports import scripted_week as sw
from tests.unit.reports.test_summary import load

pytestmark = [pytest.mark.browser]


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Any]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}")
    await upgrade_database(engine, MIGRATIONS, store.SERVICE)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_the_weekly_email_at_600_px(
    browser: Any, sessions: Any, school: SchoolConfig
) -> None:
    await load(sessions, school, with_focus=False)
    summaries = Summaries(
        {school.id: school}, Settings(web_base_url="https://lookout.lakeside.example.org")
    )
    async with sessions() as session:
        rendered = await summaries.render(session, school.id, sw.WEEK)
    html = render.inline_data_uris(rendered)
    page = await browser.new_page(viewport={"width": 600, "height": 900})
    try:
        await page.set_content(html, wait_until="load")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 600, width
        images = await page.evaluate(
            "[...document.images].map(i => [i.complete && i.naturalWidth > 0, i.alt])"
        )
        assert [ok for ok, _ in images] == [True, True]
        headings = await page.evaluate("[...document.querySelectorAll('h2')].map(h => h.innerText)")
        assert headings == [
            "Needs your attention",
            "How the week went",
            "Patrol coverage",
            "Concerns",
            "Prevention",
            "Escalations",
            "Visitors",
            "Next week",
        ]
        await page.screenshot(path=str(SHOTS / "weekly-email-600.png"), full_page=True)
    finally:
        await page.close()
