"""Routing: which policy an alert follows, its steps' timing, repeats, off-duty steps,
school-hours and after-hours steps, and a concern whose severity changes.

Calendar: Mon 2026-11-16 .. Fri 11-20 is an ordinary school week; school hours are 08:00-15:00
(America/Chicago). Every expectation is written by hand from the school fixture in the test.
"""

from __future__ import annotations

import pytest

from tests.scenarios.conftest import Start
from tests.scenarios.harness import ALL_WEEK, person, policy, school, step

SSO = person("sso-a", "sso")
AP = person("ap-b", "assistant_principal")
PRINCIPAL = person("pr-c", "principal")
NIGHT = person("night-d", "district_safety", days=ALL_WEEK, no_school_days=True)


async def test_step_zero_at_once_then_each_step_after_its_delay(scenario: Start) -> None:
    steps = [step("sso"), step("assistant_principal", delay=10), step("principal", delay=20)]
    s = await scenario(school([SSO, AP, PRINCIPAL], [policy("all", steps)]), "2026-11-16 09:00")
    await s.concern("vaping", "low")
    await s.advance_to("11-16 12:00")
    assert s.notified() == [
        ("Mon 11-16 09:00", "sso-a", "policy"),
        ("Mon 11-16 09:10", "ap-b", "policy"),
        ("Mon 11-16 09:30", "pr-c", "policy"),
    ]


async def test_step_zero_with_a_delay_waits_for_it(scenario: Start) -> None:
    steps = [step("assistant_principal", delay=5), step("principal", delay=5)]
    s = await scenario(school([AP, PRINCIPAL], [policy("all", steps)]), "2026-11-16 09:00")
    await s.concern("vaping", "low")
    await s.advance_to("11-16 10:00")
    assert s.notified() == [
        ("Mon 11-16 09:05", "ap-b", "policy"),
        ("Mon 11-16 09:10", "pr-c", "policy"),
    ]


async def test_the_first_policy_in_file_order_matching_category_and_severity(
    scenario: Start,
) -> None:
    doc = school(
        [SSO, PRINCIPAL],
        [
            policy("weapons", [step("principal")], ["weapon"], ["high", "critical"]),
            policy("everything", [step("sso")]),
            policy("never", [step("principal")], ["weapon"]),  # shadowed by `everything`
        ],
    )
    s = await scenario(doc, "2026-11-16 09:00")
    await s.concern("weapon", "low")
    await s.advance_to("11-16 09:05")
    await s.concern("weapon", "high")
    await s.advance_to("11-16 10:00")
    assert s.notified() == [
        ("Mon 11-16 09:00", "sso-a", "policy"),
        ("Mon 11-16 09:05", "pr-c", "policy"),
    ]
    assert [r["policy_name"] for r in await s.alert_rows("concern:")] == ["everything", "weapons"]


async def test_no_matching_policy_follows_the_built_in_fallback(scenario: Start) -> None:
    # fallback: [sso] at once, [principal] 15 min later; repeat 1 (gap = 15 min); then done.
    doc = school(
        [SSO, AP, PRINCIPAL], [policy("vaping-only", [step("assistant_principal")], ["vaping"])]
    )
    s = await scenario(doc, "2026-11-16 09:00")
    await s.concern("conflict", "medium")
    await s.advance_to("11-16 12:00")
    assert s.notified() == [
        ("Mon 11-16 09:00", "sso-a", "policy"),
        ("Mon 11-16 09:15", "pr-c", "policy"),
        ("Mon 11-16 09:30", "sso-a", "policy"),
        ("Mon 11-16 09:45", "pr-c", "policy"),
    ]
    assert [r["policy_name"] for r in await s.alert_rows("concern:")] == ["fallback"]


# Steps: [sso] at once, [ap] 5 min later, [principal] 20 min later; repeat gap = 20 min (the
# longest delay), so each pass takes 25 min of steps plus 20 min before the next pass.
ALL_PASSES = [
    ("Mon 11-16 09:00", "sso-a", "policy"),
    ("Mon 11-16 09:05", "ap-b", "policy"),
    ("Mon 11-16 09:25", "pr-c", "policy"),
    ("Mon 11-16 09:45", "sso-a", "policy"),
    ("Mon 11-16 09:50", "ap-b", "policy"),
    ("Mon 11-16 10:10", "pr-c", "policy"),
    ("Mon 11-16 10:30", "sso-a", "policy"),
    ("Mon 11-16 10:35", "ap-b", "policy"),
    ("Mon 11-16 10:55", "pr-c", "policy"),
    ("Mon 11-16 11:15", "sso-a", "policy"),
    ("Mon 11-16 11:20", "ap-b", "policy"),
    ("Mon 11-16 11:40", "pr-c", "policy"),
    ("Mon 11-16 12:00", "sso-a", "policy"),
    ("Mon 11-16 12:05", "ap-b", "policy"),
    ("Mon 11-16 12:25", "pr-c", "policy"),
    ("Mon 11-16 12:45", "sso-a", "policy"),
    ("Mon 11-16 12:50", "ap-b", "policy"),
    ("Mon 11-16 13:10", "pr-c", "policy"),
]


