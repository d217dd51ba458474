"""A time on an alert's timeline in the school's words: the day, the time and the zone the
school keeps (as emails and the CLI say it); UTC, said so, for a school not known."""

from __future__ import annotations

from datetime import UTC, datetime

from lookout.kernel.settings import EXAMPLE_SCHOOL, load_school
from lookout.school.words import moment_at_school


def test_a_timeline_time_is_in_the_schools_zone_or_says_utc() -> None:
    lakeside = load_school(EXAMPLE_SCHOOL)  # America/Chicago
    assert moment_at_school(datetime(2026, 11, 23, 16, 0, tzinfo=UTC), lakeside) == (
        "Mon 23 Nov 10:00 CST"
    )
    assert moment_at_school(datetime(2026, 6, 1, 14, 5, tzinfo=UTC), lakeside) == (
        "Mon 1 Jun 09:05 CDT"
    )
    # Just after midnight UTC is still the evening before at the school.
    assert moment_at_school(datetime(2026, 11, 24, 2, 30, tzinfo=UTC), lakeside) == (
        "Mon 23 Nov 20:30 CST"
    )
    assert moment_at_school(datetime(2026, 11, 24, 2, 30, tzinfo=UTC), None) == (
        "Tue 24 Nov 02:30 UTC"
    )
