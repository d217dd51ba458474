"""The web service's tables: people's credentials, one-time sign-in links, sessions, devices and
failed sign-ins; and the repository that reads and writes them inside a caller's transaction.

Tokens are never stored: a link's token and a session's id are kept as their sha256 (a copy of
the database signs nobody in). Passwords are argon2 hashes. Table names start with `web_`, so
the web may share a PostgreSQL database with the services (patrol has its own `devices`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, Index, Integer, String, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.kernel.storage import UTCDateTime, new_metadata

MIGRATIONS = Path(__file__).parent / "migrations"

metadata = new_metadata()

# A person's password (argon2id, with its parameters in the hash).
credentials = Table(
    "web_credentials",
    metadata,
    Column("school_id", String(32), primary_key=True),
    Column("person_id", String(64), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# One-time sign-in links (`lookout users link`): usable once, until expires_at.
signin_links = Table(
    "web_signin_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
)

# Server-side sessions; the cookie holds the id, the row its sha256.
sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # phone | console (domain.SessionKind)
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    Index("ix_web_sessions_person", "school_id", "person_id"),
)

# A phone is a device bound to one officer of one school, from its first use.
devices = Table(
    "web_devices",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("school_id", String(32), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("registered_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
)

# Failed sign-ins, keyed `account:<school>:<person>` or `address:<ip>` (rate limiting).
signin_failures = Table(
    "web_signin_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(160), nullable=False),
    Column("failed_at", UTCDateTime(), nullable=False),
    Index("ix_web_signin_failures_key", "key", "failed_at"),
)

_hasher = PasswordHasher()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash, spend the same time so no one learns who has one."""
    if password_hash is None:
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class SessionRow:
    id_hash: str
    school_id: str
    person_id: str
    kind: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class DeviceBound:
    new: bool  # bound by this call
    last_seen_at: datetime  # as stored after it


# How often a device's last_seen_at is written: it says when a phone was last heard from, and
# nothing judges it to the second.
DEVICE_SEEN_EVERY = timedelta(seconds=30)


class DeviceTaken(Exception):
    """The device id is bound to another person (or school)."""


