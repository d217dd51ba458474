"""What the ground truth implies the alerts service must have done, computed with its own
policy rules (pure functions) from the moments the truth records.

The driver stops the shared clock at every escalation deadline (and settles there), so a step
due at `d` fires at `d` exactly, and the expectation can follow the policy step by step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lookout.contracts.alerts import AlertSource
from lookout.contracts.patrol import Severity
from lookout.school import SchoolConfig
from services.alerts import domain


@dataclass(frozen=True)
class ExpectedAlert:
    dedup_key: str
    source: AlertSource
    category: str
    severity: Severity
    zone_id: str | None
    opened_at: datetime
    resolved_at: datetime | None


def when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def expected_alerts(truth: dict[str, Any], checkouts: dict[str, datetime]) -> list[ExpectedAlert]:
    """Every alert the week must raise: one per concern, one per zone whose window was
    missed (repeat misses fold into it; nobody resolves it), one per overdue or out-of-bounds
    visit (resolved by its checkout, `checkouts[visit_id]`), one per flagged visit."""
    alerts: list[ExpectedAlert] = []
    for c in truth["concerns"]:
        if not c["raised"]:
            continue
        alerts.append(
            ExpectedAlert(
                f"concern:{c['concern_id']}",
                AlertSource.CONCERN,
                c["category"],
                Severity(c["severity"]),
                c["zone_id"],
                when(c["raised_at"]),  # type: ignore[arg-type]
                when(c["resolved_at"]),
            )
        )
    first_miss: dict[str, datetime] = {}
    for w in truth["windows"]:
        if w["expected_outcome"] == "missed":
            deadline = when(w["deadline"])
            assert deadline is not None
            zone = w["zone_id"]
            first_miss[zone] = min(first_miss.get(zone, deadline), deadline)
    for zone, at in first_miss.items():
        alerts.append(
            ExpectedAlert(
                f"check_missed:{zone}",
                AlertSource.CHECK_MISSED,
                "check_missed",
                Severity.LOW,
                zone,
                at,
                None,
            )
        )
    for v in truth["visits"]:
        if not v["visit_id"]:
            continue
        out = checkouts.get(v["visit_id"])
        if v["expect_overdue"]:
            alerts.append(
                ExpectedAlert(
                    f"visitor_overdue:{v['visit_id']}",
                    AlertSource.VISITOR_OVERDUE,
                    "visitor_overdue",
                    Severity.MEDIUM,
                    None,
                    when(v["overdue_at"]),  # type: ignore[arg-type]
                    out,
                )
            )
        oob = [s for s in v["sightings"] if s["out_of_bounds"] and s["published"]]
        if oob:
            first = min(oob, key=lambda s: s["at"])
            alerts.append(
                ExpectedAlert(
                    f"visitor_out_of_bounds:{v['visit_id']}",
                    AlertSource.VISITOR_OUT_OF_BOUNDS,
                    "visitor_out_of_bounds",
                    Severity.HIGH,
                    first["zone_id"],
                    when(first["at"]),  # type: ignore[arg-type]
                    out,
                )
            )
        screening = v["screening"]
        if v["expect_flagged"] and screening is not None:
            decision = screening["answer"]
            alerts.append(
                ExpectedAlert(
                    f"screening_flagged:{v['visit_id']}",
                    AlertSource.SCREENING_FLAGGED,
                    "screening_flagged",
                    Severity.HIGH if decision == "yes" else Severity.MEDIUM,
                    None,
                    when(screening["at"]),  # type: ignore[arg-type]
                    None,
                )
            )
    return alerts


def expected_steps(school: SchoolConfig, alert: ExpectedAlert, until: datetime) -> int:
    """How many escalation steps fire from opening until resolution (or `until`)."""
    seed = domain.AlertSeed(
        alert.dedup_key,
        alert.source,
        alert.category,
        alert.severity,
        alert.zone_id,
        frozenset({alert.category}),
    )
    policy = domain.choose_policy(school, seed)
    state = domain.opened(policy, alert.opened_at)
    end = until if alert.resolved_at is None else min(until, alert.resolved_at)
    fired = 0
    while state.next_step_at is not None and state.next_step_at <= end:
        if alert.resolved_at is not None and state.next_step_at >= alert.resolved_at:
            break  # resolved at (or before) the deadline: the resolve is applied first
        outcome = domain.fire(school, policy, state, state.next_step_at)
        fired += sum(isinstance(a, domain.Fired) for a in outcome.actions)
        state = outcome.state
    return fired
