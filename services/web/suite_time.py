"""`GET /api/v1/clock`: the suite's time, for the phone to stamp its events with.

Every consumer judges an event's `occurred_at` against the suite's clock (at most 5 minutes
ahead, 30 days behind). On the wall clock that is the phone's own time; under a simulated clock
(the demo's scaled week, a test's driven clock) it is not, so the phone keeps this reading and
moves it on at `rate` by its own clock (services/web/static/clock.js). Not behind sign-in: the
time is no secret, and a phone refreshing it must not keep its session from idling out.
"""

from __future__ import annotations

import hashlib
from datetime import UTC
from enum import StrEnum

from fastapi import APIRouter
from pydantic import BaseModel, Field

from lookout.kernel.clock import Clock, ScaledClock, SystemClock
from services.web.deps import State

router = APIRouter(prefix="/api/v1", tags=["clock"])


class ClockKind(StrEnum):
    WALL = "wall"  # real time: the phone stamps its own
    SCALED = "scaled"  # simulated, `rate` times real time: the phone moves the reading on
    DRIVEN = "driven"  # moved in steps by a driver (a test): the phone stamps the last reading


class ClockReading(BaseModel):
    kind: ClockKind
    now: str = Field(description="The suite's time, ISO 8601 in UTC to the millisecond.")
    rate: float = Field(
        description="Suite seconds per real second: 1 on the wall clock, 0 when driven."
    )
    id: str = Field(description="Which clock: readings of different clocks are not compared.")


def reading_of(clock: Clock) -> ClockReading:
    """`clock`'s reading, truncated to the millisecond (never rounded up: the phone's estimate
    must not run ahead of the suite)."""
    now = clock.now().astimezone(UTC)
    stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(clock, SystemClock):
        return ClockReading(kind=ClockKind.WALL, now=stamp, rate=1.0, id="wall")
    if isinstance(clock, ScaledClock):
        key = hashlib.sha256(clock.spec().encode()).hexdigest()[:16]
        return ClockReading(kind=ClockKind.SCALED, now=stamp, rate=clock.speed, id=key)
    return ClockReading(kind=ClockKind.DRIVEN, now=stamp, rate=0.0, id="driven")


@router.get("/clock", response_model=ClockReading, summary="The suite's time")
async def suite_time(state: State) -> ClockReading:
    """What the phone stamps `occurred_at` by; `rate` says how it moves between readings."""
    return reading_of(state.suite_clock)
