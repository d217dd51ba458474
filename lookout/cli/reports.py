"""`lookout reports weekly|rebuild`: a client of the reports service over NATS request-reply
(`query.<school>.reports.weekly.cli`, `command.<school>.reports.send|rebuild.cli`: operators
act as `cli`, under the admin user), using only contracts.

An error reply (a week already sent, an unknown week…) or an unreachable service is one line on
stderr and a non-zero exit, raised as CliError for the `lookout` command to print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console

from lookout.cli.emit import pick_school
from lookout.cli.request import ask_service, build_request
from lookout.contracts.reports import (
    RebuildReply,
    RebuildRequest,
    SendReply,
    SendRequest,
    WeeklyPreview,
    WeeklyPreviewRequest,
)
from lookout.kernel.errors import CliError
from lookout.kernel.queries import OPERATOR, command_subject, query_subject
from lookout.kernel.settings import Settings, load_schools

app = typer.Typer(
    help="Weekly summary emails: preview, send now, rebuild the read model (talks to the "
    "reports service).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console(soft_wrap=True, highlight=False)

SCHOOL = typer.Option(None, "--school", help="School id (default: the only configured school).")


def _say(message: str) -> None:
    console.print(message, markup=False)


def _request(subject: str, request: BaseModel, timeout: float) -> Any:
    return ask_service("reports", subject, request, timeout)


@app.command("weekly")
def weekly(
    school: str | None = SCHOOL,
    week: str | None = typer.Option(
        None, "--week", help="ISO week, e.g. 2026-W48 (default: the latest week due)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write the HTML preview here (charts inlined)."
    ),
    text: bool = typer.Option(False, "--text", help="Print the plain-text part."),
    send: bool = typer.Option(
        False, "--send", help="Send it now (once: a week already sent is refused)."
    ),
    district: bool = typer.Option(False, "--district", help="The district roll-up instead."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds to wait for the service."),
) -> None:
    """Render a week's summary (preview, `--out summary.html`), or send it now (`--send`)."""
    sid = pick_school(load_schools(Settings()), school).id
    if send:
        req = build_request(SendRequest, week=week, district=district)
        sent = SendReply.model_validate(
            _request(command_subject(sid, "reports", "send", OPERATOR), req, timeout)
        )
        detail = f" ({sent.last_error}; a retry is scheduled)" if sent.status == "pending" else ""
        if sent.status == "failed":
            raise CliError(
                f"the {sent.week} summary of {sent.scope} failed after {sent.attempts} "
                f"attempt(s): {sent.last_error}"
            )
        _say(
            f"{sent.scope} {sent.week}: {sent.status}{detail} to {sent.recipients} recipient(s), "
            f"Message-ID {sent.message_id}"
        )
        return
    preq = build_request(WeeklyPreviewRequest, week=week, district=district)
    preview = WeeklyPreview.model_validate(
        _request(query_subject(sid, "reports", "weekly", OPERATOR), preq, timeout)
    )
    if out is not None:
        try:
            out.write_text(preview.html, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror}") from None
    if text or out is None:
        _say(preview.text)
    status = preview.status or "not sent yet"
    where = f"; HTML written to {out}" if out is not None else ""
    _say(f"{preview.subject} — to {', '.join(preview.recipients) or 'nobody'} ({status}){where}")


@app.command("rebuild")
def rebuild(
    school: str | None = SCHOOL,
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds to wait for the replay."),
) -> None:
    """Drop the read model and replay every stream from its start (all schools; the sent
    marks are kept, so no week is emailed twice)."""
    sid = pick_school(load_schools(Settings()), school).id
    req = build_request(RebuildRequest)
    done = RebuildReply.model_validate(
        _request(command_subject(sid, "reports", "rebuild", OPERATOR), req, timeout)
    )
    streams = ", ".join(f"{k} {v}" for k, v in done.events.items())
    _say(f"rebuilt: {done.applied} events applied in {done.seconds:g}s (read {streams})")
