"""The alert board's rules without a broker: the hub's `alerts` nudge goes to the console streams
of the alert's school only (a phone's stream never hears it, a console never hears `today`), one
for a burst; what the board listens to; the order of urgency; who was told, by channel."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from lookout.contracts.alerts import (
    AlertNotification,
    AlertNotified,
    AlertOpened,
    AlertSummary,
    TimelineEntry,
)
from lookout.contracts.patrol import CheckWindowClosed
from services.web.alerts_board import Notified, _notified, urgency
from services.web.live import LiveHub, Push

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
ENGINE = {"kind": "service", "id": "alerts"}
ALERT = uuid.UUID("00000000-0000-4000-8000-0000000000a1")


def opened(school: str) -> AlertOpened:
    return AlertOpened.new(
        school_id=school, occurred_at=NOW, actor=ENGINE, alert_id=ALERT, dedup_key="concern:1",
        source="concern", severity="critical", source_event_id=uuid.uuid4(), zone_id="gym",
        category="weapon", policy="critical",
    )  # fmt: skip


def notified(school: str) -> AlertNotified:
    return AlertNotified.new(
        school_id=school, occurred_at=NOW, actor=ENGINE, alert_id=ALERT,
        person_id="principal-okafor", channel="nats", outcome="delivered",
    )  # fmt: skip


def closed(school: str) -> CheckWindowClosed:
    return CheckWindowClosed.new(
        school_id=school, occurred_at=NOW, actor={"kind": "service", "id": "patrol"},
        zone_id="gym", window_start=NOW - timedelta(minutes=7), window_end=NOW,
        outcome="missed", unannounced=False, period="pass-2",
    )  # fmt: skip


def test_the_boards_listen_to_the_five_alert_subjects_of_their_schools_only() -> None:
    alerts = [s for s in LiveHub(["lhs", "mhs"]).subjects() if s.startswith("alert.")]
    assert alerts == [
        f"alert.{school}.{verb}"
        for school in ("lhs", "mhs")
        # and each person's pages, which nudge only that person's Today
        for verb in ("opened", "escalated", "notified", "acknowledged", "resolved", "notify.*")
    ]


async def test_an_alert_nudges_the_consoles_of_its_school_once_per_burst() -> None:
    hub = LiveHub(["lhs", "mhs"])
    okafor = hub.open("lhs", "principal-okafor", nudges=("alerts",))
    chen = hub.open("lhs", "ap-chen", nudges=("alerts",))
    meadow = hub.open("mhs", "principal-okafor", nudges=("alerts",))
    phone = hub.open("lhs", "sso-rivera")
    hub.route(opened("lhs"))
    hub.route(notified("lhs"))  # the same burst: one nudge is enough until it is read
    hub.route(closed("lhs"))  # the phone's business
    nudge = Push("alerts", json.dumps({"because": "alert.opened"}))
    assert await okafor.next() == nudge
    assert okafor.queue.empty()
    assert await chen.next() == nudge
    assert meadow.queue.empty()
    # The phone's Today says what became of the alerts of its concerns (loop closure): the
    # opening nudges it too, and the window closing in the same burst adds nothing.
    assert await phone.next() == Push("today", json.dumps({"because": "alert.opened"}))
    assert phone.queue.empty()
    hub.route(notified("lhs"))  # read: the next one is queued again
    assert await okafor.next() == Push("alerts", json.dumps({"because": "alert.notified"}))


def summary(severity: str, minute: int) -> AlertSummary:
    return AlertSummary(
        alert_id=uuid.uuid4(), school_id="lhs", status="open", source="concern",
        category="other", severity=severity, zone_id=None, count=1, policy="p", step=1,
        repeat=0, next_step_at=None, opened_at=NOW + timedelta(minutes=minute),
        acknowledged_at=None, acknowledged_by=None, resolved_at=None, resolved_by=None,
    )  # fmt: skip


def test_most_urgent_first_then_the_oldest() -> None:
    alerts = [
        summary("low", 0),
        summary("critical", 5),
        summary("medium", 1),
        summary("critical", 2),
        summary("high", 9),
    ]
    ordered = sorted(alerts, key=urgency)
    assert [(a.severity.value, a.opened_at.minute) for a in ordered] == [
        ("critical", 2),
        ("critical", 5),
        ("high", 9),
        ("medium", 1),
        ("low", 0),
    ]


def test_who_was_told_is_each_person_and_channel_once_first_time_last_outcome() -> None:
    def entry(minute: int, kind: str, person: str | None, channel: str | None, outcome: str | None):  # type: ignore[no-untyped-def]
        at = NOW + timedelta(minutes=minute)
        return TimelineEntry(at=at, kind=kind, person_id=person, channel=channel, outcome=outcome)

    timeline = [
        entry(0, "opened", None, None, None),
        entry(0, "notified", "sso-rivera", "nats", "queued"),
        entry(0, "notified", "sso-rivera", "email", "queued"),
        entry(1, "notified", "sso-rivera", "email", "failed"),
        entry(10, "notified", "district-lee", "nats", "queued"),
        entry(11, "notified", "gone-person", "nats", "queued"),
        entry(12, "acknowledged", "principal-okafor", None, None),
    ]
    names = {"sso-rivera": "Dana Rivera", "district-lee": "Sam Lee"}
    assert _notified(timeline, names) == [
        Notified(person_id="sso-rivera", name="Dana Rivera", channel="nats", at=NOW,
                 outcome="queued"),
        Notified(person_id="sso-rivera", name="Dana Rivera", channel="email", at=NOW,
                 outcome="failed"),
        Notified(person_id="district-lee", name="Sam Lee", channel="nats",
                 at=NOW + timedelta(minutes=10), outcome="queued"),
        Notified(person_id="gone-person", name=None, channel="nats",
                 at=NOW + timedelta(minutes=11), outcome="queued"),
    ]  # fmt: skip


def test_a_page_nudges_the_today_of_the_paged_officer_only() -> None:
    """A step of an alert reached sso-rivera (`alert.lhs.notify.sso-rivera`): her phone's Today
    lists the alerts she was paged for, so it asks again; another officer's phone, her stream
    at another school and a console (whose board hears `alert.notified` for it) are not
    nudged."""
    hub = LiveHub(["lhs", "mhs"])
    rivera, kim = hub.open("lhs", "sso-rivera"), hub.open("lhs", "sso-kim")
    rivera_mhs = hub.open("mhs", "sso-rivera")
    okafor = hub.open("lhs", "principal-okafor", nudges=("alerts", "today"))
    hub.route(
        AlertNotification.new(
            school_id="lhs", occurred_at=NOW, actor=ENGINE, alert_id=ALERT,
            person_id="sso-rivera", source="check_missed", category="check_missed",
            severity="low", zone_id="gym", step=0, repeat=0, count=1, opened_at=NOW,
        )
    )  # fmt: skip
    assert rivera.queue.get_nowait() == Push("today", json.dumps({"because": "alert.notification"}))
    assert rivera.queue.empty()
    assert kim.queue.empty()
    assert rivera_mhs.queue.empty()
    assert okafor.queue.empty()
