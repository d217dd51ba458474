"""Loop closure on the SSO's phone, end to end on a real nats-server with the real patrol and
alerts services in process (clocks stopped at Monday 23 November 2026, 08:00 at Lakeside) and
the web app: the SSO's phone raised a vaping concern; its alert opens; the principal
acknowledges it on the console; the SSO's `GET /api/v1/today` then says who has it, by name,
and when (the patrol service learned it from the ALERTS stream). Then it is resolved, and the
console's "Closed today" says by whom."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from nats.js import JetStreamContext

from lookout.contracts.patrol import ConcernRaised
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from tests.integration.conftest import wait_until
from tests.integration.test_web_alerts import (
    PRINCIPAL,
    SSO,
    Console,
    alerts,
    alerts_db,
    clock,
    consoles,
    migrated_alerts_db,
    settings,
)
from tests.integration.test_web_console_overview import NEW, chicago, patrol, publish, seed

__all__ = ["alerts", "alerts_db", "clock", "migrated_alerts_db", "patrol", "settings"]

pytestmark = pytest.mark.nats


async def my_concern(sso: Console) -> dict[str, Any]:
    answer = await sso.get("/api/v1/today")
    assert answer.status_code == 200, answer.text
    (concern,) = [c for c in answer.json()["concerns"] if c["concern_id"] == str(NEW)]
    return {"concern": concern, "names": answer.json()["names"]}


async def test_the_sso_sees_who_acknowledged_and_resolved_the_alert_of_her_concern(
    settings: Settings,
    clock: ManualClock,
    alerts: ServiceKernel,
    patrol: ServiceKernel,
    js: JetStreamContext,
) -> None:
    await seed(js, patrol)  # NEW: the low vaping concern her phone raised at 07:50
    async with consoles(settings, clock, (PRINCIPAL, "lhs"), (SSO, "lhs")) as (principal, sso):

        async def vaping_alert() -> str | None:
            board = (await principal.get("/api/v1/alerts")).json()
            found = [a["alert_id"] for a in board.get("alerts", []) if a["category"] == "vaping"]
            return found[0] if found else None

        await wait_until(vaping_alert, what="the vaping concern's alert")
        alert_id = await vaping_alert()

        async def state() -> str | None:
            alert = (await my_concern(sso))["concern"]["alert"]
            return alert["state"] if alert else None

        await wait_until(lambda: _is(state, "open"), what="the phone to see the alert open")
        assert (await my_concern(sso))["concern"]["alert"] == {
            "alert_id": alert_id,
            "state": "open",
            "by": None,
            "at": None,
        }

        assert (await principal.post(f"/api/v1/alerts/{alert_id}/ack")).status_code == 200
        await wait_until(lambda: _is(state, "acknowledged"), what="the acknowledgement")
        assert await my_concern(sso) == {
            "concern": {
                "concern_id": str(NEW),
                "category": "vaping",
                "severity": "low",
                "zone_id": "bath-1n-boys",
                "raised_at": "2026-11-23T13:50:00Z",
                "alert": {
                    "alert_id": alert_id,
                    "state": "acknowledged",
                    "by": PRINCIPAL,
                    "at": "2026-11-23T14:00:00Z",  # the suite's clock, stopped at 08:00
                },
            },
            "names": {PRINCIPAL: "Ada Okafor"},
        }

        resolved = await principal.post(
            f"/api/v1/alerts/{alert_id}/resolve", {"note": "Talked with the student"}
        )
        assert resolved.status_code == 200, resolved.text
        await wait_until(lambda: _is(state, "resolved"), what="the resolution")
        closed = (await my_concern(sso))["concern"]["alert"]
        assert (closed["state"], closed["by"]) == ("resolved", PRINCIPAL)
        assert "Talked" not in (await sso.get("/api/v1/today")).text  # the note stays behind

        # Everyone paged sees on the console who closed it ("Closed today"), never the note.
        closed_today = await principal.get("/api/v1/console/closed")
        assert closed_today.status_code == 200, closed_today.text
        assert closed_today.json() == {
            "alerts": [
                {
                    "alert_id": alert_id,
                    "what": "vaping concern",
                    "severity": "low",
                    "zone_name": "1st floor north boys' bathroom",
                    "opened_at": "2026-11-23T14:00:00Z",
                    "acknowledged_by": "Ada Okafor",
                    "resolved_by": "Ada Okafor",
                    "resolved_at": "2026-11-23T14:00:00Z",
                }
            ],
            "since": "2026-11-23T06:00:00Z",  # midnight at Lakeside (UTC-6)
        }
        assert "Talked" not in closed_today.text


async def _is(state: Any, wanted: str) -> bool:
    return await state() == wanted


async def test_the_sso_paged_for_the_counselors_concern_sees_who_acknowledged_it(
    settings: Settings,
    clock: ManualClock,
    alerts: ServiceKernel,
    patrol: ServiceKernel,
    js: JetStreamContext,
) -> None:
    """The counselor reports a high conflict in the cafeteria at 07:58; the `high` policy pages
    the SSO and the assistant principal at once (here in the app: the test school has no
    notify rules). The SSO's Today lists it as paged and open, then acknowledged by the
    principal, by name; her own concerns say nothing of it."""
    counselors = ConcernRaised.new(
        school_id="lhs",
        occurred_at=chicago(23, 7, 58),
        actor={"kind": "staff", "id": "counselor-patel"},
        concern_id=uuid.UUID("00000000-0000-4000-8000-0000000000b7"),
        category="conflict",
        severity="high",
        zone_id="cafeteria",
        student_refs=["S-2002"],
        note="Pushing in the lunch line",
    )
    await publish(js, counselors)
    async with consoles(settings, clock, (PRINCIPAL, "lhs"), (SSO, "lhs")) as (principal, sso):

        async def paged() -> list[dict[str, Any]]:
            answer = await sso.get("/api/v1/today")
            assert answer.status_code == 200, answer.text
            return list(answer.json()["paged"])

        async def paged_state() -> str | None:
            found = await paged()
            return found[0]["state"] if found else None

        await wait_until(lambda: _is(paged_state, "open"), what="the SSO's page on Today")
        (page,) = await paged()
        alert_id = page["alert_id"]
        assert page == {
            "alert_id": alert_id,
            "source": "concern",
            "severity": "high",
            "category": "conflict",
            "zone_id": "cafeteria",
            "opened_at": "2026-11-23T14:00:00Z",  # the suite's clock, stopped at 08:00
            "paged_at": "2026-11-23T14:00:00Z",
            "state": "open",
            "by": None,
            "at": None,
        }

        assert (await principal.post(f"/api/v1/alerts/{alert_id}/ack")).status_code == 200
        await wait_until(lambda: _is(paged_state, "acknowledged"), what="the acknowledgement")
        answer = (await sso.get("/api/v1/today")).json()
        assert answer["paged"] == [
            page | {"state": "acknowledged", "by": PRINCIPAL, "at": "2026-11-23T14:00:00Z"}
        ]
        assert answer["paged_total"] == 1
        assert answer["names"] == {PRINCIPAL: "Ada Okafor"}
        assert answer["concerns"] == []  # not hers
        assert "S-2002" not in str(answer) and "lunch" not in str(answer)
