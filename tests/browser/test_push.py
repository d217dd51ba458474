"""Web Push in Chromium, end to end: the real suite with the alerts service (a real
nats-server; patrol, alerts and the web in process, on a clock stopped at Monday 23 November
2026, 08:00 at Lakeside, whose principal asks for `critical: [push]`) and the stand-in push
service (tests/integration/push_service.py: HTTPS, checks the VAPID signature, decrypts with
the browser's keys, RFC 8291). The principal's console says notifications are off on this
device; the button asks for permission on the tap, subscribes with the deployment's VAPID key
and hands the subscription to the web, which asks the alerts service as the principal. A
critical alert's first step is pushed to the push service, which decrypts it; that payload is
delivered to the service worker, which shows a notification that stays, with an Acknowledge
action; that action's code acknowledges the alert through the signed link (the worker's POST,
with this site's Origin) and the notification says so. Signing out forgets the browser's
subscription. axe-core finds no violation and the browser no CSP violation at 360x800 and
1280x800; screenshots under SHOTS.

What stands in for what, and why (no internet here):
- Chromium subscribes by registering with Google's push service (FCM). A Playwright context is
  off the record, where Chromium refuses push ("Registration failed - permission denied"); a
  persistent profile waits for FCM for ever. So `PushManager.subscribe` is replaced in the page
  by one that returns the stand-in push service's subscription for a new browser (and records
  the key it was given); everything else push.js does (permission on the tap, the key, the
  POST, the states, the sign-out) is real.
- FCM's delivery to the browser is CDP's `ServiceWorker.deliverPushMessage`, which fires the
  worker's real `push` event, with the payload the push service decrypted.
- No API clicks a system notification: the test reads what was shown with
  `registration.getNotifications()` and calls the worker's `onNotificationClick(notification,
  "acknowledge")` inside the worker — the function its `notificationclick` listener hands the
  event's notification and action to. Opening or focusing a window on a plain tap is not
  exercised."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from sqlalchemy import select

from lookout.kernel.action_links import AckLinkClaims, alert_link_secret, sign_ack_link
from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL
from lookout.kernel.vapid import vapid_keys
from services.alerts import store as alerts_store
from tests.browser.conftest import PageErrors
from tests.browser.suite import (
    DESKTOP,
    PHONE,
    CspWatch,
    Suite,
    open_sign_in_link,
    running_suite,
    suite_settings,
)
from tests.browser.test_a11y import Audit
from tests.browser.test_outbox import fatal
from tests.browser.test_phone_flow import SHOTS
from tests.integration.conftest import wait_until
from tests.integration.push_service import PushService, b64url
from tests.integration.test_web_alerts import T0, concern, raise_concern, schools_without_email

pytestmark = [pytest.mark.browser, pytest.mark.nats]

PRINCIPAL = "principal-okafor"
# For the test that needs no push service: any subscription the contract takes.
SOME_BROWSER = {
    "endpoint": "https://push.example.test/wp/chromium-stand-in",
    "expirationTime": None,
    "keys": {
        "p256dh": "BMKOUhL1fNf1XqN0i53vJzn2WHXROTX37ZgWO9JAdolQ7iXSwaazzwx1-1AbyzOuO-NsRmXqdl_p2"
        "ZXltGUOZ_o",
        "auth": "urO4XC6kCBw90tzPWatlZQ",
    },
}

# The browser's push-service registration, replaced in the page (see the module's doc): it
# hands out `SUBSCRIPTION` (the JSON of a PushSubscription) and records the key it was given.
PUSH_MANAGER_STAND_IN = """
(() => {
  if (!("PushManager" in window)) return;
  const json = SUBSCRIPTION;
  let held = null;
  window.lookoutPush = { keys: [], unsubscribed: 0 };
  PushManager.prototype.getSubscription = async function () { return held; };
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.lookoutPush.keys.push(btoa(String.fromCharCode(...key)));
    const unsubscribe = async () => {
      held = null;
      window.lookoutPush.unsubscribed += 1;
      return true;
    };
    held = { endpoint: json.endpoint, toJSON: () => json, unsubscribe };
    return held;
  };
})();
"""


def push_manager_stand_in(subscription: dict[str, Any]) -> str:
    return PUSH_MANAGER_STAND_IN.replace("SUBSCRIPTION", json.dumps(subscription))


def lakeside_pushing_the_principal(tmp_path: Path) -> str:
    """Lakeside with no email addresses (no mailer timing) and one rule: the principal is told
    of a critical alert by push."""
    lhs = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    for person in lhs["people"]:
        person.pop("email", None)
        person.pop("notify", None)
        if person["id"] == PRINCIPAL:
            person["notify"] = {"critical": ["push"]}
    lhs.pop("reports", None)  # its recipients need an email address
    path = tmp_path / "lhs.yaml"
    path.write_text(yaml.safe_dump(lhs), encoding="utf-8")
    return str(path)


NOTIFICATIONS = """
async () => (await navigator.serviceWorker.ready).getNotifications().then((all) =>
  all.map((n) => ({ title: n.title, body: n.body, tag: n.tag,
                    requireInteraction: n.requireInteraction,
                    actions: n.actions.map((a) => [a.action, a.title]), data: n.data })))
