"""Whether an event may be applied at all, judged once for every consumer alike.

A service refusing what another applies is how a concern in an unknown zone opened an alert in
one service and was dead-lettered by the next. So every consumer runs the same judgement before
its handlers see an event: the school's zones, checkpoint tags, people and student reference
format, and the event's time against when it reached the server. The handlers keep only the
rules about their own state (a concern raised twice, a badge with no visit).

Reasons name the field and the kind of fault, never the value sent (it may be a student's name).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import CheckpointScanned
from lookout.school.config import SchoolConfig

# A phone's clock may run a little fast; a scan stamped further ahead is not believable.
FUTURE_SKEW = timedelta(minutes=5)
# An offline phone may deliver what it kept days later (a weekend, a week of no signal in the
# basement); an event a month older than its arrival is a replay or a broken clock.
MAX_DELAY = timedelta(days=30)

# Fields that name a zone, a person or students, wherever they appear in an event.
ZONE_FIELDS = frozenset({"zone_id", "last_seen_zone"})
ZONE_LIST_FIELDS = frozenset({"destination_zones"})
PERSON_FIELDS = frozenset({"officer_id"})
STUDENT_FIELDS = frozenset({"student_refs"})


def refuse_event(school: SchoolConfig, event: Event, received_at: datetime) -> str | None:
    """None when `event` may be applied in `school`; else why not. `received_at` is when the
    server stored it, on the suite's clock, so every consumer judges the same moment."""
    if event.occurred_at > received_at + FUTURE_SKEW:
        return "occurred_at: more than 5 minutes ahead of the server's clock"
    if event.occurred_at < received_at - MAX_DELAY:
        return "occurred_at: more than 30 days before the event reached the server"
    if reason := _refuse_references(school, event, ""):
        return reason
    if isinstance(event, CheckpointScanned):
        return _refuse_scan(school, event)
    return None


def _refuse_scan(school: SchoolConfig, scan: CheckpointScanned) -> str | None:
    owner = school.zone_by_checkpoint.get(scan.checkpoint_tag)
    if owner is None:
        return "checkpoint_tag: not a checkpoint of this school"
    if owner != scan.zone_id:
        return "checkpoint_tag: belongs to another zone than zone_id"
    return None


def _refuse_references(school: SchoolConfig, model: BaseModel, prefix: str) -> str | None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        where = f"{prefix}{name}"
        if value is None:
            continue
        if name in ZONE_FIELDS and value not in school.zone_ids:
            return f"{where}: not a zone of this school"
        if name in ZONE_LIST_FIELDS and any(z not in school.zone_ids for z in value):
            return f"{where}: not a zone of this school"
        if name in PERSON_FIELDS and value not in school.person_ids:
            return f"{where}: not a person of this school"
        if name in STUDENT_FIELDS and not _all_students(school, value):
            return f"{where}: not a student reference of this school"
        if isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel) and (
                    reason := _refuse_references(school, item, f"{where}.{i}.")
                ):
                    return reason
        elif (
            isinstance(value, BaseModel)
            and name != "actor"
            and (reason := _refuse_references(school, value, f"{where}."))
        ):
            return reason
    return None


def _all_students(school: SchoolConfig, refs: Iterable[str]) -> bool:
    return all(school.student_reference.fullmatch(ref) for ref in refs)
