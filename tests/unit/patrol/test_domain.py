"""Patrol rules, pure: which scans, observations, contacts and concern steps are refused."""

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
    ContactLogged,
    ObservationLogged,
)
from lookout.school import SchoolConfig
from services.patrol.domain import (
    ConcernState,
    ConcernStatus,
    refuse_concern_event,
    refuse_contact,
    refuse_observation,
    refuse_scan,
    refuse_zone,
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


# --- scans ------------------------------------------------------------------------------------


def test_scan_of_a_zones_own_checkpoint_is_accepted(school: SchoolConfig) -> None:
    assert refuse_scan(school, scan("bath-1n-boys", "T-1NB")) is None
    assert refuse_scan(school, scan("hall-1-north", "T-H1N-B")) is None


def test_scan_in_an_unknown_zone_is_refused(school: SchoolConfig) -> None:
    assert refuse_scan(school, scan("bath-3n-boys", "T-1NB")) == (
        "unknown zone 'bath-3n-boys' in school 'lhs'"
    )


def test_scan_of_an_unknown_checkpoint_is_refused(school: SchoolConfig) -> None:
    assert refuse_scan(school, scan("bath-1n-boys", "T-9ZZ")) == (
        "unknown checkpoint 'T-9ZZ' in school 'lhs'"
    )


def test_scan_of_another_zones_checkpoint_is_refused(school: SchoolConfig) -> None:
    assert refuse_scan(school, scan("bath-1n-boys", "T-1NG")) == (
        "checkpoint 'T-1NG' belongs to zone 'bath-1n-girls', not 'bath-1n-boys'"
    )


def test_unknown_zone_is_reported_before_unknown_checkpoint(school: SchoolConfig) -> None:
    assert refuse_scan(school, scan("roof", "T-9ZZ")) == "unknown zone 'roof' in school 'lhs'"


def test_checkpoint_tags_are_case_sensitive(school: SchoolConfig) -> None:
    assert refuse_scan(school, scan("bath-1n-boys", "t-1nb")) == (
        "unknown checkpoint 't-1nb' in school 'lhs'"
    )


# --- zones of observations and contacts -------------------------------------------------------


@pytest.mark.parametrize("zone", [None, "cafeteria", "parking-staff"])
def test_no_zone_or_a_known_zone_is_accepted(school: SchoolConfig, zone: str | None) -> None:
    assert refuse_zone(school, zone) is None


def test_unknown_zone_is_refused(school: SchoolConfig) -> None:
    assert refuse_zone(school, "pool") == "unknown zone 'pool' in school 'lhs'"


def test_observation_needs_a_known_zone(school: SchoolConfig) -> None:
    def obs(zone: str) -> ObservationLogged:
        return ObservationLogged.new(**envelope(), zone_id=zone, category="vaping")

    assert refuse_observation(school, obs("bath-2s-girls")) is None
    assert refuse_observation(school, obs("pool")) == "unknown zone 'pool' in school 'lhs'"


def test_contact_zone_is_optional_but_must_be_known(school: SchoolConfig) -> None:
    def contact(zone: str | None) -> ContactLogged:
        return ContactLogged.new(
            **envelope(), kind="check_in", zone_id=zone, student_refs=["S-104233"]
        )

    assert refuse_contact(school, contact(None)) is None
    assert refuse_contact(school, contact("library")) is None
    assert refuse_contact(school, contact("pool")) == "unknown zone 'pool' in school 'lhs'"


# --- the concern lifecycle: raised → (updated)* → resolved --------------------------------------


def test_raising_a_new_concern_is_accepted(school: SchoolConfig) -> None:
    assert refuse_concern_event(school, raised(), None) is None
    assert refuse_concern_event(school, raised(zone=None), None) is None


@pytest.mark.parametrize("current", [OPEN, RESOLVED], ids=["open", "resolved"])
def test_raising_a_concern_twice_is_refused(school: SchoolConfig, current: ConcernState) -> None:
    assert refuse_concern_event(school, raised(), current) == f"concern {CID} was already raised"


def test_raising_in_an_unknown_zone_is_refused(school: SchoolConfig) -> None:
    assert refuse_concern_event(school, raised(zone="pool"), None) == (
        "unknown zone 'pool' in school 'lhs'"
    )


def test_updating_or_resolving_an_open_concern_is_accepted(school: SchoolConfig) -> None:
    assert refuse_concern_event(school, updated(), OPEN) is None
    assert refuse_concern_event(school, updated(zone="courtyard"), OPEN) is None
    assert refuse_concern_event(school, resolved(), OPEN) is None


@pytest.mark.parametrize("event", [updated, resolved], ids=["update", "resolve"])
def test_updating_or_resolving_an_unknown_concern_is_refused(
    school: SchoolConfig, event: Callable[[], ConcernUpdated | ConcernResolved]
) -> None:
    assert refuse_concern_event(school, event(), None) == f"concern {CID} is unknown (not raised)"


@pytest.mark.parametrize("event", [updated, resolved], ids=["update", "resolve"])
def test_updating_or_resolving_a_resolved_concern_is_refused(
    school: SchoolConfig, event: Callable[[], ConcernUpdated | ConcernResolved]
) -> None:
    assert refuse_concern_event(school, event(), RESOLVED) == f"concern {CID} is already resolved"


def test_update_moving_to_an_unknown_zone_is_refused(school: SchoolConfig) -> None:
    assert refuse_concern_event(school, updated(zone="pool"), OPEN) == (
        "unknown zone 'pool' in school 'lhs'"
    )


def test_reasons_name_ids_never_notes(school: SchoolConfig) -> None:
    note = "Student said they were scared to go home"
    event = ConcernResolved.new(
        **envelope(), concern_id=CID, outcome="referred_to_counselor", note=note
    )
    reason = refuse_concern_event(school, event, RESOLVED)
    assert reason == f"concern {CID} is already resolved"
