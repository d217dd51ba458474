"""`lookout patrol plan|status|summary|stats|hotspots|deterrence`: a client of the patrol
service over NATS request-reply (`query.<school>.patrol.*`), using only the contracts; and
`lookout patrol tags`, the checkpoints' URLs and their printable QR codes, from the school file.

Tables by default, `--format json` for the reply's result as JSON. An error reply or a service
that does not answer is one line on stderr and a non-zero exit (CliError, printed by `lookout`).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from lookout.cli.emit import pick_school
from lookout.cli.request import ask_service, build_request
from lookout.contracts.patrol_queries import (
    DETERRENCE,
    FOCUS,
    HOTSPOTS,
    SHIFT_SUMMARY,
    TOUR_STATS,
    ZONE_STATUS,
    DeterrenceReply,
    FocusReply,
    Gaps,
    HotspotsReply,
    PatrolQuery,
    ShiftSummaryReply,
    TourStatsReply,
    ZoneStatusReply,
)
from lookout.contracts.subjects import describe
from lookout.kernel.errors import CliError, UsageError
from lookout.kernel.queries import acting_person
from lookout.kernel.settings import Settings, load_schools
from lookout.school.config import SchoolConfig

app = typer.Typer(
    help="Patrol plan, zone status, shift summaries and tour statistics (asks the patrol service).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console(soft_wrap=True, highlight=False)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


SCHOOL = typer.Option(None, "--school", help="School id (default: the only configured school).")
AS = typer.Option(
    "cli",
    "--as",
    envvar="LOOKOUT_USER",
    help="Your person id (env LOOKOUT_USER): the request subject's last token, which the patrol "
    "service logs student-level reads under. With a person's NATS credentials the server "
    "accepts only their own id.",
)
FORMAT = typer.Option(Format.TABLE, "--format", help="table or json.")
TIMEOUT = typer.Option(5.0, "--timeout", help="Seconds to wait for the patrol service.")
FROM = typer.Option(None, "--from", help="First day YYYY-MM-DD (default: 27 days before --to).")
TO = typer.Option(None, "--to", help="Last day YYYY-MM-DD, included (default: today).")


def ask(
    query: PatrolQuery, school_id: str, fields: dict[str, Any], timeout: float
) -> tuple[BaseModel, dict[str, Any]]:
    """Validate the request, send it, and return the typed reply and its raw result."""
    request = build_request(query.request, **fields)
    subject = query.subject(school_id, acting_person(request))
    result = ask_service(
        "patrol",
        subject,
        request,
        timeout,
        unanswered=f"patrol service did not answer on {subject} (is `lookout up` running?)",
    )
    try:
        return query.reply.model_validate_json(json.dumps(result)), result
    except ValidationError as exc:
        raise CliError(f"unexpected reply on {subject}: {describe(exc, query.reply)}") from None


def _school(school_id: str | None) -> SchoolConfig:
    return pick_school(load_schools(Settings()), school_id)


def _emit_json(result: dict[str, Any]) -> None:
    click.echo(json.dumps(result, indent=2, sort_keys=False))


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{name}: not a date (YYYY-MM-DD)") from None


def _when(moment: datetime | None, school: SchoolConfig, with_day: bool = True) -> str:
    if moment is None:
        return "-"
    local = moment.astimezone(school.tz)
    return local.strftime("%a %d %b %H:%M" if with_day else "%H:%M")


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _gaps(g: Gaps) -> tuple[str, str, str]:
    return _minutes(g.min_seconds), _minutes(g.avg_seconds), _minutes(g.max_seconds)


def _coming_week(school: SchoolConfig) -> str:
    today = Settings().make_clock().now().astimezone(school.tz).date()
    year, week, _ = (today + timedelta(days=7)).isocalendar()
    return f"{year:04d}-W{week:02d}"


# --- plan ---------------------------------------------------------------------------------------


@app.command("plan")
def plan(
    week: str | None = typer.Option(
        None, "--week", help="ISO week, e.g. 2026-W49 (default: the coming week)."
    ),
    limit: int = typer.Option(10, "--limit", help="At most this many lines (1-50)."),
    school: str | None = SCHOOL,
    requested_by: str = AS,
    fmt: Format = FORMAT,
    timeout: float = TIMEOUT,
) -> None:
    """The recommended patrol focus for a week: where and when extra or unannounced checks
    are worth it, and the counts behind each line."""
    sch = _school(school)
    fields = {"requested_by": requested_by, "week": week or _coming_week(sch), "limit": limit}
    reply, result = ask(FOCUS, sch.id, fields, timeout)
    assert isinstance(reply, FocusReply)
    if fmt is Format.JSON:
        _emit_json(result)
        return
    span = f"{reply.window_start} to {reply.window_end}, {reply.school_days} school days"
    if not reply.items:
        console.print(
            f"Patrol focus {reply.week} ({sch.id}): no concerns or observations in bell "
            f"periods from {span}; no extra checks recommended.",
            markup=False,
        )
        return
    table = Table(title=f"Patrol focus {reply.week} ({sch.id}), from {span}")
    for col, justify in [
        ("#", "right"),
        ("zone", "left"),
        ("period", "left"),
        ("score", "right"),
        ("concerns", "right"),
        ("observations", "right"),
        ("why", "left"),
    ]:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for i, item in enumerate(reply.items, 1):
        table.add_row(
            str(i),
            item.zone_id,
            item.period,
            _num(item.score),
            str(item.concerns),
            str(item.observations),
            item.reason,
        )
    console.print(table)
    console.print(
        "score = (concern severity points: low 1, medium 2, high 3, critical 5 + observations) "
        "/ school days in the window",
        markup=False,
        style="dim",
    )


# --- status -------------------------------------------------------------------------------------


AREA = typer.Option(None, "--area", help="Only the zones under this building, floor or wing.")


@app.command("status")
def status(
    zone: str | None = typer.Option(None, "--zone", help="Only this zone."),
    area: str | None = AREA,
    school: str | None = SCHOOL,
    requested_by: str = AS,
    fmt: Format = FORMAT,
    timeout: float = TIMEOUT,
) -> None:
    """Last check of each zone and its next planned window."""
    sch = _school(school)
    reply, result = ask(
        ZONE_STATUS,
        sch.id,
        {"requested_by": requested_by, "zone_id": zone, "area": area},
        timeout,
    )
    assert isinstance(reply, ZoneStatusReply)
    if fmt is Format.JSON:
        _emit_json(result)
        return
    table = Table(title=f"Zones of {sch.id} at {_when(reply.as_of, sch)}")
    for col in ("zone", "last check", "tag", "by", "next window", "period", "deadline"):
        table.add_column(col)
    for z in reply.zones:
        w = z.next_window
        table.add_row(
            z.zone_id,
            _when(z.last_check_at, sch),
            z.last_checkpoint_tag or "-",
            z.last_checked_by or "-",
            f"{_when(w.window_start, sch)}-{_when(w.window_end, sch, False)}" if w else "-",
            (w.period or "-") if w else "-",
            _when(w.deadline_at, sch, False) if w else "-",
        )
    console.print(table)
    _by_area(
        ("zones", "checked today", "last check"),
        [
            (a.area_id, str(a.zones), str(a.checked_today), _when(a.last_check_at, sch))
            for a in reply.areas
        ],
    )


def _by_area(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """The reply's roll-up by building, floor and wing (none at a school without areas)."""
    if not rows:
        return
    table = Table(title="By area")
    for col in ("area", *columns):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)


