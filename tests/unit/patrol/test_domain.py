"""Patrol rules, pure: which concern steps are refused (places and students: test_admission)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from lookout.contracts.patrol import (
    CheckpointScanned,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
)
from services.patrol.domain import (
    ConcernState,
    ConcernStatus,
    refuse_concern_event,
)

ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
NOW = datetime(2026, 11, 23, 14, 40, tzinfo=UTC)
CID = uuid.UUID("6f1c2a52-2b9e-4f0e-9d3c-1a2b3c4d5e6f")
OPEN = ConcernState(ConcernStatus.OPEN)
RESOLVED = ConcernState(ConcernStatus.RESOLVED)


def envelope() -> dict[str, object]:
    return {"school_id": "lhs", "occurred_at": NOW, "actor": ACTOR}


def scan(zone: str, tag: str) -> CheckpointScanned:
    return CheckpointScanned.new(**envelope(), zone_id=zone, checkpoint_tag=tag, method="nfc")


def raised(zone: str | None = "cafeteria") -> ConcernRaised:
    return ConcernRaised.new(
        **envelope(), concern_id=CID, category="conflict", severity="medium", zone_id=zone
    )


def updated(zone: str | None = None) -> ConcernUpdated:
    return ConcernUpdated.new(**envelope(), concern_id=CID, severity="high", zone_id=zone)


def resolved() -> ConcernResolved:
    return ConcernResolved.new(**envelope(), concern_id=CID, outcome="resolved_by_sso")


# --- the concern lifecycle: raised → (updated)* → resolved --------------------------------------


def test_raising_a_new_concern_is_accepted() -> None:
    assert refuse_concern_event(raised(), None) is None
    assert refuse_concern_event(raised(zone=None), None) is None


@pytest.mark.parametrize("current", [OPEN, RESOLVED], ids=["open", "resolved"])
def test_raising_a_concern_twice_is_refused(current: ConcernState) -> None:
    assert refuse_concern_event(raised(), current) == "concern_id: already raised"


def test_updating_or_resolving_an_open_concern_is_accepted() -> None:
    assert refuse_concern_event(updated(), OPEN) is None
    assert refuse_concern_event(updated(zone="courtyard"), OPEN) is None
    assert refuse_concern_event(resolved(), OPEN) is None


@pytest.mark.parametrize("event", [updated, resolved], ids=["update", "resolve"])
def test_updating_or_resolving_an_unknown_concern_is_refused(
    event: Callable[[], ConcernUpdated | ConcernResolved],
) -> None:
    assert refuse_concern_event(event(), None) == "concern_id: unknown (never raised)"


@pytest.mark.parametrize("event", [updated, resolved], ids=["update", "resolve"])
def test_updating_or_resolving_a_resolved_concern_is_refused(
    event: Callable[[], ConcernUpdated | ConcernResolved],
) -> None:
    assert refuse_concern_event(event(), RESOLVED) == "concern_id: already resolved"


def test_reasons_name_the_field_never_notes_or_ids() -> None:
    note = "Student said they were scared to go home"
    event = ConcernResolved.new(
        **envelope(), concern_id=CID, outcome="referred_to_counselor", note=note
    )
    reason = refuse_concern_event(event, RESOLVED)
    assert reason == "concern_id: already resolved"
