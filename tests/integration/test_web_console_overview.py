"""The principal's console's overview against a real nats-server, the real patrol and alerts
services in process (their clocks stopped at Monday 23 November 2026, 08:00 at Lakeside) and
the web app with its lifespan: `GET /api/v1/console/attention` (unacknowledged alerts, concerns
open longer than the school's 24 hours, welfare re-checks missed in the last 7 days) and
`GET /api/v1/console/now` (each zone's last check and next window, where the SSO last scanned,
today's missed checks), in words and never a student reference or a note; district safety sees
the alerts part only and no "School now" (403), an SSO neither (403); without the patrol
service, a 503 within the 3 s bound."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext
from sqlalchemy import insert

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import CheckpointScanned, ConcernRaised, DeviceHeartbeat
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.patrol import store
from services.patrol.app import build_app, create_kernel
from tests.integration.conftest import consumer_drained, running, wait_until
from tests.integration.test_web import assert_problem
from tests.integration.test_web_alerts import (
    PRINCIPAL,
    SSO,
    SSO_DEVICE,
    alerts,
    alerts_db,
    clock,
    consoles,
    migrated_alerts_db,
    open_count,
    settings,
)

__all__ = ["alerts", "alerts_db", "clock", "migrated_alerts_db", "settings"]  # fixtures

pytestmark = pytest.mark.nats

DISTRICT = "district-lee"
OLD = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
NEW = uuid.UUID("00000000-0000-4000-8000-0000000000a2")
FOLLOW = "00000000-0000-4000-8000-0000000000f1"
STALE_FOLLOW = "00000000-0000-4000-8000-0000000000f2"


def chicago(day: int, hh: int, mm: int) -> datetime:
    """A Chicago time in November 2026 (UTC-6) as UTC."""
    return datetime(2026, 11, day, hh + 6, mm, tzinfo=UTC)


def z(day: int, hh: int, mm: int) -> str:
    return chicago(day, hh, mm).isoformat().replace("+00:00", "Z")


async def publish(js: JetStreamContext, event: Event) -> None:
    await js.publish(
        subject_of(event),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(event.event_id)},
    )


@pytest.fixture
async def patrol(settings: Settings, clock: ManualClock) -> AsyncIterator[ServiceKernel]:
    await ensure_streams(settings)
    async with running(create_kernel(settings, clock), build_app) as kernel:
        yield kernel


async def seed(js: JetStreamContext, patrol: ServiceKernel) -> None:
    """The SSO's phone bound and two scans this morning; a concern raised on Friday by the
    counselor and one by the phone 10 minutes ago; a window missed today and one on Friday; a
    re-check missed on Friday and one 10 days ago; the cafeteria's window ahead at 08:30."""
    events: list[Event] = [
        DeviceHeartbeat.new(
            school_id="lhs",
            occurred_at=chicago(23, 7, 40),
            actor=SSO_DEVICE,
            device_id="phone-rivera",
            officer_id=SSO,
        ),
        CheckpointScanned.new(
            school_id="lhs",
            occurred_at=chicago(23, 7, 45),
            actor=SSO_DEVICE,
            zone_id="cafeteria",
            checkpoint_tag="T-CAF-N",
            method="nfc",
        ),
        CheckpointScanned.new(
            school_id="lhs",
            occurred_at=chicago(23, 7, 52),
            actor=SSO_DEVICE,
            zone_id="entrance-main",
            checkpoint_tag="T-ENT-M",
            method="qr",
        ),
        ConcernRaised.new(
            school_id="lhs",
            occurred_at=chicago(20, 14, 10),
            actor={"kind": "staff", "id": "counselor-patel"},
            concern_id=OLD,
            category="bullying",
            severity="medium",
            zone_id="stair-east",
            student_refs=["S-104233"],
            note="Jordan was pushed on the stairs",
        ),
        ConcernRaised.new(
            school_id="lhs",
            occurred_at=chicago(23, 7, 50),
            actor=SSO_DEVICE,
            concern_id=NEW,
            category="vaping",
            severity="low",
            zone_id="bath-1n-boys",
            student_refs=["S-2001"],
            note="by the sinks",
        ),
    ]
    for event in events:
        await publish(js, event)
    for stream, durable in [("PATROL", "patrol-patrol"), ("CONCERNS", "patrol-concerns")]:
        await wait_until(
            lambda s=stream, d=durable: consumer_drained(js, s, d), what=f"{durable} drained"
        )
    async with patrol.sessions.begin() as session:
        await session.execute(
            insert(store.check_windows),
            [
                {
                    "school_id": "lhs",
                    "zone_id": zone,
                    "window_start": chicago(day, *start),
                    "window_end": chicago(day, *end),
                    "deadline_at": chicago(day, *deadline),
                    "period": period,
                    "unannounced": False,
                    "status": status,
                }
                for zone, day, start, end, deadline, period, status in [
                    ("hall-1-north", 23, (7, 30), (7, 37), (7, 40), "before", "missed"),
                    ("hall-2-south", 20, (9, 30), (9, 37), (9, 40), "pass-2", "missed"),
                    ("cafeteria", 23, (8, 30), (8, 40), (8, 45), "pass-1", "open"),
                ]
            ],
        )
        await session.execute(
            insert(store.follow_ups),
            [
                {
                    "concern_id": concern_id,
                    "school_id": "lhs",
                    "officer_id": SSO,
                    "zone_id": "courtyard",
                    "category": "emotional_distress",
                    "severity": "medium",
                    "remind_at": deadline - timedelta(hours=2),
                    "deadline_at": deadline,
                    "status": "missed",
                }
                for concern_id, deadline in [
                    (FOLLOW, chicago(20, 16, 0)),
                    (STALE_FOLLOW, chicago(13, 16, 0)),
                ]
            ],
        )


