"""Preventive planning and tour exceptions, pure: exact scores, reasons, ties, deterrence."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from lookout.school.config import SchoolConfig
from services.patrol.planning import (
    ConcernFact,
    DayWindow,
    ObservationFact,
    ScanFact,
    day_window,
    deterrence,
    due_focus_week,
    focus_window,
    hotspots,
    iso_week,
    recommend_focus,
    tour_stats,
    trailing_window,
    week_monday,
)


def at(school: SchoolConfig, day: date, hhmm: str) -> datetime:
    """A school-local moment."""
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=school.tz)


def concern(
    school: SchoolConfig, day: date, hhmm: str, zone: str | None, category: str, severity: str
) -> ConcernFact:
    return ConcernFact(zone, category, severity, at(school, day, hhmm))


def observation(
    school: SchoolConfig, day: date, hhmm: str, zone: str, category: str
) -> ObservationFact:
    return ObservationFact(zone, category, at(school, day, hhmm))


MON = date(2026, 11, 2)
TUE = date(2026, 11, 3)
WED = date(2026, 11, 4)


# --- calendar -----------------------------------------------------------------------------------


def test_focus_window_is_the_four_weeks_before_the_weeks_monday(school: SchoolConfig) -> None:
    # 2026-W49 starts Monday 30 Nov; Thanksgiving Thu 26 and Fri 27 Nov are no-school days.
    assert week_monday("2026-W49") == date(2026, 11, 30)
    assert focus_window(school, "2026-W49") == DayWindow(date(2026, 11, 2), date(2026, 11, 29), 18)
    assert focus_window(school, "2026-W49").span_text() == "4 weeks"
    assert iso_week(date(2026, 11, 30)) == "2026-W49"
    assert iso_week(date(2027, 1, 1)) == "2026-W53"
    with pytest.raises(ValueError):
        week_monday("2025-W53")  # 2025 has 52 ISO weeks


def test_trailing_window_includes_its_last_day(school: SchoolConfig) -> None:
    window = trailing_window(school, last=date(2026, 11, 25), weeks=1)
    assert (window.first, window.last, window.school_days) == (
        date(2026, 11, 19),
        date(2026, 11, 25),
        5,  # Thu 19, Fri 20, Mon 23, Tue 24, Wed 25
    )
    assert day_window(school, first=MON, last=date(2026, 11, 4)).span_text() == "3 days"


@pytest.mark.parametrize(
    ("local", "week"),
    [
        (datetime(2026, 11, 20, 14, 59), None),  # Friday, before the report moment
        (datetime(2026, 11, 20, 15, 0), "2026-W48"),  # Friday 15:00: the coming week is due
        (datetime(2026, 11, 22, 23, 59), "2026-W48"),  # Sunday: still the coming week
        (datetime(2026, 11, 23, 8, 0), None),  # Monday of W48: this week's moment not reached
        (datetime(2026, 12, 25, 16, 0), "2026-W53"),
    ],
)
def test_focus_is_due_for_the_coming_week_after_the_report_moment(
    school: SchoolConfig, local: datetime, week: str | None
) -> None:
    assert due_focus_week(school, local.replace(tzinfo=school.tz)) == week


# --- hotspots and focus -------------------------------------------------------------------------


def dataset(school: SchoolConfig) -> tuple[list[ConcernFact], list[ObservationFact]]:
    c, o = concern, observation
    concerns = [
        # bath-1n-boys in pass-2 (09:32-09:39): 4 vaping (low, low, medium, medium) and
        # 2 conflicts (high, high) = 1+1+2+2+3+3 = 12 points.
        c(school, MON, "09:33", "bath-1n-boys", "vaping", "low"),
        c(school, TUE, "09:34", "bath-1n-boys", "vaping", "low"),
        c(school, WED, "09:35", "bath-1n-boys", "vaping", "medium"),
        c(school, date(2026, 11, 10), "09:36", "bath-1n-boys", "vaping", "medium"),
        c(school, date(2026, 11, 11), "09:37", "bath-1n-boys", "conflict", "high"),
        c(school, date(2026, 11, 12), "09:38", "bath-1n-boys", "conflict", "high"),
        # stair-east at lunch-a: planned only during class periods, 1 critical = 5 points.
        c(school, date(2026, 11, 16), "11:30", "stair-east", "conflict", "critical"),
        # Not counted: no zone; Saturday; after the last period; a no-school day; the week
        # after the window; the day before it.
        c(school, MON, "09:33", None, "vaping", "critical"),
        c(school, date(2026, 11, 7), "09:33", "bath-1n-boys", "vaping", "critical"),
        c(school, MON, "16:30", "bath-1n-boys", "vaping", "critical"),
        c(school, date(2026, 11, 26), "09:33", "bath-1n-boys", "vaping", "critical"),
        c(school, date(2026, 11, 30), "09:33", "bath-1n-boys", "vaping", "critical"),
        c(school, date(2026, 11, 1), "09:33", "bath-1n-boys", "vaping", "critical"),
    ]
    observations = [
        o(school, MON, "09:32", "bath-1n-boys", "vaping"),
        o(school, TUE, "09:38", "bath-1n-boys", "vaping"),
        o(school, WED, "09:36", "bath-1n-boys", "loitering"),
        o(school, date(2026, 11, 17), "11:40", "stair-east", "loitering"),
        # cafeteria at lunch-b: 6 observations, no concerns = 6 points (ties stair-east).
        *[o(school, date(2026, 11, d), "12:00", "cafeteria", "hazard") for d in range(16, 21)],
        o(school, date(2026, 11, 21), "12:00", "cafeteria", "hazard"),  # Saturday: no
        o(school, date(2026, 11, 23), "12:10", "cafeteria", "hazard"),
    ]
    return concerns, observations


def test_hotspot_scores_counts_and_order(school: SchoolConfig) -> None:
    concerns, observations = dataset(school)
    window = focus_window(school, "2026-W49")
    cells = hotspots(school, concerns, observations, window=window)

    assert [(c.zone_id, c.period) for c in cells] == [
        ("bath-1n-boys", "pass-2"),
        ("stair-east", "lunch-a"),  # 6 points with 1 concern ...
        ("cafeteria", "lunch-b"),  # ... beats 6 points with none
    ]
    top, stair, cafeteria = cells
    # (12 severity points + 3 observations) / 18 school days
    assert (top.score, top.concerns, top.observations, top.severity_points) == (0.83, 6, 3, 12)
    assert top.concerns_by_category == {"vaping": 4, "conflict": 2}
    assert top.observations_by_category == {"vaping": 2, "loitering": 1}
    assert top.in_plan is True
    assert (stair.score, stair.concerns, stair.observations, stair.in_plan) == (0.33, 1, 1, False)
    # Nov 16-20 and 23 are school days; the 21st is a Saturday.
    assert (cafeteria.score, cafeteria.observations, cafeteria.in_plan) == (0.33, 6, True)


def test_focus_lines_carry_the_counts_behind_them(school: SchoolConfig) -> None:
    concerns, observations = dataset(school)
    window = focus_window(school, "2026-W49")
    lines = recommend_focus(hotspots(school, concerns, observations, window=window), window=window)

    assert [(line.action, line.reason) for line in lines] == [
        (
            "extra checks",
            "extra checks: 6 concerns (4 vaping, 2 conflict) and 3 observations "
            "in the last 4 weeks",
        ),
        (
            "unannounced checks",
            "unannounced checks (no planned window): 1 concern (1 conflict) and 1 observation "
            "in the last 4 weeks",
        ),
        (
            "extra checks",
            "extra checks: no concerns and 6 observations in the last 4 weeks",
        ),
    ]
    assert [line.score for line in lines] == [0.83, 0.33, 0.33]
    limited = recommend_focus(
        hotspots(school, concerns, observations, window=window), window=window, limit=1
    )
    assert [(f.zone_id, f.period) for f in limited] == [("bath-1n-boys", "pass-2")]


def test_full_ties_follow_the_school_files_zone_order_then_bell_order(
    school: SchoolConfig,
) -> None:
    window = day_window(school, first=MON, last=MON)
    concerns = [
        concern(school, MON, "10:00", "hall-1-north", "conflict", "medium"),  # p3
        concern(school, MON, "08:00", "hall-1-north", "conflict", "medium"),  # p1
        concern(school, MON, "10:00", "bath-1n-girls", "vaping", "medium"),  # p3
    ]
    cells = hotspots(school, concerns, [], window=window)
    assert [(c.zone_id, c.period, c.score) for c in cells] == [
        ("bath-1n-girls", "p3", 2.0),  # listed before hall-1-north in lhs.yaml
        ("hall-1-north", "p1", 2.0),  # p1 rings before p3
        ("hall-1-north", "p3", 2.0),
    ]


def test_no_data_gives_no_hotspots_and_no_focus(school: SchoolConfig) -> None:
    window = focus_window(school, "2026-W49")
    assert hotspots(school, [], [], window=window) == []
    assert recommend_focus([], window=window) == []


def test_a_window_without_school_days_scores_zero(school: SchoolConfig) -> None:
    window = day_window(school, first=date(2026, 11, 26), last=date(2026, 11, 27))
    assert window.school_days == 0
    # Facts on a no-school day fall in no bell period, so nothing is counted at all.
    facts = [concern(school, date(2026, 11, 26), "09:33", "bath-1n-boys", "vaping", "low")]
    assert hotspots(school, facts, [], window=window) == []


# --- deterrence ---------------------------------------------------------------------------------

DAY = date(2026, 11, 23)  # Monday; school hours 07:15-15:45 = 8.5 h


def scan(school: SchoolConfig, day: date, hhmm: str, zone: str, tag: str, officer: str) -> ScanFact:
    return ScanFact(zone, tag, officer, at(school, day, hhmm))


def test_deterrence_counts_exposure_and_rates(school: SchoolConfig) -> None:
    scans = [
        scan(school, DAY, "07:00", "bath-1n-boys", "T-1NB", "sso-rivera"),  # before school
        scan(school, DAY, "09:32", "bath-1n-boys", "T-1NB", "sso-rivera"),
        scan(school, DAY, "09:40", "bath-1n-boys", "T-1NB", "sso-rivera"),  # overlaps: merged
        scan(school, DAY, "15:40", "bath-1n-boys", "T-1NB", "sso-rivera"),  # clipped at 15:45
    ]
    concerns = [
        concern(school, DAY, "09:50", "bath-1n-boys", "vaping", "low"),  # after a check
        concern(school, DAY, "15:42", "bath-1n-boys", "vaping", "low"),  # after a check
        concern(school, DAY, "11:00", "bath-1n-boys", "vaping", "low"),
        concern(school, DAY, "13:00", "bath-1n-boys", "vaping", "low"),
        concern(school, DAY, "14:00", "bath-1n-boys", "vaping", "low"),
        concern(school, DAY, "17:00", "bath-1n-boys", "vaping", "low"),  # outside school hours
        concern(school, DAY, "10:00", "stair-east", "conflict", "high"),  # never checked
    ]
    # Two calendar days, one of them a Saturday: only Monday's school hours count.
    result = deterrence(school, scans, concerns, first=date(2026, 11, 21), last=DAY, minutes=15)
    assert [d.zone_id for d in result] == ["bath-1n-boys", "stair-east"]
    bath, stair = result
    # Covered: 09:32-09:55 (23 min) + 15:40-15:45 (5 min) = 1680 s; other: 30600 - 1680 s.
    assert (bath.checks, bath.seconds_after_check, bath.seconds_other) == (3, 1680.0, 28920.0)
    assert (bath.concerns_after_check, bath.concerns_other) == (2, 3)
    assert (bath.hours_after_check, bath.hours_other) == (0.47, 8.03)
    assert (bath.rate_after_check, bath.rate_other, bath.ratio) == (4.286, 0.373, 11.48)
    assert bath.explanation() == (
        "2 concerns in 0.47 h within 15 min after a check (4.286/h) "
        "vs 3 concerns in 8.03 h at other school times (0.373/h)"
    )
    assert (stair.checks, stair.concerns_after_check, stair.concerns_other) == (0, 0, 1)
    assert (stair.rate_after_check, stair.rate_other, stair.ratio) == (None, 0.118, None)
    assert stair.explanation() == (
        "0 concerns in 0 h within 15 min after a check (n/a) "
        "vs 1 concern in 8.5 h at other school times (0.118/h)"
    )


def test_deterrence_without_facts_is_empty(school: SchoolConfig) -> None:
    assert deterrence(school, [], [], first=DAY, last=DAY) == []


# --- tour exceptions ----------------------------------------------------------------------------


def test_tour_stats_gaps_per_zone_and_officer_and_padding(school: SchoolConfig) -> None:
    nxt = date(2026, 11, 24)
    scans = [
        scan(school, DAY, "09:00:00", "bath-1n-boys", "T-1NB", "sso-rivera"),
        scan(school, DAY, "09:01:30", "bath-1n-boys", "T-1NB", "sso-rivera"),  # padding, 90 s
        scan(school, DAY, "09:10:00", "bath-1n-boys", "T-1NB", "sso-rivera"),  # 510 s: fine
        scan(school, DAY, "09:11:00", "bath-1n-boys", "T-1NB", "sso-b"),  # other officer
        scan(school, DAY, "09:12:00", "hall-1-north", "T-H1N-A", "sso-rivera"),
        scan(school, DAY, "09:13:00", "bath-1n-boys", "T-1NB", "sso-b"),  # padding, 120 s
        scan(school, nxt, "08:00:00", "bath-1n-boys", "T-1NB", "sso-rivera"),  # new day
    ]
    stats = tour_stats(school, scans, padding_minutes=2, zone_ids=["bath-1n-boys", "hall-1-north"])

    bath, hall = stats.zones
    assert (bath.zone_id, bath.scans, bath.checkpoints, bath.padding_flags) == (
        "bath-1n-boys",
        6,
        {"T-1NB": 6},
        2,
    )
    # Same-day gaps only: 90, 510, 60, 120 s.
    assert (bath.gaps.count, bath.gaps.min_seconds, bath.gaps.avg_seconds) == (4, 60.0, 195.0)
    assert bath.gaps.max_seconds == 510.0
    assert (hall.scans, hall.checkpoints, hall.gaps.count, hall.gaps.min_seconds) == (
        1,
        {"T-H1N-A": 1, "T-H1N-B": 0},
        0,
        None,
    )

    b, rivera = stats.officers
    assert (b.officer_id, b.scans, b.zones, b.checkpoints, b.padding_flags) == (
        "sso-b",
        2,
        1,
        {"T-1NB": 2},
        1,
    )
    assert (b.gaps.count, b.gaps.min_seconds, b.gaps.max_seconds) == (1, 120.0, 120.0)
    assert (rivera.scans, rivera.zones, rivera.checkpoints, rivera.padding_flags) == (
        5,
        2,
        {"T-1NB": 4, "T-H1N-A": 1},
        1,
    )
    # 09:00 -> 09:01:30 -> 09:10 -> 09:12 (the next day's scan starts a new day)
    assert (rivera.gaps.count, rivera.gaps.min_seconds, rivera.gaps.avg_seconds) == (
        3,
        90.0,
        240.0,
    )

    assert [(p.officer_id, p.checkpoint_tag, p.gap_seconds) for p in stats.padding] == [
        ("sso-rivera", "T-1NB", 90.0),
        ("sso-b", "T-1NB", 120.0),
    ]
    assert stats.padding[0].first_at == at(school, DAY, "09:00")
    assert stats.padding[0].again_at == at(school, DAY, "09:01:30")

    strict = tour_stats(school, scans, padding_minutes=1, zone_ids=["bath-1n-boys"])
    assert strict.padding == []
    assert len(strict.zones) == 1


def test_tour_stats_defaults_to_every_zone(school: SchoolConfig) -> None:
    stats = tour_stats(school, [])
    assert [z.zone_id for z in stats.zones] == [z.id for z in school.zones]
    assert stats.officers == [] and stats.padding == []
