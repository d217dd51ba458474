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
    # LOOKOUT_WEB_BASE_URL, with a trailing slash the links do without.
    console = Settings(web_base_url="https://lookout.lakeside.example.org/")
    summaries = Summaries({school.id: school}, console)
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
    lines = rendered.text.splitlines()
    assert lines[0] == "Lakeside High School: weekly safety summary, week of 23 \u2013 27 Nov"
    assert rendered.subject == (
        "Lookout weekly summary \u2014 Lakeside High School \u2014 week of 23 \u2013 27 Nov"
    )
    attention = lines[lines.index("NEEDS YOUR ATTENTION") + 1 : lines.index("HOW THE WEEK WENT")]
    assert attention[:7] == [
        "1. Weapon concern (critical)",
        "   Where: Student parking lot; open 16 days",
        "   Who has it: Dana Rivera (SSO)",
        "   Link: https://lookout.lakeside.example.org/app",
        "2. Conflict concern (medium)",
        "   Where: Cafeteria; open 2 days",
        "   Who has it: Morgan Chen (assistant principal)",
    ]
    # The conflict's link opens its alert (the alert is not listed a second time).
    assert attention[7].startswith("   Link: https://lookout.lakeside.example.org/app#alert-")
    assert attention[12:15] == [
        "4. Alert never acknowledged: the SSO's phone went silent (high)",
        "   Where: not tied to a zone; opened Wed 25 Nov 12:00, still open",
        "   Who has it: not escalated to anyone",
    ]
    assert attention[15].startswith("   Link: https://lookout.lakeside.example.org/app#alert-")
    assert attention[16:19] == [
        "5. Follow-up missed: vaping concern",
        "   Where: 1st floor north boys' bathroom; missed Tue 24 Nov 09:30",
        "   Who has it: Dana Rivera (SSO)",
    ]
    assert attention[20:23] == [
        "6. Visitor not signed out (badge closed automatically)",
        "   Where: Gymnasium (last seen); closed Mon 23 Nov 16:45",
        "   Who has it: Luz Garcia (front office)",
    ]
    assert "\u25b2 BELOW TARGET: Patrol coverage, below the 90% target" in lines
    assert "\u2716 NEEDS ATTENTION: Checks missed, 2 of 9 planned checks missed (22%)" in lines
    assert (
        "\u2716 NEEDS ATTENTION: Alerts never acknowledged, "
        "1 of the 4 escalated alerts was never acknowledged"
    ) in lines
    assert text["Patrol coverage"] == "78% (50%, +28 pts)"
    assert text["Concerns raised"] == "5 (1, +4)"
    assert text["Preventive contacts per concern"] == "1.4 (2, -0.6)"
    assert text["Alerts that reached the principal"] == "2 (0, +2)"
    assert text["Alerts never acknowledged"] == "1 (0, +1)"
    assert text["1st floor north boys' bathroom"] == "4 / 2 / 1 / 1 / 75% / 0 of 0"
    assert text["All zones"] == "9 / 6 / 1 / 2 / 78% / 1 of 2"
    assert text["Raised"] == "5 (3 resolved, 2 still open)"
    assert text["Open at the end of the week"] == "3"
    assert text["Category vaping"] == "2"
    assert text["Severity high"] == "2"
    where = "Where and when 1st floor north boys' bathroom, passing time (08:35\u201308:42)"
    assert text[where] == "2"
    assert text["Outcome referred to a counselor"] == "1"
    assert text["Positive contacts"] == "4"
    assert text["Acknowledged"] == (
        "3 of the 4 escalated alerts were acknowledged (median 6 min, 9 in 10 within 95 min)"
    )
    assert text["Resolved"] == "2 of 4 (median 70 min, 9 in 10 within 120 min)"
    assert text["Went as far as step 3 (principal, SSO)"] == "1"
    assert text["Not escalated"] == "1"
    assert text["Parents"] == "3"
    assert text["Watchlist screening, confirmed match"] == "1"
    assert text["Stayed past their expected time"] == "1"
    assert text["Seen outside their zones"] == "2"
    assert text["Hotspot 1"] == (
        "1st floor north boys' bathroom, passing time (08:35\u201308:42): "
        "2 concerns (2 vaping) and no observations in the last 4 weeks"
    )
    assert text["Focus 1"] == (
        "1st floor north boys' bathroom, passing time (08:35\u201308:42): More patrols: extra "
        "checks in the planned windows, because of 2 concerns (2 vaping) and no observations in "
        "the last 4 weeks"
    )
    # No ids where words belong.
    for token in ("bath-1n-boys", "pass-1", "lunch-a", "score", "emotional_distress"):
        assert token not in rendered.text, token
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
