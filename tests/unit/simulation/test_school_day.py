"""The simulator's school day: the patrol plan's windows (the kernel's, shared with the patrol
service) with the rule each comes from, and school-day arithmetic."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lookout.school.config import SchoolConfig
from lookout.simulation.school_day import add_school_days, check_windows, school_days

WEEK = [date(2026, 11, 30) + timedelta(days=i) for i in range(7)]


@pytest.mark.parametrize("patrol_seed", ["", "a-deployment-secret"])
def test_each_window_names_the_rule_that_asked_for_it(
    school: SchoolConfig, patrol_seed: str
) -> None:
    for day in WEEK:
        for w in check_windows(school, day, patrol_seed):
            rule = school.patrol_plan[w.rule]
            assert w.zone_id in rule.zones
            assert w.unannounced == bool(rule.unannounced_checks)
    assert len(check_windows(school, WEEK[0], patrol_seed)) == 86
    assert check_windows(school, WEEK[5], patrol_seed) == []  # Saturday


def test_school_days_and_follow_up_days_skip_thanksgiving(school: SchoolConfig) -> None:
    open_days, closed = school_days(school, date(2026, 11, 23), 7)
    assert open_days == [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]
    assert closed == [date(2026, 11, 26) + timedelta(days=i) for i in range(4)]
    assert [add_school_days(school, date(2026, 11, 25), n) for n in (1, 2, 3)] == [
        date(2026, 11, 30),
        date(2026, 12, 1),
        date(2026, 12, 2),
    ]
