"""What the web process remembers between requests, so a phone's batch of events and its
heartbeats cost no database round trip: sessions seen active a moment ago, and which person
each device is bound to.

The database stays the source of truth. A remembered session is trusted for a few seconds
and only while it is active (a locked or expired one is always read again); this process
forgets a session the moment it ends one. With several web replicas, a sign-out on one is
seen by another within `SESSION_FRESH_FOR`. A device's binding never changes once made, so it
is remembered until evicted; its `last_seen_at` is still written every `DEVICE_SEEN_EVERY`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from services.web.store import SessionRow

SESSION_FRESH_FOR = timedelta(seconds=5)
# Bounds: a school's people and phones are a few hundred; a district's a few thousand.
MAX_SESSIONS = 10_000
MAX_DEVICES = 10_000


K = TypeVar("K")
V = TypeVar("V")


def _bounded_put(entries: dict[K, V], key: K, value: V, limit: int) -> None:
    entries.pop(key, None)
    entries[key] = value  # newest last
    while len(entries) > limit:
        del entries[next(iter(entries))]  # the least recently stored


@dataclass(frozen=True)
class _Remembered:
    row: SessionRow
    read_at: datetime


class RecentSessions:
    """Sessions read from the database in the last `SESSION_FRESH_FOR`, by id hash."""

    def __init__(self, fresh_for: timedelta = SESSION_FRESH_FOR, limit: int = MAX_SESSIONS):
        self._fresh_for = fresh_for
        self._limit = limit
        self._entries: dict[str, _Remembered] = {}

    def get(self, id_hash: str, now: datetime) -> SessionRow | None:
        entry = self._entries.get(id_hash)
        if entry is None:
            return None
        if not (entry.read_at <= now < entry.read_at + self._fresh_for):
            del self._entries[id_hash]
            return None
        return entry.row

    def remember(self, row: SessionRow, now: datetime) -> None:
        _bounded_put(self._entries, row.id_hash, _Remembered(row, now), self._limit)

    def forget(self, id_hash: str) -> None:
        self._entries.pop(id_hash, None)


@dataclass(frozen=True)
class DeviceBinding:
    school_id: str
    person_id: str
    last_seen_at: datetime  # as last written to the database


class KnownDevices:
    """Devices whose binding this process has read or made."""

    def __init__(self, limit: int = MAX_DEVICES) -> None:
        self._limit = limit
        self._entries: dict[str, DeviceBinding] = {}

    def get(self, device_id: str) -> DeviceBinding | None:
        return self._entries.get(device_id)

    def remember(self, device_id: str, binding: DeviceBinding) -> None:
        _bounded_put(self._entries, device_id, binding, self._limit)
