"""`lookout tail` and `lookout dlq list`: follow events, one readable line each.

Privacy: a line shows ids, enums, counts and times — never free text (notes, purposes, outcome
notes) and never student references (shown as a count: "2 students").
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from lookout.cli.connect import connect
from lookout.cli.school_time import at_school
from lookout.contracts.readable import describe_event
from lookout.contracts.subjects import STREAMS, InvalidEvent, parse_event
from lookout.kernel.errors import CliError
from lookout.kernel.messaging import (
    DLQ_REASON,
    DLQ_SEQUENCE,
    DLQ_STREAM,
    DLQ_SUBJECT,
    DLQ_TRUNCATED,
)
from lookout.school.config import SchoolConfig

Schools = Mapping[str, SchoolConfig]


def when(moment: datetime | None, subject: str, schools: Schools) -> str:
    """A line's time in the zone of the school its subject names (`concern.lhs.raised`), as
    the other listings and the emails show it; in UTC, said so, for a school this deployment
    does not have; `-` when unknown."""
    if moment is None:
        return "-"
    tokens = subject.split(".")
    school = schools.get(tokens[1]) if len(tokens) > 1 else None
    if school is None:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return at_school(moment, school)


def stream_filters(subject: str) -> dict[str, str]:
    """For each stream that can hold messages matching `subject`, the consumer filter to use
    (the intersection of the two; our streams are all `<prefix>.>`)."""
    tokens = subject.split(".")
    filters: dict[str, str] = {}
    for stream, subjects in STREAMS.items():
        for stream_subject in subjects:
            prefix = stream_subject.split(".")[0]
            head, rest = tokens[0], tokens[1:]
            if head == ">":
                filters[stream] = stream_subject
            elif head in ("*", prefix):
                if not rest:  # `patrol` alone matches no `patrol.…` subject
                    continue
                filters[stream] = ".".join([prefix, *rest])
    return filters


@dataclass(frozen=True)
class Line:
    time: str
    subject: str
    kind: str
    detail: str

    def render(self) -> str:
        return f"{self.time}  {self.subject}  {self.kind}  {self.detail}".rstrip()


# A quoted run in a reason: older services (and a reason from anywhere else) quoted the value
# they refused (`no visit with badge 'Jane_Doe'`), which is payload text.
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def redact_reason(reason: str) -> str:
    """The reason without the values it quotes: `unknown zone 'roof'` → `unknown zone '…'`."""
    return QUOTED.sub("'…'", reason)


def describe_dead_letter(msg: Msg, schools: Schools | None = None) -> Line:
    """DLQ sequence, origin (subject, stream and sequence), size and reason; never the body.
    The time is when the DLQ stored it, in the zone of the origin subject's school."""
    headers = msg.headers or {}
    size = f"{len(msg.data)}B"
    if headers.get(DLQ_TRUNCATED):
        size += f" (truncated; original {headers[DLQ_TRUNCATED]}B)"
    detail = (
        f"#{_stream_seq(msg)} from={headers.get(DLQ_SUBJECT, '?')} "
        f"{headers.get(DLQ_STREAM, '?')}#{headers.get(DLQ_SEQUENCE, '?')} size={size} "
        f"reason={redact_reason(headers.get(DLQ_REASON, '?'))}"
    )
    stored = when(_stored_at(msg), headers.get(DLQ_SUBJECT, ""), schools or {})
    return Line(stored, msg.subject, "dead-letter", detail)


def describe_message(msg: Msg, schools: Schools | None = None) -> Line:
    """One readable line; times in the school's zone (`schools`: this deployment's)."""
    schools = schools or {}
    if msg.subject.startswith("dlq."):
        return describe_dead_letter(msg, schools)
    try:
        event = parse_event(msg.subject, msg.data)
    except InvalidEvent as exc:
        reason = redact_reason(exc.reason)
        stored = when(_stored_at(msg), msg.subject, schools)
        return Line(stored, msg.subject, "invalid", f"seq={_stream_seq(msg)} {reason}")
    return Line(
        when(event.occurred_at, msg.subject, schools),
        msg.subject,
        event.type,
        describe_event(event),
    )


def _stream_seq(msg: Msg) -> str:
    try:
        return str(msg.metadata.sequence.stream)
    except Exception:
        return "?"


def _stored_at(msg: Msg) -> datetime | None:
    try:
        return msg.metadata.timestamp
    except Exception:  # no JetStream reply subject: not from a stream
        return None


