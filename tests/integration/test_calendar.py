"""`lookout calendar` against a real nats-server: pull a feed from a file and from a local HTTP
server, confirm and withdraw (each a CALENDAR event with who and when), the audit log, bad input
as one line; and the patrol service, running, taking a confirmed early release into its table and
its plan."""

from __future__ import annotations

import asyncio
import copy
import http.server
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from lookout.cli.main import app
from lookout.contracts.calendar import DayKind, DayTypeConfirmed, DayTypeWithdrawn
from lookout.contracts.subjects import parse_event
from lookout.kernel.clock import ManualClock
from lookout.kernel.feed_links import feed_secret, feed_token
from lookout.kernel.messaging import ensure_streams
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.local.runtime import EmbeddedNats
from lookout.school.day_types import DayType
from services.patrol import store
from services.patrol.app import build_app, create_kernel
from tests.integration.conftest import consumer_drained, running, wait_until

pytestmark = pytest.mark.nats
runner = CliRunner()

EXAMPLE: dict[str, Any] = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
EARLY = [
    {"name": "before-school", "kind": "before_school", "start": "07:15", "end": "07:45"},
    {"name": "p1", "kind": "class", "start": "07:45", "end": "08:30"},
    {"name": "pass-1", "kind": "passing", "start": "08:30", "end": "08:37"},
    {"name": "p2", "kind": "class", "start": "08:37", "end": "09:22"},
    {"name": "pass-2", "kind": "passing", "start": "09:22", "end": "09:29"},
    {"name": "p3", "kind": "class", "start": "09:29", "end": "10:14"},
    {"name": "lunch-a", "kind": "lunch", "start": "10:14", "end": "10:44"},
    {"name": "pass-4", "kind": "passing", "start": "10:44", "end": "10:51"},
    {"name": "p4", "kind": "class", "start": "10:51", "end": "11:36"},
]
RULES = [
    {"keywords": ["no school"], "day_type": "no_school"},
    {"keywords": ["early release"], "day_type": "early_release", "schedule": "early"},
]
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//lhs test//EN\r\n"
    "BEGIN:VEVENT\r\nUID:er@lhs\r\nDTSTAMP:20260801T000000Z\r\nDTSTART;VALUE=DATE:20261218\r\n"
    "SUMMARY:Early Release - end of semester\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:pd@lhs\r\nDTSTAMP:20260801T000000Z\r\nDTSTART;VALUE=DATE:20261204\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=2\r\nSUMMARY:PD day - NO SCHOOL\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)
PROPOSED = [
    "2026-12-04 Fri  no_school  from: PD day - NO SCHOOL",
    "2026-12-11 Fri  no_school  from: PD day - NO SCHOOL",
    "2026-12-18 Fri  early_release (early)  from: Early Release - end of semester",
    "3 date(s) proposed from 2026-12-01 to 2026-12-31; confirm with "
    "`lookout calendar confirm --school lhs --by PERSON DATE...`",
]
NOW = "2026-12-14T15:00:00+00:00"  # Monday 09:00 in Chicago


def school_file(tmp_path: Path, **calendar: Any) -> Path:
    data = copy.deepcopy(EXAMPLE)
    data["bell_schedule"]["alternates"] = {"early": EARLY}
    data["calendar"] = {"rules": RULES, **(calendar or {"file": "district.ics"})}
    path = tmp_path / "lhs.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    (tmp_path / "district.ics").write_text(ICS, encoding="utf-8", newline="")
    return path


@pytest.fixture
def streams(nats_server: EmbeddedNats) -> str:
    asyncio.run(ensure_streams(Settings(nats_url=nats_server.url)))
    return nats_server.url


@pytest.fixture
def cli(streams: str, tmp_path: Path) -> Callable[..., Any]:
    clock = tmp_path / "clock"
    clock.write_text(NOW, encoding="utf-8")
    schools = school_file(tmp_path)

    def invoke(*args: str, code: int = 0, schools_path: Path = schools) -> str:
        env = {
            "LOOKOUT_NATS_URL": streams,
            "LOOKOUT_SCHOOLS": str(schools_path),
            "LOOKOUT_CLOCK": f"file:{clock}",
        }
        result = runner.invoke(app, ["calendar", *args], env=env)
        assert result.exit_code == code, result.output
        return str(result.output)

    return invoke


