"""`lookout alerts ack|resolve|show|list`: a client of the alerts service over NATS
request-reply (`command.<school>.alerts.<name>.<person>`, `query.<school>.alerts.<name>.<person>`:
the acting person is `--by`, the subject's last token), using only contracts.

An error reply (unknown alert, missing note…) or an unreachable service is one line on stderr
and a non-zero exit, raised as CliError for the `lookout` command to print.
"""

from __future__ import annotations

import uuid
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console

from lookout.cli.emit import parse_uuid, pick_school
from lookout.cli.request import acting_as, ask_service, build_request
from lookout.cli.school_time import at_school
from lookout.contracts.alerts import (
    AckRequest,
    AlertDetail,
    AlertList,
    AlertSummary,
    ListRequest,
    ResolveRequest,
    ShowRequest,
)
from lookout.kernel.queries import OPERATOR, command_subject, query_subject
from lookout.kernel.settings import Settings, load_schools
from lookout.school.config import SchoolConfig

app = typer.Typer(
    help="Acknowledge, resolve, show and list alerts (talks to the alerts service).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console(soft_wrap=True, highlight=False)

SCHOOL = typer.Option(None, "--school", help="School id (default: the only configured school).")
BY = typer.Option(
    OPERATOR,
    "--by",
    envvar="LOOKOUT_USER",
    help="Your person id (the request subject's last token; env LOOKOUT_USER), recorded on the "
    "alert's timeline. With a person's NATS credentials the server accepts only their own id.",
)
TIMEOUT = typer.Option(5.0, "--timeout", help="Seconds to wait for the alerts service.")


def _say(message: str) -> None:
    console.print(message, markup=False)


def _school(school: str | None) -> SchoolConfig:
    return pick_school(load_schools(Settings()), school)


def _request(subject: str, request: BaseModel, timeout: float) -> Any:
    return ask_service("alerts", subject, request, timeout)


def _alert_id(value: str) -> uuid.UUID:
    return parse_uuid(value, "alert id")


def _line(a: AlertSummary, school: SchoolConfig) -> str:
    where = f" at {a.zone_id}" if a.zone_id else ""
    return (
        f"{a.alert_id}  {a.status.value:<12} {a.severity.value:<8} {a.category}{where}  "
        f"x{a.count}  opened {at_school(a.opened_at, school)}"
    )


@app.command("ack")
def ack(
    alert_id: str = typer.Argument(..., help="The alert id."),
    by: str = BY,
    school: str | None = SCHOOL,
    timeout: float = TIMEOUT,
) -> None:
    """Acknowledge: escalation stops, and re-triggers after the policy's ack timeout unless
    the alert is resolved by then."""
    sch = _school(school)
    req = build_request(AckRequest, alert_id=_alert_id(alert_id), by_person_id=by)
    alert = AlertSummary.model_validate(
        _request(command_subject(sch.id, "alerts", "ack", by), req, timeout)
    )
    until = at_school(alert.next_step_at, sch) if alert.next_step_at else "never"
    _say(f"acknowledged {alert.alert_id}; re-triggers at {until} unless resolved")


@app.command("resolve")
def resolve(
    alert_id: str = typer.Argument(..., help="The alert id."),
    note: str = typer.Option("", "--note", help="Outcome note (required; never printed)."),
    by: str = BY,
    school: str | None = SCHOOL,
    timeout: float = TIMEOUT,
) -> None:
    """Resolve with an outcome note: the escalation ends."""
    req = build_request(ResolveRequest, alert_id=_alert_id(alert_id), by_person_id=by, note=note)
    subject = command_subject(_school(school).id, "alerts", "resolve", by)
    alert = AlertSummary.model_validate(_request(subject, req, timeout))
    _say(f"resolved {alert.alert_id}")


@app.command("show")
def show(
    alert_id: str = typer.Argument(..., help="The alert id."),
    by: str = BY,
    school: str | None = SCHOOL,
    timeout: float = TIMEOUT,
) -> None:
    """One alert and its timeline: opened, each step, each notification, ack, resolve."""
    sch = _school(school)
    req = build_request(ShowRequest, alert_id=_alert_id(alert_id), by_person_id=by)
    detail = AlertDetail.model_validate(
        _request(query_subject(sch.id, "alerts", "show", by), req, timeout)
    )
    a = detail.alert
    _say(_line(a, sch))
    _say(f"  source {a.source.value}, policy {a.policy}, next step {a.step} (pass {a.repeat})")
    if a.next_step_at:
        _say(f"  next step / ack timeout due {at_school(a.next_step_at, sch)}")
    if a.acknowledged_at:
        _say(f"  acknowledged by {a.acknowledged_by} at {at_school(a.acknowledged_at, sch)}")
    if a.resolved_at:
        _say(f"  resolved by {a.resolved_by} at {at_school(a.resolved_at, sch)}")
        note = detail.resolution_note
        if note is None:  # a resolved alert's note is gone only once the retention period ends
            note = "(erased after the retention period)"
        _say(f"  outcome note: {note}")
    for e in detail.timeline:
        parts = [at_school(e.at, sch), e.kind]
        if e.step is not None:
            parts.append(f"step {e.step} pass {e.repeat}")
        for value in (e.person_id, e.channel, e.outcome):
            if value:
                parts.append(value)
        if e.detail:
            parts.append(f"({e.detail})")
        _say("  " + " ".join(parts))


@app.command("list")
def list_alerts(
    open_only: bool = typer.Option(True, "--open/--all", help="Unresolved alerts only."),
    limit: int = typer.Option(100, "--limit", help="At most this many, newest first."),
    by: str = BY,
    school: str | None = SCHOOL,
    timeout: float = TIMEOUT,
) -> None:
    """Alerts, newest first."""
    sch = _school(school)
    req = build_request(ListRequest, open_only=open_only, limit=limit)
    subject = query_subject(sch.id, "alerts", "list", acting_as(by))
    found = AlertList.model_validate(_request(subject, req, timeout))
    for a in found.alerts:
        _say(_line(a, sch))
    _say(f"{len(found.alerts)} alert(s)")
