"""Dedup follows the lifecycle (issue 12, items 3 and 4): a repeat into an acknowledged or
exhausted alert re-notifies from step 0, a repeat into an escalating or held alert folds
silently; lone-worker alarms never go to the silent officer; alerts that resolve themselves
(heartbeat resumed, a missed check at the end of its school day, a follow-up done late, a
visitor checked out).

Calendar: Mon 2026-11-16 .. Fri 11-20 school days, 08:00-15:00 America/Chicago.
"""

from __future__ import annotations

import uuid

from tests.scenarios.conftest import Start
from tests.scenarios.harness import ALL_WEEK, person, policy, school, step

SSO_A = person("sso-a", "sso")
SSO_B = person("sso-b", "sso")
AP = person("ap-b", "assistant_principal")
PRINCIPAL = person("pr-c", "principal")
LEE = person("district-lee", "district_safety", days=ALL_WEEK, no_school_days=True)
LONE_WORKER = policy(
    "lone-worker", [step("sso"), step("assistant_principal", delay=5)], ["heartbeat_missed"]
)


# --- the silent officer (item 3) ----------------------------------------------------------------


async def test_lone_worker_alarm_goes_to_the_other_officer_not_the_silent_one(
    scenario: Start,
) -> None:
    s = await scenario(school([SSO_A, SSO_B, AP], [LONE_WORKER]), "2026-11-16 10:00")
    await s.heartbeat_missed("sso-a")
    await s.advance_to("11-16 11:00")
    assert s.notified() == [
        ("Mon 11-16 10:00", "sso-b", "policy"),
        ("Mon 11-16 10:05", "ap-b", "policy"),
    ]


async def test_a_step_naming_only_the_silent_officer_is_skipped(scenario: Start) -> None:
    s = await scenario(school([SSO_A, AP], [LONE_WORKER]), "2026-11-16 10:00")
    await s.heartbeat_missed("sso-a")
    await s.advance_to("11-16 11:00")
    # The SSO step reaches nobody but the silent officer: the AP step is tried at once.
    assert s.notified() == [("Mon 11-16 10:00", "ap-b", "policy")]


async def test_lone_worker_alarm_no_step_can_route_goes_on_call_not_to_the_officer(
    scenario: Start,
) -> None:
    doc = school([SSO_A, AP, LEE], [policy("lone-worker", [step("sso")], ["heartbeat_missed"])])
    s = await scenario(doc, "2026-11-16 10:00")
    await s.heartbeat_missed("sso-a")
    await s.advance_to("11-16 11:00")
    assert s.notified() == [("Mon 11-16 10:00", "district-lee", "on_call")]


async def test_lone_worker_alarm_with_nobody_on_duty_spares_the_silent_officer(
    scenario: Start,
) -> None:
    weekday_lee = person("district-lee", "district_safety")
    pol = policy(
        "lone-worker", [step("sso", "principal", when="school_hours")], ["heartbeat_missed"]
    )
    s = await scenario(school([SSO_A, PRINCIPAL, weekday_lee], [pol]), "2026-11-21 10:00")  # Sat
    await s.heartbeat_missed("sso-a")
    await s.advance_to("11-21 12:00")
    assert s.notified() == [("Sat 11-21 10:00", "pr-c", "nobody_on_duty")]


# --- repeats (item 4) --------------------------------------------------------------------------


async def test_second_lone_worker_alarm_nine_days_later_notifies_again(scenario: Start) -> None:
    s = await scenario(school([SSO_A, SSO_B, AP], [LONE_WORKER]), "2026-11-16 10:00")
    await s.heartbeat_missed("sso-a")
    await s.advance_to("11-25 10:00")  # exhausted since Mon 10:05; nobody acknowledged it
    await s.heartbeat_missed("sso-a")
    await s.advance_to("11-25 11:00")
    assert s.notified() == [
        ("Mon 11-16 10:00", "sso-b", "policy"),
        ("Mon 11-16 10:05", "ap-b", "policy"),
        ("Wed 11-25 10:00", "sso-b", "policy"),
        ("Wed 11-25 10:05", "ap-b", "policy"),
    ]
    (row,) = await s.alert_rows("heartbeat_missed:sso-a")
    assert row["count"] == 2


