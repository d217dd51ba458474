"""Events of the reports service."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from lookout.contracts.envelope import Event

IsoWeek = Annotated[str, StringConstraints(pattern=r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")]


class WeeklySummarySent(Event):
    type: Literal["weekly_summary.sent"]
    week: IsoWeek = Field(description="ISO week, e.g. 2026-W48.")
    recipient_count: int = Field(ge=0, le=1000)
