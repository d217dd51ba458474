"""Events of the escalation engine; the principal's client subscribes to `alert.<school>.>`."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from lookout.contracts.envelope import Event, Note, ShortText, Token
from lookout.contracts.patrol import Severity


class AlertSource(StrEnum):
    CONCERN = "concern"
    CHECK_MISSED = "check_missed"
    HEARTBEAT_MISSED = "heartbeat_missed"
    SCREENING_FLAGGED = "screening_flagged"
    VISITOR_OVERDUE = "visitor_overdue"
    VISITOR_OUT_OF_BOUNDS = "visitor_out_of_bounds"
    VISITOR_UNACCOUNTED = "visitor_unaccounted"
    FOLLOW_UP_MISSED = "follow_up_missed"
    SENSOR_UNCHECKED = "sensor_unchecked"  # a sensor alert's zone nobody checked in time


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
    PUSH = "push"  # Web Push (RFC 8030/8291) to a browser the person subscribed
    SMS = "sms"  # a text message through the school's SMS provider, answered by reply code


class NotificationOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    RATE_LIMITED = "rate_limited"


class NotificationRoute(StrEnum):
    """Why a person was told: a step of the alert's policy, or the safety net of a high or
    critical alert that no step could route to anyone on duty."""

    POLICY = "policy"
    ON_CALL = "on_call"  # the school's on-call people on duty at that moment
    NOBODY_ON_DUTY = "nobody_on_duty"  # nobody on duty at all: every target of the policy


class RoutingState(StrEnum):
    """Where an open alert's escalation stands (`alerts list` shows it)."""

    ESCALATING = "escalating"  # a step is due at next_step_at
    HELD = "held"  # low/medium: nobody reachable now; re-tried at next_step_at (<= 1 day)
    UNROUTABLE = "unroutable"  # nobody reachable within 14 days; re-checked daily
    EXHAUSTED = "exhausted"  # every step fired; open until acknowledged (a repeat re-notifies)
    ACKNOWLEDGED = "acknowledged"  # re-triggers at next_step_at unless resolved
    RESOLVED = "resolved"


class AlertOpened(Event):
    type: Literal["alert.opened"]
    alert_id: uuid.UUID
    dedup_key: ShortText
    source: AlertSource
    severity: Severity
    source_event_id: uuid.UUID
    zone_id: Token | None = None
    category: Token | None = Field(default=None, description="Concern category or the source.")
    policy: Token | None = Field(default=None, description="The escalation policy it follows.")


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
    """An alert was resolved. The outcome note (free text that may concern students) stays in
    the alerts service, behind the access-logged `show`, and is erased with the school's
    retention: the event only says that one was written."""

    type: Literal["alert.resolved"]
    alert_id: uuid.UUID
    by_person_id: Token
    has_outcome_note: bool = Field(
        default=True, description="An outcome note was recorded (read it with `show`)."
    )
    outcome_note: Note | None = Field(
        default=None,
        description="Never set since 2026-12: events written before carried the note; they are "
        "still accepted so a stream replay keeps working.",
    )


class HeartbeatMissed(Event):
    """The SSO's phone went silent during school hours (lone-worker safety)."""

    type: Literal["heartbeat.missed"]
    device_id: Token
    officer_id: Token
    last_seen_at: AwareDatetime | None = None
    silent_minutes: int = Field(ge=0, le=100_000)


class HeartbeatResumed(Event):
    """A phone whose silence was reported sends heartbeats again: the lone-worker alarm about
    its officer clears (emitted by the patrol service)."""

    type: Literal["heartbeat.resumed"]
    device_id: Token
    officer_id: Token
    silent_since: AwareDatetime | None = None


# --- per-person notification -------------------------------------------------------------------


class AlertNotification(Event):
    """What one person's client receives when an escalation step reaches them.

    Published on `alert.<school>.notify.<person_id>`. It carries ids,
    enums and the zone id only: never student references or note text.
    """

    type: Literal["alert.notification"]
    alert_id: uuid.UUID
    person_id: Token = Field(description="The person this notification is for.")
    source: AlertSource
    category: Token = Field(description="Concern category, or the alert source.")
    severity: Severity
    zone_id: Token | None = None
    step: int = Field(ge=0, le=50, description="Index of the escalation step reached.")
    repeat: int = Field(ge=0, le=5, description="Which pass through the policy this is.")
    count: int = Field(ge=1, description="How many reports were folded into this alert.")
    opened_at: AwareDatetime
    route: NotificationRoute = Field(
        default=NotificationRoute.POLICY,
        description="policy: a step of the alert's policy; on_call / nobody_on_duty: the safety "
        "net of a high or critical alert no step could route.",
    )


# --- commands and queries (request-reply on command./query.<school>.alerts.<name>) -------------


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AckRequest(_Request):
    """`command.<school>.alerts.ack.<person>`: stop the escalation; it re-triggers after the ack
    timeout."""

    ACTING_FIELD: ClassVar[str] = "by_person_id"
    alert_id: uuid.UUID
    by_person_id: Token = Field(
        description="Who acknowledges: the subject's last token (refused in the body)."
    )


class ResolveRequest(_Request):
    """`command.<school>.alerts.resolve.<person>`: close the alert. An outcome note is required."""

    ACTING_FIELD: ClassVar[str] = "by_person_id"
    alert_id: uuid.UUID
    by_person_id: Token = Field(
        description="Who resolves: the subject's last token (refused in the body)."
    )
    note: Note = Field(default="", description="Outcome note; a blank note is refused.")


