"""What each service decides on a confirmed day type, through its own domain rules: the alerts
service's `when: school_hours` steps and duty roster, the visitors service's auto-checkout, the
reports service's school-day count. Lakeside's early release ends at 11:36 (Chicago)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from lookout.school.day_types import DayKind, DayType
from services.reports.domain import hotspot_span
from services.visitors.domain import day_end
from tests.unit.alerts.test_domain import drive, local, policy
from tests.unit.calendar.test_day_types import school_with

MONDAY = date(2026, 11, 23)
EARLY = DayType(DayKind.EARLY_RELEASE, "early")


def test_after_an_early_release_a_school_hours_step_is_skipped() -> None:
    school = school_with()
    # A regular Monday at noon: the counselor's school-hours step fires first.
    rows, _ = drive(school, policy(school, "student-wellbeing"), local(23, 12))
    assert rows[0] == (0, "fired", 0, 0, ("counselor-patel",))
    school.set_day_types({MONDAY: EARLY})
    rows, last = drive(school, policy(school, "student-wellbeing"), local(23, 12))
    assert rows == [
        (0, "skipped", 0, 0, "applies only school hours"),
        (0, "fired", 1, 0, ("ap-chen",)),
        (30, "fired", 2, 0, ("principal-okafor",)),
        (60, "skipped", 0, 1, "applies only school hours"),
        (60, "fired", 1, 1, ("ap-chen",)),
        (90, "fired", 2, 1, ("principal-okafor",)),
    ]
    assert last.exhausted
    # Before the early bell, the same step fires.
    rows, _ = drive(school, policy(school, "student-wellbeing"), local(23, 11, 30))
    assert rows[0] == (0, "fired", 0, 0, ("counselor-patel",))


def test_on_a_confirmed_no_school_day_only_on_call_staff_are_reached() -> None:
    school = school_with()
    school.set_day_types({MONDAY: DayType(DayKind.NO_SCHOOL)})
    rows, _ = drive(school, policy(school, "critical"), local(23, 10))
    off = "every target off duty: sso-rivera, principal-okafor"
    assert rows[:2] == [(0, "skipped", 0, 0, off), (0, "fired", 1, 0, ("district-lee",))]


def test_visitors_are_checked_out_an_hour_after_the_early_bell() -> None:
    school = school_with()
    nine = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 09:00 in Chicago
    assert day_end(school, nine) == datetime(2026, 11, 23, 22, 45, tzinfo=UTC)  # 16:45
    school.set_day_types({MONDAY: EARLY})
    assert day_end(school, nine) == datetime(2026, 11, 23, 18, 36, tzinfo=UTC)  # 12:36


def test_the_weekly_report_counts_a_confirmed_no_school_day_out() -> None:
    school = school_with()
    # 16 Nov to 13 Dec: 20 weekdays, Thanksgiving Thursday and Friday off in the school file.
    assert hotspot_span(school, "2026-W51")[2] == 18
    school.set_day_types({date(2026, 12, 4): DayType(DayKind.NO_SCHOOL), MONDAY: EARLY})
    assert hotspot_span(school, "2026-W51")[2] == 17  # an early release is a school day
