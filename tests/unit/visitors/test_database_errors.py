"""A database error in any front-office request reaches the log and the reply without the SQL
parameters: SQLAlchemy's exception text carries them (the visitor's name, ID digits and date
of birth, a staff member's note) unless the engine hides them (`make_engine`)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from lookout.kernel.storage import make_engine
from tests.unit.visitors.test_handlers import Harness, body, office

__all__ = ["office"]  # the fixture, shared with the handler tests

HIDDEN = "[SQL parameters hidden due to hide_parameters=True]"
# The visitor's name, ID digits and date of birth (SQLite gets '1982-04-09', PostgreSQL
# datetime.date(1982, 4, 9)): none may appear anywhere.
SECRETS = ("Ingrid", "Sørensen", "7731", "1982")


async def fail(office: Harness, table: str, operation: str) -> None:
    """Make every `operation` (INSERT, UPDATE) on `table` fail inside the database."""
    async with office.kernel.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            await conn.execute(
                text(
                    f"CREATE TRIGGER fault_{table} BEFORE {operation} ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'storage fault'); END"
                )
            )
            return
        await conn.execute(
            text(
                "CREATE FUNCTION storage_fault() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'storage fault'; END $$ LANGUAGE plpgsql"
            )
        )
        await conn.execute(
            text(
                f"CREATE TRIGGER fault_{table} BEFORE {operation} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION storage_fault()"
            )
        )


async def drop(office: Harness, table: str) -> None:
    async with office.kernel.engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE {table}"))


def assert_nothing_personal(reply: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    assert reply["ok"] is False
    assert reply["error"].startswith("internal error (")
    assert reply["error"].endswith("); logged")
    logged = caplog.text
    assert "event=request_failed" in logged
    assert "driver_error=" in logged  # a database error, logged by its class and code only
    for secret in SECRETS:
        assert secret not in reply["error"]
        assert secret not in logged
        for record in caplog.records:  # the message and its arguments, as a handler gets them
            assert secret not in record.getMessage()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="lookout")
    return caplog


async def test_a_failed_sign_in_logs_no_name_id_or_birthday(
    office: Harness, logs: pytest.LogCaptureFixture
) -> None:
    await drop(office, "visitor_pii")  # the INSERT of the name, ID and DOB fails
    assert_nothing_personal(await office.call("sign_in", body()), logs)


async def test_a_failed_sign_out_logs_no_parameters(
    office: Harness, logs: pytest.LogCaptureFixture
) -> None:
    signed_in = await office.call("sign_in", body())
    assert signed_in["ok"] is True, signed_in
    await fail(office, "visits", "UPDATE")
    reply = await office.call("sign_out", {"badge_number": "1123-001", "signed_out_by": "ap-chen"})
    assert_nothing_personal(reply, logs)


async def test_a_failed_screening_answer_logs_no_note(
    office: Harness, logs: pytest.LogCaptureFixture
) -> None:
    # WL-002 is Patricia Vandermeer: held. The staff member's note names the visitor.
    held = await office.call("sign_in", body(first_name="Patricia", last_name="Vandermeer"))
    assert held["result"]["status"] == "pending_screening", held
    await fail(office, "screening_decisions", "INSERT")
    answer = {
        "visit_id": held["result"]["visit_id"],
        "answer": "no",
        "decided_by": "ap-chen",
        "note": "Ingrid Sørensen, ID 7731, born 1982-04-09: not the listed person",
    }
    assert_nothing_personal(await office.call("screen", answer), logs)


async def test_a_failed_roster_logs_no_parameters(
    office: Harness, logs: pytest.LogCaptureFixture
) -> None:
    signed_in = await office.call("sign_in", body())
    assert signed_in["ok"] is True, signed_in
    await drop(office, "visitor_pii")
    assert_nothing_personal(await office.call("roster", {}), logs)


async def test_a_failing_row_is_not_quoted_by_postgresql(
    office: Harness, logs: pytest.LogCaptureFixture
) -> None:
    async with office.kernel.engine.begin() as conn:
        if conn.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only: SQLite's messages quote no row")
        # Any constraint that rejects the row will do; this one rejects every visitor.
        await conn.execute(
            text("ALTER TABLE visitor_pii ADD CONSTRAINT no_visitors CHECK (id_last4 = '')")
        )
    reply = await office.call("sign_in", body())
    assert reply["ok"] is False
    for secret in SECRETS:
        assert secret not in logs.text


async def test_the_engine_hides_parameters_from_its_own_error_text(tmp_path: Any) -> None:
    """Defence in depth for every other log line: a failed statement's text names no value."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.begin() as conn:
            with pytest.raises(DBAPIError) as failed:
                await conn.execute(text("INSERT INTO missing VALUES (:name)"), {"name": "Ingrid"})
        assert HIDDEN in str(failed.value)
        assert "Ingrid" not in str(failed.value)
    finally:
        await engine.dispose()
