"""The scenario harness: the real alerts (and, when asked, patrol) services with their real
wiring on real SQLite files (or one PostgreSQL database), driven by a ManualClock, no broker.

- An event is delivered the way the stream consumer delivers it: to every registered stream
  consumer whose filter matches the event's subject, inside one transaction with the inbox.
- What a service writes to its outbox is relayed in memory to the consumers that match it (the
  services' own consumers included, as on the real streams).
- Time only moves through `advance_to`: the clock stops at every moment something may be due
  (any future timestamp in any table of the services, every bell and duty-hours boundary and
  every local midnight) and every timer is ticked there, so a step due at `d` fires at `d`.

What the scenarios compare is observed, never computed: `alert.notification` events as they left
the alerts outbox (local time, person, route) and emails as an SMTP server received them.
Nothing here decides what *should* happen; the expectations are written by hand in the tests.
"""

from __future__ import annotations

import asyncio
import email.policy
import logging
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.alerts import (
    AckRequest,
    AlertNotification,
    AlertSummary,
    HeartbeatMissed,
    HeartbeatResumed,
    ListRequest,
    ResolveRequest,
)
from lookout.contracts.envelope import Event
from lookout.contracts.patrol import (
    CheckMissed,
    CheckpointScanned,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    ContactLogged,
    DeviceHeartbeat,
    FollowUpCompleted,
    FollowUpMissed,
)
from lookout.contracts.subjects import parse_event, subject_of
from lookout.contracts.visitors import ScreeningFlagged, VisitorCheckedOut, VisitorOverdue
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from lookout.kernel.storage import UTCDateTime, inbox_key, upgrade_database

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
STAFF = {"kind": "staff", "id": "front-desk"}
PATROL_ACTOR = {"kind": "service", "id": "patrol"}
STUDENT = "S-104233"
NOTE = "Jordan was upset after lunch"  # student data that must never reach an email


# --- school fixtures -------------------------------------------------------------------------


def person(
    pid: str,
    *roles: str,
    hours: str | None = None,
    days: Sequence[str] = ("mon", "tue", "wed", "thu", "fri"),
    no_school_days: bool = False,
    email: bool = False,
) -> dict[str, Any]:
    p: dict[str, Any] = {"id": pid, "name": pid.replace("-", " ").title(), "roles": list(roles)}
    p["on_duty"] = list(days)
    if hours is not None:
        p["duty_hours"] = hours
    if no_school_days:
        p["on_duty_no_school_days"] = True
    if email:
        p["email"] = f"{pid}@school.example.org"
    return p


ALL_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def step(*targets: str, delay: int = 0, when: str = "always") -> dict[str, Any]:
    return {"targets": list(targets), "delay_minutes": delay, "when": when}


def policy(
    name: str,
    steps: Sequence[dict[str, Any]],
    categories: Sequence[str] = ("*",),
    severities: Sequence[str] | None = None,
    repeat: int = 0,
    ack_timeout: int = 60,
) -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "categories": list(categories), "steps": list(steps)}
    if severities is not None:
        p["severities"] = list(severities)
    p["repeat"] = repeat
    p["ack_timeout_minutes"] = ack_timeout
    return p


def school(
    people: Sequence[dict[str, Any]],
    policies: Sequence[dict[str, Any]],
    *,
    tz: str = "America/Chicago",
    periods: Sequence[tuple[str, str, str, str]] = (("day", "class", "08:00", "15:00"),),
    no_school_days: Sequence[str] = (),
    on_call: Sequence[str] | None = None,
    zones: Sequence[dict[str, Any]] | None = None,
    patrol_plan: Sequence[dict[str, Any]] = (),
    heartbeat_limit: int = 10,
) -> dict[str, Any]:
    """A tiny school: one or two zones, a short bell schedule, the given people and policies."""
    doc: dict[str, Any] = {
        "id": "tiny",
        "name": "Tiny School",
        "timezone": tz,
        "student_count": 200,
        "zones": list(
            zones
            or [
                {"id": "hall-a", "name": "Hall A", "kind": "hallway", "checkpoints": ["T-HA"]},
                {"id": "bath-b", "name": "Bathroom B", "kind": "bathroom", "checkpoints": ["T-BB"]},
            ]
        ),
        "bell_schedule": {
            "periods": [{"name": n, "kind": k, "start": s, "end": e} for n, k, s, e in periods],
            "no_school_days": list(no_school_days),
        },
        "patrol_plan": list(patrol_plan),
        "heartbeat_limit_minutes": heartbeat_limit,
        "escalation_policies": list(policies),
        "people": list(people),
    }
    if on_call is not None:
        doc["on_call"] = list(on_call)
    return doc


