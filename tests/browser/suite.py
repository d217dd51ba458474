"""The real suite for browser tests, and what it holds: a real nats-server (the `nats_server`
fixture), the patrol service in-process, and the web service under a real uvicorn that a test
stops and starts again on the same port; the SSO signed in by a one-time link; the phone's
actions as a person does them; the events the phone made (its IndexedDB outbox) and the rows
the services stored, counted by event id; and the CSP violations the browser reported.

New actions (a concern's update, a badge check…) are one more `Phone` method and, when they land
in another table, one more event id column in `EVENT_ROWS`."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import Column, select

from lookout.contracts.subjects import STREAMS
from lookout.kernel.clock import Clock, SystemClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from lookout.local.runtime import free_port
from services.alerts import app as alerts_app
from services.patrol import app as patrol_app
from services.patrol import store as patrol_store
from services.visitors import app as visitors_app
from services.web import accounts
from services.web.app import create_app
from tests.integration.conftest import running, wait_until

PHONE = {"width": 360, "height": 800}
DESKTOP = {"width": 1280, "height": 800}

# Where each kind of phone event leaves its event id in the patrol store: one row per event
# applied (a concern's raise is a row of its timeline).
EVENT_ROWS: list[Column[Any]] = [
    patrol_store.checkpoint_scans.c.event_id,
    patrol_store.observations.c.event_id,
    patrol_store.contacts.c.event_id,
    patrol_store.concern_timeline.c.event_id,
]


class ShiftedClock:
    """The wall clock moved on by what a test says: "three days later" while real time runs."""

    def __init__(self) -> None:
        self.shift = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.shift

    def advance(self, delta: timedelta) -> None:
        self.shift += delta


@dataclass
class WebService:
    """The web app under a real uvicorn on a fixed port; `restart()` stops it (gracefully, as
    SIGTERM would: requests under way are answered) and starts a new app on the same port."""

    settings: Settings
    suite_clock: Clock | None = None
    clock: Clock = field(default_factory=SystemClock)  # sessions, links, sign-in limits
    server: Any = None
    task: asyncio.Task[None] | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return self.settings.web_url()

    async def start(self) -> None:
        import uvicorn

        config = uvicorn.Config(
            create_app(self.settings, self.clock, self.suite_clock),
            host=self.settings.web_host,
            port=self.settings.web_port,
            log_config=None,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            assert not self.task.done(), "the web service did not start"
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.task is not None:
            self.server.should_exit = True
            await self.task
            self.task = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()
        self.restarts += 1


@dataclass
class Suite:
    settings: Settings
    patrol: ServiceKernel
    web: WebService
    clock: Clock  # the suite's time: the patrol service's and the web's judgement of events
    js: JetStreamContext
    alerts: ServiceKernel | None = None  # the alerts service, when asked for (the console)
    visitors: ServiceKernel | None = None  # the visitors service, when asked for (the desk)

    async def sign_in_link(self, person: str = "sso-rivera") -> str:
        return await accounts.issue_link(
            self.settings, self.web.clock, school_id="lhs", person_id=person
        )

    async def stored(self) -> Counter[str]:
        """How many rows of the patrol store name each event id."""
        counts: Counter[str] = Counter()
        async with self.patrol.sessions() as session:
            for column in EVENT_ROWS:
                counts.update(r[0] for r in (await session.execute(select(column))).all())
        return counts

    async def applied(self) -> Counter[str]:
        """How many times the patrol service's inbox says each event was applied."""
        async with self.patrol.sessions() as session:
            rows = await session.execute(select(patrol_store.inbox.c.event_id))
            return Counter(r[0] for r in rows.all())

    async def drained(self) -> bool:
        """Nothing more is on its way to the patrol service: every message of every stream was
        delivered to its consumers and acknowledged."""
        for stream in STREAMS:
            for info in await self.js.consumers_info(stream):
                if info.name.startswith("patrol-") and (info.num_pending or info.num_ack_pending):
                    return False
        return True

    async def settled(self, ids: set[str], within: float = 20.0) -> Counter[str]:
        """The store's counts once `ids` are all there and nothing more is on its way."""

        async def all_there() -> bool:
            return ids <= set(await self.stored()) and await self.drained()

        await wait_until(all_there, within=within, what=f"{len(ids)} events in the patrol store")
        return await self.stored()


def suite_settings(nats_url: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_url,
        web_host="127.0.0.1",
        web_port=free_port(),
        timers_enabled=False,
        **extra,
    )


@asynccontextmanager
async def running_suite(
    settings: Settings,
    clock: Clock | None = None,
    session_clock: Clock | None = None,
    *,
    with_alerts: bool = False,
    with_visitors: bool = False,
) -> AsyncIterator[Suite]:
    """The patrol service and the web service on `settings` (and the alerts service
    `with_alerts`, for the principal's console; the visitors service `with_visitors`, for the
    front desk); the suite on `clock` (default the wall clock,
    which the phone stamps its events with), the web's sessions on `session_clock` (default the
    wall clock)."""
    clock = clock or SystemClock()
    patrol = patrol_app.create_kernel(settings, clock)
    web = WebService(settings, clock, session_clock or SystemClock())
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(running(patrol, patrol_app.build_app))
        alerts = None
        if with_alerts:
            alerts = alerts_app.create_kernel(settings, clock)
            await stack.enter_async_context(running(alerts, alerts_app.build_app))
        visitors = None
        if with_visitors:
            visitors = visitors_app.create_kernel(settings, clock)
            await stack.enter_async_context(running(visitors, visitors_app.build_app))
        await web.start()
        stack.push_async_callback(web.stop)
        nc = await nats.connect(settings.nats_url)
        stack.push_async_callback(nc.close)
        yield Suite(settings, patrol, web, clock, nc.jetstream(), alerts, visitors)


