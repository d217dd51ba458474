"""What `lookout users` does to the web's database: set a person's password, issue a one-time
sign-in link. The CLI reaches these by module name (it never imports a service statically)."""

from __future__ import annotations

from lookout.kernel.clock import Clock
from lookout.kernel.errors import UsageError
from lookout.kernel.settings import Settings, load_schools
from lookout.kernel.storage import make_engine, make_sessionmaker, upgrade_database
from services.web.domain import LINK_LIFETIME
from services.web.store import MIGRATIONS, WebRepository

MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def _check_person(settings: Settings, school_id: str, person_id: str) -> None:
    school = load_schools(settings).get(school_id)
    if school is None:
        raise UsageError(f"--school: no school {school_id!r} is configured")
    if person_id not in school.person_ids:
        raise UsageError(f"person: not a person of school {school_id!r}")


async def set_password(
    settings: Settings, clock: Clock, *, school_id: str, person_id: str, password: str
) -> None:
    _check_person(settings, school_id, person_id)
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UsageError(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    engine = make_engine(settings.database_url("web"))
    try:
        await upgrade_database(engine, MIGRATIONS, "web")
        async with make_sessionmaker(engine).begin() as db:
            await WebRepository(db).set_password(
                school_id=school_id, person_id=person_id, password=password, now=clock.now()
            )
    finally:
        await engine.dispose()


async def issue_link(settings: Settings, clock: Clock, *, school_id: str, person_id: str) -> str:
    """`<base URL>/signin/<token>`: one use, within 15 minutes."""
    _check_person(settings, school_id, person_id)
    engine = make_engine(settings.database_url("web"))
    try:
        await upgrade_database(engine, MIGRATIONS, "web")
        now = clock.now()
        async with make_sessionmaker(engine).begin() as db:
            token = await WebRepository(db).add_link(
                school_id=school_id, person_id=person_id, now=now, expires_at=now + LINK_LIFETIME
            )
    finally:
        await engine.dispose()
    return f"{settings.web_url()}/signin/{token}"
