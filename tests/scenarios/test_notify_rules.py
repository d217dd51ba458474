"""Per-person notification rules (issue 16) through a real SMTP server and the scenario clock:
an email a person's rule delays goes out that many minutes after the step, unless the alert
was acknowledged or resolved by then (the timeline says it was cancelled); a severity without a
rule is emailed at once; a repeat pass of the policy delays again.

Calendar: Mon 2026-11-16, school hours 08:00-15:00 America/Chicago.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.alerts import store
from tests.scenarios.conftest import Start
from tests.scenarios.harness import Scenario, person, policy, school, step


def with_rule(p: dict[str, Any], **notify: Any) -> dict[str, Any]:
    return p | {"notify": notify}


LATER = [{"channel": "email", "after_minutes": 2}]
PRINCIPAL = with_rule(person("pr-c", "principal", email=True), critical=LATER, high=LATER)
AP = person("ap-b", "assistant_principal", email=True)  # no rule: email at once
STEPS = [step("principal", "assistant_principal"), step("principal", delay=10)]


async def timeline(s: Scenario, channel: str) -> list[tuple[str, str | None, str | None]]:
    t = store.alert_timeline
    async with s.alerts[0].kernel.sessions() as session:
        rows = await session.execute(select(t).where(t.c.channel == channel).order_by(t.c.id))
        return [(f"{s.at(r.at)} {r.kind}", r.person_id, r.outcome) for r in rows]


async def test_a_delayed_email_goes_out_two_minutes_after_each_step(scenario: Start) -> None:
    doc = school([PRINCIPAL, AP], [policy("two", STEPS)])
    s = await scenario(doc, "2026-11-16 10:00", smtp=True)
    await s.concern("weapon", "critical")
    await s.advance_to("11-16 10:30")
    assert s.emails() == [
        ("Mon 11-16 10:00", "ap-b"),
        ("Mon 11-16 10:02", "pr-c"),
        ("Mon 11-16 10:12", "pr-c"),  # step 2 at 10:10, two minutes on
    ]


async def test_a_delayed_email_is_not_sent_once_acknowledged(scenario: Start) -> None:
    doc = school([PRINCIPAL, AP], [policy("two", STEPS)])
    s = await scenario(doc, "2026-11-16 10:00", smtp=True)
    await s.concern("weapon", "critical")
    await s.advance_to("11-16 10:01")
    await s.ack(await s.alert_id("concern:"), "ap-b")
    await s.advance_to("11-16 10:30")
    assert s.emails() == [("Mon 11-16 10:00", "ap-b")]
    assert await timeline(s, "email") == [
        ("Mon 11-16 10:00 notified", "pr-c", "queued"),
        ("Mon 11-16 10:00 notified", "ap-b", "queued"),
        ("Mon 11-16 10:00 notified", "ap-b", "delivered"),
        ("Mon 11-16 10:01 cancelled", "pr-c", None),
    ]


async def test_a_delayed_email_is_not_sent_once_resolved(scenario: Start) -> None:
    doc = school([PRINCIPAL, AP], [policy("two", STEPS)])
    s = await scenario(doc, "2026-11-16 10:00", smtp=True)
    await s.concern("weapon", "high")
    await s.advance_to("11-16 10:01")
    await s.resolve(await s.alert_id("concern:"), "ap-b")
    await s.advance_to("11-16 10:30")
    assert s.emails() == [("Mon 11-16 10:00", "ap-b")]


async def test_a_severity_without_a_rule_is_emailed_at_once(scenario: Start) -> None:
    doc = school([PRINCIPAL, AP], [policy("two", STEPS)])
    s = await scenario(doc, "2026-11-16 10:00", smtp=True)
    await s.concern("vaping", "low")
    await s.advance_to("11-16 10:30")
    assert sorted(s.emails()) == [  # (two at one moment: in no promised order)
        ("Mon 11-16 10:00", "ap-b"),
        ("Mon 11-16 10:00", "pr-c"),
        ("Mon 11-16 10:10", "pr-c"),
    ]
