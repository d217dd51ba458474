"""Events of the reports service."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from lookout.contracts.bounds import RequestIsoWeek
from lookout.contracts.envelope import Event

IsoWeek = Annotated[str, StringConstraints(pattern=r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")]


class WeeklySummarySent(Event):
    type: Literal["weekly_summary.sent"]
    week: IsoWeek = Field(description="ISO week, e.g. 2026-W48.")
    recipient_count: int = Field(ge=0, le=1000)


# --- requests and replies (request-reply, never on a stream) ------------------------------------
#
# `query.<school>.reports.weekly` renders a preview; `command.<school>.reports.send` sends a
# week's summary now (once: a week already sent is refused); `command.<school>.reports.rebuild`
# replays every stream into a fresh read model. Replies are `{"ok": true, "result": <Reply>}` or
# `{"ok": false, "error": "..."}` (lookout.kernel.queries.answer).


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeeklyPreviewRequest(ReportRequest):
    """Render the weekly summary of a school without sending it."""

    week: RequestIsoWeek | None = Field(
        default=None, description="ISO week; default: the latest week whose report is due."
    )
    district: bool = Field(default=False, description="Render the district roll-up instead.")


class WeeklyPreview(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    week: IsoWeek
    subject: str
    html: str = Field(description="HTML with the charts inlined as data: URIs (for a browser).")
    text: str = Field(description="The plain-text part.")
    recipients: list[str] = Field(description="Who the email goes to (addresses).")
    status: str | None = Field(default=None, description="Send state of that week, if any.")


class SendRequest(ReportRequest):
    """Send a week's summary now, if it was not sent yet."""

    week: RequestIsoWeek | None = None
    district: bool = False


class SendReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    week: IsoWeek
    scope: str = Field(description="The school id, or `_district` for the roll-up.")
    status: str = Field(description="sent, pending (a retry is scheduled) or failed.")
    message_id: str
    recipients: int = Field(ge=0)
    attempts: int = Field(ge=0)
    last_error: str | None = None


class ArchiveRequest(ReportRequest):
    """`query.<school>.reports.archive.<person>`: the school's weekly summaries, newest first
    (the console's archive)."""

    limit: int = Field(default=52, ge=1, le=520)


class ArchivedWeek(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    week: IsoWeek
    first_day: date = Field(description="The school days the email is named by: its Monday…")
    last_day: date = Field(description="…to the school's report day.")
    state: str = Field(description="pending, rendered, sending, sent or failed.")
    sent_at: AwareDatetime | None
    recipients: int = Field(ge=0)


class Archive(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weeks: list[ArchivedWeek]


class SentCopyRequest(ReportRequest):
    """`query.<school>.reports.sent_copy.<person>`: a week's summary exactly as it was emailed
    (the stored message), not a new rendering."""

    week: RequestIsoWeek


class SentCopy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    week: IsoWeek
    subject: str
    html: str = Field(description="The email's HTML, its charts inlined as data: URIs.")
    sent_at: AwareDatetime


class RebuildRequest(ReportRequest):
    """Drop the read model (facts only, never the send marks) and replay every stream."""


class RebuildReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    events: dict[str, int] = Field(description="Messages read per stream.")
    applied: int = Field(ge=0, description="Events applied to the read model.")
    seconds: float = Field(ge=0)
