"""The simulator's restatement of the patrol plan gives exactly the patrol service's windows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lookout.school import SchoolConfig
from lookout.simulation.school_day import add_school_days, check_windows, school_days
from services.patrol import domain

WEEK = [date(2026, 11, 30) + timedelta(days=i) for i in range(7)]


@pytest.mark.parametrize("patrol_seed", ["", "a-deployment-secret"])
def test_windows_are_the_patrol_services_windows(school: SchoolConfig, patrol_seed: str) -> None:
    for day in WEEK:
        ours = [
            (w.zone_id, w.start, w.end, w.grace, w.period, w.unannounced)
            for w in check_windows(school, day, patrol_seed)
        ]
        theirs = [
            (w.zone_id, w.start, w.end, w.grace, w.period, w.unannounced)
            for w in domain.windows_for_day(school, day, patrol_seed)
        ]
        assert ours == theirs
    assert len(check_windows(school, WEEK[0], patrol_seed)) == 86
    assert check_windows(school, WEEK[5], patrol_seed) == []  # Saturday


def test_school_days_and_follow_up_days_skip_thanksgiving(school: SchoolConfig) -> None:
    open_days, closed = school_days(school, date(2026, 11, 23), 7)
    assert open_days == [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]
    assert closed == [date(2026, 11, 26) + timedelta(days=i) for i in range(4)]
    for n in (1, 2, 3):
        assert add_school_days(school, date(2026, 11, 25), n) == domain.add_school_days(
            school, date(2026, 11, 25), n
        )
    assert add_school_days(school, date(2026, 11, 25), 1) == date(2026, 11, 30)
