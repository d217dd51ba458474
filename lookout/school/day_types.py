"""Day types: a date on which the school does not keep its usual bell schedule (no school, early
release, late start), and the school file's calendar section that proposes them from the
district's iCalendar feed. Pure models: no I/O.

A day type takes effect only once an admin confirms it (`lookout calendar confirm`); until then
a feed's proposal changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, model_validator

from lookout.contracts.calendar import DayKind
from lookout.contracts.envelope import Token

__all__ = ["STRENGTH", "CalendarFeed", "DayKind", "DayType", "DayTypeRule", "ProposedDay"]

Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]


# When two events of one date map to different kinds, the one that takes more of the day wins.
STRENGTH = {DayKind.NO_SCHOOL: 3, DayKind.EARLY_RELEASE: 2, DayKind.LATE_START: 1}


@dataclass(frozen=True)
class DayType:
    """A confirmed date's kind, with the alternate bell schedule it runs on (none for no
    school)."""

    kind: DayKind
    schedule: str | None = None


class DayTypeRule(BaseModel):
    """Events whose title contains one of `keywords` (any case) map to `day_type`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keywords: list[Keyword] = Field(
        min_length=1, description="Words or phrases of an event's title (SUMMARY), any case."
    )
    day_type: DayKind
    schedule: Token | None = Field(
        default=None,
        description="The alternate bell schedule (a name under `bell_schedule.alternates`) an "
        "early release or late start runs on; none for no school.",
    )

    @model_validator(mode="after")
    def _schedule_fits_kind(self) -> Self:
        if self.day_type is DayKind.NO_SCHOOL and self.schedule is not None:
            raise ValueError("a no_school rule takes no schedule")
        if self.day_type is not DayKind.NO_SCHOOL and self.schedule is None:
            raise ValueError(f"the {self.day_type.value} rule needs a schedule")
        return self

    def matches(self, title: str) -> bool:
        folded = title.casefold()
        return any(word.casefold() in folded for word in self.keywords)

    @property
    def day(self) -> DayType:
        return DayType(self.day_type, self.schedule)


class CalendarFeed(BaseModel):
    """The district's calendar: an iCalendar URL polled every `refresh_minutes`, or a file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: HttpUrl | None = Field(default=None, description="An https (or http) .ics address.")
    file: str | None = Field(
        default=None,
        description="An .ics file; a relative path is resolved against the school file's "
        "directory.",
    )
    refresh_minutes: int = Field(
        default=60, ge=5, le=7 * 24 * 60, description="How often the URL is read again."
    )
    rules: list[DayTypeRule] = Field(
        min_length=1, description="Keyword rules, in order: an event takes the first it matches."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.url is None) == (self.file is None):
            raise ValueError("calendar: give exactly one of `url` and `file`")
        return self

    def rule_for(self, title: str) -> DayTypeRule | None:
        return next((rule for rule in self.rules if rule.matches(title)), None)


@dataclass(frozen=True)
class ProposedDay:
    """A date the feed maps to a day type, with the event titles that made it so (waiting for
    an admin to confirm it)."""

    day: date
    day_type: DayType
    titles: tuple[str, ...]
