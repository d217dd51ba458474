"""Sane bounds for request fields (issue 13, item 4): a date a service computes with, a week, a
person's name, a date of birth.

Each refusal is a ValueError whose message names the fault, never the value (pydantic reports it
under the field's name: `day: Value error, must be between 2000-01-01 and 2100-12-31`), so an
error reply cannot echo what a client sent. Dates are bounded so that no arithmetic a service
does with them (weeks back, a day forward, time zones) overflows `date`'s years 1..9999.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

REQUEST_DATE_MIN = date(2000, 1, 1)
REQUEST_DATE_MAX = date(2100, 12, 31)
# The request model cannot know today; it refuses what no visitor can be. The service refuses a
# date in the future, or more than MAX_AGE_YEARS ago, by its own clock (`date_of_birth_fault`).
DATE_OF_BIRTH_MIN = date(1901, 1, 1)
MAX_AGE_YEARS = 120


def _request_date(value: date) -> date:
    if not REQUEST_DATE_MIN <= value <= REQUEST_DATE_MAX:
        raise ValueError(f"must be between {REQUEST_DATE_MIN} and {REQUEST_DATE_MAX}")
    return value


def _request_week(value: str) -> str:
    if not REQUEST_DATE_MIN.year <= int(value[:4]) <= REQUEST_DATE_MAX.year:
        raise ValueError(
            f"must be a week of the years {REQUEST_DATE_MIN.year} to {REQUEST_DATE_MAX.year}"
        )
    return value


def _printable(value: str) -> str:
    # Category C: control (Cc: NUL, ESC, newline…), format (Cf: zero-width and bidi marks),
    # surrogate, private use and unassigned characters.
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ValueError("must not contain control, format or unassigned characters")
    return value


def _date_of_birth(value: date) -> date:
    if value < DATE_OF_BIRTH_MIN:
        raise ValueError(f"must not be before {DATE_OF_BIRTH_MIN}")
    return value


RequestDate = Annotated[date, AfterValidator(_request_date)]
RequestIsoWeek = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$"),
    AfterValidator(_request_week),
    Field(description="ISO week, e.g. `2026-W49` (years 2000 to 2100)."),
]
PersonName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=60),
    AfterValidator(_printable),
    Field(description="As written on the ID (no control or format characters)."),
]
DateOfBirth = Annotated[date, AfterValidator(_date_of_birth)]


def date_of_birth_fault(value: date | None, today: date) -> str | None:
    """Why a date of birth cannot be a visitor's on `today` (the service's clock, the school's
    day), naming the field and never the date; None when it can."""
    if value is None:
        return None
    if value > today:
        return "date_of_birth: must not be in the future"
    if (value.year, value.month, value.day) < (today.year - MAX_AGE_YEARS, today.month, today.day):
        return f"date_of_birth: must be within the last {MAX_AGE_YEARS} years"
    return None
