"""A simulated school week through all four services, each its own process, on a real
nats-server, with faults injected along the way — then every store is compared with the
simulator's ground truth, and every notification with what the lifecycle spec implies.

Time is stepped (`LOOKOUT_CLOCK=file:`): the simulator drives it and the suite settles before
time passes any moment that matters (a window deadline, a visit turning overdue, an escalation
step, the end-of-day checkout), so the week runs as fast as the services go and every outcome
is exact. Faults (tests/e2e/driver.py): kill -9 of each service, three of them down while
simulated time moves on and events keep coming; one nats-server restart; a database outage
(patrol and alerts write-locked past the busy timeout) across a concern's raise and resolve;
poison messages on three streams.

The expected notifications are derived by tests/e2e/oracle.py from the ground truth and a
hand-written table of the school (tests/e2e/lhs_policies.py), never by the alerts service's
own rules.
"""

from __future__ import annotations

import email
import json
import random
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from lookout.kernel.messaging import DLQ_REASON, DLQ_SUBJECT
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings, load_school
from lookout.simulation.people import read_watchlist
from lookout.simulation.plan import build_plan
from lookout.simulation.runner import run_simulation
from services.reports.domain import report_moment
from tests.e2e.driver import Driver, plan_faults, query
from tests.e2e.oracle import Notification, Opening, expected_notifications
from tests.e2e.suite import PATROL_SEED, SERVICES, Suite
from tests.unit.reports.scripted_week import parse_html

# ~80 s alone; a loaded CI machine running the rest of the suite beside it has doubled that and
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


def observed(alert_events: list[tuple[str, bytes]]) -> tuple[list[Opening], list[Notification]]:
    """What the alerts service published: each alert's opening and each person's notification."""
    keys: dict[str, str] = {}
    openings: list[Opening] = []
    told: list[Notification] = []
    for _subject, data in alert_events:
        body = json.loads(data)
        if body.get("type") == "alert.opened":
            keys[body["alert_id"]] = body["dedup_key"]
            openings.append(
                Opening(
                    body["dedup_key"], datetime.fromisoformat(body["occurred_at"]), body["policy"]
                )
            )
    for _subject, data in alert_events:
        body = json.loads(data)
        if body.get("type") == "alert.notification":
            told.append(
                Notification(
                    keys.get(body["alert_id"], f"? {body['alert_id']}"),
                    body["person_id"],
                    datetime.fromisoformat(body["occurred_at"]),
                    body.get("route", "policy"),
                )
            )
    return openings, told


def differences(expected: list[Any], got: list[Any]) -> list[str]:
    """One line per thing expected and not done (-) or done and not expected (+)."""
    want, have = Counter(expected), Counter(got)
    lines = [f"- {x.line()}" for x in sorted((want - have).elements(), key=lambda x: x.at)]
    lines += [f"+ {x.line()}" for x in sorted((have - want).elements(), key=lambda x: x.at)]
    return sorted(lines, key=lambda line: line[2:])


async def test_a_simulated_week_with_faults_matches_the_ground_truth(tmp_path: Path) -> None:
    school = load_school(EXAMPLE_SCHOOL)
    watchlist = read_watchlist(EXAMPLE_SCHOOL.parent / "lhs-watchlist.csv")
    plan = build_plan(
        school, seed=SEED, start=MONDAY, days=5, watchlist=watchlist, patrol_seed=PATROL_SEED
    )
    suite = Suite(tmp_path, plan.begins_at)
    suite.start_all()
    await suite.connect()
    clock = DrivenClock(suite)
    faults = plan_faults(plan, random.Random(SEED), SERVICES)
    driver = Driver(suite, plan, faults, POISON)
    settings = Settings(nats_url=suite.nats.url)
    try:
        await suite.quiet(within=60)  # all four up, migrated, consumers created
        truth = await run_simulation(
            settings,
            plan,
            clock,
            tmp_path / "truth.json",
            driver.on_action,
            pace="drive",
            settle=driver.settle,
            before_move=driver.before_move,
        )
        await driver.finish()
        await driver.before_move(plan.ends_at)
        clock.set(plan.ends_at)
        await driver.settle()
        alive = suite.all_alive()
        logs = {n: suite.log_tail(n) for n in SERVICES}
        alert_events = await _read_all(suite, "ALERTS")
        dead = await _read_all(suite, "DLQ", headers=True)
    finally:
        await suite.stop_all()
    # For a failure's post-mortem (tests/e2e/oracle.py can be re-run on these files).
    (tmp_path / "alerts-stream.json").write_text(
        json.dumps([json.loads(data) for _, data in alert_events], indent=0)
    )
    (tmp_path / "settles.json").write_text(json.dumps(driver.settled))
    (tmp_path / "outages.json").write_text(
        json.dumps(
            [[o.service, o.start.isoformat(), o.end.isoformat(), o.why] for o in driver.outages]
        )
    )

    assert truth["complete"] is True and truth["errors"] == []
    assert alive == dict.fromkeys(SERVICES, True), (logs, suite.unexpected_exits)
    assert sorted(k for k, _ in suite.kills) == sorted(SERVICES), driver.done
    assert sorted(o.service for o in driver.outages) == [
        "alerts",
        "alerts",
        "patrol",
        "patrol",
        "reports",
    ], driver.done

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
    signed_out = {v["visit_id"] for v in visits.values() if v["checked_out_at"]}
    assert {r[0] for r in stored_visits if r[3] == "front_office"} == signed_out

    # --- every notification the truth implies happened exactly once, at its moment -----------
    expected = expected_notifications(truth, driver.outages)
    assert expected.ambiguous == [], driver.done
    openings, told = observed([(s, d) for s, d in alert_events])
    assert differences(expected.openings, openings) == []
    assert differences(expected.notifications, told) == []
    rows = query(tmp_path, "alerts", "SELECT dedup_key, resolved_at FROM alerts")
    assert Counter(r[0] for r in rows) == Counter(o.dedup_key for o in expected.openings)
    assert {r[0] for r in rows if r[1] is None} == expected.unresolved_at_end

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
