"""The visitors service on a real nats-server: front-office requests, SSO sightings, timers.

The scripted day signs visitors in (one watchlist match confirmed, one dismissed), reports
sightings in and out of bounds, lets one visit run overdue, signs visitors out and closes the
day — and checks exactly which events were published and what the roster says at each point.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import select
from typer.testing import CliRunner

from lookout.contracts.subjects import parse_event, subject_of
from lookout.contracts.visitors import VisitorSighted
from lookout.kernel.clock import ManualClock
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.visitors import store
from services.visitors.app import build_app, create_kernel
from tests.integration.conftest import consumer_drained, running, wait_until

pytestmark = pytest.mark.nats

# Monday 23 November 2026; Chicago is UTC-6.
MON = datetime(2026, 11, 23, tzinfo=UTC)


def local(hh: int, mm: int) -> datetime:
    return MON + timedelta(hours=hh + 6, minutes=mm)


def sign_in_body(first: str, last: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "request_id": str(uuid.uuid4()),
        "first_name": first,
        "last_name": last,
        "visitor_type": "parent",
        "id_type": "drivers_license",
        "id_last4": "4821",
        "purpose": "Meeting",
        "host_id": "counselor-patel",
        "destination_zones": ["library"],
        "expected_minutes": 60,
        "signed_in_by": "office-garcia",
    }
    return body | overrides


class FrontOffice:
    """The front-office client: request-reply on `command|query.lhs.visitors.<name>.<person>`;
    who acts (`signed_in_by`, `signed_out_by`, `decided_by` in the bodies here) goes into the
    subject, never the body, as lookout.kernel.queries.request_body sends it."""

    ACTING = ("signed_in_by", "signed_out_by", "decided_by")

    def __init__(self, nc: nats.NATS) -> None:
        self.nc = nc

    async def call(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        person = next((body[f] for f in self.ACTING if f in body), "office-garcia")
        fields = {k: v for k, v in body.items() if k not in self.ACTING}
        reply = await self.nc.request(
            f"{kind}.lhs.visitors.{name}.{person}", json.dumps(fields).encode(), timeout=10
        )
        return dict(json.loads(reply.data))

    async def ok(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self.call(kind, name, body)
        assert reply["ok"] is True, reply
        return dict(reply["result"])

    async def roster(self) -> list[tuple[Any, ...]]:
        result = await self.ok("query", "roster", {})
        return [
            (
                v["name"],
                v["status"],
                v["badge_number"],
                v["visitor_type"],
                v["host_name"],
                v["destination_zones"],
                v["since"],
                v["overdue"],
                v["last_seen_zone"],
            )
            for v in result["visitors"]
        ]


class Published:
    """Everything the service published on the VISITORS stream (its outputs, not sightings)."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.events: list[Any] = []
        self._sub: Any = None

    async def start(self) -> None:
        self._sub = await self.js.subscribe("visitor.lhs.>", ordered_consumer=True)

    async def _drain(self) -> None:
        while True:
            try:
                msg = await self._sub.next_msg(timeout=0.05)
            except nats.errors.TimeoutError:
                return
            event = parse_event(msg.subject, msg.data)
            if not isinstance(event, VisitorSighted):
                self.events.append(event)

    async def wait_for(self, count: int) -> list[Any]:
        async def enough() -> bool:
            await self._drain()
            return len(self.events) >= count

        await wait_until(enough, what=f"{count} published visitor events")
        return self.events


def summary(event: Any) -> tuple[Any, ...]:
    fields = {
        "visitor.checked_in": ("badge_number", "visitor_type", "destination_zones"),
        "visitor.checked_out": ("badge_number", "method"),
        "visitor.screening_flagged": ("watchlist_entry_id", "score", "decision", "decided_by"),
        "visitor.out_of_bounds": ("badge_number", "zone_id", "destination_zones"),
        "visitor.overdue": ("badge_number", "expected_until"),
        "visitor.unaccounted": (
            "badge_number",
            "expected_until",
            "checked_out_at",
            "last_seen_zone",
        ),
    }[event.type]
    values = [getattr(event, f) for f in fields]
    return (event.type, str(event.visit_id), event.occurred_at, *[_plain(v) for v in values])


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


