"""`lookout roster import`: a OneRoster CSV bundle into the web service's student roster.
Writes the web service's own database (reached by module name: the CLI never imports a service
statically). Bad rows are listed one a line by file, line and column, never with their value."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import typer

from lookout.kernel.clock import SystemClock
from lookout.kernel.errors import UsageError
from lookout.kernel.settings import Settings

app = typer.Typer(
    help="The student roster (names live only in the web service's database).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

BUNDLE = typer.Argument(..., help="A OneRoster 1.1 or 1.2 CSV bundle (.zip), bulk or delta.")
SCHOOL = typer.Option(..., "--school", help="School id.")


def _importer() -> Any:
    return importlib.import_module("services.web.roster_import")


def _lines(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


@app.command("import")
def import_(bundle: Path = BUNDLE, school: str = SCHOOL) -> None:
    """Import BUNDLE's students of the school (all of it in one transaction, or nothing) and
    match its staff to the school file's people by email."""
    done = _importer().import_bundle(Settings(), SystemClock(), school_id=school, bundle=bundle)
    if done.problems:
        for problem in done.problems:
            typer.echo(problem, err=True)
        raise UsageError(f"nothing imported: {len(done.problems)} problem(s) in the bundle")
    typer.echo(
        f"{school}: OneRoster {done.version} {done.mode}: {done.students} students added or "
        f"updated, {done.removed} users removed; {done.on_roster} students on the roster"
    )
    staff = done.staff
    typer.echo(f"staff matched to the school file: {', '.join(staff.matched) or 'none'}")
    if staff.unmatched_lines:
        typer.echo(f"staff not in the school file: users.csv lines {_lines(staff.unmatched_lines)}")
    if staff.people_not_found:
        typer.echo(
            f"people of the school file not in the bundle: {', '.join(staff.people_not_found)}"
        )
