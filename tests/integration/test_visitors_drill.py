"""Evacuation drills on the visitors service, on a real nats-server: staff start a drill, every
visitor in the building at its start (on site, or held at the desk) is accounted for — marked
at the assembly point, or signed out at the desk — and the last one ends it with the time it
took. Two desks starting or marking at once make one drill and one mark; a second drill takes
who is in the building then. Exactly which events were published is checked."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext

from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from services.visitors.app import build_app
from tests.integration.conftest import running
from tests.integration.test_visitors_service import (  # noqa: F401  (fixtures)
    FrontOffice,
    Published,
    local,
    make_kernel,
    nc,
    sign_in_body,
)

pytestmark = pytest.mark.nats


class Desk(FrontOffice):
    """Who acts goes into the subject for the drill commands too."""

    ACTING = (*FrontOffice.ACTING, "started_by", "accounted_by", "ended_by")


def drilled(event: Any) -> tuple[Any, ...]:
    """An event as (type, what it is about…) with the drill's and visits' ids as strings."""
    if event.type == "visitor.drill_started":
        return (event.type, str(event.drill_id), event.visitors)
    if event.type == "visitor.accounted_for":
        return (
            event.type, str(event.drill_id), str(event.visit_id), event.how.value,
            event.accounted_by, event.occurred_at,
        )  # fmt: skip
    if event.type == "visitor.drill_ended":
        return (
            event.type, str(event.drill_id), event.reason.value, event.accounted,
            event.unaccounted, event.seconds_to_account, event.occurred_at,
        )  # fmt: skip
    return (event.type, str(event.visit_id))


def board(reply: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (v["name"], v["badge_number"], v["accounted_at"], v["accounted_by"], v["how"])
        for v in reply["drill"]["visitors"]
    ]


async def test_a_drill_from_start_to_full_accountability_then_a_second_one(
    make_kernel: Callable[..., ServiceKernel],  # noqa: F811
    nc: Any,  # noqa: F811
    js: JetStreamContext,
    clock: ManualClock,
) -> None:
    office = Desk(nc)
    published = Published(js)
    async with running(make_kernel(), build_app):
        await published.start()
        clock.set(local(9, 0))
        ann = (await office.ok("command", "sign_in", sign_in_body("Ann", "Arbor")))["visit_id"]
        clock.set(local(9, 5))
        bob = (await office.ok("command", "sign_in", sign_in_body("Bob", "Byrne")))["visit_id"]
        clock.set(local(9, 10))
        pat = await office.ok("command", "sign_in", sign_in_body("Pat", "Vandermeer"))
        assert pat["status"] == "pending_screening"  # held at the desk: in the building
        pat = pat["visit_id"]
        assert await office.ok("query", "drill", {}) == {
            "as_of": "2026-11-23T15:10:00Z",
            "drill": None,
        }

        # 10:00 two desks press Start: one drill.
        clock.set(local(10, 0))
        first, again = await asyncio.gather(
            office.ok("command", "drill_start", {"started_by": "office-garcia"}),
            office.ok("command", "drill_start", {"started_by": "ap-chen"}),
        )
        drill = first["drill"]["drill_id"]
        assert again["drill"]["drill_id"] == drill
        assert first["drill"]["started_at"] == "2026-11-23T16:00:00Z"
        assert first["drill"]["started_by"] in ("office-garcia", "ap-chen")  # whoever was first
        assert board(first) == [
            ("Ann Arbor", "1123-001", None, None, None),
            ("Bob Byrne", "1123-002", None, None, None),
            ("Pat Vandermeer", None, None, None, None),
        ]

        # 10:02 Ann is at the assembly point; a second desk marks her too: one mark.
        clock.set(local(10, 2))
        one, other = await asyncio.gather(
            *(
                office.ok(
                    "command", "drill_account",
                    {"drill_id": drill, "visit_id": ann, "accounted_by": person},
                )
                for person in ("office-garcia", "ap-chen")
            )
        )  # fmt: skip
        assert board(one)[-1] == board(other)[-1]
        assert board(one)[-1][:3] == ("Ann Arbor", "1123-001", "2026-11-23T16:02:00Z")
        marked_by = board(one)[-1][3]
        clock.set(local(10, 2) + timedelta(seconds=5))
        twice = await office.ok(
            "command", "drill_account",
            {"drill_id": drill, "visit_id": ann, "accounted_by": "ap-chen"},
        )  # fmt: skip
        assert board(twice)[-1] == (
            "Ann Arbor", "1123-001", "2026-11-23T16:02:00Z", marked_by, "marked",
        )  # fmt: skip

        # 10:03 Bob signs out at the desk: seen leaving, accounted for.
        clock.set(local(10, 3))
        await office.ok("command", "sign_out", {"badge_number": "1123-002"})

        # 10:04:30 Pat, the last one: the drill ends, 4 min 30 s to full accountability.
        clock.set(local(10, 4) + timedelta(seconds=30))
        done = await office.ok(
            "command", "drill_account",
            {"drill_id": drill, "visit_id": pat, "accounted_by": "ap-chen"},
        )  # fmt: skip
        state = done["drill"]
        assert (state["ended_at"], state["ended_by"], state["end_reason"]) == (
            "2026-11-23T16:04:30Z", "ap-chen", "all_accounted_for",
        )  # fmt: skip
        assert state["seconds_to_account"] == 270
        assert board(done) == [
            ("Ann Arbor", "1123-001", "2026-11-23T16:02:00Z", marked_by, "marked"),
            ("Bob Byrne", "1123-002", "2026-11-23T16:03:00Z", "office-garcia", "signed_out"),
            ("Pat Vandermeer", None, "2026-11-23T16:04:30Z", "ap-chen", "marked"),
        ]
        # A late mark from a desk that had not seen the end: the same answer.
        late = await office.ok(
            "command", "drill_account",
            {"drill_id": drill, "visit_id": ann, "accounted_by": "ap-chen"},
        )  # fmt: skip
        assert late == done | {"as_of": late["as_of"]}

        events = await published.wait_for(7)
        assert [drilled(e) for e in events] == [
            ("visitor.checked_in", ann),
            ("visitor.checked_in", bob),
            ("visitor.drill_started", drill, 3),
            ("visitor.accounted_for", drill, ann, "marked", marked_by, local(10, 2)),
            ("visitor.checked_out", bob),
            ("visitor.accounted_for", drill, bob, "signed_out", "office-garcia", local(10, 3)),
            ("visitor.accounted_for", drill, pat, "marked", "ap-chen",
             local(10, 4) + timedelta(seconds=30)),
            ("visitor.drill_ended", drill, "all_accounted_for", 3, 0, 270,
             local(10, 4) + timedelta(seconds=30)),
        ]  # fmt: skip

        # 11:00 a second drill: who is in the building now (Ann, and Pat still held).
        clock.set(local(11, 0))
        second = await office.ok("command", "drill_start", {"started_by": "office-garcia"})
        drill2 = second["drill"]["drill_id"]
        assert drill2 != drill
        assert [v["name"] for v in second["drill"]["visitors"]] == ["Ann Arbor", "Pat Vandermeer"]
        # Bob left before it started: not part of it.
        assert await office.call(
            "command",
            "drill_account",
            {"drill_id": drill2, "visit_id": bob, "accounted_by": "office-garcia"},
        ) == {
            "ok": False,
            "error": "visit_id: not in the building when the drill started",
        }
        clock.set(local(11, 5))
        ended = await office.ok(
            "command", "drill_end", {"drill_id": drill2, "ended_by": "principal-okafor"}
        )
        assert (ended["drill"]["end_reason"], ended["drill"]["seconds_to_account"]) == (
            "ended_by_staff",
            None,
        )
        assert await office.call(
            "command", "drill_account",
            {"drill_id": drill2, "visit_id": ann, "accounted_by": "office-garcia"},
        ) == {"ok": False, "error": f"drill {drill2} has ended"}  # fmt: skip
        # The latest drill is the default; the first one can still be asked for by its id.
        assert (await office.ok("query", "drill", {}))["drill"]["drill_id"] == drill2
        assert (await office.ok("query", "drill", {"drill_id": drill}))["drill"][
            "seconds_to_account"
        ] == 270
        assert await office.call(
            "query", "drill", {"drill_id": str(uuid.uuid4())}
        ) == {"ok": False, "error": "drill_id: no such drill in this school"}  # fmt: skip
        assert await office.call(
            "command", "drill_start", {"started_by": "somebody"}
        ) == {"ok": False, "error": "started_by: not a person of this school"}  # fmt: skip

        events = await published.wait_for(9)
        assert [drilled(e) for e in events[8:]] == [
            ("visitor.drill_started", drill2, 2),
            ("visitor.drill_ended", drill2, "ended_by_staff", 0, 2, None, local(11, 5)),
        ]


async def test_a_drill_with_nobody_on_site_is_complete_at_once(
    make_kernel: Callable[..., ServiceKernel],  # noqa: F811
    nc: Any,  # noqa: F811
    clock: ManualClock,
) -> None:
    office = Desk(nc)
    async with running(make_kernel(), build_app):
        clock.set(local(10, 0))
        reply = await office.ok("command", "drill_start", {"started_by": "office-garcia"})
        drill = reply["drill"]
        assert (drill["end_reason"], drill["seconds_to_account"], drill["visitors"]) == (
            "all_accounted_for",
            0,
            [],
        )


async def test_a_drill_left_open_is_closed_with_its_school_day(
    make_kernel: Callable[..., ServiceKernel],  # noqa: F811
    nc: Any,  # noqa: F811
    js: JetStreamContext,
    clock: ManualClock,
) -> None:
    """Nobody ended the 11:00 drill and Ann was never marked: at the day's close (16:45 at
    Lakeside) it ends as `day_ended`; the next morning's Start is a new drill."""
    office = Desk(nc)
    published = Published(js)
    kernel = make_kernel()
    async with running(kernel, build_app):
        await published.start()
        assert kernel.ticker is not None
        clock.set(local(9, 0))
        await office.ok("command", "sign_in", sign_in_body("Ann", "Arbor"))
        clock.set(local(11, 0))
        drill = (await office.ok("command", "drill_start", {"started_by": "office-garcia"}))[
            "drill"
        ]["drill_id"]
        clock.set(local(16, 44))
        assert (await kernel.ticker.tick())["visitor-drill-day-end"] == 0
        clock.set(local(16, 46))
        assert (await kernel.ticker.tick())["visitor-drill-day-end"] == 1
        assert (await kernel.ticker.tick())["visitor-drill-day-end"] == 0  # once
        state = (await office.ok("query", "drill", {}))["drill"]
        assert (state["drill_id"], state["ended_at"], state["ended_by"], state["end_reason"]) == (
            drill, "2026-11-23T22:45:00Z", "visitors", "day_ended",
        )  # fmt: skip
        assert state["seconds_to_account"] is None
        events = await published.wait_for(6)
        assert [drilled(e) for e in events if e.type.startswith("visitor.drill")] == [
            ("visitor.drill_started", drill, 1),
            ("visitor.drill_ended", drill, "day_ended", 0, 1, None, local(16, 45)),
        ]
        clock.set(local(8, 0) + timedelta(days=1))
        nxt = await office.ok("command", "drill_start", {"started_by": "office-garcia"})
        assert nxt["drill"]["drill_id"] != drill
