"""Patrol queries over request-reply on a real nats-server and database: exact answers over a
seeded week, error replies (never timeouts), the access log, and the weekly focus publisher."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import nats
import pytest
from faststream.nats import NatsRouter
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import func, insert, select

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import (
    CheckpointScanned,
    ConcernRaised,
    ConcernResolved,
    ContactLogged,
    DeviceHeartbeat,
    ObservationLogged,
    PatrolFocusPublished,
)
from lookout.contracts.subjects import parse_event, subject_of
from lookout.kernel.clock import ManualClock
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from lookout.kernel.storage import upgrade_database
from lookout.school.config import SchoolConfig
from services.patrol import store
from services.patrol.app import MIGRATIONS, build_app, create_kernel
from services.patrol.queries import FocusPublisher, register_queries
from tests.integration.conftest import consumer_drained, running, wait_until

pytestmark = pytest.mark.nats

PHONE = {"kind": "sso_device", "id": "phone-rivera"}
KIM = {"kind": "staff", "id": "sso-kim"}
TEACHER = {"kind": "staff", "id": "teacher-ng"}
MON = date(2026, 11, 23)
TUE = date(2026, 11, 24)
SATURDAY = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # 10:00 in Chicago: no windows planned
C1 = uuid.UUID("00000000-0000-4000-8000-000000000001")
C2 = uuid.UUID("00000000-0000-4000-8000-000000000002")
C3 = uuid.UUID("00000000-0000-4000-8000-000000000003")


def local(day: date, hhmm: str, school: SchoolConfig) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=school.tz)


def utc(day: date, hhmm: str) -> str:
    """The JSON form of a Chicago time in November (UTC-6)."""
    h, m = (int(x) for x in hhmm.split(":"))
    return (
        datetime(day.year, day.month, day.day, h + 6, m, tzinfo=UTC)
        .isoformat()
        .replace("+00:00", "Z")
    )


class Seed:
    """A school week: scans, observations, concerns and contacts, as the phone would send."""

    def __init__(self, school: SchoolConfig) -> None:
        self.school = school
        at = lambda d, t: local(d, t, school)  # noqa: E731
        scan = lambda d, t, zone, tag, actor=PHONE: CheckpointScanned.new(  # noqa: E731
            school_id="lhs",
            occurred_at=at(d, t),
            actor=actor,
            zone_id=zone,
            checkpoint_tag=tag,
            method="nfc",
        )
        self.scans = [
            scan(MON, "08:36", "bath-1n-boys", "T-1NB"),
            scan(MON, "08:37", "bath-1n-boys", "T-1NB"),  # padding: again after 60 s
            scan(MON, "08:40", "hall-1-north", "T-H1N-A"),
            scan(MON, "09:33", "bath-1n-boys", "T-1NB"),
            scan(MON, "11:30", "stair-east", "T-STE-1"),
            scan(MON, "09:40", "bath-1n-boys", "T-1NB", KIM),
            scan(TUE, "08:36", "bath-1n-boys", "T-1NB"),
        ]
        self.patrol: list[Event] = [
            DeviceHeartbeat.new(
                school_id="lhs",
                occurred_at=at(MON, "07:00"),
                actor=PHONE,
                device_id="phone-rivera",
                officer_id="sso-rivera",
            ),
            *self.scans,
            *[
                ObservationLogged.new(
                    school_id="lhs",
                    occurred_at=at(MON, t),
                    actor=PHONE,
                    zone_id="bath-1n-boys",
                    category="vaping",
                    note="smell near the sinks",
                )
                for t in ("09:34", "09:35")
            ],
            *[
                ContactLogged.new(
                    school_id="lhs",
                    occurred_at=at(MON, t),
                    actor=PHONE,
                    kind=kind,
                    student_refs=refs,
                    concern_id=cid,
                )
                for t, kind, refs, cid in [
                    ("08:38", "positive_contact", ["S-1001"], None),
                    ("11:45", "check_in", ["S-2001"], C2),
                    ("11:50", "de_escalation", ["S-2001", "S-2002"], None),
                ]
            ],
        ]
        self.concerns: list[Event] = [
            ConcernRaised.new(
                school_id="lhs",
                occurred_at=at(MON, "09:36"),
                actor=PHONE,
                concern_id=C1,
                category="vaping",
                severity="low",
                zone_id="bath-1n-boys",
                student_refs=["S-1001", "S-1002"],
                note="two students",
            ),
            ConcernRaised.new(
                school_id="lhs",
                occurred_at=at(MON, "11:40"),
                actor=TEACHER,
                concern_id=C2,
                category="conflict",
                severity="high",
                zone_id="stair-east",
                student_refs=["S-2001"],
            ),
            ConcernRaised.new(
                school_id="lhs",
                occurred_at=at(MON, "09:38"),
                actor=PHONE,
                concern_id=C3,
                category="vaping",
                severity="medium",
                zone_id="bath-1n-boys",
                student_refs=["S-1003"],
            ),
            ConcernResolved.new(
                school_id="lhs",
                occurred_at=at(MON, "10:00"),
                actor=PHONE,
                concern_id=C3,
                outcome="resolved_by_sso",
            ),
        ]

    def windows(self) -> list[dict[str, Any]]:
        """Monday's windows as the plan closed them, and next Monday's, still open."""
        at = lambda d, t: local(d, t, self.school)  # noqa: E731
        nxt = date(2026, 11, 30)
        s = {i: str(e.event_id) for i, e in enumerate(self.scans)}
        rows = [
            # zone, day, start, end, deadline, period, unannounced, status, scan index
            ("bath-1n-boys", MON, "08:35", "08:42", "08:45", "pass-1", False, "checked", 0),
            ("hall-1-north", MON, "08:30", "08:38", "08:40", "pass-1", False, "late", 2),
            ("bath-1n-boys", MON, "09:32", "09:39", "09:42", "pass-2", False, "checked", 3),
            ("bath-1n-girls", MON, "08:35", "08:42", "08:45", "pass-1", False, "missed", None),
            ("bath-1n-boys", MON, "10:29", "10:36", "10:39", "pass-3", False, "missed", None),
            ("bath-1s-allgender", MON, "09:32", "09:39", "09:42", "pass-2", False, "checked", 5),
            ("bath-1n-girls", TUE, "08:35", "08:42", "08:45", "pass-1", False, "missed", None),
            ("bath-1n-boys", nxt, "09:32", "09:39", "09:42", "pass-2", False, "open", None),
            ("bath-1n-boys", nxt, "08:35", "08:42", "08:45", "pass-1", False, "open", None),
            ("bath-1n-boys", nxt, "08:00", "08:10", "08:15", "p1", True, "open", None),
        ]
        return [
            {
                "school_id": "lhs",
                "zone_id": zone,
                "window_start": at(day, start),
                "window_end": at(day, end),
                "deadline_at": at(day, deadline),
                "period": period,
                "unannounced": unannounced,
                "status": status,
                "closed_at": None if status == "open" else at(day, deadline),
                "scan_event_id": None if scan is None else s[scan],
            }
            for zone, day, start, end, deadline, period, unannounced, status, scan in rows
        ]


async def publish(js: JetStreamContext, event: Event) -> None:
    await js.publish(
        subject_of(event),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(event.event_id)},
    )


def with_queries(kernel: ServiceKernel) -> Any:
    """The patrol app with the query subscribers added (as app.py will wire them)."""
    router = NatsRouter()
    register_queries(router, kernel)
    kernel.broker.include_router(router)
    return build_app(kernel)


@pytest.fixture
def make_kernel(
    nats_server: Any, database_url: str, tmp_path: Path, clock: ManualClock
) -> Callable[[], ServiceKernel]:
    clock.set(SATURDAY)

    def make() -> ServiceKernel:
        settings = Settings(
            data_dir=tmp_path / "data",
            nats_url=nats_server.url,
            patrol_db_url=database_url,
            # A delivery lost to a pull request that expired client-side under load comes
            # back after ack_wait: keep it short so a slow machine costs seconds, not a failure.
            consumer_ack_wait_seconds=2.0,
            timers_enabled=False,  # the tests tick the timers they examine themselves
        )
        return create_kernel(settings, clock)

    return make


@pytest.fixture
async def nc(nats_server: Any) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    yield client
    await client.close()


@pytest.fixture
async def seeded(
    make_kernel: Callable[[], ServiceKernel], js: JetStreamContext, school: SchoolConfig
) -> AsyncIterator[tuple[ServiceKernel, Seed]]:
    """The running patrol service with the week's events ingested and windows written."""
    kernel = make_kernel()
    seed = Seed(school)
    # Published before the service starts, so its consumers find them in one batch each.
    await ensure_streams(kernel.settings)
    for event in [*seed.patrol, *seed.concerns]:
        await publish(js, event)
    async with running(kernel, with_queries):
        for stream, durable in [("PATROL", "patrol-patrol"), ("CONCERNS", "patrol-concerns")]:
            await wait_until(
                lambda s=stream, d=durable: consumer_drained(js, s, d),
                what=f"{durable} drained",
            )
        async with kernel.sessions.begin() as session:
            await session.execute(insert(store.check_windows), seed.windows())
        yield kernel, seed