# --- summary ------------------------------------------------------------------------------------


@app.command("summary")
def summary(
    officer: str = typer.Option(..., "--officer", help="The SSO's person id."),
    day: str | None = typer.Option(None, "--date", help="Day YYYY-MM-DD (default: today)."),
    school: str | None = SCHOOL,
    requested_by: str = AS,
    fmt: Format = FORMAT,
    timeout: float = TIMEOUT,
) -> None:
    """An SSO's shift: checks done, late and missed; contacts by kind; concerns."""
    sch = _school(school)
    the_day = _day(day, "date") or Settings().make_clock().now().astimezone(sch.tz).date()
    fields = {"requested_by": requested_by, "officer_id": officer, "day": the_day}
    reply, result = ask(SHIFT_SUMMARY, sch.id, fields, timeout)
    assert isinstance(reply, ShiftSummaryReply)
    if fmt is Format.JSON:
        _emit_json(result)
        return
    table = Table(title=f"Shift of {reply.officer_id} on {reply.day} ({sch.id})")
    table.add_column("")
    table.add_column("count", justify="right")
    rows = [
        ("checkpoint scans", reply.scans),
        ("checks on time", reply.checks_done),
        ("checks late", reply.checks_late),
        ("checks missed (school-wide)", reply.checks_missed),
        *[(f"contacts: {k.value}", n) for k, n in reply.contacts.items()],
        ("concerns raised", reply.concerns_raised),
        ("concerns resolved", reply.concerns_resolved),
    ]
    for label, n in rows:
        table.add_row(label, str(n))
    console.print(table)


