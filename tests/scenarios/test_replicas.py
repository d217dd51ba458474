"""Two alerts engines on one PostgreSQL database, ticking at the same moments concurrently:
every notification exactly once (PostgreSQL only: SQLite runs a single replica). Skipped unless
LOOKOUT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.scenarios.conftest import Start
from tests.scenarios.harness import person, policy, school, step

pytestmark = pytest.mark.postgres

# Per alert: [sso] at once, [ap] +5, [principal] +5, then pass 2 after the 5-minute gap.
EACH_ALERT = [
    ("Mon 11-16 10:00", "sso-a", "policy"),
    ("Mon 11-16 10:05", "ap-b", "policy"),
    ("Mon 11-16 10:10", "pr-c", "policy"),
    ("Mon 11-16 10:15", "sso-a", "policy"),
    ("Mon 11-16 10:20", "ap-b", "policy"),
    ("Mon 11-16 10:25", "pr-c", "policy"),
]


async def test_two_replicas_notify_each_step_exactly_once(
    scenario: Start, postgres_url: str
) -> None:
    steps = [step("sso"), step("assistant_principal", delay=5), step("principal", delay=5)]
    doc = school(
        [
            person("sso-a", "sso"),
            person("ap-b", "assistant_principal"),
            person("pr-c", "principal"),
        ],
        [policy("three", steps, repeat=1)],
    )
    s = await scenario(doc, "2026-11-16 10:00", alerts_db_url=postgres_url, replicas=2)
    s.concurrent = True
    for i in range(20):  # delivered to the two replicas in turn
        await s.concern("vaping", "low", zone="hall-a" if i % 2 else "bath-b")
    await s.advance_to("11-16 12:00")
    by_alert: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for at, n in sorted(s.notifications, key=lambda x: x[0]):
        by_alert[str(n.alert_id)].append((s.at(at) or "", n.person_id, n.route.value))
    assert len(by_alert) == 20
    assert all(seen == EACH_ALERT for seen in by_alert.values())