CHECKS = policy(
    "checks",
    [step("sso"), step("assistant_principal", delay=10)],
    ["check_missed"],
    ack_timeout=120,
)


async def test_repeat_into_an_acknowledged_alert_notifies_from_step_zero(scenario: Start) -> None:
    s = await scenario(school([SSO_A, AP], [CHECKS]), "2026-11-16 09:35")
    await s.check_missed("hall-a", "11-16 09:00", "11-16 09:30")
    await s.advance_to("11-16 09:40")
    await s.ack(await s.alert_id("check_missed:"), "sso-a")
    await s.advance_to("11-16 10:35")
    await s.check_missed("hall-a", "11-16 10:00", "11-16 10:30")
    await s.advance_to("11-16 14:00")
    # The ack is cleared by the re-notification: no re-trigger at 11:40 (the ack timeout).
    assert s.notified() == [
        ("Mon 11-16 09:35", "sso-a", "policy"),
        ("Mon 11-16 10:35", "sso-a", "policy"),
        ("Mon 11-16 10:45", "ap-b", "policy"),
    ]


async def test_repeat_into_an_escalating_alert_folds_silently(scenario: Start) -> None:
    s = await scenario(school([SSO_A, AP], [CHECKS]), "2026-11-16 09:35")
    await s.check_missed("hall-a", "11-16 09:00", "11-16 09:30")
    await s.advance_to("11-16 09:42")
    await s.check_missed("hall-a", "11-16 09:30", "11-16 09:40")
    await s.advance_to("11-16 12:00")
    assert s.notified() == [
        ("Mon 11-16 09:35", "sso-a", "policy"),
        ("Mon 11-16 09:45", "ap-b", "policy"),
    ]
    (row,) = await s.alert_rows("check_missed:hall-a")
    assert row["count"] == 2


async def test_repeat_into_a_held_alert_folds_silently(scenario: Start) -> None:
    doc = school(
        [AP],
        [
            policy(
                "screening",
                [step("assistant_principal", when="school_hours")],
                ["screening_flagged"],
            )
        ],
    )
    s = await scenario(doc, "2026-11-16 16:00")
    visit = uuid.uuid4()
    await s.screening_flagged(visit, "not_sure")  # medium, after hours: held to Tue 08:00
    await s.advance_to("11-16 17:00")
    await s.screening_flagged(visit, "not_sure")
    await s.advance_to("11-17 10:00")
    assert s.notified() == [("Tue 11-17 08:00", "ap-b", "policy")]
    (row,) = await s.alert_rows("screening_flagged:")
    assert row["count"] == 2


# --- alerts that resolve themselves ------------------------------------------------------------


async def test_heartbeat_resumed_resolves_the_lone_worker_alarm(scenario: Start) -> None:
    pol = policy(
        "lone-worker", [step("sso"), step("assistant_principal", delay=10)], ["heartbeat_missed"]
    )
    s = await scenario(school([SSO_A, SSO_B, AP], [pol]), "2026-11-16 10:00")
    await s.heartbeat_missed("sso-a")
    await s.advance_to("11-16 10:05")
    await s.heartbeat_resumed("sso-a")
    await s.advance_to("11-16 12:00")
    assert s.notified() == [("Mon 11-16 10:00", "sso-b", "policy")]
    (row,) = await s.alert_rows("heartbeat_missed:sso-a")
    assert row["status"] == "resolved"


async def test_missed_checks_are_one_alert_per_zone_and_school_day(scenario: Start) -> None:
    doc = school([SSO_A], [policy("checks", [step("sso")], ["check_missed"])])
    s = await scenario(doc, "2026-11-16 09:35")
    await s.check_missed("hall-a", "11-16 09:00", "11-16 09:30")
    await s.check_missed("bath-b", "11-16 09:00", "11-16 09:30")
    await s.advance_to("11-17 09:35")
    await s.check_missed("hall-a", "11-17 09:00", "11-17 09:30")
    await s.advance_to("11-17 10:00")
    assert s.notified() == [
        ("Mon 11-16 09:35", "sso-a", "policy"),
        ("Mon 11-16 09:35", "sso-a", "policy"),
        ("Tue 11-17 09:35", "sso-a", "policy"),
    ]
    assert [r["dedup_key"] for r in await s.alert_rows("check_missed:hall-a")] == [
        "check_missed:hall-a:2026-11-16",
        "check_missed:hall-a:2026-11-17",
    ]


