"""A scripted school day against the real patrol handlers and timers, clock injected.

A small school (tiny_school.py) keeps the expected events countable.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from lookout.contracts.patrol import (
    ConcernRaised,
    ConcernResolved,
    ContactLogged,
    DeviceHeartbeat,
    ObservationLogged,
)
from lookout.kernel.clock import ManualClock
from lookout.kernel.storage import upgrade_database
from services.patrol import store
from services.patrol.app import MIGRATIONS
from tests.unit.patrol.tiny_school import ACTOR, Day, at, closed


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at("06:30"))


@pytest.fixture
async def day(database_url: str, clock: ManualClock, tmp_path: Any) -> Any:
    d = Day(database_url, clock, tmp_path)
    await upgrade_database(d.kernel.engine, MIGRATIONS, "patrol")
    yield d
    await d.kernel.engine.dispose()


async def test_a_day_of_checks_late_checks_and_misses(
    day: Day, database_url: str, tmp_path: Any
) -> None:
    # 06:30: today and tomorrow are planned; nothing is due yet.
    assert await day.tick_at("06:30") == {
        "day_planner": 2,
        "window_closer": 0,
        "silence_watch": 0,
        "follow_up_reminders": 0,
        "follow_up_deadlines": 0,
        "patrol_focus": 0,
        "student_records_purge": 0,
        "sensor_check_deadlines": 0,
    }
    await day.scan("entrance", "T-E", "07:20")  # in the window: checked
    await day.scan("bath-a", "T-A", "08:44")  # pass-1 ended 08:42, grace to 08:45: late
    assert (await day.tick_at("09:00"))["window_closer"] == 0
    assert (await day.tick_at("09:43"))["window_closer"] == 1  # pass-2 never checked

    # The service restarts mid-day: a new instance on the same database loses nothing.
    restarted = Day(database_url, day.clock, tmp_path)
    assert (await restarted.tick_at("10:00"))["day_planner"] == 0
    await restarted.scan("cafeteria", "T-C", "11:05")
    await restarted.scan("cafeteria", "T-C", "11:25")
    assert (await restarted.tick_at("11:33"))["window_closer"] == 1  # 11:10-11:20 slot
    assert (await restarted.tick_at("16:00"))["window_closer"] == 0

    events = await restarted.emitted()
    assert closed(events) == [
        ("entrance", "07:15", "checked"),
        ("bath-a", "08:35", "late"),
        ("bath-a", "09:32", "missed"),
        ("cafeteria", "11:00", "checked"),
        ("cafeteria", "11:20", "checked"),
        ("cafeteria", "11:10", "missed"),
    ]
    missed = [(e.zone_id, e.occurred_at) for e in events if e.type == "check.missed"]  # type: ignore[attr-defined]
    assert missed == [("bath-a", at("09:42")), ("cafeteria", at("11:22"))]
    # Ticking again, by either instance, fires nothing twice.
    assert (await day.tick_at("16:05"))["window_closer"] == 0
    assert len(await day.emitted()) == len(events)


async def test_no_windows_on_a_no_school_day(day: Day) -> None:
    assert (await day.tick_at("07:00", day=25))["day_planner"] == 2  # Wed and Thanksgiving
    async with day.kernel.sessions() as session:
        rows = (await session.execute(select(store.check_windows.c.window_start))).scalars().all()
    assert {r.astimezone(UTC).day for r in rows} == {25}
    assert len(rows) == 6  # 2 passing periods, 1 entrance window, 3 lunch slots
    assert (await day.tick_at("23:00", day=25))["window_closer"] == 6  # Wednesday unpatrolled
    thanksgiving = await day.tick_at("23:00", day=26)
    assert (thanksgiving["window_closer"], thanksgiving["day_planner"]) == (0, 1)  # plans Fri


async def test_a_silent_phone_in_school_hours_is_reported_once(day: Day) -> None:
    await day.heartbeat("08:00")
    assert (await day.tick_at("08:09"))["silence_watch"] == 0
    assert (await day.tick_at("08:11"))["silence_watch"] == 1
    assert (await day.tick_at("08:30"))["silence_watch"] == 0  # reported once per silence
    await day.heartbeat("08:31")
    await day.heartbeat("08:20", received="08:31")  # late, older: changes nothing
    assert (await day.tick_at("08:40"))["silence_watch"] == 0
    await day.heartbeat("14:55")
    assert (await day.tick_at("15:10"))["silence_watch"] == 0  # silent after school ends: fine
    reports = [e for e in await day.emitted() if e.type == "heartbeat.missed"]
    assert [(e.officer_id, e.last_seen_at, e.silent_minutes) for e in reports] == [  # type: ignore[attr-defined]
        ("sso-kim", at("08:00"), 11)
    ]


async def test_one_batch_of_heartbeats_keeps_the_newest_per_phone(day: Day) -> None:
    def beat(hhmm: str, device: str, officer: str) -> DeviceHeartbeat:
        return DeviceHeartbeat.new(
            school_id="tiny", occurred_at=at(hhmm), actor=ACTOR, device_id=device,
            officer_id=officer,
        )  # fmt: skip

    await day.heartbeat("08:05")
    batch = [  # one consumer batch: out of order, two phones, one handed to another officer
        beat("08:20", "phone-kim", "sso-kim"),
        beat("08:10", "phone-lee", "sso-lee"),
        beat("08:25", "phone-kim", "sso-ortiz"),
        beat("08:15", "phone-kim", "sso-kim"),
        beat("08:01", "phone-kim", "sso-kim"),  # older than what is stored
    ]
    day.clock.set(at("08:26"))  # the batch is received after its newest heartbeat
    async with day.kernel.sessions.begin() as session:
        assert await day.handlers.heartbeats(session, batch) == {}
    async with day.kernel.sessions() as session:
        rows = await session.execute(
            select(
                store.devices.c.device_id, store.devices.c.officer_id, store.devices.c.last_seen_at,
                store.devices.c.silent_at,
            ).order_by(store.devices.c.device_id)
        )  # fmt: skip
        stored = [tuple(r) for r in rows]
    assert stored == [
        ("phone-kim", "sso-ortiz", at("08:25"), at("08:35")),  # heartbeat limit: 10 minutes
        ("phone-lee", "sso-lee", at("08:10"), at("08:20")),
    ]


async def test_follow_up_reminds_then_is_done_or_missed(day: Day) -> None:
    def raised(cid: uuid.UUID) -> ConcernRaised:
        return ConcernRaised.new(
            school_id="tiny",
            occurred_at=at("10:00", 20),
            actor=ACTOR,
            concern_id=cid,
            category="emotional_distress",
            severity="medium",
            zone_id="cafeteria",
            student_refs=["S-2001"],
        )

    def resolved(cid: uuid.UUID) -> ConcernResolved:
        return ConcernResolved.new(
            school_id="tiny",
            occurred_at=at("10:30", 20),
            actor=ACTOR,
            concern_id=cid,
            outcome="resolved_by_sso",
            follow_up_in_school_days=2,
        )

    checked, forgotten = uuid.uuid4(), uuid.uuid4()
    for cid in (checked, forgotten):
        await day.apply(day.handlers.concern_events, raised(cid))
        await day.apply(day.handlers.concern_events, resolved(cid))
    # Friday 20th + 2 school days = Tuesday 24th: reminded at the first bell, due by the last.
    assert (await day.tick_at("07:44", 24))["follow_up_reminders"] == 0
    assert (await day.tick_at("07:45", 24))["follow_up_reminders"] == 2
    contact = ContactLogged.new(
        school_id="tiny",
        occurred_at=at("09:00", 24),
        actor=ACTOR,
        kind="check_in",
        student_refs=["S-2001"],
        concern_id=checked,
    )
    await day.apply(day.handlers.contacts, contact)
    assert (await day.tick_at("15:00", 24))["follow_up_deadlines"] == 1
    assert (await day.tick_at("16:00", 24))["follow_up_deadlines"] == 0
    events = await day.emitted()
    due = [(e.officer_id, e.concern_id) for e in events if e.type == "follow_up.due"]  # type: ignore[attr-defined]
    assert sorted(due) == sorted([("sso-kim", checked), ("sso-kim", forgotten)])  # not the phone
    missed = [
        (e.concern_id, e.severity.value, e.due_at) for e in events if e.type == "follow_up.missed"
    ]  # type: ignore[attr-defined]
    assert missed == [(forgotten, "medium", at("15:00", 24))]


async def test_student_references_and_notes_are_erased_after_the_retention_period(
    day: Day,
) -> None:
    """Retention (365 days by default) counts from a concern's resolution, a contact's or an
    observation's time; open concerns are kept; the facts stay for the statistics."""
    resolved_a, raised_b, resolved_c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def raised(cid: uuid.UUID, when: datetime) -> ConcernRaised:
        return ConcernRaised.new(
            school_id="tiny", occurred_at=when, actor=ACTOR, concern_id=cid, category="vaping",
            severity="low", zone_id="bath-a", student_refs=["S-3001"], note="vape smell",
        )  # fmt: skip

    def resolved(cid: uuid.UUID, when: datetime) -> ConcernResolved:
        return ConcernResolved.new(
            school_id="tiny", occurred_at=when, actor=ACTOR, concern_id=cid,
            outcome="resolved_by_sso", note="talked it through",
        )  # fmt: skip

    for event in (
        raised(resolved_a, at("10:00")),
        resolved(resolved_a, at("10:30")),
        raised(raised_b, at("11:00")),  # never resolved
        raised(resolved_c, at("10:00", 25)),
        resolved(resolved_c, at("12:00", 25)),
    ):
        await day.apply(day.handlers.concern_events, event)
    contact = ContactLogged.new(
        school_id="tiny", occurred_at=at("10:05"), actor=ACTOR, kind="positive_contact",
        zone_id="bath-a", student_refs=["S-3002"], note="helped with a locker",
    )  # fmt: skip
    await day.apply(day.handlers.contacts, contact)
    observation = ObservationLogged.new(
        school_id="tiny", occurred_at=at("10:10"), actor=ACTOR, zone_id="bath-a",
        category="vaping", note="smell near the sinks",
    )  # fmt: skip
    await day.apply(day.handlers.observations, observation)

    async def purge_at(moment: datetime) -> int:
        day.clock.set(moment)
        assert day.kernel.ticker is not None
        return (await day.kernel.ticker.tick())["student_records_purge"]

    year = timedelta(days=365)
    assert await purge_at(at("10:04") + year) == 0  # nothing a year old yet
    assert await purge_at(at("10:31") + year) == 3  # concern A, the contact, the observation
    assert await purge_at(at("10:31") + year) == 0  # each once
    async with day.kernel.sessions() as session:
        rows = (await session.execute(select(store.concerns))).all()
        concerns = {r.concern_id: (r.student_refs, r.category, r.status, r.purged_at) for r in rows}
        notes = {
            (r.concern_id, r.kind): r.note
            for r in (await session.execute(select(store.concern_timeline))).all()
        }
        contact_row = (await session.execute(select(store.contacts))).one()
        observation_row = (await session.execute(select(store.observations))).one()
    purged = at("10:31") + year
    assert concerns == {
        str(resolved_a): ([], "vaping", "resolved", purged),
        str(raised_b): (["S-3001"], "vaping", "open", None),
        str(resolved_c): (["S-3001"], "vaping", "resolved", None),
    }
    assert notes == {
        (str(resolved_a), "raised"): "",
        (str(resolved_a), "resolved"): "",
        (str(raised_b), "raised"): "vape smell",
        (str(resolved_c), "raised"): "vape smell",
        (str(resolved_c), "resolved"): "talked it through",
    }
    assert (contact_row.student_refs, contact_row.note, contact_row.kind) == (
        [],
        "",
        "positive_contact",
    )
    assert (observation_row.note, observation_row.category) == ("", "vaping")

    assert await purge_at(at("12:00", 25) + year) == 1  # concern C, a year after its resolution
    assert await purge_at(at("12:00", 25) + 3 * year) == 0  # the open concern is kept
