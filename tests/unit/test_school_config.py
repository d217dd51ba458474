"""The school file and the deployment settings: the example loads; a broken file gets one line."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
import yaml

from lookout.kernel.settings import (
    EXAMPLE_SCHOOL,
    SchoolConfigError,
    Settings,
    load_school,
    load_schools,
)
from lookout.school.config import PeriodKind, SchoolConfig, ZoneKind

EXAMPLE: dict[str, Any] = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))

# Every LOOKOUT_* variable that feeds a Settings field used below, so a developer's shell
# cannot change what these tests see.
_SETTINGS_ENV = (
    "LOOKOUT_DATA_DIR",
    "LOOKOUT_SCHOOLS",
    "LOOKOUT_PATROL_DB_URL",
    "LOOKOUT_VISITORS_DB_URL",
    "LOOKOUT_ALERTS_DB_URL",
    "LOOKOUT_REPORTS_DB_URL",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def write_school(tmp_path: Path) -> Callable[..., Path]:
    """Write a variant of the example school: `edit` mutates a deep copy of its data."""

    def write(edit: Callable[[dict[str, Any]], None], name: str = "school.yaml") -> Path:
        data = copy.deepcopy(EXAMPLE)
        edit(data)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write


def load_error(path: Path) -> str:
    with pytest.raises(SchoolConfigError) as info:
        load_school(path)
    message = str(info.value)
    assert "\n" not in message, "the message must be one line"
    return message


# --- the example school ---------------------------------------------------------------------


def test_example_school_has_its_id_name_size_and_timezone(school: SchoolConfig) -> None:
    assert school.id == "lhs"
    assert school.name == "Lakeside High School"
    assert school.student_count == 912
    assert school.timezone == "America/Chicago"
    assert str(school.tz) == "America/Chicago"


def test_example_school_has_23_zones_with_unique_ids(school: SchoolConfig) -> None:
    assert len(school.zones) == 23
    assert len(school.zone_ids) == 23
    bathrooms = [z.id for z in school.zones if z.kind is ZoneKind.BATHROOM]
    assert bathrooms == [
        "bath-1n-boys",
        "bath-1n-girls",
        "bath-1s-allgender",
        "bath-2s-boys",
        "bath-2s-girls",
        "bath-gym-boys",
        "bath-gym-girls",
    ]


def test_checkpoint_tags_map_to_their_zone(school: SchoolConfig) -> None:
    assert school.zone_by_checkpoint["T-1NB"] == "bath-1n-boys"
    assert school.zone_by_checkpoint["T-H1N-B"] == "hall-1-north"
    assert school.zone_by_checkpoint["T-PKS-2"] == "parking-student"
    assert len(school.zone_by_checkpoint) == sum(len(z.checkpoints) for z in school.zones)


def test_example_bell_schedule_runs_from_before_school_to_after_school(
    school: SchoolConfig,
) -> None:
    periods = school.bell_schedule.periods
    assert len(periods) == 17
    assert (periods[0].name, periods[0].start) == ("before-school", time(7, 15))
    assert (periods[-1].name, periods[-1].end) == ("after-school", time(15, 45))
    assert [p.name for p in periods if p.kind is PeriodKind.LUNCH] == ["lunch-a", "lunch-b"]
    assert date(2026, 11, 26) in school.bell_schedule.no_school_days


def test_example_school_config_is_immutable(school: SchoolConfig) -> None:
    with pytest.raises(ValueError, match="frozen"):
        school.student_count = 1  # type: ignore[misc]


def test_an_unchanged_copy_of_the_example_loads_equal(
    school: SchoolConfig, write_school: Callable[..., Path]
) -> None:
    path = write_school(lambda d: None)
    assert load_school(path) == school


# --- broken school files: one line naming the file and the field -----------------------------


def test_unknown_zone_in_patrol_plan(write_school: Callable[..., Path]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["patrol_plan"][1]["zones"].append("hall-3-north")

    path = write_school(edit)
    assert load_error(path) == (f"{path}: patrol_plan.1: unknown zone 'hall-3-north'")


def test_overlapping_periods(write_school: Callable[..., Path]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["bell_schedule"]["periods"][2]["start"] = "08:30"  # pass-1 starts inside p1

    path = write_school(edit)
    assert load_error(path) == f"{path}: bell_schedule: period pass-1 overlaps p1"


def test_period_ending_before_it_starts(write_school: Callable[..., Path]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["bell_schedule"]["periods"][1]["end"] = "07:30"  # p1 starts 07:45

    path = write_school(edit)
    assert load_error(path) == (
        f"{path}: bell_schedule.periods.1: period p1 ends at 07:30:00 before it starts"
    )


def test_period_ending_when_it_starts_is_refused(write_school: Callable[..., Path]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["bell_schedule"]["periods"][1]["end"] = "07:45"

    path = write_school(edit)
    assert load_error(path) == (
        f"{path}: bell_schedule.periods.1: period p1 ends at 07:45:00 before it starts"
    )


def test_duplicate_checkpoint_tag_across_zones(write_school: Callable[..., Path]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["zones"][1]["checkpoints"] = ["T-1NB"]  # the girls' bathroom gets the boys' tag

    path = write_school(edit)
    assert load_error(path) == (
        f"{path}: checkpoint tag 'T-1NB' is in zones 'bath-1n-boys' and 'bath-1n-girls'; "
        "a tag may belong to only one zone"
    )


def test_duplicate_checkpoint_tag_message_names_the_tag(
    write_school: Callable[..., Path],
) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["zones"][1]["checkpoints"] = ["T-1NB"]

    assert "'T-1NB'" in load_error(write_school(edit))


def test_unknown_escalation_target(write_school: Callable[..., Path]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["escalation_policies"][1]["steps"][1]["targets"] = ["principal", "janitor"]

    path = write_school(edit)
    assert load_error(path) == (f"{path}: escalation_policies.1.steps.1: unknown target 'janitor'")


def test_escalation_target_may_be_a_person_id(write_school: Callable[..., Path]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["escalation_policies"][0]["steps"][0]["targets"] = ["principal-okafor"]

    school = load_school(write_school(edit))
    assert school.escalation_policies[0].steps[0].targets == ["principal-okafor"]


def test_unknown_timezone(write_school: Callable[..., Path]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["timezone"] = "America/Springfield"

    path = write_school(edit)
    assert load_error(path) == (f"{path}: timezone 'America/Springfield' is not an IANA zone name")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "school.yaml"
    path.write_text(
        "id: lhs\nname: Lakeside High School\ntimezone: America/Chicago\n"
        "student_count: 912\n  zones: oops\n",
        encoding="utf-8",
    )
    assert load_error(path) == f"{path}: line 5 is not valid YAML"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    assert load_error(path) == f"{path}: cannot read (No such file or directory)"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    assert load_error(path) == (
        f"{path}: Input should be a valid dictionary or instance of SchoolConfig"
    )


def test_unknown_key_is_refused(write_school: Callable[..., Path]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["mascot"] = "Lakers"

    path = write_school(edit)
    assert load_error(path) == f"{path}: mascot: Extra inputs are not permitted"


def test_unknown_nested_key_is_refused(write_school: Callable[..., Path]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["zones"][3]["floor"] = 2

    path = write_school(edit)
    assert load_error(path) == f"{path}: zones.3.floor: Extra inputs are not permitted"


def test_bad_email(write_school: Callable[..., Path]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["people"][2]["email"] = "a.okafor.lakeside.example.org"

    path = write_school(edit)
    assert load_error(path) == (
        f"{path}: people.2.email: value is not a valid email address: "
        "An email address must have an @-sign."
    )


def test_several_errors_report_the_first_and_count_the_rest(
    write_school: Callable[..., Path],
) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["student_count"] = 0
        d["mascot"] = "Lakers"

    path = write_school(edit)
    assert load_error(path) == (
        f"{path}: student_count: Input should be greater than or equal to 1 (+1 more)"
    )


# --- several schools ---------------------------------------------------------------------------


def test_load_schools_keys_schools_by_id(
    clean_env: pytest.MonkeyPatch, write_school: Callable[..., Path]
) -> None:
    def other(d: dict[str, Any]) -> None:
        d["id"] = "rms"
        d["name"] = "Riverside Middle School"

    second = write_school(other, name="rms.yaml")
    settings = Settings(schools=f"{EXAMPLE_SCHOOL},{second}")
    schools = load_schools(settings)
    assert list(schools) == ["lhs", "rms"]
    assert schools["rms"].name == "Riverside Middle School"


def test_load_schools_rejects_the_same_id_twice(
    clean_env: pytest.MonkeyPatch, write_school: Callable[..., Path]
) -> None:
    copy_path = write_school(lambda d: None, name="lhs-copy.yaml")
    settings = Settings(schools=f"{EXAMPLE_SCHOOL},{copy_path}")
    with pytest.raises(SchoolConfigError) as info:
        load_schools(settings)
    assert str(info.value) == f"{copy_path}: school id 'lhs' is configured twice"


def test_load_schools_passes_a_broken_file_error_through(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(SchoolConfigError) as info:
        load_schools(Settings(schools=f"{EXAMPLE_SCHOOL},{missing}"))
    assert str(info.value) == f"{missing}: cannot read (No such file or directory)"


# --- settings ---------------------------------------------------------------------------------


def test_database_url_defaults_to_a_sqlite_file_per_service(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    data = (tmp_path / "data").resolve()
    assert settings.database_url("patrol") == f"sqlite+aiosqlite:///{data}/patrol.db"
    assert settings.database_url("visitors") == f"sqlite+aiosqlite:///{data}/visitors.db"


def test_relative_data_dir_gives_an_absolute_sqlite_path(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.chdir(tmp_path)
    settings = Settings()
    assert settings.data_dir == Path("data")
    assert settings.database_url("alerts") == (
        f"sqlite+aiosqlite:///{tmp_path.resolve()}/data/alerts.db"
    )


def test_patrol_db_url_env_overrides_only_patrol(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = "postgresql+asyncpg://lookout@db.example.org:5432/patrol"
    clean_env.setenv("LOOKOUT_PATROL_DB_URL", url)
    clean_env.setenv("LOOKOUT_DATA_DIR", str(tmp_path / "elsewhere"))
    settings = Settings()
    assert settings.database_url("patrol") == url
    assert settings.database_url("reports") == (
        f"sqlite+aiosqlite:///{(tmp_path / 'elsewhere').resolve()}/reports.db"
    )


def test_empty_patrol_db_url_env_falls_back_to_sqlite(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("LOOKOUT_PATROL_DB_URL", "")
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url("patrol") == f"sqlite+aiosqlite:///{tmp_path.resolve()}/patrol.db"


def test_school_paths_default_to_the_example(clean_env: pytest.MonkeyPatch) -> None:
    assert Settings().school_paths() == [EXAMPLE_SCHOOL]


def test_school_paths_from_comma_list(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LOOKOUT_SCHOOLS", " /etc/lookout/lhs.yaml , schools/rms.yaml,, ")
    assert Settings().school_paths() == [
        Path("/etc/lookout/lhs.yaml"),
        Path("schools/rms.yaml"),
    ]


def test_blank_schools_env_means_the_example(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LOOKOUT_SCHOOLS", "   ")
    assert Settings().school_paths() == [EXAMPLE_SCHOOL]
