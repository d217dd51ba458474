"""An event as one readable line for the operator's feed (`lookout tail`, the simulator's log):
key fields as `name=value`, lists as counts, free text only as a flag — never a note or a
student reference."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

from lookout.contracts.envelope import Event

ENVELOPE = frozenset({"event_id", "type", "schema_version", "school_id", "occurred_at", "actor"})
# String fields safe to show: ids and tags (tokens). Every other string is treated as free text.
SHOWN_STRINGS = frozenset({"checkpoint_tag", "badge_number", "week"})


def _value(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)[:8]
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, str):
        return value if (name.endswith("_id") or name in SHOWN_STRINGS) else None
    return None


def describe_event(event: Event) -> str:
    """Key fields as `name=value`; lists as counts; free text only as a flag."""
    parts: list[str] = []
    for name in type(event).model_fields:
        if name in ENVELOPE:
            continue
        value = getattr(event, name)
        if name == "student_refs":
            if value is not None:
                n = len(value)
                parts.append(f"{n} student{'s' if n != 1 else ''}")
            continue
        if isinstance(value, list | tuple):
            parts.append(f"{len(value)} {name}")
            continue
        shown = _value(name, value)
        if shown is not None:
            parts.append(f"{name}={shown}")
        elif isinstance(value, str) and value:
            parts.append(f"+{name}")  # present, not shown
    parts.append(f"by={event.actor.kind.value}:{event.actor.id}")
    return " ".join(parts)
