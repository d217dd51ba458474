"""`lookout visitors`: the front office on the command line — sign in, sign out, answer a
screening, print the roster. Speaks NATS request-reply with the contracts only (never imports
a service); errors are one line and a non-zero exit. Who acts (`--by`) is the request subject's
last token, never a body field."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Any

import typer
from pydantic import BaseModel

from lookout.cli.emit import parse_uuid, pick_school
from lookout.cli.request import acting_as, ask_service, build_request
from lookout.cli.school_time import at_school, at_school_iso
from lookout.contracts.visitors import (
    Roster,
    RosterReply,
    Screen,
    SignIn,
    SignOut,
    VisitReply,
)
from lookout.kernel.errors import UsageError
from lookout.kernel.queries import OPERATOR, acting_person, command_subject, query_subject
from lookout.kernel.settings import Settings, load_schools
from lookout.school.config import SchoolConfig

app = typer.Typer(
    help="Front office: sign visitors in and out, answer screenings, see who is on site.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

SCHOOL = typer.Option(None, "--school", help="School id (default: the only configured school).")
BY = typer.Option(
    ...,
    "--by",
    envvar="LOOKOUT_USER",
    help="Your staff person id (from the school file; env LOOKOUT_USER): the request subject's "
    "last token. With a person's NATS credentials the server accepts only their own id.",
)
ROSTER_BY = typer.Option(
    OPERATOR, "--by", envvar="LOOKOUT_USER", help="Your person id (env LOOKOUT_USER)."
)


def _request_model(model: type[BaseModel], **fields: Any) -> BaseModel:
    return build_request(model, **{k: v for k, v in fields.items() if v is not None})


def _school(school_id: str | None) -> SchoolConfig:
    return pick_school(load_schools(Settings()), school_id)


def call(kind: str, name: str, request: BaseModel, school: SchoolConfig, by: str = OPERATOR) -> Any:
    """Send one request to the school's visitors service and return its result: the subject
    ends in the person the request acts as (`signed_in_by`…, or `by` for the roster)."""
    make = command_subject if kind == "command" else query_subject
    subject = make(school.id, "visitors", name, acting_person(request, by))
    return ask_service("visitors", subject, request, timeout=10.0)


def _say(text: str) -> None:
    typer.echo(text)


def _visit_lines(reply: VisitReply, school: SchoolConfig) -> list[str]:
    lines = [f"visit {reply.visit_id}: {reply.status.value}"]
    if reply.badge_number:
        valid = at_school(reply.badge_valid_until, school) if reply.badge_valid_until else "-"
        lines.append(f"badge {reply.badge_number} (valid until {valid})")
    if reply.expected_until:
        lines.append(f"expected until {at_school(reply.expected_until, school)}")
    if reply.checked_out_at:
        method = reply.checkout_method.value if reply.checkout_method else "-"
        lines.append(f"checked out {at_school(reply.checked_out_at, school)} ({method})")
    for m in reply.possible_matches:
        answered = m.answer.value if m.answer else "unanswered"
        lines.append(
            f"possible watchlist match {m.watchlist_entry_id} score {m.score:.3f} "
            f"({m.kind}): {m.listed_name} — {answered}"
        )
    if reply.status.value == "pending_screening":
        lines.append(
            f"held: answer with `lookout visitors screen yes|no|not_sure --visit {reply.visit_id}"
            " --by <staff id>`"
        )
    return lines


@app.command("sign-in")
def sign_in(
    first_name: str = typer.Option(..., "--first-name"),
    last_name: str = typer.Option(..., "--last-name"),
    visitor_type: str = typer.Option(
        ..., "--type", help="guest, parent, volunteer, contractor or substitute."
    ),
    id_type: str = typer.Option(
        ..., "--id-type", help="drivers_license, state_id, passport, military_id or other."
    ),
    id_last4: str = typer.Option(..., "--id-last4", help="Last 4 characters of the ID only."),
    purpose: str = typer.Option(..., "--purpose"),
    host: str = typer.Option(..., "--host", help="Staff person id visited."),
    zones: list[str] = typer.Option(..., "--zone", help="Destination zone id. Repeatable."),
    minutes: int = typer.Option(60, "--minutes", help="Expected length of the visit."),
    dob: str | None = typer.Option(None, "--dob", help="Date of birth YYYY-MM-DD (screening)."),
    by: str = BY,
    request_id: str | None = typer.Option(
        None, "--request-id", help="Reuse to retry the same sign-in (default: a new one)."
    ),
    school: str | None = SCHOOL,
) -> None:
    """Sign a visitor in: screened against the watchlist, then admitted or held."""
    try:
        born = date.fromisoformat(dob) if dob else None
    except ValueError:
        raise UsageError("date_of_birth: not a YYYY-MM-DD date") from None
    request = _request_model(
        SignIn,
        request_id=parse_uuid(request_id, "request_id") if request_id else uuid.uuid4(),
        first_name=first_name,
        last_name=last_name,
        date_of_birth=born,
        visitor_type=visitor_type,
        id_type=id_type,
        id_last4=id_last4,
        purpose=purpose,
        host_id=host,
        destination_zones=zones,
        expected_minutes=minutes,
        signed_in_by=by,
    )
    sch = _school(school)
    reply = VisitReply.model_validate(call("command", "sign_in", request, sch))
    for line in _visit_lines(reply, sch):
        _say(line)


@app.command("sign-out")
def sign_out(
    badge: str | None = typer.Option(None, "--badge", help="Badge number."),
    visit: str | None = typer.Option(None, "--visit", help="Visit id."),
    by: str = BY,
    school: str | None = SCHOOL,
) -> None:
    """Sign a visitor out by badge number or visit id."""
    if (badge is None) == (visit is None):
        raise UsageError("give exactly one of --badge or --visit")
    request = _request_model(
        SignOut,
        visit_id=parse_uuid(visit, "visit_id") if visit else None,
        badge_number=badge,
        signed_out_by=by,
    )
    sch = _school(school)
    reply = VisitReply.model_validate(call("command", "sign_out", request, sch))
    for line in _visit_lines(reply, sch):
        _say(line)


@app.command("screen")
def screen(
    answer: str = typer.Argument(..., help="yes, no or not_sure."),
    visit: str = typer.Option(..., "--visit", help="Visit id of the held sign-in."),
    entry: str | None = typer.Option(
        None, "--entry", help="Watchlist entry id (needed when there are several matches)."
    ),
    note: str | None = typer.Option(None, "--note", help="Why (kept with the decision)."),
    by: str = BY,
    school: str | None = SCHOOL,
) -> None:
    """Answer a possible watchlist match: yes or not_sure flag it; no admits the visitor."""
    request = _request_model(
        Screen,
        visit_id=parse_uuid(visit, "visit_id"),
        watchlist_entry_id=entry,
        answer=answer,
        decided_by=by,
        note=note,
    )
    sch = _school(school)
    reply = VisitReply.model_validate(call("command", "screen", request, sch))
    for line in _visit_lines(reply, sch):
        _say(line)


ROSTER_COLUMNS = (
    "badge",
    "name",
    "type",
    "host",
    "destination",
    "since",
    "expected_until",
    "overdue",
    "status",
    "last_seen",
)


@app.command("roster")
def roster(
    fmt: str = typer.Option("table", "--format", help="table or csv."),
    no_pending: bool = typer.Option(False, "--no-pending", help="Leave out held sign-ins."),
    by: str = ROSTER_BY,
    school: str | None = SCHOOL,
) -> None:
    """Who is in the building right now: the evacuation list."""
    if fmt not in ("table", "csv"):
        raise UsageError("format: table or csv")
    request = _request_model(Roster, include_pending=not no_pending)
    sch = _school(school)
    reply = RosterReply.model_validate(call("query", "roster", request, sch, acting_as(by)))
    # A table for people (the emails' form), local ISO with its offset for programs (CSV).
    when = at_school_iso if fmt == "csv" else at_school
    rows = [
        (
            v.badge_number or "-",
            v.name,
            v.visitor_type.value,
            v.host_name,
            " ".join(v.destination_zones),
            when(v.since, sch),
            when(v.expected_until, sch) if v.expected_until else "",
            "yes" if v.overdue else "no",
            v.status.value,
            v.last_seen_zone or "",
        )
        for v in reply.visitors
    ]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ROSTER_COLUMNS)
        writer.writerows(rows)
        typer.echo(out.getvalue(), nl=False)
        return
    widths = [max(len(str(c)) for c in col) for col in zip(ROSTER_COLUMNS, *rows, strict=False)]
    for line in [ROSTER_COLUMNS, *rows]:
        _say("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    _say(f"{len(rows)} visitor(s) on site as of {at_school(reply.as_of, sch)}")
