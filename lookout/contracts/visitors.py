"""Events about visitors on site. They carry visit ids and badges, never names, ID digits or DOB."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from lookout.contracts.bounds import DateOfBirth, PersonName, RequestDate
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


# Emitted after the automatic `checked_out` for every visit still on site at the close (each
# has been reported overdue by then: the overdue timer fires at the close at the latest). Only
# a desk sign-out says someone saw the visitor leave.
class VisitorUnaccounted(Event):
    """Checked out at the end of the day, not at the desk: nobody saw the visitor leave."""

    type: Literal["visitor.unaccounted"]
    visit_id: uuid.UUID
    badge_number: Token
    expected_until: AwareDatetime = Field(description="When the visitor was expected to leave.")
    checked_out_at: AwareDatetime = Field(description="When the badge was closed automatically.")
    last_seen_zone: Token | None = Field(
        default=None, description="Where the SSO last saw the badge, if anywhere."
    )
    last_seen_at: AwareDatetime | None = None


class DrillEndReason(StrEnum):
    ALL_ACCOUNTED_FOR = "all_accounted_for"
    ENDED_BY_STAFF = "ended_by_staff"
    DAY_ENDED = "day_ended"  # left open: closed with its school day


class AccountedHow(StrEnum):
    MARKED = "marked"  # staff saw the visitor at the assembly point
    SIGNED_OUT = "signed_out"  # signed out at the desk during the drill: seen leaving


# An evacuation drill: who was on site when it started must each be accounted for. Ids only.
class DrillStarted(Event):
    """Staff started an evacuation drill: every visitor on site must be accounted for."""

    type: Literal["visitor.drill_started"]
    drill_id: uuid.UUID
    visitors: int = Field(
        ge=0, description="How many visitors were in the building (on site or held) at the start."
    )


class VisitorAccountedFor(Event):
    """A visitor on site at a drill's start was seen at the assembly point, or signed out."""

    type: Literal["visitor.accounted_for"]
    drill_id: uuid.UUID
    visit_id: uuid.UUID
    how: AccountedHow
    accounted_by: Token


class DrillEnded(Event):
    """The drill ended: everyone accounted for (with the time it took), or ended by staff."""

    type: Literal["visitor.drill_ended"]
    drill_id: uuid.UUID
    reason: DrillEndReason
    accounted: int = Field(ge=0)
    unaccounted: int = Field(ge=0)
    seconds_to_account: int | None = Field(
        default=None, ge=0, description="From the start to the last visitor accounted for."
    )


# --- front-office requests and replies (request-reply, never on a stream) -----------------------
#
# Requests go to `command.<school>.visitors.<verb>` and `query.<school>.visitors.<name>`; the
# replies are `{"ok": true, "result": <Reply>}` or `{"ok": false, "error": "..."}`. Unlike events,
# the roster and screening replies carry visitor names: the front office needs them (evacuation
# list, judging a watchlist match), and request-reply messages are not stored by any stream.

IdLast4 = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9]{4}$"),
    Field(description="The last 4 characters of the ID number, never the whole number."),
]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdType(StrEnum):
    DRIVERS_LICENSE = "drivers_license"
    STATE_ID = "state_id"
    PASSPORT = "passport"
    MILITARY_ID = "military_id"
    OTHER = "other"


class VisitStatus(StrEnum):
    PENDING_SCREENING = "pending_screening"
    ON_SITE = "on_site"
    CHECKED_OUT = "checked_out"
    DENIED = "denied"


class ScreeningAnswer(StrEnum):
    YES = "yes"
    NO = "no"
    NOT_SURE = "not_sure"


