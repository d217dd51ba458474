"""Events of the school calendar: a day type an admin confirmed from the district's feed, or
withdrew. The CALENDAR stream keeps every one (it is the calendar's audit log); each service
that plans by the bell keeps the latest per date in its own table."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import Field

from lookout.contracts.envelope import Event, ShortText, Token


class DayKind(StrEnum):
    """What a confirmed date does to the school day."""

    NO_SCHOOL = "no_school"  # as a date in the school file's `bell_schedule.no_school_days`
    EARLY_RELEASE = "early_release"  # a school day on an alternate bell schedule
    LATE_START = "late_start"  # likewise


class DayTypeConfirmed(Event):
    type: Literal["day_type.confirmed"]
    day: date = Field(description="The school-time date it applies to.")
    day_type: DayKind = Field(description="no_school, early_release or late_start.")
    schedule: Token | None = Field(
        default=None,
        description="The alternate bell schedule (bell_schedule.alternates) it runs on; none "
        "for no school.",
    )
    titles: list[ShortText] = Field(
        default_factory=list, max_length=10, description="The feed's event titles it came from."
    )


class DayTypeWithdrawn(Event):
    type: Literal["day_type.withdrawn"]
    day: date = Field(description="The date that goes back to the school file's own bell.")
