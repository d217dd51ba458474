"""Storage shared by every service: async engines, UTC timestamps, the inbox and the outbox.

Each service owns its own database (a SQLite file by default, any SQLAlchemy async URL by
setting). Table names carry the service name so several services can share one PostgreSQL
database in tests and small deployments without colliding.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    TypeDecorator,
    event,
    false,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from lookout.contracts.envelope import Event
from lookout.contracts.subjects import subject_of
from lookout.kernel.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """Metadata with stable constraint names across SQLite and PostgreSQL."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns timezone-aware datetimes on every backend (SQLite has no tz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored: a timezone is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, busy_timeout_seconds: float | None = None) -> AsyncEngine:
    """An async engine; SQLite files get WAL and a busy timeout so readers never block writers.
    The busy timeout is `busy_timeout_seconds`, else the `sqlite_busy_timeout_seconds` setting
    (LOOKOUT_SQLITE_BUSY_TIMEOUT_SECONDS, default 30).

    Every engine hides the SQL parameters from its exceptions' text (and its echo): they hold
    visitors' names, ID digits and dates of birth, student references and notes, and an error
    is logged with its traceback."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if busy_timeout_seconds is None:
            busy_timeout_seconds = Settings().sqlite_busy_timeout_seconds
        busy_ms = int(busy_timeout_seconds * 1000)
        engine = create_async_engine(
            url, connect_args={"timeout": busy_timeout_seconds}, hide_parameters=True
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, hide_parameters=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # A Session class of its own, so this service's outbox relay can listen for its commits
    # without hearing those of another service in the same process (tests run several).
    session_class = type("ServiceSession", (Session,), {})
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=session_class)


# --- migrations -------------------------------------------------------------------------------


def _alembic_config(migrations_dir: Path, service: str, url: str | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("version_table", f"{service}_alembic_version")
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def upgrade_database(engine: AsyncEngine, migrations_dir: Path, service: str) -> None:
    """Run the service's Alembic migrations to head on this engine (idempotent)."""
    from alembic import command

    cfg = _alembic_config(migrations_dir, service)

    def _upgrade(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


def run_alembic_env(target_metadata: MetaData) -> None:
    """The body of every service's migrations/env.py: use the connection we were handed, or
    connect to `sqlalchemy.url` when run from the `alembic` command line."""
    from alembic import context

    config = context.config
    version_table = config.get_main_option("version_table") or "alembic_version"

    def _run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            render_as_batch=True,  # SQLite needs batch mode for ALTER TABLE
        )
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return

    async def _online() -> None:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
        async with engine.begin() as conn:
            await conn.run_sync(_run)
        await engine.dispose()

    asyncio.run(_online())


# --- inbox: exactly-once effect on at-least-once delivery ---------------------------------------


def inbox_table(metadata: MetaData, service: str) -> Table:
    # Keyed by id and type: every consumer of a type sees the same events of it in the same
    # order, so each decides alike about an id reused within the type (the first wins, a
    # different event is refused); across types nobody can tell, since a consumer of concerns
    # never sees the scans, so a concern reusing a scan's id is an event of its own everywhere.
    return Table(
        f"{service}_inbox",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(64), primary_key=True),
        Column("received_at", UTCDateTime(), nullable=False),
        # sha256 of the event as validated: a redelivery matches it, another event does not.
        Column("digest", String(64), nullable=True),
    )


def rekey_inbox(service: str) -> None:
    """Alembic upgrade step: the inbox keyed by (event_id, event_type), with the digest.
    Rows from before keep no digest: a later copy of their id counts as a redelivery."""
    from alembic import op

    name = f"{service}_inbox"
    with op.batch_alter_table(name) as batch:
        batch.add_column(Column("digest", String(64), nullable=True))
        batch.drop_constraint(f"pk_{name}", type_="primary")
        batch.create_primary_key(f"pk_{name}", ["event_id", "event_type"])


def unkey_inbox(service: str) -> None:
    """Alembic downgrade step of rekey_inbox (ids reused across types keep their first row)."""
    from alembic import op

    name = f"{service}_inbox"
    op.execute(
        f"DELETE FROM {name} WHERE EXISTS (SELECT 1 FROM {name} o WHERE o.event_id = "
        f"{name}.event_id AND o.received_at < {name}.received_at)"
    )
    with op.batch_alter_table(name) as batch:
        batch.drop_constraint(f"pk_{name}", type_="primary")
        batch.create_primary_key(f"pk_{name}", ["event_id"])
        batch.drop_column("digest")


