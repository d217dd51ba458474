"""What `lookout roster import` does to the web's database: read a OneRoster CSV bundle and
apply the school's students in one transaction (all of it, or nothing when any row is bad).
The CLI reaches this by module name (it never imports a service statically)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from lookout.kernel.clock import Clock
from lookout.kernel.errors import UsageError
from lookout.kernel.settings import Settings, load_schools
from lookout.kernel.storage import make_engine, make_sessionmaker, upgrade_database
from services.web.oneroster import (
    BundleError,
    Options,
    Roster,
    StaffMatch,
    match_staff,
    read_bundle,
)
from services.web.roster_store import RosterRepository
from services.web.store import MIGRATIONS


@dataclass(frozen=True)
class Imported:
    """What an import did; with `problems`, nothing was imported."""

    problems: list[str] = field(default_factory=list)
    version: str = ""
    mode: str = ""
    students: int = 0  # added or changed by the bundle
    removed: int = 0  # `tobedeleted` users named by it
    on_roster: int = 0  # the school's students after it
    staff: StaffMatch | None = None


def import_bundle(settings: Settings, clock: Clock, *, school_id: str, bundle: Path) -> Imported:
    """Read `bundle` for the school and apply it (blocking: the CLI's, not a server's)."""
    school = load_schools(settings).get(school_id)
    if school is None:
        raise UsageError(f"--school: no school {school_id!r} is configured")
    if not bundle.is_file():
        raise UsageError("BUNDLE: no such file")
    options = Options(
        reference_column=school.roster.student_reference,
        org=school.roster.org,
        reference_ok=lambda ref: school.student_reference.fullmatch(ref) is not None,
    )
    try:
        roster, problems = read_bundle(bundle, options)
    except BundleError as exc:
        raise UsageError(str(exc)) from None
    if roster is None:
        return Imported(problems=[str(p) for p in problems])
    try:
        on_roster = asyncio.run(_apply(settings, school_id, roster, clock.now()))
    except IntegrityError:
        # A delta gave a reference that another student on the roster already has.
        return Imported(
            problems=["users.csv: a student reference is already another student's on the roster"]
        )
    people = [(p.id, str(p.email) if p.email else None) for p in school.people]
    return Imported(
        version=roster.version,
        mode=roster.mode,
        students=len(roster.students),
        removed=len(roster.removed),
        on_roster=on_roster,
        staff=match_staff(roster.staff, people),
    )


async def _apply(settings: Settings, school_id: str, roster: Roster, now: datetime) -> int:
    engine = make_engine(settings.database_url("web"))
    try:
        await upgrade_database(engine, MIGRATIONS, "web")
        async with make_sessionmaker(engine).begin() as db:
            return await RosterRepository(db).apply(school_id=school_id, roster=roster, now=now)
    finally:
        await engine.dispose()
