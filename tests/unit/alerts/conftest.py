"""An alerts database migrated once per module (SQLite, and PostgreSQL when configured) and
emptied before each test: creating and migrating a PostgreSQL database per test costs seconds."""

from __future__ import annotations

import email.policy
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from lookout.kernel.settings import Settings, load_school
from lookout.kernel.storage import make_engine, upgrade_database
from lookout.local.runtime import free_port
from lookout.school.config import SchoolConfig
from services.alerts import store
from services.alerts.app import MIGRATIONS
from tests.conftest import POSTGRES_URL, _database_params


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=_database_params())
async def migrated_alerts_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('alerts') / 'alerts.db'}"
        drop = None
    else:
        import asyncpg

        name = f"lookout_alerts_{uuid.uuid4().hex[:12]}"
        admin_dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(admin_dsn)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
        drop = (admin_dsn, name)
    engine = make_engine(url)
    await upgrade_database(engine, MIGRATIONS, store.SERVICE)
    await engine.dispose()
    yield url
    if drop is not None:
        conn = await asyncpg.connect(drop[0])
        await conn.execute(f'DROP DATABASE IF EXISTS "{drop[1]}" WITH (FORCE)')
        await conn.close()


async def empty(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        for table in reversed(store.metadata.sorted_tables):
            await conn.execute(table.delete())
    await engine.dispose()


@pytest.fixture
async def alerts_db(migrated_alerts_db: str) -> str:
    """The module's migrated database, with every alerts table empty."""
    await empty(migrated_alerts_db)
    return migrated_alerts_db


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on a free port that keeps what it receives."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=email.policy.default).parsebytes(envelope.content)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


# The alerts unit tests were written by hand against the example school of 2026-11-29; the
# example has since changed (issue 12), so they run against that frozen copy.
FROZEN_SCHOOL = Path(__file__).parent / "lhs-2026-11.yaml"


@pytest.fixture(scope="session")
def school() -> SchoolConfig:
    return load_school(FROZEN_SCHOOL)


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(nats_url: str = "nats://127.0.0.1:1", **db_urls: str) -> Settings:
        return Settings(
            data_dir=tmp_path / "data",
            nats_url=nats_url,
            schools=str(FROZEN_SCHOOL),
            **{f"{k}_db_url": v for k, v in db_urls.items()},
        )

    return make