# --- time ------------------------------------------------------------------------------------


def local(text_: str, tz: str = "America/Chicago", year: int | None = None) -> datetime:
    """School time as an aware datetime: `2026-11-20 19:00`, or `11-20 19:00` in `year`,
    optionally led by the weekday (`Fri 11-20 19:00`, checked) and followed by the zone's
    abbreviation (`Sun 11-01 01:30 CST`, which picks one side of a fall-back hour)."""
    parts = text_.split()
    weekday = parts.pop(0) if parts[0] in WEEKDAYS else None
    abbr = parts.pop() if parts[-1].isalpha() and parts[-1].isupper() else None
    day = parts[0] if parts[0].count("-") == 2 else f"{year}-{parts[0]}"
    moment = datetime.fromisoformat(f"{day} {parts[1]}").replace(tzinfo=ZoneInfo(tz))
    if abbr is not None and moment.tzname() != abbr:
        moment = moment.replace(fold=1)
    if abbr is not None and moment.tzname() != abbr:
        raise ValueError(f"{text_!r}: that moment is not {abbr}")
    if weekday is not None and WEEKDAYS[moment.weekday()] != weekday:
        raise ValueError(f"{text_!r}: that day is a {WEEKDAYS[moment.weekday()]}")
    return moment


def show(moment: datetime, tz: str, zone: bool = False) -> str:
    """`Fri 11-20 19:00` in school time (with `CST`/`CDT` when asked)."""
    lt = moment.astimezone(ZoneInfo(tz))
    out = f"{WEEKDAYS[lt.weekday()]} {lt:%m-%d %H:%M}"
    return f"{out} {lt.tzname()}" if zone else out


# --- SMTP ------------------------------------------------------------------------------------


@dataclass
class Received:
    at: datetime
    to: str
    subject: str
    body: str


class SmtpSink:
    """A real SMTP server (aiosmtpd in its own thread) recording what it receives and when, by
    the scenario's clock."""

    def __init__(self, clock: ManualClock) -> None:
        from aiosmtpd.controller import Controller

        self.clock = clock
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self.port = _free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message: EmailMessage = BytesParser(policy=email.policy.default).parsebytes(
            envelope.content
        )  # type: ignore[assignment]
        body = message.get_body(("plain",))
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append(
                    Received(
                        self.clock.now(),
                        rcpt,
                        str(message["Subject"]),
                        body.get_content() if body is not None else "",
                    )
                )
        return "250 Message accepted for delivery"

    def stop(self) -> None:
        self._controller.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the suite of services -------------------------------------------------------------------


class TickerFailed(AssertionError):
    pass


