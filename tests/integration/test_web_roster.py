"""The roster at the web's edge, on a real nats-server and a real SQLite file: the SSO and the
console find students by name (accents and case aside, a page of ten, problem+json on a bad
query), each lookup on the access log without the query or a name; the front office may not;
and once a school has a roster, an event naming a student who is not on it (or was removed
from it) is refused with the field named — before that, the reference format alone decides."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from nats.js import JetStreamContext
from sqlalchemy import select

from lookout.kernel.clock import ManualClock, SystemClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.kernel.storage import make_engine
from services.web import accounts, roster_import
from services.web.roster_store import roster_lookups
from tests.integration.test_web import BASE, T0, assert_problem, sign_in, web
from tests.oneroster_bundles import student, write_bundle

pytestmark = pytest.mark.nats

SMITHS = ["Ari", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kai"]  # 11


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def settings(nats_server: Any, tmp_path: Path) -> Settings:
    other = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    other.update(id="mhs", name="Meadow High School")
    other_path = tmp_path / "mhs.yaml"
    other_path.write_text(yaml.safe_dump(other), encoding="utf-8")
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        schools=f"{EXAMPLE_SCHOOL},{other_path}",
        web_base_url=BASE,
        web_behind_proxy=True,
        timers_enabled=False,
    )


async def import_roster(settings: Settings, bundle: Path) -> None:
    done = await asyncio.to_thread(
        roster_import.import_bundle, settings, SystemClock(), school_id="lhs", bundle=bundle
    )
    assert done.problems == []


def found(response: httpx.Response) -> list[tuple[str, str, str, str | None]]:
    assert response.status_code == 200, response.text
    return [
        (s["reference"], s["given_name"], s["family_name"], s["grade"])
        for s in response.json()["students"]
    ]


async def lookups(settings: Settings) -> list[tuple[str, str, int]]:
    engine = make_engine(settings.database_url("web"))
    try:
        async with engine.connect() as conn:
            c = roster_lookups.c
            rows = await conn.execute(select(c.school_id, c.person_id, c.results).order_by(c.id))
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        await engine.dispose()


async def test_the_sso_and_the_console_find_students_by_name(
    settings: Settings, clock: ManualClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lookout.web")
    users = [
        student("S-100001", "Avery", "Quinn", "09"),
        student("S-100002", "José", "Núñez", "11"),
        *(student(f"S-2000{i:02d}", given, "Smith", "10") for i, given in enumerate(SMITHS)),
    ]
    async with (
        web(settings, clock) as sso,
        web(settings, clock) as principal,
        web(settings, clock) as office,
        web(settings, clock) as other_school,
    ):
        await sign_in(sso, settings, clock)
        before = await sso.get("/api/v1/roster/students", params={"q": "avery"})
        assert before.json() == {"roster": False, "students": [], "more": False}

        await import_roster(settings, write_bundle(tmp_path / "b.zip", users=users))
        search = sso.get
        q = "/api/v1/roster/students"
        assert found(await search(q, params={"q": "jose nu"})) == [
            ("S-100002", "José", "Núñez", "11")
        ]
        assert found(await search(q, params={"q": "NÚÑ"})) == [("S-100002", "José", "Núñez", "11")]
        assert found(await search(q, params={"q": "qu av"})) == [
            ("S-100001", "Avery", "Quinn", "09")
        ]
        assert found(await search(q, params={"q": "s-100001"})) == [
            ("S-100001", "Avery", "Quinn", "09")
        ]
        assert found(await search(q, params={"q": "uinn"})) == []  # a word's start, not its middle
        smiths = await search(q, params={"q": "smi"})
        assert found(smiths) == [
            (f"S-2000{i:02d}", given, "Smith", "10") for i, given in enumerate(SMITHS[:10])
        ]
        assert (smiths.json()["roster"], smiths.json()["more"]) == (True, True)

        assert_problem(
            await search(q, params={"q": "a"}), 422, "q: String should have at least 2 characters"
        )
        assert_problem(
            await search(q, params={"q": "   "}), 422, "q: at least 2 characters, not spaces"
        )
        assert_problem(await search(q, params={"q": "x" * 65}), 422)
        assert_problem(await search(q), 422, "q: Field required")

        await sign_in(principal, settings, clock, "principal-okafor")
        assert found(await principal.get(q, params={"q": "avery"})) == [
            ("S-100001", "Avery", "Quinn", "09")
        ]
        await sign_in(office, settings, clock, "office-garcia")
        assert_problem(
            await office.get(q, params={"q": "avery"}), 403, "roster: not for this person's role"
        )
        async with web(settings, clock) as stranger:
            assert_problem(await stranger.get(q, params={"q": "avery"}), 401)

        link = await other_school_link(settings, clock)
        await other_school.post(link)
        fenced = await other_school.get(q, params={"q": "avery"})
        assert fenced.json() == {"roster": False, "students": [], "more": False}

    assert await lookups(settings) == [
        ("lhs", "sso-rivera", 0),
        ("lhs", "sso-rivera", 1),
        ("lhs", "sso-rivera", 1),
        ("lhs", "sso-rivera", 1),
        ("lhs", "sso-rivera", 1),
        ("lhs", "sso-rivera", 0),
        ("lhs", "sso-rivera", 10),
        ("lhs", "principal-okafor", 1),
        ("mhs", "sso-rivera", 0),
    ]
    logged = [r.getMessage() for r in caplog.records if "roster_lookup" in r.getMessage()]
    assert logged[:2] == [
        "event=roster_lookup school=lhs person=sso-rivera results=0",
        "event=roster_lookup school=lhs person=sso-rivera results=1",
    ]
    assert len(logged) == 9
    # What the suite logs (the test's own HTTP client logs its URLs: not the service's).
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("lookout"))
    for private in ("Avery", "Quinn", "José", "Smith", "avery", "jose", "smi"):
        assert private not in text


async def other_school_link(settings: Settings, clock: ManualClock) -> str:
    url = await accounts.issue_link(settings, clock, school_id="mhs", person_id="sso-rivera")
    return url.removeprefix(BASE)


def event(kind: str, refs: list[str], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "school_id": "lhs",
        "occurred_at": T0.isoformat(),
        "actor": {"kind": "sso_device", "id": "phone-rivera"},
        "student_refs": refs,
    }
    if kind == "concern.raised":
        body.update(concern_id=str(uuid.uuid4()), category="conflict", severity="low")
    else:
        body.update(kind="check_in")
    return body | fields


async def test_a_reference_off_the_roster_is_refused_once_the_school_has_one(
    settings: Settings, clock: ManualClock, tmp_path: Path, js: JetStreamContext
) -> None:
    async with web(settings, clock) as client:
        token = await sign_in(client, settings, clock)

        async def deliver(*events: dict[str, Any]) -> list[tuple[str, str | None]]:
            answer = await client.post(
                "/api/v1/events",
                json={"device_id": "phone-rivera", "events": list(events)},
                headers={"X-CSRF-Token": token},
            )
            assert answer.status_code == 200, answer.text
            assert "S-9" not in answer.text
            return [(r["status"], r.get("reason")) for r in answer.json()["results"]]

        # No roster yet: the school's reference format decides.
        assert await deliver(
            event("concern.raised", ["S-900001"]), event("contact.logged", ["X-12"])
        ) == [
            ("stored", None),
            ("rejected", "student_refs: not a student reference of this school"),
        ]

        bulk = [student("S-100001", "Avery", "Quinn"), student("S-100002", "Blake", "Young")]
        await import_roster(settings, write_bundle(tmp_path / "bulk.zip", users=bulk))
        removal = [{"sourcedId": "S-100002", "status": "tobedeleted"}]
        await import_roster(settings, write_bundle(tmp_path / "d.zip", mode="delta", users=removal))

        assert await deliver(
            event("concern.raised", ["S-100001"]),
            event("contact.logged", ["S-100001", "S-900001"]),
            event("concern.raised", ["S-100002"]),  # removed by the delta
            event("concern.raised", []),  # a concern about no one in particular
            event("contact.logged", ["S-100001"]),
        ) == [
            ("stored", None),
            ("rejected", "student_refs: not on the school's roster"),
            ("rejected", "student_refs: not on the school's roster"),
            ("stored", None),
            ("stored", None),
        ]
        stored = await js.get_last_msg("PATROL", "patrol.lhs.contact.logged")
        assert b'"student_refs":["S-100001"]' in stored.data
