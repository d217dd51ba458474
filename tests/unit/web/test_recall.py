"""The web process's memory of sessions and devices: fresh for exactly 5 s from the read,
bounded in size (the least recently stored goes first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.web.recall import DeviceBinding, KnownDevices, RecentSessions
from services.web.store import SessionRow

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def _row(id_hash: str) -> SessionRow:
    return SessionRow(
        id_hash=id_hash,
        school_id="lhs",
        person_id="sso-rivera",
        kind="phone",
        csrf_token="t",
        created_at=T0,
        last_seen_at=T0,
    )


def test_a_session_is_remembered_for_five_seconds_from_its_read() -> None:
    recent = RecentSessions()
    recent.remember(_row("a"), T0)
    assert recent.get("a", T0 + timedelta(seconds=4, microseconds=999_999)) == _row("a")
    assert recent.get("a", T0 + timedelta(seconds=5)) is None
    assert recent.get("a", T0) is None  # gone once stale, not revived by an earlier clock


def test_a_clock_set_back_does_not_extend_a_memory() -> None:
    recent = RecentSessions()
    recent.remember(_row("a"), T0)
    assert recent.get("a", T0 - timedelta(seconds=1)) is None


def test_forgotten_and_bounded() -> None:
    recent = RecentSessions(limit=2)
    for name in ("a", "b", "c"):
        recent.remember(_row(name), T0)
    assert [recent.get(n, T0) is not None for n in ("a", "b", "c")] == [False, True, True]
    recent.forget("b")
    assert recent.get("b", T0) is None

    devices = KnownDevices(limit=2)
    for name in ("p1", "p2", "p3"):
        devices.remember(name, DeviceBinding("lhs", "sso-rivera", T0))
    assert devices.get("p1") is None
    assert devices.get("p3") == DeviceBinding("lhs", "sso-rivera", T0)
