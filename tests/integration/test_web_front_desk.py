"""The front desk's API against a real nats-server, the real visitors service in process (its
own SQLite database, its clock stopped at Monday 23 November 2026, 09:00 at Lakeside) and the
web app under uvicorn: a sign-in is admitted with a signed badge, or held with its possible
watchlist matches in words; the answers admit or deny; the badge page carries the QR of the
token; the SSO's phone checks a badge (valid, forged, expired, another school's); sign-out by
the QR's token or the number; the roster and its live nudge. The acting person is always the
signed-in caller. Held sign-ins are listed (`held`) until decided, with the ID's type, never
its digits. No ID digits or dates of birth are logged."""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import segno
import yaml

from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.local.runtime import free_port
from services.visitors.app import build_app, create_kernel
from services.web.badges import BadgeClaims, badge_secret, sign
from tests.integration.conftest import running
from tests.integration.test_web import assert_problem
from tests.integration.test_web_live import Phone, Stream, serve_web

pytestmark = pytest.mark.nats

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 09:00 in Chicago
OFFICE, SSO, PRINCIPAL = "office-garcia", "sso-rivera", "principal-okafor"


def schools(tmp_path: Path) -> str:
    """Lakeside with its watchlist, and Meadow High (the same file under another id)."""
    shutil.copy(EXAMPLE_SCHOOL.parent / "lhs-watchlist.csv", tmp_path / "lhs-watchlist.csv")
    lhs = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    paths = []
    for school in (lhs, dict(lhs, id="mhs", name="Meadow High School")):
        path = tmp_path / f"{school['id']}.yaml"
        path.write_text(yaml.safe_dump(school), encoding="utf-8")
        paths.append(str(path))
    return ",".join(paths)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def settings(nats_server: Any, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        schools=schools(tmp_path),
        visitors_db_url=f"sqlite+aiosqlite:///{tmp_path / 'visitors.db'}",
        web_host="127.0.0.1",
        web_port=free_port(),
        timers_enabled=False,
    )


@pytest.fixture
async def desk(settings: Settings, clock: ManualClock) -> AsyncIterator[Any]:
    async with running(create_kernel(settings, clock), build_app), serve_web(settings, clock):
        people = {p: await Phone.sign_in(settings, p) for p in (OFFICE, SSO, PRINCIPAL)}
        people["mhs-office"] = await Phone.sign_in(settings, OFFICE, school="mhs")
        yield people
        for each in people.values():
            await each.close()


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    """What was logged, without ids and addresses (a random UUID or port may hold `1979`)."""
    text = "\n".join(r.getMessage() for r in caplog.records)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)
    return re.sub(r"\b\d{1,3}(?:\.\d{1,3}){3}:\d{2,5}\b", "<address>", text)


def visitor(first: str, last: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "request_id": str(uuid.uuid4()),
        "first_name": first,
        "last_name": last,
        "date_of_birth": "1982-05-09",
        "visitor_type": "parent",
        "id_type": "drivers_license",
        "id_last4": "4821",
        "id_expires": "2030-05-09",
        "purpose": "Meeting with the counselor",
        "host_id": "counselor-patel",
        "destination_zones": ["library"],
        "expected_minutes": 60,
    }
    return body | overrides


