"""Hypothesis strategies for payloads that must never be accepted as events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import strategies as st

from lookout.contracts.patrol import CheckpointScanned

REQUIRED = ["event_id", "type", "school_id", "occurred_at", "actor", "zone_id", "checkpoint_tag"]


def valid_scan_payload() -> dict[str, object]:
    event = CheckpointScanned.new(
        school_id="lhs",
        occurred_at=datetime(2026, 11, 23, 14, 40, tzinfo=UTC),
        actor={"kind": "sso_device", "id": "phone-1"},
        zone_id="bath-1n-boys",
        checkpoint_tag="T-1NB",
        method="nfc",
    )
    return event.model_dump(mode="json")


@st.composite
def broken_scan(draw: st.DrawFn) -> bytes:
    """A checkpoint-scan payload with one change that the contract must refuse."""
    payload = valid_scan_payload()
    how = draw(st.sampled_from(["drop", "extra", "enum", "naive", "school", "type", "tag"]))
    if how == "drop":
        del payload[draw(st.sampled_from(REQUIRED))]
    elif how == "extra":
        key = draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in payload))
        payload[key] = draw(st.text(max_size=20))
    elif how == "enum":
        payload["method"] = draw(
            st.text(max_size=10).filter(lambda m: m not in {"nfc", "qr", "manual"})
        )
    elif how == "naive":
        payload["occurred_at"] = "2026-11-23T08:40:00"
    elif how == "school":
        payload["school_id"] = draw(st.sampled_from(["LHS", "l.hs", "", "lhs>", "a" * 40]))
    elif how == "type":
        payload["type"] = draw(st.text(max_size=20).filter(lambda t: t != "checkpoint.scanned"))
    else:
        payload["checkpoint_tag"] = draw(st.sampled_from(["", "has space", "x" * 65, "tag.dot"]))
    return json.dumps(payload).encode()


invalid_payloads = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda v: json.dumps(v).encode(), st.one_of(st.integers(), st.lists(st.text()), st.text())
    ),
    broken_scan(),
)
