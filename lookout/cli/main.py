"""The `lookout` command: run the suite, one service, publish and follow events, write docs.

Errors are one line on stderr and a non-zero exit (2 for bad input), never a traceback; set
LOOKOUT_DEBUG=1 to see the traceback of an unexpected failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click
import typer
from pydantic import ValidationError
from rich.console import Console
from typer.core import TyperGroup

from lookout.cli.alerts import app as alerts_app
from lookout.cli.calendar import app as calendar_app
from lookout.cli.check import app as check_app
from lookout.cli.connect import resolve_nats_url
from lookout.cli.demo import demo as demo_command
from lookout.cli.emit import build, check_tag, check_zone, pick_school
from lookout.cli.patrol import app as patrol_app
from lookout.cli.reports import app as reports_app
from lookout.cli.roster import app as roster_app
from lookout.cli.sensors import app as sensors_app
from lookout.cli.simulate import simulate as simulate_command
from lookout.cli.users import app as users_app
from lookout.cli.visitors import app as visitors_app
from lookout.cli.web_links import prepare_web, wait_until_web_ready
from lookout.contracts.envelope import Event
from lookout.contracts.patrol import CheckpointScanned as CheckpointScannedEvent
from lookout.contracts.patrol import (
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    ContactLogged,
    ObservationLogged,
)
from lookout.contracts.subjects import describe
from lookout.deploy.nats import app as deploy_app
from lookout.kernel.errors import CliError, UsageError
from lookout.kernel.settings import (
    ALL_SERVICES,
    SERVICES,
    WEB,
    ConfigurationError,
    Settings,
    load_schools,
)

console = Console(soft_wrap=True, highlight=False)


class _OneLineErrors(TyperGroup):
    """Turns every expected failure into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            _fail(exc.message, exc.code)
        except ConfigurationError as exc:
            _fail(str(exc), 2)
        except ValidationError as exc:
            _fail(describe(exc), 2)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException):
            raise
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Exception as exc:
            if os.environ.get("LOOKOUT_DEBUG"):
                raise
            # The message may carry input values (notes, names): show only the kind of failure.
            _fail(f"unexpected {type(exc).__name__} (set LOOKOUT_DEBUG=1 for details)", 1)


