"""Confirmed day types in the school model: an early release runs its alternate bell schedule
(patrol windows, school hours for `when: school_hours` escalation steps, bell periods), a
confirmed no-school day is one exactly as a `no_school_days` date is (no windows, off duty)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from lookout.kernel.settings import EXAMPLE_SCHOOL, SchoolConfigError, load_school
from lookout.school.config import SchoolConfig, StepWhen
from lookout.school.day_types import DayKind, DayType
from lookout.school.patrol_plan import windows_for_day

BASE = load_school(EXAMPLE_SCHOOL).model_dump(mode="json")
FRI = date(2026, 12, 18)  # a Friday, a school day in the example
EARLY = DayType(DayKind.EARLY_RELEASE, "early")

# Lakeside's early release: dismissal at 11:36 (school time, Chicago, CST = UTC-6).
EARLY_PERIODS = [
    {"name": "before-school", "kind": "before_school", "start": "07:15", "end": "07:45"},
    {"name": "p1", "kind": "class", "start": "07:45", "end": "08:30"},
    {"name": "pass-1", "kind": "passing", "start": "08:30", "end": "08:37"},
    {"name": "p2", "kind": "class", "start": "08:37", "end": "09:22"},
    {"name": "pass-2", "kind": "passing", "start": "09:22", "end": "09:29"},
    {"name": "p3", "kind": "class", "start": "09:29", "end": "10:14"},
    {"name": "lunch-a", "kind": "lunch", "start": "10:14", "end": "10:44"},
    {"name": "pass-4", "kind": "passing", "start": "10:44", "end": "10:51"},
    {"name": "p4", "kind": "class", "start": "10:51", "end": "11:36"},
]


def school_with(**edits: Any) -> SchoolConfig:
    """The example school with an early-release schedule and the given top-level edits; its
    own object, so the day types set on it stay in this test."""
    data = copy.deepcopy(BASE)
    data["bell_schedule"]["alternates"] = {"early": EARLY_PERIODS}
    data.update(edits)
    return SchoolConfig.model_validate(data)


def local(day: date, hhmm: str) -> datetime:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours + 6, minutes, tzinfo=UTC)  # CST


def spans(school: SchoolConfig, day: date) -> list[tuple[str, str, str]]:
    tz = school.tz
    return [
        (
            w.zone_id,
            w.start.astimezone(tz).strftime("%H:%M"),
            w.end.astimezone(tz).strftime("%H:%M"),
        )
        for w in windows_for_day(school, day)
    ]


PLAN = [
    {"zones": ["hall-1-north"], "during": ["passing"], "grace_minutes": 2},
    {"zones": ["entrance-main"], "window": "07:15-07:45", "grace_minutes": 5},
    {"zones": ["parking-staff"], "window": "14:30-15:00", "grace_minutes": 5},
]


def test_an_early_release_plans_the_windows_of_its_own_bell_schedule() -> None:
    school = school_with(patrol_plan=PLAN)
    school.set_day_types({FRI: EARLY})
    assert spans(school, FRI) == [
        ("entrance-main", "07:15", "07:45"),
        ("hall-1-north", "08:30", "08:37"),
        ("hall-1-north", "09:22", "09:29"),
        ("hall-1-north", "10:44", "10:51"),
        # parking-staff 14:30-15:00 is after the 11:36 dismissal: not asked for.
    ]
    # The Thursday before keeps the regular bell.
    assert spans(school, FRI - timedelta(days=1)) == [
        ("entrance-main", "07:15", "07:45"),
        ("hall-1-north", "08:35", "08:42"),
        ("hall-1-north", "09:32", "09:39"),
        ("hall-1-north", "10:29", "10:36"),
        ("hall-1-north", "12:26", "12:33"),
        ("hall-1-north", "13:23", "13:30"),
        ("hall-1-north", "14:20", "14:27"),
        ("parking-staff", "14:30", "15:00"),
    ]


def test_an_early_release_ends_school_hours_at_its_last_bell_for_escalation_steps() -> None:
    school = school_with()
    school.set_day_types({FRI: EARLY})
    assert school.school_hours(FRI) == (local(FRI, "07:15"), local(FRI, "11:36"))
    noon = local(FRI, "12:00")
    assert not school.step_applies(StepWhen.SCHOOL_HOURS, noon)
    assert school.step_applies(StepWhen.AFTER_HOURS, noon)
    assert school.step_applies(StepWhen.SCHOOL_HOURS, local(FRI, "11:35"))
    # A regular Friday at noon is school hours.
    thursday_noon = local(FRI - timedelta(days=1), "12:00")
    assert school.step_applies(StepWhen.SCHOOL_HOURS, thursday_noon)


def test_an_early_release_names_its_own_periods() -> None:
    school = school_with()
    school.set_day_types({FRI: EARLY})
    assert school.period_at(local(FRI, "08:40")).name == "p2"  # type: ignore[union-attr]
    assert school.period_at(local(FRI, "11:40")) is None
    regular = school.period_at(local(FRI - timedelta(days=1), "08:40"))
    assert regular is not None and regular.name == "pass-1"


def test_a_confirmed_no_school_day_is_one_for_the_plan_and_the_duty_roster() -> None:
    school = school_with(patrol_plan=PLAN)
    school.set_day_types({FRI: DayType(DayKind.NO_SCHOOL)})
    assert windows_for_day(school, FRI) == []
    assert not school.is_school_day(FRI)
    assert school.school_hours(FRI) is None
    at_ten = local(FRI, "10:00")
    sso = next(p for p in school.people if p.id == "sso-rivera")
    assert not school.on_duty(sso, at_ten)
    assert school.on_duty(sso, local(FRI - timedelta(days=1), "10:00"))
    assert school.step_applies(StepWhen.AFTER_HOURS, at_ten)


def test_withdrawing_a_day_type_brings_back_the_regular_day() -> None:
    school = school_with(patrol_plan=PLAN)
    school.set_day_types({FRI: EARLY})
    school.set_day_types({})
    assert school.day_type(FRI) is None
    assert school.school_hours(FRI) == (local(FRI, "07:15"), local(FRI, "15:45"))


def test_day_types_stay_with_their_school_object() -> None:
    one, two = school_with(), school_with()
    one.set_day_types({FRI: EARLY})
    assert two.day_type(FRI) is None


def write(tmp_path: Any, data: dict[str, Any]) -> Any:
    import yaml

    path = tmp_path / "school.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d.update(
                calendar={
                    "file": "d.ics",
                    "rules": [{"keywords": ["early"], "day_type": "early_release",
                               "schedule": "half"}],
                }
            ),
            "calendar.rules.0: unknown schedule 'half' (none such under bell_schedule.alternates)",
        ),
        (
            lambda d: d["bell_schedule"]["alternates"]["early"].append(
                {"name": "assembly", "kind": "class", "start": "11:40", "end": "12:00"}
            ),
            "alternates.early: period 'assembly' is not a regular period",
        ),
        (
            lambda d: d["bell_schedule"]["alternates"]["early"].append(
                {"name": "p5", "kind": "class", "start": "11:30", "end": "12:00"}
            ),
            "alternates.early: period p5 overlaps p4",
        ),
    ],
)  # fmt: skip
def test_a_bad_calendar_or_alternate_is_one_line(tmp_path: Any, edit: Any, message: str) -> None:
    data = copy.deepcopy(BASE)
    data["bell_schedule"]["alternates"] = {"early": copy.deepcopy(EARLY_PERIODS)}
    edit(data)
    with pytest.raises(SchoolConfigError) as info:
        load_school(write(tmp_path, data))
    assert message in str(info.value)
    assert "\n" not in str(info.value)
