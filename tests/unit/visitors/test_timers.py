"""The overdue and end-of-day timers on a real database (no broker): a visitor still on site
at the close is reported overdue, checked out automatically and reported unaccounted for, in
that order; a desk sign-out is the only checkout that says someone saw the visitor leave."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from lookout.contracts.subjects import parse_event
from lookout.kernel.clock import ManualClock
from services.visitors import store
from services.visitors.timers import EndOfDayCheckout, OverdueVisits
from tests.unit.visitors.test_handlers import Harness, body, office

__all__ = ["office"]  # the fixture, shared with the handler tests

# Monday 23 November 2026, Chicago (UTC-6): the day closes at 15:45 + 60 min = 16:45 local.
CLOSE = datetime(2026, 11, 23, 22, 45, tzinfo=UTC)


def at(hh: int, mm: int) -> datetime:
    return datetime(2026, 11, 23, hh + 6, mm, tzinfo=UTC)


async def fire(office: Harness, now: datetime) -> dict[str, int]:
    """The visitors ticker's two visit timers, in the service's order, each its own transaction."""
    fired = {}
    for module in (
        OverdueVisits(office.kernel.outbox),
        EndOfDayCheckout(office.kernel.outbox, office.kernel.schools),
    ):
        async with office.kernel.sessions.begin() as session:
            fired[module.name] = await module.fire_due(session, now)
    return fired


async def published(office: Harness) -> list[tuple[Any, ...]]:
    rows = sorted(await office.rows(store.outbox), key=lambda r: r.id)
    events = [parse_event(r.subject, r.payload) for r in rows]
    return [summary(r.subject, e) for r, e in zip(rows, events, strict=True)]


def summary(subject: str, e: Any) -> tuple[Any, ...]:
    fields = {
        "visitor.checked_in": ("badge_number",),
        "visitor.checked_out": ("badge_number", "method"),
        "visitor.overdue": ("badge_number", "expected_until"),
        "visitor.unaccounted": (
            "badge_number",
            "expected_until",
            "checked_out_at",
            "last_seen_zone",
            "last_seen_at",
        ),
    }[e.type]
    values = [getattr(getattr(e, f), "value", getattr(e, f)) for f in fields]
    return (subject, str(e.visit_id), e.occurred_at, *values)


async def sign_in(office: Harness, clock: ManualClock, when: datetime, minutes: int) -> str:
    clock.set(when)
    reply = await office.call(
        "sign_in", body(request_id=str(uuid.uuid4()), expected_minutes=minutes)
    )
    assert reply["ok"] is True, reply
    assert reply["result"]["status"] == "on_site"
    return str(reply["result"]["visit_id"])


async def test_overdue_fires_at_the_close_when_the_deadline_falls_after_it(
    office: Harness, clock: ManualClock
) -> None:
    # 15:00 for 2 h: expected 17:00, grace to 17:15, but the badge expires at 16:45.
    visit = await sign_in(office, clock, at(15, 0), 120)
    assert await fire(office, at(16, 44)) == {"visitor-overdue": 0, "visitor-auto-checkout": 0}
    assert await fire(office, at(16, 46)) == {"visitor-overdue": 1, "visitor-auto-checkout": 1}
    assert await fire(office, at(16, 47)) == {"visitor-overdue": 0, "visitor-auto-checkout": 0}
    assert await published(office) == [
        ("visitor.lhs.checked_in", visit, at(15, 0), "1123-001"),
        ("visitor.lhs.overdue", visit, CLOSE, "1123-001", at(17, 0)),
        ("visitor.lhs.checked_out", visit, CLOSE, "1123-001", "automatic_end_of_day"),
        ("visitor.lhs.unaccounted", visit, CLOSE, "1123-001", at(17, 0), CLOSE, None, None),
    ]


async def test_the_checkout_reports_a_visit_the_overdue_timer_left(
    office: Harness, clock: ManualClock
) -> None:
    """A visit admitted before the overdue deadline was capped at the close (overdue_at NULL),
    or one the overdue timer did not reach: the checkout reports it overdue first."""
    visit = await sign_in(office, clock, at(15, 0), 120)
    async with office.kernel.sessions.begin() as session:
        await session.execute(update(store.visits).values(overdue_at=None))
    checkout = EndOfDayCheckout(office.kernel.outbox, office.kernel.schools)
    async with office.kernel.sessions.begin() as session:
        assert await checkout.fire_due(session, at(16, 50)) == 1
    assert await published(office) == [
        ("visitor.lhs.checked_in", visit, at(15, 0), "1123-001"),
        ("visitor.lhs.overdue", visit, CLOSE, "1123-001", at(17, 0)),
        ("visitor.lhs.checked_out", visit, CLOSE, "1123-001", "automatic_end_of_day"),
        ("visitor.lhs.unaccounted", visit, CLOSE, "1123-001", at(17, 0), CLOSE, None, None),
    ]
    (row,) = await office.rows(store.visits)
    assert (row.status, row.checkout_method, row.overdue_reported_at) == (
        "checked_out",
        "automatic_end_of_day",
        at(16, 50),
    )


async def test_a_visit_reported_overdue_earlier_is_not_reported_twice(
    office: Harness, clock: ManualClock
) -> None:
    visit = await sign_in(office, clock, at(8, 0), 30)  # overdue at 08:45
    assert await fire(office, at(9, 0)) == {"visitor-overdue": 1, "visitor-auto-checkout": 0}
    assert await fire(office, at(17, 0)) == {"visitor-overdue": 0, "visitor-auto-checkout": 1}
    assert await published(office) == [
        ("visitor.lhs.checked_in", visit, at(8, 0), "1123-001"),
        ("visitor.lhs.overdue", visit, at(8, 45), "1123-001", at(8, 30)),
        ("visitor.lhs.checked_out", visit, CLOSE, "1123-001", "automatic_end_of_day"),
        ("visitor.lhs.unaccounted", visit, CLOSE, "1123-001", at(8, 30), CLOSE, None, None),
    ]


async def test_the_unaccounted_report_says_where_the_badge_was_last_seen(
    office: Harness, clock: ManualClock
) -> None:
    visit = await sign_in(office, clock, at(15, 0), 120)
    async with office.kernel.sessions.begin() as session:
        await store.VisitorRepository(session).seen(visit, "gym", at(16, 20))
    await fire(office, at(16, 46))
    (*_, unaccounted) = await published(office)
    assert unaccounted == (
        "visitor.lhs.unaccounted", visit, CLOSE, "1123-001", at(17, 0), CLOSE, "gym", at(16, 20)
    )  # fmt: skip


async def test_a_desk_sign_out_leaves_nobody_unaccounted(
    office: Harness, clock: ManualClock
) -> None:
    visit = await sign_in(office, clock, at(15, 0), 120)
    clock.set(at(16, 30))
    out = await office.call("sign_out", {"visit_id": visit, "signed_out_by": "office-garcia"})
    assert out["ok"] is True, out
    held = await office.call(
        "sign_in",
        body(request_id=str(uuid.uuid4()), first_name="Patricia", last_name="Vandermeer"),
    )
    assert held["result"]["status"] == "pending_screening"
    # The held visit is closed at the close, without an event: it never checked in.
    assert await fire(office, at(16, 46)) == {"visitor-overdue": 0, "visitor-auto-checkout": 1}
    assert await published(office) == [
        ("visitor.lhs.checked_in", visit, at(15, 0), "1123-001"),
        ("visitor.lhs.checked_out", visit, at(16, 30), "1123-001", "front_office"),
    ]
