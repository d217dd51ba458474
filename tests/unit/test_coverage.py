"""`lookout check school`'s rules: every expected finding below is worked out by hand from the
school written next to it (bell 08:00-15:00 Mon-Fri, America/Chicago, unless said otherwise).

Each small school has a backstop policy last (an always-on-duty desk) so that only the policy
under test, `p`, which catches weapon/high, has findings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lookout.contracts.alerts import NotificationRoute
from lookout.contracts.patrol import Severity
from lookout.kernel.settings import EXAMPLE_SCHOOL, load_school
from lookout.school.config import SchoolConfig
from lookout.school.coverage import (
    FALLBACK_POLICY,
    Calendar,
    Reach,
    alert_kinds,
    calendar_for,
    check_school,
    log_coverage_gaps,
    policy_for,
    reaches,
)

CHICAGO = ZoneInfo("America/Chicago")
WEAPON_HIGH = "weapon and its follow_up_missed (high)"
GAP = "reaches nobody within 15 minutes"

DESK = {
    "id": "night-desk",
    "name": "Night Desk",
    "roles": ["admin"],
    "on_duty": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "on_duty_no_school_days": True,
}
BACKSTOP = {"name": "backstop", "categories": ["*"], "steps": [{"targets": ["night-desk"],
            "delay_minutes": 0}]}  # fmt: skip
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def person(pid: str, role: str, **duty: Any) -> dict[str, Any]:
    return {"id": pid, "name": pid.title(), "roles": [role], **duty}


def policy(*steps: dict[str, Any], repeat: int = 0) -> dict[str, Any]:
    return {"name": "p", "categories": ["weapon"], "severities": ["high"], "steps": list(steps),
            "repeat": repeat}  # fmt: skip


def school(
    people: list[dict[str, Any]],
    policies: list[dict[str, Any]],
    no_school_days: Sequence[str] = (),
) -> SchoolConfig:
    return SchoolConfig.model_validate(
        {
            "id": "tst",
            "name": "Test School",
            "timezone": "America/Chicago",
            "student_count": 100,
            "zones": [{"id": "gym", "name": "Gym", "kind": "gym", "checkpoints": ["T-GYM"]}],
            "bell_schedule": {
                "periods": [{"name": "day", "kind": "class", "start": "08:00", "end": "15:00"}],
                "no_school_days": list(no_school_days),
            },
            "people": [*people, DESK],
            "escalation_policies": [*policies, BACKSTOP],
        }
    )


def lines(config: SchoolConfig, name: str = "p") -> list[str]:
    return [f.line() for f in check_school(config).findings if f.policy == name]


def test_a_school_hours_only_policy_leaves_every_evening_and_the_weekend() -> None:
    config = school(
        [person("sso-a", "sso", on_duty=EVERY_DAY)],
        [policy({"targets": ["sso"], "delay_minutes": 0, "when": "school_hours"})],
    )
    assert lines(config) == [
        f"ERROR  Mon 15:00-Tue 08:00: {WEAPON_HIGH} -> policy p: {GAP}",
        f"ERROR  Tue 15:00-Wed 08:00: {WEAPON_HIGH} -> policy p: {GAP}",
        f"ERROR  Wed 15:00-Thu 08:00: {WEAPON_HIGH} -> policy p: {GAP}",
        f"ERROR  Thu 15:00-Fri 08:00: {WEAPON_HIGH} -> policy p: {GAP}",
        f"ERROR  Fri 15:00-Mon 08:00: {WEAPON_HIGH} -> policy p: {GAP}",
    ]


def test_duty_hours_leave_a_gap_and_a_slot_counts_if_any_minute_of_it_is_uncovered() -> None:
    # On duty 07:10-16:05: an alert at 07:00-07:09 or 16:05-16:14 reaches nobody, so the whole
    # 07:00 and 16:00 slots are gaps.
    config = school(
        [person("sso-a", "sso", duty_hours="07:10-16:05")],
        [policy({"targets": ["sso"], "delay_minutes": 0})],
    )
    assert lines(config) == [
        f"ERROR  Mon 16:00-Tue 07:15: {WEAPON_HIGH} -> policy p: {GAP}",
        f"ERROR  Tue 16:00-Wed 07:15: {WEAPON_HIGH} -> policy p: {GAP}",
        f"ERROR  Wed 16:00-Thu 07:15: {WEAPON_HIGH} -> policy p: {GAP}",
        f"ERROR  Thu 16:00-Fri 07:15: {WEAPON_HIGH} -> policy p: {GAP}",
        f"ERROR  Fri 16:00-Mon 07:15: {WEAPON_HIGH} -> policy p: {GAP}",
    ]


def test_a_weekday_roster_leaves_the_weekend() -> None:
    config = school(
        [person("sso-a", "sso")],  # on duty Mon-Fri, all day
        [policy({"targets": ["sso"], "delay_minutes": 0})],
    )
    assert lines(config) == [f"ERROR  Sat 00:00-Sun 24:00: {WEAPON_HIGH} -> policy p: {GAP}"]


def test_a_no_school_day_is_a_gap_unless_someone_on_call_works_it() -> None:
    # Thursday 2026-01-15 is a no-school day; the officer works every day but not those.
    officer = person("sso-a", "sso", on_duty=EVERY_DAY)
    alone = school([officer], [policy({"targets": ["sso"], "delay_minutes": 0})], ["2026-01-15"])
    assert lines(alone) == [f"ERROR  no-school day 00:00-24:00: {WEAPON_HIGH} -> policy p: {GAP}"]
    assert check_school(alone).calendar == Calendar(
        week_of=date(2026, 1, 19), no_school_day=date(2026, 1, 15), before_break=date(2026, 1, 14)
    )
    # A district officer (every day, no-school days too) as the next step: tried at once when
    # the officer's step is skipped, without waiting its 5 minutes.
    district = person(
        "district-a", "district_safety", on_duty=EVERY_DAY, on_duty_no_school_days=True
    )
    covered = school(
        [officer, district],
        [
            policy(
                {"targets": ["sso"], "delay_minutes": 0},
                {"targets": ["district_safety"], "delay_minutes": 5},
            )
        ],
        ["2026-01-15"],
    )
    assert lines(covered) == []


def test_the_day_before_a_break_spills_into_the_break() -> None:
    # Step 0 waits 10 minutes: an alert at 23:50-23:59 on Wed 2026-01-14 is due on the no-school
    # Thursday, when the officer is off. On a normal Wednesday it reaches her at 00:00-00:09.
    config = school(
        [person("sso-a", "sso", on_duty=EVERY_DAY)],
        [policy({"targets": ["sso"], "delay_minutes": 10})],
        ["2026-01-15"],
    )
    assert lines(config) == [
        f"ERROR  no-school day 00:00-24:00: {WEAPON_HIGH} -> policy p: {GAP}",
        f"ERROR  day before a break 23:45-24:00: {WEAPON_HIGH} -> policy p: {GAP}",
    ]


def test_a_policy_whose_last_step_is_skipped_when_due() -> None:
    # The officer is always on duty; the principal's step, an hour later, only in school hours
    # (08:00-15:00 Mon-Fri): opened from 14:00, or before 07:00, it comes due outside them.
    config = school(
        [person("sso-a", "sso", on_duty=EVERY_DAY), person("principal-a", "principal")],
        [
            policy(
                {"targets": ["sso"], "delay_minutes": 0},
                {"targets": ["principal"], "delay_minutes": 60, "when": "school_hours"},
            )
        ],
    )
    assert lines(config) == [
        f"ERROR  policy p ({WEAPON_HIGH}): never reaches its last step (principal, school "
        "hours), skipped at its due time, for alerts opened Mon 14:00-Tue 07:00, "
        "Tue 14:00-Wed 07:00, Wed 14:00-Thu 07:00, Thu 14:00-Fri 07:00, Fri 14:00-Mon 07:00"
    ]


@pytest.mark.parametrize(("delay", "expected"), [(15, []), (16, ["all week"]), (20, ["all week"])])
def test_a_first_step_later_than_15_minutes_is_a_gap(delay: int, expected: list[str]) -> None:
    config = school(
        [person("sso-a", "sso", on_duty=EVERY_DAY)],
        [policy({"targets": ["sso"], "delay_minutes": delay})],
    )
    assert lines(config) == [f"ERROR  {w}: {WEAPON_HIGH} -> policy p: {GAP}" for w in expected]


def test_low_and_medium_gaps_are_notices() -> None:
    config = school(
        [person("sso-a", "sso")],
        [{"name": "p", "categories": ["vaping"], "severities": ["low", "medium"],
          "steps": [{"targets": ["sso"], "delay_minutes": 0}]}],
    )  # fmt: skip
    assert lines(config) == [
        "notice Sat 00:00-Sun 24:00: vaping and its follow_up_missed (low, medium) -> policy p: "
        f"{GAP}"
    ]
    assert check_school(config).errors == ()


def test_the_shipped_example_school_has_no_error() -> None:
    report = check_school(load_school(EXAMPLE_SCHOOL))
    assert report.errors == ()


# The example school as it was before the escalation work (commit 5e388da^): its roster and
# policies; the bell runs 07:15-15:45 (only the first and last bell matter here).
ORIGINAL: dict[str, Any] = {
    "id": "lhs",
    "name": "Lakeside High School",
    "timezone": "America/Chicago",
    "student_count": 912,
    "zones": [{"id": "gym", "name": "Gymnasium", "kind": "gym", "checkpoints": ["T-GYM"]}],
    "bell_schedule": {
        "periods": [
            {"name": "before-school", "kind": "before_school", "start": "07:15", "end": "07:45"},
            {"name": "p1", "kind": "class", "start": "07:45", "end": "15:17"},
            {"name": "after-school", "kind": "after_school", "start": "15:17", "end": "15:45"},
        ],
        "no_school_days": ["2026-11-26", "2026-11-27", "2026-12-21", "2026-12-22"],
    },
    "people": [
        {"id": "sso-rivera", "name": "Dana Rivera", "roles": ["sso"], "duty_hours": "07:00-16:00"},
        {"id": "ap-chen", "name": "Morgan Chen", "roles": ["assistant_principal"],
         "duty_hours": "06:45-17:30"},
        {"id": "principal-okafor", "name": "Ada Okafor", "roles": ["principal"]},
        {"id": "counselor-patel", "name": "Ravi Patel", "roles": ["counselor"],
         "duty_hours": "07:30-16:00"},
        {"id": "district-lee", "name": "Sam Lee", "roles": ["district_safety"],
         "on_duty": EVERY_DAY, "on_duty_no_school_days": True},
        {"id": "office-garcia", "name": "Luz Garcia", "roles": ["front_office"]},
    ],
    "escalation_policies": [
        {"name": "critical", "categories": ["*"], "severities": ["critical"],
         "steps": [{"targets": ["principal", "sso"], "delay_minutes": 0},
                   {"targets": ["district_safety"], "delay_minutes": 10}],
         "repeat": 2, "ack_timeout_minutes": 30},
        {"name": "student-wellbeing", "categories": ["self_harm_risk", "emotional_distress",
                                                      "bullying"],
         "severities": ["medium", "high"],
         "steps": [{"targets": ["counselor"], "delay_minutes": 0, "when": "school_hours"},
                   {"targets": ["assistant_principal"], "delay_minutes": 15},
                   {"targets": ["principal"], "delay_minutes": 30}],
         "repeat": 1, "ack_timeout_minutes": 60},
        {"name": "default", "categories": ["*"], "severities": ["low", "medium", "high"],
         "steps": [{"targets": ["sso"], "delay_minutes": 0},
                   {"targets": ["assistant_principal"], "delay_minutes": 30},
                   {"targets": ["principal"], "delay_minutes": 60, "when": "school_hours"}],
         "repeat": 0, "ack_timeout_minutes": 120},
    ],
}  # fmt: skip
DEFAULT_HIGH = (
    "any concern category but bullying, emotional_distress, self_harm_risk and their "
    "follow_up_missed, heartbeat_missed, screening_flagged, visitor_out_of_bounds (high)"
)
# The SSO's own lone-worker alarm cannot count her as reached: it starts with the AP.
DEFAULT_HIGH_BUT_LONE_WORKER = (
    "any concern category but bullying, emotional_distress, self_harm_risk and their "
    "follow_up_missed, screening_flagged, visitor_out_of_bounds (high)"
)
WELLBEING_HIGH = "bullying, emotional_distress, self_harm_risk and their follow_up_missed (high)"


def test_the_original_example_school_leaves_friday_evening_and_the_principal() -> None:
    report = check_school(SchoolConfig.model_validate(ORIGINAL))
    assert report.calendar == Calendar(
        week_of=date(2026, 11, 30),
        no_school_day=date(2026, 11, 26),
        before_break=date(2026, 11, 25),
    )
    # weapon/high on Friday at 19:00: the SSO is off at 16:00, the AP at 17:30, and the
    # principal's step applies in school hours only, until Monday 06:45 when the AP starts.
    assert [f.line() for f in report.errors] == [
        f"ERROR  Mon 17:30-Tue 06:45: {DEFAULT_HIGH} -> policy default: {GAP}",
        f"ERROR  Tue 17:30-Wed 06:45: {DEFAULT_HIGH} -> policy default: {GAP}",
        f"ERROR  Wed 17:30-Thu 06:45: {DEFAULT_HIGH} -> policy default: {GAP}",
        f"ERROR  Thu 17:30-Fri 06:45: {DEFAULT_HIGH} -> policy default: {GAP}",
        f"ERROR  Fri 17:30-Mon 06:45: {DEFAULT_HIGH} -> policy default: {GAP}",
        f"ERROR  no-school day 00:00-24:00: {DEFAULT_HIGH} -> policy default: {GAP}",
        # wellbeing: the principal is on duty all day on weekdays, nobody at the weekend
        f"ERROR  Sat 00:00-Sun 24:00: {WELLBEING_HIGH} -> policy student-wellbeing: {GAP}",
        f"ERROR  no-school day 00:00-24:00: {WELLBEING_HIGH} -> policy student-wellbeing: {GAP}",
        # the principal comes 90 minutes after the SSO (60 after the AP from 16:00): due after
        # the 15:45 bell for alerts opened from 14:15 until the AP goes home at 17:30
        f"ERROR  policy default ({DEFAULT_HIGH_BUT_LONE_WORKER}): never reaches its last step "
        "(principal, school hours), skipped at its due time, for alerts opened Mon 14:15-17:30, "
        "Tue 14:15-17:30, Wed 14:15-17:30, Thu 14:15-17:30, Fri 14:15-17:30",
        # the SSO's silent phone goes to the AP first: the principal 60 minutes after the alarm
        "ERROR  policy default (heartbeat_missed (high)): never reaches its last step "
        "(principal, school hours), skipped at its due time, for alerts opened Mon 14:45-17:30, "
        "Tue 14:45-17:30, Wed 14:45-17:30, Thu 14:45-17:30, Fri 14:45-17:30",
    ]


def test_the_original_conflict_at_half_past_three_reaches_the_sso_but_never_the_principal() -> None:
    config = SchoolConfig.model_validate(ORIGINAL)
    default = config.escalation_policies[2]
    monday = datetime(2026, 11, 30, 15, 30, tzinfo=CHICAGO)
    friday_evening = datetime(2026, 12, 4, 19, 0, tzinfo=CHICAGO)
    assert reaches(config, default, [monday, friday_evening]) == [
        Reach(first_at=monday, people=("sso-rivera",), misses_last_step=True),
        Reach(first_at=None, people=(), misses_last_step=False),
    ]


def test_log_coverage_gaps_warns_once_per_error_without_student_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.coverage")
    shipped = load_school(EXAMPLE_SCHOOL)
    original = SchoolConfig.model_validate({**ORIGINAL, "id": "old"})
    with caplog.at_level(logging.WARNING, logger="test.coverage"):
        assert log_coverage_gaps({"lhs": shipped, "old": original}, logger) == 10
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 10
    assert messages[4] == (
        "event=coverage_gap school=old problem=reaches_nobody_within_15_minutes policy=default "
        f'kinds="{DEFAULT_HIGH}" when="Fri 17:30-Mon 06:45"'
    )
    assert messages[8] == (
        "event=coverage_gap school=old problem=ends_on_a_skipped_step policy=default "
        f'kinds="{DEFAULT_HIGH_BUT_LONE_WORKER}" when="Mon 14:15-17:30, Tue 14:15-17:30, '
        'Wed 14:15-17:30, Thu 14:15-17:30, Fri 14:15-17:30" last_step="principal, school hours"'
    )


# --- the walk against the alerts engine ---------------------------------------------------------


def engine_walk(
    config: SchoolConfig, policy: Any, opened: datetime, about: str | None = None
) -> Reach:
    """Drive services.alerts.domain as the escalation ticker does: fire at each due time, until
    it exhausts the policy or holds the alert (fired as a low alert: a high or critical one would
    go to the on-call safety net instead, which is no step of the policy)."""
    from services.alerts import domain

    snapshot = domain.PolicySnapshot.of(policy)
    steps = len(snapshot.steps)
    state = domain.opened(snapshot, opened)
    first: tuple[datetime, tuple[str, ...]] | None = None
    last_fired = False
    for _ in range(100):
        now = state.next_step_at
        if now is None:
            break
        outcome = domain.fire(config, snapshot, state, now, severity=Severity.LOW, about=about)
        for action in outcome.actions:
            if isinstance(action, domain.Fired) and action.route is NotificationRoute.POLICY:
                if first is None:
                    first = (now, tuple(p.id for p in action.notified))
                last_fired = last_fired or action.step == steps - 1
        if outcome.held_until is not None or outcome.unroutable or outcome.exhausted:
            break
        state = outcome.state
    if first is None:
        return Reach(None, (), False)
    return Reach(first[0].astimezone(config.tz), first[1], not last_fired)


@pytest.mark.parametrize("which", ["shipped", "original"])
def test_the_walk_matches_the_alerts_engine_over_a_week(which: str) -> None:
    from services.alerts import domain

    config = (
        load_school(EXAMPLE_SCHOOL) if which == "shipped" else SchoolConfig.model_validate(ORIGINAL)
    )
    # Routing: the same policy as the engine's choose_policy for every kind of alert.
    for route in alert_kinds():
        seed = domain.AlertSeed("k", domain.AlertSource.CONCERN, "x", route.severity, None,
                                route.match)  # fmt: skip
        assert domain.choose_policy(config, seed).name == policy_for(config, route).name, route
    # Every 15 minutes of a normal week and of a no-school day, in UTC as the service's clock.
    monday = datetime(2026, 11, 30, tzinfo=CHICAGO).astimezone(UTC)
    no_school = datetime(2026, 11, 26, tzinfo=CHICAGO).astimezone(UTC)
    moments = [monday + timedelta(minutes=15 * n) for n in range(7 * 96)]
    moments += [no_school + timedelta(minutes=15 * n) for n in range(96)]
    # Every policy; and the lone-worker alarm's, about the SSO whose phone went silent.
    lone_worker = next(r for r in alert_kinds() if r.label == "heartbeat_missed")
    walks: list[tuple[Any, str | None]] = [(p, None) for p in config.escalation_policies]
    walks += [(FALLBACK_POLICY, None), (policy_for(config, lone_worker), "sso-rivera")]
    compared = 0
    for policy, about in walks:
        mine = reaches(config, policy, moments, about)
        for moment, reach in zip(moments, mine, strict=True):
            assert reach == engine_walk(config, policy, moment, about), (policy.name, moment)
            compared += 1
    assert compared == (len(config.escalation_policies) + 2) * 8 * 96


def test_the_calendar_takes_the_last_school_day_before_a_break_across_a_weekend() -> None:
    officer = person("sso-a", "sso")
    # Winter break from Monday 2026-12-21: its eve is Friday 2026-12-18. The normal week is the
    # first from the week of the first no-school day with none in it (nor in the Monday and
    # Tuesday after): not 2026-12-21, which has three, but 2026-12-28.
    winter = school([officer], [], ["2026-12-21", "2026-12-22", "2026-12-26"])
    assert calendar_for(winter) == Calendar(
        week_of=date(2026, 12, 28),
        no_school_day=date(2026, 12, 21),
        before_break=date(2026, 12, 18),
    )
    # A Saturday off is no break (and its week is not a normal one); with no no-school day at
    # all, the week of 2026-01-05.
    assert calendar_for(school([officer], [], ["2026-12-26"])) == Calendar(
        week_of=date(2026, 12, 28), no_school_day=None, before_break=None
    )
    assert calendar_for(school([officer], [])) == Calendar(
        week_of=date(2026, 1, 5), no_school_day=None, before_break=None
    )


def test_a_lone_worker_alarm_never_counts_the_silent_officer_as_reached() -> None:
    lone = {"name": "p", "categories": ["heartbeat_missed"], "severities": ["high"],
            "steps": [{"targets": ["sso"], "delay_minutes": 0}]}  # fmt: skip
    alone = school([person("sso-a", "sso", on_duty=EVERY_DAY)], [lone])
    assert lines(alone) == [f"ERROR  all week: heartbeat_missed (high) -> policy p: {GAP}"]
    # With two officers on duty, whichever phone goes silent, the other officer hears of it.
    two = school(
        [person("sso-a", "sso", on_duty=EVERY_DAY), person("sso-b", "sso", on_duty=EVERY_DAY)],
        [lone],
    )
    assert lines(two) == []
    monday = datetime(2026, 1, 5, 9, 0, tzinfo=CHICAGO)
    assert reaches(two, two.escalation_policies[0], [monday], about="sso-a") == [
        Reach(first_at=monday, people=("sso-b",), misses_last_step=False)
    ]
