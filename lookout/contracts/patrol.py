"""Events the SSO's phone emits on patrol, and what the patrol service emits about the plan."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

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
