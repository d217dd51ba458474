"""Messaging: broker from settings, stream definitions, publish-with-id, consumer error policy.

Error policy, in one place:
- undecodable or schema-invalid messages (whatever decoding raised: parse_event), unknown
  schools and domain rejections are copied with the reason and the original bytes to
  `dlq.<service>` on their first delivery, then terminated — never retried forever; a copy that
  would not fit under max_payload keeps only its first bytes and says so (`dead_letter`);
- a transient failure (database unavailable) holds the batch: the consumer fetches nothing else
  and retries the same batch in place (0.5 s doubling to 5 s) until it commits, so a later event
  of the stream never overtakes the one that failed (lookout/kernel/stall.py; the fetch loop
  keeps the held messages alive on the server meanwhile);
- any other failure is retried message by message, so one poison message is dead-lettered alone
  and the rest of its batch is applied (a transient failure during that pass holds the message
  being applied, in place, the same way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import nats
from faststream.nats import NatsBroker
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError

from lookout.contracts.envelope import Event
from lookout.contracts.subjects import BY_MODEL, STREAMS, InvalidEvent, parse_event, subject_of
from lookout.kernel.admission import refuse_event
from lookout.kernel.clock import at_wall_time
from lookout.kernel.nats_connect import broker_security, connect_options
from lookout.kernel.stall import ConsumerStopping, Stall
from lookout.kernel.storage import Inbox, InboxKey, event_digest, inbox_key, lock_for_write

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from lookout.kernel.clock import Clock
    from lookout.kernel.settings import Settings
    from lookout.school.config import SchoolConfig

log = logging.getLogger("lookout.messaging")

DLQ_REASON = "Lookout-Dlq-Reason"
DLQ_SUBJECT = "Lookout-Dlq-Subject"
DLQ_SEQUENCE = "Lookout-Dlq-Stream-Seq"
DLQ_STREAM = "Lookout-Dlq-Stream"
DLQ_TRUNCATED = "Lookout-Dlq-Truncated"  # the original's size in bytes, when the copy is cut

# The largest message any event stream stores (headers included): the server refuses a bigger
# publish. A scan is a few hundred bytes; the largest legitimate event (a patrol focus of 50
# items, or a concern with a 2000-character note, every character JSON-escaped) stays far below
# (tests/unit/test_poison_limits.py computes them). Nothing needs nats-server's 1 MiB.
EVENT_MAX_BYTES = 256 * 1024
# The DLQ also holds the reason and the origin headers on top of an event's bytes.
DLQ_MAX_BYTES = EVENT_MAX_BYTES + 16 * 1024
# What a truncated dead letter keeps of the original: enough to see what it was. The original
# stays in its stream (stream and sequence in the headers) until the stream's limits drop it.
DLQ_TRUNCATED_BODY_BYTES = 4096
# An event whose id (within its type) was already taken by a different event.
REUSED_ID = "event_id: already used by a different event of this type"


def make_broker(
    settings: Settings, on_reconnected: Callable[[], Awaitable[None]] | None = None
) -> NatsBroker:
    extra: dict[str, Any] = {}
    if settings.nats_inbox_prefix:
        extra["inbox_prefix"] = settings.nats_inbox_prefix
    if on_reconnected is not None:
        extra["reconnected_cb"] = on_reconnected
    return NatsBroker(
        settings.nats_servers(),
        max_reconnect_attempts=-1,  # ride out a broker restart instead of dying
        reconnect_time_wait=0.5,
        logger=logging.getLogger("lookout.broker"),
        security=broker_security(settings),  # credentials and TLS; None: neither
        **extra,
    )


# Streams whose events carry student references or note text (concerns, contacts and
# observations; ALERTS: `alert.resolved` carried the outcome note until 2026-12, and old events
# stay in the stream): a message is kept no longer than the longest
# `student_records_retention_days` of the loaded schools, as long as the services keep them.
STUDENT_RECORD_STREAMS = ("PATROL", "CONCERNS", "ALERTS")
DAY_SECONDS = 24 * 3600
DEFAULT_RETENTION_DAYS = 365  # SchoolConfig's default, for a deployment with no school loaded


def stream_max_ages(
    settings: Settings, schools: Mapping[str, SchoolConfig] | None = None
) -> dict[str, float | None]:
    """Each stream's `max_age` in seconds (None: kept until deleted). Student-record streams:
    the longest retention of the schools (LOOKOUT_SCHOOLS unless given); the DLQ:
    LOOKOUT_DLQ_MAX_AGE_DAYS, never longer than that; the others are not limited by age."""
    if schools is None:
        from lookout.kernel.settings import load_schools

        schools = load_schools(settings)
    days = [s.student_records_retention_days for s in schools.values()]
    student = max(days or [DEFAULT_RETENTION_DAYS]) * DAY_SECONDS
    ages: dict[str, float | None] = dict.fromkeys(STREAMS)
    ages.update(dict.fromkeys(STUDENT_RECORD_STREAMS, float(student)))
    ages["DLQ"] = float(min(settings.dlq_max_age_days * DAY_SECONDS, student))
    return ages


def stream_configs(
    settings: Settings, schools: Mapping[str, SchoolConfig] | None = None
) -> list[StreamConfig]:
    max_ages = stream_max_ages(settings, schools)
    return [
        StreamConfig(
            name=name,
            subjects=subjects,
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            # The server refuses a duplicate window longer than the stream's max_age.
            duplicate_window=min(settings.duplicate_window_seconds, max_ages[name] or math.inf),
            num_replicas=settings.stream_replicas,
            max_msg_size=DLQ_MAX_BYTES if name == "DLQ" else EVENT_MAX_BYTES,
            max_age=max_ages[name],
        )
        for name, subjects in STREAMS.items()
    ]


async def ensure_streams(
    settings: Settings, schools: Mapping[str, SchoolConfig] | None = None
) -> None:
    """Create or update every stream (an existing one is brought to these settings, its
    `max_age` included). Idempotent; deploys may run it as a separate step. `schools`: those of
    LOOKOUT_SCHOOLS unless given (they decide the student-record streams' `max_age`)."""
    configs = stream_configs(settings, schools)  # a bad school file fails before connecting
    nc = await nats.connect(settings.nats_servers(), **connect_options(settings))
    try:
        js = nc.jetstream()
        for config in configs:
            try:
                await js.add_stream(config)
            except BadRequestError:  # exists with other settings: bring it to ours
                await js.update_stream(config)
    finally:
        await nc.close()


async def check_streams(settings: Settings, names: Sequence[str]) -> None:
    """Fail with one line when a stream is missing (deploys that provision streams separately:
    the service's user may look streams up but not create them)."""
    nc = await nats.connect(settings.nats_servers(), **connect_options(settings))
    try:
        js = nc.jetstream()
        for name in names:
            try:
                await js.stream_info(name)
            except NotFoundError:
                raise RuntimeError(
                    f"stream {name} does not exist: run `lookout deploy streams` first"
                ) from None
    finally:
        await nc.close()


def msg_id_headers(event: Event) -> dict[str, str]:
    # JetStream drops a second publish with the same Nats-Msg-Id inside the duplicate window.
    return {"Nats-Msg-Id": str(event.event_id)}


async def publish_event(broker: NatsBroker, event: Event) -> Any:
    """Publish to the event's subject with `Nats-Msg-Id = event_id`; returns the PubAck."""
    spec = BY_MODEL[type(event)]
    return await broker.publish(
        event.model_dump_json().encode(),
        subject_of(event),
        headers=msg_id_headers(event),
        stream=spec.stream,
    )


# Applies valid, not-yet-seen events inside the open transaction. Returns the events it refused
# (event_id → reason); it must not have written anything for those.
Apply = Callable[["AsyncSession", Sequence[Event]], Awaitable[Mapping[uuid.UUID, str]]]


def admit(msg: Msg, schools: Mapping[str, SchoolConfig], clock: Clock) -> Event:
    """The event a message holds, if every consumer may apply it: decoded and valid, of a
    school of this deployment, consistent with that school and sanely timed
    (lookout.kernel.admission). Raises InvalidEvent with the reason otherwise."""
    event = parse_event(msg.subject, msg.data)
    if (reason := judge(msg, event, schools, clock)) is not None:
        raise InvalidEvent(reason)
    return event


def judge(msg: Msg, event: Event, schools: Mapping[str, SchoolConfig], clock: Clock) -> str | None:
    """Why no consumer may apply this valid event, or None."""
    school = schools.get(event.school_id)
    if school is None:
        return "school_id: not a school of this deployment"
    return refuse_event(school, event, at_wall_time(clock, _stored_at(msg)))


class TransientError(Exception):
    """A failure worth retrying later (e.g. the database is unavailable)."""


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientError | OperationalError | SAInterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    return isinstance(exc, ConnectionError | OSError | TimeoutError)


@dataclass
class BatchOutcome:
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retried: int = 0  # messages of a failed attempt that was retried in place, per attempt
    handed_back: int = 0  # messages given back unapplied because the service stopped


class EventConsumer:
    """The consumer error policy and the inbox, for one service."""

    def __init__(
        self,
        service: str,
        broker: NatsBroker,
        sessions: async_sessionmaker[AsyncSession],
        inbox: Inbox,
        clock: Clock,
        schools: Callable[[], Mapping[str, SchoolConfig]],
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.service = service
        self.broker = broker
        self.sessions = sessions
        self.inbox = inbox
        self.clock = clock
        self.schools = schools
        self.after_commit = after_commit
        self.on_outcome: Callable[[BatchOutcome], None] | None = None  # metrics

    async def consume_messages(
        self, msgs: Sequence[Msg], apply: Apply, stall: Stall
    ) -> BatchOutcome:
        """Apply one batch under the error policy; returns only when every message of it was
        acknowledged, dead-lettered, or (the service stopping during a stall) handed back."""
        outcome = BatchOutcome()
        try:
            await self._consume(msgs, apply, stall, outcome)
        except ConsumerStopping:
            stall.handed_back()
            for msg in msgs:  # the next fetch (this or another replica) gets them first
                if not msg.is_acked:
                    outcome.handed_back += 1
                    with contextlib.suppress(Exception):  # else: redelivered after ack_wait
                        await msg.nak()
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome

    async def _consume(
        self, msgs: Sequence[Msg], apply: Apply, stall: Stall, outcome: BatchOutcome
    ) -> None:
        valid: list[tuple[Msg, Event]] = []
        poison: list[tuple[Msg, str]] = []
        copies: list[Msg] = []  # of an event refused earlier in this batch (a phone retrying)
        refused: set[tuple[InboxKey, str]] = set()
        schools = self.schools()
        for msg in msgs:
            try:
                event = parse_event(msg.subject, msg.data)
            except InvalidEvent as exc:
                poison.append((msg, exc.reason))
                continue
            except Exception as exc:  # parse_event judges every fault; this is the backstop
                poison.append((msg, f"undecodable message: {type(exc).__name__}"))
                continue
            if (reason := judge(msg, event, schools, self.clock)) is None:
                valid.append((msg, event))
            elif (copy := (inbox_key(event), event_digest(event))) in refused:
                copies.append(msg)
            else:
                refused.add(copy)
                poison.append((msg, reason))
        await self._dead_letter_all(poison)
        for msg in copies:
            await msg.term()  # its first copy was dead-lettered
        outcome.dead_lettered += len(poison)
        if not valid:
            return
        try:
            await self._apply_in_place(valid, apply, stall, outcome)
        except ConsumerStopping:
            raise
        except Exception as exc:
            # Isolate the poison: apply one at a time, so only the bad one is dead-lettered.
            log.warning(
                "event=batch_failed service=%s size=%d error=%s; applying one by one",
                self.service,
                len(valid),
                type(exc).__name__,
            )
            for pair in valid:
                try:
                    await self._apply_in_place([pair], apply, stall, outcome)
                except ConsumerStopping:
                    raise
                except Exception as one_exc:
                    reason = f"processing failed: {type(one_exc).__name__}"
                    await self.dead_letter(pair[0], reason)
                    outcome.dead_lettered += 1

    async def _apply_in_place(
        self, pairs: Sequence[tuple[Msg, Event]], apply: Apply, stall: Stall, outcome: BatchOutcome
    ) -> None:
        """Apply `pairs` together; while the failure is worth retrying, hold them and retry the
        same again after a pause (never nak and move on: what comes later must wait). Raises
        the failure that is not worth retrying, or ConsumerStopping."""
        retry = 0
        while True:
            try:
                await self._apply_together(pairs, apply, outcome)
            except Exception as exc:
                if not (is_transient(exc) or _racing_replica(exc, pairs, retry)):
                    stall.recovered()  # the database answered: what fails now is the batch
                    raise
                stall.failed(exc, len(pairs))
                outcome.retried += len(pairs)
                await stall.pause(retry)
                retry += 1
                continue
            stall.recovered()
            return

    async def _apply_together(
        self, pairs: Sequence[tuple[Msg, Event]], apply: Apply, outcome: BatchOutcome
    ) -> None:
        # The same event may arrive several times in one batch (a phone retrying): apply once.
        # Another event reusing an id of its type is refused, by every consumer alike.
        keyed = [(msg, event, inbox_key(event), event_digest(event)) for msg, event in pairs]
        first: dict[InboxKey, Event] = {}
        digests: dict[InboxKey, str] = {}
        for _, event, key, digest in keyed:
            if key not in first:
                first[key], digests[key] = event, digest
        async with self.sessions.begin() as session:
            # Handlers read state and write it back: on SQLite be the writer before reading,
            # so a timer's commit cannot land between the two (storage.lock_for_write).
            await lock_for_write(session, self.inbox.table)
            seen = await self.inbox.seen(session, first)
            fresh = [event for key, event in first.items() if key not in seen]
            rejected = await apply(session, fresh) if fresh else {}
            accepted = [e for e in fresh if e.event_id not in rejected]
            await self.inbox.record(session, accepted, self.clock.now(), digests)
        if self.after_commit is not None and accepted:
            self.after_commit()
        outcome.applied += len(accepted)
        # Ack only after the commit: a crash before this line means redelivery, and the inbox
        # turns the redelivery into a no-op.
        dead: set[tuple[InboxKey, str]] = set()
        for msg, event, key, digest in keyed:
            if msg.is_acked:  # settled by an earlier attempt that failed while acknowledging
                continue
            if digest != digests[key] or seen.get(key, digest) not in ("", digest):
                reason: str | None = REUSED_ID
            elif key in seen:
                reason = None  # applied before: a redelivery
            else:
                reason = rejected.get(event.event_id)
            if reason is None:
                if event is not first[key] or key in seen:
                    outcome.duplicates += 1
                await msg.ack()
            elif (key, digest) in dead:
                await msg.term()  # a second copy of a refused event: already dead-lettered
            else:
                dead.add((key, digest))
                await self.dead_letter(msg, reason)
                outcome.dead_lettered += 1

    async def _dead_letter_all(self, poison: Sequence[tuple[Msg, str]]) -> None:
        """Dead-letter these together: their DLQ copies are published at once and each waits
        for its own PubAck, so a flood of poison (2,000 malformed messages from a buggy phone)
        costs one round trip per batch, not one per message, to the events queued behind it."""
        results = await asyncio.gather(
            *(self.dead_letter(msg, reason) for msg, reason in poison), return_exceptions=True
        )
        for result in results:  # the others are settled; the unsettled come back later
            if isinstance(result, BaseException):
                raise result

    async def dead_letter(self, msg: Msg, reason: str) -> None:
        """Copy to `dlq.<service>` with the reason (no payload values in it), then terminate.

        The copy always fits: a publish over the server's max_payload (headers included) makes
        the server close the connection for good, and one over the DLQ's max_msg_size is
        refused, and either would leave the message to be redelivered forever. So a message
        too big to copy whole keeps only its first bytes, with its original size in
        `Lookout-Dlq-Truncated`; stream and sequence name the original."""
        stream, seq = _origin(msg)
        headers = {
            DLQ_REASON: header_safe(reason),
            DLQ_SUBJECT: header_safe(msg.subject),
            DLQ_STREAM: stream,
            DLQ_SEQUENCE: str(seq),
            "Nats-Msg-Id": f"dlq-{self.service}-{stream}-{seq}",
        }
        body = msg.data
        limit = self._dead_letter_limit()
        if len(body) + header_bytes(headers) > limit:
            headers[DLQ_TRUNCATED] = str(len(msg.data))
            # The reason's suffix below is at most ~60 bytes: leave room for it.
            room = limit - header_bytes(headers) - 100
            body = body[: max(0, min(DLQ_TRUNCATED_BODY_BYTES, room))]
            cut = f"; copy truncated to {len(body)} of {len(msg.data)} bytes"
            headers[DLQ_REASON] = header_safe(reason, 900) + cut
        await self.broker.publish(body, f"dlq.{self.service}", headers=headers, stream="DLQ")
        log.warning(
            "event=dead_lettered service=%s subject=%s stream_seq=%s reason=%r",
            self.service,
            msg.subject,
            seq,
            reason,
        )
        await msg.term()

    def _dead_letter_limit(self) -> int:
        """The largest dead letter, headers included, that both the server and the DLQ take."""
        try:
            max_payload = self.broker.connection.max_payload
        except Exception:  # not connected yet
            max_payload = None
        if not isinstance(max_payload, int) or max_payload <= 0:  # e.g. an in-memory broker
            max_payload = 1024 * 1024
        return min(max_payload, DLQ_MAX_BYTES)


def header_bytes(headers: Mapping[str, str]) -> int:
    """The size of a NATS header block (`NATS/1.0`, then `key: value` per header, each line
    ending in CRLF, then an empty line), which counts against max_payload with the body."""
    return 12 + sum(len(k.encode()) + len(v.encode()) + 4 for k, v in headers.items())


def header_safe(text: str, limit: int = 1000) -> str:
    """ASCII without control characters: NATS headers cannot carry newlines, and a reason may
    quote a field name chosen by whoever sent the message."""
    return text.encode("unicode_escape").decode("ascii")[:limit]


def _racing_replica(exc: BaseException, pairs: Sequence[tuple[Msg, Event]], retry: int) -> bool:
    """An inbox key clash on an early delivery: another replica is applying the same event
    (redelivered after ack_wait). Retrying soon finds it in the inbox; a clash that persists
    past a few deliveries and retries is a real poison and is isolated instead."""
    return isinstance(exc, IntegrityError) and min(_deliveries(m) for m, _ in pairs) + retry < 3


def _deliveries(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:  # not a JetStream message (e.g. the in-memory test broker)
        return 1


def _stored_at(msg: Msg) -> datetime | None:
    """When the server stored the message (the same for every consumer of it)."""
    try:
        stored = msg.metadata.timestamp
    except Exception:  # not a JetStream message (e.g. the in-memory test broker)
        return None
    return stored if isinstance(stored, datetime) else None


def _origin(msg: Msg) -> tuple[str, int | str]:
    try:
        meta = msg.metadata
        return meta.stream, meta.sequence.stream
    except Exception:
        return "none", uuid.uuid4().hex
