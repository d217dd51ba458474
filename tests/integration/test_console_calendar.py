"""The console's school calendar on a real nats-server (patrol and web in process): the feed's
proposals beside what the patrol service plans by; a principal's confirmation and withdrawal are
the CALENDAR events `lookout calendar` publishes, with the person as the actor, and the patrol
service follows them; district safety may, the other roles may not; bad input is a 422 naming
the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from lookout.contracts.calendar import DayTypeConfirmed, DayTypeWithdrawn
from lookout.contracts.subjects import parse_event
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from tests.integration.conftest import consumer_drained, wait_until
from tests.integration.test_calendar_feed import NOW, patrol, settings, web
from tests.integration.test_web_alerts import Console

__all__ = ["patrol", "settings", "web"]  # fixtures

pytestmark = pytest.mark.nats
API = "/api/v1/console/calendar"
EARLY_18 = {"day": "2026-12-18", "day_type": "early_release", "schedule": "early",
            "titles": ["Early Release - end of semester"]}  # fmt: skip


async def signed_in(web: httpx.AsyncClient, settings: Settings, person: str) -> Console:
    web.cookies.clear()
    console = Console(web)
    await console.sign_in(settings, ManualClock(NOW), person, "lhs")
    return console


async def calendar_events(js: JetStreamContext) -> list[Any]:
    sub = await js.subscribe("school.>", ordered_consumer=True)
    info = await js.stream_info("CALENDAR")
    msgs = [await sub.next_msg(timeout=5) for _ in range(info.state.messages)]
    await sub.unsubscribe()
    return [parse_event(m.subject, m.data) for m in msgs]


async def test_a_principal_confirms_and_withdraws_what_the_feed_proposes(
    settings: Settings, patrol: ServiceKernel, web: httpx.AsyncClient
) -> None:
    js = patrol.broker.connection.jetstream()
    principal = await signed_in(web, settings, "principal-okafor")
    view = (await principal.get(API)).json()
    # From Thursday 17 December on, the feed proposes the early release (its PD days are past).
    assert view == {
        "proposed": [EARLY_18 | {"in_effect": False}],
        "in_effect": [],
        "feed_problem": None,
    }
    done = await principal.post(f"{API}/confirm", {"day": "2026-12-18"})
    assert (done.status_code, done.json()) == (200, {"day": "2026-12-18", "status": "confirmed"})
    await wait_until(lambda: consumer_drained(js, "CALENDAR", "patrol-calendar"), what="day")
    view = (await principal.get(API)).json()
    assert view["proposed"] == [EARLY_18 | {"in_effect": True}]
    assert view["in_effect"] == [EARLY_18 | {"in_effect": True}]

    gone = await principal.post(f"{API}/withdraw", {"day": "2026-12-18"})
    assert (gone.status_code, gone.json()) == (200, {"day": "2026-12-18", "status": "withdrawn"})
    await wait_until(lambda: consumer_drained(js, "CALENDAR", "patrol-calendar"), what="day")
    assert (await principal.get(API)).json()["in_effect"] == []

    confirmed, withdrawn = await calendar_events(js)
    assert isinstance(confirmed, DayTypeConfirmed) and isinstance(withdrawn, DayTypeWithdrawn)
    assert (confirmed.actor.kind.value, confirmed.actor.id) == ("staff", "principal-okafor")
    assert confirmed.titles == ["Early Release - end of semester"]
    assert (confirmed.occurred_at, withdrawn.actor.id) == (NOW, "principal-okafor")


async def test_district_safety_calls_a_snow_day_the_feed_never_had(
    settings: Settings, patrol: ServiceKernel, web: httpx.AsyncClient
) -> None:
    js = patrol.broker.connection.jetstream()
    district = await signed_in(web, settings, "district-lee")
    snow = await district.post(f"{API}/confirm", {"day": "2026-12-17", "day_type": "no_school"})
    assert snow.status_code == 200, snow.text
    await wait_until(lambda: consumer_drained(js, "CALENDAR", "patrol-calendar"), what="day")
    view = (await district.get(API)).json()
    assert view["in_effect"] == [
        {"day": "2026-12-17", "day_type": "no_school", "schedule": None, "titles": [],
         "in_effect": True}
    ]  # fmt: skip
    assert not patrol.schools["lhs"].is_school_day(NOW.date())


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"day": "2026-12-16"}, "day: the feed proposes no day type for it"),
        ({"day": "2026-12-16", "day_type": "early_release"},
         "schedule: for early release and late start"),
        ({"day": "2026-12-16", "day_type": "late_start", "schedule": "late"},
         "schedule: not an alternate bell of the school"),
    ],
)  # fmt: skip
async def test_bad_confirmations_are_422_naming_the_field(
    settings: Settings, web: httpx.AsyncClient, body: dict[str, str], detail: str
) -> None:
    principal = await signed_in(web, settings, "principal-okafor")
    refused = await principal.post(f"{API}/confirm", body)
    assert refused.status_code == 422
    assert refused.json()["detail"] == detail
    nothing = await principal.post(f"{API}/withdraw", {"day": "2026-12-18"})
    assert nothing.json()["detail"] == "day: no day type in effect to withdraw"


@pytest.mark.parametrize("person", ["ap-chen", "counselor-patel", "sso-rivera"])
async def test_other_roles_may_not(settings: Settings, web: httpx.AsyncClient, person: str) -> None:
    other = await signed_in(web, settings, person)
    for answer in (
        await other.get(API),
        await other.post(f"{API}/confirm", {"day": "2026-12-18"}),
    ):
        assert answer.status_code == 403
        assert answer.json()["detail"] == "role: only a principal or district safety confirms days"


@pytest.mark.parametrize(
    ("person", "shown"),
    [("principal-okafor", True), ("district-lee", True), ("ap-chen", False)],
)
async def test_the_console_nav_shows_the_calendar_to_those_who_confirm(
    settings: Settings, web: httpx.AsyncClient, person: str, shown: bool
) -> None:
    console = await signed_in(web, settings, person)
    pages = ["/app"] if person == "district-lee" else ["/app", "/console/concerns"]
    for page in pages:
        html = (await console.get(page)).text
        assert ('<a href="/console/calendar">School calendar</a>' in html) is shown, page
    page = await console.get("/console/calendar")
    assert page.status_code == (200 if shown else 404)


async def test_a_confirmation_without_the_csrf_token_is_refused(
    settings: Settings, web: httpx.AsyncClient
) -> None:
    principal = await signed_in(web, settings, "principal-okafor")
    principal.csrf = "forged"
    assert (await principal.post(f"{API}/confirm", {"day": "2026-12-18"})).status_code == 403


async def test_a_feed_that_cannot_be_read_is_one_line_on_the_page(
    settings: Settings, web: httpx.AsyncClient, tmp_path: Path
) -> None:
    (tmp_path / "district.ics").write_text("not a calendar", encoding="utf-8")
    principal = await signed_in(web, settings, "principal-okafor")
    view = (await principal.get(API)).json()
    assert view == {
        "proposed": [],
        "in_effect": [],
        "feed_problem": "calendar: not an iCalendar file (no BEGIN:VCALENDAR)",
    }
