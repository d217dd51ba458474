"""Patrol rules, pure: what a scan, observation, concern or contact must satisfy to be stored.

Each check returns None when the event is acceptable, or the reason it is refused (which goes to
the dead-letter subject, so it names ids and states, never note text or student references).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lookout.contracts.patrol import (
    CheckpointScanned,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    ContactLogged,
    ObservationLogged,
)
from lookout.school import SchoolConfig


class ConcernStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class ConcernState:
    """What the rules need to know of a stored concern."""

    status: ConcernStatus


def refuse_scan(school: SchoolConfig, scan: CheckpointScanned) -> str | None:
    owner = school.zone_by_checkpoint.get(scan.checkpoint_tag)
    if scan.zone_id not in school.zone_ids:
        return f"unknown zone {scan.zone_id!r} in school {school.id!r}"
    if owner is None:
        return f"unknown checkpoint {scan.checkpoint_tag!r} in school {school.id!r}"
    if owner != scan.zone_id:
        return f"checkpoint {scan.checkpoint_tag!r} belongs to zone {owner!r}, not {scan.zone_id!r}"
    return None


def refuse_zone(school: SchoolConfig, zone_id: str | None) -> str | None:
    if zone_id is not None and zone_id not in school.zone_ids:
        return f"unknown zone {zone_id!r} in school {school.id!r}"
    return None


def refuse_observation(school: SchoolConfig, obs: ObservationLogged) -> str | None:
    return refuse_zone(school, obs.zone_id)


def refuse_contact(school: SchoolConfig, contact: ContactLogged) -> str | None:
    return refuse_zone(school, contact.zone_id)


def refuse_concern_event(
    school: SchoolConfig,
    event: ConcernRaised | ConcernUpdated | ConcernResolved,
    current: ConcernState | None,
) -> str | None:
    """The concern lifecycle: raised → (updated)* → resolved."""
    cid = event.concern_id
    zone = None if isinstance(event, ConcernResolved) else event.zone_id
    if (reason := refuse_zone(school, zone)) is not None:
        return reason
    if isinstance(event, ConcernRaised):
        if current is not None:
            return f"concern {cid} was already raised"
        return None
    if current is None:
        return f"concern {cid} is unknown (not raised)"
    if current.status is ConcernStatus.RESOLVED:
        return f"concern {cid} is already resolved"
    return None