async def test_a_visitor_is_admitted_badged_checked_by_the_sso_and_signed_out(
    desk: dict[str, Phone], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    office, sso = desk[OFFICE].client, desk[SSO].client
    async with office.stream("GET", "/api/v1/visitors/live") as response:
        assert response.status_code == 200
        live = Stream(response)
        assert await live.next() == ("hello", {})

        answer = await office.post("/api/v1/visitors/sign-in", json=visitor("María", "López"))
        assert answer.status_code == 200, answer.text
        visit = answer.json()
        assert await live.next() == ("visitors", {"because": "visitor.checked_in"})

    secret = badge_secret(settings)
    token = sign(
        secret,
        BadgeClaims(
            "lhs",
            "1123-001",
            uuid.UUID(visit["visit_id"]),
            datetime(2026, 11, 23, 22, 45, tzinfo=UTC),
        ),
    )
    assert visit == {
        "visit_id": visit["visit_id"],
        "status": "on_site",
        "badge_number": "1123-001",
        "badge": {
            "number": "1123-001",
            "token": token,
            "valid_until": "2026-11-23T22:45:00Z",  # the last bell 15:45 + 60 min, local
            "print_url": f"/desk/badges/{token}",
        },
        "destination_names": ["Library"],
        "expected_until": "2026-11-23T16:00:00Z",
        "checked_out_at": None,
        "possible_matches": [],
        "id_expired": False,
    }

    # The badge page: the label's facts and the QR of the token, drawn by segno.
    page = await office.get(f"/desk/badges/{token}")
    assert page.status_code == 200
    for text in ("María López", "PARENT", "Ravi Patel", "Library", "Mon 23 Nov 2026",
                 "4:45 PM", "1123-001"):  # fmt: skip
        assert text in page.text
    assert segno.make_qr(token, error="m").svg_inline(omitsize=True, border=4) in page.text

    # The roster lists her.
    roster = (await office.get("/api/v1/visitors/roster")).json()
    assert [(v["name"], v["badge_number"], v["host_name"], v["destination_names"], v["status"])
            for v in roster["visitors"]] == [
        ("María López", "1123-001", "Ravi Patel", ["Library"], "on_site")
    ]  # fmt: skip

    # The SSO's phone checks the badge: genuine; a forged one, another school's, not a badge.
    check = await sso.post("/api/v1/badges/check", json={"badge": token})
    assert check.json() == {
        "status": "valid",
        "badge_number": "1123-001",
        "valid_until": "2026-11-23T22:45:00Z",
    }
    forged = sign(b"x" * 32, BadgeClaims("lhs", "1123-001", uuid.uuid4(), T0.replace(hour=22)))
    assert (await sso.post("/api/v1/badges/check", json={"badge": forged})).json() == {
        "status": "forged", "badge_number": None, "valid_until": None
    }  # fmt: skip
    other = await desk["mhs-office"].client.post("/api/v1/badges/check", json={"badge": token})
    assert other.json()["status"] == "other_school"
    assert (await sso.post("/api/v1/badges/check", json={"badge": "1123-001"})).json()[
        "status"
    ] == "not_a_badge"
    assert (await desk["mhs-office"].client.get(f"/desk/badges/{token}")).status_code == 404

    # Signed out by the QR's token: the badge page and the roster no longer have her.
    out = await office.post("/api/v1/visitors/sign-out", json={"badge": token})
    assert (out.json()["status"], out.json()["badge_number"], out.json()["checked_out_at"]) == (
        "checked_out", "1123-001", "2026-11-23T15:00:00Z"
    )  # fmt: skip
    assert (await office.get("/api/v1/visitors/roster")).json()["visitors"] == []
    assert (await office.get(f"/desk/badges/{token}")).status_code == 404
    assert_problem(
        await office.post("/api/v1/visitors/sign-out", json={"badge": forged}),
        422,
        "badge: forged",
    )
    assert_problem(
        await office.post("/api/v1/visitors/sign-out", json={"badge": "1123-077"}),
        404,
        "badge_number: no visit with this badge",
    )
    logged = logged_text(caplog)
    assert "4821" not in logged and "1982" not in logged and "López" not in logged


async def test_a_held_sign_in_shows_its_matches_in_words_and_the_answers_decide(
    desk: dict[str, Phone], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    office = desk[OFFICE].client
    held = await office.post(
        "/api/v1/visitors/sign-in",
        json=visitor("Gregory", "Hollander", date_of_birth="1979-03-14", id_expires="2024-06-30"),
    )
    visit = held.json()
    assert (visit["status"], visit["badge_number"], visit["badge"], visit["id_expired"]) == (
        "pending_screening", None, None, True
    )  # fmt: skip
    assert visit["possible_matches"] == [
        {
            "watchlist_entry_id": "WL-001",
            "score": 1.0,
            "listed_name": "Gregory Hollander",
            "kind": "custody_restriction",
            "note": "No pick-up of the student; court order on file in the main office",
            "answer": None,
            "date_of_birth_check": "same",
            "listed_date_of_birth": "1979-03-14",
            "reason": "Custody restriction",
            "words": "exact name, same date of birth",
        }
    ]
    roster = (await office.get("/api/v1/visitors/roster")).json()["visitors"]
    assert [(v["name"], v["status"], v["badge_number"]) for v in roster] == [
        ("Gregory Hollander", "pending_screening", None)
    ]
    # Not him: admitted, with a badge.
    path = f"/api/v1/visitors/{visit['visit_id']}/screen"
    admitted = await office.post(path, json={"watchlist_entry_id": "WL-001", "answer": "no"})
    assert (admitted.json()["status"], admitted.json()["badge"]["number"]) == (
        "on_site",
        "1123-001",
    )
    assert admitted.json()["possible_matches"][0]["answer"] == "no"

    # A listed name with another date of birth is held too; "yes" denies entry.
    dmitri = (await office.post("/api/v1/visitors/sign-in",
                                json=visitor("Dmitri", "Castellanos"))).json()  # fmt: skip
    assert dmitri["possible_matches"][0]["words"] == "exact name, different date of birth"
    assert dmitri["possible_matches"][0]["reason"] == "Banned from campus"
    # Side by side: the visitor's date (1982-05-09) and the list's.
    assert dmitri["possible_matches"][0]["listed_date_of_birth"] == "1985-11-02"
    path = f"/api/v1/visitors/{dmitri['visit_id']}/screen"
    denied = await office.post(path, json={"watchlist_entry_id": "WL-003", "answer": "yes"})
    assert (denied.json()["status"], denied.json()["badge"]) == ("denied", None)
    assert_problem(
        await office.post(path, json={"watchlist_entry_id": "WL-003", "answer": "no"}),
        409,
    )
    logged = logged_text(caplog)
    assert "1979" not in logged and "4821" not in logged and "Hollander" not in logged
    assert "1985" not in logged


async def test_held_sign_ins_are_listed_until_decided(
    desk: dict[str, Phone], clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    office = desk[OFFICE].client
    assert (await office.get("/api/v1/visitors/held")).json() == {
        "as_of": "2026-11-23T15:00:00Z",
        "visits": [],
    }
    greg = (
        await office.post(
            "/api/v1/visitors/sign-in",
            json=visitor("Gregory", "Hollander", date_of_birth="1979-03-14", id_last4="7821"),
        )
    ).json()
    clock.advance(timedelta(minutes=1))
    admitted = await office.post("/api/v1/visitors/sign-in", json=visitor("Ana", "Ruiz"))
    assert admitted.json()["status"] == "on_site"
    clock.advance(timedelta(minutes=1))
    dmitri = (
        await office.post(
            "/api/v1/visitors/sign-in",
            json=visitor("Dmitri", "Castellanos", visitor_type="guest", id_type="state_id"),
        )
    ).json()

    # Another tab (the same clerk, a new request): both held ones, oldest first.
    listed = await office.get("/api/v1/visitors/held")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "as_of": "2026-11-23T15:02:00Z",
        "visits": [
            {
                "visit_id": greg["visit_id"],
                "name": "Gregory Hollander",
                "date_of_birth": "1979-03-14",
                "id_type": "drivers_license",
                "visitor_type": "parent",
                "host_name": "Ravi Patel",
                "destination_names": ["Library"],
                "since": "2026-11-23T15:00:00Z",
                "possible_matches": [
                    {
                        "watchlist_entry_id": "WL-001",
                        "score": 1.0,
                        "listed_name": "Gregory Hollander",
                        "kind": "custody_restriction",
                        "note": "No pick-up of the student; court order on file in the main office",
                        "answer": None,
                        "date_of_birth_check": "same",
                        "listed_date_of_birth": "1979-03-14",
                        "reason": "Custody restriction",
                        "words": "exact name, same date of birth",
                    }
                ],
            },
            {
                "visit_id": dmitri["visit_id"],
                "name": "Dmitri Castellanos",
                "date_of_birth": "1982-05-09",
                "id_type": "state_id",
                "visitor_type": "guest",
                "host_name": "Ravi Patel",
                "destination_names": ["Library"],
                "since": "2026-11-23T15:02:00Z",
                "possible_matches": [
                    {
                        "watchlist_entry_id": "WL-003",
                        "score": 0.6,
                        "listed_name": "Dmitri Castellanos",
                        "kind": "banned",
                        "note": "Banned from campus after an incident at a game",
                        "answer": None,
                        "date_of_birth_check": "differs",
                        "listed_date_of_birth": "1985-11-02",
                        "reason": "Banned from campus",
                        "words": "exact name, different date of birth",
                    }
                ],
            },
        ],
    }
    assert "7821" not in listed.text and "4821" not in listed.text  # never the ID's digits

    # "Not sure" keeps Greg held (the answer shows); "No" admits Dmitri: off the list.
    greg_path = f"/api/v1/visitors/{greg['visit_id']}/screen"
    unsure = await office.post(
        greg_path, json={"watchlist_entry_id": "WL-001", "answer": "not_sure"}
    )
    assert unsure.json()["status"] == "pending_screening"
    dmitri_path = f"/api/v1/visitors/{dmitri['visit_id']}/screen"
    await office.post(dmitri_path, json={"watchlist_entry_id": "WL-003", "answer": "no"})
    still = (await office.get("/api/v1/visitors/held")).json()["visits"]
    assert [(v["name"], [m["answer"] for m in v["possible_matches"]]) for v in still] == [
        ("Gregory Hollander", ["not_sure"])
    ]
    await office.post(greg_path, json={"watchlist_entry_id": "WL-001", "answer": "yes"})
    assert (await office.get("/api/v1/visitors/held")).json()["visits"] == []

    # Only the desk asks; another school's desk sees none of Lakeside's.
    for person in (SSO, PRINCIPAL):
        assert_problem(await desk[person].client.get("/api/v1/visitors/held"), 403)
    other = (await desk["mhs-office"].client.get("/api/v1/visitors/held")).json()
    assert other["visits"] == []
    logged = logged_text(caplog)
    for secret in ("1979", "1985", "1982", "7821", "Hollander", "Castellanos"):
        assert secret not in logged


async def test_the_end_of_day_list_shows_who_never_signed_out(
    settings: Settings, clock: ManualClock
) -> None:
    """Ana's badge is closed by the end-of-day checkout (16:45 at Lakeside): the desk's list of
    the day names her; the live stream nudged the desk to ask again."""
    settings = settings.model_copy(update={"timers_enabled": True, "tick_seconds": 3600})
    kernel = create_kernel(settings, clock)
    async with running(kernel, build_app), serve_web(settings, clock):
        office = await Phone.sign_in(settings, OFFICE)
        try:
            client = office.client
            ana = await client.post("/api/v1/visitors/sign-in", json=visitor("Ana", "Ruiz"))
            assert ana.status_code == 200, ana.text
            empty = await client.get("/api/v1/visitors/end-of-day")
            assert empty.json() == {"day": "2026-11-23", "visitors": []}
            async with client.stream("GET", "/api/v1/visitors/live") as response:
                live = Stream(response)
                assert await live.next() == ("hello", {})
                clock.set(datetime(2026, 11, 23, 22, 46, tzinfo=UTC))
                assert kernel.ticker is not None
                assert (await kernel.ticker.tick())["visitor-auto-checkout"] == 1
                # The outbox publishes overdue, checked out, unaccounted in that order; a
                # stream keeps one waiting nudge of a kind, so the first is all that is sure.
                assert await live.next() == ("visitors", {"because": "visitor.overdue"})
            listed = await client.get("/api/v1/visitors/end-of-day?day=2026-11-23")
            assert listed.json() == {
                "day": "2026-11-23",
                "visitors": [
                    {
                        "visit_id": ana.json()["visit_id"],
                        "badge_number": "1123-001",
                        "name": "Ana Ruiz",
                        "visitor_type": "parent",
                        "host_id": "counselor-patel",
                        "host_name": "Ravi Patel",
                        "destination_zones": ["library"],
                        "since": "2026-11-23T15:00:00Z",
                        "expected_until": "2026-11-23T16:00:00Z",
                        "checked_out_at": "2026-11-23T22:45:00Z",
                        "last_seen_zone": None,
                        "last_seen_at": None,
                        "destination_names": ["Library"],
                        "last_seen_zone_name": None,
                    }
                ],
            }
            assert_problem(await client.get("/api/v1/visitors/end-of-day?day=tuesday"), 422)
            assert_problem(await client.get("/api/v1/visitors/end-of-day?day=9999-12-31"), 422)
            sso = await Phone.sign_in(settings, SSO)
            try:
                assert_problem(await sso.client.get("/api/v1/visitors/end-of-day"), 403)
            finally:
                await sso.close()
        finally:
            await office.close()


async def test_who_may_use_the_desk(desk: dict[str, Phone]) -> None:
    body = visitor("Ana", "Ruiz")
    for person in (SSO, PRINCIPAL):
        client = desk[person].client
        assert_problem(await client.post("/api/v1/visitors/sign-in", json=body), 403)
        assert_problem(await client.get("/api/v1/visitors/roster"), 403)
        assert (await client.get("/desk")).status_code == 404
    assert_problem(
        await desk[PRINCIPAL].client.post("/api/v1/badges/check", json={"badge": "x"}), 403
    )
    office = desk[OFFICE].client
    no_token = await office.post(
        "/api/v1/visitors/sign-in", json=body, headers={"X-CSRF-Token": "wrong"}
    )
    assert_problem(no_token, 403)
    # The acting person is the caller: a body naming someone else is refused, not obeyed.
    assert_problem(
        await office.post("/api/v1/visitors/sign-in", json=body | {"signed_in_by": "ap-chen"}), 422
    )
    desk_page = await office.get("/app")
    assert "Sign a visitor in" in desk_page.text and "licence-scan" in desk_page.text


async def test_without_the_visitors_service_the_desk_says_so(
    settings: Settings, clock: ManualClock
) -> None:
    async with serve_web(settings, clock):
        office = await Phone.sign_in(settings, OFFICE)
        try:
            assert_problem(
                await office.client.post("/api/v1/visitors/sign-in", json=visitor("Ana", "Ruiz")),
                503,
                "retry later",
            )
            assert_problem(await office.client.get("/api/v1/visitors/roster"), 503)
        finally:
            await office.close()
