"""Welfare re-checks: the reminder reaches the person (item 10) and its completion is said,
on time or late (FollowUpCompleted).

A concern resolved on Friday 20 November with "check back in 2 school days" is re-checked on
Tuesday 24th: reminded at Tiny High's first bell (07:45), missed at its last (15:00).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from lookout.contracts.patrol import ConcernRaised, ConcernResolved, ContactLogged
from lookout.contracts.subjects import subject_of
from lookout.deploy.nats import deployment_users
from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, load_school
from services.patrol import store
from tests.unit.patrol.tiny_school import SCHOOL, Day, at, started_day

TWO_SSOS = copy.deepcopy(SCHOOL)
TWO_SSOS["people"] = [
    {"id": "sso-kim", "name": "Jo Kim", "roles": ["sso"]},
    {"id": "ap-diaz", "name": "Ana Diaz", "roles": ["assistant_principal"]},
    {"id": "sso-ortiz", "name": "Lu Ortiz", "roles": ["sso"]},
]
PHONE = {"kind": "sso_device", "id": "phone-kim"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at("06:30", 20))


@pytest.fixture
async def day(database_url: str, clock: ManualClock, tmp_path: Any) -> AsyncIterator[Day]:
    d = await started_day(database_url, clock, tmp_path, TWO_SSOS)
    yield d
    await d.kernel.engine.dispose()


async def resolve_with_follow_up(
    day: Day, actor: dict[str, str], cid: uuid.UUID | None = None
) -> uuid.UUID:
    """A concern raised and resolved on Friday 20th with a re-check in 2 school days."""
    cid = cid or uuid.uuid4()
    raised = ConcernRaised.new(
        school_id=day.school_id, occurred_at=at("10:00", 20), actor=PHONE, concern_id=cid,
        category="emotional_distress", severity="medium", zone_id="cafeteria",
        student_refs=["S-2001"],
    )  # fmt: skip
    resolved = ConcernResolved.new(
        school_id=day.school_id, occurred_at=at("10:30", 20), actor=actor, concern_id=cid,
        outcome="resolved_by_sso", follow_up_in_school_days=2,
    )  # fmt: skip
    day.clock.set(at("10:30", 20))
    await day.apply(day.handlers.concern_events, raised)
    await day.apply(day.handlers.concern_events, resolved)
    return cid


async def contact(day: Day, cid: uuid.UUID, hhmm: str, day_of_month: int) -> None:
    event = ContactLogged.new(
        school_id=day.school_id, occurred_at=at(hhmm, day_of_month), actor=PHONE,
        kind="check_in", student_refs=["S-2001"], concern_id=cid,
    )  # fmt: skip
    day.clock.set(at(hhmm, day_of_month))
    await day.apply(day.handlers.contacts, event)


async def reminders(day: Day) -> list[tuple[str, str, uuid.UUID]]:
    """(subject, officer, concern) of every follow_up.due, in emission order."""
    return [
        (subject_of(e), e.officer_id, e.concern_id)  # type: ignore[attr-defined]
        for e in await day.emitted()
        if e.type == "follow_up.due"
    ]


async def completions(day: Day) -> list[tuple[str, uuid.UUID, bool]]:
    return [
        (subject_of(e), e.concern_id, e.late)  # type: ignore[attr-defined]
        for e in await day.emitted()
        if e.type == "follow_up.completed"
    ]


async def follow_up_row(day: Day, cid: uuid.UUID) -> tuple[str, Any]:
    f = store.follow_ups.c
    async with day.kernel.sessions() as session:
        row = (
            await session.execute(select(f.status, f.done_at).where(f.concern_id == str(cid)))
        ).one()
    return row.status, row.done_at


# --- item 10: the reminder reaches the officer, not the phone ------------------------------------


async def test_a_concern_resolved_on_the_phone_reminds_the_officer_the_phone_reported(
    day: Day,
) -> None:
    await day.heartbeat("07:50", day=20)  # phone-kim is sso-kim's
    cid = await resolve_with_follow_up(day, PHONE)
    assert (await day.tick_at("07:45", 24))["follow_up_reminders"] == 1
    assert await reminders(day) == [("patrol.tiny.sso.sso-kim.follow_up_due", "sso-kim", cid)]


async def test_a_concern_resolved_by_a_person_reminds_that_person(day: Day) -> None:
    await day.heartbeat("07:50", day=20)
    cid = await resolve_with_follow_up(day, {"kind": "staff", "id": "ap-diaz"})
    assert (await day.tick_at("07:45", 24))["follow_up_reminders"] == 1
    assert await reminders(day) == [("patrol.tiny.sso.ap-diaz.follow_up_due", "ap-diaz", cid)]


async def test_a_phone_never_heard_from_reminds_every_sso_of_the_school(day: Day) -> None:
    cid = await resolve_with_follow_up(day, {"kind": "sso_device", "id": "phone-spare"})
    assert (await day.tick_at("07:45", 24))["follow_up_reminders"] == 1  # one re-check
    assert await reminders(day) == [
        ("patrol.tiny.sso.sso-kim.follow_up_due", "sso-kim", cid),
        ("patrol.tiny.sso.sso-ortiz.follow_up_due", "sso-ortiz", cid),
    ]


async def test_a_phone_first_heard_from_after_the_resolution_reminds_its_officer(
    day: Day,
) -> None:
    cid = await resolve_with_follow_up(day, {"kind": "sso_device", "id": "phone-spare"})
    await day.heartbeat("07:40", day=23, device="phone-spare", officer="sso-ortiz")
    assert (await day.tick_at("07:45", 24))["follow_up_reminders"] == 1
    assert await reminders(day) == [("patrol.tiny.sso.sso-ortiz.follow_up_due", "sso-ortiz", cid)]


def nats_allows(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, `>` one or more trailing tokens."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def test_the_matcher_is_nats_matching() -> None:
    assert nats_allows("patrol.lhs.sso.sso-rivera.>", "patrol.lhs.sso.sso-rivera.follow_up_due")
    assert not nats_allows("patrol.lhs.sso.sso-rivera.>", "patrol.lhs.sso.sso-rivera")
    assert not nats_allows("patrol.lhs.sso.sso-rivera.>", "patrol.lhs.sso.phone-rivera.x")
    assert nats_allows("patrol.*.sso.*.follow_up_due", "patrol.lhs.sso.a.follow_up_due")
    assert not nats_allows("patrol.*.sso", "patrol.lhs.sso.a")


async def test_the_example_schools_reminder_lies_inside_the_ssos_own_permissions(
    database_url: str, clock: ManualClock, tmp_path: Any
) -> None:
    school = load_school(EXAMPLE_SCHOOL)
    day = await started_day(database_url, clock, tmp_path, school)
    try:
        await day.heartbeat("07:50", day=20, device="phone-rivera", officer="sso-rivera")
        await resolve_with_follow_up(day, {"kind": "sso_device", "id": "phone-rivera"})
        day.clock.set(at("12:00", 24))
        assert day.kernel.ticker is not None
        assert (await day.kernel.ticker.tick())["follow_up_reminders"] == 1
        ((subject, officer, _),) = await reminders(day)
    finally:
        await day.kernel.engine.dispose()
    users = {u.name: u for u in deployment_users({"lhs": school})}
    rivera = users["lhs-sso-rivera"].permissions
    assert rivera is not None
    assert (subject, officer) == ("patrol.lhs.sso.sso-rivera.follow_up_due", "sso-rivera")
    assert any(nats_allows(p, subject) for p in rivera.subscribe), rivera.subscribe


# --- FollowUpCompleted ------------------------------------------------------------------------


async def test_a_re_check_on_its_day_completes_the_follow_up(day: Day) -> None:
    cid = await resolve_with_follow_up(day, PHONE)
    await contact(day, cid, "09:00", 23)  # Monday: before the re-check day, not the re-check
    assert await completions(day) == []
    assert (await day.tick_at("07:45", 24))["follow_up_reminders"] == 1
    await contact(day, cid, "09:00", 24)
    await contact(day, cid, "10:00", 24)  # a second contact completes nothing more
    assert await completions(day) == [("patrol.tiny.follow_up.completed", cid, False)]
    assert await follow_up_row(day, cid) == ("done", at("09:00", 24))
    assert (await day.tick_at("15:00", 24))["follow_up_deadlines"] == 0


async def test_a_re_check_after_it_was_reported_missed_completes_it_late(day: Day) -> None:
    cid = await resolve_with_follow_up(day, PHONE)
    assert (await day.tick_at("15:00", 24))["follow_up_deadlines"] == 1
    assert await follow_up_row(day, cid) == ("missed", None)
    await contact(day, cid, "08:00", 25)
    await contact(day, cid, "08:30", 25)
    assert await completions(day) == [("patrol.tiny.follow_up.completed", cid, True)]
    assert await follow_up_row(day, cid) == ("done", at("08:00", 25))
