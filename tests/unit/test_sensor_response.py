"""The sensor response rule shared by the weekly email and the console: counts per kind, a
check counts once its scan is known by the moment asked, the median rounds half up to whole
seconds, and the words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lookout.school.sensor_response import (
    KindFigures,
    SensorCheckFact,
    alerts_of,
    clock,
    figures,
    sentence,
)

T0 = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)


def checked(kind: str, seconds: int, in_time: bool) -> SensorCheckFact:
    return SensorCheckFact(kind, T0, T0 + timedelta(seconds=seconds), seconds, in_time)


def test_figures_per_kind_in_the_contracts_order() -> None:
    facts = [
        checked("thc", 100, True),
        checked("vape", 101, True),
        checked("vape", 200, True),
        checked("vape", 400, False),
        SensorCheckFact("vape", T0),  # nobody scanned yet
        checked("vape", 900, False),  # scanned after `until`
    ]
    until = T0 + timedelta(seconds=600)
    assert figures(facts, until) == [
        # median of 101, 200, 400 is 200; the late scan after `until` is not counted
        KindFigures("vape", alerts=5, in_time=2, checked=3, median_seconds=200),
        KindFigures("thc", alerts=1, in_time=1, checked=1, median_seconds=100),
    ]
    # 101 and 200: (101 + 200) / 2 = 150.5, rounded half up to 151
    two = figures(facts[1:3], until)
    assert two[0].median_seconds == 151 and two[0].unchecked == 0
    assert figures(facts, until)[0].unchecked == 2


def test_the_words() -> None:
    assert clock(160) == "2:40" and clock(0) == "0:00" and clock(3725) == "1:02:05"
    assert [alerts_of(k) for k in ("vape", "thc", "loud_sound", "tamper")] == [
        "Vape alerts",
        "THC alerts",
        "Loud sound alerts",
        "Tampering alerts",
    ]
    vape = KindFigures("vape", alerts=3, in_time=2, checked=2, median_seconds=160)
    assert sentence(vape, 5, when=" today", unchecked="not checked yet") == (
        "Vape alerts today: 3, checked within 5 min: 2, median 2:40; 1 not checked yet"
    )
    none = KindFigures("thc", alerts=1, in_time=0, checked=0, median_seconds=None)
    assert sentence(none, 10) == "THC alerts: 1, checked within 10 min: 0"
