"""Nobody reachable (issue 12, item 1): a high or critical alert is never held — it goes to the
school's on-call people on duty at once, or to every target of its policy flagged
`nobody_on_duty`; a low or medium one is held to the next moment someone is reachable (never
more than 24 h ahead), or unroutable and re-checked daily. Never left without a timer.

Calendar: Mon 2026-11-16 .. Fri 11-20 school days, 08:00-15:00 America/Chicago; winter break
Mon 12-21 .. Fri 2027-01-01 (no-school days), school again Mon 2027-01-04.
"""

from __future__ import annotations

from tests.scenarios.conftest import Start
from tests.scenarios.harness import ALL_WEEK, person, policy, school, step

SSO = person("sso-a", "sso", hours="07:00-16:00")
AP = person("ap-b", "assistant_principal")
PRINCIPAL = person("pr-c", "principal", hours="07:00-16:00")
LEE = person("district-lee", "district_safety", days=ALL_WEEK, no_school_days=True)
WINTER_BREAK = [f"2026-12-{d}" for d in range(21, 32)] + ["2027-01-01"]

# Both school leaders in one step that applies only in school hours.
SCHOOL_HOURS_ONLY = policy(
    "weapons", [step("sso", "principal", when="school_hours")], ["weapon", "intruder"]
)


async def test_friday_evening_weapon_goes_to_on_call_at_once(scenario: Start) -> None:
    s = await scenario(school([SSO, PRINCIPAL, LEE], [SCHOOL_HOURS_ONLY]), "2026-11-20 18:00")
    await s.advance_to("11-20 19:00")
    await s.concern("weapon", "high")
    await s.advance_to("11-23 09:00")
    # The only step was "fired" by the safety net: the policy is done, not held to Monday.
    assert s.notified() == [("Fri 11-20 19:00", "district-lee", "on_call")]


async def test_weapon_on_the_last_school_day_before_winter_break_goes_to_on_call(
    scenario: Start,
) -> None:
    doc = school([SSO, PRINCIPAL, LEE], [SCHOOL_HOURS_ONLY], no_school_days=WINTER_BREAK)
    s = await scenario(doc, "2026-12-18 18:00")
    await s.advance_to("12-18 19:00")
    await s.concern("weapon", "high")
    await s.advance_to("12-22 09:00")
    assert s.notified() == [("Fri 12-18 19:00", "district-lee", "on_call")]
    (alert,) = await s.summaries()
    assert alert.routing.value not in ("held", "unroutable")


async def test_nobody_on_duty_tells_every_target_of_the_policy(scenario: Start) -> None:
    weekday_lee = person("district-lee", "district_safety", hours="07:00-17:00")
    s = await scenario(
        school([SSO, PRINCIPAL, weekday_lee], [SCHOOL_HOURS_ONLY]), "2026-11-21 09:00"
    )
    await s.advance_to("11-21 10:00")  # a Saturday: nobody works
    await s.concern("intruder", "critical")
    await s.advance_to("11-23 09:00")
    assert s.notified() == [
        ("Sat 11-21 10:00", "pr-c", "nobody_on_duty"),
        ("Sat 11-21 10:00", "sso-a", "nobody_on_duty"),
    ]


async def test_on_call_may_name_a_person_and_each_pass_is_walked_again(scenario: Start) -> None:
    # One school-hours step, repeat 2: gap 1 min (no delay is longer). Each pass finds nobody
    # and goes to the on-call person on duty at that moment.
    night = person("night-d", "counselor", days=ALL_WEEK)
    doc = school(
        [SSO, PRINCIPAL, LEE, night],
        [policy("weapons", [step("sso", when="school_hours")], ["weapon"], repeat=2)],
        on_call=["night-d"],
    )
    s = await scenario(doc, "2026-11-21 10:00")
    await s.concern("weapon", "high")
    await s.advance_to("11-23 09:00")
    assert s.notified() == [
        ("Sat 11-21 10:00", "night-d", "on_call"),
        ("Sat 11-21 10:01", "night-d", "on_call"),
        ("Sat 11-21 10:02", "night-d", "on_call"),
    ]


