"""A simulated school week through all four services, each its own process, on a real
nats-server, with faults injected along the way — then every store is compared with the
simulator's ground truth.

Time is stepped (`LOOKOUT_CLOCK=file:`): the simulator drives it and the suite settles before
time passes any moment that matters (a window deadline, a visit turning overdue, an escalation
step, the end-of-day checkout), so the week runs as fast as the services go and every outcome
is exact. Faults, at seeded moments: kill -9 of each service (restarted at once), one
nats-server restart, a few seconds with the alerts database write-locked, and poison messages
on three streams.
"""

from __future__ import annotations

import asyncio
import email
import json
import random
import sqlite3
import time as wall
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from lookout.config import EXAMPLE_SCHOOL, Settings, load_school
from lookout.messaging import DLQ_REASON, DLQ_SUBJECT
from lookout.simulation.people import read_watchlist
from lookout.simulation.plan import action_kind, build_plan
from lookout.simulation.runner import ActionOutcome, run_simulation
from services.reports.domain import report_moment
from tests.e2e.expected import expected_alerts, expected_steps
from tests.e2e.suite import SERVICES, Suite
from tests.unit.reports.scripted_week import parse_html

# ~70 s alone; a loaded CI machine running the rest of the suite beside it has doubled that and
# more, so its hang guard is longer than the suite's 240 s.
pytestmark = [pytest.mark.slow, pytest.mark.nats, pytest.mark.timeout(600)]

MONDAY = date(2026, 11, 30)  # a full five-day week (26-27 Nov are no-school days)
SEED = 7
# Poison messages and the services whose consumers read their subject (each dead-letters it).
POISON = [
    ("patrol.lhs.checkpoint.scanned", b"{not json", ("patrol", "reports")),
    ("concern.nowhere.raised", b'{"type": "concern.raised"}', ("patrol", "alerts", "reports")),
    (
        "visitor.lhs.sighted",
        b'{"type": "visitor.sighted", "school_id": "lhs"}',
        ("visitors", "reports"),
    ),
]


