"""Every failure to decode or validate a message is poison, whatever Python raised for it
(issue 13, item 2): parse_event turns it into InvalidEvent, whose reason names the kind of
fault and never the value, so every consumer dead-letters it on the first delivery."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from lookout.contracts.patrol import ConcernRaised
from lookout.contracts.subjects import InvalidEvent, parse_event

SUBJECT = "concern.lhs.raised"


def concern(**over: object) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "event_id": "6f1c1f0e-8d2a-4c8e-9a51-0c1f5d1b2a33",
        "type": "concern.raised",
        "school_id": "lhs",
        "occurred_at": "2026-11-28T16:00:00Z",
        "actor": {"kind": "sso_device", "id": "phone-1"},
        "concern_id": "0b7a4d8e-1e2f-4a3b-8c9d-5e6f7a8b9c0d",
        "category": "weapon",
        "severity": "critical",
    }
    fields.update(over)
    return fields


def reason_of(data: bytes) -> str:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(SUBJECT, data)
    return caught.value.reason


def test_an_array_nested_5000_deep_is_undecodable_not_a_crash() -> None:
    assert reason_of(b"[" * 5000 + b"]" * 5000) == "undecodable JSON: nested too deep"


def test_an_object_nested_5000_deep_is_undecodable_not_a_crash() -> None:
    assert reason_of(b'{"a":' * 5000 + b"1" + b"}" * 5000) == "undecodable JSON: nested too deep"


def test_deep_nesting_inside_a_valid_concern_is_undecodable() -> None:
    head = json.dumps(concern())[:-1].encode()
    data = head + b', "zone_id": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert reason_of(data) == "undecodable JSON: nested too deep"


def test_an_integer_of_5000_digits_is_undecodable_and_the_digits_are_not_quoted() -> None:
    data = json.dumps(concern())[:-1].encode() + b', "note": ' + b"7" * 5000 + b"}"
    reason = reason_of(data)
    assert reason == "undecodable JSON: number out of range"
    assert "7777" not in reason


def test_a_negative_integer_of_5000_digits_alone_is_undecodable() -> None:
    assert reason_of(b"-" + b"3" * 5000) == "undecodable JSON: number out of range"


def test_a_float_overflowing_to_infinity_is_a_schema_violation_naming_the_field() -> None:
    data = json.dumps(concern())[:-1].encode() + b', "severity": 1e400}'
    assert reason_of(data).startswith("schema violation for concern.raised: severity: ")


def test_an_overflow_raised_while_validating_is_poison_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pydantic wraps ValueError; an OverflowError (datetime arithmetic in a validator, say)
    # reaches the caller as it is.
    def overflow(cls: type[ConcernRaised], payload: object) -> ConcernRaised:
        raise OverflowError("date value out of range: 9999-12-31 secret")

    monkeypatch.setattr(ConcernRaised, "model_validate", classmethod(overflow))
    reason = reason_of(json.dumps(concern()).encode())
    assert reason == "invalid concern.raised: OverflowError"


def test_any_other_exception_while_validating_is_poison(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(cls: type[ConcernRaised], payload: object) -> ConcernRaised:
        raise TypeError("unhashable: Jane Doe")

    monkeypatch.setattr(ConcernRaised, "model_validate", classmethod(broken))
    assert reason_of(json.dumps(concern()).encode()) == "invalid concern.raised: TypeError"


def test_bytes_that_are_not_utf8_are_undecodable() -> None:
    assert reason_of(b'{"note": "\xff"}') == "undecodable JSON: not UTF-8 text"


def test_a_valid_concern_still_parses() -> None:
    event = parse_event(SUBJECT, json.dumps(concern()).encode())
    assert isinstance(event, ConcernRaised)
    assert event.concern_id == uuid.UUID("0b7a4d8e-1e2f-4a3b-8c9d-5e6f7a8b9c0d")