@pytest.fixture
def make_kernel(
    nats_server: Any, database_url: str, tmp_path: Any, clock: ManualClock
) -> Callable[..., ServiceKernel]:
    def make() -> ServiceKernel:
        settings = Settings(
            data_dir=tmp_path / "data",
            nats_url=nats_server.url,
            visitors_db_url=database_url,
            tick_seconds=3600,  # the test fires the ticker itself, at the times it chooses
        )
        return create_kernel(settings, clock)

    return make


@pytest.fixture
async def nc(nats_server: Any) -> Any:
    conn = await nats.connect(nats_server.url)
    yield conn
    await conn.close()


async def sight(js: JetStreamContext, badge: str, zone: str, at: datetime) -> None:
    event = VisitorSighted.new(
        school_id="lhs",
        occurred_at=at,
        actor={"kind": "sso_device", "id": "phone-rivera"},
        badge_number=badge,
        zone_id=zone,
    )
    await js.publish(
        subject_of(event),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(event.event_id)},
    )


async def sightings_applied(js: JetStreamContext) -> None:
    await wait_until(
        lambda: consumer_drained(js, "VISITORS", "visitors-sightings"), what="sightings"
    )


async def test_a_scripted_day(
    make_kernel: Callable[..., ServiceKernel],
    nc: Any,
    js: JetStreamContext,
    clock: ManualClock,
) -> None:
    office = FrontOffice(nc)
    published = Published(js)
    kernel = make_kernel()
    async with running(kernel, build_app):
        await published.start()
        assert kernel.ticker is not None

        # 08:00 a parent for the counselor, to the library for 2 h: admitted, badge 1123-001.
        clock.set(local(8, 0))
        maria = await office.ok(
            "command", "sign_in", sign_in_body("María", "López", expected_minutes=120)
        )
        assert (maria["status"], maria["badge_number"], maria["possible_matches"]) == (
            "on_site",
            "1123-001",
            [],
        )
        assert maria["expected_until"] == "2026-11-23T16:00:00Z"
        assert maria["badge_valid_until"] == "2026-11-23T22:45:00Z"  # 15:45 + 60 min local
        a = maria["visit_id"]

        # 08:05 a nickname, transposed, of a custody-restricted person with the same DOB: held.
        clock.set(local(8, 5))
        greg = await office.ok(
            "command",
            "sign_in",
            sign_in_body("Hollander", "Greg", date_of_birth="1979-03-14", visitor_type="guest"),
        )
        assert (greg["status"], greg["badge_number"]) == ("pending_screening", None)
        assert [
            (m["watchlist_entry_id"], m["score"], m["kind"], m["answer"], m["date_of_birth_check"],
             m["listed_date_of_birth"])
            for m in greg["possible_matches"]
        ] == [("WL-001", 0.965, "custody_restriction", None, "same", "1979-03-14")]  # fmt: skip
        b = greg["visit_id"]

        # 08:06 the same name as a trespass order without a DOB on the list: held too.
        clock.set(local(8, 6))
        pat = await office.ok(
            "command",
            "sign_in",
            sign_in_body(
                "Pat",
                "Vandermeer",
                visitor_type="volunteer",
                destination_zones=["cafeteria", "library"],
                expected_minutes=120,
            ),
        )
        assert pat["status"] == "pending_screening"
        c = pat["visit_id"]
        assert [
            (m["watchlist_entry_id"], m["score"], m["date_of_birth_check"],
             m["listed_date_of_birth"])
            for m in pat["possible_matches"]
        ] == [("WL-002", 1.0, "missing", None)]  # neither side has a date to compare  # fmt: skip
        assert await office.roster() == [
            ("María López", "on_site", "1123-001", "parent", "Ravi Patel", ["library"],
             "2026-11-23T14:00:00Z", False, None),
            ("Hollander Greg", "pending_screening", None, "guest", "Ravi Patel", ["library"],
             "2026-11-23T14:05:00Z", False, None),
            ("Pat Vandermeer", "pending_screening", None, "volunteer", "Ravi Patel",
             ["cafeteria", "library"], "2026-11-23T14:06:00Z", False, None),
        ]  # fmt: skip

        # 08:10 the AP dismisses Pat's match (admitted) and confirms Greg's (denied, flagged).
        clock.set(local(8, 10))
        pat = await office.ok(
            "command",
            "screen",
            {"visit_id": c, "answer": "no", "decided_by": "ap-chen", "note": "different person"},
        )
        assert (pat["status"], pat["badge_number"]) == ("on_site", "1123-002")
        assert pat["possible_matches"][0]["answer"] == "no"
        greg = await office.ok(
            "command",
            "screen",
            {
                "visit_id": b,
                "watchlist_entry_id": "WL-001",
                "answer": "yes",
                "decided_by": "ap-chen",
            },
        )
        assert (greg["status"], greg["badge_number"]) == ("denied", None)
        # A decided visit takes no further answers.
        assert await office.call(
            "command", "screen", {"visit_id": b, "answer": "no", "decided_by": "ap-chen"}
        ) == {"ok": False, "error": f"visit {b} is denied, not pending screening"}

        # 08:30 a contractor to the gym for 30 minutes.
        clock.set(local(8, 30))
        dave = await office.ok(
            "command",
            "sign_in",
            sign_in_body(
                "Dave",
                "Okoro",
                visitor_type="contractor",
                host_id="principal-okafor",
                destination_zones=["gym"],
                expected_minutes=30,
            ),
        )
        assert dave["badge_number"] == "1123-003"
        d = dave["visit_id"]

        events = await published.wait_for(4)
        assert [summary(e) for e in events] == [
            ("visitor.checked_in", a, local(8, 0), "1123-001", "parent", ["library"]),
            ("visitor.checked_in", c, local(8, 10), "1123-002", "volunteer",
             ["cafeteria", "library"]),
            ("visitor.screening_flagged", b, local(8, 10), "WL-001", 0.965, "yes", "ap-chen"),
            ("visitor.checked_in", d, local(8, 30), "1123-003", "contractor", ["gym"]),
        ]  # fmt: skip

        # Sightings: in bounds (library, the main office everyone may use) and out of bounds.
        clock.set(local(8, 45))
        await sight(js, "1123-001", "library", local(8, 40))
        await sight(js, "1123-001", "hall-2-south", local(8, 42))
        await sight(js, "1123-002", "main-office", local(8, 43))
        await sight(js, "1123-002", "gym", local(8, 44))
        await sightings_applied(js)
        events = await published.wait_for(6)
        assert [summary(e) for e in events[4:]] == [
            ("visitor.out_of_bounds", a, local(8, 42), "1123-001", "hall-2-south", ["library"]),
            ("visitor.out_of_bounds", c, local(8, 44), "1123-002", "gym",
             ["cafeteria", "library"]),
        ]  # fmt: skip

        # 09:15 is Dave's deadline (09:00 + 15 min grace): not yet at 09:14, once at 09:16.
        clock.set(local(9, 14))
        assert (await kernel.ticker.tick())["visitor-overdue"] == 0
        clock.set(local(9, 16))
        assert (await kernel.ticker.tick())["visitor-overdue"] == 1
        assert (await kernel.ticker.tick())["visitor-overdue"] == 0
        events = await published.wait_for(7)
        assert summary(events[6]) == (
            "visitor.overdue", d, local(9, 15), "1123-003", local(9, 0)
        )  # fmt: skip
        assert await office.roster() == [
            ("María López", "on_site", "1123-001", "parent", "Ravi Patel", ["library"],
             "2026-11-23T14:00:00Z", False, "hall-2-south"),
            ("Pat Vandermeer", "on_site", "1123-002", "volunteer", "Ravi Patel",
             ["cafeteria", "library"], "2026-11-23T14:06:00Z", False, "gym"),
            ("Dave Okoro", "on_site", "1123-003", "contractor", "Ada Okafor", ["gym"],
             "2026-11-23T14:30:00Z", True, None),
        ]  # fmt: skip

        # Sign-outs: María by badge, Pat by visit id; a repeat is answered the same, no event.
        clock.set(local(9, 30))
        out = await office.ok(
            "command", "sign_out", {"badge_number": "1123-001", "signed_out_by": "office-garcia"}
        )
        assert (out["status"], out["checked_out_at"], out["checkout_method"]) == (
            "checked_out",
            "2026-11-23T15:30:00Z",
            "front_office",
        )
        clock.set(local(10, 0))
        await office.ok("command", "sign_out", {"visit_id": c, "signed_out_by": "office-garcia"})
        again = await office.ok(
            "command", "sign_out", {"visit_id": c, "signed_out_by": "office-garcia"}
        )
        assert again["checked_out_at"] == "2026-11-23T16:00:00Z"

        # After sign-out María's badge is no longer valid anywhere.
        await sight(js, "1123-001", "library", local(10, 5))
        await sightings_applied(js)

        # 16:45 the day closes: Dave is checked out automatically, and nobody saw him leave.
        clock.set(local(16, 44))
        assert (await kernel.ticker.tick())["visitor-auto-checkout"] == 0
        clock.set(local(16, 46))
        assert (await kernel.ticker.tick())["visitor-auto-checkout"] == 1
        events = await published.wait_for(12)
        assert [summary(e) for e in events[7:]] == [
            ("visitor.checked_out", a, local(9, 30), "1123-001", "front_office"),
            ("visitor.checked_out", c, local(10, 0), "1123-002", "front_office"),
            ("visitor.out_of_bounds", a, local(10, 5), "1123-001", "library", ["library"]),
            ("visitor.checked_out", d, local(16, 45), "1123-003", "automatic_end_of_day"),
            ("visitor.unaccounted", d, local(16, 45), "1123-003", local(9, 0), local(16, 45),
             None),
        ]  # fmt: skip
        assert await office.roster() == []

        async with kernel.sessions() as session:
            decisions = (await session.execute(select(store.screening_decisions))).all()
            unsent = await kernel.outbox.unsent_count(session)
        assert sorted((str(r.visit_id), r.watchlist_entry_id, r.answer) for r in decisions) == (
            sorted([(c, "WL-002", "no"), (b, "WL-001", "yes")])
        )
        assert unsent == 0


