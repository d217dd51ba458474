"""The scripted week through the handlers into a real read model (SQLite), rendered: every
number in the HTML and the text part is the expected one; no student reference or note."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lookout.kernel.settings import Settings
from lookout.kernel.storage import Inbox, make_engine, make_sessionmaker, upgrade_database
from lookout.school.config import SchoolConfig
from services.reports import render, store
from services.reports.app import MIGRATIONS
from services.reports.handlers import ReportHandlers
from services.reports.mailer import Summaries
from tests.unit.reports import scripted_week as sw


async def load(sessions, school: SchoolConfig, *, with_focus: bool) -> None:  # type: ignore[no-untyped-def]
    handlers = ReportHandlers({school.id: school})
    inbox = Inbox(store.inbox)
    streams = sw.scripted_events()
    if with_focus:
        streams["PATROL"].append(sw.published_focus())
    for stream, events in streams.items():
        async with sessions.begin() as session:
            await handlers.by_stream[stream](session, events)
            await inbox.record(session, events, datetime.now(UTC))


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[object]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}")
    await upgrade_database(engine, MIGRATIONS, store.SERVICE)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.mark.parametrize("with_focus", [False, True])
async def test_every_number_of_the_scripted_week(
    sessions, school: SchoolConfig, with_focus: bool
) -> None:  # type: ignore[no-untyped-def]
    await load(sessions, school, with_focus=with_focus)
    summaries = Summaries({school.id: school}, Settings())
    async with sessions() as session:
        rendered = await summaries.render(session, school.id, sw.WEEK, with_charts=False)
    found = sw.parse_html(rendered.html)
    expected = sw.EXPECTED | (
        sw.EXPECTED_PUBLISHED_FOCUS if with_focus else sw.EXPECTED_COMPUTED_FOCUS
    )
    for key, value in expected.items():
        assert found.get(key) == value, key
    # Nothing more than expected was counted: every numbered key of these sections is listed.
    for prefix in ("coverage.", "concerns.", "heat.", "alerts.", "visitors.", "contacts."):
        extra = {k for k in found if k.startswith(prefix)} - set(expected)
        assert extra == set(), extra
    assert ("focus.2.zone" in found) is (not with_focus)
    text = sw.parse_text(rendered.text)
    assert text["Patrol coverage"] == "78% (50%, +28 pts)"
    assert text["Concerns raised"] == "5 (1, +4)"
    assert text["Preventive contacts per concern"] == "1.4 (2, -0.6)"
    assert text["Alerts that reached the principal"] == "2 (0, +2)"
    assert text["1st floor north boys' bathroom"] == "4 / 2 / 1 / 1 / 75% / 0 of 0"
    assert text["All zones"] == "9 / 6 / 1 / 2 / 78% / 1 of 2"
    assert text["Raised"] == "5 (3 resolved, 2 still open)"
    assert text["Open at the end of the week"] == "3"
    assert text["Category vaping"] == "2"
    assert text["Severity high"] == "2"
    assert text["Where and when 1st floor north boys' bathroom, pass-1"] == "2"
    assert text["Outcome referred_to_counselor"] == "1"
    assert text["Contacts positive_contact"] == "4"
    assert text["Minutes to acknowledge (median / p90)"] == "6 / 95 (of 3)"
    assert text["Minutes to resolve (median / p90)"] == "70 / 120 (of 2)"
    assert text["Highest step reached step 3"] == "1"
    assert text["Visitors parent"] == "3"
    assert text["Screening flag yes"] == "1"
    assert text["Overdue"] == "1"
    assert text["Out of bounds"] == "2"
    assert text["Hotspot 1"] == "bath-1n-boys pass-1 (score 0.33)"
    for secret in [sw.SECRET_NOTE, *sw.STUDENTS, "1123-001"]:
        assert secret not in rendered.html and secret not in rendered.text


async def test_the_mime_message_has_text_html_and_inline_charts(
    sessions, school: SchoolConfig
) -> None:  # type: ignore[no-untyped-def]
    await load(sessions, school, with_focus=True)
    summaries = Summaries({school.id: school}, Settings())
    async with sessions() as session:
        rendered = await summaries.render(session, school.id, sw.WEEK)
    msg = render.mime_message(
        rendered,
        sender="lookout@example.org",
        recipients=["a@example.org"],
        message_id="<x@y>",
        at=datetime(2026, 11, 27, 21, tzinfo=UTC),
    )
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    types = [p.get_content_type() for p in parsed.walk()]
    assert types == [
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        "image/png",
    ]
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    cids = [
        p["Content-ID"].strip("<>") for p in parsed.walk() if p.get_content_type() == "image/png"
    ]
    for cid in cids:
        assert f'src="cid:{cid}"' in html
    pngs = [p.get_content() for p in parsed.walk() if p.get_content_type() == "image/png"]
    assert all(png.startswith(b"\x89PNG") for png in pngs)
    preview = render.inline_data_uris(rendered)
    assert "cid:" not in preview and preview.count("data:image/png;base64,") == 2