"""


async def registration_id(cdp: Any) -> str:
    """The service worker's registration, as CDP names it (announced when enabled)."""
    found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def updated(event: dict[str, Any]) -> None:
        live = [r for r in event["registrations"] if not r["isDeleted"]]
        if live and not found.done():
            found.set_result(live[0]["registrationId"])

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    await cdp.send("ServiceWorker.enable")
    return await asyncio.wait_for(found, 10)


async def shown(page: Any, count: int) -> None:
    """Wait until the service worker has shown `count` notifications."""

    async def there() -> bool:
        return len(await page.evaluate(NOTIFICATIONS)) == count

    await wait_until(there, within=10, what=f"{count} notification(s)")


async def the_alert(suite: Suite) -> Any:
    assert suite.alerts is not None
    async with suite.alerts.sessions() as session:
        return (await session.execute(select(alerts_store.alerts))).one()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360x800", "1280x800"])
async def test_the_console_subscribes_and_a_push_acknowledges_from_the_notification(
    browser: Any,
    nats_server: Any,
    tmp_path: Path,
    viewport: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    settings = suite_settings(
        nats_server.url, tmp_path, schools=lakeside_pushing_the_principal(tmp_path)
    )
    with PushService(vapid_keys(settings).application_server_key) as push_service:
        monkeypatch.setenv("SSL_CERT_FILE", push_service.ca_file)  # the alerts service trusts it
        this_browser = push_service.subscription() | {"expirationTime": None}
        async with running_suite(settings, ManualClock(T0), with_alerts=True) as suite:
            await console_subscribes_and_acknowledges(
                browser, suite, push_service, this_browser, viewport, size
            )


async def console_subscribes_and_acknowledges(
    browser: Any,
    suite: Suite,
    push_service: PushService,
    this_browser: dict[str, Any],
    viewport: dict[str, int],
    size: str,
) -> None:
    settings = suite.settings
    # What the web asks the alerts service (a listener beside the service).
    asked: list[tuple[str, dict[str, Any]]] = []
    spy = await nats.connect(settings.nats_url)

    async def heard(msg: Any) -> None:
        asked.append((msg.subject, json.loads(msg.data)))

    await spy.subscribe("command.lhs.alerts.push_subscribe.*", cb=heard)
    await spy.subscribe("command.lhs.alerts.push_unsubscribe.*", cb=heard)
    await spy.flush()

    audit = Audit()
    context = await browser.new_context(
        viewport=viewport, timezone_id="America/Chicago", locale="en-US"
    )
    await context.grant_permissions(["notifications"], origin=suite.web.url)
    await context.add_init_script(push_manager_stand_in(this_browser))
    csp = await CspWatch.attach(context)
    page = await context.new_page()
    errors = PageErrors(page)

    await open_sign_in_link(page, await suite.sign_in_link(PRINCIPAL))
    panel = page.locator("#push")
    await page.locator("#push[data-state=off]").wait_for()
    assert await page.locator("#push-status").inner_text() == "Off on this device."
    button = page.get_by_role("button", name="Notify me on this device")
    await button.scroll_into_view_if_needed()
    await audit.check(page, "push: off")
    await panel.screenshot(path=SHOTS / f"console-push-off-{size}.png")
    await page.screenshot(path=SHOTS / f"console-push-{size}.png", full_page=True)

    await button.click()
    await page.locator("#push[data-state=on]").wait_for()
    assert await page.locator("#push-status").inner_text() == (
        "On: alerts that reach you also show on this device."
    )
    assert await page.get_by_role("button", name="Stop notifications on this device").is_visible()
    keys = await page.evaluate("window.lookoutPush.keys")
    assert [b64url(base64.b64decode(k)) for k in keys] == [
        vapid_keys(settings).application_server_key
    ]
    await wait_until(lambda: _true(len(asked) == 1), within=10, what="the subscription")
    endpoint, browser_keys = this_browser["endpoint"], this_browser["keys"]
    assert asked == [
        (
            "command.lhs.alerts.push_subscribe.principal-okafor",
            {"endpoint": endpoint, "p256dh": browser_keys["p256dh"], "auth": browser_keys["auth"]},
        )
    ]
    await audit.check(page, "push: on")
    await panel.screenshot(path=SHOTS / f"console-push-on-{size}.png")

    # A critical alert opens; its first step is pushed, encrypted for this browser, to the
    # stand-in push service, which hands what it decrypted to the service worker (as FCM would).
    await raise_concern(suite.js, concern("critical", "weapon", "gym", T0))
    (push,) = await push_service.wait_for(1, within=30)
    assert push.endpoint == endpoint
    alert = await the_alert(suite)
    aid = alert.alert_id
    assert (alert.status, alert.acknowledged_by) == ("open", None)
    token = sign_ack_link(
        alert_link_secret(settings),
        AckLinkClaims("lhs", uuid.UUID(aid), PRINCIPAL, T0 + timedelta(days=1)),
    )
    assert push.payload == {
        "alert_id": aid,
        "title": "CRITICAL alert: weapon",
        "body": "Gymnasium. Escalation step 1. Lakeside High School",
        "ack_url": f"/ack/{token}",
        "url": "/app",
        "tag": f"alert-{aid}",
    }
    cdp = await context.new_cdp_session(page)
    await cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": suite.web.url,
            "registrationId": await registration_id(cdp),
            "data": json.dumps(push.payload),
        },
    )
    await shown(page, 1)
    data = {"alert_id": aid, "ack_url": f"/ack/{token}", "url": "/app", "tag": f"alert-{aid}"}
    assert await page.evaluate(NOTIFICATIONS) == [
        {
            "title": "CRITICAL alert: weapon",
            "body": "Gymnasium. Escalation step 1. Lakeside High School",
            "tag": f"alert-{aid}",
            "requireInteraction": True,
            "actions": [["acknowledge", "Acknowledge"]],
            "data": data,
        }
    ]

    # Its Acknowledge action, in the worker: the alert is acknowledged as the principal.
    worker = next(w for w in context.service_workers if w.url.endswith("/sw.js"))
    await worker.evaluate(
        """async () => {
          const [shown] = await self.registration.getNotifications();
          await onNotificationClick(shown, "acknowledge");
        }"""
    )
    alert = await the_alert(suite)
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", PRINCIPAL)
    assert await page.evaluate(NOTIFICATIONS) == [
        {
            "title": "Alert acknowledged",
            "body": "You acknowledged it: the escalation stops.",
            "tag": f"alert-{aid}",
            "requireInteraction": False,
            "actions": [],
            "data": data,
        }
    ]

    # Signing out forgets this browser's subscription: a shared computer stops paging.
    await page.get_by_role("button", name="Sign out").click()
    # (the board's next request, refused, may ask for /signin?next=/app first: either is fine)
    await page.wait_for_url(re.compile(r"/signin(\?next=%2Fapp)?$"))
    await wait_until(lambda: _true(len(asked) == 2), within=10, what="the unsubscription")
    assert asked[1] == (
        "command.lhs.alerts.push_unsubscribe.principal-okafor",
        {"endpoint": endpoint},
    )

    assert audit.found == {}, audit.report()
    assert csp.violations == []
    assert fatal(errors) == []
    await spy.close()
    await context.close()


