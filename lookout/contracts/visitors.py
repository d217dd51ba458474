"""Events about visitors on site. They carry visit ids and badges, never names, ID digits or DOB."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from lookout.contracts.envelope import Event, ShortText, Token


class VisitorType(StrEnum):
    GUEST = "guest"
    PARENT = "parent"
    VOLUNTEER = "volunteer"
    CONTRACTOR = "contractor"
    SUBSTITUTE = "substitute"


class ScreeningDecision(StrEnum):
    YES = "yes"
    NOT_SURE = "not_sure"


class CheckoutMethod(StrEnum):
    FRONT_OFFICE = "front_office"
    AUTOMATIC_END_OF_DAY = "automatic_end_of_day"


class VisitorCheckedIn(Event):
    type: Literal["visitor.checked_in"]
    visit_id: uuid.UUID
    badge_number: Token
    visitor_type: VisitorType
    host_id: Token
    destination_zones: list[Token] = Field(min_length=1, max_length=10)
    purpose: ShortText
    expected_until: AwareDatetime


class VisitorCheckedOut(Event):
    type: Literal["visitor.checked_out"]
    visit_id: uuid.UUID
    badge_number: Token
    method: CheckoutMethod


class ScreeningFlagged(Event):
    """Staff confirmed (or could not rule out) a watchlist match for a visitor."""

    type: Literal["visitor.screening_flagged"]
    visit_id: uuid.UUID
    watchlist_entry_id: Token
    score: float = Field(ge=0, le=1)
    decision: ScreeningDecision
    decided_by: Token


class VisitorSighted(Event):
    type: Literal["visitor.sighted"]
    badge_number: Token
    zone_id: Token


class VisitorOverdue(Event):
    type: Literal["visitor.overdue"]
    visit_id: uuid.UUID
    badge_number: Token
    expected_until: AwareDatetime


class VisitorOutOfBounds(Event):
    type: Literal["visitor.out_of_bounds"]
    visit_id: uuid.UUID
    badge_number: Token
    zone_id: Token
    destination_zones: list[Token] = Field(min_length=1, max_length=10)
