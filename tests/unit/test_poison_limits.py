"""Streams bound message size (issue 13, item 2): every stream refuses a message bigger than
the largest legitimate event needs, with room to spare, and the DLQ takes any dead letter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import ConcernRaised, FocusItem, PatrolFocusPublished
from lookout.contracts.subjects import STREAMS
from lookout.kernel.messaging import EVENT_MAX_BYTES, stream_configs
from lookout.kernel.settings import Settings

NOW = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)
# A control character is the costliest in JSON: `\u0001`, six bytes for one character.
WORST = "\x01"
LONGEST_TOKEN = "A" + "b" * 63  # Token: 64 characters
ACTOR = {"kind": "sso_device", "id": LONGEST_TOKEN}


def size(event: Event) -> int:
    return len(event.model_dump_json().encode())


def largest_concern(note_chars: int = 2000) -> ConcernRaised:
    return ConcernRaised.new(
        school_id="a" + "b" * 31, occurred_at=NOW, actor=ACTOR, concern_id=uuid.uuid4(),
        category="emotional_distress", severity="critical", zone_id=LONGEST_TOKEN,
        student_refs=[f"S{i:031d}" for i in range(20)], note=WORST * note_chars,
    )  # fmt: skip


def largest_focus() -> PatrolFocusPublished:
    item = FocusItem(
        zone_id=LONGEST_TOKEN, period=LONGEST_TOKEN, score=1.7976931348623157e308,
        concerns=10**18, observations=10**18, reason=WORST * 300,
    )  # fmt: skip
    return PatrolFocusPublished.new(
        school_id="a" + "b" * 31, occurred_at=NOW, actor=ACTOR, week="2026-W48", items=[item] * 50
    )


def test_the_largest_concern_is_the_contract_limit() -> None:
    with pytest.raises(ValidationError):
        largest_concern(note_chars=2001)
    with pytest.raises(ValidationError):
        ConcernRaised.model_validate(
            largest_concern().model_dump() | {"student_refs": [f"S{i:031d}" for i in range(21)]}
        )


def test_the_largest_concern_fits_the_stream_limit_many_times_over() -> None:
    assert size(largest_concern()) > 12_000  # the 2000 escaped characters are in it
    assert size(largest_concern()) * 10 < EVENT_MAX_BYTES


def test_the_largest_patrol_focus_fits_the_stream_limit_with_room_to_spare() -> None:
    assert size(largest_focus()) > 90_000  # 50 reasons of 300 escaped characters
    assert size(largest_focus()) * 2 < EVENT_MAX_BYTES


def test_every_stream_bounds_message_size_far_below_a_megabyte() -> None:
    limits = {c.name: c.max_msg_size for c in stream_configs(Settings())}
    assert set(limits) == set(STREAMS)
    assert limits == {
        "CALENDAR": 256 * 1024,
        "PATROL": 256 * 1024,
        "CONCERNS": 256 * 1024,
        "VISITORS": 256 * 1024,
        "ALERTS": 256 * 1024,
        "REPORTS": 256 * 1024,
        "SENSORS": 256 * 1024,
        "DLQ": 272 * 1024,  # an event's bytes plus the dead letter's headers
    }
