"""`lookout roster import` into the web's database (a SQLite file, and PostgreSQL when
configured): a bulk bundle sets the roster, a delta adds, changes and removes, staff are
matched to the school file's people, and a bundle with a bad row — or one that fails in the
database half-way — leaves the roster exactly as it was."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from lookout.cli.main import app
from lookout.kernel.settings import EXAMPLE_SCHOOL
from lookout.kernel.storage import make_engine
from services.web.roster_store import roster_imports, roster_students
from tests.oneroster_bundles import staff, student, write_bundle


@pytest.fixture
def web_db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LOOKOUT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOOKOUT_WEB_DB_URL", database_url)
    return database_url


async def cli(*args: str) -> Result:
    # The command runs its own event loop (asyncio.run): off this test's loop, in a thread.
    return await asyncio.to_thread(CliRunner().invoke, app, ["roster", *args])


async def students(url: str) -> list[tuple[str, str, str, str, str | None]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            c = roster_students.c
            rows = await conn.execute(
                select(c.reference, c.sourced_id, c.given_name, c.family_name, c.grade).order_by(
                    c.reference
                )
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        await engine.dispose()


async def imports(url: str) -> list[tuple[str, str, str, int]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            c = roster_imports.c
            rows = await conn.execute(
                select(c.school_id, c.version, c.mode, c.students).order_by(c.id)
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        await engine.dispose()


BULK = [
    student("S-100001", "Avery", "Quinn", "09"),
    student("S-100002", "José", "Núñez", "10"),
    staff("T-1", "d.rivera@lakeside.example.org"),
    student("S-100003", "Blake", "Young", "12"),
    staff("T-2", "nobody@lakeside.example.org"),
    staff("T-3", "a.okafor@lakeside.example.org", role="principal"),
]


async def test_a_bulk_bundle_then_a_delta(web_db: str, tmp_path: Path) -> None:
    bulk = write_bundle(tmp_path / "bulk.zip", users=BULK)
    done = await cli("import", str(bulk), "--school", "lhs")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "lhs: OneRoster 1.1 bulk: 3 students added or updated, 0 users removed; "
        "3 students on the roster",
        "staff matched to the school file: sso-rivera, principal-okafor",
        "staff not in the school file: users.csv lines 6",
        "people of the school file not in the bundle: ap-chen, counselor-patel, district-lee, "
        "office-garcia",
    ]
    assert await students(web_db) == [
        ("S-100001", "S-100001", "Avery", "Quinn", "09"),
        ("S-100002", "S-100002", "José", "Núñez", "10"),
        ("S-100003", "S-100003", "Blake", "Young", "12"),
    ]
    delta = write_bundle(
        tmp_path / "delta.zip",
        mode="delta",
        users=[
            {"sourcedId": "S-100001", "status": "tobedeleted"},
            student("S-100003", "Blake", "Young", "11", status="active"),
            student("S-100004", "Casey", "Rowe", "KG", status="active"),
        ],
    )
    done = await cli("import", str(delta), "--school", "lhs")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[0] == (
        "lhs: OneRoster 1.1 delta: 2 students added or updated, 1 users removed; "
        "3 students on the roster"
    )
    assert await students(web_db) == [
        ("S-100002", "S-100002", "José", "Núñez", "10"),
        ("S-100003", "S-100003", "Blake", "Young", "11"),
        ("S-100004", "S-100004", "Casey", "Rowe", "KG"),
    ]
    assert await imports(web_db) == [("lhs", "1.1", "bulk", 3), ("lhs", "1.1", "delta", 3)]
    # A bulk bundle is the whole roster: whoever it does not list is no longer on it.
    again = write_bundle(tmp_path / "bulk2.zip", users=[student("S-100002", "José", "Núñez")])
    assert (await cli("import", str(again), "--school", "lhs")).exit_code == 0
    assert await students(web_db) == [("S-100002", "S-100002", "José", "Núñez", "09")]


async def test_a_bad_row_imports_nothing_and_names_no_student(web_db: str, tmp_path: Path) -> None:
    good = write_bundle(tmp_path / "good.zip", users=BULK)
    assert (await cli("import", str(good), "--school", "lhs")).exit_code == 0
    bad = write_bundle(
        tmp_path / "bad.zip",
        users=[
            student("S-100009", "Morgan", "Hale"),
            student("Morgan Hale", "Morgan", "Hale"),
            student("S-100010", "Riley", "", "13th"),
        ],
    )
    done = await cli("import", str(bad), "--school", "lhs")
    assert done.exit_code == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "users.csv line 3, column sourcedId: not a student reference of this school",
        "users.csv line 4, column familyName: empty",
        "users.csv line 4, column grades: not a CEDS grade level (09, 10, KG…)",
        "lookout: error: nothing imported: 3 problem(s) in the bundle",
    ]
    assert "Morgan" not in done.stderr and "Riley" not in done.stderr
    assert [r[0] for r in await students(web_db)] == ["S-100001", "S-100002", "S-100003"]
    assert len(await imports(web_db)) == 1


async def test_a_delta_failing_in_the_database_leaves_the_roster_as_it_was(
    web_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The school's own identifier is the reference; a delta gives a new student (u-9) the
    # identifier a student on the roster (u-1) still has: its deletes and inserts are undone.
    school = tmp_path / "lhs.yaml"
    school.write_text(EXAMPLE_SCHOOL.read_text() + "\nroster: {student_reference: identifier}\n")
    monkeypatch.setenv("LOOKOUT_SCHOOLS", str(school))
    bulk = write_bundle(
        tmp_path / "bulk.zip",
        users=[
            student("u-1", "Avery", "Quinn", identifier="S-7001"),
            student("u-2", "Blake", "Young", identifier="S-7002"),
        ],
    )
    assert (await cli("import", str(bulk), "--school", "lhs")).exit_code == 0
    before = await students(web_db)
    assert before == [
        ("S-7001", "u-1", "Avery", "Quinn", "09"),
        ("S-7002", "u-2", "Blake", "Young", "09"),
    ]
    delta = write_bundle(
        tmp_path / "delta.zip",
        mode="delta",
        users=[
            student("u-2", "Blake", "Young", "10", identifier="S-7002", status="active"),
            student("u-9", "Casey", "Rowe", identifier="S-7001", status="active"),
        ],
    )
    done = await cli("import", str(delta), "--school", "lhs")
    assert done.exit_code == 2
    assert done.stderr.splitlines() == [
        "users.csv: a student reference is already another student's on the roster",
        "lookout: error: nothing imported: 1 problem(s) in the bundle",
    ]
    assert await students(web_db) == before
    assert len(await imports(web_db)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--school", "zzz"], "--school: no school 'zzz' is configured"),
        (["--school", "lhs", "--missing"], "BUNDLE: no such file"),
        (["--school", "lhs", "--not-zip"], "BUNDLE: not a readable zip file"),
    ],
)
async def test_refusals_are_one_line(
    web_db: str, tmp_path: Path, args: list[str], message: str
) -> None:
    path = tmp_path / "bundle.zip"
    if "--missing" not in args:
        path.write_text("sourcedId,givenName\r\nS-1,Avery\r\n")
    done = await cli("import", str(path), *[a for a in args if not a.startswith("--m")][:2])
    assert done.exit_code == 2
    assert done.stderr == f"lookout: error: {message}\n"
    assert "Traceback" not in done.output
