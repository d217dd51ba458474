"""Property: whatever bytes arrive, decoding either yields a valid event or names the problem."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lookout.contracts.subjects import InvalidEvent, parse_event
from tests.strategies import broken_scan, invalid_payloads


@settings(max_examples=300)
@given(data=invalid_payloads)
def test_invalid_payloads_raise_invalid_event_with_a_reason(data: bytes) -> None:
    try:
        parse_event("patrol.lhs.checkpoint.scanned", data)
    except InvalidEvent as exc:
        assert exc.reason
    else:
        raise AssertionError("an invalid payload was accepted")


@settings(max_examples=200)
@given(data=broken_scan(), secret=st.just("Jane-Q-Student-DOB-2009"))
def test_reasons_never_echo_payload_values(data: bytes, secret: str) -> None:
    tainted = data.replace(b'"nfc"', f'"{secret}"'.encode())
    try:
        parse_event("patrol.lhs.checkpoint.scanned", tainted)
    except InvalidEvent as exc:
        assert secret not in exc.reason
