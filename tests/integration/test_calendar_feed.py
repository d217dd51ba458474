"""An SSO's calendar feed on a real nats-server: the web asks the running patrol service for the
announced windows of the next two weeks, by each day's bell (a confirmed early release included),
never the unannounced checks; a wrong token, another person's or a non-SSO's address is a 404;
the signed-in SSO is told their own address, nobody else has one."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from icalendar import Calendar

from lookout.contracts.calendar import DayKind, DayTypeConfirmed
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.feed_links import feed_secret, feed_token
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.local.runtime import free_port
from services.patrol.app import build_app, create_kernel
from services.web.app import create_app
from tests.integration.conftest import consumer_drained, running, wait_until
from tests.integration.test_calendar import EARLY, ICS, RULES
from tests.integration.test_web_alerts import BASE, Console

pytestmark = pytest.mark.nats

# Thursday 17 December 2026, 12:00 in Chicago: the feed runs to the 30th; the winter break
# (21 to 31 December, in the school file) leaves Thursday and Friday.
NOW = datetime(2026, 12, 17, 18, 0, tzinfo=UTC)
FRIDAY = date(2026, 12, 18)


@pytest.fixture
def settings(nats_server: Any, tmp_path: Path) -> Settings:
    data = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    data["bell_schedule"]["alternates"] = {"early": copy.deepcopy(EARLY)}
    data["calendar"] = {"file": "district.ics", "rules": RULES}
    (tmp_path / "district.ics").write_text(ICS, encoding="utf-8", newline="")
    data["patrol_plan"] = [
        {"zones": ["hall-1-north"], "during": ["passing"], "grace_minutes": 2},
        {"zones": ["gym"], "during": ["class"], "unannounced_checks": 2},
    ]
    data["people"].append({"id": "sso-nguyen", "name": "Kim Nguyen", "roles": ["sso"]})
    for person in data["people"]:
        person.pop("email", None)
        person.pop("notify", None)
    data.pop("reports", None)
    path = tmp_path / "lhs.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        schools=str(path),
        web_base_url=BASE,
        web_behind_proxy=True,
        web_host="127.0.0.1",
        web_port=free_port(),
        timers_enabled=False,
    )


@pytest.fixture
async def patrol(settings: Settings) -> AsyncIterator[ServiceKernel]:
    await ensure_streams(settings)
    async with running(create_kernel(settings, ManualClock(NOW)), build_app) as kernel:
        yield kernel


@pytest.fixture
async def web(settings: Settings, patrol: ServiceKernel) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, ManualClock(NOW))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Origin": BASE}
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=headers) as client:
            yield client


def address(settings: Settings, person: str, school: str = "lhs") -> str:
    return f"/calendar/{school}/{person}/{feed_token(feed_secret(settings), school, person)}.ics"


def events(body: bytes) -> list[tuple[str, str, str]]:
    """(summary, Chicago start, Chicago end) of each event, in feed order."""
    cal = Calendar.from_ical(body)
    return [
        (
            str(e["SUMMARY"]),
            f"{e.decoded('DTSTART').astimezone(EXAMPLE_TZ):%a %d %H:%M}",
            f"{e.decoded('DTEND').astimezone(EXAMPLE_TZ):%H:%M}",
        )
        for e in cal.walk("VEVENT")
    ]


EXAMPLE_TZ = ZoneInfo("America/Chicago")
HALL = "Check 1st floor north hallway"


async def test_the_feed_has_the_announced_windows_by_each_days_bell(
    settings: Settings, patrol: ServiceKernel, web: httpx.AsyncClient
) -> None:
    js = patrol.broker.connection.jetstream()
    early = DayTypeConfirmed.new(
        school_id="lhs",
        occurred_at=NOW,
        actor={"kind": "staff", "id": "principal-okafor"},
        day=FRIDAY,
        day_type=DayKind.EARLY_RELEASE,
        schedule="early",
        titles=["Early Release"],
    )
    await js.publish(subject_of(early), early.model_dump_json().encode())
    await wait_until(lambda: consumer_drained(js, "CALENDAR", "patrol-calendar"), what="day")

    response = await web.get(address(settings, "sso-rivera"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "private, max-age=900"
    assert events(response.content) == [
        (HALL, "Thu 17 08:35", "08:42"),
        (HALL, "Thu 17 09:32", "09:39"),
        (HALL, "Thu 17 10:29", "10:36"),
        (HALL, "Thu 17 12:26", "12:33"),
        (HALL, "Thu 17 13:23", "13:30"),
        (HALL, "Thu 17 14:20", "14:27"),
        (HALL, "Fri 18 08:30", "08:37"),  # the early release's bell
        (HALL, "Fri 18 09:22", "09:29"),
        (HALL, "Fri 18 10:44", "10:51"),
    ]
    assert b"Gymnasium" not in response.content  # its checks are unannounced
    cal = Calendar.from_ical(response.content)
    assert str(cal["X-WR-CALNAME"]) == "Patrol plan: Dana Rivera (Lakeside High School)"
    first = cal.walk("VEVENT")[0]
    assert str(first["UID"]) == "lhs-hall-1-north-20261217T143500Z@lookout"


@pytest.mark.parametrize(
    "path",
    [
        "/calendar/lhs/sso-rivera/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics",  # forged
        "principal",  # a real token, but the principal has no patrol plan
        "other-school",  # Rivera's token under a school that is not configured
    ],
)
async def test_a_wrong_address_is_a_404(
    settings: Settings, web: httpx.AsyncClient, path: str
) -> None:
    if path == "principal":
        path = address(settings, "principal-okafor")
    elif path == "other-school":
        token = feed_token(feed_secret(settings), "lhs", "sso-rivera")
        path = f"/calendar/mhs/sso-rivera/{token}.ics"
    response = await web.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_another_ssos_token_does_not_open_riveras_feed(
    settings: Settings, web: httpx.AsyncClient
) -> None:
    token = feed_token(feed_secret(settings), "lhs", "sso-rivera")
    assert (await web.get(f"/calendar/lhs/sso-rivera/{token}.ics")).status_code == 200
    assert (await web.get(f"/calendar/lhs/sso-nguyen/{token}.ics")).status_code == 404


async def test_the_signed_in_sso_is_told_their_address_and_a_principal_is_refused(
    settings: Settings, web: httpx.AsyncClient
) -> None:
    sso = Console(web)
    await sso.sign_in(settings, ManualClock(NOW), "sso-rivera", "lhs")
    answer = await sso.get("/api/v1/calendar/feed")
    assert answer.status_code == 200
    assert answer.json() == {"url": BASE + address(settings, "sso-rivera")}
    web.cookies.clear()
    principal = Console(web)
    await principal.sign_in(settings, ManualClock(NOW), "principal-okafor", "lhs")
    refused = await principal.get("/api/v1/calendar/feed")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "role: only an SSO has a patrol plan feed"
