"""Rebuild the read model: clear it, then replay every stream from its first message.

While the live durable consumers keep running:

1. one transaction deletes every fact row and the inbox (never `report_sends` or the outbox);
2. for each stream, an ephemeral pull consumer (deliver all, no acks) reads from sequence 1 up
   to the stream's last sequence at that moment, and each batch is applied through the same
   handlers as live events, with the inbox, in one transaction.

An event the live consumer applies during the replay is in the inbox, so the replay skips it,
and vice versa; when both race on the same event, the inbox's primary key fails one of the two
transactions, which is retried (re-reading the inbox). Events that were dead-lettered (invalid,
unknown school, refused by lookout.kernel.admission) are skipped again, silently: they are in
the DLQ already. Running it twice gives
the same read model.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy.exc import IntegrityError

from lookout.contracts.envelope import Event
from lookout.contracts.reports import RebuildReply
from lookout.contracts.subjects import STREAMS, InvalidEvent
from lookout.kernel.consumer_names import replay_consumer
from lookout.kernel.messaging import Apply, admit
from lookout.kernel.service import ServiceKernel
from lookout.kernel.storage import Inbox, InboxKey, inbox_key
from services.reports import store
from services.reports.handlers import ReportHandlers

log = logging.getLogger("lookout.reports.rebuild")
BATCH = 1000


async def rebuild(kernel: ServiceKernel, handlers: ReportHandlers, js: Any) -> RebuildReply:
    started = time.monotonic()
    async with kernel.sessions.begin() as session:
        await store.ReportRepository(session).clear_read_model()
    inbox = Inbox(store.inbox)
    read: dict[str, int] = {}
    applied = 0
    for stream, apply in handlers.by_stream.items():
        n, a = await _replay(kernel, js, stream, apply, inbox)
        read[stream], applied = n, applied + a
    seconds = round(time.monotonic() - started, 3)
    log.info("event=rebuilt applied=%d seconds=%s read=%s", applied, seconds, read)
    return RebuildReply(events=read, applied=applied, seconds=seconds)


async def _replay(
    kernel: ServiceKernel, js: Any, stream: str, apply: Apply, inbox: Inbox
) -> tuple[int, int]:
    try:
        last = int((await js.stream_info(stream)).state.last_seq)
    except NotFoundError:
        return 0, 0
    if last == 0:
        return 0, 0
    # One named replay consumer per stream (`reports-replay`): the service's NATS user may
    # create, read and delete that one only, never another service's durable. One rebuild runs
    # at a time (ReportRequests); a consumer left by an interrupted one is dropped first.
    name = replay_consumer(store.SERVICE)
    with contextlib.suppress(NotFoundError):
        await js.delete_consumer(stream, name)
    config = ConsumerConfig(
        name=name,
        filter_subject=STREAMS[stream][0],
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.NONE,
        inactive_threshold=60.0,
        max_waiting=1,
    )
    await js.add_consumer(stream, config=config)
    sub = await js.pull_subscribe_bind(stream=stream, name=name)
    read = applied = 0
    try:
        done = False
        while not done:
            try:
                msgs = await sub.fetch(BATCH, timeout=2.0)
            except TimeoutError:
                break  # nothing more (the last messages were deleted by retention)
            events: list[Event] = []
            for m in msgs:
                read += 1
                done = done or m.metadata.sequence.stream >= last
                try:  # what the live consumers refused (dead-lettered) is refused again
                    events.append(admit(m, kernel.schools, kernel.clock))
                except InvalidEvent:
                    continue
            applied += await _apply(kernel, apply, inbox, events)
    finally:
        try:
            await sub.unsubscribe()
            await js.delete_consumer(stream, name)
        except Exception:  # the inactive threshold removes it anyway
            pass
    return read, applied


async def _apply(kernel: ServiceKernel, apply: Apply, inbox: Inbox, events: Sequence[Event]) -> int:
    if not events:
        return 0
    for attempt in range(5):
        try:
            async with kernel.sessions.begin() as session:
                seen = await inbox.seen(session, {inbox_key(e) for e in events})
                fresh: dict[InboxKey, Event] = {}
                for e in events:  # the first of a key wins, as in the live consumer
                    if inbox_key(e) not in seen:
                        fresh.setdefault(inbox_key(e), e)
                todo = list(fresh.values())
                rejected = await apply(session, todo) if todo else {}
                kept = [e for e in todo if e.event_id not in rejected]
                await inbox.record(session, kept, kernel.clock.now())
                return len(kept)
        except IntegrityError:  # the live consumer applied some of them meanwhile
            log.info("event=rebuild_batch_retry attempt=%d", attempt + 1)
    raise RuntimeError("rebuild: a batch kept clashing with the live consumer")