def _fail(message: str, code: int) -> None:
    click.echo(f"lookout: error: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


def _typer(help: str) -> typer.Typer:
    return typer.Typer(
        help=help,
        cls=_OneLineErrors,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


app = _typer("Lookout: the School Safety Officer suite.")
emit_app = _typer("Publish a valid event as the SSO's phone would (for trying things by hand).")
concern_app = _typer("Raise, update or resolve a concern.")
db_app = _typer("Service databases.")
dlq_app = _typer("Dead letters: messages a service refused, with the reason.")
app.add_typer(emit_app, name="emit")
emit_app.add_typer(concern_app, name="concern")
app.add_typer(db_app, name="db")
app.add_typer(dlq_app, name="dlq")
app.add_typer(alerts_app, name="alerts")
app.add_typer(patrol_app, name="patrol")
app.add_typer(visitors_app, name="visitors")
app.add_typer(reports_app, name="reports")
app.add_typer(deploy_app, name="deploy")
app.add_typer(check_app, name="check")
app.add_typer(users_app, name="users")
app.add_typer(roster_app, name="roster")
app.add_typer(calendar_app, name="calendar")
app.add_typer(sensors_app, name="sensors")
app.command("simulate")(simulate_command)
app.command("demo")(demo_command)


def _say(message: str, style: str | None = None) -> None:
    console.print(message, style=style, markup=False)


def _services_available(names: tuple[str, ...] = SERVICES) -> list[str]:
    """The installed ones of `names` (by default the event-driven services)."""
    from lookout.cli.docs import existing_services

    return existing_services(names)


def _check_service(name: str, among: tuple[str, ...] = ALL_SERVICES) -> None:
    if name not in among:
        raise UsageError(f"service: unknown service {name!r} (one of: {', '.join(among)})")
    if name not in _services_available(among):
        raise UsageError(f"service: {name!r} is not installed in this version")


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable database URL>"


# --- up -----------------------------------------------------------------------------------------


@app.command()
def up(
    for_seconds: float | None = typer.Option(
        None, "--for-seconds", hidden=True, help="Stop by itself after this long (tests)."
    ),
) -> None:
    """Start the whole suite on this machine: NATS (embedded unless LOOKOUT_NATS_URL is set)
    and every service as its own process. Ctrl-C stops everything."""
    from lookout.local.suite import local_suite

    settings = Settings()
    schools = load_schools(settings)  # a bad school file stops us here, with one line
    services = _services_available()
    web_env, web_lines = prepare_web(settings, schools)
    children = [*services, WEB] if web_env is not None else services
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def report(message: str) -> None:
        _say(f"{datetime.now().strftime('%H:%M:%S')} {message}", "yellow")

    try:
        with local_suite(settings, children, report, _say, extra_env=web_env) as suite:
            _say("Lookout", "bold")
            _say(f"  data dir  {suite.data_dir}")
            _say(f"  NATS      {suite.nats_where}")
            _say(f"  mail      {suite.mail_where}")
            for school in schools.values():
                _say(f"  school    {school.id}: {school.name} ({len(school.zones)} zones)")
            for child in suite.supervisor.children:
                pid = child.proc.pid if child.proc else "?"
                db = _hide_password(settings.database_url(child.name))
                health = child.env.get("LOOKOUT_HEALTH_PORT", "")
                health = f"  health :{health}" if health else ""
                _say(f"  {child.name:<9} pid {pid}  db {db}{health}  log {child.log_path}")
            if web_lines and not wait_until_web_ready(suite.supervisor.children, settings.web_host):
                _say("  the web service is not ready yet; the links work once it is", "yellow")
            for line in web_lines:
                _say(line)
            missing = [s for s in ALL_SERVICES if s not in children]
            if missing:
                _say(f"  not installed yet: {', '.join(missing)}", "dim")
            _say(
                f"Lookout is up: {len(children)} service(s) running. "
                f"Try `lookout emit scan --zone …` and `lookout tail`. Ctrl-C stops everything.",
                "green",
            )
            deadline = time.monotonic() + for_seconds if for_seconds else None
            while not stop.wait(0.2):
                suite.check(report)
                if deadline is not None and time.monotonic() >= deadline:
                    break
    finally:
        # Our handlers stay in place while stopping: a second Ctrl-C does not cut it short.
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# --- run ----------------------------------------------------------------------------------------


@app.command()
def run(
    service: str = typer.Argument(..., help="patrol, visitors, alerts, reports or web"),
) -> None:
    """Run one service in the foreground (what `lookout up` starts for each service)."""
    _check_service(service)
    from lookout.cli.docs import service_module
    from lookout.local.runtime import nats_is_reachable

    settings = Settings()
    load_schools(settings)  # a bad school file: one line, before anything starts
    url = resolve_nats_url(settings)  # `lookout up` sets it; alone: the running suite's
    settings = settings.model_copy(update={"nats_url": url})
    # Once running, the service rides out a NATS restart; at start, say plainly if it is absent.
    if not asyncio.run(nats_is_reachable(url)):
        raise CliError(f"cannot reach NATS at {url}")
    if service == WEB:  # an ASGI app under uvicorn, not a FastStream app
        asyncio.run(service_module(WEB).serve(settings))
        return
    application = service_module(service).create_app(settings)
    asyncio.run(application.run())


# --- emit ---------------------------------------------------------------------------------------

SCHOOL = typer.Option(None, "--school", help="School id (default: the only configured school).")
ACTOR = typer.Option("cli", "--actor", help="Actor id recorded on the event (kind `cli`).")
EVENT_ID = typer.Option(
    None, "--event-id", help="Reuse an event id (to try a phone's retry); default: a new one."
)
STUDENTS = typer.Option(
    None, "--student", help="Opaque student reference (e.g. S-1234), never a name. Repeatable."
)
NOTE = typer.Option(None, "--note", help="Bounded free text (never printed by Lookout).")


def _emit(
    model: type[Event],
    school_id: str | None,
    actor: str,
    event_id: str | None,
    zone: str | None = None,
    tag: str | None = None,
    **fields: Any,
) -> Event:
    from lookout.cli.emit import publish

    settings = Settings()
    school = pick_school(load_schools(settings), school_id)
    check_zone(school, zone)
    if tag is not None and zone is not None:
        check_tag(school, zone, tag)
    if zone is not None:
        fields["zone_id"] = zone
    if tag is not None:
        fields["checkpoint_tag"] = tag
    event = build(model, school, settings.make_clock().now(), actor, event_id, **fields)
    result = asyncio.run(publish(resolve_nats_url(settings), event))
    dup = " (duplicate: JetStream already had this event_id)" if result.duplicate else ""
    _say(
        f"published {event.type} {event.event_id} to {result.subject} "
        f"(stream {result.stream}, seq {result.seq}){dup}"
    )
    return event


@emit_app.command("scan")
def emit_scan(
    zone: str = typer.Option(..., "--zone", help="Zone id from the school file."),
    tag: str = typer.Option(..., "--tag", help="Checkpoint tag id in that zone."),
    method: str = typer.Option("nfc", "--method", help="nfc, qr or manual."),
    school: str | None = SCHOOL,
    actor: str = ACTOR,
    event_id: str | None = EVENT_ID,
) -> None:
    """A checkpoint scan on patrol."""
    _emit(CheckpointScannedEvent, school, actor, event_id, zone=zone, tag=tag, method=method)


@emit_app.command("observation")
def emit_observation(
    zone: str = typer.Option(..., "--zone", help="Zone id from the school file."),
    category: str = typer.Option(
        ...,
        "--category",
        help="vaping, loitering, unauthorized_area, property_damage, hazard or other.",
    ),
    note: str | None = NOTE,
    school: str | None = SCHOOL,
    actor: str = ACTOR,
    event_id: str | None = EVENT_ID,
) -> None:
    """An observation about a place."""
    _emit(ObservationLogged, school, actor, event_id, zone=zone, category=category, note=note)


@concern_app.command("raise")
def concern_raise(
    category: str = typer.Option(
        ...,
        "--category",
        help="vaping, conflict, bullying, emotional_distress, self_harm_risk, weapon, intruder, "
        "medical, hazard or other.",
    ),
    severity: str = typer.Option(..., "--severity", help="low, medium, high or critical."),
    zone: str | None = typer.Option(None, "--zone", help="Zone id from the school file."),
    students: list[str] | None = STUDENTS,
    note: str | None = NOTE,
    concern_id: str | None = typer.Option(None, "--concern-id", help="Default: a new id."),
    school: str | None = SCHOOL,
    actor: str = ACTOR,
    event_id: str | None = EVENT_ID,
) -> None:
    """Raise a concern; prints its concern id for later updates."""
    from lookout.cli.emit import parse_uuid

    cid = parse_uuid(concern_id, "concern_id") if concern_id else _new_uuid()
    _emit(
        ConcernRaised,
        school,
        actor,
        event_id,
        zone=zone,
        concern_id=cid,
        category=category,
        severity=severity,
        student_refs=students or [],
        note=note,
    )
    _say(f"concern_id {cid}")


@concern_app.command("update")
def concern_update(
    concern_id: str = typer.Argument(..., help="The id printed by `emit concern raise`."),
    severity: str | None = typer.Option(None, "--severity", help="low, medium, high, critical."),
    zone: str | None = typer.Option(None, "--zone", help="Zone id from the school file."),
    students: list[str] | None = STUDENTS,
    note: str | None = NOTE,
    school: str | None = SCHOOL,
    actor: str = ACTOR,
    event_id: str | None = EVENT_ID,
) -> None:
    """New information on an open concern (omitted fields are unchanged)."""
    from lookout.cli.emit import parse_uuid

    _emit(
        ConcernUpdated,
        school,
        actor,
        event_id,
        zone=zone,
        concern_id=parse_uuid(concern_id, "concern_id"),
        severity=severity,
        student_refs=students or None,
        note=note,
    )


@concern_app.command("resolve")
def concern_resolve(
    concern_id: str = typer.Argument(..., help="The id printed by `emit concern raise`."),
    outcome: str = typer.Option(
        ...,
        "--outcome",
        help="resolved_by_sso, referred_to_counselor, referred_to_admin, parent_contacted or "
        "no_action_needed.",
    ),
    note: str | None = NOTE,
    school: str | None = SCHOOL,
    actor: str = ACTOR,
    event_id: str | None = EVENT_ID,
) -> None:
    """Resolve a concern with an outcome."""
    from lookout.cli.emit import parse_uuid

    _emit(
        ConcernResolved,
        school,
        actor,
        event_id,
        concern_id=parse_uuid(concern_id, "concern_id"),
        outcome=outcome,
        note=note,
    )


@emit_app.command("contact")
def emit_contact(
    kind: str = typer.Option(
        ...,
        "--kind",
        help="positive_contact, check_in, de_escalation or referral_to_counselor.",
    ),
    students: list[str] | None = STUDENTS,
    zone: str | None = typer.Option(None, "--zone", help="Zone id from the school file."),
    concern: str | None = typer.Option(None, "--concern", help="Concern id it is part of."),
    note: str | None = NOTE,
    school: str | None = SCHOOL,
    actor: str = ACTOR,
    event_id: str | None = EVENT_ID,
) -> None:
    """A positive contact, check-in, de-escalation or referral."""
    from lookout.cli.emit import parse_uuid

    _emit(
        ContactLogged,
        school,
        actor,
        event_id,
        zone=zone,
        kind=kind,
        student_refs=students or [],
        concern_id=parse_uuid(concern, "concern") if concern else None,
        note=note,
    )


def _new_uuid() -> Any:
    import uuid

    return uuid.uuid4()


# --- tail ---------------------------------------------------------------------------------------


@app.command()
def tail(
    subject: str = typer.Option(">", "--subject", help="Subject filter, e.g. 'patrol.lhs.>'."),
    from_start: bool = typer.Option(False, "--from-start", help="Replay stored events first."),
    limit: int | None = typer.Option(None, "--limit", help="Exit after this many events."),
    idle_exit: float | None = typer.Option(
        None, "--idle-exit", hidden=True, help="Exit after this many quiet seconds (tests)."
    ),
) -> None:
    """Follow events, one readable line each (no notes, no student references)."""
    from lookout.cli.tail import follow

    def show(line: Any) -> None:
        style = "red" if line.kind in ("dead-letter", "invalid") else None
        _say(line.render(), style)

    settings = Settings()
    schools = load_schools(settings)  # times in each school's zone; a bad file: one line
    try:
        asyncio.run(
            follow(
                resolve_nats_url(settings),
                subject,
                show,
                from_start=from_start,
                limit=limit,
                idle_exit=idle_exit,
                schools=schools,
            )
        )
    except KeyboardInterrupt:
        return


# --- docs ---------------------------------------------------------------------------------------


@app.command()
def docs(
    out: Path = typer.Option(Path("docs"), "--out", help="Directory to write into."),
    services: list[str] | None = typer.Option(
        None, "--service", help="Only these services' apps (default: every installed service)."
    ),
) -> None:
    """Write asyncapi.json/.yaml (from the services' FastStream apps) and a JSON Schema per
    event type (schemas/<type>.json)."""
    from lookout.cli.docs import DocsError, write_docs

    for name in services or []:
        _check_service(name)
    try:
        written = write_docs(out, services or None)
    except DocsError as exc:
        raise CliError(str(exc)) from None
    _say(f"wrote {len(written)} files under {out}: asyncapi.json, asyncapi.yaml, schemas/*.json")
    doc = json.loads((out / "asyncapi.json").read_text(encoding="utf-8"))
    for note in doc.get("x-lookout-warnings", []):
        click.echo(f"lookout: warning: {note}", err=True)


# --- db -----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(
    service: str | None = typer.Argument(
        None, help="patrol, visitors, alerts, reports or web (default: every one)."
    ),
) -> None:
    """Run each service's migrations to head on its database (the web service's too)."""
    from lookout.cli.docs import service_module
    from lookout.kernel.storage import make_engine, upgrade_database

    if service is not None:
        _check_service(service)
    names = [service] if service else _services_available(ALL_SERVICES)
    settings = Settings()

    async def _upgrade(name: str) -> None:
        engine = make_engine(settings.database_url(name))
        try:
            await upgrade_database(engine, service_module(name).MIGRATIONS, name)
        finally:
            await engine.dispose()

    for name in names:
        try:
            asyncio.run(_upgrade(name))
        except (OSError, ConnectionError) as exc:
            raise CliError(f"{name}: cannot reach its database: {type(exc).__name__}") from None
        _say(f"{name}: database at head ({_hide_password(settings.database_url(name))})")


# --- dlq ----------------------------------------------------------------------------------------


def _check_dlq_service(service: str | None) -> None:
    """Only the event-driven services dead-letter (the web answers refusals per request)."""
    if service is None or service in SERVICES:
        return
    known = ", ".join(SERVICES)
    if service == WEB:
        raise UsageError(f"service: {WEB!r} consumes no stream: no dead letters (one of: {known})")
    raise UsageError(f"service: unknown service {service!r} (one of: {known})")


@dlq_app.command("list")
def dlq_list(
    service: str | None = typer.Option(None, "--service", help="Only this service's."),
) -> None:
    """Dead letters: DLQ sequence, origin, time, size and reason (never the payload)."""
    from lookout.cli.tail import dead_letters

    _check_dlq_service(service)
    settings = Settings()
    lines = asyncio.run(dead_letters(resolve_nats_url(settings), service, load_schools(settings)))
    for line in lines:
        _say(line.render())
    _say(f"{len(lines)} dead letter(s)")


@dlq_app.command("replay")
def dlq_replay(
    service: str | None = typer.Option(None, "--service", help="Only this service's."),
    seqs: list[int] | None = typer.Option(
        None, "--seq", help="Only this DLQ sequence number (from `dlq list`). Repeatable."
    ),
    keep: bool = typer.Option(False, "--keep", help="Leave them in the DLQ too."),
) -> None:
    """Send dead letters back to their original subject once the cause is fixed."""
    from lookout.cli.tail import replay_dead_letters

    _check_dlq_service(service)
    done = asyncio.run(replay_dead_letters(resolve_nats_url(Settings()), service, seqs or (), keep))
    for line in done:
        _say(line)
    _say(f"{sum(' -> ' in line for line in done)} dead letter(s) replayed")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