class SignIn(Request):
    """Sign a visitor in at the front office (`command.<school>.visitors.sign_in.<person>`)."""

    ACTING_FIELD: ClassVar[str] = "signed_in_by"

    request_id: uuid.UUID = Field(
        description="Made by the client, so a retry after a lost reply is the same sign-in."
    )
    first_name: PersonName
    last_name: PersonName
    date_of_birth: DateOfBirth | None = Field(
        default=None,
        description="Only for screening; after 1900, and the service refuses one in the future "
        "or more than 120 years ago by its clock.",
    )
    visitor_type: VisitorType
    id_type: IdType
    id_last4: IdLast4
    purpose: ShortText
    host_id: Token = Field(description="The staff member visited (a person id of the school).")
    destination_zones: list[Token] = Field(min_length=1, max_length=10)
    expected_minutes: int = Field(ge=5, le=12 * 60, description="Expected length of the visit.")
    signed_in_by: Token = Field(
        description="Front-office staff person id: the subject's last token (refused in the body)."
    )


class SignOut(Request):
    """Sign a visitor out by badge number or visit id
    (`command.<school>.visitors.sign_out.<person>`)."""

    ACTING_FIELD: ClassVar[str] = "signed_out_by"

    visit_id: uuid.UUID | None = None
    badge_number: Token | None = None
    signed_out_by: Token = Field(
        description="Front-office staff person id: the subject's last token (refused in the body)."
    )

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if (self.visit_id is None) == (self.badge_number is None):
            raise ValueError("give exactly one of visit_id or badge_number")
        return self


class Screen(Request):
    """A staff member's answer about a possible watchlist match
    (`command.<school>.visitors.screen.<person>`)."""

    ACTING_FIELD: ClassVar[str] = "decided_by"

    visit_id: uuid.UUID
    watchlist_entry_id: Token | None = Field(
        default=None, description="Which match; may be left out when the visit has only one."
    )
    answer: ScreeningAnswer
    decided_by: Token = Field(
        description="Staff person id: the subject's last token (refused in the body)."
    )
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class Roster(Request):
    """Who is in the building right now (`query.<school>.visitors.roster.<person>`)."""

    include_pending: bool = Field(
        default=True, description="Also list visitors waiting on a screening decision."
    )


class PossibleMatch(BaseModel):
    """A watchlist entry the visitor may be, for the staff member who decides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    watchlist_entry_id: Token
    score: float = Field(ge=0, le=1)
    listed_name: str = Field(description="The name on the watchlist entry.")
    kind: str = Field(description="custody_restriction, trespass_order, banned…")
    note: str = ""
    answer: ScreeningAnswer | None = Field(default=None, description="The latest answer, if any.")
    date_of_birth_check: Literal["same", "swapped", "differs", "missing"] | None = Field(
        default=None,
        description="What the dates of birth say: the same, day and month swapped, different, "
        "or none to compare. None: screened before the check was kept.",
    )
    listed_date_of_birth: date | None = Field(
        default=None,
        description="The listed person's date of birth, beside the visitor's for the clerk. "
        "None: the list gives none (or the visit's personal data was purged).",
    )


class VisitReply(BaseModel):
    """A visit as the front office sees it after a command."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    visit_id: uuid.UUID
    status: VisitStatus
    badge_number: Token | None = Field(description="None until the visitor is admitted.")
    destination_zones: list[Token]
    expected_until: AwareDatetime | None = None
    badge_valid_until: AwareDatetime | None = Field(
        default=None, description="End of the school day: the badge expires by itself."
    )
    checked_out_at: AwareDatetime | None = None
    checkout_method: CheckoutMethod | None = None
    possible_matches: list[PossibleMatch] = Field(default_factory=list)


class RosterEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    visit_id: uuid.UUID
    status: VisitStatus
    badge_number: Token | None
    name: str
    visitor_type: VisitorType
    host_id: Token
    host_name: str
    destination_zones: list[Token]
    since: AwareDatetime = Field(description="Signed in at.")
    expected_until: AwareDatetime | None
    overdue: bool
    last_seen_zone: Token | None = None
    last_seen_at: AwareDatetime | None = None


class RosterReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: AwareDatetime
    visitors: list[RosterEntry]


class Held(Request):
    """Sign-ins awaiting a screening decision (`query.<school>.visitors.held.<person>`), so a
    held visit can be decided from another tab or after a reload."""