async def follow(
    url: str,
    subject: str,
    emit: Callable[[Line], None],
    from_start: bool = False,
    limit: int | None = None,
    streams: Iterable[str] | None = None,
    idle_exit: float | None = None,
    schools: Schools | None = None,
) -> int:
    """Print matching messages as they arrive, from an ordered (ephemeral) consumer per stream.

    Stops after `limit` messages, or after `idle_exit` seconds with nothing new; returns the
    number printed.
    """
    filters = stream_filters(subject)
    if streams is not None:
        wanted = set(streams)
        filters = {s: f for s, f in filters.items() if s in wanted}
    if not filters:
        raise CliError(f"subject {subject!r} matches no Lookout stream ({', '.join(STREAMS)})", 2)
    nc = await connect(url)
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_msg(msg: Msg) -> None:
        await queue.put(msg)

    try:
        js = nc.jetstream()
        policy = DeliverPolicy.ALL if from_start else DeliverPolicy.NEW
        subscribed = 0
        for stream, filter_subject in filters.items():
            try:
                await js.subscribe(
                    filter_subject,
                    stream=stream,
                    cb=on_msg,
                    ordered_consumer=True,
                    deliver_policy=policy,
                    config=ConsumerConfig(headers_only=False),
                )
                subscribed += 1
            except NotFoundError:
                continue  # that stream does not exist (yet)
        if not subscribed:
            raise CliError(f"no Lookout streams at {url} (is `lookout up` running?)")
        count = 0
        while limit is None or count < limit:
            try:
                msg = await asyncio.wait_for(queue.get(), timeout=idle_exit)
            except TimeoutError:
                break
            emit(describe_message(msg, schools))
            count += 1
        return count
    finally:
        await nc.close()


async def _each_dead_letter(js: JetStreamContext, url: str, service: str | None) -> Any:
    """Every message now in the DLQ stream (for one service or all), oldest first."""
    subject = f"dlq.{service}" if service else "dlq.>"
    try:
        psub = await js.pull_subscribe(
            subject,
            stream="DLQ",
            config=ConsumerConfig(
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.ALL,
                inactive_threshold=30.0,
            ),
        )
    except NotFoundError:
        raise CliError(f"no DLQ stream at {url} (is `lookout up` running?)") from None
    try:
        pending = (await psub.consumer_info()).num_pending
        while pending > 0:
            for msg in await psub.fetch(batch=min(pending, 256), timeout=5):
                yield msg
                pending = msg.metadata.num_pending
    finally:
        await psub.unsubscribe()


async def dead_letters(
    url: str, service: str | None = None, schools: Schools | None = None
) -> list[Line]:
    """Every dead letter now in the DLQ stream (origin, size and reason; never the payload)."""
    nc = await connect(url)
    try:
        js = nc.jetstream()
        return [describe_dead_letter(m, schools) async for m in _each_dead_letter(js, url, service)]
    finally:
        await nc.close()


async def replay_dead_letters(
    url: str, service: str | None = None, seqs: Iterable[int] = (), keep: bool = False
) -> list[str]:
    """Publish dead letters back to their original subject (after the cause was fixed, e.g. a
    zone added to the school file), then delete them from the DLQ unless `keep`.

    Each replay carries `Nats-Msg-Id = replay-dlq-<seq>`, so replaying one entry twice in the
    duplicate window publishes it once; the services' inboxes make a replay of an event they
    already applied a no-op. Returns one line per replayed message (no payload)."""
    wanted = set(seqs)
    done: list[str] = []
    nc = await connect(url)
    try:
        js = nc.jetstream()
        async for msg in _each_dead_letter(js, url, service):
            seq = msg.metadata.sequence.stream
            if wanted and seq not in wanted:
                continue
            headers = msg.headers or {}
            origin = headers.get(DLQ_SUBJECT)
            if not origin:
                done.append(f"DLQ#{seq} skipped: no {DLQ_SUBJECT} header")
                continue
            if headers.get(DLQ_TRUNCATED):
                # Only the head of the original was kept: replaying it would publish a
                # different, broken event. The original is in its stream, by sequence.
                done.append(
                    f"DLQ#{seq} skipped: a truncated copy (the original is "
                    f"{headers.get(DLQ_STREAM)} seq {headers.get(DLQ_SEQUENCE)})"
                )
                continue
            ack = await js.publish(
                origin,
                msg.data,
                headers={"Nats-Msg-Id": f"replay-dlq-{seq}"},
                stream=headers.get(DLQ_STREAM) or None,
            )
            if not keep:
                await js.delete_msg("DLQ", seq)
            dup = " (duplicate, already replayed)" if ack.duplicate else ""
            done.append(f"DLQ#{seq} -> {origin} ({ack.stream} seq {ack.seq}){dup}")
        return done
    finally:
        await nc.close()
