"""The desk's evacuation drill through the web: start (a second desk joins the same drill), mark
each visitor accounted for (again: no change), the live stream nudges every desk, a sign-out
during the drill accounts for the visitor, and the last mark ends it with the time to full
accountability. Asked of the real visitors service on a real nats-server as the signed-in
clerk (the fixtures of test_web_front_desk)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from lookout.kernel.clock import ManualClock
from tests.integration.test_web import assert_problem
from tests.integration.test_web_front_desk import (  # noqa: F401  (fixtures)
    OFFICE,
    PRINCIPAL,
    SSO,
    clock,
    desk,
    settings,
    visitor,
)
from tests.integration.test_web_live import Phone, Stream

pytestmark = pytest.mark.nats


def board(drill: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (v["name"], v["badge_number"], v["accounted_at"], v["accounted_by_name"], v["how"])
        for v in drill["visitors"]
    ]


async def test_a_drill_at_the_desk_from_start_to_everyone_accounted_for(
    desk: dict[str, Phone],  # noqa: F811
    clock: ManualClock,  # noqa: F811
) -> None:
    office = desk[OFFICE].client
    assert (await office.get("/api/v1/visitors/drill")).json() == {
        "as_of": "2026-11-23T15:00:00Z",
        "drill": None,
    }
    ana = (await office.post("/api/v1/visitors/sign-in", json=visitor("Ana", "Ruiz"))).json()
    clock.advance(timedelta(minutes=1))
    li = (await office.post("/api/v1/visitors/sign-in", json=visitor("Li", "Wei"))).json()
    assert (ana["badge_number"], li["badge_number"]) == ("1123-001", "1123-002")

    clock.set(clock.now() + timedelta(minutes=29))  # 09:30
    async with office.stream("GET", "/api/v1/visitors/live") as response:
        live = Stream(response)
        assert await live.next() == ("hello", {})
        started = await office.post("/api/v1/visitors/drill/start")
        assert started.status_code == 200, started.text
        drill = started.json()["drill"]
        assert await live.next() == ("visitors", {"because": "visitor.drill_started"})
    assert {k: drill[k] for k in ("started_at", "started_by_name", "ended_at", "end_reason",
                                  "seconds_to_account", "accounted", "unaccounted")} == {
        "started_at": "2026-11-23T15:30:00Z", "started_by_name": "Luz Garcia",
        "ended_at": None, "end_reason": None, "seconds_to_account": None,
        "accounted": 0, "unaccounted": 2,
    }  # fmt: skip
    assert board(drill) == [
        ("Ana Ruiz", "1123-001", None, None, None),
        ("Li Wei", "1123-002", None, None, None),
    ]
    assert drill["visitors"][0]["destination_names"] == ["Library"]
    # Another desk pressing Start joins the same drill.
    again = (await office.post("/api/v1/visitors/drill/start")).json()["drill"]
    assert again["drill_id"] == drill["drill_id"]

    path = f"/api/v1/visitors/drill/{drill['drill_id']}/account"
    clock.advance(timedelta(minutes=2))
    marked = (await office.post(path, json={"visit_id": ana["visit_id"]})).json()["drill"]
    assert (marked["accounted"], marked["unaccounted"]) == (1, 1)
    assert board(marked) == [
        ("Li Wei", "1123-002", None, None, None),
        ("Ana Ruiz", "1123-001", "2026-11-23T15:32:00Z", "Luz Garcia", "marked"),
    ]
    # Marked twice (a second desk): no change.
    clock.advance(timedelta(seconds=10))
    twice = (await office.post(path, json={"visit_id": ana["visit_id"]})).json()["drill"]
    assert board(twice) == board(marked)

    # Li signs out at the desk during the drill: seen leaving; the last one: the drill ends.
    clock.set(clock.now() + timedelta(minutes=1, seconds=35))  # 15:33:45
    out = await office.post("/api/v1/visitors/sign-out", json={"badge": "1123-002"})
    assert out.status_code == 200, out.text
    ended = (await office.get("/api/v1/visitors/drill")).json()["drill"]
    assert (ended["end_reason"], ended["seconds_to_account"], ended["ended_at"]) == (
        "all_accounted_for",
        225,
        "2026-11-23T15:33:45Z",
    )
    assert board(ended) == [
        ("Ana Ruiz", "1123-001", "2026-11-23T15:32:00Z", "Luz Garcia", "marked"),
        ("Li Wei", "1123-002", "2026-11-23T15:33:45Z", "Luz Garcia", "signed_out"),
    ]

    # A second drill takes who is in the building then: Ana (accounted for in the first drill,
    # never signed out), not Li.
    second = (await office.post("/api/v1/visitors/drill/start")).json()["drill"]
    assert second["drill_id"] != drill["drill_id"]
    assert (second["end_reason"], board(second)) == (
        None,
        [("Ana Ruiz", "1123-001", None, None, None)],
    )

    # Refusals name the field; the drill is the caller's school's only.
    assert_problem(
        await office.post(f"/api/v1/visitors/drill/{uuid.uuid4()}/account",
                          json={"visit_id": ana["visit_id"]}),
        404,
        "drill_id: no such drill in this school",
    )  # fmt: skip
    assert_problem(
        await office.post(path, json={"visit_id": str(uuid.uuid4())}),
        422,
        "visit_id: not in the building when the drill started",
    )
    assert_problem(await office.post(path, json={"visit_id": "x"}), 422)
    mhs = desk["mhs-office"].client
    assert (await mhs.get("/api/v1/visitors/drill")).json()["drill"] is None
    assert_problem(await mhs.post(path, json={"visit_id": ana["visit_id"]}), 404)
    for person in (SSO, PRINCIPAL):
        client = desk[person].client
        assert_problem(await client.get("/api/v1/visitors/drill"), 403)
        assert_problem(await client.post("/api/v1/visitors/drill/start"), 403)
        assert (await client.get("/desk/drill")).status_code == 404
    page = await office.get("/desk/drill")
    assert page.status_code == 200 and "Evacuation drill" in page.text


async def test_a_drill_ended_early_keeps_who_was_missing(
    desk: dict[str, Phone],  # noqa: F811
    clock: ManualClock,  # noqa: F811
) -> None:
    office = desk[OFFICE].client
    await office.post("/api/v1/visitors/sign-in", json=visitor("Ana", "Ruiz"))
    drill = (await office.post("/api/v1/visitors/drill/start")).json()["drill"]
    clock.advance(timedelta(minutes=5))
    ended = await office.post(f"/api/v1/visitors/drill/{drill['drill_id']}/end")
    state = ended.json()["drill"]
    assert (state["end_reason"], state["seconds_to_account"], state["unaccounted"]) == (
        "ended_by_staff",
        None,
        1,
    )
    ana = state["visitors"][0]["visit_id"]
    assert_problem(
        await office.post(f"/api/v1/visitors/drill/{drill['drill_id']}/account",
                          json={"visit_id": ana}),
        409,
        f"drill {drill['drill_id']} has ended",
    )  # fmt: skip
