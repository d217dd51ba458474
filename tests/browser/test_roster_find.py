"""Finding a student by name on the SSO's phone, in Chromium against the real suite (web and
patrol services, a real nats-server) with a roster imported from a OneRoster bundle: the concern
form asks the roster as the officer types, shows names with reference and grade, and a pick adds
only the reference; the names leave the page once picked, and the concern stored on JetStream
and kept in the phone's database carries references, never a name. axe-core and the page's CSP
find nothing at 360x800 and 1280x800; screenshots of the answers under SHOTS."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from lookout.kernel.clock import SystemClock
from services.web import roster_import
from tests.browser.suite import DESKTOP, PHONE, Phone, Suite
from tests.browser.test_phone_flow import SHOTS
from tests.browser.visit import visit
from tests.oneroster_bundles import student, write_bundle

pytestmark = [pytest.mark.browser, pytest.mark.nats]

# Everything the phone's IndexedDB holds, as one string (to look for names in it).
DATABASE_JS = """
async () => {
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open("lookout");
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const all = [];
  for (const name of db.objectStoreNames) {
    all.push(await new Promise((resolve, reject) => {
      const q = db.transaction(name).objectStore(name).getAll();
      q.onsuccess = () => resolve(q.result);
      q.onerror = () => reject(q.error);
    }));
  }
  db.close();
  return JSON.stringify(all);
}
"""


async def answers(page: Any) -> list[tuple[str, str]]:
    found = page.locator("#concern-refs-found .find__pick")
    return [
        (await b.locator(".find__name").inner_text(), await b.locator(".find__ref").inner_text())
        for b in await found.all()
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_the_sso_names_students_by_searching_the_roster(
    browser: Any, suite: Suite, tmp_path: Path, viewport: dict[str, int]
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    bundle = write_bundle(
        tmp_path / "roster.zip",
        users=[
            student("S-100001", "Avery", "Quinn", "09"),
            student("S-100002", "José", "Núñez", "11"),
            student("S-100003", "Avery", "Smith", "10"),
        ],
    )
    done = await asyncio.to_thread(
        roster_import.import_bundle, suite.settings, SystemClock(), school_id="lhs", bundle=bundle
    )
    assert done.problems == []
    async with visit(browser, suite, "sso-rivera", viewport) as sso:
        page = sso.page
        await page.click("#concern summary")
        find = page.locator("#concern-refs-find")
        status = page.locator("#concern-refs-find-state")
        await find.fill("a")
        await status.filter(has_text="Type 2 letters or more of a name.").wait_for()
        await find.fill("ave")
        await status.filter(has_text="2 students match.").wait_for()
        assert await answers(page) == [
            ("Avery Quinn", "S-100001 · grade 9"),
            ("Avery Smith", "S-100003 · grade 10"),
        ]
        await sso.audit.check(page, "concern form: two answers")
        await page.evaluate(
            "document.querySelector('label[for=concern-refs]').scrollIntoView({block: 'start'})"
        )
        await page.screenshot(path=SHOTS / f"phone-roster-find-{size}.png")

        await page.get_by_role("button", name="Avery Quinn").click()
        await status.filter(has_text="Added S-100001.").wait_for()
        assert await page.locator("#concern-refs").input_value() == "S-100001"
        assert await page.locator(".find__name").count() == 0
        await find.fill("nu")
        await status.filter(has_text="1 student matches.").wait_for()
        await page.get_by_role("button", name="José Núñez").click()
        assert await page.locator("#concern-refs").input_value() == "S-100001, S-100002"
        await find.fill("zz")
        await status.filter(has_text="No student on the roster matches.").wait_for()
        await sso.audit.check(page, "concern form: no answer")

        phone = Phone(page)
        await page.select_option("#concern-category", "conflict")
        await page.click("#concern-form button[type=submit]")
        await page.locator("#banner").filter(has_text="Concern: conflict, medium").wait_for()
        await phone.recorded("Concern: conflict, medium", "delivered")
        assert await find.input_value() == ""
        assert await page.locator(".find__name").count() == 0
        kept = await page.evaluate(DATABASE_JS)
        stored = await suite.js.get_last_msg("CONCERNS", "concern.lhs.raised")
        assert b'"student_refs":["S-100001","S-100002"]' in stored.data
        for name in ("Avery", "Quinn", "Jos", "N\\u00fa", "Núñez", "Smith"):
            assert name not in kept
            assert name.encode() not in stored.data
        sso.assert_clean()