async def test_a_missed_check_alert_resolves_at_the_days_last_bell(scenario: Start) -> None:
    doc = school(
        [SSO_A, AP],
        [policy("checks", [step("sso"), step("assistant_principal", delay=600)], ["check_missed"])],
    )
    s = await scenario(doc, "2026-11-16 09:35")
    await s.check_missed("hall-a", "11-16 09:00", "11-16 09:30")
    await s.advance_to("11-16 14:59")
    assert [r["status"] for r in await s.alert_rows("check_missed:")] == ["open"]
    await s.advance_to("11-16 15:00")
    assert [r["status"] for r in await s.alert_rows("check_missed:")] == ["resolved"]
    await s.advance_to("11-17 07:00")
    # The AP step (due 19:35) never fires: nobody is paged about yesterday's bathroom.
    assert s.notified() == [("Mon 11-16 09:35", "sso-a", "policy")]


async def test_a_late_follow_up_resolves_its_missed_follow_up_alert(scenario: Start) -> None:
    doc = school(
        [SSO_A, AP],
        [
            policy(
                "follow-ups",
                [step("sso"), step("assistant_principal", delay=30)],
                ["follow_up_missed"],
            )
        ],
    )
    s = await scenario(doc, "2026-11-17 15:00")
    cid = uuid.uuid4()
    await s.follow_up_missed(cid, "emotional_distress", "medium")
    await s.advance_to("11-17 15:10")
    await s.follow_up_completed(cid, late=True)
    await s.advance_to("11-17 17:00")
    assert s.notified() == [("Tue 11-17 15:00", "sso-a", "policy")]
    (row,) = await s.alert_rows("follow_up_missed:")
    assert row["status"] == "resolved"


async def test_a_missed_follow_up_follows_its_concern_categorys_policy(scenario: Start) -> None:
    counselor = person("co-e", "counselor")
    doc = school(
        [SSO_A, counselor],
        [
            policy("self-harm", [step("counselor")], ["self_harm_risk"]),
            policy("all", [step("sso")]),
        ],
    )
    s = await scenario(doc, "2026-11-17 15:00")
    await s.follow_up_missed(uuid.uuid4(), "self_harm_risk", "high")
    await s.advance_to("11-17 16:00")
    assert s.notified(severity=True) == [("Tue 11-17 15:00", "co-e", "policy", "high")]


async def test_checkout_resolves_overdue_but_not_the_screening_flag(scenario: Start) -> None:
    doc = school(
        [AP, PRINCIPAL],
        [policy("visitors", [step("assistant_principal"), step("principal", delay=15)])],
    )
    s = await scenario(doc, "2026-11-16 10:00")
    visit = uuid.uuid4()
    await s.visitor_overdue(visit)
    await s.screening_flagged(visit, "yes")
    await s.advance_to("11-16 10:05")
    await s.visitor_checked_out(visit)
    await s.advance_to("11-16 12:00")
    assert s.notified(category="visitor_overdue") == [("Mon 11-16 10:00", "ap-b", "policy")]
    assert s.notified(category="screening_flagged") == [
        ("Mon 11-16 10:00", "ap-b", "policy"),
        ("Mon 11-16 10:15", "pr-c", "policy"),
    ]


async def test_a_resolved_concern_resolves_its_alert(scenario: Start) -> None:
    doc = school([SSO_A, AP], [policy("two", [step("sso"), step("assistant_principal", delay=20)])])
    s = await scenario(doc, "2026-11-16 10:00")
    cid = await s.concern("vaping", "low")
    await s.advance_to("11-16 10:10")
    await s.resolve_concern(cid)
    await s.advance_to("11-16 12:00")
    assert s.notified() == [("Mon 11-16 10:00", "sso-a", "policy")]
    (row,) = await s.alert_rows(f"concern:{cid}")
    assert row["status"] == "resolved"
