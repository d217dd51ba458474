"""Visitor rules: end of day, timers of an admitted visit, screening outcomes, bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lookout.contracts.visitors import ScreeningAnswer as A
from lookout.contracts.visitors import VisitStatus
from lookout.school.config import SchoolConfig
from services.visitors import domain

# Chicago is UTC-6 in November: local 08:00 on Monday 23 November 2026 is 14:00 UTC.
MON_0800 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "end"),
    [
        (MON_0800, datetime(2026, 11, 23, 22, 45, tzinfo=UTC)),  # 15:45 + 60 min
        (datetime(2026, 11, 23, 22, 44, tzinfo=UTC), datetime(2026, 11, 23, 22, 45, tzinfo=UTC)),
        # after the close (evening event): local midnight
        (datetime(2026, 11, 23, 23, 0, tzinfo=UTC), datetime(2026, 11, 24, 6, 0, tzinfo=UTC)),
        # Thanksgiving (no school) and a Saturday: local midnight
        (datetime(2026, 11, 26, 15, 0, tzinfo=UTC), datetime(2026, 11, 27, 6, 0, tzinfo=UTC)),
        (datetime(2026, 11, 28, 15, 0, tzinfo=UTC), datetime(2026, 11, 29, 6, 0, tzinfo=UTC)),
    ],
)
def test_day_end(school: SchoolConfig, moment: datetime, end: datetime) -> None:
    assert domain.day_end(school, moment) == end


def test_admit_sets_expected_overdue_and_checkout(school: SchoolConfig) -> None:
    timers = domain.admit(school, MON_0800, 90)
    assert timers == domain.Admission(
        expected_until=MON_0800 + timedelta(minutes=90),
        overdue_at=MON_0800 + timedelta(minutes=105),
        auto_checkout_at=datetime(2026, 11, 23, 22, 45, tzinfo=UTC),
    )


def test_overdue_at_the_checkout_when_the_day_closes_first(school: SchoolConfig) -> None:
    late = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 15:00 local, 2 h visit: 17:00 + 15 min
    assert domain.admit(school, late, 120) == domain.Admission(
        expected_until=datetime(2026, 11, 23, 23, 0, tzinfo=UTC),
        overdue_at=datetime(2026, 11, 23, 22, 45, tzinfo=UTC),  # the close, 16:45 local
        auto_checkout_at=datetime(2026, 11, 23, 22, 45, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("answers", "status"),
    [
        ({"E1": None}, VisitStatus.PENDING_SCREENING),
        ({"E1": A.NOT_SURE}, VisitStatus.PENDING_SCREENING),
        ({"E1": A.NO}, VisitStatus.ON_SITE),
        ({"E1": A.YES}, VisitStatus.DENIED),
        ({"E1": A.NO, "E2": None}, VisitStatus.PENDING_SCREENING),
        ({"E1": A.NO, "E2": A.NO}, VisitStatus.ON_SITE),
        ({"E1": A.NO, "E2": A.YES}, VisitStatus.DENIED),
        ({"E1": A.NOT_SURE, "E2": A.YES}, VisitStatus.DENIED),
    ],
)
def test_screening_status(answers: dict[str, A | None], status: VisitStatus) -> None:
    assert domain.screening_status(answers) is status


def test_yes_and_not_sure_flag_no_does_not() -> None:
    assert [domain.flags(a) for a in A] == [True, False, True]


@pytest.mark.parametrize(
    ("zone", "seen", "outside"),
    [
        ("library", MON_0800 + timedelta(minutes=5), False),
        ("main-office", MON_0800 + timedelta(minutes=5), False),  # every visitor may be there
        ("gym", MON_0800 + timedelta(minutes=5), True),
        ("library", MON_0800 - timedelta(minutes=1), True),  # before check-in
        ("library", MON_0800 + timedelta(hours=1), True),  # at/after check-out
    ],
)
def test_out_of_bounds(school: SchoolConfig, zone: str, seen: datetime, outside: bool) -> None:
    visit = domain.VisitWindow(MON_0800, MON_0800 + timedelta(hours=1), ("library",))
    assert domain.out_of_bounds(school, visit, zone, seen) is outside


def test_badge_number_and_purge_time(school: SchoolConfig) -> None:
    assert domain.badge_number(MON_0800.date(), 7) == "1123-007"
    assert domain.purge_at(school, MON_0800) == MON_0800 + timedelta(days=365)


def test_the_time_to_full_accountability_is_whole_seconds_from_the_start() -> None:
    start = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    assert domain.seconds_to_account(start, start + timedelta(minutes=4, seconds=30)) == 270
    assert domain.seconds_to_account(start, start + timedelta(seconds=59, milliseconds=900)) == 59
    assert domain.seconds_to_account(start, start) == 0
    assert domain.seconds_to_account(start, start - timedelta(seconds=3)) == 0  # clock stepped back
