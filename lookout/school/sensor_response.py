"""How fast sensor alerts were checked, one rule for the weekly email and the console: per sensor
kind, the alerts raised, how many were checked within the school's check minutes, the median
response time of those checked, and those not checked yet; said in the school's words
("Vape alerts: 9, checked within 5 min: 7, median 2:40").

A check counts only once its scan is known by `until` (the week's end, or now): an alert still
unchecked then is not within, whatever happens later. The median is the middle response time
(the mean of the two middle ones for an even count), rounded half up to whole seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from lookout.contracts.sensors import SensorKind
from lookout.school import words

# What a kind's alerts are called where `words.category` does not read as a noun.
ALERTS_OF = {"tamper": "tampering alerts", "other": "other sensor alerts"}


@dataclass(frozen=True)
class SensorCheckFact:
    """One sensor alert and what became of its zone check."""

    kind: str
    raised_at: datetime
    checked_at: datetime | None = None  # the first scan of the zone after the alert
    response_seconds: int | None = None
    in_time: bool | None = None  # scanned by the deadline


@dataclass(frozen=True)
class KindFigures:
    """One kind's alerts: raised, checked within the check minutes, checked at all, median."""

    kind: str
    alerts: int
    in_time: int
    checked: int
    median_seconds: int | None

    @property
    def unchecked(self) -> int:
        return self.alerts - self.checked


def figures(checks: Iterable[SensorCheckFact], until: datetime) -> list[KindFigures]:
    """Per kind with an alert, in the contract's order of kinds (unknown kinds after it)."""
    by_kind: dict[str, list[SensorCheckFact]] = {}
    for c in checks:
        by_kind.setdefault(c.kind, []).append(c)
    order = [k.value for k in SensorKind] + sorted(set(by_kind) - {k.value for k in SensorKind})
    out = []
    for kind in order:
        alerts = by_kind.get(kind)
        if not alerts:
            continue
        done = [c for c in alerts if c.checked_at is not None and c.checked_at < until]
        out.append(
            KindFigures(
                kind=kind,
                alerts=len(alerts),
                in_time=sum(bool(c.in_time) for c in done),
                checked=len(done),
                median_seconds=median_seconds([c.response_seconds or 0 for c in done]),
            )
        )
    return out


def median_seconds(values: list[int]) -> int | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    middle = Decimal(s[mid]) if len(s) % 2 else Decimal(s[mid - 1] + s[mid]) / 2
    return int(middle.quantize(Decimal(1), ROUND_HALF_UP))


def clock(seconds: int) -> str:
    """`2:40`; `1:02:05` from an hour on."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def alerts_of(kind: str) -> str:
    """`Vape alerts`, `THC alerts`, `Loud sound alerts`, `Tampering alerts`."""
    name = ALERTS_OF.get(kind, f"{words.category(kind)} alerts")
    return name[:1].upper() + name[1:]


def sentence(f: KindFigures, check_minutes: int, *, when: str = "", unchecked: str = "") -> str:
    """`Vape alerts: 9, checked within 5 min: 7, median 2:40`; `when` after the label
    (` today`), and `; 1 not checked yet` when some are not and `unchecked` says how."""
    text = f"{alerts_of(f.kind)}{when}: {f.alerts}, checked within {check_minutes} min: {f.in_time}"
    if f.median_seconds is not None:
        text += f", median {clock(f.median_seconds)}"
    if f.unchecked and unchecked:
        text += f"; {f.unchecked} {unchecked}"
    return text
