"""Loop closure on the SSO's phone: the `today` query says what became of the alert each of
the officer's open concerns raised — open, acknowledged by whom and when, resolved by whom and
when — from the ALERTS stream's opened, acknowledged and resolved events, whatever order the
CONCERNS and ALERTS streams reach the patrol service in. Alerts of other sources, and outcomes
of alerts it never saw open, change nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lookout.contracts.alerts import AlertAcknowledged, AlertOpened, AlertResolved
from lookout.contracts.patrol import ConcernRaised
from lookout.kernel.clock import ManualClock
from tests.unit.patrol.test_today import KIM, KIM_PHONE, SCHOOL_FILE, ask, cid, z
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


def opened(n: int, source_event: uuid.UUID, hhmm: str, source: str = "concern") -> AlertOpened:
    return AlertOpened.new(
        school_id="tiny", occurred_at=at(hhmm), actor=ALERTS, alert_id=aid(n),
        dedup_key=f"k{n}", source=source, severity="high", source_event_id=source_event,
        zone_id="bath-a", category="vaping", policy="default",
    )  # fmt: skip


def settled(
    kind: type[AlertAcknowledged] | type[AlertResolved], n: int, hhmm: str
) -> AlertAcknowledged | AlertResolved:
    """Alert n acknowledged or resolved by the assistant principal at `hhmm`."""
    return kind.new(
        school_id="tiny", occurred_at=at(hhmm), actor={"kind": "staff", "id": "ap-diaz"},
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