async def _true(value: bool) -> bool:
    return value


async def test_a_push_without_a_readable_payload_still_says_something_and_follows_no_other_site(
    browser: Any, nats_server: Any, tmp_path: Path
) -> None:
    """A push whose payload is not JSON still shows a notification (a push the person cannot
    see would be a silent drop); links to another site are dropped, not followed; an
    Acknowledge the server refuses leaves a notification that says so."""
    settings = suite_settings(nats_server.url, tmp_path, schools=schools_without_email(tmp_path))
    async with running_suite(settings, ManualClock(T0), with_alerts=True) as suite:
        context = await browser.new_context(viewport=DESKTOP)
        await context.grant_permissions(["notifications"], origin=suite.web.url)
        await context.add_init_script(push_manager_stand_in(SOME_BROWSER))
        page = await context.new_page()
        await open_sign_in_link(page, await suite.sign_in_link(PRINCIPAL))
        await page.locator("#push[data-state=off]").wait_for()
        cdp = await context.new_cdp_session(page)
        registration = await registration_id(cdp)
        deliver = {"origin": suite.web.url, "registrationId": registration}
        await cdp.send("ServiceWorker.deliverPushMessage", deliver | {"data": "not json"})
        await shown(page, 1)
        elsewhere = {
            "alert_id": str(uuid.UUID(int=7)),
            "title": "High: intruder concern",
            "body": "East entrance",
            "ack_url": "https://evil.example/ack/x",
            "url": "https://evil.example/",
            "tag": "alert-7",
        }
        await cdp.send(
            "ServiceWorker.deliverPushMessage", deliver | {"data": json.dumps(elsewhere)}
        )
        await shown(page, 2)
        seen = sorted(await page.evaluate(NOTIFICATIONS), key=lambda n: n["title"])
        assert seen == [
            {
                "title": "High: intruder concern",
                "body": "East entrance",
                "tag": "alert-7",
                "requireInteraction": True,
                "actions": [],  # no acknowledge link of this site: no Acknowledge button
                "data": {
                    "alert_id": str(uuid.UUID(int=7)),
                    "ack_url": None,
                    "url": "/app",
                    "tag": "alert-7",
                },
            },
            {
                "title": "Lookout alert",
                "body": "Open Lookout to see the alert.",
                "tag": "",
                "requireInteraction": True,
                "actions": [],
                "data": {"alert_id": None, "ack_url": None, "url": "/app", "tag": None},
            },
        ]

        # An Acknowledge that the server refuses (a changed link) is said, never dropped.
        changed = dict(elsewhere, ack_url="/ack/LA1.bGhz.Zm9yZ2Vk", tag="alert-8")
        await cdp.send("ServiceWorker.deliverPushMessage", deliver | {"data": json.dumps(changed)})
        await shown(page, 3)
        worker = next(w for w in context.service_workers if w.url.endswith("/sw.js"))
        outcome = await worker.evaluate(
            """async () => {
              const [shown] = await self.registration.getNotifications({ tag: "alert-8" });
              // Focusing the console needs a real tap's activation, which a test has not got.
              return onNotificationClick(shown, "acknowledge").then(() => "done", (e) => e.name);
            }"""
        )
        assert outcome == "InvalidAccessError"  # the focus, after the notification was shown
        said = [n for n in await page.evaluate(NOTIFICATIONS) if n["tag"] == "alert-8"]
        assert [(n["title"], n["body"], n["requireInteraction"]) for n in said] == [
            (
                "Not acknowledged",
                "Lookout could not acknowledge it. Open the console to acknowledge.",
                True,
            )
        ]
        await context.close()


