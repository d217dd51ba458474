"""Tiny High, a small school for scripted days against the real patrol handlers and timers.

Zone A is checked during passing periods, the main entrance before school (07:15-07:45), the
cafeteria every 10 minutes at lunch; first bell 07:45, last bell 15:00 (school time, Chicago).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import CheckpointScanned, DeviceHeartbeat
from lookout.contracts.subjects import parse_event
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from lookout.kernel.storage import upgrade_database
from lookout.school.config import SchoolConfig
from services.patrol import store
from services.patrol.app import MIGRATIONS, build_app
from services.patrol.handlers import PatrolHandlers

SCHOOL = {
    "id": "tiny",
    "name": "Tiny High",
    "timezone": "America/Chicago",
    "student_count": 300,
    "heartbeat_limit_minutes": 10,
    "zones": [
        {"id": "bath-a", "name": "Bathroom A", "kind": "bathroom", "checkpoints": ["T-A"]},
        {"id": "entrance", "name": "Entrance", "kind": "entrance", "checkpoints": ["T-E"]},
        {"id": "cafeteria", "name": "Cafeteria", "kind": "cafeteria", "checkpoints": ["T-C"]},
    ],
    "bell_schedule": {
        "periods": [
            {"name": "p1", "kind": "class", "start": "07:45", "end": "08:35"},
            {"name": "pass-1", "kind": "passing", "start": "08:35", "end": "08:42"},
            {"name": "p2", "kind": "class", "start": "08:42", "end": "09:32"},
            {"name": "pass-2", "kind": "passing", "start": "09:32", "end": "09:39"},
            {"name": "p3", "kind": "class", "start": "09:39", "end": "11:00"},
            {"name": "lunch", "kind": "lunch", "start": "11:00", "end": "11:30"},
            {"name": "p4", "kind": "class", "start": "11:30", "end": "15:00"},
        ],
        "no_school_days": ["2026-11-26"],
    },
    "patrol_plan": [
        {"zones": ["bath-a"], "during": ["passing"], "grace_minutes": 3},
        {"zones": ["entrance"], "window": "07:15-07:45", "grace_minutes": 5},
        {"zones": ["cafeteria"], "during": ["lunch"], "every_minutes": 10, "grace_minutes": 2},
    ],
    "people": [{"id": "sso-kim", "name": "Jo Kim", "roles": ["sso"]}],
}
CHICAGO = -6  # UTC offset in late November
ACTOR = {"kind": "sso_device", "id": "phone-kim"}


def at(hhmm: str, day: int = 23) -> datetime:
    """School-local time on Monday 23 November 2026 (or another day of that month), in UTC."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=CHICAGO)


class Day:
    """One patrol service instance: kernel, handlers and ticker on a shared database (Tiny
    High, or another school file in Chicago time)."""

    def __init__(
        self, database_url: str, clock: ManualClock, tmp: Any, school_file: Any = None
    ) -> None:
        school = SchoolConfig.model_validate(school_file or SCHOOL)
        settings = Settings(data_dir=tmp, patrol_db_url=database_url, nats_url="nats://none:1")
        self.kernel = ServiceKernel(
            "patrol",
            inbox=store.inbox,
            outbox=store.outbox,
            migrations=MIGRATIONS,
            settings=settings,
            clock=clock,
            schools={school.id: school},
        )
        self.school_id = school.id
        build_app(self.kernel)  # registers the timers on the kernel
        self.handlers = PatrolHandlers(self.kernel.schools, self.kernel.outbox, clock)
        self.clock = clock

    async def tick_at(self, hhmm: str, day: int = 23) -> dict[str, int]:
        self.clock.set(at(hhmm, day))
        assert self.kernel.ticker is not None
        return await self.kernel.ticker.tick()

    async def scan(
        self, zone: str, tag: str, hhmm: str, day: int = 23, received: str | None = None
    ) -> None:
        """A scan made at `hhmm`, delivered then or (offline queue, weak signal) at `received`."""
        event = CheckpointScanned.new(
            school_id=self.school_id,
            occurred_at=at(hhmm, day),
            actor=ACTOR,
            zone_id=zone,
            checkpoint_tag=tag,
            method="nfc",
        )
        self.clock.set(at(received or hhmm, day))
        async with self.kernel.sessions.begin() as session:
            assert await self.handlers.checkpoint_scans(session, [event]) == {}

    async def heartbeat(
        self,
        hhmm: str,
        day: int = 23,
        received: str | None = None,
        device: str = "phone-kim",
        officer: str = "sso-kim",
    ) -> None:
        """A heartbeat stamped `hhmm` by the phone, received then or at `received`."""
        event = DeviceHeartbeat.new(
            school_id=self.school_id,
            occurred_at=at(hhmm, day),
            actor={"kind": "sso_device", "id": device},
            device_id=device,
            officer_id=officer,
        )
        self.clock.set(at(received or hhmm, day))
        await self.apply(self.handlers.heartbeats, event)

    async def apply(self, handler: Any, event: Event) -> None:
        async with self.kernel.sessions.begin() as session:
            assert await handler(session, [event]) == {}

    async def emitted(self) -> list[Event]:
        async with self.kernel.sessions() as session:
            rows = await session.execute(select(store.outbox).order_by(store.outbox.c.id))
            return [parse_event(r.subject, r.payload) for r in rows]


def closed(events: list[Event]) -> list[tuple[str, str, str]]:
    """(zone, local window start, outcome) of every window-closed event."""
    return [
        (e.zone_id, f"{(e.window_start + timedelta(hours=CHICAGO)):%H:%M}", e.outcome.value)  # type: ignore[attr-defined]
        for e in events
        if e.type == "check.window_closed"
    ]


async def started_day(
    database_url: str, clock: ManualClock, tmp: Any, school_file: Any = None
) -> Day:
    """A patrol service instance on a freshly migrated database (Tiny High unless told)."""
    d = Day(database_url, clock, tmp, school_file)
    await upgrade_database(d.kernel.engine, MIGRATIONS, "patrol")
    return d
