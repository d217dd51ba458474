"""`lookout emit`: build valid events as the SSO's phone would, check them against the school
configuration, and publish them to JetStream with `Nats-Msg-Id = event_id`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError
from pydantic import ValidationError

from lookout.cli.connect import connect
from lookout.contracts.envelope import ActorKind, Event
from lookout.contracts.subjects import BY_MODEL, describe, subject_of
from lookout.kernel.errors import CliError, UsageError
from lookout.kernel.messaging import msg_id_headers
from lookout.school.config import SchoolConfig


def pick_school(schools: Mapping[str, SchoolConfig], school_id: str | None) -> SchoolConfig:
    if school_id is None:
        if len(schools) == 1:
            return next(iter(schools.values()))
        raise UsageError(f"school: several schools are configured ({', '.join(schools)}); pick one")
    try:
        return schools[school_id]
    except KeyError:
        raise UsageError(
            f"school: {school_id!r} is not a configured school ({', '.join(schools)})"
        ) from None


def check_zone(school: SchoolConfig, zone_id: str | None) -> None:
    if zone_id is None:
        return
    if not any(z.id == zone_id for z in school.zones):
        raise UsageError(f"zone: {zone_id!r} is not a zone of school {school.id!r}")


def check_tag(school: SchoolConfig, zone_id: str, tag: str) -> None:
    zone = next(z for z in school.zones if z.id == zone_id)
    if tag not in zone.checkpoints:
        raise UsageError(f"tag: {tag!r} is not a checkpoint of zone {zone_id!r}")


def parse_uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise UsageError(f"{field}: not a UUID") from None


def build(
    model: type[Event],
    school: SchoolConfig,
    occurred_at: datetime,
    actor_id: str = "cli",
    event_id: str | None = None,
    **fields: Any,
) -> Event:
    """A validated event; a ValidationError becomes one line naming the fields (no values)."""
    payload = {k: v for k, v in fields.items() if v is not None}
    envelope: dict[str, Any] = {
        "school_id": school.id,
        "occurred_at": occurred_at,
        "actor": {"kind": ActorKind.CLI, "id": actor_id},
    }
    try:
        event = model.new(**envelope, **payload)
    except ValidationError as exc:
        spec = BY_MODEL[model]
        raise UsageError(f"invalid {spec.type}: {describe(exc, model)}") from None
    if event_id is not None:  # a retry of an earlier event: same id, JetStream de-duplicates
        event = event.model_copy(update={"event_id": parse_uuid(event_id, "event_id")})
    return event


@dataclass(frozen=True)
class Published:
    subject: str
    stream: str
    seq: int
    duplicate: bool


async def publish(url: str, event: Event, ack_wait: float = 5.0) -> Published:
    """Publish through JetStream; duplicate=True when JetStream already had this event_id."""
    nc = await connect(url)
    try:
        js = nc.jetstream(timeout=ack_wait)
        spec = BY_MODEL[type(event)]
        subject = subject_of(event)
        try:
            ack = await js.publish(
                subject,
                event.model_dump_json().encode(),
                headers=msg_id_headers(event),
                stream=spec.stream,
            )
        except NoRespondersError:
            raise CliError(
                f"no JetStream stream takes {subject} at {url} (is `lookout up` running?)"
            ) from None
        except NatsTimeoutError:
            raise CliError(f"no acknowledgement from JetStream at {url} for {subject}") from None
        except APIError as exc:
            raise CliError(f"JetStream refused {subject}: {exc.description or exc}") from None
        return Published(subject, ack.stream, ack.seq, bool(ack.duplicate))
    finally:
        await nc.close()