async def test_a_visit_past_the_close_is_overdue_then_unaccounted(
    make_kernel: Callable[..., ServiceKernel],
    nc: Any,
    js: JetStreamContext,
    clock: ManualClock,
) -> None:
    """Expected until 17:00 (grace to 17:15), but the badge expires at 16:45: the overdue report
    comes at the close, before the automatic checkout, and the visitor is unaccounted for."""
    office = FrontOffice(nc)
    published = Published(js)
    kernel = make_kernel()
    async with running(kernel, build_app):
        await published.start()
        assert kernel.ticker is not None
        clock.set(local(15, 0))
        late = await office.ok(
            "command", "sign_in", sign_in_body("Ann", "Late", expected_minutes=120)
        )
        v = late["visit_id"]
        clock.set(local(16, 10))
        await sight(js, "1123-001", "gym", local(16, 10))  # out of bounds
        await sightings_applied(js)
        clock.set(local(16, 46))
        fired = await kernel.ticker.tick()
        assert (fired["visitor-overdue"], fired["visitor-auto-checkout"]) == (1, 1)
        events = await published.wait_for(5)
    assert [summary(e) for e in events] == [
        ("visitor.checked_in", v, local(15, 0), "1123-001", "parent", ["library"]),
        ("visitor.out_of_bounds", v, local(16, 10), "1123-001", "gym", ["library"]),
        ("visitor.overdue", v, local(16, 45), "1123-001", local(17, 0)),
        ("visitor.checked_out", v, local(16, 45), "1123-001", "automatic_end_of_day"),
        ("visitor.unaccounted", v, local(16, 45), "1123-001", local(17, 0), local(16, 45), "gym"),
    ]