async def ask(
    nc: Client, name: str, payload: Any, school: str = "lhs", person: str = "ap-chen"
) -> dict[str, Any]:
    """Who asks is the subject's last token (`query.<school>.patrol.<name>.<person>`)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    reply = await nc.request(f"query.{school}.patrol.{name}.{person}", body, timeout=5)
    return json.loads(reply.data)  # type: ignore[no-any-return]


async def access_rows(kernel: ServiceKernel) -> list[dict[str, Any]]:
    async with kernel.sessions() as session:
        rows = await session.execute(select(store.access_log).order_by(store.access_log.c.id))
        return [dict(r._mapping) for r in rows]


# --- open concerns and the access log -----------------------------------------------------------


async def test_open_concerns_answer_is_exact_and_access_logged_once(
    seeded: tuple[ServiceKernel, Seed], nc: Client
) -> None:
    kernel, _ = seeded
    reply = await ask(nc, "open_concerns", {"min_severity": "medium"})
    assert reply == {
        "ok": True,
        "result": {
            "concerns": [
                {
                    "concern_id": str(C2),
                    "category": "conflict",
                    "severity": "high",
                    "zone_id": "stair-east",
                    "student_refs": ["S-2001"],
                    "raised_by_kind": "staff",
                    "raised_by": "teacher-ng",
                    "raised_at": utc(MON, "11:40"),
                    "updated_at": utc(MON, "11:40"),
                }
            ],
            "total": 1,
        },
    }
    assert await access_rows(kernel) == [
        {
            "id": 1,
            "school_id": "lhs",
            "requested_by": "ap-chen",
            "query": "open_concerns",
            "subject_ids": {"concern_ids": [str(C2)], "student_refs": ["S-2001"]},
            "at": SATURDAY,
        }
    ]

    # All open ones (C3 was resolved), most severe first; one more access-log row.
    reply = await ask(nc, "open_concerns", {"limit": 1}, person="sso-rivera")
    assert [c["concern_id"] for c in reply["result"]["concerns"]] == [str(C2)]
    assert reply["result"]["total"] == 2
    reply = await ask(nc, "open_concerns", {"zone_id": "bath-1n-boys"}, person="sso-rivera")
    assert [(c["concern_id"], c["student_refs"]) for c in reply["result"]["concerns"]] == [
        (str(C1), ["S-1001", "S-1002"])
    ]
    rows = await access_rows(kernel)
    assert [(r["requested_by"], r["subject_ids"]) for r in rows[1:]] == [
        ("sso-rivera", {"concern_ids": [str(C2)], "student_refs": ["S-2001"]}),
        ("sso-rivera", {"concern_ids": [str(C1)], "student_refs": ["S-1001", "S-1002"]}),
    ]


# --- errors: a reply, never a timeout ----------------------------------------------------------


async def test_bad_requests_get_an_error_reply_naming_the_field(
    make_kernel: Callable[[], ServiceKernel], nc: Client
) -> None:
    kernel = make_kernel()
    async with running(kernel, with_queries):
        cases: list[tuple[str, Any, str, str]] = [
            (
                "open_concerns",
                {"requested_by": "principal-okafor"},  # who asks is the subject's, not the body's
                "lhs",
                "invalid request: requested_by: the acting person is the subject's last token, "
                "not a body field",
            ),
            (
                "open_concerns",
                {"min_severity": "urgent"},
                "lhs",
                "invalid request: min_severity: Input should be 'low', 'medium', 'high' or "
                "'critical'",
            ),
            (
                "zone_status",
                {"colour": "red"},
                "lhs",
                "invalid request: <root>: unknown field",
            ),
            (
                "tour_stats",
                {"date_from": "2026-11-24", "date_to": "2026-11-23"},
                "lhs",
                "invalid request: date_to: Value error, date_to is before date_from",
            ),
            (
                "tour_stats",
                {"padding_minutes": 0},
                "lhs",
                "invalid request: padding_minutes: Input should be greater than or equal to 1",
            ),
            (
                "shift_summary",
                {"officer_id": "sso-rivera", "day": 20261123},
                "lhs",
                "invalid request: day: Input should be a valid date",
            ),
            (
                "focus",
                {"week": "2025-W53"},
                "lhs",
                "week: 2025-W53 does not exist",
            ),
            (
                "open_concerns",
                {"zone_id": "roof"},
                "lhs",
                "zone_id: not a zone of this school",
            ),
            ("hotspots", b"{not json", "lhs", "invalid request: <root>: Invalid JSON"),
            ("zone_status", {}, "nope", "school: not a school of this deployment"),
        ]
        for name, payload, school_id, error in cases:
            reply = await ask(nc, name, payload, school_id)
            assert reply["ok"] is False, name
            assert reply["error"].startswith(error), (name, reply)
        assert await access_rows(kernel) == []


# --- zone status and shift summary --------------------------------------------------------------


async def test_zone_status_and_the_officers_shift_summary(
    seeded: tuple[ServiceKernel, Seed], nc: Client
) -> None:
    reply = await ask(nc, "zone_status", {"zone_id": "bath-1n-boys"})
    nxt = date(2026, 11, 30)
    assert reply == {
        "ok": True,
        "result": {
            "as_of": "2026-11-28T16:00:00Z",
            "zones": [
                {
                    "zone_id": "bath-1n-boys",
                    "last_check_at": utc(TUE, "08:36"),
                    "last_checkpoint_tag": "T-1NB",
                    "last_checked_by": "sso-rivera",  # the phone reported its officer
                    # the unannounced 08:00 window is not shown; pass-1 comes before pass-2
                    "next_window": {
                        "window_start": utc(nxt, "08:35"),
                        "window_end": utc(nxt, "08:42"),
                        "deadline_at": utc(nxt, "08:45"),
                        "period": "pass-1",
                    },
                }
            ],
            # bath-1n-boys is on the Main building's 1st floor; checked Tuesday, not today
            "areas": [
                {
                    "area_id": area,
                    "zones": 1,
                    "checked_today": 0,
                    "last_check_at": utc(TUE, "08:36"),
                }
                for area in ("main", "main-1")
            ],
        },
    }
    everything = await ask(nc, "zone_status", {})
    zones = {z["zone_id"]: z for z in everything["result"]["zones"]}
    assert len(zones) == 23
    assert (zones["stair-east"]["last_check_at"], zones["stair-east"]["next_window"]) == (
        utc(MON, "11:30"),
        None,
    )
    assert zones["gym"]["last_check_at"] is None

    reply = await ask(
        nc,
        "shift_summary",
        {"officer_id": "sso-rivera", "day": "2026-11-23"},
    )
    assert reply == {
        "ok": True,
        "result": {
            "officer_id": "sso-rivera",
            "day": "2026-11-23",
            "scans": 5,  # by the phone sso-rivera carries
            "checks_done": 2,  # sso-kim's check of bath-1s-allgender is not hers
            "checks_late": 1,
            "checks_missed": 2,  # Tuesday's miss is another day
            "contacts": {
                "positive_contact": 1,
                "check_in": 1,
                "de_escalation": 1,
                "referral_to_counselor": 0,
            },
            "concerns_raised": 2,
            "concerns_resolved": 1,
        },
    }
    other = await ask(
        nc,
        "shift_summary",
        {"officer_id": "sso-kim", "day": "2026-11-23"},
    )
    result = other["result"]
    assert (result["scans"], result["checks_done"], result["concerns_raised"]) == (1, 1, 0)


# --- tour statistics, hotspots, focus, deterrence ----------------------------------------------


async def test_tour_stats_per_zone_and_officer_with_padding(
    seeded: tuple[ServiceKernel, Seed], nc: Client
) -> None:
    reply = await ask(
        nc,
        "tour_stats",
        {
            "date_from": "2026-11-23",
            "date_to": "2026-11-24",
            "zone_id": "bath-1n-boys",
        },
    )
    assert reply == {
        "ok": True,
        "result": {
            "date_from": "2026-11-23",
            "date_to": "2026-11-24",
            "padding_minutes": 2,
            "zones": [
                {
                    "zone_id": "bath-1n-boys",
                    "scans": 5,
                    "checkpoints": {"T-1NB": 5},
                    # Monday 08:36, 08:37, 09:33, 09:40: gaps of 60, 3360 and 420 s
                    "gaps": {
                        "count": 3,
                        "min_seconds": 60.0,
                        "avg_seconds": 1280.0,
                        "max_seconds": 3360.0,
                    },
                    "padding_flags": 1,
                }
            ],
            "officers": [
                {
                    "officer_id": "sso-kim",
                    "scans": 1,
                    "zones": 1,
                    "checkpoints": {"T-1NB": 1},
                    "gaps": {
                        "count": 0,
                        "min_seconds": None,
                        "avg_seconds": None,
                        "max_seconds": None,
                    },
                    "padding_flags": 0,
                },
                {
                    "officer_id": "sso-rivera",
                    "scans": 4,
                    "zones": 1,
                    "checkpoints": {"T-1NB": 4},
                    "gaps": {
                        "count": 2,
                        "min_seconds": 60.0,
                        "avg_seconds": 1710.0,
                        "max_seconds": 3360.0,
                    },
                    "padding_flags": 1,
                },
            ],
            "padding": [
                {
                    "officer_id": "sso-rivera",
                    "zone_id": "bath-1n-boys",
                    "checkpoint_tag": "T-1NB",
                    "first_at": utc(MON, "08:36"),
                    "again_at": utc(MON, "08:37"),
                    "gap_seconds": 60.0,
                }
            ],
            "areas": [
                {
                    "area_id": area,
                    "zones": 1,
                    "zones_scanned": 1,
                    "scans": 5,
                    "padding_flags": 1,
                }
                for area in ("main", "main-1")
            ],
        },
    }
    strict = await ask(
        nc,
        "tour_stats",
        {
            "date_from": "2026-11-23",
            "date_to": "2026-11-24",
            "padding_minutes": 1,
            "officer_id": "sso-rivera",
        },
    )
    result = strict["result"]
    assert len(result["zones"]) == 23
    assert [(o["officer_id"], o["scans"], o["zones"]) for o in result["officers"]] == [
        ("sso-rivera", 6, 3)
    ]
    assert len(result["padding"]) == 1  # 60 s is within 1 minute too

    default = await ask(nc, "deterrence", {})  # the last 4 weeks
    assert (default["result"]["date_from"], default["result"]["date_to"]) == (
        "2026-11-01",
        "2026-11-28",
    )
    started = await ask(nc, "tour_stats", {"date_from": "2026-11-23"})
    assert (started["result"]["date_from"], started["result"]["date_to"]) == (
        "2026-11-23",
        "2026-12-20",
    )


async def test_hotspots_focus_and_deterrence_are_exact(
    seeded: tuple[ServiceKernel, Seed], nc: Client
) -> None:
    hot = await ask(nc, "hotspots", {"as_of": "2026-11-28"})
    assert hot == {
        "ok": True,
        "result": {
            "window_start": "2026-11-01",
            "window_end": "2026-11-28",
            "school_days": 18,
            "items": [
                {
                    "zone_id": "bath-1n-boys",
                    "period": "pass-2",
                    "score": 0.28,  # (low 1 + medium 2 + 2 observations) / 18 school days
                    "concerns": 2,
                    "observations": 2,
                    "severity_points": 3,
                    "concerns_by_category": {"vaping": 2},
                    "observations_by_category": {"vaping": 2},
                    "in_plan": True,
                },
                {
                    "zone_id": "stair-east",
                    "period": "lunch-a",
                    "score": 0.17,  # high 3 / 18
                    "concerns": 1,
                    "observations": 0,
                    "severity_points": 3,
                    "concerns_by_category": {"conflict": 1},
                    "observations_by_category": {},
                    "in_plan": False,
                },
            ],
            "areas": [
                # the stairwell is in the Main building, the bathroom on its 1st floor:
                # (1 + 2 + 2 observations + 3) / 18 = 0.44 and 5 / 18 = 0.28
                {"area_id": "main", "score": 0.44, "concerns": 3, "observations": 2},
                {"area_id": "main-1", "score": 0.28, "concerns": 2, "observations": 2},
            ],
        },
    }

    focus = await ask(nc, "focus", {"week": "2026-W49"})
    assert focus == {
        "ok": True,
        "result": {
            "week": "2026-W49",
            "window_start": "2026-11-02",
            "window_end": "2026-11-29",
            "school_days": 18,
            "items": [
                {
                    "zone_id": "bath-1n-boys",
                    "period": "pass-2",
                    "score": 0.28,
                    "concerns": 2,
                    "observations": 2,
                    "reason": "extra checks: 2 concerns (2 vaping) and 2 observations "
                    "in the last 4 weeks",
                },
                {
                    "zone_id": "stair-east",
                    "period": "lunch-a",
                    "score": 0.17,
                    "concerns": 1,
                    "observations": 0,
                    "reason": "unannounced checks (no planned window): 1 concern (1 conflict) "
                    "and 0 observations in the last 4 weeks",
                },
            ],
        },
    }

    det = await ask(
        nc,
        "deterrence",
        {"date_from": "2026-11-23", "date_to": "2026-11-23"},
    )
    assert det == {
        "ok": True,
        "result": {
            "date_from": "2026-11-23",
            "date_to": "2026-11-23",
            "minutes": 15,
            "zones": [
                {
                    "zone_id": "bath-1n-boys",
                    "checks": 4,
                    "concerns_after_check": 2,  # 08:36-08:52 and 09:33-09:55 = 38 min covered
                    "hours_after_check": 0.63,
                    "concerns_other": 0,
                    "hours_other": 7.87,
                    "rate_after_check": 3.158,
                    "rate_other": 0.0,
                    "ratio": None,
                    "explanation": "2 concerns in 0.63 h within 15 min after a check (3.158/h) "
                    "vs 0 concerns in 7.87 h at other school times (0/h)",
                },
                {
                    "zone_id": "hall-1-north",
                    "checks": 1,
                    "concerns_after_check": 0,
                    "hours_after_check": 0.25,
                    "concerns_other": 0,
                    "hours_other": 8.25,
                    "rate_after_check": 0.0,
                    "rate_other": 0.0,
                    "ratio": None,
                    "explanation": "0 concerns in 0.25 h within 15 min after a check (0/h) "
                    "vs 0 concerns in 8.25 h at other school times (0/h)",
                },
                {
                    "zone_id": "stair-east",
                    "checks": 1,
                    "concerns_after_check": 1,
                    "hours_after_check": 0.25,
                    "concerns_other": 0,
                    "hours_other": 8.25,
                    "rate_after_check": 4.0,
                    "rate_other": 0.0,
                    "ratio": None,
                    "explanation": "1 concern in 0.25 h within 15 min after a check (4/h) "
                    "vs 0 concerns in 8.25 h at other school times (0/h)",
                },
            ],
        },
    }


# --- the weekly focus -------------------------------------------------------------------------


async def focus_events(js: JetStreamContext) -> list[PatrolFocusPublished]:
    sub = await js.subscribe("patrol.lhs.focus.published", ordered_consumer=True)
    events = []
    try:
        while True:
            msg = await sub.next_msg(timeout=0.5)
            event = parse_event(msg.subject, msg.data)
            assert isinstance(event, PatrolFocusPublished)
            events.append(event)
    except nats.errors.TimeoutError:
        pass
    finally:
        await sub.unsubscribe()
    return events


async def test_focus_is_published_once_per_week_even_when_ticked_again(
    seeded: tuple[ServiceKernel, Seed], nc: Client, js: JetStreamContext, clock: ManualClock
) -> None:
    kernel, _ = seeded
    school = kernel.schools["lhs"]
    publisher = FocusPublisher(kernel.schools, kernel.outbox)

    async def tick(p: FocusPublisher = publisher) -> int:
        async with kernel.sessions.begin() as session:
            return await p.fire_due(session, clock.now())

    clock.set(local(date(2026, 11, 27), "14:59", school))  # Friday, before the report moment
    assert await tick() == 0
    clock.set(local(date(2026, 11, 27), "15:00", school))
    assert await tick() == 1
    assert await tick() == 0
    assert await tick(FocusPublisher(kernel.schools, kernel.outbox)) == 0  # fresh, same DB
    clock.set(local(date(2026, 11, 29), "20:00", school))  # Sunday: still W49, already sent
    assert await tick() == 0
    kernel.relay.wake()

    async def sent() -> bool:
        async with kernel.sessions() as session:
            return await kernel.outbox.unsent_count(session) == 0

    await wait_until(sent, what="outbox relayed")
    events = await focus_events(js)
    assert [(e.week, e.school_id, e.actor.id) for e in events] == [("2026-W49", "lhs", "patrol")]
    focus = await ask(nc, "focus", {"week": "2026-W49"})
    assert [i.model_dump(mode="json") for i in events[0].items] == focus["result"]["items"]
    async with kernel.sessions() as session:
        marks = (await session.execute(select(store.published_focus))).all()
    assert [(m.school_id, m.week, m.published_at) for m in marks] == [
        ("lhs", "2026-W49", local(date(2026, 11, 27), "15:00", school))
    ]


async def test_two_kernels_publish_the_weeks_focus_once(
    database_url: str, tmp_path: Path, clock: ManualClock, school: SchoolConfig
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs a single replica; concurrent replicas need PostgreSQL")
    clock.set(local(date(2026, 11, 27), "15:00", school))
    kernels = [
        create_kernel(
            Settings(data_dir=tmp_path, patrol_db_url=database_url, nats_url="nats://none:1"),
            clock,
        )
        for _ in range(2)
    ]
    await upgrade_database(kernels[0].engine, MIGRATIONS, "patrol")

    async def tick(kernel: ServiceKernel) -> int:
        async with kernel.sessions.begin() as session:
            return await FocusPublisher(kernel.schools, kernel.outbox).fire_due(
                session, clock.now()
            )

    try:
        rounds = [sum(await asyncio.gather(*(tick(k) for k in kernels))) for _ in range(3)]
        async with kernels[0].sessions() as session:
            subjects = (await session.execute(select(store.outbox.c.subject))).scalars().all()
            marks = await session.execute(select(func.count()).select_from(store.published_focus))
        assert rounds == [1, 0, 0]
        assert subjects == ["patrol.lhs.focus.published"]
        assert marks.scalar_one() == 1
    finally:
        for k in kernels:
            await k.engine.dispose()


# --- the CLI --------------------------------------------------------------------------------------


async def lookout(*args: str, url: str) -> Any:
    """Run `lookout …` in a thread (it runs its own event loop) against the test's NATS."""
    from typer.testing import CliRunner

    from lookout.cli import patrol as cli_patrol
    from lookout.cli.main import app

    # The console is made at import, possibly by another test with another width: fix it here
    # so table cells are not wrapped.
    cli_patrol.console.width = 250
    env = {"LOOKOUT_NATS_URL": url, "COLUMNS": "250", "LOOKOUT_USER": "ap-chen"}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def test_cli_prints_the_plan_and_answers_in_json(
    seeded: tuple[ServiceKernel, Seed], nc: Client, nats_server: Any
) -> None:
    url = nats_server.url
    table = await lookout("patrol", "plan", "--school", "lhs", "--week", "2026-W49", url=url)
    assert table.exit_code == 0, table.output
    assert "Patrol focus 2026-W49 (lhs), from 2026-11-02 to 2026-11-29, 18 school days" in (
        table.output
    )
    assert "extra checks: 2 concerns (2 vaping) and 2 observations in the last 4 weeks" in (
        table.output
    )
    assert "unannounced checks (no planned window): 1 concern (1 conflict)" in table.output

    as_json = await lookout(
        "patrol", "plan", "--school", "lhs", "--week", "2026-W49", "--format", "json", url=url
    )
    focus = await ask(nc, "focus", {"week": "2026-W49"})
    assert json.loads(as_json.stdout) == focus["result"]

    summary = await lookout(
        "patrol", "summary", "--officer", "sso-rivera", "--date", "2026-11-23", "--format",
        "json", url=url,
    )  # fmt: skip
    assert json.loads(summary.stdout)["checks_missed"] == 2
    for args in (
        ("patrol", "status"),
        ("patrol", "summary", "--officer", "sso-rivera", "--date", "2026-11-23"),
        ("patrol", "stats", "--from", "2026-11-23", "--to", "2026-11-24"),
        ("patrol", "hotspots", "--as-of", "2026-11-28"),
        ("patrol", "deterrence", "--from", "2026-11-23", "--to", "2026-11-23"),
    ):
        result = await lookout(*args, url=url)
        assert result.exit_code == 0, (args, result.output)
    status = await lookout("patrol", "status", "--zone", "bath-1n-boys", url=url)
    assert "Tue 24 Nov 08:36" in status.output and "Mon 30 Nov 08:35-08:42" in status.output
    upstairs = await lookout(
        "patrol", "hotspots", "--as-of", "2026-11-28", "--area", "main-1", url=url
    )
    rows = [line.split() for line in upstairs.output.splitlines() if "main" in line]
    assert [r for r in rows if r[1] != "bath-1n-boys"] == [  # the "By area" table
        ["│", "main", "│", "0.28", "│", "2", "│", "2", "│"],
        ["│", "main-1", "│", "0.28", "│", "2", "│", "2", "│"],
    ]

    bad = await lookout("patrol", "plan", "--week", "2026-W99", url=url)
    assert (bad.exit_code, bad.stderr) == (
        2,
        "lookout: error: week: String should match pattern '^\\d{4}-W(0[1-9]|[1-4]\\d|5[0-3])$'\n",
    )
    refused = await lookout("patrol", "status", "--zone", "roof", url=url)
    assert (refused.exit_code, refused.stderr) == (
        1,
        "lookout: error: zone_id: not a zone of this school\n",
    )


