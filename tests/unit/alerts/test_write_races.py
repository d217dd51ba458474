"""What the escalation ticker reads cannot be overwritten by what it writes: an acknowledgement
committed while the ticker fires the same alert survives (issue 12, item 6). On SQLite the
driver starts a transaction only at the first write, so the ticker's claim used to read outside
any transaction; on PostgreSQL the claim locks the row. Both run here."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from lookout.contracts.alerts import AckRequest
from lookout.contracts.patrol import ConcernRaised
from lookout.kernel.clock import ManualClock
from lookout.kernel.queries import Refused
from lookout.kernel.service import by_type
from lookout.kernel.ticker import Ticker
from services.alerts import store
from services.alerts.app import create_kernel
from services.alerts.escalation import Escalator
from services.alerts.handlers import AlertCommands, AlertHandlers
from services.alerts.timers import EscalationTimers
from tests.unit.alerts.test_engine import T0, concern


async def test_an_ack_committed_while_the_ticker_fires_the_alert_is_not_overwritten(
    alerts_db: str, settings_for: Any
) -> None:
    clock = ManualClock(T0)
    kernel = create_kernel(settings_for(alerts=alerts_db), clock)
    escalator = Escalator(kernel.schools, kernel.outbox)
    commands = AlertCommands(kernel.sessions, kernel.schools, escalator, clock, lambda: None)
    ticker = Ticker(kernel.sessions, clock, [EscalationTimers(escalator)])
    try:
        event = concern()  # low vaping: default policy, SSO now, AP after 30 min
        apply = by_type({ConcernRaised: AlertHandlers(escalator, clock).raise_alerts})
        async with kernel.sessions.begin() as session:
            await apply(session, [event])
        (alert,) = await _alerts(kernel)
        clock.advance(timedelta(minutes=30))  # step 1 (the AP) is due

        fire = escalator.fire
        acks: list[asyncio.Task[Any]] = []

        async def fire_while_the_ap_acknowledges(*args: Any, **kwargs: Any) -> None:
            # The AP acknowledges between the ticker's claim and its write, and is given every
            # chance to commit first; a correct claim makes the ack wait for the tick instead.
            request = AckRequest(alert_id=uuid.UUID(alert["alert_id"]), by_person_id="ap-chen")
            acks.append(asyncio.create_task(commands.ack("lhs", request)))
            await asyncio.wait(acks, timeout=1.0)
            await fire(*args, **kwargs)

        escalator.fire = fire_while_the_ap_acknowledges  # type: ignore[method-assign]
        assert (await ticker.tick())["escalations"] == 1
        await acks[0]

        (after,) = await _alerts(kernel)
        assert (after["status"], after["acknowledged_by"], after["routing"]) == (
            "acknowledged",
            "ap-chen",
            "acknowledged",
        )
        # The ack came after the step fired: the policy's 120-minute ack timeout from then.
        assert after["next_step_at"] == T0 + timedelta(minutes=30 + 120)
    finally:
        await kernel.engine.dispose()


async def test_only_a_person_of_the_school_can_acknowledge_or_resolve(
    alerts_db: str, settings_for: Any
) -> None:
    clock = ManualClock(T0)
    kernel = create_kernel(settings_for(alerts=alerts_db), clock)
    escalator = Escalator(kernel.schools, kernel.outbox)
    commands = AlertCommands(kernel.sessions, kernel.schools, escalator, clock, lambda: None)
    try:
        async with kernel.sessions.begin() as session:
            await AlertHandlers(escalator, clock).raise_alerts(session, [concern()])
        (alert,) = await _alerts(kernel)
        request = AckRequest(alert_id=uuid.UUID(alert["alert_id"]), by_person_id="mallory")
        with pytest.raises(Refused) as refused:
            await commands.ack("lhs", request)
        assert str(refused.value) == "by_person_id: not a person of this school"
        (still,) = await _alerts(kernel)
        assert (still["status"], still["acknowledged_by"]) == ("open", None)
    finally:
        await kernel.engine.dispose()


async def _alerts(kernel: Any) -> list[dict[str, Any]]:
    async with kernel.sessions() as session:
        return [dict(r._mapping) for r in await session.execute(store.alerts.select())]
