"""`lookout simulate`: play a seeded, reproducible school week against the running suite and
write down what was done (the ground truth), or print the plan (`--dry-run`).

Errors are one line and a non-zero exit (2 for bad options), never a traceback.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from lookout.cli.connect import resolve_nats_url
from lookout.kernel.errors import CliError, UsageError
from lookout.kernel.settings import Settings
from lookout.simulation.inputs import plan_for
from lookout.simulation.plan import MAX_DAYS, Plan, PlanError, SignInVisitor, TimerCheck
from lookout.simulation.runner import (
    ActionOutcome,
    SimulationError,
    run_simulation,
    wall_seconds_until,
)

DEFAULT_START = "2026-11-23"
MAX_WAIT_SECONDS = 24 * 3600  # refuse to sit for longer than a day before the first action

console = Console(soft_wrap=True, highlight=False)


def _whole(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{field}: not a whole number") from None


def _options(seed: str, start: str, days: str, sso: str) -> tuple[int, date, int, int]:
    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise UsageError("start: not a YYYY-MM-DD date") from None
    count = _whole(days, "days")
    if not 1 <= count <= MAX_DAYS:
        raise UsageError(f"days: between 1 and {MAX_DAYS}")
    officers = _whole(sso, "sso")
    if officers not in (1, 2):
        raise UsageError("sso: 1 or 2")
    return _whole(seed, "seed"), first, count, officers


def simulate(
    seed: str = typer.Option(
        "1", "--seed", metavar="N", help="Seed: the same seed, the same week."
    ),
    start: str = typer.Option(
        DEFAULT_START, "--start", metavar="YYYY-MM-DD", help="First day (a Monday for a week)."
    ),
    days: str = typer.Option(
        "5", "--days", metavar="N", help="Calendar days (no-school days rest)."
    ),
    truth: Path | None = typer.Option(
        None,
        "--truth",
        help="Ground-truth JSON to write (default: <data dir>/simulation-truth.json).",
    ),
    sso: str = typer.Option("1", "--sso", metavar="1|2", help="How many SSOs patrol."),
    school: str | None = typer.Option(
        None, "--school", help="School id (default: the only configured school)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; publish nothing."),
    asap: bool = typer.Option(
        False,
        "--as-fast-as-possible",
        help="Do not wait for the clock: every action at once, events stamped with planned times.",
    ),
    feed: bool = typer.Option(False, "--feed", help="Print every action as it runs."),
) -> None:
    """Simulate a school week (patrols, heartbeats, concerns, contacts, visitors) against the
    running suite, paced by the shared clock (LOOKOUT_CLOCK, e.g. 2026-11-23T06:50-06:00@x120),
    and write the ground truth."""
    number, first, count, officers = _options(seed, start, days, sso)
    settings = Settings()
    try:
        plan = plan_for(
            settings, seed=number, start=first, days=count, sso=officers, school_id=school
        )
    except PlanError as exc:
        raise UsageError(str(exc)) from None
    if dry_run:
        print_plan(plan)
        return
    truth_path = truth or settings.data_dir / "simulation-truth.json"
    if truth_path.is_dir():
        raise UsageError(f"truth: {truth_path} is a directory")
    try:
        clock = settings.make_clock()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not asap:
        last = plan.actions[-1].at
        if clock.now() > last:
            raise CliError(
                f"the clock ({clock.now().isoformat(timespec='minutes')}) is past the plan's last "
                f"action ({last.isoformat(timespec='minutes')}): set LOOKOUT_CLOCK to the plan's "
                "start, or use --as-fast-as-possible",
                2,
            )
        wait = wall_seconds_until(clock, plan.begins_at)
        if wait > MAX_WAIT_SECONDS:
            raise CliError(
                "the clock reaches the plan's start "
                f"({plan.begins_at.isoformat(timespec='minutes')}) in {wait / 86400:.0f} days "
                "of wall time: set LOOKOUT_CLOCK (e.g. "
                f"{first.isoformat()}T06:50-06:00@x120) or use --as-fast-as-possible",
                2,
            )

    url = resolve_nats_url(settings)
    run_settings = settings.model_copy(update={"nats_url": url})
    tz = ZoneInfo(plan.timezone)
    steps = sum(not isinstance(a, TimerCheck) for a in plan.actions)
    console.print(
        f"simulating {plan.school_id} seed {plan.seed}: {len(plan.school_days)} school day(s) from "
        f"{plan.start}, {steps} actions, against {url}"
        + (
            " as fast as possible (sign-ins are stamped by the visitors service's own clock)"
            if asap
            else f", paced by the clock (now {_now(clock, tz)})"
        ),
        markup=False,
    )
    progress = _Progress(tz, feed)
    try:
        result = asyncio.run(
            run_simulation(
                run_settings,
                plan,
                clock,
                truth_path,
                progress,
                pace="asap" if asap else "clock",
            )
        )
    except SimulationError as exc:
        written = getattr(exc, "truth_path", None)
        more = f" (what was done is in {written})" if written else ""
        raise CliError(f"{exc}{more}") from None
    summary = result["summary"]
    console.print(
        f"done: {summary['events']} events published, {summary['sign_ins']} sign-ins, "
        f"{summary['sign_outs']} sign-outs, {summary['screenings']} screening answer(s), "
        f"{summary['errors']} error(s); ground truth in {truth_path}",
        markup=False,
    )
    if summary["errors"]:
        raise CliError(f"{summary['errors']} action(s) failed; see `errors` in {truth_path}")


def _now(clock: object, tz: ZoneInfo) -> str:
    now = clock.now()  # type: ignore[attr-defined]
    return f"{now.astimezone(tz):%a %Y-%m-%d %H:%M}"


class _Progress:
    """Prints each day as it starts, failures always, and every action with --feed."""

    def __init__(self, tz: ZoneInfo, feed: bool) -> None:
        self.tz = tz
        self.feed = feed
        self.day: date | None = None

    def __call__(self, outcome: ActionOutcome) -> None:
        day = outcome.action.at.astimezone(self.tz).date()
        if day != self.day:
            self.day = day
            console.print(f"{day:%a %Y-%m-%d}", style="bold", markup=False)
        if self.feed or not outcome.ok:
            console.print(
                f"  {outcome.line(self.tz)}", style=None if outcome.ok else "red", markup=False
            )


def print_plan(plan: Plan) -> None:
    """The plan, a row per day (rich table)."""
    tz = ZoneInfo(plan.timezone)
    officers = ", ".join(
        o.officer_id + ("" if o.in_school_file else " (simulated)") for o in plan.officers
    )
    console.print(
        f"Plan for {plan.school_id}, seed {plan.seed}: {plan.start} for {plan.days} day(s), "
        f"{len(plan.school_days)} school day(s); {plan.student_count} students (S-1001…)",
        style="bold",
        markup=False,
    )
    console.print(f"  officers      {officers}", markup=False)
    console.print(
        f"  vaping        {', '.join(plan.hotspot_zones)} at {', '.join(plan.hot_periods)}",
        markup=False,
    )
    console.print(
        f"  simulated     {_local(plan.begins_at, tz)} to {_local(plan.ends_at, tz)}", markup=False
    )
    counts = plan.day_counts()
    days = sorted([*counts, *plan.closed_days])
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("", no_wrap=True)
    for day in days:
        table.add_column(f"{day:%a %m-%d}", justify="right")
    table.add_column("total", justify="right")
    for label, keys in _ROWS:
        cells = []
        for day in days:
            if day in plan.closed_days:
                cells.append("closed" if label == _ROWS[0][0] else "")
                continue
            cells.append("/".join(str(_count(plan, counts[day], day, k)) for k in keys))
        total = "/".join(str(sum(_count(plan, counts[d], d, k) for d in counts)) for k in keys)
        table.add_row(label, *cells, total)
    console.print(table)
    stories = [c.story for c in plan.concerns]
    visits = sum(isinstance(a, SignInVisitor) for a in plan.actions)
    console.print(
        f"  {stories.count('vaping')} vaping, {stories.count('conflict')} conflict and "
        f"{stories.count('distress')} distress concern(s); {visits} sign-ins; "
        f"{len(plan.follow_ups)} welfare follow-up(s)",
        markup=False,
    )


_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("actions", ("actions",)),
    ("heartbeats", ("device.heartbeat",)),
    ("checkpoint scans", ("checkpoint.scanned",)),
    ("windows ok/late/missed", ("windows_checked", "windows_late", "windows_missed")),
    ("observations", ("observation.logged",)),
    ("concerns new/resolved/open", ("concern.raised", "concerns_resolved", "concerns_open")),
    ("contacts", ("contact.logged",)),
    ("visitor sign-ins", ("visitors.sign_in",)),
    (
        "  overdue/oob/watchlist",
        ("visit_overdue", "visit_out_of_bounds", "visit_watchlist"),
    ),
    ("visitor sightings", ("visitor.sighted",)),
)


def _count(plan: Plan, counts: Counter[str], day: date, key: str) -> int:
    if key != "actions":
        return counts[key]
    tz = ZoneInfo(plan.timezone)
    return sum(
        1
        for a in plan.actions
        if not isinstance(a, TimerCheck) and a.at.astimezone(tz).date() == day
    )


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%a %Y-%m-%d %H:%M}"