class _TickErrors(logging.Handler):
    """The ticker logs a failing module and goes on; a scenario must fail loudly instead."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


@dataclass
class Service:
    kernel: ServiceKernel
    tick: Any  # async () -> dict
    relayed: int = 0  # highest outbox id relayed


@dataclass
class Scenario:
    """One scenario's services, clock and observations."""

    root: Path
    doc: dict[str, Any]
    clock: ManualClock
    alerts: list[Service] = field(default_factory=list)
    patrol: Service | None = None
    alert_timers: list[Any] = field(default_factory=list)
    sink: SmtpSink | None = None
    commands: Any = None
    notifications: list[tuple[datetime, AlertNotification]] = field(default_factory=list)
    emitted: list[tuple[datetime, Event]] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # service, type, reason
    concurrent: bool = False
    _errors: _TickErrors = field(default_factory=_TickErrors)
    _n: int = 0

    @property
    def tz(self) -> str:
        return str(self.doc["timezone"])

    def when(self, text_: str) -> datetime:
        """School time in this scenario (a date without a year is in the current year)."""
        return local(text_, self.tz, self.clock.now().astimezone(ZoneInfo(self.tz)).year)

    @property
    def school_id(self) -> str:
        return str(self.doc["id"])

    # -- building ---------------------------------------------------------------------------

    @classmethod
    async def start(
        cls,
        root: Path,
        doc: dict[str, Any],
        at: str,
        *,
        patrol: bool = False,
        smtp: bool = False,
        alerts_db_url: str | None = None,
        replicas: int = 1,
    ) -> Scenario:
        from services.alerts import app as alerts_app

        path = _write_school(root, doc)
        clock = ManualClock(local(at, doc["timezone"], 2026))
        s = cls(root, doc, clock)
        logging.getLogger("lookout.ticker").addHandler(s._errors)
        if smtp:
            s.sink = SmtpSink(clock)
        settings = Settings(
            data_dir=root / "data",
            nats_url="nats://127.0.0.1:1",
            schools=str(path),
            alerts_db_url=alerts_db_url,
            smtp_host="127.0.0.1",
            smtp_port=s.sink.port if s.sink else 9,  # 9: discard; no scenario mails without
        )
        for i in range(replicas):
            kernel = alerts_app.create_kernel(settings, clock)
            if i == 0:
                await _migrated(kernel, alerts_db_url is None)
            _app, timers = alerts_app.build(kernel)
            s.alert_timers.append(timers)
            s.alerts.append(Service(kernel, timers.ticker.tick))
        s.commands = _commands(s.alerts[0].kernel, s.alert_timers[0])
        if patrol:
            from services.patrol import app as patrol_app

            pk = patrol_app.create_kernel(settings, clock)
            await _migrated(pk, True)
            patrol_app.build_app(pk)
            assert pk.ticker is not None
            s.patrol = Service(pk, pk.ticker.tick)
        await s.settle()
        return s

    async def close(self) -> None:
        logging.getLogger("lookout.ticker").removeHandler(self._errors)
        for svc in self.services:
            await svc.kernel.engine.dispose()
        if self.sink is not None:
            self.sink.stop()

    @property
    def services(self) -> list[Service]:
        return [*self.alerts, *([self.patrol] if self.patrol else [])]

    # -- events -----------------------------------------------------------------------------

    async def emit(self, event: Event) -> Event:
        """An event from outside (a phone, staff, the visitors service) at the clock's now."""
        self.emitted.append((self.clock.now(), event))
        await self._deliver(event, exclude=None)
        await self.settle()
        return event

    def _next_replica(self) -> Service:
        self._n += 1
        return self.alerts[self._n % len(self.alerts)]

    async def _deliver(self, event: Event, exclude: Service | None) -> None:
        subject = subject_of(event)
        targets = [self._next_replica()] + ([self.patrol] if self.patrol else [])
        for svc in targets:
            consumers = [c for c in svc.kernel.stream_consumers if _matches(c, subject)]
            for consumer in consumers:
                await self._apply(svc, consumer, event)

    async def _apply(self, svc: Service, consumer: Any, event: Event) -> None:
        """What EventConsumer._apply_together does for one event: inbox, apply, record."""
        kernel = svc.kernel
        inbox = kernel.consumer.inbox
        async with kernel.sessions.begin() as session:
            if await inbox.seen(session, [inbox_key(event)]):
                return
            rejected = await consumer.apply(session, [event])
            if event.event_id in rejected:
                self.refused.append((kernel.name, event.type, rejected[event.event_id]))
                return
            await inbox.record(session, [event], self.clock.now())

    async def _relay(self) -> bool:
        """Move every new outbox row to the consumers matching it; True if any moved."""
        moved = False
        for svc in self._outboxes():
            table = svc.kernel.outbox.table
            async with svc.kernel.sessions() as session:
                rows = (
                    await session.execute(
                        select(table).where(table.c.id > svc.relayed).order_by(table.c.id)
                    )
                ).all()
            for row in rows:
                svc.relayed = row.id
                moved = True
                event = parse_event(row.subject, bytes(row.payload))
                if isinstance(event, AlertNotification):
                    self.notifications.append((row.created_at, event))
                await self._deliver(event, exclude=svc)
        return moved

    def _outboxes(self) -> list[Service]:
        # Replicas share one database, hence one outbox.
        return [self.alerts[0], *([self.patrol] if self.patrol else [])]

    # -- time -------------------------------------------------------------------------------

    async def settle(self) -> None:
        """Tick everything at the clock's now until nothing more happens."""
        for _ in range(8):
            before = len(self._errors.records)
            if self.patrol is not None:
                await self.patrol.tick()
            await self._relay()
            if self.concurrent and len(self.alerts) > 1:
                await asyncio.gather(*(a.tick() for a in self.alerts))
            else:
                for a in self.alerts:
                    await a.tick()
            await self._relay()
            if self.sink is not None:
                for timers in self.alert_timers[:1]:
                    await timers.mailer.run_once()
            await self._relay()
            if len(self._errors.records) > before:
                raise TickerFailed("; ".join(self._errors.records[before:]))
            due = await self._earliest(self.clock.now(), due_only=True)
            if due is None:
                return
        raise AssertionError(f"still something due at {self.clock.now()} after 8 rounds")

    async def advance_to(self, when: str) -> None:
        """Move the clock to `when` (school time), stopping at every moment anything may be
        due on the way and ticking every service there."""
        target = self.when(when)
        if target < self.clock.now():
            raise ValueError(f"{when} is in the scenario's past")
        while True:
            nxt = await self._earliest(self.clock.now(), due_only=False)
            bell = self._boundary_after(self.clock.now())
            nxt = bell if nxt is None else min(nxt, bell)
            if nxt > target:
                break
            self.clock.set(nxt)
            await self.settle()
        if self.clock.now() < target:
            self.clock.set(target)
            await self.settle()

    async def _earliest(self, now: datetime, *, due_only: bool) -> datetime | None:
        """The earliest timestamp after `now` in any table of any service (or, `due_only`, the
        earliest alerts escalation/email deadline at or before now: something left due)."""
        if due_only:
            from services.alerts.store import AlertRepository

            async with self.alerts[0].kernel.sessions() as session:
                repo = AlertRepository(session)
                found = [await repo.next_deadline()]
                if self.sink is not None:
                    found.append(await repo.next_email_due())
            due = [d for d in found if d is not None and d <= now]
            return min(due) if due else None
        best: datetime | None = None
        for svc in self._outboxes():
            async with svc.kernel.sessions() as session:
                for moment in await _future_moments(session, svc.kernel, now):
                    best = moment if best is None or moment < best else best
        return best

    def _boundary_after(self, now: datetime) -> datetime:
        """The next bell, duty-hours boundary or midnight (school time) after `now`."""
        tz = ZoneInfo(self.tz)
        clock_times = {time(0, 0)}
        for p in self.doc["bell_schedule"]["periods"]:
            clock_times |= {time.fromisoformat(p["start"]), time.fromisoformat(p["end"])}
        for p in self.doc["people"]:
            if p.get("duty_hours"):
                a, b = p["duty_hours"].split("-")
                clock_times |= {time.fromisoformat(a), time.fromisoformat(b)}
        day = now.astimezone(tz).date() - timedelta(days=1)
        for offset in range(3):
            d: date = day + timedelta(days=offset)
            for t in sorted(clock_times):
                moment = datetime.combine(d, t, tzinfo=tz)
                if moment > now:
                    return moment.astimezone(UTC)
        return now + timedelta(days=1)

    # -- observations -----------------------------------------------------------------------

    def notified(
        self,
        *,
        category: str | None = None,
        alert: uuid.UUID | str | None = None,
        zone: bool = False,
        severity: bool = False,
    ) -> list[tuple[str, ...]]:
        """(school time, person, route) of every notification, in time order (people told at
        the same moment by person id: the order within a moment is nobody's promise)."""
        out: list[tuple[str, ...]] = []
        for at, n in sorted(self.notifications, key=lambda x: (x[0], x[1].person_id)):
            if category is not None and n.category != category:
                continue
            if alert is not None and str(n.alert_id) != str(alert):
                continue
            row: tuple[str, ...] = (show(at, self.tz, zone), n.person_id, n.route.value)
            if severity:
                row += (n.severity.value,)
            out.append(row)
        return out

    def emails(self) -> list[tuple[str, str]]:
        assert self.sink is not None
        return [(show(r.at, self.tz), r.to.split("@")[0]) for r in self.sink.received]

    async def alert_rows(self, key_prefix: str = "") -> list[dict[str, Any]]:
        """The alerts with dedup keys starting with `key_prefix`, oldest first."""
        async with self.alerts[0].kernel.sessions() as session:
            rows = await session.execute(
                text(
                    "SELECT alert_id, dedup_key, status, count, severity, policy_name "
                    "FROM alerts WHERE dedup_key LIKE :k ORDER BY opened_at, alert_id"
                ),
                {"k": key_prefix + "%"},
            )
            return [dict(r._mapping) for r in rows]

    async def alert_id(self, key_prefix: str, index: int = 0) -> uuid.UUID:
        rows = await self.alert_rows(key_prefix)
        assert len(rows) > index, f"no alert #{index} with a key like {key_prefix!r}"
        return uuid.UUID(rows[index]["alert_id"])

    async def summaries(self) -> list[AlertSummary]:
        listing = await self.commands.list(self.school_id, ListRequest(open_only=False))
        return list(listing.alerts)

    async def summary(self, alert_id: uuid.UUID) -> AlertSummary:
        (found,) = [a for a in await self.summaries() if a.alert_id == alert_id]
        return found

    def at(self, moment: datetime | None) -> str | None:
        return None if moment is None else show(moment, self.tz)

    # -- commands ---------------------------------------------------------------------------

    async def ack(self, alert_id: uuid.UUID, by: str) -> AlertSummary:
        result = await self.commands.ack(
            self.school_id, AckRequest(alert_id=alert_id, by_person_id=by)
        )
        await self.settle()
        return result  # type: ignore[no-any-return]

    async def resolve(self, alert_id: uuid.UUID, by: str, note: str = "handled") -> AlertSummary:
        result = await self.commands.resolve(
            self.school_id, ResolveRequest(alert_id=alert_id, by_person_id=by, note=note)
        )
        await self.settle()
        return result  # type: ignore[no-any-return]

    # -- event makers (at the clock's now) --------------------------------------------------

    def _common(self, actor: dict[str, str] | None = None) -> dict[str, Any]:
        return {
            "school_id": self.school_id,
            "occurred_at": self.clock.now(),
            "actor": actor or STAFF,
        }

    async def concern(
        self, category: str, severity: str, cid: uuid.UUID | None = None, zone: str = "hall-a"
    ) -> uuid.UUID:
        cid = cid or uuid.uuid4()
        await self.emit(
            ConcernRaised.new(
                **self._common(),
                concern_id=cid,
                category=category,
                severity=severity,
                zone_id=zone,
                student_refs=[STUDENT],
                note=NOTE,
            )
        )
        return cid

    async def update_severity(self, cid: uuid.UUID, severity: str) -> None:
        await self.emit(ConcernUpdated.new(**self._common(), concern_id=cid, severity=severity))

    async def resolve_concern(self, cid: uuid.UUID, follow_up_days: int | None = None) -> None:
        await self.emit(
            ConcernResolved.new(
                **self._common({"kind": "sso_device", "id": "sso-a"}),
                concern_id=cid,
                outcome="resolved_by_sso",
                note=NOTE,
                follow_up_in_school_days=follow_up_days,
            )
        )

    async def heartbeat_missed(self, officer: str, device: str = "phone-1") -> None:
        await self.emit(
            HeartbeatMissed.new(
                **self._common(PATROL_ACTOR),
                device_id=device,
                officer_id=officer,
                last_seen_at=self.clock.now() - timedelta(minutes=10),
                silent_minutes=10,
            )
        )

    async def heartbeat_resumed(self, officer: str, device: str = "phone-1") -> None:
        await self.emit(
            HeartbeatResumed.new(
                **self._common(PATROL_ACTOR),
                device_id=device,
                officer_id=officer,
                silent_since=self.clock.now() - timedelta(minutes=10),
            )
        )

    async def follow_up_completed(self, cid: uuid.UUID, late: bool = True) -> None:
        await self.emit(
            FollowUpCompleted.new(**self._common(PATROL_ACTOR), concern_id=cid, late=late)
        )

    async def screening_flagged(self, visit: uuid.UUID, decision: str) -> None:
        await self.emit(
            ScreeningFlagged.new(
                **self._common({"kind": "front_office", "id": "desk-1"}),
                visit_id=visit,
                watchlist_entry_id="W-1",
                score=0.93,
                decision=decision,
                decided_by="fo-f",
            )
        )

    async def visitor_overdue(self, visit: uuid.UUID) -> None:
        await self.emit(
            VisitorOverdue.new(
                **self._common({"kind": "service", "id": "visitors"}),
                visit_id=visit,
                badge_number="B-7",
                expected_until=self.clock.now() - timedelta(minutes=15),
            )
        )

    async def visitor_checked_out(self, visit: uuid.UUID) -> None:
        await self.emit(
            VisitorCheckedOut.new(
                **self._common({"kind": "front_office", "id": "desk-1"}),
                visit_id=visit,
                badge_number="B-7",
                method="front_office",
            )
        )

    async def check_missed(self, zone: str, start: str, end: str) -> None:
        await self.emit(
            CheckMissed.new(
                **self._common(PATROL_ACTOR),
                zone_id=zone,
                window_start=self.when(start),
                window_end=self.when(end),
            )
        )

    async def follow_up_missed(self, cid: uuid.UUID, category: str, severity: str) -> None:
        await self.emit(
            FollowUpMissed.new(
                **self._common(PATROL_ACTOR),
                concern_id=cid,
                category=category,
                severity=severity,
                zone_id="hall-a",
                due_at=self.clock.now(),
            )
        )

    async def phone_heartbeat(
        self, officer: str, device: str = "phone-1", stamp: datetime | None = None
    ) -> None:
        await self.emit(
            DeviceHeartbeat.new(
                school_id=self.school_id,
                occurred_at=stamp or self.clock.now(),
                actor={"kind": "sso_device", "id": device},
                device_id=device,
                officer_id=officer,
            )
        )

    async def scan(self, zone: str, tag: str, made_at: str | None = None) -> None:
        """A checkpoint scan, made at `made_at` (school time; default now), delivered now."""
        await self.emit(
            CheckpointScanned.new(
                school_id=self.school_id,
                occurred_at=self.when(made_at) if made_at else self.clock.now(),
                actor={"kind": "sso_device", "id": "phone-1"},
                zone_id=zone,
                checkpoint_tag=tag,
                method="nfc",
            )
        )

    async def contact(self, cid: uuid.UUID) -> None:
        await self.emit(
            ContactLogged.new(
                **self._common({"kind": "sso_device", "id": "phone-1"}),
                kind="check_in",
                zone_id="hall-a",
                student_refs=[STUDENT],
                concern_id=cid,
            )
        )


