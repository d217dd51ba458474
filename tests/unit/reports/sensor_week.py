"""Sensor alerts of 2026-W48 at Lakeside High (the summary covers Fri 20 Nov 15:00 to Fri 27 Nov
15:00, Chicago; `check_minutes` 5), with the weekly email's figures counted by hand:

| # | kind       | raised          | events                     | scanned   | s    | in time |
|---|------------|-----------------|----------------------------|-----------|------|---------|
| 1 | vape       | Mon 23 10:00    | assigned, done             | 10:02:40  | 160  | yes     |
| 2 | vape       | Mon 23 11:00    | assigned, done             | 11:04:00  | 240  | yes     |
| 3 | vape       | Tue 24 09:00    | assigned, missed, done     | 09:12:30  | 750  | no      |
| 4 | vape       | Wed 25 12:00    | assigned, done             | 12:01:00  | 60   | yes     |
| 5 | vape       | Fri 27 14:58    | assigned (done at 15:01)   | after end | 180  | (yes)   |
| 6 | thc        | Mon 23 13:00    | missed, done (nobody asked)| 13:20:00  | 1200 | no      |
| 7 | loud_sound | Thu 19 10:00    | assigned, done (W47)       | 10:01:30  | 90   | yes     |

W48: vape 5 alerts, within 5 min 3 (#1, #2, #4; #5 was scanned after the week's end), checked
4, median of 60, 160, 240, 750 = (160 + 240) / 2 = 200 s = 3:20, 1 not checked by the end;
THC 1 alert, within 0, median 1200 s = 20:00. W47: loud sound 1, within 1, median 1:30.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import SensorCheckAssigned, SensorCheckDone, SensorCheckMissed

TZ = ZoneInfo("America/Chicago")
SVC = {"kind": "service", "id": "patrol"}
WEEK = "2026-W48"
MINUTES = 5


def at(day: int, hhmmss: str) -> datetime:
    return datetime.combine(date(2026, 11, day), time.fromisoformat(hhmmss), tzinfo=TZ)


def _ev(model: Any, when: datetime, **fields: Any) -> Event:
    return model.new(school_id="lhs", occurred_at=when, actor=SVC, **fields)  # type: ignore[no-any-return]


def alert(
    kind: str,
    zone: str,
    raised: datetime,
    *,
    assigned: bool = True,
    missed: bool = False,
    scanned: datetime | None = None,
) -> list[Event]:
    """One sensor alert's check as the patrol service emits it, in stream order."""
    sid = uuid.uuid4()
    check_by = raised + timedelta(minutes=MINUTES)
    common = {"zone_id": zone, "sensor_event_id": sid, "sensor_kind": kind, "raised_at": raised}
    out: list[Event] = []
    if assigned:
        out.append(
            _ev(SensorCheckAssigned, raised, officer_id="sso-rivera", check_by=check_by, **common)
        )
    if missed:
        out.append(_ev(SensorCheckMissed, check_by, check_by=check_by, **common))
    if scanned is not None:
        out.append(
            _ev(
                SensorCheckDone,
                scanned,
                checked_at=scanned,
                response_seconds=int((scanned - raised).total_seconds()),
                in_time=scanned <= check_by,
                officer_id="sso-rivera",
                **common,
            )
        )
    return out


def sensor_events() -> list[Event]:
    """The PATROL stream's sensor checks of the table above, in publication order."""
    boys, girls = "bath-1n-boys", "bath-1n-girls"
    events: list[Event] = []
    events += alert("loud_sound", "cafeteria", at(19, "10:00"), scanned=at(19, "10:01:30"))
    events += alert("vape", boys, at(23, "10:00"), scanned=at(23, "10:02:40"))
    events += alert("vape", girls, at(23, "11:00"), scanned=at(23, "11:04"))
    events += alert("thc", boys, at(23, "13:00"), assigned=False, missed=True,
                    scanned=at(23, "13:20"))  # fmt: skip
    events += alert("vape", boys, at(24, "09:00"), missed=True, scanned=at(24, "09:12:30"))
    events += alert("vape", girls, at(25, "12:00"), scanned=at(25, "12:01"))
    events += alert("vape", boys, at(27, "14:58"), scanned=at(27, "15:01"))
    return events


EXPECTED_HTML = {
    "sensors.check_minutes": "5",
    "sensors.vape.label": "Vape alerts",
    "sensors.vape.alerts": "5",
    "sensors.vape.in_time": "3",
    "sensors.vape.median": "3:20",
    "sensors.vape.unchecked": "1",
    "sensors.thc.label": "THC alerts",
    "sensors.thc.alerts": "1",
    "sensors.thc.in_time": "0",
    "sensors.thc.median": "20:00",
}
EXPECTED_TEXT = [
    "Sensor alerts raised this week (an SSO checks the zone within 5 min):",
    "Vape alerts: 5, checked within 5 min: 3, median 3:20; 1 not checked by the week's end",
    "THC alerts: 1, checked within 5 min: 0, median 20:00",
]