async def test_the_end_of_day_list_names_who_never_signed_out(
    make_kernel: Callable[..., ServiceKernel],
    nc: Any,
    js: JetStreamContext,
    clock: ManualClock,
) -> None:
    """Ann was never signed out (closed at 16:45, unaccounted); Bob was signed out at the desk;
    Pat was held for screening and never admitted: only Ann is on the day's list."""
    office = FrontOffice(nc)
    kernel = make_kernel()
    async with running(kernel, build_app):
        assert kernel.ticker is not None
        clock.set(local(15, 0))
        ann = await office.ok(
            "command", "sign_in", sign_in_body("Ann", "Late", expected_minutes=120)
        )
        clock.set(local(15, 5))
        await office.ok("command", "sign_in", sign_in_body("Bob", "Early", host_id="ap-chen"))
        clock.set(local(15, 10))
        pat = await office.ok("command", "sign_in", sign_in_body("Pat", "Vandermeer"))
        assert pat["status"] == "pending_screening"
        clock.set(local(15, 30))
        await office.ok("command", "sign_out", {"badge_number": "1123-002"})
        clock.set(local(16, 10))
        await sight(js, "1123-001", "gym", local(16, 10))
        await sightings_applied(js)
        assert await office.ok("query", "end_of_day", {}) == {"day": "2026-11-23", "visitors": []}

        clock.set(local(16, 46))
        fired = await kernel.ticker.tick()
        assert fired["visitor-auto-checkout"] == 2  # Ann, and Pat's held sign-in
        assert await office.ok("query", "end_of_day", {}) == {
            "day": "2026-11-23",
            "visitors": [
                {
                    "visit_id": ann["visit_id"],
                    "badge_number": "1123-001",
                    "name": "Ann Late",
                    "visitor_type": "parent",
                    "host_id": "counselor-patel",
                    "host_name": "Ravi Patel",
                    "destination_zones": ["library"],
                    "since": "2026-11-23T21:00:00Z",
                    "expected_until": "2026-11-23T23:00:00Z",
                    "checked_out_at": "2026-11-23T22:45:00Z",
                    "last_seen_zone": "gym",
                    "last_seen_at": "2026-11-23T22:10:00Z",
                }
            ],
        }
        # The next morning the clerk asks for the day before; another day has nobody.
        clock.set(local(8, 0) + timedelta(days=1))
        assert [v["name"] for v in (await office.ok("query", "end_of_day", {}))["visitors"]] == []
        before = await office.ok("query", "end_of_day", {"day": "2026-11-23"})
        assert [v["name"] for v in before["visitors"]] == ["Ann Late"]
        refused = await office.call("query", "end_of_day", {"day": "23/11/2026"})
        assert refused == {
            "ok": False,
            "error": "invalid request: day: Input should be a valid date or datetime",
        }


