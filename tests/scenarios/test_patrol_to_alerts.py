"""Patrol to alerts, through both real services (issue 12, items 3, 4, 8, 9): the phone's
heartbeats and scans go to the patrol service, what it emits is relayed to the alerts service,
and the notifications are compared by hand.

The school: first bell 07:15, last bell 14:30 (two periods), America/Chicago; heartbeat limit
10 minutes. Mon 2026-11-16 .. Fri 11-20 school days.
"""

from __future__ import annotations

from datetime import timedelta

from tests.scenarios.conftest import Start
from tests.scenarios.harness import person, policy, school, step

PERIODS = (("p1", "class", "07:15", "11:00"), ("p2", "class", "11:30", "14:30"))
SSO_A = person("sso-a", "sso")
SSO_B = person("sso-b", "sso")
AP = person("ap-b", "assistant_principal")
LONE_WORKER = policy(
    "lone-worker", [step("sso"), step("assistant_principal", delay=5)], ["heartbeat_missed"]
)
CHECKS = policy("checks", [step("sso"), step("assistant_principal", delay=30)], ["check_missed"])
HALL_0900 = {"zones": ["hall-a"], "window": "09:00-09:30", "grace_minutes": 5}
HALL_1300 = {"zones": ["hall-a"], "window": "13:00-13:30", "grace_minutes": 5}


def tiny(policies: list[dict[str, object]], plan: list[dict[str, object]] | None = None) -> dict:  # type: ignore[type-arg]
    return school([SSO_A, SSO_B, AP], policies, periods=PERIODS, patrol_plan=plan or [])


async def test_phone_dead_before_the_first_bell_is_reported_at_the_bell(scenario: Start) -> None:
    s = await scenario(tiny([LONE_WORKER]), "2026-11-16 06:50", patrol=True)
    await s.phone_heartbeat("sso-a")
    await s.advance_to("11-16 07:00")
    await s.phone_heartbeat("sso-a")  # the last one: silent from 07:10, before school
    await s.advance_to("11-16 09:00")
    assert s.notified() == [
        ("Mon 11-16 07:15", "sso-b", "policy"),
        ("Mon 11-16 07:20", "ap-b", "policy"),
    ]


async def test_silence_in_school_hours_then_heartbeats_resume(scenario: Start) -> None:
    pol = policy(
        "lone-worker", [step("sso"), step("assistant_principal", delay=30)], ["heartbeat_missed"]
    )
    s = await scenario(tiny([pol]), "2026-11-16 09:00", patrol=True)
    await s.phone_heartbeat("sso-a")
    for back in ("09:30", "09:35", "09:40", "09:45", "09:50", "09:55"):
        await s.advance_to(f"11-16 {back}")
        await s.phone_heartbeat("sso-a")  # back, and alive every 5 minutes
    await s.advance_to("11-16 10:04")
    # Silent at 09:10: the other SSO; back at 09:30, before the AP's step at 09:40.
    assert s.notified() == [("Mon 11-16 09:10", "sso-b", "policy")]
    (row,) = await s.alert_rows("heartbeat_missed:sso-a")
    assert row["status"] == "resolved"


async def test_a_phone_clock_three_hours_ahead_does_not_blind_the_watch(scenario: Start) -> None:
    s = await scenario(tiny([LONE_WORKER]), "2026-11-16 09:00", patrol=True)
    await s.phone_heartbeat("sso-a", stamp=s.clock.now() + timedelta(hours=3))
    await s.advance_to("11-16 11:00")
    assert s.notified() == [
        ("Mon 11-16 09:10", "sso-b", "policy"),
        ("Mon 11-16 09:15", "ap-b", "policy"),
    ]


async def test_a_scan_delivered_late_resolves_the_missed_check(scenario: Start) -> None:
    s = await scenario(tiny([CHECKS], [HALL_0900]), "2026-11-16 08:00", patrol=True)
    await s.advance_to("11-16 09:50")  # the window closed missed at 09:35 (09:30 + grace)
    await s.scan("hall-a", "T-HA", made_at="11-16 09:20")  # the phone was offline until now
    await s.advance_to("11-16 12:00")
    assert s.notified() == [
        ("Mon 11-16 09:35", "sso-a", "policy"),
        ("Mon 11-16 09:35", "sso-b", "policy"),
    ]
    (row,) = await s.alert_rows("check_missed:hall-a")
    assert row["status"] == "resolved"


