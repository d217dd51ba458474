"""Rules for sensor alerts, as pure functions: who is asked to check the zone, by when, what a
sensor's reading counts as among observations, and how long a response took."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from lookout.contracts.patrol import ObservationCategory
from lookout.contracts.sensors import SensorKind
from lookout.school.config import Role, SchoolConfig

# What each reading adds to the zone's observations (hotspots count them).
OBSERVED_AS: dict[SensorKind, ObservationCategory] = {
    SensorKind.VAPE: ObservationCategory.VAPING,
    SensorKind.THC: ObservationCategory.VAPING,
    SensorKind.TAMPER: ObservationCategory.PROPERTY_DAMAGE,
    SensorKind.LOUD_SOUND: ObservationCategory.OTHER,
    SensorKind.OTHER: ObservationCategory.OTHER,
}


@dataclass(frozen=True)
class LastSeen:
    """Where an officer last scanned a checkpoint, and when."""

    zone_id: str
    at: datetime


def check_by(school: SchoolConfig, raised_at: datetime) -> datetime:
    """The zone must be scanned by then, or the alert escalates."""
    return raised_at + timedelta(minutes=school.sensors.check_minutes)


def nearest_officer(
    school: SchoolConfig, zone_id: str, last_seen: Mapping[str, LastSeen], now: datetime
) -> str | None:
    """The on-duty SSO to ask: one whose last scan was in the zone itself; else the one seen
    most recently (the likeliest to be moving about the building); else the first on duty by
    the school file's order. None when no SSO is on duty (the alert still escalates if nobody
    checks: the officer is a shortcut, not the safety net)."""
    on_duty = [p.id for p in school.people if Role.SSO in p.roles and school.on_duty(p, now)]
    if not on_duty:
        return None
    seen = [(last_seen[o], o) for o in on_duty if o in last_seen]
    here = [o for s, o in seen if s.zone_id == zone_id]
    if here:
        return here[0]
    if seen:
        return max(seen, key=lambda pair: pair[0].at)[1]
    return on_duty[0]


def response_seconds(raised_at: datetime, checked_at: datetime) -> int:
    return max(0, int((checked_at - raised_at).total_seconds()))
