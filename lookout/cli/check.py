"""`lookout check school FILE`: does every alert the school can raise reach someone on duty?

Prints each finding of lookout/school/coverage.py on one line, in the school's local time.
Exit 0 when there is no error (high or critical), 1 with errors; a file that does not load or
validate is one line naming the file and field, exit 2 (the `lookout` command prints it).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from lookout.kernel.settings import load_school
from lookout.school.coverage import Level, check_school

app = typer.Typer(
    help="Check configuration before it is used.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console(soft_wrap=True, highlight=False)


@app.command("school")
def school(
    file: Path = typer.Argument(..., help="The school's YAML file."),
) -> None:
    """Every (category, severity, time of the week) at which the school's escalation policies
    reach nobody on duty within 15 minutes, and every policy that never reaches its last step
    because that step is skipped when due. High/critical findings are errors (exit 1)."""
    config = load_school(file)
    report = check_school(config)
    console.print(
        f"{config.name} ({config.id}), {config.timezone} time; looked at "
        f"{report.calendar.describe()}",
        markup=False,
    )
    for finding in report.findings:
        style = "red" if finding.level is Level.ERROR else None
        console.print(finding.line(), style=style, markup=False)
    errors = len(report.errors)
    notices = len(report.findings) - errors
    summary = f"{errors} error(s), {notices} notice(s)"
    if errors:
        console.print(f"{summary}: high or critical alerts can go unanswered", markup=False)
        raise typer.Exit(1)
    console.print(f"{summary}: every high or critical alert reaches someone", markup=False)
