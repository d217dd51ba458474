"""The live hub's rules without a broker: what it listens to (its schools only), to whom an event
goes, one `today` nudge for a burst, a lagging stream ended rather than grown, a person's streams
bounded; and how often the phone sends its heartbeat."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from lookout.contracts.patrol import (
    CheckWindowClosed,
    FollowUpDue,
    SensorCheckAssigned,
    UnannouncedCheckScheduled,
)
from lookout.kernel.settings import EXAMPLE_SCHOOL, load_school
from services.web.live import QUEUE_SIZE, LiveHub, Push, Stream
from services.web.today import heartbeat_seconds

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
SERVICE = {"kind": "service", "id": "patrol"}


def check(school: str, officer: str) -> UnannouncedCheckScheduled:
    return UnannouncedCheckScheduled.new(
        school_id=school, occurred_at=NOW, actor=SERVICE, officer_id=officer,
        zone_id="gym", check_at=NOW + timedelta(minutes=30),
        window_end=NOW + timedelta(minutes=35),
    )  # fmt: skip


def closed(school: str) -> CheckWindowClosed:
    return CheckWindowClosed.new(
        school_id=school, occurred_at=NOW, actor=SERVICE, zone_id="gym",
        window_start=NOW - timedelta(minutes=7), window_end=NOW, outcome="missed",
        unannounced=False, period="pass-2",
    )  # fmt: skip


def queued(stream: Stream) -> list[Push | None]:
    items = []
    while not stream.queue.empty():
        items.append(stream.queue.get_nowait())
    return items


def test_it_listens_to_its_schools_only() -> None:
    assert LiveHub(["lhs", "mhs"]).subjects() == [
        f"{prefix}.{school}.{rest}"
        for school in ("lhs", "mhs")
        for prefix, rest in [
            ("patrol", "sso.*.unannounced_check"),
            ("patrol", "sso.*.follow_up_due"),
            ("patrol", "sso.*.sensor_check"),
            ("patrol", "check.window_closed"),
            ("patrol", "check.recovered"),
            ("patrol", "follow_up.completed"),
            ("patrol", "follow_up.missed"),
            ("concern", "raised"),
            ("concern", "updated"),
            ("concern", "resolved"),
            ("patrol", "sensor_check.done"),
            ("patrol", "sensor_check.missed"),
            ("alert", "opened"),
            ("alert", "escalated"),
            ("alert", "notified"),
            ("alert", "acknowledged"),
            ("alert", "resolved"),
            ("alert", "notify.*"),
            ("visitor", "checked_in"),
            ("visitor", "checked_out"),
            ("visitor", "screening_flagged"),
            ("visitor", "overdue"),
            ("visitor", "out_of_bounds"),
            ("visitor", "unaccounted"),
            ("visitor", "drill_started"),
            ("visitor", "accounted_for"),
            ("visitor", "drill_ended"),
        ]
    ]


async def test_an_addressed_event_goes_to_its_officer_in_its_school() -> None:
    hub = LiveHub(["lhs", "mhs"])
    rivera, kim, rivera_mhs = (
        hub.open("lhs", "sso-rivera"),
        hub.open("lhs", "sso-kim"),
        hub.open("mhs", "sso-rivera"),
    )
    event = check("lhs", "sso-rivera")
    hub.route(event)
    hub.route(check("xhs", "sso-rivera"))  # not a school of this web service
    due = FollowUpDue.new(
        school_id="lhs", occurred_at=NOW, actor=SERVICE, officer_id="sso-kim",
        concern_id="00000000-0000-4000-8000-000000000001", zone_id=None,
        due_at=NOW + timedelta(hours=5),
    )  # fmt: skip
    hub.route(due)
    assert queued(rivera) == [
        Push(
            "unannounced_check",
            json.dumps(
                {
                    "event_id": str(event.event_id),
                    "zone_id": "gym",
                    "check_at": "2026-11-23T16:00:00Z",
                    "window_end": "2026-11-23T16:05:00Z",
                }
            ),
        )
    ]
    assert queued(kim) == [
        Push(
            "follow_up_due",
            json.dumps(
                {
                    "event_id": str(due.event_id),
                    "concern_id": "00000000-0000-4000-8000-000000000001",
                    "zone_id": None,
                    "due_at": "2026-11-23T20:30:00Z",
                }
            ),
        )
    ]
    assert queued(rivera_mhs) == []


async def test_a_new_sensor_alert_is_told_to_its_officer_and_nudges_the_schools_today() -> None:
    hub = LiveHub(["lhs", "mhs"])
    rivera, kim, console = (
        hub.open("lhs", "sso-rivera"),
        hub.open("lhs", "sso-kim"),
        hub.open("lhs", "principal-okafor", nudges=("alerts", "today")),
    )
    desk, meadow = hub.open("lhs", "desk-garcia", nudges=("visitors",)), hub.open("mhs", "sso-x")
    assigned = SensorCheckAssigned.new(
        school_id="lhs", occurred_at=NOW, actor=SERVICE, officer_id="sso-rivera",
        zone_id="bath-1n-boys", sensor_event_id="00000000-0000-4000-8000-0000000000e1",
        sensor_kind="vape", raised_at=NOW, check_by=NOW + timedelta(minutes=5),
    )  # fmt: skip
    hub.route(assigned)
    [told] = queued(rivera)  # the asked officer: the check itself, no second nudge
    assert told is not None and told.event == "sensor_check"
    nudge = Push("today", json.dumps({"because": "sensor_check.assigned"}))
    assert queued(kim) == [nudge] and queued(console) == [nudge]
    assert queued(desk) == [] and queued(meadow) == []


async def test_a_burst_of_window_closings_is_one_nudge_until_it_is_read() -> None:
    hub = LiveHub(["lhs", "mhs"])
    rivera, meadow = hub.open("lhs", "sso-rivera"), hub.open("mhs", "sso-rivera")
    for _ in range(9):  # every zone's window at one bell
        hub.route(closed("lhs"))
    assert await rivera.next() == Push("today", json.dumps({"because": "check.window_closed"}))
    assert rivera.queue.empty()
    hub.route(closed("lhs"))  # after it was read, the next one is queued again
    assert queued(rivera) == [Push("today", json.dumps({"because": "check.window_closed"}))]
    assert queued(meadow) == []


async def test_a_lagging_stream_is_ended_not_grown() -> None:
    hub = LiveHub(["lhs"])
    stream = hub.open("lhs", "sso-rivera")
    for _ in range(QUEUE_SIZE + 1):
        hub.route(check("lhs", "sso-rivera"))
    assert stream.ended == "lagging"
    items = queued(stream)
    assert (len(items), items[-1]) == (QUEUE_SIZE + 1, None)  # what came, then the end


async def test_a_persons_fourth_stream_ends_their_oldest() -> None:
    hub = LiveHub(["lhs"])
    first, second, third = (hub.open("lhs", "sso-rivera") for _ in range(3))
    fourth = hub.open("lhs", "sso-rivera")
    assert (first.ended, second.ended, third.ended, fourth.ended) == ("replaced", None, None, None)
    assert await first.next() is None
    assert hub.count("lhs", "sso-rivera") == 3
    hub.close(first)  # its response ends: closing it again changes nothing
    hub.close(second)
    assert hub.count("lhs", "sso-rivera") == 2
    hub.end_all("stopping")
    assert (third.ended, fourth.ended) == ("stopping", "stopping")


def test_heartbeats_come_three_times_within_the_lone_worker_limit() -> None:
    school = load_school(EXAMPLE_SCHOOL)  # heartbeat_limit_minutes: 10
    assert heartbeat_seconds(school) == 200
    assert heartbeat_seconds(school.model_copy(update={"heartbeat_limit_minutes": 1})) == 30
    assert heartbeat_seconds(school.model_copy(update={"heartbeat_limit_minutes": 240})) == 4800
