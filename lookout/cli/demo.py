"""`lookout demo`: the whole suite and a simulated school week at demo speed, with a live feed.

Every process runs on one scaled clock (`LOOKOUT_CLOCK=<start>@x<speed>@<anchor>`), so a school
week passes in minutes with every timer working: patrol windows close, escalations climb,
visitors turn overdue, and on Friday at the report hour the weekly summary lands in the mail
sink, whose path is printed at the end. The web service runs too: before the week starts the
demo prints its URL and one-time sign-in links for the SSO, the front office and the principal,
so the SSO's phone view can be opened in a browser and the simulated week watched arriving.

The feed shows ids, zones, enums and times — never student references, names or note text.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import nats
import typer
from rich.console import Console

from lookout.cli.web_links import WEB, prepare_web, wait_until_web_ready
from lookout.kernel.clock import ScaledClock
from lookout.kernel.errors import CliError, UsageError
from lookout.kernel.settings import SERVICES, ConfigurationError, Settings, load_schools
from lookout.simulation.inputs import plan_for
from lookout.simulation.plan import Plan, PlanError, Publish
from lookout.simulation.runner import ActionOutcome, SimulationError, run_simulation

console = Console(soft_wrap=True, highlight=False)

# Heartbeats are the SSO phone's keep-alive: every few minutes, nothing to read in a feed.
QUIET_KINDS = ("device.heartbeat",)
STARTUP_SECONDS = 6.0  # wall time the services get to start before simulated time reaches the plan
EMAIL_WAIT_SECONDS = 60.0


def _feed_line(outcome: ActionOutcome, tz: ZoneInfo) -> str | None:
    action = outcome.action
    if isinstance(action, Publish) and action.event.type in QUIET_KINDS:
        return None
    line = outcome.line(tz)
    kind = type(action).__name__
    style = "red" if not outcome.ok else "cyan" if "concern" in line else "green"
    if kind in ("SignInVisitor", "SignOutVisitor", "AnswerScreening", "SightVisitor"):
        style = "magenta"
    return f"[{style}]{line}[/]"


def _notification_line(body: dict[str, Any], tz: ZoneInfo) -> str:
    at = datetime.fromisoformat(body["occurred_at"]).astimezone(tz)
    zone = f" in {body['zone_id']}" if body.get("zone_id") else ""
    return (
        f"[bold yellow]{at:%a %H:%M:%S} ESCALATION → {body['person_id']}: "
        f"{body['severity']} {body['category']}{zone} (step {body['step'] + 1}, "
        f"{body['count']} report(s))[/]"
    )


def demo(
    speed: float = typer.Option(600.0, "--speed", help="Simulated seconds per wall second."),
    days: int = typer.Option(5, "--days", help="Calendar days to simulate (1-7)."),
    start: str = typer.Option(
        "2026-11-30", "--start", metavar="YYYY-MM-DD", help="First day (a Monday for a week)."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed: the same seed, the same week."),
    keep: bool = typer.Option(
        False, "--keep", help="Keep the previous demo's data (default: start fresh)."
    ),
) -> None:
    """Run the whole suite and a simulated school week at demo speed, with a live feed; the
    weekly email's path is printed at the end. Ctrl-C stops everything."""
    from lookout.local.suite import local_suite

    if not 1 <= days <= 7:
        raise UsageError("days: between 1 and 7")
    if not 1 <= speed <= 5000:
        raise UsageError("speed: between 1 and 5000")
    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise UsageError("start: not a YYYY-MM-DD date") from None
    base = Settings()
    data_dir = base.data_dir.resolve() / "demo"
    if data_dir.exists() and not keep:
        shutil.rmtree(data_dir)  # the demo's own directory: a fresh week each time
    settings = base.model_copy(update={"data_dir": data_dir, "nats_url": ""})
    try:
        plan = plan_for(settings, seed=seed, start=first, days=days)
        school = load_schools(settings)[plan.school_id]
    except (ConfigurationError, PlanError) as exc:
        raise CliError(str(exc)) from None
    # Links first (they migrate the web database before its process starts), then the clock:
    # the services' start-up time is counted from here.
    web_env, web_lines = prepare_web(settings, {school.id: school})
    services = [*SERVICES, WEB] if web_env is not None else list(SERVICES)
    tz = ZoneInfo(plan.timezone)
    origin = plan.begins_at - timedelta(minutes=2)
    clock = ScaledClock(origin, speed, anchor=time.time() + STARTUP_SECONDS)
    wall = (plan.ends_at - origin).total_seconds() / speed + STARTUP_SECONDS
    stopping = asyncio.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def report(message: str) -> None:
        console.print(f"[yellow]{datetime.now():%H:%M:%S} {message}[/]")

    console.print(
        f"[bold]Lookout demo[/]: {plan.school_id}, {plan.start:%a %d %b} for {days} day(s) at "
        f"x{speed:g} — about {wall / 60:.0f} min. Data in {data_dir}. Ctrl-C stops."
    )
    try:
        with local_suite(
            settings,
            services,
            report,
            lambda m: console.print(f"[dim]{m}[/]"),
            extra_env=(web_env or {})
            | {
                "LOOKOUT_CLOCK": clock.spec(),
                # A tick every 0.1 s of wall time is a minute of school time at x600.
                "LOOKOUT_TICK_SECONDS": str(max(0.05, min(1.0, 60.0 / speed))),
                "LOOKOUT_LOG_LEVEL": "WARNING",
            },
            prefer_port=None,
        ) as suite:
            console.print(f"  NATS {suite.nats_where}\n  mail {suite.mail_where}")
            if web_lines and not wait_until_web_ready(suite.supervisor.children, settings.web_host):
                report("the web service is not ready yet; the links work once it is")
            for line in web_lines:
                console.print(line, markup=False)
            if web_lines:
                console.print(
                    "  Open the SSO's link in a browser (a phone-sized window is best) and watch "
                    "the week arrive on Today."
                )
            found = asyncio.run(
                _play(
                    settings.model_copy(update={"nats_url": suite.url}),
                    plan,
                    clock,
                    tz,
                    suite,
                    stopping,
                    report,
                )
            )
            if found is not None:
                console.print(f"[bold green]The weekly summary email: {found}[/]")
            elif not stopping.is_set():
                console.print(
                    "[yellow]No weekly summary in this span (it goes out on the report day; "
                    "simulate through Friday to see it).[/]"
                )
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