async def test_a_scan_made_in_the_grace_and_delivered_late_counts_too(scenario: Start) -> None:
    s = await scenario(tiny([CHECKS], [HALL_0900]), "2026-11-16 08:00", patrol=True)
    await s.advance_to("11-16 09:40")
    await s.scan("hall-a", "T-HA", made_at="11-16 09:33")  # late, inside the 5-min grace
    await s.advance_to("11-16 12:00")
    assert s.notified() == [
        ("Mon 11-16 09:35", "sso-a", "policy"),
        ("Mon 11-16 09:35", "sso-b", "policy"),
    ]
    (row,) = await s.alert_rows("check_missed:hall-a")
    assert row["status"] == "resolved"


async def test_the_suite_started_at_noon_alerts_nobody_about_the_morning(scenario: Start) -> None:
    s = await scenario(tiny([CHECKS], [HALL_0900, HALL_1300]), "2026-11-16 12:00", patrol=True)
    await s.advance_to("11-16 14:10")
    assert s.notified() == [
        ("Mon 11-16 13:35", "sso-a", "policy"),
        ("Mon 11-16 13:35", "sso-b", "policy"),
        ("Mon 11-16 14:05", "ap-b", "policy"),
    ]


async def test_missed_checks_on_two_days_are_two_alerts_each_ending_at_the_last_bell(
    scenario: Start,
) -> None:
    one_step = policy("checks", [step("sso-a")], ["check_missed"])
    s = await scenario(tiny([one_step], [HALL_0900]), "2026-11-16 08:00", patrol=True)
    await s.advance_to("11-16 14:29")
    assert [r["status"] for r in await s.alert_rows("check_missed:hall-a")] == ["open"]
    await s.advance_to("11-17 12:00")
    assert s.notified() == [
        ("Mon 11-16 09:35", "sso-a", "policy"),
        ("Tue 11-17 09:35", "sso-a", "policy"),
    ]
    assert [r["status"] for r in await s.alert_rows("check_missed:hall-a")] == ["resolved", "open"]


async def test_a_missed_follow_up_is_resolved_when_the_follow_up_is_done(scenario: Start) -> None:
    doc = tiny(
        [
            policy(
                "follow-ups",
                [step("sso-a"), step("assistant_principal", delay=60)],
                ["follow_up_missed"],
            ),
            policy("concerns", [step("assistant_principal")]),
        ]
    )
    s = await scenario(doc, "2026-11-16 10:00", patrol=True)
    cid = await s.concern("emotional_distress", "medium")
    await s.advance_to("11-16 10:30")
    await s.resolve_concern(cid, follow_up_days=1)  # by sso-a: check back on Tuesday
    await s.advance_to("11-17 14:45")  # Tuesday's last bell (14:30) passed without it
    await s.contact(cid)
    await s.advance_to("11-17 17:00")
    assert s.notified() == [
        ("Mon 11-16 10:00", "ap-b", "policy"),
        ("Tue 11-17 14:30", "sso-a", "policy"),
    ]
    (row,) = await s.alert_rows("follow_up_missed:")
    assert row["status"] == "resolved"


async def test_a_phone_back_before_the_first_bell_alerts_nobody(scenario: Start) -> None:
    s = await scenario(tiny([LONE_WORKER]), "2026-11-16 06:30", patrol=True)
    await s.phone_heartbeat("sso-a")  # silent from 06:40: outside school hours
    for back in ("07:05", "07:10", "07:15", "07:20", "07:25", "07:30"):
        await s.advance_to(f"11-16 {back}")
        await s.phone_heartbeat("sso-a")
    await s.advance_to("11-16 07:39")
    assert s.notified() == []


async def test_a_missed_check_stays_open_while_another_window_of_the_day_is_missed(
    scenario: Start,
) -> None:
    hall_1000 = {"zones": ["hall-a"], "window": "10:00-10:30", "grace_minutes": 5}
    one_step = policy("checks", [step("sso-a")], ["check_missed"])
    s = await scenario(tiny([one_step], [HALL_0900, hall_1000]), "2026-11-16 08:00", patrol=True)
    await s.advance_to("11-16 10:50")  # both windows missed (09:35, 10:35)
    await s.scan("hall-a", "T-HA", made_at="11-16 09:10")
    await s.advance_to("11-16 10:52")
    assert [r["status"] for r in await s.alert_rows("check_missed:hall-a")] == ["open"]
    await s.scan("hall-a", "T-HA", made_at="11-16 10:20")
    await s.advance_to("11-16 11:00")
    assert [r["status"] for r in await s.alert_rows("check_missed:hall-a")] == ["resolved"]
    # The 10:35 miss is a repeat of the 09:35 alert, which had done its only step (exhausted):
    # it notifies again from step 0.
    assert s.notified() == [
        ("Mon 11-16 09:35", "sso-a", "policy"),
        ("Mon 11-16 10:35", "sso-a", "policy"),
    ]
