"""The offline torture test: 200 seeded random sequences of the SSO's actions, signal lost and
found, reloads and restarts of the web service, run one after another in one phone (Chromium at
360x800) against the real suite. Every action the phone made is in the patrol store exactly
once: 0 lost, 0 applied twice, and no action recorded twice on the phone. A failure names the
seeds of the sequences at fault; `random.Random(seed)` replays one."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.browser.conftest import PageErrors
from tests.browser.suite import PHONE, CspWatch, Phone, Suite, signed_in_phone
from tests.browser.test_outbox import fatal

pytestmark = [pytest.mark.browser, pytest.mark.nats, pytest.mark.slow]

SEQUENCES = 200
TAGS = ["T-1NB", "T-1SA", "T-2SG", "T-H1N-A", "T-STE-2", "T-CAF-S", "T-LIB", "T-GYM", "T-ENT-E"]
ZONES = ["bath-1n-boys", "hall-2-south", "cafeteria", "courtyard", "parking-staff"]
ACTIONS = ["scan"] * 8 + ["observation", "concern", "contact", "checkpoint"]


def plan(rng: random.Random) -> list[str]:
    """One sequence: one or two steps, mostly actions (a short sequence, so that 200 of them
    fit in a minute; what one leaves, signal or not, the next starts from)."""
    steps = []
    for _ in range(rng.randint(1, 2)):
        roll = rng.random()
        if roll < 0.65:
            steps.append(rng.choice(ACTIONS))
        elif roll < 0.83:
            steps.append("flip")  # signal lost, or found
        elif roll < 0.94:
            steps.append("reload")
        else:
            steps.append("restart")  # the web service
    return steps


class Run:
    """The phone, the suite and the signal as one sequence leaves them for the next."""

    def __init__(self, context: Any, phone: Phone, suite: Suite) -> None:
        self.context, self.phone, self.suite = context, phone, suite
        self.offline = False

    async def action(self, kind: str, rng: random.Random) -> None:
        phone = self.phone
        # The forms as a hurried officer fills them: only what must be set.
        if kind == "scan":
            await phone.scan(rng.choice(TAGS))
        elif kind == "observation":
            await phone.observation(rng.choice(ZONES))
        elif kind == "concern":
            await phone.concern()
        elif kind == "contact":
            await phone.contact("S-1002, S-1003")
        else:
            await self.checkpoint(rng.choice(TAGS), reload=rng.random() < 0.3)

    async def checkpoint(self, tag: str, *, reload: bool) -> None:
        """A checkpoint's URL opened (its QR): one scan, also when the page is reloaded."""
        page = self.phone.page
        await page.goto(f"{self.suite.web.url}/t/lhs/{tag}")
        # With signal the checkpoint page records it; without, the kept Today page does.
        done = page.locator(
            f"#scan-state:not([data-state=recording]), #banner:has-text('Scan of {tag} saved.')"
        )
        await done.first.wait_for()
        if reload:
            await page.reload()
            await page.locator(
                "#scan-state:not([data-state=recording]), #queue-state"
            ).first.wait_for()
        await page.goto(f"{self.suite.web.url}/app")

    async def step(self, step: str, rng: random.Random) -> bool:
        """Do one step; True when it was an action (one event made)."""
        if step == "flip":
            self.offline = not self.offline
            await self.context.set_offline(self.offline)
        elif step == "reload":
            await self.phone.page.reload()
        elif step == "restart":
            await self.suite.web.restart()
        else:
            await self.action(step, rng)
            return True
        await self.phone.page.locator("#queue-state").wait_for()
        return False


async def test_two_hundred_random_sequences_lose_nothing_and_double_nothing(
    browser: Any, suite: Suite
) -> None:
    context = await browser.new_context(viewport=PHONE)
    csp = await CspWatch.attach(context)
    phone = await signed_in_phone(context, suite)
    errors = PageErrors(phone.page)
    run = Run(context, phone, suite)

    made: dict[str, int] = {}  # event id → the seed of the sequence that made it
    miscounted: list[str] = []  # sequences whose actions did not make one event each
    for seed in range(SEQUENCES):
        rng = random.Random(seed)
        actions = 0
        for step in plan(rng):
            actions += await run.step(step, rng)
        new = set(await phone.outbox()) - set(made) if actions else set()
        made.update(dict.fromkeys(new, seed))
        if len(new) != actions:
            miscounted.append(f"seed {seed}: {actions} actions made {len(new)} events")

    await context.set_offline(True)  # signal, at last, for good: sent now, not after a backoff
    await context.set_offline(False)
    await phone.queue_says("all delivered ✓", within_ms=30_000)
    stored = await suite.settled(set(made), within=30)
    applied = await suite.applied()

    lost = sorted({made[e] for e in made if stored[e] == 0})
    doubled = sorted({made[e] for e in made if stored[e] > 1 or applied[e] > 1})
    strangers = sorted(set(stored) - set(made))
    assert (lost, doubled, strangers, miscounted) == ([], [], [], []), (
        f"seeds with lost events {lost}, with events applied twice {doubled}; "
        f"stored but never made on the phone {strangers}; {miscounted}"
    )
    # Seeds 0-199 plan 185 actions (125 scans, 20 checkpoint URLs, 40 forms), 48 flips of the
    # signal, 41 reloads and 19 web restarts.
    assert (len(made), suite.web.restarts) == (185, 19)
    assert fatal(errors) == []
    assert csp.violations == []
    await context.close()
