"""The event contracts: strict envelopes, opaque student references, the subject catalogue."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lookout.contracts.patrol import CheckpointScanned, ContactLogged
from lookout.contracts.subjects import CATALOGUE, InvalidEvent, lookup, parse_event, subject_of

ACTOR = {"kind": "sso_device", "id": "phone-1"}
NOW = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)


def scan(**over: object) -> CheckpointScanned:
    fields: dict[str, object] = {
        "school_id": "lhs",
        "occurred_at": NOW,
        "actor": ACTOR,
        "zone_id": "bath-1n-boys",
        "checkpoint_tag": "T-1NB",
        "method": "nfc",
    }
    fields.update(over)
    return CheckpointScanned.new(**fields)


def test_subject_carries_school_entity_and_verb() -> None:
    assert subject_of(scan()) == "patrol.lhs.checkpoint.scanned"


def test_round_trip_through_bytes_gives_the_same_event() -> None:
    event = scan()
    assert parse_event(subject_of(event), event.model_dump_json().encode()) == event


def test_naive_timestamp_is_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        scan(occurred_at=datetime(2026, 11, 23, 8, 0))


def test_unknown_field_is_rejected_without_its_name() -> None:
    payload = scan().model_dump(mode="json") | {"Jane_Doe_2009": "Jane Doe"}
    with pytest.raises(InvalidEvent) as refused:
        parse_event("patrol.lhs.checkpoint.scanned", json.dumps(payload).encode())
    assert refused.value.reason == "schema violation for checkpoint.scanned: <root>: unknown field"


def test_a_nested_made_up_key_and_a_parsing_fragment_are_never_quoted() -> None:
    payload = scan().model_dump(mode="json") | {
        "event_id": "Jane-Doe",
        "actor": {"kind": "sso_device", "id": "phone-1", "Zed_Quill": 1},
    }
    with pytest.raises(InvalidEvent) as refused:
        parse_event("patrol.lhs.checkpoint.scanned", json.dumps(payload).encode())
    assert refused.value.reason == (
        "schema violation for checkpoint.scanned: event_id: Input should be a valid UUID; "
        "actor: unknown field"
    )


@pytest.mark.parametrize("ref", ["Jane Doe", "JaneDoe", "jane.doe", "x1"])
def test_a_name_is_not_a_student_reference(ref: str) -> None:
    with pytest.raises(ValidationError):
        ContactLogged.new(
            school_id="lhs", occurred_at=NOW, actor=ACTOR, kind="check_in", student_refs=[ref]
        )


def test_opaque_reference_is_accepted() -> None:
    contact = ContactLogged.new(
        school_id="lhs", occurred_at=NOW, actor=ACTOR, kind="check_in", student_refs=["S-104233"]
    )
    assert contact.student_refs == ["S-104233"]


def test_reason_names_the_field_but_not_the_value() -> None:
    payload = scan().model_dump(mode="json") | {"zone_id": "secret note text"}
    with pytest.raises(InvalidEvent) as err:
        parse_event("patrol.lhs.checkpoint.scanned", json.dumps(payload).encode())
    assert "zone_id" in err.value.reason
    assert "secret" not in err.value.reason


def test_school_in_subject_must_match_payload() -> None:
    event = scan()
    with pytest.raises(InvalidEvent, match=r"^school_id: does not match the subject's school$"):
        parse_event("patrol.other.checkpoint.scanned", event.model_dump_json().encode())


def test_every_catalogue_subject_resolves_back_to_its_model() -> None:
    for spec in CATALOGUE:
        person = {name: "sso-1" for name in spec.placeholders if name != "school"}
        found, school = lookup(spec.for_school("lhs", **person))
        assert (found.model, school) == (spec.model, "lhs")
    assert len({s.type for s in CATALOGUE}) == len(CATALOGUE)


def test_unknown_subject_is_invalid() -> None:
    with pytest.raises(InvalidEvent, match=r"^subject: not a subject of the catalogue$"):
        lookup("patrol.lhs.teleport")


def test_event_ids_are_made_by_the_emitter() -> None:
    a, b = scan(), scan()
    assert a.event_id != b.event_id
    assert isinstance(a.event_id, uuid.UUID)


def test_every_event_model_is_in_the_catalogue() -> None:
    from lookout.contracts import alerts, patrol, reports, visitors
    from lookout.contracts.envelope import Event
    from lookout.contracts.subjects import BY_MODEL

    models = {
        obj
        for module in (patrol, visitors, alerts, reports)
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Event) and obj is not Event
    }
    assert models - set(BY_MODEL) == set()


def test_a_per_person_subject_carries_the_officer() -> None:
    from lookout.contracts.patrol import FollowUpDue

    due = FollowUpDue.new(
        school_id="lhs",
        occurred_at=NOW,
        actor={"kind": "service", "id": "patrol"},
        officer_id="sso-rivera",
        concern_id=uuid.uuid4(),
        due_at=NOW,
    )
    assert subject_of(due) == "patrol.lhs.sso.sso-rivera.follow_up_due"
    assert parse_event(subject_of(due), due.model_dump_json().encode()) == due
