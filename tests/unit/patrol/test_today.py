"""The `today` query behind the SSO's phone: at Monday 23 November 08:37 in Tiny High, the
officer's next windows (one already checked), the unannounced checks still ahead, the welfare
re-checks due or recently missed that are addressed to them or their phone, and the open
concerns they raised (also from their phone) — with no student reference or note anywhere.

Tiny High's plan (tiny_school.py): the entrance 07:15-07:45 (grace 5), bathroom A in each
passing period (grace 3), the cafeteria every 10 minutes at lunch 11:00-11:30 (grace 2).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import insert

from lookout.contracts.patrol import ConcernRaised, ConcernResolved
from lookout.contracts.patrol_queries import TodayReply, TodayRequest
from lookout.kernel.clock import ManualClock
from services.patrol import store
from services.patrol.queries import PatrolQueries
from tests.unit.patrol.tiny_school import SCHOOL, Day, at, started_day

SCHOOL_FILE = copy.deepcopy(SCHOOL)
SCHOOL_FILE["people"] = [
    {"id": "sso-kim", "name": "Jo Kim", "roles": ["sso"]},
    {"id": "ap-diaz", "name": "Ana Diaz", "roles": ["assistant_principal"]},
    {"id": "sso-ortiz", "name": "Lu Ortiz", "roles": ["sso"]},
]
KIM_PHONE = {"kind": "sso_device", "id": "phone-kim"}
ORTIZ_PHONE = {"kind": "sso_device", "id": "phone-ortiz"}
KIM = {"kind": "staff", "id": "sso-kim"}
ORTIZ = {"kind": "staff", "id": "sso-ortiz"}


def cid(n: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-8000-{n:012d}")


def z(hhmm: str, day: int = 23) -> str:
    """The JSON form of a Tiny High time (Chicago, UTC-6 in November)."""
    return at(hhmm, day).isoformat().replace("+00:00", "Z")


@pytest.fixture
async def day(database_url: str, tmp_path: Any) -> AsyncIterator[Day]:
    d = await started_day(database_url, ManualClock(at("06:30")), tmp_path, SCHOOL_FILE)
    await d.tick_at("06:30")  # plans Monday's and Tuesday's windows, all still ahead
    await d.heartbeat("06:31")  # phone-kim is sso-kim's
    await d.heartbeat("06:31", device="phone-ortiz", officer="sso-ortiz")
    yield d
    await d.kernel.engine.dispose()


async def seed(day: Day) -> None:
    """The morning: a scan, two unannounced checks today and one tomorrow, concerns, re-checks."""
    await day.scan("bath-a", "T-A", "08:36")  # checks bathroom A's 08:35-08:42 window
    unannounced = [
        # zone, day, start, end, deadline
        ("bath-a", 23, "08:00", "08:10", "08:15"),  # past its deadline at 08:37
        ("cafeteria", 23, "10:00", "10:10", "10:15"),
        ("entrance", 23, "13:00", "13:10", "13:15"),
        ("bath-a", 24, "10:00", "10:10", "10:15"),  # tomorrow
    ]
    async with day.kernel.sessions.begin() as session:
        await session.execute(
            insert(store.check_windows),
            [
                {
                    "school_id": "tiny",
                    "zone_id": zone,
                    "window_start": at(start, d),
                    "window_end": at(end, d),
                    "deadline_at": at(deadline, d),
                    "period": None,
                    "unannounced": True,
                    "status": "open",
                }
                for zone, d, start, end, deadline in unannounced
            ],
        )
    raised = [
        # n, actor, severity, zone, raised at
        (1, KIM_PHONE, "low", "bath-a", "08:10"),
        (2, KIM, "high", None, "08:20"),
        (3, KIM_PHONE, "medium", "bath-a", "08:12"),  # resolved below
        (4, ORTIZ, "critical", "cafeteria", "08:05"),
        (5, ORTIZ_PHONE, "medium", "entrance", "08:06"),
        (6, KIM_PHONE, "high", "cafeteria", "08:30"),
    ]
    for n, actor, severity, zone, hhmm in raised:
        day.clock.set(at(hhmm))
        event = ConcernRaised.new(
            school_id="tiny", occurred_at=at(hhmm), actor=actor, concern_id=cid(n),
            category="vaping", severity=severity, zone_id=zone, student_refs=["S-1001"],
            note="two students by the sinks",
        )  # fmt: skip
        await day.apply(day.handlers.concern_events, event)
    resolved = ConcernResolved.new(
        school_id="tiny", occurred_at=at("08:15"), actor=KIM_PHONE, concern_id=cid(3),
        outcome="resolved_by_sso", note="spoke with them",
    )  # fmt: skip
    await day.apply(day.handlers.concern_events, resolved)
    follow_ups = [
        # n, addressed to, status, remind at, deadline
        (11, "sso-kim", "scheduled", ("07:45", 23), ("15:00", 23)),  # due, not yet reminded
        (12, "phone-kim", "reminded", ("07:45", 23), ("15:00", 23)),  # due, to her phone
        (13, "sso-kim", "missed", ("07:45", 20), ("15:00", 20)),  # missed last Friday
        (14, "sso-kim", "missed", ("07:45", 13), ("15:00", 13)),  # missed 10 days ago
        (15, "sso-kim", "scheduled", ("07:45", 24), ("15:00", 24)),  # tomorrow
        (16, "sso-kim", "done", ("07:45", 23), ("15:00", 23)),
        (17, "sso-ortiz", "reminded", ("07:45", 23), ("15:00", 23)),
    ]
    async with day.kernel.sessions.begin() as session:
        await session.execute(
            insert(store.follow_ups),
            [
                {
                    "concern_id": str(cid(n)),
                    "school_id": "tiny",
                    "officer_id": officer,
                    "zone_id": "cafeteria" if n != 12 else None,
                    "category": "emotional_distress",
                    "severity": "medium",
                    "remind_at": at(*remind),
                    "deadline_at": at(*deadline),
                    "status": status,
                }
                for n, officer, status, remind, deadline in follow_ups
            ],
        )


async def ask(day: Day, person: str, hhmm: str = "08:37", **fields: Any) -> dict[str, Any]:
    day.clock.set(at(hhmm))
    queries = PatrolQueries(day.kernel.sessions, day.clock, day.kernel.schools)
    reply = await queries.today(
        day.kernel.schools["tiny"], TodayRequest(requested_by=person, **fields)
    )
    assert isinstance(reply, TodayReply)
    return reply.model_dump(mode="json")


async def test_the_officers_day_at_0837_is_exact(day: Day) -> None:
    await seed(day)
    reply = await ask(day, "sso-kim")
    assert reply == {
        "as_of": z("08:37"),
        "day": "2026-11-23",
        "officer_id": "sso-kim",
        "windows": [
            # the entrance's 07:15-07:45 window is past its deadline (07:50)
            {
                "zone_id": "bath-a",
                "window_start": z("08:35"),
                "window_end": z("08:42"),
                "deadline_at": z("08:45"),
                "period": "pass-1",
                "checked": True,
            },
            {
                "zone_id": "bath-a",
                "window_start": z("09:32"),
                "window_end": z("09:39"),
                "deadline_at": z("09:42"),
                "period": "pass-2",
                "checked": False,
            },
            *[
                {
                    "zone_id": "cafeteria",
                    "window_start": z(start),
                    "window_end": z(end),
                    "deadline_at": z(deadline),
                    "period": "lunch",
                    "checked": False,
                }
                for start, end, deadline in [
                    ("11:00", "11:10", "11:12"),
                    ("11:10", "11:20", "11:22"),
                    ("11:20", "11:30", "11:32"),
                ]
            ],
        ],
        "windows_total": 5,
        "unannounced": [
            {
                "zone_id": "cafeteria",
                "check_at": z("10:00"),
                "window_end": z("10:10"),
                "deadline_at": z("10:15"),
            },
            {
                "zone_id": "entrance",
                "check_at": z("13:00"),
                "window_end": z("13:10"),
                "deadline_at": z("13:15"),
            },
        ],
        "unannounced_total": 2,
        "follow_ups": [
            {
                "concern_id": str(cid(13)),
                "zone_id": "cafeteria",
                "category": "emotional_distress",
                "due_at": z("15:00", 20),
                "overdue": True,
            },
            {
                "concern_id": str(cid(11)),
                "zone_id": "cafeteria",
                "category": "emotional_distress",
                "due_at": z("15:00"),
                "overdue": False,
            },
            {
                "concern_id": str(cid(12)),
                "zone_id": None,
                "category": "emotional_distress",
                "due_at": z("15:00"),
                "overdue": False,
            },
        ],
        "follow_ups_total": 3,
        "concerns": [
            # most severe first, then oldest: hers and her phone's, not the resolved one
            {
                "concern_id": str(cid(2)),
                "category": "vaping",
                "severity": "high",
                "zone_id": None,
                "raised_at": z("08:20"),
                "alert": None,
            },
            {
                "concern_id": str(cid(6)),
                "category": "vaping",
                "severity": "high",
                "zone_id": "cafeteria",
                "raised_at": z("08:30"),
                "alert": None,
            },
            {
                "concern_id": str(cid(1)),
                "category": "vaping",
                "severity": "low",
                "zone_id": "bath-a",
                "raised_at": z("08:10"),
                "alert": None,
            },
        ],
        "concerns_total": 3,
        "paged": [],
        "paged_total": 0,
        "sensor_checks": [],
        "sensor_checks_total": 0,
    }
    text = json.dumps(reply)
    assert "S-1001" not in text and "sinks" not in text and "spoke" not in text


async def test_lists_are_bounded_and_totals_kept(day: Day) -> None:
    await seed(day)
    reply = await ask(day, "sso-kim", limit=1)
    assert [len(reply[k]) for k in ("windows", "unannounced", "follow_ups", "concerns")] == [
        1,
        1,
        1,
        1,
    ]
    assert [reply[f"{k}_total"] for k in ("windows", "unannounced", "follow_ups", "concerns")] == [
        5,
        2,
        3,
        3,
    ]
    assert reply["windows"][0]["window_start"] == z("08:35")
    assert reply["concerns"][0]["concern_id"] == str(cid(2))


async def test_another_officer_sees_their_own_and_staff_see_no_unannounced_checks(
    day: Day,
) -> None:
    await seed(day)
    ortiz = await ask(day, "sso-ortiz")
    assert [c["concern_id"] for c in ortiz["concerns"]] == [str(cid(4)), str(cid(5))]
    assert [f["concern_id"] for f in ortiz["follow_ups"]] == [str(cid(17))]
    assert ortiz["unannounced_total"] == 2  # every SSO of the school is told (as the notices)
    staff = await ask(day, "ap-diaz")
    assert (staff["unannounced"], staff["unannounced_total"]) == ([], 0)
    assert (staff["concerns"], staff["follow_ups"]) == ([], [])
    assert staff["windows_total"] == 5  # the plan is the school's


async def test_later_in_the_day_the_passed_windows_and_checks_are_gone(day: Day) -> None:
    await seed(day)
    reply = await ask(day, "sso-kim", hhmm="11:15")
    assert [(w["window_start"], w["checked"]) for w in reply["windows"]] == [
        (z("11:10"), False),
        (z("11:20"), False),
    ]
    assert [u["check_at"] for u in reply["unannounced"]] == [z("13:00")]
    # 15:30: nothing left today; today's re-checks are past their deadline (before the
    # ticker marks them missed) and Friday's missed one is still there
    late = await ask(day, "sso-kim", hhmm="15:30")
    assert (late["windows"], late["unannounced"]) == ([], [])
    assert [(f["concern_id"], f["overdue"]) for f in late["follow_ups"]] == [
        (str(cid(13)), True),
        (str(cid(11)), True),
        (str(cid(12)), True),
    ]
