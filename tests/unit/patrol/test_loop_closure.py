"""Loop closure on the SSO's phone: the `today` query says what became of the alert each of
the officer's open concerns raised — open, acknowledged by whom and when, resolved by whom and
when — from the ALERTS stream's opened, acknowledged and resolved events, whatever order the
CONCERNS and ALERTS streams reach the patrol service in. Alerts of other sources, and outcomes
of alerts it never saw open, change nothing there.

It also lists the alerts the officer was paged for (`alert.notification`) that are not their own
concerns': a missed check, a visitor, another officer's concern — with who has each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lookout.contracts.alerts import (
    AlertAcknowledged,
    AlertNotification,
    AlertOpened,
    AlertResolved,
)
from lookout.contracts.patrol import ConcernRaised
from lookout.kernel.clock import ManualClock
from tests.unit.patrol.test_today import KIM, KIM_PHONE, ORTIZ, SCHOOL_FILE, ask, cid, z
from tests.unit.patrol.tiny_school import Day, at, started_day

ALERTS = {"kind": "service", "id": "alerts"}


def aid(n: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-8000-0000000a{n:04d}")


@pytest.fixture
async def day(database_url: str, tmp_path: Any) -> AsyncIterator[Day]:
    d = await started_day(database_url, ManualClock(at("06:30")), tmp_path, SCHOOL_FILE)
    await d.heartbeat("06:31")  # phone-kim is sso-kim's
    yield d
    await d.kernel.engine.dispose()


def raised(n: int, actor: dict[str, str], severity: str, hhmm: str) -> ConcernRaised:
    return ConcernRaised.new(
        school_id="tiny", occurred_at=at(hhmm), actor=actor, concern_id=cid(n),
        category="vaping", severity=severity, zone_id="bath-a", student_refs=["S-1001"],
    )  # fmt: skip


def opened(
    n: int, source_event: uuid.UUID, hhmm: str, source: str = "concern", **facts: Any
) -> AlertOpened:
    """Alert n opened at `hhmm` (on the 23rd unless `day` is given): a high vaping alert in
    bathroom A unless `facts` say otherwise."""
    what = {"severity": "high", "zone_id": "bath-a", "category": "vaping"} | facts
    day = what.pop("day", 23)
    return AlertOpened.new(
        school_id="tiny", occurred_at=at(hhmm, day), actor=ALERTS, alert_id=aid(n),
        dedup_key=f"k{n}", source=source, source_event_id=source_event, policy="default", **what,
    )  # fmt: skip


def paged(n: int, person: str, hhmm: str, step: int = 0, day: int = 23) -> AlertNotification:
    """Step `step` of alert n reached `person` at `hhmm`."""
    return AlertNotification.new(
        school_id="tiny", occurred_at=at(hhmm, day), actor=ALERTS, alert_id=aid(n),
        person_id=person, source="check_missed", category="check_missed", severity="high",
        zone_id="bath-a", step=step, repeat=0, count=1, opened_at=at(hhmm, day),
    )  # fmt: skip


def settled(
    kind: type[AlertAcknowledged] | type[AlertResolved], n: int, hhmm: str, day: int = 23
) -> AlertAcknowledged | AlertResolved:
    """Alert n acknowledged or resolved by the assistant principal at `hhmm`."""
    return kind.new(
        school_id="tiny", occurred_at=at(hhmm, day), actor={"kind": "staff", "id": "ap-diaz"},
        alert_id=aid(n), by_person_id="ap-diaz",
    )  # fmt: skip


async def test_the_officer_sees_who_has_the_alert_of_each_concern(day: Day) -> None:
    one, two, three = (
        raised(1, KIM_PHONE, "low", "08:10"),
        raised(2, KIM, "high", "08:20"),
        raised(3, KIM_PHONE, "medium", "08:25"),
    )
    four = raised(4, KIM, "critical", "08:26")
    for event in (one, two):
        day.clock.set(event.occurred_at)
        await day.apply(day.handlers.concern_events, event)
    outcomes = [
        opened(1, one.event_id, "08:11"),
        settled(AlertAcknowledged, 1, "08:14"),
        opened(2, two.event_id, "08:21"),
        settled(AlertAcknowledged, 2, "08:22"),
        settled(AlertResolved, 2, "08:30"),
        # Concern 3's alert opens before the patrol service has taken in the concern itself.
        opened(3, three.event_id, "08:26"),
        # Another source's alert, reusing concern 4's raise as its source: not a concern's.
        opened(4, four.event_id, "08:27", source="check_missed"),
        # The outcome of an alert never seen open: nothing to close.
        settled(AlertAcknowledged, 9, "08:31"),
    ]
    for event in outcomes:
        await day.apply(day.handlers.alert_outcomes, event)
    for event in (three, four):
        day.clock.set(event.occurred_at)
        await day.apply(day.handlers.concern_events, event)

    reply = await ask(day, "sso-kim")
    assert reply["concerns"] == [
        {
            "concern_id": str(cid(4)),
            "category": "vaping",
            "severity": "critical",
            "zone_id": "bath-a",
            "raised_at": z("08:26"),
            "alert": None,
        },
        {
            "concern_id": str(cid(2)),
            "category": "vaping",
            "severity": "high",
            "zone_id": "bath-a",
            "raised_at": z("08:20"),
            "alert": {
                "alert_id": str(aid(2)),
                "state": "resolved",
                "by": "ap-diaz",
                "at": z("08:30"),
            },
        },
        {
            "concern_id": str(cid(3)),
            "category": "vaping",
            "severity": "medium",
            "zone_id": "bath-a",
            "raised_at": z("08:25"),
            "alert": {"alert_id": str(aid(3)), "state": "open", "by": None, "at": None},
        },
        {
            "concern_id": str(cid(1)),
            "category": "vaping",
            "severity": "low",
            "zone_id": "bath-a",
            "raised_at": z("08:10"),
            "alert": {
                "alert_id": str(aid(1)),
                "state": "acknowledged",
                "by": "ap-diaz",
                "at": z("08:14"),
            },
        },
    ]


async def test_the_officer_sees_who_has_each_alert_she_was_paged_for(day: Day) -> None:
    """At 08:45 on Monday: sso-kim was paged for seven alerts; four are hers to see."""
    mine = raised(20, KIM_PHONE, "high", "08:02")
    ortiz = raised(21, ORTIZ, "high", "08:05")
    for event in (mine, ortiz):
        day.clock.set(event.occurred_at)
        await day.apply(day.handlers.concern_events, event)
    scan = uuid.UUID("00000000-0000-4000-8000-0000000b0001")
    other = uuid.UUID("00000000-0000-4000-8000-0000000b0002")
    events = [
        # Sunday: a visitor overdue, resolved on Sunday (not today's, and settled: left out) ...
        opened(
            12,
            other,
            "14:00",
            "visitor_overdue",
            category="visitor_overdue",
            zone_id=None,
            severity="medium",
            day=22,
        ),
        paged(12, "sso-kim", "14:01", day=22),
        settled(AlertResolved, 12, "15:00", day=22),
        # ... the phone silent, still open today (listed), and a visitor unaccounted for,
        # resolved this morning (listed: settled today).
        opened(
            13,
            other,
            "15:30",
            "heartbeat_missed",
            category="heartbeat_missed",
            zone_id=None,
            day=22,
        ),
        paged(13, "sso-kim", "15:31", day=22),
        opened(
            16,
            other,
            "16:00",
            "visitor_unaccounted",
            category="visitor_unaccounted",
            zone_id="entrance",
            day=22,
        ),
        paged(16, "sso-kim", "16:01", day=22),
        settled(AlertResolved, 16, "07:00"),
        # Monday: a missed check of bathroom A, paged at step 0 and again at step 1, acknowledged
        opened(10, scan, "08:00", "check_missed", category="check_missed", severity="low"),
        paged(10, "sso-kim", "08:00"),
        paged(10, "sso-kim", "08:30", step=1),
        settled(AlertAcknowledged, 10, "08:40"),
        # ... her own concern's alert (on her concern, not here) ...
        opened(14, mine.event_id, "08:03"),
        paged(14, "sso-kim", "08:03"),
        # ... the other officer's conflict in the cafeteria, still open ...
        opened(11, ortiz.event_id, "08:06", category="conflict", zone_id="cafeteria"),
        paged(11, "sso-kim", "08:06"),
        # ... an alert only the assistant principal was paged for ...
        opened(15, other, "08:10", "check_missed", category="check_missed"),
        paged(15, "ap-diaz", "08:10"),
        # ... and a page for an alert never seen open.
        paged(17, "sso-kim", "08:20"),
    ]
    for event in events:
        await day.apply(day.handlers.alert_outcomes, event)

    reply = await ask(day, "sso-kim", "08:45")
    assert reply["paged_total"] == 4
    assert reply["paged"] == [
        {
            "alert_id": str(aid(11)), "source": "concern", "severity": "high",
            "category": "conflict", "zone_id": "cafeteria", "opened_at": z("08:06"),
            "paged_at": z("08:06"), "state": "open", "by": None, "at": None,
        },
        {
            "alert_id": str(aid(13)), "source": "heartbeat_missed", "severity": "high",
            "category": "heartbeat_missed", "zone_id": None, "opened_at": z("15:30", 22),
            "paged_at": z("15:31", 22), "state": "open", "by": None, "at": None,
        },
        {
            "alert_id": str(aid(10)), "source": "check_missed", "severity": "low",
            "category": "check_missed", "zone_id": "bath-a", "opened_at": z("08:00"),
            "paged_at": z("08:00"), "state": "acknowledged", "by": "ap-diaz", "at": z("08:40"),
        },
        {
            "alert_id": str(aid(16)), "source": "visitor_unaccounted", "severity": "high",
            "category": "visitor_unaccounted", "zone_id": "entrance",
            "opened_at": z("16:00", 22), "paged_at": z("16:01", 22), "state": "resolved",
            "by": "ap-diaz", "at": z("07:00"),
        },
    ]  # fmt: skip
    # Her own concern's alert is on the concern, as before.
    (own,) = [c for c in reply["concerns"] if c["concern_id"] == str(cid(20))]
    assert own["alert"] == {"alert_id": str(aid(14)), "state": "open", "by": None, "at": None}
    # The assistant principal was paged for one (the missed check of 08:10), and only that.
    diaz = await ask(day, "ap-diaz", "08:45")
    assert [a["alert_id"] for a in diaz["paged"]] == [str(aid(15))]


async def test_a_limit_keeps_the_most_pressing_pages_and_counts_them_all(day: Day) -> None:
    other = uuid.UUID("00000000-0000-4000-8000-0000000b0003")
    for n, hhmm in ((30, "08:00"), (31, "08:05"), (32, "08:10")):
        await day.apply(day.handlers.alert_outcomes, opened(n, other, hhmm, "check_missed"))
        await day.apply(day.handlers.alert_outcomes, paged(n, "sso-kim", hhmm))
    await day.apply(day.handlers.alert_outcomes, settled(AlertAcknowledged, 32, "08:12"))
    reply = await ask(day, "sso-kim", "08:45", limit=2)
    assert [a["alert_id"] for a in reply["paged"]] == [str(aid(31)), str(aid(30))]
    assert reply["paged_total"] == 3