_TEMPLATES: dict[str, Path] = {}


async def _migrated(kernel: ServiceKernel, sqlite_file: bool) -> None:
    """The service's database at head: migrated once per test session with the real
    migrations, then copied for each scenario (a migration run costs half a second)."""
    if not sqlite_file:
        await upgrade_database(kernel.engine, kernel.migrations, kernel.name)
        return
    path = Path(kernel.engine.url.database or "")
    template = _TEMPLATES.get(kernel.name)
    if template is not None:
        await kernel.engine.dispose()
        _copy(template, path)
        return
    await upgrade_database(kernel.engine, kernel.migrations, kernel.name)
    await kernel.engine.dispose()  # the WAL is checkpointed into the file
    template = Path(tempfile.mkdtemp(prefix="lookout-scenario-")) / f"{kernel.name}.db"
    _copy(path, template)
    _TEMPLATES[kernel.name] = template


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _write_school(root: Path, doc: dict[str, Any]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "school.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _commands(kernel: ServiceKernel, timers: Any) -> Any:
    """The alerts service's ack/resolve/show/list commands as `build()` wires them. `build()`
    does not hand them out (yet), so they are assembled the same way from the kernel."""
    found = getattr(timers, "commands", None)
    if found is not None:
        return found
    from services.alerts.escalation import Escalator
    from services.alerts.handlers import AlertCommands

    escalator = Escalator(kernel.schools, kernel.outbox)
    return AlertCommands(kernel.sessions, kernel.schools, escalator, kernel.clock, lambda: None)


def _matches(consumer: Any, subject: str) -> bool:
    many = getattr(consumer, "subjects", None)  # one filter today; several, soon
    filters: Iterable[str] = (
        ([many] if isinstance(many, str) else list(many)) if many else [consumer.subject]
    )
    return any(_nats_match(f, subject) for f in filters)


def _nats_match(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


async def _future_moments(session: AsyncSession, kernel: ServiceKernel, now: datetime) -> list[Any]:
    """The earliest future value of every timestamp column of every table of a service."""
    out: list[Any] = []
    metadata = kernel.outbox.table.metadata
    for table in metadata.sorted_tables:
        cols = [c for c in table.columns if isinstance(c.type, UTCDateTime)]
        if not cols:
            continue
        try:
            row = (
                await session.execute(
                    select(*(func.min(case((c > now, c))) for c in cols)).select_from(table)
                )
            ).one()
        except Exception:  # a table the migrations have not created (yet): nothing due in it
            continue
        out += [v if isinstance(v, datetime) else _as_utc(v) for v in row if v is not None]
    return [m for m in out if m is not None and m > now]


def _as_utc(value: Any) -> datetime | None:
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    return None