class HeldVisit(BaseModel):
    """A held sign-in as the person deciding sees it: the visitor beside each possible match.
    The ID's type only, never its digits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    visit_id: uuid.UUID
    first_name: str
    last_name: str
    date_of_birth: date | None = Field(description="The visitor's, to compare with the list's.")
    id_type: IdType
    visitor_type: VisitorType
    host_id: Token
    host_name: str
    destination_zones: list[Token]
    since: AwareDatetime = Field(description="Signed in at.")
    possible_matches: list[PossibleMatch]


class HeldReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: AwareDatetime
    visits: list[HeldVisit] = Field(description="Oldest sign-in first.")


class EndOfDay(Request):
    """Who never signed out on a school day (`query.<school>.visitors.end_of_day.<person>`):
    the visits the automatic end-of-day checkout closed, each of which raised
    `visitor.unaccounted`, so the front office can follow up."""

    day: RequestDate | None = Field(
        default=None, description="The school's calendar day of the badges; default: today."
    )


class UnaccountedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    visit_id: uuid.UUID
    badge_number: Token
    name: str = Field(description="Empty once the visitor's personal data was purged.")
    visitor_type: VisitorType
    host_id: Token
    host_name: str
    destination_zones: list[Token]
    since: AwareDatetime = Field(description="Checked in at.")
    expected_until: AwareDatetime | None
    checked_out_at: AwareDatetime = Field(description="When the badge was closed automatically.")
    last_seen_zone: Token | None = None
    last_seen_at: AwareDatetime | None = None


class EndOfDayReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    day: date
    visitors: list[UnaccountedEntry] = Field(description="Oldest check-in first.")


# --- evacuation drills ------------------------------------------------------------------------


class DrillStart(Request):
    """Start an evacuation drill (`command.<school>.visitors.drill_start.<person>`); while one
    is open, starting again answers that one (two desks pressing Start get one drill)."""

    ACTING_FIELD: ClassVar[str] = "started_by"

    started_by: Token = Field(
        description="Staff person id: the subject's last token (refused in the body)."
    )


class DrillAccount(Request):
    """A visitor seen at the assembly point (`command.<school>.visitors.drill_account.<person>`);
    marking one already accounted for changes nothing."""

    ACTING_FIELD: ClassVar[str] = "accounted_by"

    drill_id: uuid.UUID
    visit_id: uuid.UUID
    accounted_by: Token = Field(
        description="Staff person id: the subject's last token (refused in the body)."
    )


class DrillEnd(Request):
    """End a drill before everyone is accounted for (`command.<school>.visitors.drill_end.<p>`)."""

    ACTING_FIELD: ClassVar[str] = "ended_by"

    drill_id: uuid.UUID
    ended_by: Token = Field(
        description="Staff person id: the subject's last token (refused in the body)."
    )


class DrillQuery(Request):
    """A drill and who is still unaccounted for (`query.<school>.visitors.drill.<person>`)."""

    drill_id: uuid.UUID | None = Field(
        default=None, description="Default: the open drill, else the latest one."
    )


class DrillVisitor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    visit_id: uuid.UUID
    badge_number: Token | None = Field(description="None: held for screening at the start.")
    name: str
    visitor_type: VisitorType
    host_id: Token
    host_name: str
    destination_zones: list[Token]
    last_seen_zone: Token | None = None
    last_seen_at: AwareDatetime | None = None
    accounted_at: AwareDatetime | None = None
    accounted_by: Token | None = None
    how: AccountedHow | None = None


class DrillState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    drill_id: uuid.UUID
    started_at: AwareDatetime
    started_by: Token
    ended_at: AwareDatetime | None = None
    ended_by: Token | None = None
    end_reason: DrillEndReason | None = None
    seconds_to_account: int | None = Field(
        default=None, description="Set when the last visitor was accounted for."
    )
    visitors: list[DrillVisitor] = Field(description="Unaccounted first, then by sign-in.")


class DrillReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: AwareDatetime
    drill: DrillState | None = Field(description="None: this school has never run a drill.")
