"""The patrol plan's pure rules: windows from the bell schedule, unannounced draws, school days."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from lookout.contracts.patrol import WindowOutcome
from lookout.school.config import SchoolConfig
from services.patrol import domain

MONDAY = date(2026, 11, 23)
GYM_ZONES = {"bath-gym-boys", "bath-gym-girls", "stair-east", "stair-west"}


def local(school: SchoolConfig, w: domain.PlannedWindow) -> str:
    return f"{w.start.astimezone(school.tz):%H:%M}-{w.end.astimezone(school.tz):%H:%M}"


def test_bathrooms_are_planned_for_every_passing_period_and_lunch(school: SchoolConfig) -> None:
    windows = [w for w in domain.windows_for_day(school, MONDAY) if w.zone_id == "bath-2s-boys"]
    assert [local(school, w) for w in windows] == [
        "08:35-08:42",
        "09:32-09:39",
        "10:29-10:36",
        "11:26-11:56",
        "11:56-12:26",
        "12:26-12:33",
        "13:23-13:30",
        "14:20-14:27",
    ]
    assert {w.grace for w in windows} == {timedelta(minutes=3)}
    assert [w.period for w in windows][:4] == ["pass-1", "pass-2", "pass-3", "lunch-a"]


def test_fixed_window_and_every_n_minutes(school: SchoolConfig) -> None:
    windows = domain.windows_for_day(school, MONDAY)
    entrance = [local(school, w) for w in windows if w.zone_id == "entrance-main"]
    cafeteria = [local(school, w) for w in windows if w.zone_id == "cafeteria"]
    assert entrance == ["07:15-07:45"]
    assert cafeteria == ["11:26-11:41", "11:41-11:56", "11:56-12:11", "12:11-12:26"]


def test_no_windows_on_weekends_or_no_school_days(school: SchoolConfig) -> None:
    assert domain.windows_for_day(school, date(2026, 11, 28)) == []  # Saturday
    assert domain.windows_for_day(school, date(2026, 11, 26)) == []  # Thanksgiving


def test_unannounced_checks_are_reproducible_for_a_seed_and_differ_between_seeds(
    school: SchoolConfig,
) -> None:
    def draws(seed: str, day: date = MONDAY) -> list[tuple[str, datetime]]:
        return [
            (w.zone_id, w.start) for w in domain.windows_for_day(school, day, seed) if w.unannounced
        ]

    assert draws("district-secret") == draws("district-secret")
    assert draws("district-secret") != draws("another-secret")
    assert draws("district-secret") != draws("district-secret", date(2026, 11, 24))
    picked = draws("district-secret")
    assert Counter(zone for zone, _ in picked) == dict.fromkeys(GYM_ZONES, 3)


def test_unannounced_checks_fall_inside_class_periods_and_never_overlap(
    school: SchoolConfig,
) -> None:
    windows = [w for w in domain.windows_for_day(school, MONDAY, "s") if w.unannounced]
    for w in windows:
        period = school.period_at(w.start)
        assert period is not None and period.kind.value == "class"
        assert w.end == w.start + timedelta(minutes=5)
        assert w.grace == timedelta(0)
    for zone in GYM_ZONES:
        starts = sorted(w.start for w in windows if w.zone_id == zone)
        assert all(b - a >= timedelta(minutes=5) for a, b in pairwise(starts))


def test_draw_returns_fewer_when_the_spans_are_too_short() -> None:
    import random

    start = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    spans = [(start, start + timedelta(minutes=10), "p1")]
    drawn = domain.draw_unannounced(spans, 5, timedelta(minutes=5), random.Random(1))
    assert sorted(t for t, _ in drawn) == [start, start + timedelta(minutes=5)]


def test_scan_outcome_on_time_late_or_neither() -> None:
    start = datetime(2026, 11, 23, 14, 35, tzinfo=UTC)
    w = domain.PlannedWindow(
        "bath-1n-boys", start, start + timedelta(minutes=7), timedelta(minutes=3), "pass-1"
    )
    assert domain.scan_outcome(w, start - timedelta(seconds=1)) is None
    assert domain.scan_outcome(w, start) is WindowOutcome.CHECKED
    assert domain.scan_outcome(w, start + timedelta(minutes=7)) is WindowOutcome.CHECKED
    assert domain.scan_outcome(w, start + timedelta(minutes=8)) is WindowOutcome.LATE
    assert domain.scan_outcome(w, start + timedelta(minutes=10)) is WindowOutcome.LATE
    assert domain.scan_outcome(w, start + timedelta(minutes=10, seconds=1)) is None


def test_school_days_skip_weekends_and_holidays(school: SchoolConfig) -> None:
    assert domain.add_school_days(school, date(2026, 11, 20), 1) == date(2026, 11, 23)
    assert domain.add_school_days(school, date(2026, 11, 24), 2) == date(2026, 11, 30)
    remind, deadline = domain.follow_up_times(school, datetime(2026, 11, 25, 20, 0, tzinfo=UTC), 1)
    assert (remind, deadline) == (
        datetime(2026, 11, 30, 13, 15, tzinfo=UTC),
        datetime(2026, 11, 30, 21, 45, tzinfo=UTC),
    )


def test_silence_matters_only_in_school_hours(school: SchoolConfig) -> None:
    seen = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 09:00 in Chicago
    assert domain.silence_deadline(school, seen) == seen + timedelta(minutes=10)
    assert domain.silence_is_alarming(school, seen + timedelta(minutes=10))
    assert not domain.silence_is_alarming(school, datetime(2026, 11, 23, 22, 0, tzinfo=UTC))
    assert not domain.silence_is_alarming(school, datetime(2026, 11, 28, 15, 0, tzinfo=UTC))
