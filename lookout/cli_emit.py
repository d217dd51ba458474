"""`lookout emit`: build valid events as the SSO's phone would, check them against the school
configuration, and publish them to JetStream with `Nats-Msg-Id = event_id`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nats
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError
from pydantic import ValidationError

from lookout.config import Settings, nats_server_list
from lookout.contracts.envelope import ActorKind, Event
from lookout.contracts.subjects import BY_MODEL, describe, subject_of
from lookout.messaging import msg_id_headers
from lookout.nats_connect import NatsSettingsError, connect_options
from lookout.school import SchoolConfig


class CliError(Exception):
    """A failure the CLI reports as one line on stderr with this exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(CliError):
    """Bad input from the person at the keyboard: exit code 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 2)


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


async def connect(url: str, connect_timeout: float = 3.0) -> nats.NATS:
    """A connection that fails fast with one clear line instead of retrying forever."""

    async def _quiet(_exc: Exception) -> None:
        return None

    try:
        return await nats.connect(
            nats_server_list(url),  # one URL or a cluster's comma-separated seeds
            connect_timeout=connect_timeout,
            allow_reconnect=False,
            max_reconnect_attempts=1,  # 0 would mean "retry forever" on the first connect
            reconnect_time_wait=0.1,
            error_cb=_quiet,
            **connect_options(Settings()),  # LOOKOUT_NATS_USER/PASSWORD/TLS_*: none by default
        )
    except NatsSettingsError as exc:
        raise CliError(str(exc)) from None
    except Exception:
        raise CliError(f"cannot reach NATS at {url}") from None