InboxKey = tuple[str, str]  # (event_id, event_type)


def inbox_key(event: Event) -> InboxKey:
    return str(event.event_id), event.type


def event_digest(event: Event) -> str:
    """What tells a redelivery (the same event again) from another event reusing its id."""
    return hashlib.sha256(event.model_dump_json().encode()).hexdigest()


class Inbox:
    """Events already applied, by (event_id, type) with their digest. Written in the same
    transaction as the state change."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def seen(self, session: AsyncSession, keys: Iterable[InboxKey]) -> dict[InboxKey, str]:
        """The digest of each key already applied ("" for a row kept from before digests)."""
        wanted = set(keys)
        if not wanted:
            return {}
        c = self.table.c
        ids = sorted({event_id for event_id, _ in wanted})
        seen: dict[InboxKey, str] = {}
        for i in range(0, len(ids), 500):  # stay under bind-parameter limits
            rows = await session.execute(
                select(c.event_id, c.event_type, c.digest).where(c.event_id.in_(ids[i : i + 500]))
            )
            for event_id, event_type, digest in rows:
                if (event_id, event_type) in wanted:
                    seen[(event_id, event_type)] = digest or ""
        return seen

    async def record(
        self,
        session: AsyncSession,
        events: Sequence[Event],
        now: datetime,
        digests: dict[InboxKey, str] | None = None,
    ) -> None:
        if events:
            digests = digests or {}
            await session.execute(
                insert(self.table),
                [
                    {
                        "event_id": str(e.event_id),
                        "event_type": e.type,
                        "received_at": now,
                        "digest": digests.get(inbox_key(e)) or event_digest(e),
                    }
                    for e in events
                ],
            )


# --- outbox: what a service emits because of a state change -------------------------------------


def outbox_table(metadata: MetaData, service: str) -> Table:
    return Table(
        f"{service}_outbox",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("subject", String(255), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("sent_at", UTCDateTime(), nullable=True, index=True),
    )


OUTBOX_WRITTEN = "lookout.outbox_written"  # Session.info key: this transaction wrote outbox rows


class Outbox:
    """Events to publish, written in the state change's transaction; a relay sends them."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def add(self, session: AsyncSession, events: Sequence[Event], now: datetime) -> None:
        if events:
            # The relay wakes when this session commits (see OutboxRelay), not before.
            session.info[OUTBOX_WRITTEN] = True
            await session.execute(
                insert(self.table),
                [
                    {
                        "event_id": str(e.event_id),
                        "subject": subject_of(e),
                        "payload": e.model_dump_json().encode(),
                        "created_at": now,
                    }
                    for e in events
                ],
            )

    async def claim_pending(self, session: AsyncSession, limit: int) -> list[Any]:
        """Unsent rows in order; on PostgreSQL, rows another relay holds are skipped."""
        t = self.table
        stmt = select(t).where(t.c.sent_at.is_(None)).order_by(t.c.id).limit(limit)
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list((await session.execute(stmt)).all())

    async def mark_sent(self, session: AsyncSession, ids: Sequence[int], now: datetime) -> None:
        if ids:
            await session.execute(
                update(self.table).where(self.table.c.id.in_(ids)).values(sent_at=now)
            )

    async def unsent_count(self, session: AsyncSession) -> int:
        rows = await session.execute(select(self.table.c.id).where(self.table.c.sent_at.is_(None)))
        return len(rows.all())


async def lock_for_write(session: AsyncSession, table: Table) -> None:
    """Make the transaction a writer before it reads, so what it reads cannot change under it.

    PostgreSQL locks the rows it claims (`FOR UPDATE`). SQLite's driver starts a transaction
    only at the first write, so a claim's SELECT reads outside any transaction and another
    connection (an ack) can commit between the read and the write, which then overwrites it.
    An UPDATE that matches nothing opens the write transaction (SQLite's single writer lock,
    like `BEGIN IMMEDIATE`) before anything is read; others wait their busy timeout for it.
    """
    bind = session.bind
    if bind is not None and bind.dialect.name == "sqlite":
        key = next(iter(table.primary_key.columns))
        await session.execute(update(table).where(false()).values({key.name: key}))
