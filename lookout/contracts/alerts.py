"""Events of the escalation engine; the principal's client subscribes to `alert.<school>.>`."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from lookout.contracts.envelope import Event, Note, ShortText, Token
from lookout.contracts.patrol import Severity


class AlertSource(StrEnum):
    CONCERN = "concern"
    CHECK_MISSED = "check_missed"
    HEARTBEAT_MISSED = "heartbeat_missed"
    SCREENING_FLAGGED = "screening_flagged"
    VISITOR_OVERDUE = "visitor_overdue"
    VISITOR_OUT_OF_BOUNDS = "visitor_out_of_bounds"
    FOLLOW_UP_MISSED = "follow_up_missed"


class TargetKind(StrEnum):
    ROLE = "role"
    PERSON = "person"


class EscalationTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: TargetKind
    id: Token = Field(description="A role (principal, counselor…) or a person id.")


class NotificationChannel(StrEnum):
    NATS = "nats"
    EMAIL = "email"


class NotificationOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    RATE_LIMITED = "rate_limited"


class AlertOpened(Event):
    type: Literal["alert.opened"]
    alert_id: uuid.UUID
    dedup_key: ShortText
    source: AlertSource
    severity: Severity
    source_event_id: uuid.UUID
    zone_id: Token | None = None


class AlertEscalated(Event):
    type: Literal["alert.escalated"]
    alert_id: uuid.UUID
    step: int = Field(ge=0, le=50, description="Index of the escalation step reached.")
    repeat: int = Field(ge=0, le=5, description="Which pass through the policy this is.")
    targets: list[EscalationTarget] = Field(min_length=1, max_length=20)


class AlertNotified(Event):
    """One notification attempt to one person, and its outcome."""

    type: Literal["alert.notified"]
    alert_id: uuid.UUID
    person_id: Token
    channel: NotificationChannel
    outcome: NotificationOutcome


class AlertAcknowledged(Event):
    type: Literal["alert.acknowledged"]
    alert_id: uuid.UUID
    by_person_id: Token


class AlertResolved(Event):
    type: Literal["alert.resolved"]
    alert_id: uuid.UUID
    by_person_id: Token
    outcome_note: Note = Field(min_length=1)


class HeartbeatMissed(Event):
    """The SSO's phone went silent during school hours (lone-worker safety)."""

    type: Literal["heartbeat.missed"]
    device_id: Token
    officer_id: Token
    last_seen_at: AwareDatetime | None = None
    silent_minutes: int = Field(ge=0, le=100_000)