class DrivenClock:
    """The simulator's settable clock over the suite's clock file."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite

    def now(self) -> datetime:
        return self.suite.now

    def set(self, moment: datetime) -> None:
        self.suite.set_clock(moment)


def timer_deadlines(root: Path) -> list[datetime]:
    """Deadlines the services hold as rows that the plan does not know of: escalation steps,
    visits turning overdue, end-of-day checkouts."""
    found: list[datetime] = []
    for service, sql in (
        ("alerts", "SELECT next_step_at FROM alerts WHERE next_step_at IS NOT NULL"),
        (
            "visitors",
            "SELECT overdue_at FROM visits WHERE status = 'on_site' AND overdue_at IS NOT NULL"
            " AND overdue_reported_at IS NULL UNION SELECT auto_checkout_at FROM visits"
            " WHERE status = 'on_site' AND auto_checkout_at IS NOT NULL",
        ),
    ):
        try:
            found += [datetime.fromisoformat(r[0] + "+00:00") for r in query(root, service, sql)]
        except sqlite3.OperationalError:  # not created or migrated yet
            continue
    return sorted(set(found))


def query(root: Path, service: str, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{root / f'{service}.db'}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


async def test_a_simulated_week_with_faults_matches_the_ground_truth(tmp_path: Path) -> None:
    school = load_school(EXAMPLE_SCHOOL)
    watchlist = read_watchlist(EXAMPLE_SCHOOL.parent / "lhs-watchlist.csv")
    plan = build_plan(school, seed=SEED, start=MONDAY, days=5, watchlist=watchlist)
    suite = Suite(tmp_path, plan.begins_at)
    suite.start_all()
    js = await suite.connect()
    clock = DrivenClock(suite)
    rng = random.Random(SEED)
    actions = len(plan.actions)
    # Seeded moments (action indices) for each fault, spread over the week.
    faults: dict[int, Callable[[], Any]] = {}
    for i, name in enumerate(SERVICES):
        faults[rng.randrange(actions * i // 6 + 1, actions * (i + 1) // 6)] = lambda n=name: (
            suite.kill(n),
            suite.restart(n),
        )
    faults[rng.randrange(actions * 4 // 6, actions * 5 // 6)] = suite.restart_nats
    lock_at = rng.randrange(actions * 5 // 6, actions - 10)
    poison_at = rng.randrange(10, actions // 6)
    done: list[str] = []
    lock_task: asyncio.Task[None] | None = None

    async def settle() -> None:
        await suite.quiet(within=90)

    async def before_move(target: datetime) -> None:
        """Stop (and settle) at every escalation deadline and checkout moment before target;
        settle first where the clock stands, so what was just published lands before time
        passes a deadline."""
        settled = False
        if dirty:  # an action the alerts service reacts to: let it land where it happened
            dirty.clear()
            await settle()
            settled = True
        while True:
            due = [d for d in timer_deadlines(tmp_path) if suite.now < d < target]
            if not due:
                return
            if not settled:
                await settle()
                settled = True
                continue  # settling may have opened alerts with earlier deadlines
            clock.set(min(due))
            await settle()

    dirty: list[bool] = []
    relevant = ("concern.", "visitors.", "visitor.sighted")

    async def on_action(outcome: ActionOutcome) -> None:
        nonlocal lock_task
        index = outcome.index
        if action_kind(outcome.action).startswith(relevant):
            dirty.append(True)
        if index in faults:
            faults[index]()
            done.append(f"{index}")
            # Simulated time stands still while it restarts (seconds, in a real school).
            await settle()
        if index == poison_at:
            for subject, body, _ in POISON:
                await js.publish(subject, body)
        if index == lock_at:

            def hold() -> None:
                with suite.database_locked("alerts"):
                    wall.sleep(3)  # the outage lasts a few wall seconds, whatever the clock

            lock_task = asyncio.ensure_future(asyncio.to_thread(hold))

    settings = Settings(nats_url=suite.nats.url)
    try:
        await suite.quiet(within=60)  # all four up, migrated, consumers created
        truth = await run_simulation(
            settings,
            plan,
            clock,
            tmp_path / "truth.json",
            on_action,
            pace="drive",
            settle=settle,
            before_move=before_move,
        )
        if lock_task is not None:
            await lock_task
        await before_move(plan.ends_at)
        clock.set(plan.ends_at)
        await settle()
        alive = suite.all_alive()
        logs = {n: suite.log_tail(n) for n in SERVICES}
        alert_events = await _read_all(suite, "ALERTS")
        dead = await _read_all(suite, "DLQ", headers=True)
    finally:
        await suite.stop_all()

    assert truth["complete"] is True and truth["errors"] == []
    assert alive == dict.fromkeys(SERVICES, True), (logs, suite.unexpected_exits)
    assert len(done) == 5 and [k for k, _ in suite.kills] == list(SERVICES)

    # --- nothing lost, nothing twice: every store against the truth -------------------------
    events = truth["events"]
    scans = {e["event_id"] for e in events if e["type"] == "checkpoint.scanned"}
    stored_scans = [
        r[0] for r in query(tmp_path, "patrol", "SELECT event_id FROM checkpoint_scans")
    ]
    assert sorted(stored_scans) == sorted(scans)
    concerns = {c["concern_id"]: c for c in truth["concerns"] if c["raised"]}
    stored = dict(query(tmp_path, "patrol", "SELECT concern_id, status FROM concerns"))
    assert stored == {cid: c["status"] for cid, c in concerns.items()}
    visits = {v["visit_id"]: v for v in truth["visits"] if v["visit_id"]}
    stored_visits = query(
        tmp_path, "visitors", "SELECT visit_id, status, checked_out_at, checkout_method FROM visits"
    )
    assert {r[0] for r in stored_visits} == set(visits)
    # The roster is empty at night: everyone signed out or checked out automatically (a
    # visitor refused at screening never came in).
    denied = {v["visit_id"] for v in visits.values() if v["status"] == "denied"}
    assert Counter(r[1] for r in stored_visits) == {
        "checked_out": len(visits) - len(denied),
        **({"denied": len(denied)} if denied else {}),
    }
    checkouts = {r[0]: datetime.fromisoformat(r[2] + "+00:00") for r in stored_visits if r[2]}
    signed_out = {v["visit_id"] for v in visits.values() if v["checked_out_at"]}
    assert {r[0] for r in stored_visits if r[3] == "front_office"} == signed_out

    # --- every escalation the truth implies happened exactly once, and none other ------------
    expected = expected_alerts(truth, checkouts)
    rows = query(
        tmp_path, "alerts", "SELECT alert_id, dedup_key, count FROM alerts ORDER BY opened_at"
    )
    assert sorted(r[1] for r in rows) == sorted(a.dedup_key for a in expected)
    by_key = {r[1]: r[0] for r in rows}
    escalated = Counter[str]()
    steps_seen: Counter[tuple[str, int, int]] = Counter()
    for subject, data in alert_events:
        if subject.endswith(".escalated"):
            body = json.loads(data)
            escalated[body["alert_id"]] += 1
            steps_seen[(body["alert_id"], body["step"], body["repeat"])] += 1
    assert max(steps_seen.values()) == 1  # no step published twice
    end = plan.ends_at
    assert {a.dedup_key: escalated[by_key[a.dedup_key]] for a in expected} == {
        a.dedup_key: expected_steps(school, a, end) for a in expected
    }

    # --- the poison messages are in the DLQ with their reasons; nothing else is ---------------
    assert sorted((dlq, h[DLQ_SUBJECT], body) for dlq, body, h in dead) == sorted(
        (f"dlq.{service}", subject, body)
        for subject, body, readers in POISON
        for service in readers
    )
    assert all(h[DLQ_REASON] for _, _, h in dead)

    # --- the weekly email's numbers equal the truth's ------------------------------------------
    moment = report_moment(school, "2026-W49")  # Friday 15:00: the summary covers the week to it

    def before(text: str | None) -> bool:
        return text is not None and datetime.fromisoformat(text) < moment

    sent = Counter(_message_id(p) for p in (tmp_path / "mail").glob("*.eml"))
    # Exactly one summary for the school and one district roll-up, across the kills.
    school_id = "<weekly-summary.2026-W49.lhs@lookout.reports>"
    district_id = "<weekly-summary.2026-W49._district@lookout.reports>"
    assert (sent[school_id], sent[district_id]) == (1, 1)
    (weekly,) = [p for p in (tmp_path / "mail").glob("*.eml") if _message_id(p) == school_id]
    message = email.message_from_bytes(weekly.read_bytes())
    html = next(p for p in message.walk() if p.get_content_type() == "text/html")
    shown = parse_html(html.get_payload(decode=True).decode())
    judged = [w for w in truth["windows"] if before(w["deadline"])]
    raised = [c for c in concerns.values() if before(c["raised_at"])]
    asked = [v for v in visits.values() if before(v["signed_in_at"])]
    came = [v for v in asked if v["status"] != "denied"]  # a refused visitor never came in
    opened = query(tmp_path, "alerts", "SELECT opened_at FROM alerts")
    expected_numbers = {
        "coverage.all.planned": len(judged),
        "coverage.all.checked": sum(w["expected_outcome"] == "checked" for w in judged),
        "coverage.all.late": sum(w["expected_outcome"] == "late" for w in judged),
        "coverage.all.missed": sum(w["expected_outcome"] == "missed" for w in judged),
        "concerns.raised": len(raised),
        "concerns.raised_resolved": sum(before(c["resolved_at"]) for c in raised),
        "visitors.total": len(came),
        "visitors.overdue": sum(v["expect_overdue"] and before(v["overdue_at"]) for v in came),
        "visitors.flags.yes": sum(
            v["screening"] is not None and v["screening"]["answer"] == "yes" for v in asked
        ),
        "alerts.opened": sum(before(r[0].replace(" ", "T") + "+00:00") for r in opened),
    }
    assert {k: shown.get(k) for k in expected_numbers} == {
        k: str(v) for k, v in expected_numbers.items()
    }
    # No student reference or note text in any email (alerts' and the summary).
    for path in (tmp_path / "mail").glob("*.eml"):
        text = path.read_text(errors="replace")
        assert not any(c["student_refs"][0] in text for c in concerns.values()), path


def _message_id(path: Path) -> str:
    return str(email.message_from_bytes(path.read_bytes())["Message-ID"])


async def _read_all(suite: Suite, stream: str, headers: bool = False) -> list[Any]:
    """Every message in a stream, in order (an ordered push consumer from the start)."""
    info = await suite.js.stream_info(stream)
    sub = await suite.js.subscribe(">", stream=stream, ordered_consumer=True)
    out: list[Any] = []
    try:
        for _ in range(info.state.messages):
            msg = await sub.next_msg(timeout=10)
            out.append(
                (msg.subject, msg.data, msg.headers or {}) if headers else (msg.subject, msg.data)
            )
    finally:
        await sub.unsubscribe()
    return out