class WebRepository:
    """Reads and writes of the web's own rows inside the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- credentials ------------------------------------------------------------------------

    async def set_password(
        self, *, school_id: str, person_id: str, password: str, now: datetime
    ) -> None:
        values = {"password_hash": hash_password(password), "updated_at": now}
        done = await self.session.execute(
            update(credentials)
            .where(credentials.c.school_id == school_id, credentials.c.person_id == person_id)
            .values(**values)
        )
        if done.rowcount == 0:  # type: ignore[attr-defined]
            await self.session.execute(
                insert(credentials).values(school_id=school_id, person_id=person_id, **values)
            )

    async def password_hash(self, *, school_id: str, person_id: str) -> str | None:
        return await self.session.scalar(
            select(credentials.c.password_hash).where(
                credentials.c.school_id == school_id, credentials.c.person_id == person_id
            )
        )

    # --- one-time links -----------------------------------------------------------------------

    async def add_link(
        self, *, school_id: str, person_id: str, now: datetime, expires_at: datetime
    ) -> str:
        """A new link's token (only its hash is kept)."""
        token = new_token()
        await self.session.execute(
            insert(signin_links).values(
                token_hash=digest(token),
                school_id=school_id,
                person_id=person_id,
                created_at=now,
                expires_at=expires_at,
            )
        )
        return token

    async def valid_link(self, *, token: str, now: datetime) -> tuple[str, str] | None:
        """(school, person) of a link that is unused and unexpired, without using it."""
        row = (
            await self.session.execute(
                select(signin_links.c.school_id, signin_links.c.person_id).where(
                    signin_links.c.token_hash == digest(token),
                    signin_links.c.used_at.is_(None),
                    signin_links.c.expires_at > now,
                )
            )
        ).first()
        return (str(row.school_id), str(row.person_id)) if row is not None else None

    async def consume_link(self, *, token: str, now: datetime) -> tuple[str, str] | None:
        """Mark the link used and return (school, person), once, while it is valid; a second
        caller (even concurrently) updates no row and gets None."""
        h = digest(token)
        row = (
            await self.session.execute(
                select(signin_links.c.school_id, signin_links.c.person_id).where(
                    signin_links.c.token_hash == h
                )
            )
        ).first()
        if row is None:
            return None
        done = await self.session.execute(
            update(signin_links)
            .where(
                signin_links.c.token_hash == h,
                signin_links.c.used_at.is_(None),
                signin_links.c.expires_at > now,
            )
            .values(used_at=now)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return str(row.school_id), str(row.person_id)

    # --- sessions -----------------------------------------------------------------------------

    async def add_session(
        self, *, school_id: str, person_id: str, kind: str, now: datetime
    ) -> tuple[str, str]:
        """A new session: (the id for the cookie, its CSRF token)."""
        session_id, csrf = new_token(), new_token()
        await self.session.execute(
            insert(sessions).values(
                id_hash=digest(session_id),
                school_id=school_id,
                person_id=person_id,
                kind=kind,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
            )
        )
        return session_id, csrf

    async def live_session(self, session_id: str) -> SessionRow | None:
        """The session with this id, unless it was ended (expiry is the caller's rule)."""
        row = (
            await self.session.execute(
                select(sessions).where(
                    sessions.c.id_hash == digest(session_id), sessions.c.ended_at.is_(None)
                )
            )
        ).first()
        if row is None:
            return None
        return SessionRow(
            id_hash=row.id_hash,
            school_id=row.school_id,
            person_id=row.person_id,
            kind=row.kind,
            csrf_token=row.csrf_token,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
        )

    async def touch_session(self, *, id_hash: str, now: datetime) -> None:
        await self.session.execute(
            update(sessions).where(sessions.c.id_hash == id_hash).values(last_seen_at=now)
        )

    async def end_session(self, *, id_hash: str, now: datetime) -> None:
        await self.session.execute(
            update(sessions)
            .where(sessions.c.id_hash == id_hash, sessions.c.ended_at.is_(None))
            .values(ended_at=now)
        )

    # --- devices ------------------------------------------------------------------------------

    async def bind_device(
        self, *, device_id: str, school_id: str, person_id: str, now: datetime
    ) -> DeviceBound:
        """Register the device to this person on first use; raise DeviceTaken when it is bound
        to someone else. Says whether it was newly bound and its `last_seen_at` as stored."""
        owner = (
            await self.session.execute(
                select(devices.c.school_id, devices.c.person_id, devices.c.last_seen_at).where(
                    devices.c.device_id == device_id
                )
            )
        ).first()
        if owner is None:
            try:
                async with self.session.begin_nested():
                    await self.session.execute(
                        insert(devices).values(
                            device_id=device_id,
                            school_id=school_id,
                            person_id=person_id,
                            registered_at=now,
                            last_seen_at=now,
                        )
                    )
                return DeviceBound(new=True, last_seen_at=now)
            except IntegrityError:  # bound by a concurrent request meanwhile: judge that
                return await self.bind_device(
                    device_id=device_id, school_id=school_id, person_id=person_id, now=now
                )
        if (owner.school_id, owner.person_id) != (school_id, person_id):
            raise DeviceTaken(device_id)
        # Every batch and heartbeat passes here: one write per half minute, not one per request
        # (SQLite takes one writer at a time, and the write was most of a request's cost).
        if now - owner.last_seen_at >= DEVICE_SEEN_EVERY:
            await self.session.execute(
                update(devices).where(devices.c.device_id == device_id).values(last_seen_at=now)
            )
            return DeviceBound(new=False, last_seen_at=now)
        return DeviceBound(new=False, last_seen_at=owner.last_seen_at)

    # --- failed sign-ins ------------------------------------------------------------------------

    async def failures_since(self, *, keys: list[str], since: datetime) -> int:
        """The most failures any of these keys has had since `since`."""
        rows = await self.session.execute(
            select(signin_failures.c.key, func.count())
            .where(signin_failures.c.key.in_(keys), signin_failures.c.failed_at >= since)
            .group_by(signin_failures.c.key)
        )
        return max((int(n) for _, n in rows), default=0)

    async def add_failure(self, *, keys: list[str], now: datetime) -> None:
        await self.session.execute(
            insert(signin_failures), [{"key": k, "failed_at": now} for k in keys]
        )
