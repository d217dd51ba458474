"""The alerts service warns at start-up where a school's policies leave a high alert reaching
nobody (README: "the alerts service logs the same as warnings at start-up"). The start-up hook
was a lambda returning the coroutine, which FastStream called and never awaited: no warning
was ever logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import Settings
from services.alerts.app import build_app, create_kernel
from tests.integration.conftest import running

pytestmark = pytest.mark.nats

# On duty Monday to Friday only; the one policy for weapon/high reaches the SSO alone, so a
# weapon concern on a weekend reaches nobody within 15 minutes (tests/unit/test_coverage.py).
SCHOOL = {
    "id": "tst",
    "name": "Test School",
    "timezone": "America/Chicago",
    "student_count": 100,
    "zones": [{"id": "gym", "name": "Gym", "kind": "gym", "checkpoints": ["T-GYM"]}],
    "bell_schedule": {
        "periods": [{"name": "day", "kind": "class", "start": "08:00", "end": "15:00"}]
    },
    "people": [
        {"id": "sso-a", "name": "Sso A", "roles": ["sso"]},
        # An always-on-duty desk behind every other category, so only `p` has a finding.
        {"id": "night-desk", "name": "Night Desk", "roles": ["admin"],
         "on_duty": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
         "on_duty_no_school_days": True},
    ],
    "escalation_policies": [
        {"name": "p", "categories": ["weapon"], "severities": ["high"],
         "steps": [{"targets": ["sso"], "delay_minutes": 0}]},
        {"name": "backstop", "categories": ["*"],
         "steps": [{"targets": ["night-desk"], "delay_minutes": 0}]},
    ],
}  # fmt: skip


async def test_the_alerts_service_warns_of_coverage_gaps_at_start_up(
    nats_server: Any, tmp_path: Path
) -> None:
    path = tmp_path / "tst.yaml"
    path.write_text(yaml.safe_dump(SCHOOL), encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path, nats_url=nats_server.url, schools=str(path), timers_enabled=False
    )
    kernel = create_kernel(settings, ManualClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC)))
    gaps: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: gaps.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("lookout.alerts.coverage")
    logger.addHandler(handler)
    try:
        async with running(kernel, build_app):
            pass
    finally:
        logger.removeHandler(handler)
    assert gaps == [
        "event=coverage_gap school=tst problem=reaches_nobody_within_15_minutes policy=p "
        'kinds="weapon and its follow_up_missed (high)" when="Sat 00:00-Sun 24:00"'
    ]