async def _play(
    settings: Settings,
    plan: Plan,
    clock: ScaledClock,
    tz: ZoneInfo,
    suite: Any,
    stopping: asyncio.Event,
    report: Any,
) -> Path | None:
    nc = await nats.connect(settings.nats_servers(), max_reconnect_attempts=-1)

    async def notified(msg: Any) -> None:
        console.print(_notification_line(json.loads(msg.data), tz))

    await nc.subscribe(f"alert.{plan.school_id}.notify.*", cb=notified)

    def on_action(outcome: ActionOutcome) -> None:
        line = _feed_line(outcome, tz)
        if line is not None:
            console.print(line)

    async def supervise() -> None:
        while True:
            suite.check(report)
            await asyncio.sleep(0.5)

    truth = settings.data_dir / "simulation-truth.json"
    watcher = asyncio.create_task(supervise())
    simulation = asyncio.create_task(
        run_simulation(settings, plan, clock, truth, on_action, pace="clock")
    )
    stop = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({simulation, stop}, return_when=asyncio.FIRST_COMPLETED)
        if stopping.is_set():
            return None
        try:
            simulation.result()
        except SimulationError as exc:
            raise CliError(f"simulation: {exc}") from None
        console.print(f"[dim]ground truth written to {truth}[/]")
        return await _weekly_email(suite, plan, stopping)
    finally:
        for task in (watcher, simulation, stop):
            task.cancel()
        await nc.close()


async def _weekly_email(suite: Any, plan: Plan, stopping: asyncio.Event) -> Path | None:
    """The school's weekly summary in the mail sink, once the reports service has sent it."""
    if suite.mail is None or not any(d.weekday() == 4 for d in plan.school_days):
        return None
    wanted = f"<weekly-summary.{plan.school_days[-1]:%G-W%V}.{plan.school_id}@lookout.reports>"
    deadline = time.monotonic() + EMAIL_WAIT_SECONDS
    while time.monotonic() < deadline and not stopping.is_set():
        for path in suite.mail.messages():
            if wanted in path.read_text(errors="replace"):
                return Path(path)
        await asyncio.sleep(0.5)  # the sink writes files; nothing to await but the directory
    return None
