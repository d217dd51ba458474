"""The `today` query over request-reply on a real nats-server: the officer is the subject's last
token (never the body), their phone's concerns count as theirs once a heartbeat bound it, and
the answer is exact for Monday 23 November 2026, 09:30 at Lakeside High."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import insert

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import ConcernRaised, DeviceHeartbeat
from lookout.contracts.subjects import subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.settings import Settings
from lookout.school.config import SchoolConfig
from services.patrol import store
from services.patrol.app import build_app, create_kernel
from tests.integration.conftest import consumer_drained, running, wait_until

pytestmark = pytest.mark.nats

MON = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # 09:30 in Chicago
PHONE = {"kind": "sso_device", "id": "phone-rivera"}
C1 = uuid.UUID("00000000-0000-4000-8000-000000000001")
C2 = uuid.UUID("00000000-0000-4000-8000-000000000002")


def local(hhmm: str) -> datetime:
    return datetime.combine(MON, time.fromisoformat(hhmm), tzinfo=ZoneInfo("America/Chicago"))


def z(hhmm: str) -> str:
    """The JSON form of a Chicago time on Monday 23 November (UTC-6)."""
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(2026, 11, 23, h + 6, m, tzinfo=UTC).isoformat().replace("+00:00", "Z")


async def publish(js: JetStreamContext, event: Event) -> None:
    await js.publish(
        subject_of(event),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(event.event_id)},
    )


@pytest.fixture
async def nc(nats_server: Any) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    yield client
    await client.close()


async def ask(nc: Client, person: str, body: Any = None, school: str = "lhs") -> dict[str, Any]:
    payload = json.dumps(body if body is not None else {}).encode()
    reply = await nc.request(f"query.{school}.patrol.today.{person}", payload, timeout=5)
    return json.loads(reply.data)  # type: ignore[no-any-return]


async def test_today_answers_the_subjects_officer_with_their_phones_concerns(
    nats_server: Any, js: JetStreamContext, nc: Client, tmp_path: Path, school: SchoolConfig
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        consumer_ack_wait_seconds=2.0,
        timers_enabled=False,
    )
    kernel = create_kernel(settings, ManualClock(NOW))
    await ensure_streams(settings)
    events: list[Event] = [
        DeviceHeartbeat.new(
            school_id="lhs",
            occurred_at=local("09:20"),
            actor=PHONE,
            device_id="phone-rivera",
            officer_id="sso-rivera",
        ),
        ConcernRaised.new(
            school_id="lhs",
            occurred_at=local("09:25"),
            actor=PHONE,
            concern_id=C1,
            category="vaping",
            severity="medium",
            zone_id="bath-1n-boys",
            student_refs=["S-1001"],
            note="by the sinks",
        ),
        ConcernRaised.new(
            school_id="lhs",
            occurred_at=local("09:26"),
            actor={"kind": "staff", "id": "teacher-ng"},
            concern_id=C2,
            category="conflict",
            severity="high",
            zone_id="stair-east",
            student_refs=["S-2001"],
        ),
    ]
    for event in events:
        await publish(js, event)
    async with running(kernel, build_app):
        for stream, durable in [("PATROL", "patrol-patrol"), ("CONCERNS", "patrol-concerns")]:
            await wait_until(
                lambda s=stream, d=durable: consumer_drained(js, s, d), what=f"{durable} drained"
            )
        async with kernel.sessions.begin() as session:
            await session.execute(
                insert(store.check_windows),
                [
                    {
                        "school_id": "lhs",
                        "zone_id": zone,
                        "window_start": local(start),
                        "window_end": local(end),
                        "deadline_at": local(deadline),
                        "period": period,
                        "unannounced": unannounced,
                        "status": status,
                    }
                    for zone, start, end, deadline, period, unannounced, status in [
                        ("bath-1n-boys", "08:35", "08:42", "08:45", "pass-1", False, "checked"),
                        ("hall-1-north", "09:32", "09:39", "09:41", "pass-2", False, "open"),
                        ("bath-1n-boys", "09:32", "09:39", "09:42", "pass-2", False, "open"),
                        ("stair-east", "10:00", "10:10", "10:15", "p3", True, "open"),
                    ]
                ],
            )

        reply = await ask(nc, "sso-rivera", {"limit": 5})
        assert reply == {
            "ok": True,
            "result": {
                "as_of": "2026-11-23T15:30:00Z",
                "day": "2026-11-23",
                "officer_id": "sso-rivera",
                "windows": [
                    # same start: the school file's zone order (the bathroom is listed first)
                    {
                        "zone_id": "bath-1n-boys",
                        "window_start": z("09:32"),
                        "window_end": z("09:39"),
                        "deadline_at": z("09:42"),
                        "period": "pass-2",
                        "checked": False,
                    },
                    {
                        "zone_id": "hall-1-north",
                        "window_start": z("09:32"),
                        "window_end": z("09:39"),
                        "deadline_at": z("09:41"),
                        "period": "pass-2",
                        "checked": False,
                    },
                ],
                "windows_total": 2,
                "unannounced": [
                    {
                        "zone_id": "stair-east",
                        "check_at": z("10:00"),
                        "window_end": z("10:10"),
                        "deadline_at": z("10:15"),
                    }
                ],
                "unannounced_total": 1,
                "follow_ups": [],
                "follow_ups_total": 0,
                "concerns": [  # her phone's, not the teacher's
                    {
                        "concern_id": str(C1),
                        "category": "vaping",
                        "severity": "medium",
                        "zone_id": "bath-1n-boys",
                        "raised_at": z("09:25"),
                        "alert": None,  # no alerts service here: nothing opened for it
                    }
                ],
                "concerns_total": 1,
                "paged": [],
                "paged_total": 0,
                "sensor_checks": [],
                "sensor_checks_total": 0,
            },
        }

        # Who asks is the subject's last token: a body naming someone is refused by name.
        refused = await ask(nc, "sso-rivera", {"requested_by": "principal-okafor"})
        assert refused == {
            "ok": False,
            "error": "invalid request: requested_by: the acting person is the subject's last "
            "token, not a body field",
        }
        bad = await ask(nc, "sso-rivera", {"limit": 0})
        assert bad == {
            "ok": False,
            "error": "invalid request: limit: Input should be greater than or equal to 1",
        }
        other_school = await ask(nc, "sso-rivera", school="nope")
        assert other_school == {"ok": False, "error": "school: not a school of this deployment"}
        # A front-office person is told no unannounced check and has no concerns of theirs.
        office = await ask(nc, "office-garcia")
        assert (office["result"]["unannounced"], office["result"]["concerns"]) == ([], [])