# --- stats --------------------------------------------------------------------------------------


@app.command("stats")
def stats(
    date_from: str | None = FROM,
    date_to: str | None = TO,
    padding_minutes: int = typer.Option(
        2, "--padding-minutes", help="Flag the same tag scanned again within N minutes."
    ),
    zone: str | None = typer.Option(None, "--zone", help="Only this zone."),
    area: str | None = AREA,
    officer: str | None = typer.Option(None, "--officer", help="Only this officer."),
    school: str | None = SCHOOL,
    requested_by: str = AS,
    fmt: Format = FORMAT,
    timeout: float = TIMEOUT,
) -> None:
    """Tour exceptions: scans per checkpoint, gaps between scans, padding, per zone and officer."""
    sch = _school(school)
    fields = {
        "requested_by": requested_by,
        "date_from": _day(date_from, "from"),
        "date_to": _day(date_to, "to"),
        "padding_minutes": padding_minutes,
        "zone_id": zone,
        "area": area,
        "officer_id": officer,
    }
    reply, result = ask(TOUR_STATS, sch.id, fields, timeout)
    assert isinstance(reply, TourStatsReply)
    if fmt is Format.JSON:
        _emit_json(result)
        return
    span = f"{reply.date_from} to {reply.date_to}"
    zones = Table(title=f"Tour statistics per zone, {sch.id}, {span} (gaps in m:ss)")
    for col in ("zone", "scans", "per checkpoint", "min gap", "avg gap", "max gap", "padding"):
        zones.add_column(col)
    for z in reply.zones:
        tags = ", ".join(f"{t} {n}" for t, n in z.checkpoints.items())
        zones.add_row(z.zone_id, str(z.scans), tags, *_gaps(z.gaps), str(z.padding_flags))
    console.print(zones)
    _by_area(
        ("zones", "scanned", "scans", "padding"),
        [
            (a.area_id, str(a.zones), str(a.zones_scanned), str(a.scans), str(a.padding_flags))
            for a in reply.areas
        ],
    )
    officers = Table(title="Per officer")
    for col in ("officer", "scans", "zones", "min gap", "avg gap", "max gap", "padding"):
        officers.add_column(col)
    for o in reply.officers:
        officers.add_row(
            o.officer_id, str(o.scans), str(o.zones), *_gaps(o.gaps), str(o.padding_flags)
        )
    console.print(officers)
    if reply.padding:
        pads = Table(
            title=f"Padding: same tag again within {reply.padding_minutes} min (same officer)"
        )
        for col in ("officer", "zone", "tag", "first", "again", "gap"):
            pads.add_column(col)
        for p in reply.padding:
            pads.add_row(
                p.officer_id,
                p.zone_id,
                p.checkpoint_tag,
                _when(p.first_at, sch),
                _when(p.again_at, sch, False),
                _minutes(p.gap_seconds),
            )
        console.print(pads)


# --- hotspots and deterrence --------------------------------------------------------------------


@app.command("hotspots")
def hotspots(
    as_of: str | None = typer.Option(None, "--as-of", help="Last day (default: today)."),
    weeks: int = typer.Option(4, "--weeks", help="Trailing window in weeks."),
    limit: int = typer.Option(20, "--limit", help="At most this many rows."),
    area: str | None = AREA,
    school: str | None = SCHOOL,
    requested_by: str = AS,
    fmt: Format = FORMAT,
    timeout: float = TIMEOUT,
) -> None:
    """Concerns and observations per zone and bell period, scored."""
    sch = _school(school)
    fields = {
        "requested_by": requested_by,
        "as_of": _day(as_of, "as-of"),
        "weeks": weeks,
        "limit": limit,
        "area": area,
    }
    reply, result = ask(HOTSPOTS, sch.id, fields, timeout)
    assert isinstance(reply, HotspotsReply)
    if fmt is Format.JSON:
        _emit_json(result)
        return
    table = Table(
        title=f"Hotspots of {sch.id}, {reply.window_start} to {reply.window_end} "
        f"({reply.school_days} school days)"
    )
    for col in ("zone", "period", "score", "concerns", "observations", "by category", "in plan"):
        table.add_column(col)
    for h in reply.items:
        cats = ", ".join(
            [f"{n} {c.value}" for c, n in h.concerns_by_category.items()]
            + [f"{n} {c.value} (obs)" for c, n in h.observations_by_category.items()]
        )
        table.add_row(
            h.zone_id,
            h.period,
            _num(h.score),
            str(h.concerns),
            str(h.observations),
            cats,
            "yes" if h.in_plan else "no",
        )
    console.print(table)
    _by_area(
        ("score", "concerns", "observations"),
        [(a.area_id, _num(a.score), str(a.concerns), str(a.observations)) for a in reply.areas],
    )