class ShowRequest(_Request):
    """`query.<school>.alerts.show.<person>`: one alert and its timeline."""

    ACTING_FIELD: ClassVar[str] = "by_person_id"
    alert_id: uuid.UUID
    by_person_id: Token = Field(
        default="cli",
        description="Who reads it (access log): the subject's last token (refused in the body).",
    )


class ListRequest(_Request):
    """`query.<school>.alerts.list.<person>`: alerts, newest first."""

    open_only: bool = Field(default=True, description="Only alerts not yet resolved.")
    limit: int = Field(default=100, ge=1, le=1000)
    resolved_since: AwareDatetime | None = Field(
        default=None,
        description="Only alerts resolved at or after this moment, last resolved first (the "
        "console's 'Closed today'); with it, open_only is ignored.",
    )
    with_notified: bool = Field(
        default=False,
        description="Each alert with its notification entries (who was told, by which channel, "
        "how it went): what a board shows, without a `show` per alert. No note, so no access "
        "log.",
    )


# Web Push keys are base64url without padding: a P-256 public point is 65 bytes (87 characters),
# the auth secret 16 bytes (22 characters).
Base64Url = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]


class PushSubscribeRequest(_Request):
    """`command.<school>.alerts.push_subscribe.<person>`: keep one browser's Web Push
    subscription for the acting person (the subject's last token), so escalation steps can reach
    them by push. Subscribing the same endpoint again replaces its keys."""

    endpoint: Annotated[str, StringConstraints(pattern=r"^https://[^\s]+$", max_length=2048)] = (
        Field(description="The push service's URL for this browser (https).")
    )
    p256dh: Annotated[Base64Url, StringConstraints(min_length=87, max_length=88)] = Field(
        description="The browser's P-256 public key (RFC 8291), base64url."
    )
    auth: Annotated[Base64Url, StringConstraints(min_length=22, max_length=24)] = Field(
        description="The browser's 16-byte auth secret (RFC 8291), base64url."
    )


class PushUnsubscribeRequest(_Request):
    """`command.<school>.alerts.push_unsubscribe.<person>`: forget one of the acting person's
    push subscriptions (signing out, or turning notifications off on that browser)."""

    endpoint: Annotated[str, StringConstraints(pattern=r"^https://[^\s]+$", max_length=2048)]


class SmsReplyRequest(_Request):
    """`command.<school>.alerts.sms_reply.<person>`: a reply to an alert text message, sent by
    the web service's SMS webhook once the provider's signature is verified and the sender's
    number matched to a person of the school file (that person is the subject's last token).

    GoAlert-style codes: the number the text gave the alert, then `a` acknowledge, `e` escalate
    now, `c` close (refused: resolving needs an outcome note, so the reply points to the
    console)."""

    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,3}[ace]$")] = Field(
        description="e.g. `1a`: the alert's number in the person's texts, then the action."
    )


class PushSubscriptions(BaseModel):
    """The answer to push_subscribe and push_unsubscribe."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    browsers: int = Field(ge=0, description="How many browsers now get the person's pushes.")
    changed: bool = Field(description="Whether this request added, replaced or removed one.")


class SmsReplyAction(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    NEEDS_CONSOLE = "needs_console"  # `c`: resolving needs an outcome note
    ALREADY_CLOSED = "already_closed"
    NO_FURTHER_STEP = "no_further_step"  # `e` on an alert whose policy has no step left


class SmsReplyResult(BaseModel):
    """The alerts service's answer to a reply code; the webhook texts `message` back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: uuid.UUID
    action: SmsReplyAction
    message: Annotated[str, StringConstraints(max_length=160)] = Field(
        description="One text message back to the sender: ids and words, never a student."
    )


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertSummary(BaseModel):
    """An alert as the principal's client lists it (no note text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: uuid.UUID
    school_id: str
    status: AlertStatus
    source: AlertSource
    category: str
    severity: Severity
    zone_id: str | None
    count: int
    policy: str
    step: int = Field(description="The next escalation step to fire.")
    repeat: int
    next_step_at: AwareDatetime | None = Field(
        description="When the next step (or the ack timeout) is due; None when nothing is."
    )
    routing: RoutingState = Field(
        default=RoutingState.ESCALATING, description="Where the escalation stands."
    )
    opened_at: AwareDatetime
    acknowledged_at: AwareDatetime | None
    acknowledged_by: str | None
    resolved_at: AwareDatetime | None
    resolved_by: str | None
    notifications: list[TimelineEntry] | None = Field(
        default=None,
        description="With `with_notified`: the alert's `notified` timeline entries, oldest "
        "first; None otherwise.",
    )


class TimelineEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: AwareDatetime
    kind: str = Field(description="opened, repeated, escalated, skipped, held, notified…")
    step: int | None = None
    repeat: int | None = None
    person_id: str | None = None
    channel: str | None = None
    outcome: str | None = None
    detail: str | None = None


class AlertDetail(BaseModel):
    """`show`: the alert, its outcome note once resolved, and its whole timeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert: AlertSummary
    resolution_note: str | None
    timeline: list[TimelineEntry]


class AlertList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alerts: list[AlertSummary]
