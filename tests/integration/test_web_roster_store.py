"""The roster's repository on a real database (a SQLite file, and PostgreSQL when configured):
the name search (word starts, folded case and accents, LIKE's wildcards taken literally, one
school only), the references not on a roster, grades, and a bulk roster replacing the last."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.kernel.storage import make_engine, make_sessionmaker, upgrade_database
from services.web.oneroster import Roster, Student
from services.web.roster_store import RosterEntry, RosterRepository
from services.web.store import MIGRATIONS

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def roster(*students: Student, mode: str = "bulk") -> Roster:
    return Roster(version="1.1", mode=mode, org="org-lhs", students=list(students))  # type: ignore[arg-type]


AVERY = Student("S-1001", "S-1001", "Avery", "Quinn", "09")
JOSE = Student("S-1002", "S-1002", "José María", "Núñez", "11")
UNDERSCORE = Student("S-1003", "S-1003", "Ab", "Dee", None)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(database_url)
    await upgrade_database(engine, MIGRATIONS, "web")
    async with make_sessionmaker(engine).begin() as session:
        yield session
    await engine.dispose()


async def test_search_missing_and_grades(db: AsyncSession) -> None:
    repo = RosterRepository(db)
    assert not await repo.has_roster("lhs")
    assert await repo.apply(school_id="lhs", roster=roster(AVERY, JOSE, UNDERSCORE), now=NOW) == 3
    assert (
        await repo.apply(
            school_id="mhs",
            roster=roster(Student("S-1001", "S-1001", "Avery", "Other", "12")),
            now=NOW,
        )
        == 1
    )
    assert await repo.has_roster("lhs") and not await repo.has_roster("zzz")

    async def search(q: str) -> list[str]:
        return [e.reference for e in await repo.search(school_id="lhs", query=q, limit=10)]

    assert await repo.search(school_id="lhs", query="AVE", limit=10) == [
        RosterEntry("S-1001", "Avery", "Quinn", "09")
    ]
    assert await search("maria") == ["S-1002"]  # the second given name, accents folded
    assert await search("nunez jo") == ["S-1002"]
    assert await search("s-100") == ["S-1003", "S-1002", "S-1001"]  # Dee, Núñez, Quinn
    assert await search("a_") == []  # `_` is a letter here, not LIKE's any-one-character
    assert await search("%") == []
    assert await search("uinn") == []

    missing = await repo.missing(school_id="lhs", references=["S-1001", "S-9", "S-1002", "S-9"])
    assert missing == {"S-9"}
    assert await repo.grades(school_id="lhs", references=["S-1001", "S-1003", "S-9"]) == {
        "S-1001": "09",
        "S-1003": None,
    }

    # A bulk roster is the whole roster; another school's is untouched.
    assert await repo.apply(school_id="lhs", roster=roster(JOSE), now=NOW) == 1
    assert await search("s-100") == ["S-1002"]
    assert [e.family_name for e in await repo.search(school_id="mhs", query="avery", limit=10)] == [
        "Other"
    ]
