"""Events the SSO's phone emits on patrol, and what the patrol service emits about the plan."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from lookout.contracts.envelope import Event, Note, StudentRef, Token


class ScanMethod(StrEnum):
    NFC = "nfc"
    QR = "qr"
    MANUAL = "manual"


class ObservationCategory(StrEnum):
    VAPING = "vaping"
    LOITERING = "loitering"
    UNAUTHORIZED_AREA = "unauthorized_area"
    PROPERTY_DAMAGE = "property_damage"
    HAZARD = "hazard"
    OTHER = "other"


class ConcernCategory(StrEnum):
    VAPING = "vaping"
    CONFLICT = "conflict"
    BULLYING = "bullying"
    EMOTIONAL_DISTRESS = "emotional_distress"
    SELF_HARM_RISK = "self_harm_risk"
    WEAPON = "weapon"
    INTRUDER = "intruder"
    MEDICAL = "medical"
    HAZARD = "hazard"
    OTHER = "other"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ResolutionOutcome(StrEnum):
    RESOLVED_BY_SSO = "resolved_by_sso"
    REFERRED_TO_COUNSELOR = "referred_to_counselor"
    REFERRED_TO_ADMIN = "referred_to_admin"
    PARENT_CONTACTED = "parent_contacted"
    NO_ACTION_NEEDED = "no_action_needed"


class ContactKind(StrEnum):
    POSITIVE_CONTACT = "positive_contact"
    CHECK_IN = "check_in"
    DE_ESCALATION = "de_escalation"
    REFERRAL_TO_COUNSELOR = "referral_to_counselor"


StudentRefs = list[StudentRef]


class CheckpointScanned(Event):
    """The SSO scanned a checkpoint tag while on patrol."""

    type: Literal["checkpoint.scanned"]
    zone_id: Token = Field(description="Zone the checkpoint belongs to.")
    checkpoint_tag: Token = Field(description="The tag id printed on/programmed into the tag.")
    method: ScanMethod


class ObservationLogged(Event):
    """Something the SSO noticed about a place (not a person)."""

    type: Literal["observation.logged"]
    zone_id: Token
    category: ObservationCategory
    note: Note = ""


class ConcernRaised(Event):
    """A concern about one or more students; raised by the SSO, staff or a sensor."""

    type: Literal["concern.raised"]
    concern_id: uuid.UUID = Field(description="Made by the emitter; stable across updates.")
    category: ConcernCategory
    severity: Severity
    zone_id: Token | None = None
    student_refs: StudentRefs = Field(default_factory=list, max_length=20)
    note: Note = ""


class ConcernUpdated(Event):
    """New information on an open concern; omitted fields are unchanged."""

    type: Literal["concern.updated"]
    concern_id: uuid.UUID
    severity: Severity | None = None
    zone_id: Token | None = None
    student_refs: StudentRefs | None = Field(default=None, max_length=20)
    note: Note = ""


class ConcernResolved(Event):
    """The concern was handled; the outcome is required."""

    type: Literal["concern.resolved"]
    concern_id: uuid.UUID
    outcome: ResolutionOutcome
    note: Note = ""
    follow_up_in_school_days: int | None = Field(
        default=None,
        ge=1,
        le=20,
        description="Check back on the students after this many school days (welfare re-check).",
    )


class ContactLogged(Event):
    """A preventive contact with students: positive, check-in, de-escalation, referral."""

    type: Literal["contact.logged"]
    kind: ContactKind
    zone_id: Token | None = None
    student_refs: StudentRefs = Field(min_length=1, max_length=20)
    concern_id: uuid.UUID | None = Field(
        default=None, description="Set when the contact is part of handling a concern."
    )
    note: Note = ""


class CheckMissed(Event):
    """A patrol window closed without a scan of its zone (emitted by the patrol service)."""

    type: Literal["check.missed"]
    zone_id: Token
    window_start: AwareDatetime
    window_end: AwareDatetime


class FollowUpMissed(Event):
    """A welfare re-check scheduled when a concern was resolved was not done by its due time."""

    type: Literal["follow_up.missed"]
    concern_id: uuid.UUID
    category: ConcernCategory
    severity: Severity
    zone_id: Token | None = None
    due_at: AwareDatetime


class WindowOutcome(StrEnum):
    CHECKED = "checked"
    LATE = "late"
    MISSED = "missed"


class CheckWindowClosed(Event):
    """A planned or unannounced check window closed: checked on time, late (in grace), or missed."""

    type: Literal["check.window_closed"]
    zone_id: Token
    window_start: AwareDatetime
    window_end: AwareDatetime
    outcome: WindowOutcome
    unannounced: bool = False
    period: Token | None = Field(default=None, description="Bell period the window belongs to.")


class CheckRecovered(Event):
    """A window already marked missed was checked after all: a scan made inside the window or
    its grace was delivered after the deadline (weak signal in a bathroom, a restart backlog).
    The window is upgraded to `outcome`; alerts resolves the zone's missed-check alert for the
    day once `missed_today` is 0."""

    type: Literal["check.recovered"]
    zone_id: Token
    window_start: AwareDatetime
    window_end: AwareDatetime
    outcome: WindowOutcome = Field(description="checked or late: what the scan made of it.")
    unannounced: bool = False
    period: Token | None = Field(default=None, description="Bell period the window belongs to.")
    missed_today: int = Field(
        ge=0, le=10_000, description="Windows of this zone still missed on that school day."
    )


class FollowUpCompleted(Event):
    """A welfare re-check was done (a contact about the concern on or after its day), on time
    or after it was reported missed (`late`)."""

    type: Literal["follow_up.completed"]
    concern_id: uuid.UUID
    late: bool = Field(description="Done after the re-check was reported missed.")


class DeviceHeartbeat(Event):
    """The SSO's phone is alive (lone-worker safety); silence is noticed by the patrol service."""

    type: Literal["device.heartbeat"]
    device_id: Token
    officer_id: Token


