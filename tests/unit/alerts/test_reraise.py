"""A concern is raised once (issue 13, item 6): a second `concern.raised` with the same concern
id and a higher severity used to fold into the earlier low alert, so the principal was never
paged. It is refused, as patrol refuses it; severity changes come as `concern.updated`."""

from __future__ import annotations

import uuid
from typing import Any

from lookout.kernel.clock import ManualClock
from services.alerts import store
from services.alerts.app import create_kernel
from services.alerts.escalation import Escalator
from services.alerts.handlers import AlertHandlers
from tests.unit.alerts.test_engine import T0, concern


async def test_a_re_raise_of_a_concern_is_refused_and_changes_nothing(
    alerts_db: str, settings_for: Any
) -> None:
    clock = ManualClock(T0)
    kernel = create_kernel(settings_for(alerts=alerts_db), clock)
    handlers = AlertHandlers(Escalator(kernel.schools, kernel.outbox), clock)
    cid = uuid.uuid4()
    first, again = concern("low", "conflict", cid), concern("critical", "conflict", cid)
    try:
        async with kernel.sessions.begin() as session:
            assert await handlers.raise_alerts(session, [first]) == {}
        async with kernel.sessions.begin() as session:
            assert await handlers.raise_alerts(session, [again]) == {
                again.event_id: "concern_id: already raised"
            }
        async with kernel.sessions() as session:
            rows = (await session.execute(store.alerts.select())).all()
        assert [(r.severity, r.count, r.policy_name) for r in rows] == [("low", 1, "default")]
    finally:
        await kernel.engine.dispose()