async def test_restart_mid_day_fires_each_overdue_once(
    make_kernel: Callable[..., ServiceKernel],
    nc: Any,
    js: JetStreamContext,
    clock: ManualClock,
) -> None:
    office = FrontOffice(nc)
    published = Published(js)
    first = make_kernel()
    async with running(first, build_app):
        await published.start()
        clock.set(local(8, 0))
        early = await office.ok(
            "command", "sign_in", sign_in_body("Ann", "Early", expected_minutes=30)
        )
        clock.set(local(8, 20))
        late = await office.ok(
            "command", "sign_in", sign_in_body("Bo", "Later", expected_minutes=30)
        )
        clock.set(local(8, 50))  # past 08:45 (early's deadline), before 09:05 (late's)
        assert first.ticker is not None
        assert (await first.ticker.tick())["visitor-overdue"] == 1
        await published.wait_for(3)

    clock.set(local(9, 30))  # both deadlines passed while the service was down
    second = make_kernel()
    async with running(second, build_app):  # the ticker fires once as it starts
        events = await published.wait_for(4)
        assert second.ticker is not None
        assert (await second.ticker.tick())["visitor-overdue"] == 0
    overdue = [summary(e) for e in events if e.type == "visitor.overdue"]
    assert overdue == [
        ("visitor.overdue", early["visit_id"], local(8, 45), "1123-001", local(8, 30)),
        ("visitor.overdue", late["visit_id"], local(9, 5), "1123-002", local(8, 50)),
    ]
    assert len(events) == 4