@pytest.mark.parametrize("repeat", [0, 1, 2, 3, 4, 5])
async def test_repeat_n_gives_exactly_n_plus_one_passes(scenario: Start, repeat: int) -> None:
    steps = [step("sso"), step("assistant_principal", delay=5), step("principal", delay=20)]
    doc = school([SSO, AP, PRINCIPAL], [policy("all", steps, repeat=repeat)])
    s = await scenario(doc, "2026-11-16 09:00")
    await s.concern("vaping", "low")
    await s.advance_to("11-16 14:55")
    assert s.notified() == ALL_PASSES[: 3 * (repeat + 1)]


async def test_an_off_duty_step_is_skipped_without_waiting(scenario: Start) -> None:
    early_ap = person("ap-b", "assistant_principal", hours="07:00-09:00")
    steps = [step("sso"), step("assistant_principal", delay=10), step("principal", delay=10)]
    s = await scenario(
        school([SSO, early_ap, PRINCIPAL], [policy("all", steps)]), "2026-11-16 08:55"
    )
    await s.concern("vaping", "low")
    await s.advance_to("11-16 12:00")
    # 09:05: the AP's duty ended at 09:00, so the principal is told then, not at 09:15.
    assert s.notified() == [
        ("Mon 11-16 08:55", "sso-a", "policy"),
        ("Mon 11-16 09:05", "pr-c", "policy"),
    ]


async def test_a_step_tells_only_its_on_duty_targets_each_once(scenario: Start) -> None:
    ap1 = person("ap-1", "assistant_principal")
    ap2 = person("ap-2", "assistant_principal", days=("mon", "tue", "wed", "thu"))
    steps = [step("assistant_principal", "ap-1", "ap-2")]
    s = await scenario(school([ap1, ap2], [policy("aps", steps)]), "2026-11-20 10:00")  # a Friday
    await s.concern("bullying", "medium")
    await s.advance_to("11-20 11:00")
    assert s.notified() == [("Fri 11-20 10:00", "ap-1", "policy")]


async def test_school_hours_and_after_hours_steps_at_the_first_bell(scenario: Start) -> None:
    steps = [step("sso", when="school_hours"), step("district_safety", when="after_hours")]
    s = await scenario(school([SSO, NIGHT], [policy("split", steps)]), "2026-11-16 07:59")
    await s.concern("vaping", "low", zone="hall-a")
    await s.advance_to("11-16 08:00")
    await s.concern("vaping", "low", zone="bath-b")
    await s.advance_to("11-16 10:00")
    assert s.notified() == [
        ("Mon 11-16 07:59", "night-d", "policy"),
        ("Mon 11-16 08:00", "sso-a", "policy"),
    ]


async def test_school_hours_and_after_hours_steps_at_the_last_bell(scenario: Start) -> None:
    steps = [step("sso", when="school_hours"), step("district_safety", when="after_hours")]
    s = await scenario(school([SSO, NIGHT], [policy("split", steps)]), "2026-11-16 14:59")
    await s.concern("vaping", "low", zone="hall-a")
    await s.advance_to("11-16 15:00")
    await s.concern("vaping", "low", zone="bath-b")
    await s.advance_to("11-16 17:00")
    assert s.notified() == [
        ("Mon 11-16 14:59", "sso-a", "policy"),
        ("Mon 11-16 15:00", "night-d", "policy"),
    ]


async def test_a_school_hours_step_due_after_the_last_bell_gives_way_to_the_next(
    scenario: Start,
) -> None:
    steps = [
        step("sso"),
        step("assistant_principal", delay=30, when="school_hours"),
        step("district_safety", delay=30, when="after_hours"),
    ]
    s = await scenario(school([SSO, AP, NIGHT], [policy("day-end", steps)]), "2026-11-16 14:45")
    await s.concern("conflict", "medium")
    await s.advance_to("11-16 18:00")
    # 15:15: the AP's step applies only in school hours; the after-hours step goes at once.
    assert s.notified() == [
        ("Mon 11-16 14:45", "sso-a", "policy"),
        ("Mon 11-16 15:15", "night-d", "policy"),
    ]


