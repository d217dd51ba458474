"""The calendar: DST in America/Chicago (2026-11-01 02:00 CDT -> 01:00 CST, 2027-03-14
02:00 CST -> 03:00 CDT): step delays are real minutes, school hours are local; no-school days
(only `on_duty_no_school_days` people work, and they count as after hours); the day before a
break. School hours 08:00-15:00 local; times below carry the zone's abbreviation where DST
makes it matter.
"""

from __future__ import annotations

from tests.scenarios.conftest import Start
from tests.scenarios.harness import ALL_WEEK, person, policy, school, step

AP = person("ap-b", "assistant_principal")
NIGHT = person("night-d", "counselor", days=ALL_WEEK, no_school_days=True)
LEE = person("district-lee", "district_safety", days=ALL_WEEK, no_school_days=True)
SSO = person("sso-a", "sso")
DAY_ONLY = policy("day", [step("assistant_principal", when="school_hours")])


async def test_steps_across_the_fall_back_hour_are_real_minutes(scenario: Start) -> None:
    steps = [step("counselor"), step("district_safety", delay=60), step("counselor", delay=60)]
    s = await scenario(school([NIGHT, LEE], [policy("night", steps)]), "2026-11-01 00:30")
    await s.concern("emotional_distress", "medium")
    await s.advance_to("11-01 06:00")
    # 01:30 happens twice that night: once in CDT, an hour later once more in CST.
    assert s.notified(zone=True) == [
        ("Sun 11-01 00:30 CDT", "night-d", "policy"),
        ("Sun 11-01 01:30 CDT", "district-lee", "policy"),
        ("Sun 11-01 01:30 CST", "night-d", "policy"),
    ]


async def test_a_three_hour_delay_across_the_fall_back(scenario: Start) -> None:
    steps = [step("counselor"), step("district_safety", delay=180)]
    s = await scenario(school([NIGHT, LEE], [policy("night", steps)]), "2026-11-01 00:30")
    await s.concern("emotional_distress", "medium")
    await s.advance_to("11-01 06:00")
    assert s.notified(zone=True) == [
        ("Sun 11-01 00:30 CDT", "night-d", "policy"),
        ("Sun 11-01 02:30 CST", "district-lee", "policy"),
    ]


async def test_a_step_across_the_spring_forward_gap(scenario: Start) -> None:
    steps = [step("counselor"), step("district_safety", delay=60)]
    doc = school([NIGHT, LEE], [policy("night", steps)])
    s = await scenario(doc, "2027-03-14 01:30")
    await s.concern("emotional_distress", "medium")
    await s.advance_to("03-14 06:00")
    assert s.notified(zone=True) == [
        ("Sun 03-14 01:30 CST", "night-d", "policy"),
        ("Sun 03-14 03:30 CDT", "district-lee", "policy"),
    ]


async def test_held_over_the_fall_back_weekend_to_the_local_first_bell(scenario: Start) -> None:
    s = await scenario(school([AP], [DAY_ONLY]), "2026-10-30 16:00")
    await s.concern("vaping", "low")
    await s.advance_to("11-02 12:00")
    assert s.notified(zone=True) == [("Mon 11-02 08:00 CST", "ap-b", "policy")]


async def test_held_over_the_spring_forward_weekend_to_the_local_first_bell(
    scenario: Start,
) -> None:
    s = await scenario(school([AP], [DAY_ONLY]), "2027-03-12 16:00")
    await s.concern("vaping", "low")
    await s.advance_to("03-15 12:00")
    assert s.notified(zone=True) == [("Mon 03-15 08:00 CDT", "ap-b", "policy")]


async def test_duty_hours_are_local_after_the_fall_back(scenario: Start) -> None:
    early = person("ap-b", "assistant_principal", hours="07:30-12:00")
    s = await scenario(
        school([early], [policy("ap", [step("assistant_principal")])]), "2026-11-02 06:00"
    )
    await s.concern("vaping", "low")
    await s.advance_to("11-02 12:00")
    assert s.notified(zone=True) == [("Mon 11-02 07:30 CST", "ap-b", "policy")]


async def test_no_school_day_only_no_school_day_staff_are_on_duty(scenario: Start) -> None:
    doc = school(
        [SSO, AP, LEE],
        [policy("all", [step("sso", "assistant_principal", "district_safety")])],
        no_school_days=["2026-11-25"],
    )
    s = await scenario(doc, "2026-11-25 10:00")  # a Wednesday without school
    await s.concern("vaping", "low")
    await s.advance_to("11-25 12:00")
    assert s.notified() == [("Wed 11-25 10:00", "district-lee", "policy")]


async def test_a_no_school_day_counts_as_after_hours(scenario: Start) -> None:
    doc = school(
        [SSO, NIGHT],
        [
            policy(
                "split", [step("sso", when="school_hours"), step("counselor", when="after_hours")]
            )
        ],
        no_school_days=["2026-11-25"],
    )
    s = await scenario(doc, "2026-11-25 10:00")
    await s.concern("bullying", "medium")
    await s.advance_to("11-25 12:00")
    assert s.notified() == [("Wed 11-25 10:00", "night-d", "policy")]


async def test_medium_alert_on_the_day_before_winter_break_waits_for_january(
    scenario: Start,
) -> None:
    # Break: Mon 12-21 .. Fri 2027-01-01. The AP's school-hours step is next possible on Mon
    # 2027-01-04 08:00 — 16 days ahead: unroutable at first, re-checked daily, never dropped.
    brk = [f"2026-12-{d}" for d in range(21, 32)] + ["2027-01-01"]
    s = await scenario(school([AP], [DAY_ONLY], no_school_days=brk), "2026-12-18 14:00")
    await s.concern("vaping", "low", zone="hall-a")
    await s.advance_to("12-18 16:00")
    await s.concern("bullying", "medium", zone="bath-b")
    (alert,) = [a for a in await s.summaries() if a.category == "bullying"]
    assert (alert.routing.value, s.at(alert.next_step_at)) == ("unroutable", "Sat 12-19 16:00")
    await s.advance_to("2027-01-04 12:00")
    assert s.notified(severity=True) == [
        ("Fri 12-18 14:00", "ap-b", "policy", "low"),
        ("Mon 01-04 08:00", "ap-b", "policy", "medium"),
    ]
