"""Acknowledge and resolve (issue 12, item 12, and the ack timeout): an ack stops the
escalation until the policy's ack timeout, then it re-triggers from step 0 of pass 0; only a
person of the school may acknowledge; resolving needs a note and stops everything.

Calendar: Mon 2026-11-16, school hours 08:00-15:00 America/Chicago.
"""

from __future__ import annotations

import pytest

from lookout.kernel.queries import Refused
from tests.scenarios.conftest import Start
from tests.scenarios.harness import person, policy, school, step

SSO = person("sso-a", "sso")
AP = person("ap-b", "assistant_principal")
PRINCIPAL = person("pr-c", "principal")
THREE_STEPS = [step("sso"), step("assistant_principal", delay=10), step("principal", delay=10)]


async def test_ack_by_someone_not_of_the_school_is_refused(scenario: Start) -> None:
    steps = [step("sso"), step("assistant_principal", delay=10)]
    s = await scenario(school([SSO, AP], [policy("two", steps)]), "2026-11-16 10:00")
    await s.concern("vaping", "low")
    await s.advance_to("11-16 10:05")
    with pytest.raises(Refused, match="by_person_id"):
        await s.ack(await s.alert_id("concern:"), "stranger-9")
    await s.advance_to("11-16 11:00")
    assert s.notified() == [
        ("Mon 11-16 10:00", "sso-a", "policy"),
        ("Mon 11-16 10:10", "ap-b", "policy"),
    ]


async def test_ack_timeout_retriggers_from_step_zero(scenario: Start) -> None:
    doc = school([SSO, AP, PRINCIPAL], [policy("three", THREE_STEPS, ack_timeout=30)])
    s = await scenario(doc, "2026-11-16 10:00")
    await s.concern("vaping", "low")
    await s.advance_to("11-16 10:05")
    await s.ack(await s.alert_id("concern:"), "sso-a")
    await s.advance_to("11-16 12:00")
    assert s.notified() == [
        ("Mon 11-16 10:00", "sso-a", "policy"),
        ("Mon 11-16 10:35", "sso-a", "policy"),
        ("Mon 11-16 10:45", "ap-b", "policy"),
        ("Mon 11-16 10:55", "pr-c", "policy"),
    ]


async def test_ack_in_a_later_pass_retriggers_from_pass_zero(scenario: Start) -> None:
    steps = [step("sso"), step("assistant_principal", delay=10)]
    doc = school([SSO, AP], [policy("two", steps, repeat=1, ack_timeout=60)])
    s = await scenario(doc, "2026-11-16 10:00")
    await s.concern("vaping", "low")
    await s.advance_to("11-16 10:25")  # pass 2 began at 10:20 (gap 10 min)
    await s.ack(await s.alert_id("concern:"), "ap-b")
    await s.advance_to("11-16 13:00")
    assert s.notified() == [
        ("Mon 11-16 10:00", "sso-a", "policy"),
        ("Mon 11-16 10:10", "ap-b", "policy"),
        ("Mon 11-16 10:20", "sso-a", "policy"),
        ("Mon 11-16 11:25", "sso-a", "policy"),
        ("Mon 11-16 11:35", "ap-b", "policy"),
        ("Mon 11-16 11:45", "sso-a", "policy"),
        ("Mon 11-16 11:55", "ap-b", "policy"),
    ]


async def test_ack_of_an_exhausted_alert_retriggers_after_the_timeout(scenario: Start) -> None:
    steps = [step("sso"), step("assistant_principal", delay=10)]
    s = await scenario(
        school([SSO, AP], [policy("two", steps, ack_timeout=60)]), "2026-11-16 10:00"
    )
    await s.concern("vaping", "low")
    await s.advance_to("11-16 10:30")  # exhausted since 10:10
    summary = await s.ack(await s.alert_id("concern:"), "ap-b")
    assert s.at(summary.next_step_at) == "Mon 11-16 11:30"
    await s.advance_to("11-16 13:00")
    assert s.notified() == [
        ("Mon 11-16 10:00", "sso-a", "policy"),
        ("Mon 11-16 10:10", "ap-b", "policy"),
        ("Mon 11-16 11:30", "sso-a", "policy"),
        ("Mon 11-16 11:40", "ap-b", "policy"),
    ]


async def test_resolve_after_an_ack_stops_the_retrigger(scenario: Start) -> None:
    doc = school([SSO, AP, PRINCIPAL], [policy("three", THREE_STEPS, ack_timeout=30)])
    s = await scenario(doc, "2026-11-16 10:00")
    await s.concern("vaping", "low")
    aid = await s.alert_id("concern:")
    await s.advance_to("11-16 10:05")
    await s.ack(aid, "sso-a")
    await s.advance_to("11-16 10:20")
    await s.resolve(aid, "sso-a", "spoke to the students")
    await s.advance_to("11-16 13:00")
    assert s.notified() == [("Mon 11-16 10:00", "sso-a", "policy")]


async def test_resolve_needs_a_note_and_then_stops_everything(scenario: Start) -> None:
    doc = school([SSO, AP, PRINCIPAL], [policy("three", THREE_STEPS, repeat=2)])
    s = await scenario(doc, "2026-11-16 10:00")
    await s.concern("vaping", "low")
    aid = await s.alert_id("concern:")
    await s.advance_to("11-16 10:12")
    with pytest.raises(Refused, match="note"):
        await s.resolve(aid, "ap-b", "   ")
    await s.resolve(aid, "ap-b", "vape confiscated")
    await s.advance_to("11-16 13:00")
    assert s.notified() == [
        ("Mon 11-16 10:00", "sso-a", "policy"),
        ("Mon 11-16 10:10", "ap-b", "policy"),
    ]
    assert (await s.summary(aid)).routing.value == "resolved"
