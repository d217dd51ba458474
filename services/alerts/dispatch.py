"""Sends the pushes and text messages escalation steps queued in `alert_deliveries`, the way the
mailer sends emails: (1) claim due rows and lease them (`status=sending`, `due_at` = end of the
lease) in one transaction, (2) talk to the push service or the SMS provider outside any
transaction, (3) record each outcome on the timeline and as `alert.<school>.notified`. A crash
between (2) and (3) lets the lease expire and the delivery is tried again (at least once).

Push: Web Push (RFC 8030) with the payload encrypted for the browser (RFC 8291, aes128gcm, by
pywebpush's encoder) and signed with this deployment's VAPID key (RFC 8292), POSTed with httpx
(one kept-alive client, a bounded timeout, on the event loop; a pass sends everything it
claimed at once). Every browser the person subscribed is tried; a push service answering 404
or 410 has dropped that subscription, so it is removed. No browser subscribed is a failed
attempt on the timeline, never a silent skip.

SMS: a Twilio-compatible REST API (`POST <api>/2010-04-01/Accounts/<sid>/Messages.json`, form
To/From/Body, HTTP basic auth). The text gives the alert its number among the person's texts
(`sms_numbers`), which a reply code names.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from pywebpush import WebPusher
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.alerts import AlertNotified, NotificationChannel, NotificationOutcome
from lookout.contracts.patrol import Severity
from lookout.kernel.clock import Clock
from lookout.kernel.settings import Settings
from lookout.kernel.storage import Outbox, lock_for_write
from lookout.kernel.ticker import claim_due
from lookout.kernel.vapid import VapidKeys
from lookout.school.config import SchoolConfig
from lookout.school.permissions import may_request
from services.alerts import domain, notices
from services.alerts.escalation import ACTOR
from services.alerts.store import (
    AlertRepository,
    alert_deliveries,
    alerts,
    push_subscriptions,
    sms_numbers,
)

log = logging.getLogger("lookout.alerts.dispatch")
GONE = frozenset({404, 410})  # the push service dropped this subscription (RFC 8030 §7.3)


@dataclass(frozen=True)
class DispatchPolicy:
    max_attempts: int = 3
    lease: timedelta = timedelta(minutes=5)
    batch: int = 50
    timeout_seconds: float = 10.0
    push_ttl_seconds: int = 3600  # a push for a phone that is off waits this long at its service


@dataclass(frozen=True)
class Subscription:
    id: int
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class _Claimed:
    id: int
    alert_id: str
    school_id: str
    person_id: str
    channel: NotificationChannel
    attempts: int
    push: dict[str, str] = field(default_factory=dict)
    urgency: str = "high"  # RFC 8030 §5.3: a phone on low battery may hold back "normal"
    subscriptions: tuple[Subscription, ...] = ()
    phone: str = ""
    text: str = ""
    failed: str | None = None  # known before sending: nothing to send it to


@dataclass
class _Result:
    delivered: bool
    detail: str
    retry: bool = False
    gone: list[int] = field(default_factory=list)  # subscriptions to remove


class Dispatcher:
    """Claims due pushes and texts, sends them, records the outcomes."""

    name = "deliveries"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        outbox: Outbox,
        schools: Mapping[str, SchoolConfig],
        vapid: VapidKeys,
        policy: DispatchPolicy | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.settings = settings
        self.outbox = outbox
        self.schools = schools
        self.vapid = vapid
        self.policy = policy or DispatchPolicy()
        self._client: httpx.AsyncClient | None = None

    async def run_once(self) -> int:
        """Claim due deliveries, send them, record the outcomes; returns how many were claimed."""
        claimed = await self._claim()
        if not claimed:
            return 0
        # All at once: a slow push service must not hold up the text behind it.
        client = self._http()
        sent = await asyncio.gather(*(self._send(client, c) for c in claimed))
        await self._record(list(zip(claimed, sent, strict=True)))
        return len(claimed)

    def _http(self) -> httpx.AsyncClient:
        """One client for the process, made at the first send (it reads SSL_CERT_FILE then):
        its kept-alive connections spare a TLS handshake per push."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.policy.timeout_seconds)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- (1) claim -------------------------------------------------------------------------

    async def _claim(self) -> list[_Claimed]:
        p = self.policy
        now = self.clock.now()
        out: list[_Claimed] = []
        async with self.sessions.begin() as session:
            await lock_for_write(session, alert_deliveries)
            d = alert_deliveries
            stmt = claim_due(session, d, d.c.due_at, now, limit=p.batch)
            for row in (await session.execute(stmt)).all():
                c = await self._prepare(session, row, now)
                out.append(c)
                await session.execute(
                    update(alert_deliveries)
                    .where(alert_deliveries.c.id == row.id)
                    .values(status="sending", attempts=c.attempts, due_at=now + p.lease)
                )
        return out

    async def _prepare(self, session: AsyncSession, row: Any, now: datetime) -> _Claimed:
        alert = (
            await session.execute(select(alerts).where(alerts.c.alert_id == row.alert_id))
        ).one()
        school = self.schools.get(row.school_id)
        person = next((p for p in school.people if p.id == row.person_id), None) if school else None
        channel = NotificationChannel(row.channel)
        base: dict[str, Any] = {
            "id": row.id,
            "alert_id": row.alert_id,
            "school_id": row.school_id,
            "person_id": row.person_id,
            "channel": channel,
            "attempts": row.attempts + 1,
        }
        if school is None or person is None:
            return _Claimed(**base, failed="no longer in the school file")
        about = notices.About(
            uuid.UUID(row.alert_id), Severity(alert.severity), alert.category, alert.zone_id,
            row.step,
        )  # fmt: skip
        if channel is NotificationChannel.PUSH:
            subs = await self._subscriptions(session, row.school_id, row.person_id)
            if not subs:
                return _Claimed(**base, failed="no browser subscribed")
            ack_path = f"/ack/{row.ack_token}" if row.ack_token else None
            payload = notices.push_payload(school, about, ack_path)
            urgency = "high" if about.severity in domain.URGENT else "normal"
            return _Claimed(**base, push=payload, subscriptions=subs, urgency=urgency)
        if person.phone is None:
            return _Claimed(**base, failed="no phone in the school file")
        number = await self._number(session, row, now)
        may_ack = may_request(person.roles, "command", "alerts")
        text = notices.sms_text(school, about, number, may_ack)
        return _Claimed(**base, phone=person.phone, text=text)

    @staticmethod
    async def _subscriptions(
        session: AsyncSession, school_id: str, person_id: str
    ) -> tuple[Subscription, ...]:
        s = push_subscriptions
        rows = await session.execute(
            select(s.c.id, s.c.endpoint, s.c.p256dh, s.c.auth)
            .where(s.c.school_id == school_id, s.c.person_id == person_id)
            .order_by(s.c.id)
        )
        return tuple(Subscription(r.id, r.endpoint, r.p256dh, r.auth) for r in rows)

    @staticmethod
    async def _number(session: AsyncSession, row: Any, now: datetime) -> int:
        """This alert's number in this person's texts: the one it has, else the next."""
        n = sms_numbers
        mine = (n.c.school_id == row.school_id) & (n.c.person_id == row.person_id)
        found = await session.scalar(select(n.c.number).where(mine, n.c.alert_id == row.alert_id))
        if found is not None:
            return int(found)
        last = await session.scalar(
            select(n.c.number).where(mine).order_by(n.c.assigned_at.desc(), n.c.id.desc()).limit(1)
        )
        number = notices.next_sms_number(None if last is None else int(last))
        await session.execute(delete(n).where(mine, n.c.number == number))
        await session.execute(
            insert(n).values(
                school_id=row.school_id,
                person_id=row.person_id,
                number=number,
                alert_id=row.alert_id,
                assigned_at=now,
            )
        )
        return number

    # -- (2) send --------------------------------------------------------------------------

    async def _send(self, client: httpx.AsyncClient, c: _Claimed) -> _Result:
        if c.failed is not None:
            return _Result(False, c.failed)
        try:
            if c.channel is NotificationChannel.PUSH:
                return await self._push(client, c)
            return await self._sms(client, c)
        except Exception as exc:  # a bug or a library surprise must not stop the others
            log.exception("event=delivery_failed channel=%s", c.channel.value)
            return _Result(False, type(exc).__name__, retry=True)

    async def _push(self, client: httpx.AsyncClient, c: _Claimed) -> _Result:
        data = json.dumps(c.push, separators=(",", ":")).encode("utf-8")
        answers: list[str] = []
        gone: list[int] = []
        delivered = retry = False
        for sub in c.subscriptions:
            info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
            body = WebPusher(info).encode(data, "aes128gcm")["body"]
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(sub.endpoint))
            # The JWT's expiry is judged by the push service's real clock, not the suite's.
            claims = {
                "aud": origin,
                "exp": int(time.time()) + 12 * 3600,
                "sub": f"mailto:{self.settings.smtp_sender}",
            }
            headers = {
                **self.vapid.signer.sign(claims),
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                "TTL": str(self.policy.push_ttl_seconds),
                "Urgency": c.urgency,
                "Topic": uuid.UUID(c.alert_id).hex,  # a newer push of this alert replaces an older
            }
            try:
                answer = await client.post(sub.endpoint, content=body, headers=headers)
            except httpx.HTTPError as exc:
                answers.append(type(exc).__name__)
                retry = True
                continue
            status = answer.status_code
            if status < 300:
                delivered = True
                answers.append(f"{status}")
            elif status in GONE:
                gone.append(sub.id)
                answers.append(f"{status}, subscription removed")
            else:
                retry = retry or status == 429 or status >= 500
                answers.append(f"{status}")
        detail = f"{len(c.subscriptions)} browser(s): " + "; ".join(answers)
        return _Result(delivered, detail, retry=retry and not delivered, gone=gone)

    async def _sms(self, client: httpx.AsyncClient, c: _Claimed) -> _Result:
        s = self.settings
        url = f"{s.sms_api_url.rstrip('/')}/2010-04-01/Accounts/{s.sms_account_sid}/Messages.json"
        try:
            answer = await client.post(
                url,
                data={"To": c.phone, "From": s.sms_from, "Body": c.text},
                auth=(s.sms_account_sid, s.sms_auth_token.get_secret_value()),
            )
        except httpx.HTTPError as exc:
            return _Result(False, type(exc).__name__, retry=True)
        status = answer.status_code
        if status < 300:
            return _Result(True, f"provider {status}")
        return _Result(False, f"provider {status}", retry=status == 429 or status >= 500)

    # -- (3) record ------------------------------------------------------------------------

    async def _record(self, results: list[tuple[_Claimed, _Result]]) -> None:
        now = self.clock.now()
        events: list[AlertNotified] = []
        async with self.sessions.begin() as session:
            repo = AlertRepository(session)
            for c, r in results:
                d = alert_deliveries
                mine = (d.c.id == c.id) & (d.c.attempts == c.attempts)  # the lease is still ours
                retry = r.retry and c.attempts < self.policy.max_attempts
                if r.delivered:
                    values: dict[str, Any] = {"status": "delivered", "due_at": None, "done_at": now}
                elif retry:
                    values = {
                        "status": "pending",
                        "due_at": now + domain.email_retry_delay(c.attempts),
                    }
                else:
                    values = {"status": "failed", "due_at": None, "done_at": now}
                if not r.delivered:
                    values["last_error"] = r.detail[:200]
                done = await session.execute(update(d).where(mine).values(**values))
                if done.rowcount == 0:  # type: ignore[attr-defined]
                    continue  # another replica took over the expired lease
                if r.gone:
                    await session.execute(
                        delete(push_subscriptions).where(push_subscriptions.c.id.in_(r.gone))
                    )
                outcome = (
                    NotificationOutcome.DELIVERED if r.delivered else NotificationOutcome.FAILED
                )
                tail = "" if r.delivered else ("; will retry" if retry else "; gave up")
                await repo.timeline(
                    uuid.UUID(c.alert_id),
                    now,
                    "notified",
                    person_id=c.person_id,
                    channel=c.channel.value,
                    outcome=outcome.value,
                    detail=f"attempt {c.attempts}: {r.detail}{tail}"[:500],
                )
                events.append(
                    AlertNotified.new(
                        school_id=c.school_id,
                        occurred_at=now,
                        actor=ACTOR,
                        alert_id=c.alert_id,
                        person_id=c.person_id,
                        channel=c.channel,
                        outcome=outcome,
                    )
                )
            await self.outbox.add(session, events, now)
