"""The student roster's tables (an education record: the only place Lookout keeps student
names), its imports and its access log, and the repository that reads and writes them inside a
caller's transaction."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    ColumnElement,
    Index,
    Integer,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.kernel.storage import UTCDateTime
from services.web.oneroster import Roster
from services.web.store import metadata

# One row per student on a school's roster; a removed (`tobedeleted`) student's row is deleted.
roster_students = Table(
    "web_roster_students",
    metadata,
    Column("school_id", String(32), primary_key=True),
    Column("reference", String(32), primary_key=True),
    Column("sourced_id", String(255), nullable=False),
    Column("given_name", String(100), nullable=False),
    Column("family_name", String(100), nullable=False),
    Column("name_key", String(210), nullable=False),  # search_key(given family)
    Column("grade", String(8), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_web_roster_students_sourced_id", "school_id", "sourced_id", unique=True),
)

# Each import that changed a school's roster; a school with none has no roster.
roster_imports = Table(
    "web_roster_imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String(32), nullable=False),
    Column("imported_at", UTCDateTime(), nullable=False),
    Column("version", String(8), nullable=False),
    Column("mode", String(8), nullable=False),  # bulk | delta
    Column("students", Integer, nullable=False),  # on the roster after it
    Index("ix_web_roster_imports_school", "school_id"),
)

# Every search of the roster by name: who, when and how many answers (never the query).
roster_lookups = Table(
    "web_roster_lookups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String(32), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("looked_up_at", UTCDateTime(), nullable=False),
    Column("results", Integer, nullable=False),
    Index("ix_web_roster_lookups_school", "school_id", "looked_up_at"),
)


def search_key(text: str) -> str:
    """Lower case without accents, one space between words: "José  Núñez" → "jose nunez"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@dataclass(frozen=True)
class RosterEntry:
    reference: str
    given_name: str
    family_name: str
    grade: str | None


class RosterRepository:
    """Reads and writes of the roster inside the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def apply(self, *, school_id: str, roster: Roster, now: datetime) -> int:
        """Apply a bundle's roster: a bulk file replaces the school's students, a delta adds,
        changes and removes; returns how many students are on the roster after it."""
        students = roster_students.c
        if roster.mode == "bulk":
            await self.session.execute(
                delete(roster_students).where(students.school_id == school_id)
            )
        gone = roster.removed + [s.sourced_id for s in roster.students]
        for start in range(0, len(gone), 500):  # bound the IN list (PostgreSQL, SQLite)
            await self.session.execute(
                delete(roster_students).where(
                    students.school_id == school_id,
                    students.sourced_id.in_(gone[start : start + 500]),
                )
            )
        if roster.students:
            await self.session.execute(
                insert(roster_students),
                [
                    {
                        "school_id": school_id,
                        "reference": s.reference,
                        "sourced_id": s.sourced_id,
                        "given_name": s.given_name,
                        "family_name": s.family_name,
                        "name_key": search_key(f"{s.given_name} {s.family_name}"),
                        "grade": s.grade,
                        "updated_at": now,
                    }
                    for s in roster.students
                ],
            )
        count = await self.session.scalar(
            select(func.count()).select_from(roster_students).where(students.school_id == school_id)
        )
        await self.session.execute(
            insert(roster_imports).values(
                school_id=school_id,
                imported_at=now,
                version=roster.version,
                mode=roster.mode,
                students=int(count or 0),
            )
        )
        return int(count or 0)

    async def has_roster(self, school_id: str) -> bool:
        found = await self.session.scalar(
            select(roster_imports.c.id).where(roster_imports.c.school_id == school_id).limit(1)
        )
        return found is not None

    async def missing(self, *, school_id: str, references: list[str]) -> set[str]:
        """Those of `references` that are not on the school's roster."""
        wanted = set(references)
        if not wanted:
            return set()
        found = await self.session.scalars(
            select(roster_students.c.reference).where(
                roster_students.c.school_id == school_id,
                roster_students.c.reference.in_(sorted(wanted)),
            )
        )
        return wanted - set(found)

    async def grades(self, *, school_id: str, references: list[str]) -> dict[str, str | None]:
        """The grade of each of `references` that is on the school's roster."""
        if not references:
            return {}
        rows = await self.session.execute(
            select(roster_students.c.reference, roster_students.c.grade).where(
                roster_students.c.school_id == school_id,
                roster_students.c.reference.in_(sorted(set(references))),
            )
        )
        return {r.reference: r.grade for r in rows}

    async def search(self, *, school_id: str, query: str, limit: int) -> list[RosterEntry]:
        """Students whose every word of `query` begins a word of their name (or their
        reference), by family then given name; at most `limit`."""
        c = roster_students.c
        words = search_key(query).split()
        conditions: list[ColumnElement[bool]] = [c.school_id == school_id]
        for word in words:
            like = _escape(word)
            conditions.append(
                or_(
                    c.name_key.like(f"{like}%", escape="\\"),
                    c.name_key.like(f"% {like}%", escape="\\"),
                    func.lower(c.reference).like(f"{like}%", escape="\\"),
                )
            )
        rows = await self.session.execute(
            select(c.reference, c.given_name, c.family_name, c.grade)
            .where(and_(*conditions))
            .order_by(c.family_name, c.given_name, c.reference)
            .limit(limit)
        )
        return [RosterEntry(r.reference, r.given_name, r.family_name, r.grade) for r in rows]

    async def log_lookup(
        self, *, school_id: str, person_id: str, now: datetime, results: int
    ) -> None:
        await self.session.execute(
            insert(roster_lookups).values(
                school_id=school_id, person_id=person_id, looked_up_at=now, results=results
            )
        )


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