async def test_cli_says_when_the_patrol_service_does_not_answer(nats_server: Any) -> None:
    result = await lookout("patrol", "status", "--timeout", "0.5", url=nats_server.url)
    assert (result.exit_code, result.stderr) == (
        1,
        "lookout: error: patrol service did not answer on query.lhs.patrol.zone_status.ap-chen "
        "(is `lookout up` running?)\n",
    )
    assert "Traceback" not in result.output


# --- out-of-range dates and weeks: an error reply naming the field (issue 13, item 4) ---------

DATE_RANGE = "Value error, must be between 2000-01-01 and 2100-12-31"
WEEK_RANGE = "Value error, must be a week of the years 2000 to 2100"


async def test_dates_and_weeks_out_of_range_get_an_error_reply_naming_the_field(
    make_kernel: Callable[[], ServiceKernel], nc: Client
) -> None:
    """Day 0001 or 9999 made shift_summary reply with an internal OverflowError; every date and
    week of a patrol query is bounded to 2000..2100, refused by name, never echoed."""
    kernel = make_kernel()
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("shift_summary", {"officer_id": "sso-rivera", "day": "0001-01-01"}, f"day: {DATE_RANGE}"),
        ("shift_summary", {"officer_id": "sso-rivera", "day": "9999-12-31"}, f"day: {DATE_RANGE}"),
        ("shift_summary", {"officer_id": "sso-rivera", "day": "1999-12-31"}, f"day: {DATE_RANGE}"),
        ("shift_summary", {"officer_id": "sso-rivera", "day": "2101-01-01"}, f"day: {DATE_RANGE}"),
        ("tour_stats", {"date_from": "0001-01-01", "date_to": "2026-11-23"},
         f"date_from: {DATE_RANGE}"),
        ("deterrence", {"date_from": "2026-11-23", "date_to": "9999-12-31"},
         f"date_to: {DATE_RANGE}"),
        ("hotspots", {"as_of": "9999-12-31"}, f"as_of: {DATE_RANGE}"),
        ("hotspots", {"as_of": "0001-01-01"}, f"as_of: {DATE_RANGE}"),
        ("focus", {"week": "0001-W01"}, f"week: {WEEK_RANGE}"),
        ("focus", {"week": "9999-W52"}, f"week: {WEEK_RANGE}"),
    ]  # fmt: skip
    async with running(kernel, with_queries):
        for name, fields, error in cases:
            reply = await ask(nc, name, fields)
            assert reply == {"ok": False, "error": f"invalid request: {error}"}, (name, fields)
            for value in fields.values():
                if value != "sso-rivera":
                    assert value[:4] not in reply["error"], (name, value)
        # The ends of the range are days like any other.
        for day in ("2000-01-01", "2100-12-31"):
            reply = await ask(nc, "shift_summary", {"officer_id": "sso-rivera", "day": day})
            assert reply["ok"] is True, reply
            assert (reply["result"]["day"], reply["result"]["scans"]) == (day, 0)
        reply = await ask(nc, "focus", {"week": "2100-W52"})
        assert reply["ok"] is True, reply
        assert reply["result"]["window_end"] == "2100-12-26"  # W52 begins Monday 27 December
    assert await access_rows(kernel) == []
