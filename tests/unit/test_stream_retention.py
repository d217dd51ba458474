"""The shipped stream limits keep the retention promise (issue 13, item 14): streams that carry
student references or notes keep a message no longer than the longest
`student_records_retention_days` of the schools, the DLQ 30 days (a setting) and never longer
than that."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lookout.kernel.messaging import stream_configs, stream_max_ages
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings, load_school
from lookout.school.config import SchoolConfig

DAY = 86_400.0


def school(school_id: str, retention_days: int) -> SchoolConfig:
    return load_school(EXAMPLE_SCHOOL).model_copy(
        update={"id": school_id, "student_records_retention_days": retention_days}
    )


def max_ages(settings: Settings, *schools: SchoolConfig) -> dict[str, float | None]:
    return {c.name: c.max_age for c in stream_configs(settings, {s.id: s for s in schools})}


def test_a_school_keeping_student_records_30_days_gets_streams_of_exactly_30_days() -> None:
    assert max_ages(Settings(), school("lhs", 30)) == {
        "CALENDAR": None,  # the calendar's audit log: every confirmation and withdrawal
        "PATROL": 2_592_000.0,  # 30 days in seconds
        "CONCERNS": 2_592_000.0,
        "VISITORS": None,  # ids, badges and zones only: not limited by age
        "ALERTS": 2_592_000.0,  # alert.resolved carried outcome notes until 2026-12
        "REPORTS": None,
        "SENSORS": None,  # a sensor, a zone and a reading: nobody's record
        "DLQ": 2_592_000.0,
    }


def test_the_longest_retention_of_the_schools_decides_and_the_dlq_keeps_30_days() -> None:
    ages = max_ages(Settings(), school("lhs", 30), school("mhs", 400), school("nhs", 90))
    assert (ages["PATROL"], ages["CONCERNS"], ages["ALERTS"]) == (400 * DAY,) * 3
    assert ages["DLQ"] == 30 * DAY


def test_the_dlq_age_is_a_setting_and_never_outlives_the_student_records() -> None:
    assert max_ages(Settings(dlq_max_age_days=7), school("lhs", 365))["DLQ"] == 7 * DAY
    assert max_ages(Settings(dlq_max_age_days=0.5), school("lhs", 365))["DLQ"] == 43_200.0
    assert max_ages(Settings(dlq_max_age_days=90), school("lhs", 60))["DLQ"] == 60 * DAY
    with pytest.raises(ValidationError):
        Settings(dlq_max_age_days=0)


def test_no_duplicate_window_is_longer_than_its_streams_age() -> None:
    # nats-server refuses a stream whose duplicate window exceeds its max_age.
    configs = stream_configs(Settings(dlq_max_age_days=1 / DAY), {"lhs": school("lhs", 30)})
    windows = {c.name: c.duplicate_window for c in configs}
    assert windows == {
        "CALENDAR": 120.0,
        "PATROL": 120.0,
        "CONCERNS": 120.0,
        "VISITORS": 120.0,
        "ALERTS": 120.0,
        "REPORTS": 120.0,
        "SENSORS": 120.0,  # a HALO's HTTP message and its alert email arrive within it
        "DLQ": 1.0,
    }


def test_the_dlq_age_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOKOUT_DLQ_MAX_AGE_DAYS", "14")
    assert Settings().dlq_max_age_days == 14.0


def test_without_schools_given_the_settings_schools_decide(tmp_path: Path) -> None:
    text = EXAMPLE_SCHOOL.read_text(encoding="utf-8")
    assert "student_records_retention_days: 365 " in text
    short = tmp_path / "short.yaml"
    short.write_text(
        text.replace("student_records_retention_days: 365 ", "student_records_retention_days: 45 ")
    )
    ages = stream_max_ages(Settings(schools=str(short)))
    assert ages["CONCERNS"] == 45 * DAY
    assert stream_max_ages(Settings(schools=str(EXAMPLE_SCHOOL)))["PATROL"] == 365 * DAY
