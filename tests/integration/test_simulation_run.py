"""A simulated school morning against a real nats-server with the patrol and visitors services
running: everything the runner says it did landed, exactly, in both services' stores.

The runner drives the services' clock itself (`pace="drive"`) and lets them catch up
(consumers drained, timers ticked) before simulated time passes a deadline, so the whole
morning runs in seconds and every outcome is exact.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import select

from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.school.config import SchoolConfig
from lookout.simulation.people import read_watchlist
from lookout.simulation.plan import build_plan
from lookout.simulation.runner import ActionOutcome, run_simulation
from services.patrol import app as patrol_app
from services.patrol import store as patrol_store
from services.visitors import app as visitors_app
from services.visitors import store as visitors_store
from tests.integration.conftest import consumer_drained, running, wait_until

pytestmark = pytest.mark.nats

MONDAY = date(2026, 11, 23)
SEED = 22  # a morning with the watchlist match, the overdue and the out-of-bounds visitor
PATROL_SEED = "a-deployment-secret"  # the deployment's secret: the SSO's phone and patrol agree
DURABLES = (
    ("PATROL", "patrol-patrol"),
    ("CONCERNS", "patrol-concerns"),
    ("VISITORS", "visitors-sightings"),
)


async def rows(kernel: ServiceKernel, query: Any) -> list[Any]:
    async with kernel.sessions() as session:
        return list((await session.execute(query)).all())


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def test_a_simulated_morning_lands_exactly(
    nats_server: Any, tmp_path: Path, school: SchoolConfig
) -> None:
    watchlist = read_watchlist(EXAMPLE_SCHOOL.parent / "lhs-watchlist.csv")
    whole_day = build_plan(
        school, seed=SEED, start=MONDAY, days=1, watchlist=watchlist, patrol_seed=PATROL_SEED
    )
    plan = whole_day.slice(end=datetime.combine(MONDAY, time(11, 0), tzinfo=school.tz))
    clock = ManualClock(plan.begins_at)
    settings = Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        patrol_seed=PATROL_SEED,
        patrol_db_url=f"sqlite+aiosqlite:///{tmp_path / 'patrol.db'}",
        visitors_db_url=f"sqlite+aiosqlite:///{tmp_path / 'visitors.db'}",
        timers_enabled=False,  # the settle step below ticks them, at the moments that matter
    )
    patrol = patrol_app.create_kernel(settings, clock)
    visitors = visitors_app.create_kernel(settings, clock)
    truth_path = tmp_path / "truth.json"
    feed: list[ActionOutcome] = []
    nc = await nats.connect(nats_server.url)
    js: JetStreamContext = nc.jetstream()

    async def drained() -> bool:
        return all([await consumer_drained(js, s, d) for s, d in DURABLES])

    async def settle() -> None:
        await wait_until(drained, what="the services to apply what was published")
        assert patrol.ticker is not None and visitors.ticker is not None
        await patrol.ticker.tick()
        await visitors.ticker.tick()

    try:
        async with running(patrol, patrol_app.build_app), running(visitors, visitors_app.build_app):
            truth = await run_simulation(
                settings, plan, clock, truth_path, feed.append, pace="drive", settle=settle
            )
            assert clock.now() == plan.ends_at
            patrol_state = await patrol_rows(patrol)
            visitor_state = await visitor_rows(visitors)
            # The same plan again is a retry (same event ids, same sign-in request ids):
            # JetStream drops every event and the stores do not change.
            again = await run_simulation(
                settings, plan, clock, tmp_path / "again.json", pace="drive", settle=settle
            )
            assert await patrol_rows(patrol) == patrol_state
            assert await visitor_rows(visitors) == visitor_state
    finally:
        await nc.close()

    # The ground truth on disk is what the runner returned; nothing failed.
    assert json.loads(truth_path.read_text(encoding="utf-8")) == truth
    assert (truth["complete"], truth["errors"]) == (True, [])
    assert all(o.ok for o in feed) and len(feed) == truth["run"]["actions_done"]
    # The feed names zones, badges and ids: no student references, no visitor names.
    lines = "\n".join(o.line(school.tz) for o in feed)
    assert re.search(r"\bS-\d{4}\b", lines) is None
    assert not [v["name"] for v in truth["visits"] if v["name"] in lines]

    assert (again["complete"], again["errors"]) == (True, [])
    assert [e["event_id"] for e in again["events"]] == [e["event_id"] for e in truth["events"]]
    assert {e["duplicate"] for e in again["events"]} == {True}
    assert [(v["visit_id"], v["badge_number"]) for v in again["visits"]] == [
        (v["visit_id"], v["badge_number"]) for v in truth["visits"]
    ]

    # What this seed's morning is (06:55 to 11:00): pinned, so a change to the plan shows here.
    summary = truth["summary"]
    assert summary["events_by_type"] == {
        "checkpoint.scanned": 44,
        "concern.raised": 4,
        "concern.resolved": 2,
        "contact.logged": 4,
        "device.heartbeat": 49,
        "observation.logged": 1,
        "visitor.sighted": 6,
    }
    assert (summary["sign_ins"], summary["sign_outs"], summary["screenings"]) == (13, 7, 1)
    assert summary["sign_ins_by_status"] == {"on_site": 12, "pending_screening": 1}
    assert summary["windows"] == {"checked": 33, "late": 1, "missed": 1}
    assert (summary["concerns_raised"], summary["concerns_resolved"]) == (4, 2)
    assert truth["expected"]["windows_late"] == 1 and truth["expected"]["windows_missed"] == 1

    # Patrol: every scan stored; every window judged exactly as the truth says.
    events = truth["events"]
    by_type: dict[str, set[str]] = {}
    for e in events:
        by_type.setdefault(e["type"], set()).add(e["event_id"])
    assert patrol_state["scans"] == by_type["checkpoint.scanned"]
    assert patrol_state["observations"] == by_type.get("observation.logged", set())
    assert patrol_state["contacts"] == by_type["contact.logged"]
    assert patrol_state["windows"] == {
        (w["zone_id"], w["window_start"], w["unannounced"]): w["expected_outcome"]
        for w in truth["windows"]
    }
    assert patrol_state["concerns"] == {c["concern_id"]: c["status"] for c in truth["concerns"]}
    assert patrol_state["devices"] == [
        (
            "phone-rivera",
            "sso-rivera",
            max(e["occurred_at"] for e in events if e["type"] == "device.heartbeat"),
            False,
        )
    ]
    assert patrol_state["emitted"]["patrol.lhs.check.missed"] == truth["expected"]["windows_missed"]
    assert "alert.lhs.heartbeat.missed" not in patrol_state["emitted"]

    # Visitors: every sign-in is the visit the truth names, in the state it says.
    visits = [v for v in truth["visits"] if v["visit_id"]]
    assert visitor_state["visits"] == {
        v["visit_id"]: (v["status"], v["badge_number"], v["expect_overdue"]) for v in visits
    }
    assert visitor_state["sightings"] == {
        s["event_id"]: s["out_of_bounds"] for v in visits for s in v["sightings"]
    }
    flagged = [v for v in visits if v["expect_flagged"]]
    assert visitor_state["decisions"] == [
        (v["visit_id"], v["watchlist_entry_id"], "yes", "ap-chen") for v in flagged
    ]
    assert visitor_state["emitted"] == {
        "visitor.lhs.checked_in": summary["sign_ins"] - len(flagged),
        "visitor.lhs.checked_out": summary["sign_outs"],
        "visitor.lhs.screening_flagged": len(flagged),
        "visitor.lhs.overdue": len(truth["expected"]["overdue_visits"]),
        "visitor.lhs.out_of_bounds": len(truth["expected"]["out_of_bounds_visits"]),
    }
    assert (len(flagged), len(truth["expected"]["overdue_visits"])) == (1, 1)
    assert len(truth["expected"]["out_of_bounds_visits"]) == 1


async def patrol_rows(kernel: ServiceKernel) -> dict[str, Any]:
    s = patrol_store
    windows = await rows(
        kernel,
        select(
            s.check_windows.c.zone_id,
            s.check_windows.c.window_start,
            s.check_windows.c.unannounced,
            s.check_windows.c.status,
            s.check_windows.c.deadline_at,
        ),
    )
    ends = datetime.combine(MONDAY, time(11, 0), tzinfo=kernel.schools["lhs"].tz)
    return {
        "scans": {r.event_id for r in await rows(kernel, select(s.checkpoint_scans.c.event_id))},
        "observations": {r.event_id for r in await rows(kernel, select(s.observations.c.event_id))},
        "contacts": {r.event_id for r in await rows(kernel, select(s.contacts.c.event_id))},
        "windows": {
            (r.zone_id, iso(r.window_start), r.unannounced): r.status
            for r in windows
            if r.deadline_at < ends
        },
        "concerns": {
            r.concern_id: r.status
            for r in await rows(kernel, select(s.concerns.c.concern_id, s.concerns.c.status))
        },
        "devices": [
            (r.device_id, r.officer_id, iso(r.last_seen_at), r.silence_reported)
            for r in await rows(kernel, select(s.devices))
        ],
        "emitted": Counter(r.subject for r in await rows(kernel, select(s.outbox.c.subject))),
    }


async def visitor_rows(kernel: ServiceKernel) -> dict[str, Any]:
    s = visitors_store
    return {
        "visits": {
            r.visit_id: (r.status, r.badge_number, r.overdue_reported_at is not None)
            for r in await rows(kernel, select(s.visits))
        },
        "sightings": {
            r.event_id: bool(r.out_of_bounds) for r in await rows(kernel, select(s.sightings))
        },
        "decisions": [
            (r.visit_id, r.watchlist_entry_id, r.answer, r.decided_by)
            for r in await rows(kernel, select(s.screening_decisions))
        ],
        "emitted": dict(Counter(r.subject for r in await rows(kernel, select(s.outbox.c.subject)))),
    }
