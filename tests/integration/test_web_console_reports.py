"""The console's weekly reports archive against a real nats-server, the real reports service
(the scripted week of tests/unit/reports, sent through a real SMTP server) and the web app:
the principal lists the school's summaries and opens one exactly as it was emailed, served
under a policy that runs no script; a week never sent is a 404; the district roll-up is
refused to a principal (district safety's), and the archive page links each sent week."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext

from lookout.kernel.clock import ManualClock
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from lookout.local.runtime import MailSink
from services.reports.app import build_app, create_kernel
from tests.integration.conftest import running, wait_until
from tests.integration.test_reports_service import drained, publish_week
from tests.integration.test_web import assert_problem
from tests.integration.test_web_alerts import (
    PRINCIPAL,
    alerts_db,
    clock,
    consoles,
    migrated_alerts_db,
    settings,
)
from tests.unit.reports import scripted_week as sw

__all__ = ["alerts_db", "clock", "migrated_alerts_db", "settings"]  # fixtures

pytestmark = pytest.mark.nats

COPY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@pytest.fixture
def sink(tmp_path: Path) -> Any:
    mail = MailSink(tmp_path / "mail").start()
    yield mail
    mail.stop()


@pytest.fixture
async def reports(
    settings: Settings, js: JetStreamContext, tmp_path: Path, sink: MailSink
) -> AsyncIterator[ServiceKernel]:
    """The reports service with week 2026-W48 sent (on its own clock: Friday 27th, 15:05)."""
    own = Settings(
        data_dir=tmp_path / "reports-data",
        nats_url=settings.nats_url,
        reports_db_url=f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}",
        timers_enabled=False,
        smtp_port=sink.port,
    )
    await ensure_streams(own)
    await publish_week(js)
    kernel = create_kernel(own, ManualClock(datetime(2026, 11, 27, 21, 5, tzinfo=UTC)))
    async with running(kernel, build_app):
        await wait_until(lambda: drained(js), what="the read model to take in the week")
        await kernel.reports_mailer.run_once()  # type: ignore[attr-defined]
        # The school's summary (principal and AP) and the district roll-up (district safety).
        assert len(sink.messages()) == 2
        yield kernel


async def test_the_archive_lists_sent_weeks_and_shows_the_email_as_sent(
    settings: Settings, clock: ManualClock, reports: ServiceKernel, sink: MailSink
) -> None:
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sink.messages()
    ]
    (mailed,) = [m for m in mails if "okafor" in str(m["To"])]
    async with consoles(settings, clock, (PRINCIPAL, "lhs")) as (principal,):
        listed = await principal.get("/api/v1/console/reports")
        assert listed.status_code == 200, listed.text
        (week,) = listed.json()["weeks"]
        assert {k: v for k, v in week.items() if k != "sent_at"} == {
            "week": "2026-W48",
            "dates": "23 \u2013 27 Nov",
            "state": "sent",
            "recipients": 2,
            "readable": True,
        }
        copy = await principal.get("/console/reports/2026-W48")
        assert copy.status_code == 200, copy.text
        assert copy.headers["content-security-policy"] == COPY_POLICY
        assert "<script" not in copy.text and "cid:" not in copy.text
        related = mailed.get_body(("related",))
        assert related is not None
        charts = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
        assert len(charts) == 2  # the trend and the heatmap, each inlined in the copy
        assert copy.text.count("data:image/png;base64,") == 2
        found = sw.parse_html(copy.text)
        for key, value in (sw.EXPECTED | sw.EXPECTED_PUBLISHED_FOCUS).items():
            assert found.get(key) == value, key
        for secret in [sw.SECRET_NOTE, *sw.STUDENTS]:
            assert secret not in copy.text

        assert_problem(await principal.get("/console/reports/2026-W47"), 404)
        page = await principal.get("/console/reports")
        assert page.status_code == 200
        assert '<a href="/console/reports/2026-W48">Week of 23 \u2013 27 Nov</a>' in page.text


async def test_the_district_roll_up_is_refused_to_a_principal(
    settings: Settings, reports: ServiceKernel
) -> None:
    nc = await nats.connect(settings.nats_url)
    try:
        body = json.dumps({"week": "2026-W48", "district": True}).encode()
        asked = await nc.request(f"query.lhs.reports.weekly.{PRINCIPAL}", body, timeout=10)
        own = await nc.request(
            f"query.lhs.reports.weekly.{PRINCIPAL}", b'{"week": "2026-W48"}', timeout=10
        )
    finally:
        await nc.close()
    assert json.loads(asked.data) == {
        "ok": False,
        "error": "district: the roll-up is for district safety",
    }
    assert json.loads(own.data)["ok"] is True
