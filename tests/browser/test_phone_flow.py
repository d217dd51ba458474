"""The SSO's phone against the real web service (uvicorn on a free port), a real nats-server and
the patrol service in-process: sign in by a one-time link, open a checkpoint URL, and the scan is
in the patrol store; five manual scans without signal, a reload, signal again: all five stored
once. Takes screenshots on the way (into docs/screenshots/ with LOOKOUT_SCREENSHOTS set)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lookout.kernel.clock import Clock, SystemClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from lookout.local.runtime import free_port
from services.patrol import app as patrol_app
from services.patrol import store as patrol_store
from services.web import accounts
from services.web.app import create_app
from tests.browser.conftest import PageErrors
from tests.browser.suite import open_sign_in_link
from tests.browser.test_outbox import fatal
from tests.integration.conftest import running, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.nats]

# The docs' screenshots are refreshed on request
# (`LOOKOUT_SCREENSHOTS=docs/screenshots pytest tests/browser`); otherwise a run leaves the
# repository untouched and writes them to the temporary directory.
SHOTS = Path(os.environ.get("LOOKOUT_SCREENSHOTS") or Path(tempfile.gettempdir()) / "lookout-shots")
SHOTS.mkdir(parents=True, exist_ok=True)
PHONE = {"width": 360, "height": 800}
DESKTOP = {"width": 1280, "height": 800}
OFFLINE_TAGS = ["T-1NG", "T-1SA", "T-2SB", "T-CAF-S", "T-LIB"]


@asynccontextmanager
async def web_service(settings: Settings, suite_clock: Clock | None = None) -> AsyncIterator[str]:
    """The real web app under uvicorn on `settings.web_port`; events are judged by
    `suite_clock` (default: the wall clock, as sessions are)."""
    import uvicorn

    config = uvicorn.Config(
        create_app(settings, SystemClock(), suite_clock=suite_clock),
        host=settings.web_host,
        port=settings.web_port,
        log_config=None,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the web service did not start"
        await asyncio.sleep(0.05)
    try:
        yield settings.web_url()
    finally:
        server.should_exit = True
        await task


async def scans(patrol: ServiceKernel) -> list[tuple[str, str, str]]:
    async with patrol.sessions() as session:
        rows = await session.execute(
            select(
                patrol_store.checkpoint_scans.c.event_id,
                patrol_store.checkpoint_scans.c.checkpoint_tag,
                patrol_store.checkpoint_scans.c.method,
            )
        )
        return [tuple(r) for r in rows.all()]


async def test_sign_in_scan_and_five_scans_without_signal_stored_once(
    browser: Any, nats_server: Any, tmp_path: Path
) -> None:
    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        web_host="127.0.0.1",
        web_port=port,
        timers_enabled=False,
    )
    patrol = patrol_app.create_kernel(settings, SystemClock())  # the phone stamps real time
    async with running(patrol, patrol_app.build_app), web_service(settings) as base:
        link = await accounts.issue_link(
            settings, SystemClock(), school_id="lhs", person_id="sso-rivera"
        )
        context = await browser.new_context(viewport=PHONE)
        page = await context.new_page()
        errors = PageErrors(page)
        await open_sign_in_link(page, link)
        assert page.url == f"{base}/app"
        await page.wait_for_function("navigator.serviceWorker.ready.then(() => true)")

        await page.goto(f"{base}/t/lhs/T-1NB")
        await page.locator("#scan-state").filter(has_text="delivered ✓").wait_for()
        await page.screenshot(path=SHOTS / "phone-checkpoint-360x800.png")
        await wait_until(lambda: _has(patrol, 1), what="the scan in the patrol store")
        assert [(t, m) for _, t, m in await scans(patrol)] == [("T-1NB", "qr")]

        await page.goto(f"{base}/app")
        await page.wait_for_function("navigator.serviceWorker.controller !== null")
        await context.set_offline(True)
        for tag in OFFLINE_TAGS:
            await page.select_option("#scan-tag", tag)
            await page.click("#scan-form button[type=submit]")
            await page.locator("#recent li").filter(has_text=f"Scan {tag}").wait_for()
        state = page.locator("#queue-state")
        await state.filter(has_text="5 saved on phone, waiting for signal").wait_for()
        await page.reload()  # without signal: the service worker's kept page
        await state.filter(has_text="5 saved on phone, waiting for signal").wait_for()
        await page.screenshot(path=SHOTS / "phone-offline-360x800.png")
        assert len(await scans(patrol)) == 1

        await context.set_offline(False)
        await state.filter(has_text="all delivered ✓").wait_for(timeout=15_000)
        await wait_until(lambda: _has(patrol, 6), what="six scans in the patrol store")
        await asyncio.sleep(0.5)  # nothing more arrives
        stored = await scans(patrol)
        assert len(stored) == 6
        assert sorted(t for _, t, m in stored if m == "manual") == sorted(OFFLINE_TAGS)
        await page.screenshot(path=SHOTS / "phone-today-360x800.png", full_page=True)

        await page.click("#concern summary")
        await page.set_viewport_size(DESKTOP)
        await page.screenshot(path=SHOTS / "phone-today-1280x800.png")
        assert fatal(errors) == []
        await context.close()


async def _has(patrol: ServiceKernel, n: int) -> bool:
    return len(await scans(patrol)) >= n
