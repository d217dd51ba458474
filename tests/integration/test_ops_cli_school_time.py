"""CLI listings print times in the school's time zone (America/Chicago for the example school),
like the emails, not in UTC. A stand-in responder on a real nats-server answers each query with
a hand-written reply in UTC; the expected lines are written by hand in Chicago time (CST in
November, CDT in June)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import nats
import pytest
from typer.testing import CliRunner

from lookout.cli.main import app
from lookout.local.runtime import EmbeddedNats

pytestmark = pytest.mark.nats

ALERT_ID = "00000000-0000-0000-0000-00000000a1e7"
VISIT_ID = "00000000-0000-0000-0000-0000000015a7"
ALERT = {
    "alert_id": ALERT_ID, "school_id": "lhs", "status": "acknowledged", "source": "concern",
    "category": "vaping", "severity": "high", "zone_id": "bath-1n-boys", "count": 2,
    "policy": "default", "step": 1, "repeat": 0,
    "next_step_at": "2026-11-23T16:00:00+00:00",
    "opened_at": "2026-11-23T14:00:05+00:00",
    "acknowledged_at": "2026-11-23T14:03:00+00:00", "acknowledged_by": "ap-chen",
    "resolved_at": None, "resolved_by": None,
}  # fmt: skip
SUMMER_ALERT = {
    **ALERT,
    "alert_id": "00000000-0000-0000-0000-0000000005ee",
    "status": "open",
    "opened_at": "2026-06-01T13:30:00+00:00",
    "acknowledged_at": None,
    "acknowledged_by": None,
}
VISIT = {
    "visit_id": VISIT_ID, "status": "on_site", "badge_number": "1123-001",
    "destination_zones": ["library"],
    "expected_until": "2026-11-23T14:45:00+00:00",
    "badge_valid_until": "2026-11-23T22:45:00+00:00",
}  # fmt: skip
ROSTER = {
    "as_of": "2026-11-23T15:00:00+00:00",
    "visitors": [
        {
            "visit_id": VISIT_ID, "status": "on_site", "badge_number": "1123-001",
            "name": "Pat Visitor", "visitor_type": "guest", "host_id": "counselor-patel",
            "host_name": "Ravi Patel", "destination_zones": ["library"],
            "since": "2026-11-23T14:00:00+00:00", "expected_until": "2026-11-23T14:45:00+00:00",
            "overdue": False,
        }
    ],
}  # fmt: skip
REPLIES: Mapping[str, Any] = {
    "query.lhs.alerts.list.cli": {"alerts": [ALERT, SUMMER_ALERT]},
    "query.lhs.alerts.show.principal-okafor": {
        "alert": ALERT,
        "resolution_note": None,
        "timeline": [
            {"at": "2026-11-23T14:00:05+00:00", "kind": "opened"},
            {"at": "2026-11-23T14:03:00+00:00", "kind": "acknowledged", "person_id": "ap-chen"},
        ],
    },
    "command.lhs.alerts.ack.ap-chen": ALERT,
    "command.lhs.visitors.sign_out.office-garcia": VISIT,
    "query.lhs.visitors.roster.cli": ROSTER,
}


@pytest.fixture
async def responder(nats_server: EmbeddedNats) -> AsyncIterator[str]:
    nc = await nats.connect(nats_server.url)

    async def answer(msg: Any) -> None:
        await msg.respond(json.dumps({"ok": True, "result": REPLIES[msg.subject]}).encode())

    for subject in REPLIES:
        await nc.subscribe(subject, cb=answer)
    await nc.flush()
    yield nats_server.url
    await nc.close()


async def lookout(url: str, *args: str) -> list[str]:
    env = {"LOOKOUT_NATS_URL": url, "COLUMNS": "200"}
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return list(result.stdout.splitlines())


async def test_alerts_list_show_and_ack_in_school_time(responder: str) -> None:
    assert await lookout(responder, "alerts", "list", "--all") == [
        f"{ALERT_ID}  acknowledged high     vaping at bath-1n-boys  x2  "
        "opened 2026-11-23 08:00:05 CST",
        "00000000-0000-0000-0000-0000000005ee  open         high     vaping at bath-1n-boys  "
        "x2  opened 2026-06-01 08:30:00 CDT",
        "2 alert(s)",
    ]
    shown = await lookout(responder, "alerts", "show", ALERT_ID, "--by", "principal-okafor")
    assert shown == [
        f"{ALERT_ID}  acknowledged high     vaping at bath-1n-boys  x2  "
        "opened 2026-11-23 08:00:05 CST",
        "  source concern, policy default, next step 1 (pass 0)",
        "  next step / ack timeout due 2026-11-23 10:00:00 CST",
        "  acknowledged by ap-chen at 2026-11-23 08:03:00 CST",
        "  2026-11-23 08:00:05 CST opened",
        "  2026-11-23 08:03:00 CST acknowledged ap-chen",
    ]
    assert await lookout(responder, "alerts", "ack", ALERT_ID, "--by", "ap-chen") == [
        f"acknowledged {ALERT_ID}; re-triggers at 2026-11-23 10:00:00 CST unless resolved"
    ]


async def test_visitors_roster_and_visit_in_school_time(responder: str) -> None:
    signed_out = await lookout(
        responder, "visitors", "sign-out", "--badge", "1123-001", "--by", "office-garcia"
    )
    assert signed_out[:3] == [
        f"visit {VISIT_ID}: on_site",
        "badge 1123-001 (valid until 2026-11-23 16:45:00 CST)",
        "expected until 2026-11-23 08:45:00 CST",
    ]
    table = await lookout(responder, "visitors", "roster")
    assert table[1:] == [
        "1123-001  Pat Visitor  guest  Ravi Patel  library      2026-11-23 08:00:00 CST  "
        "2026-11-23 08:45:00 CST  no       on_site",
        "1 visitor(s) on site as of 2026-11-23 09:00:00 CST",
    ]
    assert await lookout(responder, "visitors", "roster", "--format", "csv") == [
        "badge,name,type,host,destination,since,expected_until,overdue,status,last_seen",
        "1123-001,Pat Visitor,guest,Ravi Patel,library,2026-11-23T08:00:00-06:00,"
        "2026-11-23T08:45:00-06:00,no,on_site,",
    ]