@app.command("deterrence")
def deterrence(
    date_from: str | None = FROM,
    date_to: str | None = TO,
    minutes: int = typer.Option(15, "--minutes", help="How long after a check counts."),
    school: str | None = SCHOOL,
    requested_by: str = AS,
    fmt: Format = FORMAT,
    timeout: float = TIMEOUT,
) -> None:
    """Concerns per hour shortly after a check versus other school times, per zone."""
    sch = _school(school)
    fields = {
        "requested_by": requested_by,
        "date_from": _day(date_from, "from"),
        "date_to": _day(date_to, "to"),
        "minutes": minutes,
    }
    reply, result = ask(DETERRENCE, sch.id, fields, timeout)
    assert isinstance(reply, DeterrenceReply)
    if fmt is Format.JSON:
        _emit_json(result)
        return
    table = Table(title=f"Deterrence in {sch.id}, {reply.date_from} to {reply.date_to}")
    for col in ("zone", "checks", f"/h within {reply.minutes} min", "/h otherwise", "ratio", "why"):
        table.add_column(col)
    for d in reply.zones:
        table.add_row(
            d.zone_id,
            str(d.checks),
            _num(d.rate_after_check, 3),
            _num(d.rate_other, 3),
            _num(d.ratio),
            d.explanation,
        )
    console.print(table)


class Paper(StrEnum):
    A4 = "a4"
    LETTER = "letter"


PAPER_NAMES = {Paper.A4: "A4", Paper.LETTER: "Letter"}


def _base_url(given: str | None) -> str:
    """The web service's public URL: --base-url, else LOOKOUT_WEB_BASE_URL, else
    http://LOOKOUT_WEB_HOST:LOOKOUT_WEB_PORT."""
    url = (given if given is not None else Settings().web_url()).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        where = "base-url" if given is not None else "base-url (LOOKOUT_WEB_BASE_URL)"
        raise UsageError(f"{where}: not an http(s) URL like https://lookout.example.org")
    return url


def _sheet_path(out: Path | None, school_id: str) -> Path:
    path = out if out is not None else Path(f"{school_id}-checkpoints.pdf")
    if path.suffix.lower() not in (".pdf", ".png"):
        raise UsageError("out: not a .pdf or .png file")
    if path.is_dir():
        raise UsageError("out: a directory, not a file")
    return path


@app.command("tags")
def tags(
    school: str | None = SCHOOL,
    out: Path | None = typer.Option(
        None,
        "--out",
        help="The printable sheet: FILE.pdf (a page per 12 codes) or FILE.png (FILE-1.png, "
        "FILE-2.png… when there are several pages). Default: <school>-checkpoints.pdf here.",
    ),
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        help="The web service's public URL, as phones reach it (default: LOOKOUT_WEB_BASE_URL, "
        "else http://LOOKOUT_WEB_HOST:LOOKOUT_WEB_PORT).",
    ),
    paper: Paper = typer.Option(Paper.A4, "--paper", help="a4 or letter."),
) -> None:
    """Every checkpoint's URL (<base>/t/<school>/<tag>: what its NFC tag holds; one line each:
    zone, tag, URL) and a printable sheet of their QR codes, at least 3 cm wide with the tag
    and the zone under each. Asks no service."""
    from lookout.cli.tag_sheet import SheetError, checkpoints, render_pages, write_sheet

    sch = _school(school)
    base = _base_url(base_url)
    path = _sheet_path(out, sch.id)
    items = checkpoints(sch, base)
    try:
        pages = render_pages(sch, items, paper.value)
    except SheetError as exc:
        raise UsageError(f"base-url: {exc}") from None
    try:
        written = write_sheet(pages, path)
    except OSError as exc:
        raise CliError(f"out: cannot write {path} ({exc.strerror or type(exc).__name__})") from None
    zone_width = max(len(c.zone_id) for c in items)
    tag_width = max(len(c.tag) for c in items)
    for c in items:
        click.echo(f"{c.zone_id:<{zone_width}}  {c.tag:<{tag_width}}  {c.url}")
    files = ", ".join(str(p) for p in written)
    click.echo(
        f"sheet: {files} ({len(pages)} page(s), {PAPER_NAMES[paper]}, {len(items)} codes)",
        err=True,
    )
