"""The reports service starts its weekly mailer when run as a service (timers on).

Regression: the mailer's start hook was a plain function, which FastStream runs in a worker
thread with no event loop, so `lookout run reports` exited at start-up under `lookout up`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import Settings
from services.reports.app import build_app, create_kernel
from tests.integration.conftest import running

pytestmark = pytest.mark.nats


async def test_the_weekly_mailer_runs_once_the_service_has_started(
    nats_server: Any, database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    settings = Settings(data_dir=tmp_path, nats_url=nats_server.url, reports_db_url=database_url)
    kernel = create_kernel(settings, clock)
    async with running(kernel, build_app):
        mailer = kernel.reports_mailer  # type: ignore[attr-defined]
        assert mailer.running
    assert not mailer.running  # stopped with the service