@pytest.fixture
async def suite(nats_server: Any, tmp_path: Path) -> AsyncIterator[Suite]:
    async with running_suite(suite_settings(nats_server.url, tmp_path)) as each:
        yield each


# --- the browser side ------------------------------------------------------------------------

# Every `securitypolicyviolation` a page sees, sent to the test (an init script runs before the
# page's own and is not subject to its CSP).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  const what = e.blockedURI || "inline";
  window.lookoutCspViolation(`${e.violatedDirective} blocked ${what} in ${e.documentURI}`);
});
"""


@dataclass
class CspWatch:
    """The CSP violations the browser reported in a context, over every page and reload."""

    violations: list[str] = field(default_factory=list)
    reported: asyncio.Event = field(default_factory=asyncio.Event)

    def report(self, violation: str) -> None:
        self.violations.append(violation)
        self.reported.set()

    @classmethod
    async def attach(cls, context: Any) -> CspWatch:
        watch = cls()
        await context.expose_function("lookoutCspViolation", watch.report)
        await context.add_init_script(CSP_LISTENER)
        return watch


OUTBOX_JS = """
async () => {
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open("lookout");
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  try {
    if (!db.objectStoreNames.contains("outbox")) return [];
    return await new Promise((resolve, reject) => {
      const q = db.transaction("outbox").objectStore("outbox").getAll();
      q.onsuccess = () => resolve(q.result.map((r) => [r.event_id, r.state, r.label]));
      q.onerror = () => reject(q.error);
    });
  } finally {
    db.close();
  }
}
"""


class Phone:
    """The SSO's actions on the Today screen, each as a person does it, returning when the
    action is saved on the phone."""

    def __init__(self, page: Any) -> None:
        self.page = page

    async def outbox(self) -> dict[str, tuple[str, str]]:
        """The phone's outbox: event id → (state, label)."""
        rows = await self.page.evaluate(OUTBOX_JS)
        return {event_id: (state, label) for event_id, state, label in rows}

    async def queue_says(self, text: str, within_ms: float = 15_000) -> None:
        await self.page.locator("#queue-state").filter(has_text=text).wait_for(timeout=within_ms)

    async def recorded(self, label: str, state: str) -> None:
        """Wait until the Recent list shows the action `label` in `state` (queued, delivered,
        rejected)."""
        item = self.page.locator(f"#recent li[data-state={state}]").filter(has_text=label)
        await item.first.wait_for()

    async def _saved(self, text: str) -> None:
        await self.page.locator("#banner").filter(has_text=text).wait_for()

    async def _clear_banner(self) -> None:
        # The banner says what was saved last; empty it so the next "saved" is this action's.
        await self.page.evaluate("document.getElementById('banner').textContent = ''")

    async def scan(self, tag: str) -> None:
        await self._clear_banner()
        await self.page.select_option("#scan-tag", tag)
        await self.page.click("#scan-form button[type=submit]")
        await self._saved(f"Scan of {tag} saved.")

    async def _log(self, form: str, label: str, fields: dict[str, str | None]) -> None:
        """Open a Log form, set the fields given (None: leave what the form shows), save."""
        await self._clear_banner()
        await self.page.click(f"#{form} summary")
        for name, value in fields.items():
            if value is None:
                continue
            selector = f"#{form}-{name}"
            if name in ("note", "refs"):
                await self.page.fill(selector, value)
            else:
                await self.page.select_option(selector, value)
        await self.page.click(f"#{form}-form button[type=submit]")
        await self._saved(f"{label}: ")

    async def observation(
        self, zone: str, category: str | None = None, note: str | None = None
    ) -> None:
        fields = {"category": category, "zone": zone, "note": note}
        await self._log("observation", "Observation", fields)

    async def concern(
        self, category: str | None = None, severity: str | None = None, refs: str | None = None
    ) -> None:
        fields = {"category": category, "severity": severity, "refs": refs}
        await self._log("concern", "Concern", fields)

    async def contact(self, refs: str, kind: str | None = None) -> None:
        await self._log("contact", "Contact", {"kind": kind, "refs": refs})


async def open_sign_in_link(page: Any, link: str) -> None:
    """Open a one-time sign-in link and tap its one button, as a person does: opening the link
    uses nothing (a mail scanner's or a chat preview's fetch must not spend it)."""
    await page.goto(link)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/app")


async def signed_in_phone(context: Any, suite: Suite, page: Any = None) -> Phone:
    """The SSO signed in by a one-time link on a new page (or `page`), the Today screen open
    and under the service worker (which keeps it for when there is no signal)."""
    page = page or await context.new_page()
    await open_sign_in_link(page, await suite.sign_in_link())
    assert page.url == f"{suite.web.url}/app"
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    phone = Phone(page)
    await phone.queue_says("all delivered ✓")
    return phone