async def test_high_alert_goes_on_with_the_step_after_the_safety_net(scenario: Start) -> None:
    # 16:30: the school-hours step and the principal (on duty from 16:45) reach nobody, the
    # on-call person is told, and the escalation goes on as if step 1 had fired: the
    # principal's step is due its 20 min later.
    steps = [step("sso", when="school_hours"), step("principal", delay=20, when="always")]
    late_pr = person("pr-c", "principal", hours="16:45-22:00")
    doc = school([SSO, late_pr, LEE], [policy("conflicts", steps, ["conflict"])])
    s = await scenario(doc, "2026-11-16 16:30")
    await s.concern("conflict", "high")
    await s.advance_to("11-16 19:00")
    assert s.notified() == [
        ("Mon 11-16 16:30", "district-lee", "on_call"),
        ("Mon 11-16 16:50", "pr-c", "policy"),
    ]


async def test_low_alert_after_hours_is_held_to_the_first_bell(scenario: Start) -> None:
    doc = school([AP], [policy("day", [step("assistant_principal", when="school_hours")])])
    s = await scenario(doc, "2026-11-16 16:00")
    await s.concern("vaping", "low")
    (alert,) = await s.summaries()
    assert (alert.routing.value, s.at(alert.next_step_at)) == ("held", "Tue 11-17 08:00")
    await s.advance_to("11-17 12:00")
    assert s.notified() == [("Tue 11-17 08:00", "ap-b", "policy")]


async def test_medium_alert_over_a_weekend_is_rechecked_within_a_day(scenario: Start) -> None:
    doc = school([AP], [policy("day", [step("assistant_principal", when="school_hours")])])
    s = await scenario(doc, "2026-11-20 16:00")
    await s.concern("bullying", "medium")
    (alert,) = await s.summaries()
    assert alert.routing.value == "held"
    assert alert.next_step_at is not None
    assert alert.next_step_at <= s.when("11-21 16:00")  # not Monday: at most 24 h ahead
    await s.advance_to("11-23 12:00")
    assert s.notified() == [("Mon 11-23 08:00", "ap-b", "policy")]


async def test_low_alert_is_held_until_duty_hours_begin(scenario: Start) -> None:
    late_ap = person("ap-b", "assistant_principal", hours="09:30-14:00")
    s = await scenario(
        school([late_ap], [policy("ap", [step("assistant_principal")])]), "2026-11-16 08:10"
    )
    await s.concern("vaping", "low")
    await s.advance_to("11-16 12:00")
    assert s.notified() == [("Mon 11-16 09:30", "ap-b", "policy")]


async def test_held_alert_restarts_its_walk_at_the_step_that_was_due(scenario: Start) -> None:
    sso = person("sso-a", "sso", hours="07:00-15:00")
    ap = person("ap-b", "assistant_principal", hours="08:00-15:00")
    steps = [step("sso"), step("assistant_principal", delay=60)]
    s = await scenario(school([sso, ap], [policy("pair", steps, repeat=1)]), "2026-11-16 14:30")
    await s.concern("vaping", "low")
    await s.advance_to("11-17 12:00")
    # 15:30 Mon: AP off duty, then pass 2's SSO step too: held. Tue 07:00 (SSO's duty begins):
    # the AP step that was due is still off duty, pass 2's SSO step fires; the AP at 08:00.
    assert s.notified() == [
        ("Mon 11-16 14:30", "sso-a", "policy"),
        ("Tue 11-17 07:00", "sso-a", "policy"),
        ("Tue 11-17 08:00", "ap-b", "policy"),
    ]


async def test_unroutable_alert_is_rechecked_daily_until_someone_is_reachable(
    scenario: Start,
) -> None:
    # School closed for three weeks: the AP (school hours only) is next reachable Mon 12-07,
    # beyond the 14-day horizon on Mon 11-16.
    closed = [f"2026-11-{d}" for d in range(17, 31)] + [f"2026-12-0{d}" for d in range(1, 5)]
    doc = school(
        [AP],
        [policy("day", [step("assistant_principal", when="school_hours")])],
        no_school_days=closed,
    )
    s = await scenario(doc, "2026-11-16 16:00")
    await s.concern("vaping", "low")
    (alert,) = await s.summaries()
    assert (alert.routing.value, s.at(alert.next_step_at)) == ("unroutable", "Tue 11-17 16:00")
    await s.advance_to("12-07 12:00")
    assert s.notified() == [("Mon 12-07 08:00", "ap-b", "policy")]