async def test_cli_signs_in_screens_lists_and_signs_out(
    make_kernel: Callable[..., ServiceKernel],
    nats_server: Any,
    js: JetStreamContext,
    clock: ManualClock,
    tmp_path: Any,
) -> None:
    from lookout.cli.main import app as cli

    env = {"LOOKOUT_NATS_URL": nats_server.url, "LOOKOUT_DATA_DIR": str(tmp_path / "cli")}
    runner = CliRunner()

    async def lookout(*args: str) -> Any:
        return await asyncio.to_thread(runner.invoke, cli, ["visitors", *args], env=env)

    kernel = make_kernel()
    published = Published(js)
    async with running(kernel, build_app):
        await published.start()
        clock.set(local(8, 0))
        signed = await lookout(
            "sign-in", "--first-name", "Patricia", "--last-name", "Vandermeer",
            "--type", "guest", "--id-type", "passport", "--id-last4", "X9Z1",
            "--purpose", "Book fair", "--host", "counselor-patel", "--zone", "library",
            "--minutes", "45", "--by", "office-garcia",
        )  # fmt: skip
        assert signed.exit_code == 0, signed.output
        visit_id = signed.output.split()[1].rstrip(":")
        assert signed.output.splitlines()[0] == f"visit {visit_id}: pending_screening"
        assert "possible watchlist match WL-002 score 1.000 (trespass_order)" in signed.output
        assert "X9Z1" not in signed.output

        screened = await lookout("screen", "not_sure", "--visit", visit_id, "--by", "ap-chen")
        assert screened.exit_code == 0, screened.output
        assert screened.output.splitlines()[0] == f"visit {visit_id}: pending_screening"
        screened = await lookout("screen", "no", "--visit", visit_id, "--by", "principal-okafor")
        assert screened.output.splitlines()[:2] == [
            f"visit {visit_id}: on_site",
            "badge 1123-001 (valid until 2026-11-23 16:45:00 CST)",
        ]

        table = await lookout("roster")
        assert table.exit_code == 0, table.output
        assert table.output.splitlines()[-1] == (
            "1 visitor(s) on site as of 2026-11-23 08:00:00 CST"
        )
        as_csv = await lookout("roster", "--format", "csv")
        assert as_csv.output.splitlines() == [
            "badge,name,type,host,destination,since,expected_until,overdue,status,last_seen",
            "1123-001,Patricia Vandermeer,guest,Ravi Patel,library,2026-11-23T08:00:00-06:00,"
            "2026-11-23T08:45:00-06:00,no,on_site,",
        ]

        bad = await lookout("sign-out", "--badge", "1123-999", "--by", "office-garcia")
        assert (bad.exit_code, bad.output) == (
            1,
            "lookout: error: badge_number: no visit with this badge\n",
        )
        bad_field = await lookout(
            "sign-in", "--first-name", "A", "--last-name", "B", "--type", "alien",
            "--id-type", "passport", "--id-last4", "123456", "--purpose", "x",
            "--host", "counselor-patel", "--zone", "library", "--by", "office-garcia",
        )  # fmt: skip
        assert bad_field.exit_code == 2
        assert bad_field.output.startswith("lookout: error: visitor_type: Input should be")
        assert "id_last4: String should match pattern" in bad_field.output
        assert "Traceback" not in bad_field.output

        out = await lookout("sign-out", "--badge", "1123-001", "--by", "office-garcia")
        assert out.exit_code == 0, out.output
        assert "checked out 2026-11-23 08:00:00 CST (front_office)" in out.output

        events = await published.wait_for(3)
        assert [(e.type, str(e.visit_id)) for e in events] == [
            ("visitor.screening_flagged", visit_id),
            ("visitor.checked_in", visit_id),
            ("visitor.checked_out", visit_id),
        ]
        assert events[0].decision.value == "not_sure"
    async with kernel.sessions() as session:
        answers = [
            (r.answer, r.decided_by)
            for r in (
                await session.execute(
                    select(store.screening_decisions).order_by(store.screening_decisions.c.id)
                )
            ).all()
        ]
    assert answers == [("not_sure", "ap-chen"), ("no", "principal-okafor")]