async def test_a_browser_that_refuses_or_cannot_says_so_in_words(
    browser: Any, nats_server: Any, tmp_path: Path
) -> None:
    """Permission refused on the tap: "blocked", and no button that could not work; a browser
    without Web Push: "not supported", and no button."""
    settings = suite_settings(nats_server.url, tmp_path, schools=schools_without_email(tmp_path))
    async with running_suite(settings, ManualClock(T0), with_alerts=True) as suite:
        # Headless Chromium answers a permission request it was not granted with "denied".
        context = await browser.new_context(viewport=PHONE)
        page = await context.new_page()
        await open_sign_in_link(page, await suite.sign_in_link(PRINCIPAL))
        await page.locator("#push[data-state=off]").wait_for()
        await page.get_by_role("button", name="Notify me on this device").click()
        await page.locator("#push[data-state=blocked]").wait_for()
        assert await page.locator("#push-status").inner_text() == (
            "Blocked by this browser. Allow notifications for this site in the browser's "
            "settings, then reload."
        )
        assert await page.locator("#push-toggle").is_hidden()
        await context.close()

        context = await browser.new_context(viewport=PHONE)
        await context.add_init_script("delete window.PushManager;")
        page = await context.new_page()
        await open_sign_in_link(page, await suite.sign_in_link(PRINCIPAL))
        await page.locator("#push[data-state=unsupported]").wait_for()
        assert await page.locator("#push-status").inner_text() == (
            "This browser cannot show Lookout's notifications (it needs a secure connection "
            "and Web Push). Email and text still reach you."
        )
        assert await page.locator("#push-toggle").is_hidden()
        await context.close()