async def test_a_skipped_last_step_wraps_into_the_next_pass_at_once(scenario: Start) -> None:
    sso = person("sso-a", "sso", hours="07:00-15:30")
    steps = [step("sso"), step("assistant_principal", delay=30, when="school_hours")]
    s = await scenario(school([sso, AP], [policy("wrap", steps, repeat=1)]), "2026-11-16 14:45")
    await s.concern("conflict", "medium")
    await s.advance_to("11-16 18:00")
    # 15:15: the AP step is after the last bell, so pass 2 begins at once (no 30-min gap); its
    # AP step at 15:45 is skipped too and the policy is done.
    assert s.notified() == [
        ("Mon 11-16 14:45", "sso-a", "policy"),
        ("Mon 11-16 15:15", "sso-a", "policy"),
    ]


# --- a concern whose severity changes (issue 12, item 5) -------------------------------------

MINOR_SERIOUS = [
    policy(
        "serious",
        [step("principal"), step("district_safety", delay=10)],
        ["*"],
        ["high", "critical"],
    ),
    policy("minor", [step("assistant_principal"), step("sso", delay=30)], ["*"], ["low", "medium"]),
]


async def test_severity_raised_after_the_alert_was_resolved_opens_a_new_alert(
    scenario: Start,
) -> None:
    s = await scenario(school([SSO, AP, PRINCIPAL, NIGHT], MINOR_SERIOUS), "2026-11-16 10:00")
    cid = await s.concern("conflict", "low")
    await s.advance_to("11-16 10:20")
    await s.resolve(await s.alert_id("concern:"), "ap-b", "spoke to both students")
    await s.advance_to("11-16 11:00")
    await s.update_severity(cid, "critical")
    await s.advance_to("11-16 12:00")
    assert s.notified() == [
        ("Mon 11-16 10:00", "ap-b", "policy"),
        ("Mon 11-16 11:00", "pr-c", "policy"),
        ("Mon 11-16 11:10", "night-d", "policy"),
    ]
    rows = await s.alert_rows(f"concern:{cid}")
    assert [(r["status"], r["severity"], r["policy_name"]) for r in rows] == [
        ("resolved", "low", "minor"),
        ("open", "critical", "serious"),
    ]


async def test_severity_raised_while_open_reroutes_from_step_zero_now(scenario: Start) -> None:
    s = await scenario(school([SSO, AP, PRINCIPAL, NIGHT], MINOR_SERIOUS), "2026-11-16 10:00")
    cid = await s.concern("conflict", "low")
    await s.advance_to("11-16 10:20")
    await s.update_severity(cid, "high")
    await s.advance_to("11-16 12:00")
    # The minor policy's SSO step (due 10:30) is gone; the serious policy runs from 10:20.
    assert s.notified() == [
        ("Mon 11-16 10:00", "ap-b", "policy"),
        ("Mon 11-16 10:20", "pr-c", "policy"),
        ("Mon 11-16 10:30", "night-d", "policy"),
    ]


async def test_severity_raised_on_an_acknowledged_alert_reroutes_too(scenario: Start) -> None:
    s = await scenario(school([SSO, AP, PRINCIPAL, NIGHT], MINOR_SERIOUS), "2026-11-16 10:00")
    cid = await s.concern("conflict", "low")
    await s.advance_to("11-16 10:05")
    await s.ack(await s.alert_id("concern:"), "ap-b")
    await s.advance_to("11-16 10:20")
    await s.update_severity(cid, "high")
    await s.advance_to("11-16 13:00")
    assert s.notified() == [
        ("Mon 11-16 10:00", "ap-b", "policy"),
        ("Mon 11-16 10:20", "pr-c", "policy"),
        ("Mon 11-16 10:30", "night-d", "policy"),
    ]


async def test_severity_lowered_changes_nothing_but_is_recorded(scenario: Start) -> None:
    s = await scenario(school([SSO, AP, PRINCIPAL, NIGHT], MINOR_SERIOUS), "2026-11-16 10:00")
    cid = await s.concern("conflict", "high")
    await s.advance_to("11-16 10:05")
    await s.update_severity(cid, "low")
    await s.advance_to("11-16 12:00")
    assert s.notified() == [
        ("Mon 11-16 10:00", "pr-c", "policy"),
        ("Mon 11-16 10:10", "night-d", "policy"),
    ]
    (row,) = await s.alert_rows(f"concern:{cid}")
    assert (row["severity"], row["policy_name"]) == ("low", "serious")