async def calendar_events(url: str) -> list[Any]:
    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().subscribe("school.>", ordered_consumer=True)
        info = await nc.jetstream().stream_info("CALENDAR")
        msgs = [await sub.next_msg(timeout=5) for _ in range(info.state.messages)]
        await sub.unsubscribe()
        return [parse_event(m.subject, m.data) for m in msgs]
    finally:
        await nc.close()


def test_pull_lists_the_feeds_proposals_from_the_school_files_ics(cli: Any) -> None:
    out = cli("pull", "--school", "lhs", "--from", "2026-12-01", "--to", "2026-12-31")
    assert out.splitlines() == PROPOSED


class _Feed(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = ICS.encode() if self.path == "/district.ics" else b"gone"
        self.send_response(200 if self.path == "/district.ics" else 404)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_pull_reads_a_url_and_a_missing_feed_is_one_line(
    cli: Any, tmp_path: Path, feed_server: str
) -> None:
    at_url = school_file(tmp_path, url=f"{feed_server}/district.ics", refresh_minutes=60)
    out = cli("pull", "--from", "2026-12-01", "--to", "2026-12-31", schools_path=at_url)
    assert out.splitlines() == PROPOSED
    gone = school_file(tmp_path, url=f"{feed_server}/old.ics")
    out = cli("pull", "--from", "2026-12-01", "--to", "2026-12-31", code=2, schools_path=gone)
    assert out == f"lookout: error: calendar.url: {feed_server}/old.ics answered HTTP 404\n"


def test_confirm_and_withdraw_publish_with_who_and_list_is_the_audit_log(
    cli: Any, streams: str
) -> None:
    out = cli("confirm", "--by", "principal-okafor", "2026-12-18", "2026-12-04")
    assert out.splitlines() == [
        "2026-12-04 Fri  no_school  confirmed by principal-okafor",
        "2026-12-18 Fri  early_release (early)  confirmed by principal-okafor",
    ]
    # A snow day the feed never had, then taken back.
    cli("confirm", "--by", "principal-okafor", "--as", "no_school", "2026-12-15")
    assert cli("withdraw", "--by", "principal-okafor", "2026-12-15").splitlines() == [
        "2026-12-15 Tue  no_school  withdrawn by principal-okafor"
    ]
    # Confirming what is in effect changes nothing.
    assert cli("confirm", "--by", "principal-okafor", "2026-12-18").splitlines() == [
        "2026-12-18 Fri  early_release (early)  already in effect"
    ]
    events = asyncio.run(calendar_events(streams))
    assert [type(e) for e in events] == [
        DayTypeConfirmed,
        DayTypeConfirmed,
        DayTypeConfirmed,
        DayTypeWithdrawn,
    ]
    early = events[1]
    assert isinstance(early, DayTypeConfirmed)
    assert (early.school_id, early.day, early.day_type, early.schedule, early.titles) == (
        "lhs",
        date(2026, 12, 18),
        DayKind.EARLY_RELEASE,
        "early",
        ["Early Release - end of semester"],
    )
    assert (early.actor.kind.value, early.actor.id) == ("staff", "principal-okafor")
    assert early.occurred_at == datetime(2026, 12, 14, 15, 0, tzinfo=UTC)
    assert cli("list", "--school", "lhs").splitlines() == [
        "2026-12-14 09:00  principal-okafor  2026-12-04 Fri  confirmed no_school",
        "2026-12-14 09:00  principal-okafor  2026-12-18 Fri  confirmed early_release (early)",
        "2026-12-14 09:00  principal-okafor  2026-12-15 Tue  confirmed no_school",
        "2026-12-14 09:00  principal-okafor  2026-12-15 Tue  withdrawn",
        "in effect (2):",
        "  2026-12-04 Fri  no_school",
        "  2026-12-18 Fri  early_release (early)",
    ]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["confirm", "--by", "principal-okafor", "2026-12-17"],
         "2026-12-17: the feed proposes no day type for it (use --as)"),
        (["confirm", "--by", "principal-okafor", "2026-13-01"],
         "date: '2026-13-01' is not a date (YYYY-MM-DD)"),
        (["confirm", "--by", "principal-okafor", "--as", "snow_day", "2026-12-17"],
         "--as: unknown day type 'snow_day' (no_school, early_release, late_start)"),
        (["confirm", "--by", "principal-okafor", "--as", "early_release", "2026-12-17"],
         "--schedule: needed for early_release and late_start, not else"),
        (["confirm", "--by", "principal-okafor", "--as", "late_start", "--schedule", "late",
          "2026-12-17"],
         "--schedule: unknown schedule 'late' (none such under bell_schedule.alternates)"),
        (["confirm", "--by", "sso-rivera", "2026-12-18"],
         "--by: sso-rivera may not change the calendar (principal, district safety or admin "
         "only)"),
        (["confirm", "--by", "nobody", "2026-12-18"], "--by: 'nobody' is no person of lhs"),
        (["withdraw", "--by", "principal-okafor", "2026-12-18"],
         "2026-12-18: no day type in effect to withdraw"),
        (["pull", "--school", "mhs"], "--school: unknown school 'mhs'"),
        (["feed-url", "--person", "principal-okafor"],
         "--person: 'principal-okafor' is no SSO of lhs"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(cli: Any, args: list[str], line: str) -> None:
    assert cli(*args, code=2) == f"lookout: error: {line}\n"


def test_feed_url_prints_the_address_the_web_checks(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOKOUT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOOKOUT_WEB_BASE_URL", "https://lookout.lakeside.example.org")
    out = cli("feed-url", "--person", "sso-rivera")
    settings = Settings(data_dir=tmp_path / "data")
    token = feed_token(feed_secret(settings), "lhs", "sso-rivera")
    assert len(token) == 43
    assert out == f"https://lookout.lakeside.example.org/calendar/lhs/sso-rivera/{token}.ics\n"


def test_a_malformed_feed_is_one_line(cli: Any, tmp_path: Path) -> None:
    path = school_file(tmp_path)
    (tmp_path / "district.ics").write_text("BEGIN:VCALENDAR\r\nnot a line\r\n", encoding="utf-8")
    out = cli("pull", "--from", "2026-12-01", "--to", "2026-12-31", code=2, schools_path=path)
    assert out.startswith("lookout: error: calendar: malformed iCalendar (")
    assert out.count("\n") == 1


async def test_the_patrol_service_plans_a_confirmed_early_release_by_its_bell(
    nats_server: EmbeddedNats, database_url: str, tmp_path: Path
) -> None:
    await ensure_streams(Settings(nats_url=nats_server.url))
    path = school_file(tmp_path)
    # Thursday 17 December, 12:00 in Chicago: Friday is planned already, by the regular bell.
    clock = ManualClock(datetime(2026, 12, 17, 18, 0, tzinfo=UTC))
    settings = Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        patrol_db_url=database_url,
        schools=str(path),
        patrol_seed="calendar-test",
    )
    kernel: ServiceKernel = create_kernel(settings, clock)
    friday = date(2026, 12, 18)
    async with running(kernel, build_app):
        assert kernel.ticker is not None
        await kernel.ticker.tick()
        assert await passing_windows(kernel, friday) == [
            "08:35", "09:32", "10:29", "12:26", "13:23", "14:20",
        ]  # fmt: skip
        result = await asyncio.to_thread(
            runner.invoke,
            app,
            ["calendar", "confirm", "--by", "principal-okafor", "2026-12-18"],
            env={"LOOKOUT_NATS_URL": nats_server.url, "LOOKOUT_SCHOOLS": str(path)},
        )
        assert result.exit_code == 0, result.output
        js = kernel.broker.connection.jetstream()
        await wait_until(
            lambda: consumer_drained(js, "CALENDAR", "patrol-calendar"), what="calendar"
        )
        assert kernel.schools["lhs"].day_type(friday) == DayType(DayKind.EARLY_RELEASE, "early")
        assert await passing_windows(kernel, friday) == ["08:30", "09:22", "10:44"]
        async with kernel.sessions() as session:
            row = (await session.execute(select(store.day_types))).one()
        assert (row.school_id, row.day, row.day_type, row.schedule) == (
            "lhs",
            friday,
            "early_release",
            "early",
        )


async def passing_windows(kernel: ServiceKernel, day: date) -> list[str]:
    """Local start times of the day's hall-1-north windows (checked every passing period)."""
    school = kernel.schools["lhs"]
    t = store.check_windows
    async with kernel.sessions() as session:
        rows = await session.execute(
            select(t.c.window_start).where(t.c.zone_id == "hall-1-north").order_by(t.c.window_start)
        )
        local = [r.window_start.astimezone(school.tz) for r in rows]
    return [f"{w:%H:%M}" for w in local if w.date() == day]
