"""`lookout users`: people's sign-in to the web service — set a password, print a one-time
sign-in link. Writes the web service's own database (reached by module name: the CLI never
imports a service statically)."""

from __future__ import annotations

import asyncio
import importlib
import sys
from typing import Any

import typer

from lookout.kernel.clock import SystemClock
from lookout.kernel.errors import UsageError
from lookout.kernel.settings import Settings

app = typer.Typer(
    help="People's sign-in to the web service: passwords and one-time links.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

PERSON = typer.Argument(..., help="The person's id in the school file.")
SCHOOL = typer.Option(..., "--school", help="School id.")


def _accounts() -> Any:
    return importlib.import_module("services.web.accounts")


def _read_password() -> str:
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    line = sys.stdin.readline()
    if not line:
        raise UsageError("password: none given on standard input")
    return line.rstrip("\r\n")


@app.command("set-password")
def set_password(person: str = PERSON, school: str = SCHOOL) -> None:
    """Set PERSON's password (asked twice, or one line on standard input), stored as argon2."""
    settings = Settings()
    password = _read_password()
    asyncio.run(
        _accounts().set_password(
            settings, SystemClock(), school_id=school, person_id=person, password=password
        )
    )
    typer.echo(f"password set for {person} of {school}")


@app.command("link")
def link(person: str = PERSON, school: str = SCHOOL) -> None:
    """Print a one-time sign-in link for PERSON: valid 15 minutes, for one sign-in."""
    settings = Settings()
    url = asyncio.run(
        _accounts().issue_link(settings, SystemClock(), school_id=school, person_id=person)
    )
    typer.echo(url)
