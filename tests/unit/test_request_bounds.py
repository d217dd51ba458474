"""Request fields within sane bounds (issue 13, item 4): the contract refuses what no request can
mean, naming the field and never the value; the sign-in handler judges a date of birth by the
school's day."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from lookout.contracts.bounds import date_of_birth_fault
from lookout.contracts.patrol_queries import (
    DeterrenceRequest,
    FocusRequest,
    HotspotsRequest,
    ShiftSummaryRequest,
    TourStatsRequest,
)
from lookout.contracts.reports import SendRequest, WeeklyPreviewRequest
from lookout.contracts.subjects import describe
from lookout.contracts.visitors import SignIn

DATE_RANGE = "Value error, must be between 2000-01-01 and 2100-12-31"
WEEK_RANGE = "Value error, must be a week of the years 2000 to 2100"
NAME_FAULT = "Value error, must not contain control, format or unassigned characters"
WHO = {"requested_by": "ap-chen"}


def parse(model: type[Any], data: dict[str, Any]) -> Any:
    """As the service does: from the request's JSON bytes."""
    return model.model_validate_json(json.dumps(data))


def refusal(model: type[Any], data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        parse(model, data)
    return describe(caught.value)


def sign_in(**fields: Any) -> dict[str, Any]:
    return {
        "request_id": str(uuid.uuid4()),
        "first_name": "Ann",
        "last_name": "Lee",
        "visitor_type": "parent",
        "id_type": "drivers_license",
        "id_last4": "4821",
        "purpose": "Meeting",
        "host_id": "counselor-patel",
        "destination_zones": ["library"],
        "expected_minutes": 60,
        "signed_in_by": "office-garcia",
    } | fields


@pytest.mark.parametrize(
    ("model", "data", "expected"),
    [
        (ShiftSummaryRequest, {"officer_id": "s", "day": "0001-01-01"}, f"day: {DATE_RANGE}"),
        (ShiftSummaryRequest, {"officer_id": "s", "day": "9999-12-31"}, f"day: {DATE_RANGE}"),
        (ShiftSummaryRequest, {"officer_id": "s", "day": "1999-12-31"}, f"day: {DATE_RANGE}"),
        (ShiftSummaryRequest, {"officer_id": "s", "day": "2101-01-01"}, f"day: {DATE_RANGE}"),
        (TourStatsRequest, {"date_from": "0001-01-01"}, f"date_from: {DATE_RANGE}"),
        (DeterrenceRequest, {"date_to": "9999-12-31"}, f"date_to: {DATE_RANGE}"),
        (HotspotsRequest, {"as_of": "9999-12-31"}, f"as_of: {DATE_RANGE}"),
        (FocusRequest, {"week": "0001-W01"}, f"week: {WEEK_RANGE}"),
        (FocusRequest, {"week": "9999-W52"}, f"week: {WEEK_RANGE}"),
        (WeeklyPreviewRequest, {"week": "1999-W52"}, f"week: {WEEK_RANGE}"),
        (SendRequest, {"week": "2101-W01"}, f"week: {WEEK_RANGE}"),
    ],
)
def test_dates_and_weeks_outside_2000_to_2100_are_refused_by_name(
    model: type[Any], data: dict[str, Any], expected: str
) -> None:
    if "requested_by" in model.model_fields:
        data = WHO | data
    assert refusal(model, data) == expected


def test_the_ends_of_the_range_are_accepted() -> None:
    for day in ("2000-01-01", "2100-12-31"):
        req = parse(ShiftSummaryRequest, WHO | {"officer_id": "s", "day": day})
        assert req.day == date.fromisoformat(day)
    assert parse(FocusRequest, WHO | {"week": "2000-W01"}).week == "2000-W01"
    assert parse(SendRequest, {"week": "2100-W52"}).week == "2100-W52"


@pytest.mark.parametrize(
    "name",
    [
        "An\x00n",  # NUL (Cc)
        "An\nn",  # a newline inside (the ends are stripped as whitespace)
        "An\x1b[2Jn",  # a terminal escape
        "An\x7fn",  # DEL
        "An\u200bn",  # zero-width space (Cf)
        "An\u202en",  # right-to-left override (Cf)
        "An\ue000n",  # private use (Co)
        "An\U000e0001n",  # language tag (Cf)
        "An\u0378n",  # unassigned (Cn)
    ],
)
def test_names_with_control_format_or_unassigned_characters_are_refused(name: str) -> None:
    assert refusal(SignIn, sign_in(first_name=name)) == f"first_name: {NAME_FAULT}"
    assert refusal(SignIn, sign_in(last_name=name)) == f"last_name: {NAME_FAULT}"


def test_names_in_any_script_with_marks_and_spaces_are_accepted() -> None:
    for first, last in [
        ("  Zoë\t", "O'Brien-Núñez\n"),
        ("Nguyễn", "Thị Minh"),
        ("محمد", "عبد الله"),
        ("José María", "de la Cruz"),
        ("李", "小龙"),
    ]:
        req = parse(SignIn, sign_in(first_name=first, last_name=last))
        assert (req.first_name, req.last_name) == (first.strip(), last.strip())


def test_a_date_of_birth_in_1900_or_before_is_refused_by_the_contract() -> None:
    expected = "date_of_birth: Value error, must not be before 1901-01-01"
    for born in ("1900-12-31", "1900-01-01", "0001-01-01"):
        assert refusal(SignIn, sign_in(date_of_birth=born)) == expected
    assert parse(SignIn, sign_in(date_of_birth="1901-01-01")).date_of_birth == date(1901, 1, 1)
    assert parse(SignIn, sign_in()).date_of_birth is None


def test_the_service_refuses_a_date_of_birth_in_the_future_or_over_120_years_ago() -> None:
    today = date(2026, 11, 23)
    future = "date_of_birth: must not be in the future"
    too_old = "date_of_birth: must be within the last 120 years"
    assert date_of_birth_fault(date(2026, 11, 24), today) == future
    assert date_of_birth_fault(date(2027, 1, 1), today) == future
    assert date_of_birth_fault(date(9999, 12, 31), today) == future
    assert date_of_birth_fault(date(1906, 11, 22), today) == too_old
    assert date_of_birth_fault(date(1906, 11, 23), today) is None  # 120 today
    assert date_of_birth_fault(date(2026, 11, 23), today) is None  # born today
    assert date_of_birth_fault(None, today) is None
    # Born on 29 February: 120 years later, 28 February is still within, 1 March is not.
    assert date_of_birth_fault(date(1904, 2, 29), date(2024, 2, 28)) is None
    assert date_of_birth_fault(date(1904, 2, 29), date(2024, 3, 1)) == too_old