async def test_attention_and_school_now_in_words(
    settings: Settings,
    clock: ManualClock,
    alerts: ServiceKernel,
    patrol: ServiceKernel,
    js: JetStreamContext,
) -> None:
    await seed(js, patrol)
    async with consoles(settings, clock, (PRINCIPAL, "lhs"), (DISTRICT, "lhs"), (SSO, "lhs")) as (
        principal,
        district,
        sso,
    ):
        await wait_until(lambda: _at_least(principal, 2), what="both concerns' alerts open")
        answer = await principal.get("/api/v1/console/attention")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (
            "S-" not in answer.text and "Jordan" not in answer.text and "sinks" not in answer.text
        )
        assert body["as_of"] == "2026-11-23T14:00:00Z"
        assert (body["total"], body["concern_attention_hours"], body["patrol_shown"]) == (
            4,
            24,
            True,
        )
        items = [{k: v for k, v in i.items() if k != "alert_id"} for i in body["items"]]
        assert items == EXPECTED_ATTENTION
        assert [bool(i["alert_id"]) for i in body["items"]] == [True, True, False, False]

        now = await principal.get("/api/v1/console/now")
        assert now.status_code == 200, now.text
        school = now.json()
        assert len(school["zones"]) == 23
        shown = {z["zone_id"]: z for z in school["zones"]}
        assert shown["cafeteria"] == {
            "zone_id": "cafeteria",
            "zone_name": "Cafeteria",
            "last_check_at": z(23, 7, 45),
            "last_checked_by": "Dana Rivera",
            "next_window_start": z(23, 8, 30),
            "next_window_end": z(23, 8, 40),
            "next_period": "pass-1",
        }
        assert shown["entrance-main"]["last_check_at"] == z(23, 7, 52)
        assert shown["library"] == {
            "zone_id": "library",
            "zone_name": "Library",
            "last_check_at": None,
            "last_checked_by": None,
            "next_window_start": None,
            "next_window_end": None,
            "next_period": None,
        }
        assert school["officers"] == [
            {
                "person_id": SSO,
                "name": "Dana Rivera",
                "zone_id": "entrance-main",
                "zone_name": "Main entrance",
                "at": z(23, 7, 52),
            }
        ]
        assert school["missed"] == [
            {
                "zone_id": "hall-1-north",
                "zone_name": "1st floor north hallway",
                "window_start": z(23, 7, 30),
                "window_end": z(23, 7, 37),
                "period": "before",
                "unannounced": False,
            }
        ]
        assert school["missed_total"] == 1

        # District safety: the alerts, not patrol's part; no "School now".
        theirs = (await district.get("/api/v1/console/attention")).json()
        assert (theirs["patrol_shown"], theirs["total"]) == (False, 2)
        assert_problem(await district.get("/api/v1/console/now"), 403)
        # An SSO has no console.
        assert_problem(await sso.get("/api/v1/console/attention"), 403)
        assert_problem(await sso.get("/api/v1/console/now"), 403)


async def _at_least(console: Any, n: int) -> bool:
    return await open_count(console) >= n


def item(
    kind: str,
    what: str,
    severity: str | None,
    zone: tuple[str, str],
    since: str,
    age: int,
    owner: str,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "what": what,
        "severity": severity,
        "zone_id": zone[0],
        "zone_name": zone[1],
        "since": since,
        "age_minutes": age,
        "owner": owner,
    }


STAIRS = ("stair-east", "East stairwell")
EXPECTED_ATTENTION = [
    # The alerts opened now (the alerts service's clock), medium before low; who was told last.
    item(
        "alert", "Alert not acknowledged: bullying", "medium", STAIRS, z(23, 8, 0), 0, "Ravi Patel"
    ),
    item(
        "alert",
        "Alert not acknowledged: vaping",
        "low",
        ("bath-1n-boys", "1st floor north boys' bathroom"),
        z(23, 8, 0),
        0,
        "Dana Rivera",
    ),
    # Friday 14:10 to Monday 08:00 is 65 h 50 min; the 10-minute-old vaping concern is not here.
    item(
        "concern",
        "Concern open over 24 h: bullying",
        "medium",
        STAIRS,
        z(20, 14, 10),
        3950,
        "Ravi Patel",
    ),
    # Missed at Friday 16:00: 64 h ago; the one missed 10 days ago is past the 7 days.
    item(
        "follow_up",
        "Welfare re-check missed: emotional distress",
        None,
        ("courtyard", "Courtyard"),
        z(20, 16, 0),
        3840,
        "Dana Rivera",
    ),
]


async def test_no_patrol_service_is_a_503_within_the_bound(
    settings: Settings, clock: ManualClock, alerts: ServiceKernel
) -> None:
    await ensure_streams(settings)
    async with consoles(settings, clock, (PRINCIPAL, "lhs")) as (principal,):
        for path in ("/api/v1/console/attention", "/api/v1/console/now"):
            started = time.monotonic()
            answer = await principal.get(path)
            assert time.monotonic() - started < 3.5
            assert_problem(answer, 503)
            assert answer.json()["title"] == "Patrol service unavailable"
