"""The envelope every Lookout event carries, and the bounded field types the contracts share."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Self, get_args

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

# A school id is a subject token: lowercase, no dots or wildcards, so it can fence permissions.
SchoolId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$"),
    Field(description="School identifier, also a NATS subject token (e.g. `lhs`)."),
]
# Ids that appear in subjects or join tables: short tokens, never free text.
Token = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


# An opaque, school-issued student reference. It must contain a digit and no spaces, so a
# person's name ("Jane Doe", "JaneDoe") is refused rather than stored as a reference.
def _has_digit(ref: str) -> str:
    if not any(c.isdigit() for c in ref):
        raise ValueError("a student reference is an opaque id containing digits, not a name")
    return ref


StudentRef = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{2,31}$"),
    AfterValidator(_has_digit),
    Field(description="Opaque school-issued student reference (e.g. `S-104233`), never a name."),
]
# Free text about students is an education record: bounded, and never copied to subjects/logs.
Note = Annotated[str, StringConstraints(max_length=2000), Field(description="Bounded free text.")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ActorKind(StrEnum):
    SSO_DEVICE = "sso_device"
    STAFF = "staff"
    SENSOR = "sensor"
    FRONT_OFFICE = "front_office"
    SERVICE = "service"
    CLI = "cli"


class Actor(BaseModel):
    """Who or what emitted an event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ActorKind
    id: Token = Field(description="Device, person or service id (an opaque token).")


class Event(BaseModel):
    """Envelope shared by every event. Subclasses fix `type` with a Literal and add fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID = Field(
        description="Made by the emitter, so a retry after a lost connection is the same event."
    )
    type: str
    schema_version: int = Field(default=1, ge=1, le=1)
    school_id: SchoolId
    occurred_at: AwareDatetime = Field(description="When it happened (timezone-aware).")
    actor: Actor

    @classmethod
    def event_type(cls) -> str:
        """The `type` this class fixes with its Literal annotation."""
        annotation = cls.model_fields["type"].annotation
        return str(get_args(annotation)[0])

    @classmethod
    def new(cls, **fields: object) -> Self:
        """Build an event with a fresh event_id (the emitter's job) and this class's type."""
        return cls(event_id=uuid.uuid4(), type=cls.event_type(), **fields)  # type: ignore[arg-type]
