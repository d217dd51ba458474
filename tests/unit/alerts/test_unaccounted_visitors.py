"""The end-of-day checkout resolves no visitor alert (issue 13, item 10): nobody saw the visitor
leave. Only a desk sign-out does; the visitors service reports the rest unaccounted for, which
opens a high alert."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from lookout.contracts.visitors import VisitorCheckedOut, VisitorOverdue, VisitorUnaccounted
from lookout.kernel.clock import ManualClock
from services.alerts import store
from services.alerts.app import create_kernel
from services.alerts.escalation import Escalator
from services.alerts.handlers import AlertHandlers
from tests.unit.alerts.test_engine import T0

VISIT = uuid.UUID("0d9f3c1e-2b7d-4f7e-9d51-3f4a1e2b9c71")
VISITORS = {"kind": "service", "id": "visitors"}


async def test_an_automatic_checkout_leaves_the_overdue_alert_and_raises_unaccounted(
    alerts_db: str, settings_for: Any
) -> None:
    clock = ManualClock(T0)
    kernel = create_kernel(settings_for(alerts=alerts_db), clock)
    handlers = AlertHandlers(Escalator(kernel.schools, kernel.outbox), clock)
    common = {"school_id": "lhs", "actor": VISITORS, "visit_id": VISIT, "badge_number": "B-021"}
    close = T0 + timedelta(hours=8)
    try:
        async with kernel.sessions.begin() as session:
            await handlers.raise_alerts(
                session, [VisitorOverdue.new(**common, occurred_at=T0, expected_until=T0)]
            )
        clock.set(close)
        async with kernel.sessions.begin() as session:
            out = VisitorCheckedOut.new(**common, occurred_at=close, method="automatic_end_of_day")
            assert await handlers.visitors_left(session, [out]) == {}
            unaccounted = VisitorUnaccounted.new(
                **common, occurred_at=close, expected_until=T0, checked_out_at=close,
                last_seen_zone="gym", last_seen_at=T0 + timedelta(hours=1),
            )  # fmt: skip
            assert await handlers.raise_alerts(session, [unaccounted]) == {}
        async with kernel.sessions() as session:
            rows = (await session.execute(store.alerts.select())).all()
        assert sorted((r.source, r.severity, r.status, r.zone_id) for r in rows) == [
            ("visitor_overdue", "medium", "open", None),
            ("visitor_unaccounted", "high", "open", "gym"),
        ]
    finally:
        await kernel.engine.dispose()
