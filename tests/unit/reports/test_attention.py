"""The weekly email read as a principal reads it (issue 16): what needs a decision first, bad
figures that look bad in words and colour, plain words instead of ids, a first week without a
made-up change, the dates in the subject, no email for the week before the school started.
Every expected value is written out by hand."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lookout.contracts.patrol import CheckWindowClosed
from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import Settings
from lookout.kernel.storage import Outbox, make_engine, make_sessionmaker, upgrade_database
from lookout.school import words
from lookout.school.config import SchoolConfig
from services.reports import charts, domain, render, store
from services.reports.app import MIGRATIONS
from services.reports.handlers import ReportHandlers
from services.reports.mailer import Summaries, WeeklyMailer
from tests.unit.reports import scripted_week as sw
from tests.unit.reports.test_summary import load

CONSOLE = "https://lookout.lakeside.example.org/app"
W48_END = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)  # Fri 27 Nov 15:00 in Chicago


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Any]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}")
    await upgrade_database(engine, MIGRATIONS, store.SERVICE)
    yield make_sessionmaker(engine)
    await engine.dispose()


def links(html: str) -> dict[str, str]:
    """href of every `<a data-k=...>`."""
    found: dict[str, str] = {}

    class P(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag == "a" and a.get("data-k"):
                found[str(a["data-k"])] = str(a["href"])

    P().feed(html)
    return found


def t(hhmm: str, day: date) -> datetime:
    return sw.at(day, hhmm)


# --- the scripted week: links, colours, privacy -----------------------------------------------


async def test_the_attention_links_go_to_the_console_and_the_alert(
    sessions: Any, school: SchoolConfig, caplog: pytest.LogCaptureFixture
) -> None:
    await load(sessions, school, with_focus=True)
    summaries = Summaries({school.id: school}, Settings(web_base_url=CONSOLE[:-4]))
    with caplog.at_level(logging.DEBUG):
        async with sessions() as session:
            rendered = await summaries.render(session, school.id, sw.WEEK)
    hrefs = links(rendered.html)
    assert [hrefs[f"attention.{i}.link"] for i in (1, 3, 5, 6)] == [CONSOLE] * 4
    for i in (2, 4):  # the conflict's acknowledged alert, the silent phone's alert
        assert re.fullmatch(CONSOLE + r"#alert-[0-9a-f-]{36}", hrefs[f"attention.{i}.link"])
    # Bad figures look bad in words and colour: the pills carry a symbol and words.
    assert "\u25b2 Below target" in rendered.html  # coverage 78%
    assert rendered.html.count("\u2716 Needs attention") == 2  # missed checks, unacknowledged
    assert "color:#a4161a" in rendered.html and "color:#7a4a00" in rendered.html
    # Privacy: nothing about a student, a note or a badge in the parts, subject or logs.
    everything = rendered.subject + rendered.html + rendered.text + caplog.text
    for secret in [sw.SECRET_NOTE, *sw.STUDENTS, "1123-001", "W-1"]:
        assert secret not in everything, secret


def _contrast(fg: str, bg: str) -> float:
    def lum(hex_colour: str) -> float:
        rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted([lum(fg), lum(bg)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_verdict_colours_and_heatmap_ink_contrast_at_least_4_5() -> None:
    for fg, bg in [("#1e6b34", "#e7f4ea"), ("#7a4a00", "#fff3d6"), ("#a4161a", "#fde8e8")]:
        assert _contrast(fg, bg) >= 4.5, (fg, bg)
        assert _contrast(fg, "#ffffff") >= 4.5, fg
    import matplotlib

    cmap = matplotlib.colormaps["OrRd"]
    for i in range(101):
        rgba = cmap(i / 100)
        cell = "#" + "".join(f"{round(c * 255):02x}" for c in rgba[:3])
        assert _contrast(charts.ink(rgba), cell) >= 4.5, cell


# --- pure rules with hand-made facts ----------------------------------------------------------

MON, TUE = date(2026, 11, 23), date(2026, 11, 24)


def _windows(n: int, missed: int) -> list[domain.WindowFact]:
    return [
        domain.WindowFact(
            "bath-1n-boys", "pass-1", "missed" if i < missed else "checked", False, t("09:00", MON)
        )
        for i in range(n)
    ]


def _alert(**kw: Any) -> domain.AlertFact:
    base: dict[str, Any] = {
        "source": "check_missed",
        "severity": "low",
        "opened_at": t("10:00", MON),
        "max_step": 1,
        "reached_principal": False,
        "acknowledged_at": None,
        "resolved_at": t("16:00", MON),
        "alert_id": str(uuid.uuid4()),
        "category": "check_missed",
        "zone_id": "bath-1n-boys",
        "targets": ("role:assistant_principal",),
    }
    return domain.AlertFact(**(base | kw))


def _summary(school: SchoolConfig, facts: domain.Facts, previous: domain.Facts | None = None):  # type: ignore[no-untyped-def]
    empty = domain.Facts([], [], [], [], [])
    return domain.summarize(school, sw.WEEK, facts, previous or empty, [], [])


def test_none_of_ten_alerts_acknowledged_and_the_verdicts_in_words(school: SchoolConfig) -> None:
    facts = domain.Facts([], _windows(20, 3), [], [_alert() for _ in range(10)], [])
    s = _summary(school, facts)
    assert s.ack_words == "none of the 10 escalated alerts was acknowledged"
    assert {k: (v.words, v.detail) for k, v in s.verdicts.items()} == {
        "coverage": ("Below target", "below the 90% target"),  # 17 of 20: 85%
        "missed": ("Needs attention", "3 of 20 planned checks missed (15%)"),
        "unacknowledged": ("Needs attention", "none of the 10 escalated alerts was acknowledged"),
    }
    assert s.step_labels["step 2"] == "step 2 (assistant principal)"
    rendered = render.render_weekly(s, school.tz, console=CONSOLE, with_charts=False)
    found = sw.parse_html(rendered.html)
    assert found["alerts.ack_words"] == "none of the 10 escalated alerts was acknowledged"
    assert "alerts.ack_median" not in found  # no "— (of 0)"
    assert "(of 0)" not in rendered.text and "\u2014 / \u2014" not in rendered.text
    assert found["attention.count"] == "10"
    assert found["attention.1.what"] == "Alert never acknowledged: missed patrol check (low)"
    assert found["attention.1.when"] == "opened Mon 23 Nov 10:00, closed"
    assert found["attention.1.owner"] == "last sent to step 2 (assistant principal)"


def test_an_open_concern_and_its_unacknowledged_alert_are_one_item(school: SchoolConfig) -> None:
    concern = domain.ConcernFact(
        "emotional_distress",
        "medium",
        "hall-1-south",
        "p4",
        t("10:43", TUE),
        None,
        None,
        raised_event_id="e-1",
        raised_by="sso_device:phone-1",
    )
    alert = _alert(
        source="concern",
        severity="medium",
        category="emotional_distress",
        zone_id="hall-1-south",
        opened_at=t("10:43", TUE),
        resolved_at=None,
        source_event_id="e-1",
        alert_id="a1b2c3d4-0000-4000-8000-000000000001",
    )
    facts = domain.Facts([], [], [concern], [alert], [], concern_alerts=[alert])
    s = _summary(school, facts)
    assert [(a.what, a.where, a.when, a.owner, a.anchor) for a in s.attention] == [
        (
            "Emotional distress concern (medium)",
            "1st floor south hallway",
            "open 3 days",  # Tue 10:43 to Fri 15:00
            "nobody yet: last sent to step 2 (assistant principal)",
            "#alert-a1b2c3d4-0000-4000-8000-000000000001",
        )
    ]


def test_a_quiet_good_week_is_on_target_and_says_nothing_waits(school: SchoolConfig) -> None:
    acked = _alert(acknowledged_at=t("10:05", MON), acknowledged_by="ap-chen")
    s = _summary(school, domain.Facts([], _windows(10, 0), [], [acked], []))
    assert [v.words for v in s.verdicts.values()] == ["On target"] * 3
    rendered = render.render_weekly(s, school.tz, console=CONSOLE, with_charts=False)
    found = sw.parse_html(rendered.html)
    assert found["attention.none"].startswith("Nothing is waiting for a decision")
    assert found["verdict.missed"] == "no check missed"
    assert found["verdict.unacknowledged"] == "every escalated alert was acknowledged"
    assert "\u2714 On target" in rendered.html and "Needs attention" not in rendered.html


def test_a_first_week_says_no_data_for_last_week(school: SchoolConfig) -> None:
    s = _summary(school, domain.Facts([], _windows(4, 1), [], [], []))
    assert s.previous_known is False
    rendered = render.render_weekly(s, school.tz, console=CONSOLE, with_charts=False)
    found = sw.parse_html(rendered.html)
    assert found["previous.none"] == (
        "No data for last week: this is the first week with data, so there is no change to show."
    )
    assert found["headline.checks_done"] == "3"
    assert not [k for k in found if k.endswith(".change") or k.endswith(".previous")]
    assert "+3" not in rendered.html and "+3" not in rendered.text
    assert "Checks done: 3" in rendered.text.splitlines()
    assert "No data for last week" in rendered.text
    # The district roll-up and anything else reading a headline sees the words too.
    assert render.fmt_change(s.headline("checks_done")) == "no data for last week"


def test_the_trend_starts_at_the_first_week_with_data(school: SchoolConfig) -> None:
    trend = [
        ("2026-W41", 0, 0, None),
        ("2026-W42", 0, 0, None),
        ("2026-W43", 2, 1, 80),
        ("2026-W44", 0, 0, None),  # a gap stays a gap
        ("2026-W48", 5, 7, 78),
    ]
    empty = domain.Facts([], [], [], [], [])
    s = domain.summarize(school, sw.WEEK, empty, empty, [], [], trend)
    assert [w for w, *_ in s.trend] == ["2026-W43", "2026-W44", "2026-W48"]


def _cell(categories: dict[str, int], in_plan: bool = True, observations: int = 0) -> Any:
    n = sum(categories.values())
    return domain.HotspotCell(
        "bath-1n-boys", "pass-1", n, observations, n, 0.1, in_plan, categories
    )


def test_the_recommended_action_fits_the_category() -> None:
    more = "More patrols: extra checks in the planned windows"
    assert domain.focus_action(_cell({"vaping": 3})) == more
    assert domain.focus_action(_cell({"vaping": 1}, in_plan=False)) == (
        "More patrols: add unannounced checks (no planned window then)"
    )
    counselor = "Counselor follow-up with the students involved"
    assert domain.focus_action(_cell({"emotional_distress": 2}, in_plan=False)) == counselor
    assert domain.focus_action(_cell({"self_harm_risk": 1, "vaping": 1})) == counselor
    review = "Review what happened and the response, with the SSO"
    assert domain.focus_action(_cell({"weapon": 1})) == review
    assert domain.focus_action(_cell({"medical": 1, "vaping": 4})) == review
    assert domain.hotspot_reason(_cell({"emotional_distress": 2}, observations=1)) == (
        "2 concerns (2 emotional distress) and 1 observation in the last 4 weeks"
    )


def test_plain_words(school: SchoolConfig) -> None:
    assert words.zone(school, "bath-1n-boys") == "1st floor north boys' bathroom"
    assert words.period(school, "pass-6") == "passing time (14:20\u201314:27)"
    assert words.period(school, "p6") == "period 6 (13:30\u201314:20)"
    assert words.period(school, "lunch-b") == "lunch B (11:56\u201312:26)"
    assert words.period(school, "before-school") == "before school (07:15\u201307:45)"
    assert words.step(2, words.targets(school, ["role:principal"])) == "step 3 (principal)"
    assert words.targets(school, ["person:counselor-patel", "role:sso"]) == "counselor, SSO"
    assert words.category("emotional_distress") == "emotional distress"
    assert words.category("self_harm_risk") == "self-harm risk"
    assert words.date_range(date(2026, 11, 30), date(2026, 12, 4)) == "30 Nov \u2013 4 Dec"
    assert words.date_range(date(2026, 12, 7), date(2026, 12, 11)) == "7 \u2013 11 Dec"
    assert words.date_range(date(2026, 12, 28), date(2027, 1, 1)) == (
        "28 Dec 2026 \u2013 1 Jan 2027"
    )
    assert words.age(timedelta(days=16, hours=3)) == "16 days"
    assert words.age(timedelta(hours=30)) == "1 day"
    assert words.age(timedelta(minutes=125)) == "2 hours"
    assert words.age(timedelta(minutes=40)) == "40 minutes"


def test_the_subject_names_the_dates(school: SchoolConfig) -> None:
    empty = domain.Facts([], [], [], [], [])
    s = domain.summarize(school, "2026-W49", empty, empty, [], [])
    assert render.subject(s) == (
        "Lookout weekly summary \u2014 Lakeside High School \u2014 week of 30 Nov \u2013 4 Dec"
    )


def test_the_heatmap_covers_the_whole_day(school: SchoolConfig) -> None:
    concern = domain.ConcernFact(
        "vaping", "high", "bath-1n-boys", "pass-6", t("14:21", MON), None, None
    )
    s = _summary(school, domain.Facts([], [], [concern], [], []))
    assert s.heatmap_periods == [
        "before-school", "p1", "pass-1", "p2", "pass-2", "p3", "pass-3", "p4", "lunch-a",
        "lunch-b", "pass-4", "p5", "pass-5", "p6", "pass-6", "p7", "after-school",
    ]  # fmt: skip
    png = charts.heatmap(s)
    assert png is not None and png.startswith(b"\x89PNG")


# --- a fresh install sends nothing for the week before it started ----------------------------


async def test_no_email_for_a_week_before_the_school_started(
    sessions: Any, school: SchoolConfig
) -> None:
    clock = ManualClock(W48_END + timedelta(minutes=5))
    settings = Settings(reports_focus_wait_seconds=0, timers_enabled=False)
    mailer = WeeklyMailer({school.id: school}, sessions, clock, settings, Outbox(store.outbox))
    mailer.summaries.district_recipients = lambda: []  # type: ignore[method-assign]
    assert await mailer.mark_due() == 0  # nothing in the read model: not started

    # The first event arrives after W48's report moment: W48 is still not sent.
    handlers = ReportHandlers({school.id: school})
    first = CheckWindowClosed.new(
        school_id="lhs",
        occurred_at=W48_END + timedelta(minutes=1),
        actor=sw.SVC,
        zone_id="bath-1n-boys",
        window_start=W48_END - timedelta(minutes=6),
        window_end=W48_END + timedelta(minutes=1),
        outcome="checked",
    )
    async with sessions.begin() as session:
        await handlers.apply_patrol(session, [first])
    assert await mailer.mark_due() == 0

    # W49 (report moment Fri 4 Dec 15:00) is the first week sent.
    clock.set(datetime(2026, 12, 4, 21, 1, tzinfo=UTC))
    assert await mailer.mark_due() == 1
    async with sessions() as session:
        rows = [(r.scope, r.week) for r in await session.execute(select(store.sends))]
    assert rows == [("lhs", "2026-W49")]