# --- sane sign-in fields: an error reply naming the field (issue 13, item 4) ------------------

NAME_FAULT = "Value error, must not contain control, format or unassigned characters"


async def test_sign_in_refuses_impossible_dates_of_birth_and_unprintable_names(
    make_kernel: Callable[..., ServiceKernel], nc: Any, clock: ManualClock
) -> None:
    """A visitor born in 1900 or next year, or a name with control characters, was signed in.
    Now each is refused by field name; the reply never repeats the value; nobody is on site."""
    office = FrontOffice(nc)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"date_of_birth": "1900-06-15"},
         "invalid request: date_of_birth: Value error, must not be before 1901-01-01"),
        ({"date_of_birth": "2027-03-01"}, "date_of_birth: must not be in the future"),
        ({"date_of_birth": "2026-11-24"}, "date_of_birth: must not be in the future"),
        ({"date_of_birth": "1906-11-22"}, "date_of_birth: must be within the last 120 years"),
        ({"first_name": "Zeb\x00ulon"}, f"invalid request: first_name: {NAME_FAULT}"),
        ({"first_name": "Zeb\nulon"}, f"invalid request: first_name: {NAME_FAULT}"),
        ({"last_name": "Quar\x1b[2Jrington"}, f"invalid request: last_name: {NAME_FAULT}"),
        ({"last_name": "Quar\u202erington"}, f"invalid request: last_name: {NAME_FAULT}"),
        ({"first_name": "Zeb\u200bulon", "last_name": "Quar\x7frington"},
         f"invalid request: first_name: {NAME_FAULT}; last_name: {NAME_FAULT}"),
    ]  # fmt: skip
    async with running(make_kernel(), build_app):
        clock.set(local(9, 0))  # Monday 23 November 2026, school time
        for fields, error in cases:
            body = sign_in_body("Zebulon", "Quarrington", **fields)
            reply = await office.call("command", "sign_in", body)
            assert reply == {"ok": False, "error": error}, fields
            for value in fields.values():
                assert value[:4] not in reply["error"], fields
        # 21:00 on Monday in Chicago is Tuesday in UTC: "today" is the school's day.
        clock.set(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
        body = sign_in_body("Zebulon", "Quarrington", date_of_birth="2026-11-24")
        assert await office.call("command", "sign_in", body) == {
            "ok": False,
            "error": "date_of_birth: must not be in the future",
        }
        assert await office.roster() == []

        # The ends of the range, and whitespace around a name (stripped), are fine.
        clock.set(local(9, 0))
        oldest = sign_in_body("  Zebulon\t", "Quarrington\n", date_of_birth="1906-11-23")
        assert (await office.ok("command", "sign_in", oldest))["status"] == "on_site"
        clock.set(local(9, 5))
        newborn = sign_in_body("Baby", "Quarrington", date_of_birth="2026-11-23")
        assert (await office.ok("command", "sign_in", newborn))["status"] == "on_site"
        assert [(v[0], v[1]) for v in await office.roster()] == [
            ("Zebulon Quarrington", "on_site"),
            ("Baby Quarrington", "on_site"),
        ]