class FollowUpDue(Event):
    """Reminder to the SSO: a welfare re-check of a resolved concern is due."""

    type: Literal["follow_up.due"]
    officer_id: Token
    concern_id: uuid.UUID
    zone_id: Token | None = None
    due_at: AwareDatetime


class UnannouncedCheckScheduled(Event):
    """An unannounced check, drawn at random, sent only to the SSO so students can't learn it."""

    type: Literal["unannounced_check.scheduled"]
    officer_id: Token
    zone_id: Token
    check_at: AwareDatetime
    window_end: AwareDatetime


class SensorCheckAssigned(Event):
    """A sensor in a zone went into alert: the nearest on-duty SSO is asked to check the zone
    by `check_by` (sent only to that officer, like an unannounced check)."""

    type: Literal["sensor_check.assigned"]
    officer_id: Token
    zone_id: Token
    sensor_event_id: uuid.UUID = Field(description="The `sensor.alert.raised` it answers.")
    sensor_kind: Token = Field(description="What the sensor detected (vape, thc, …).")
    raised_at: AwareDatetime
    check_by: AwareDatetime


class SensorCheckDone(Event):
    """The first checkpoint scan in the zone after a sensor alert: how long the response took
    (also when it came after the deadline, which closes the alert the miss opened)."""

    type: Literal["sensor_check.done"]
    zone_id: Token
    sensor_event_id: uuid.UUID
    sensor_kind: Token
    raised_at: AwareDatetime
    checked_at: AwareDatetime
    response_seconds: int = Field(ge=0, le=7 * 24 * 3600)
    in_time: bool = Field(description="Scanned by the deadline (the school's check minutes).")
    officer_id: Token | None = Field(default=None, description="Who scanned, if known.")


class SensorCheckMissed(Event):
    """Nobody scanned the zone within the school's sensor check minutes: the alerts service
    escalates it by the school's `sensor` policy."""

    type: Literal["sensor_check.missed"]
    zone_id: Token
    sensor_event_id: uuid.UUID
    sensor_kind: Token
    raised_at: AwareDatetime
    check_by: AwareDatetime


class FocusItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    zone_id: Token
    period: Token
    score: float = Field(ge=0)
    concerns: int = Field(ge=0)
    observations: int = Field(ge=0)
    reason: Annotated[str, StringConstraints(max_length=300)]


class PatrolFocusPublished(Event):
    """The recommended patrol focus for a week: where and when extra checks are worth it."""

    type: Literal["patrol_focus.published"]
    week: Annotated[str, StringConstraints(pattern=r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")]
    items: list[FocusItem] = Field(max_length=50)
