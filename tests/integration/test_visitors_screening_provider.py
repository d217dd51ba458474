"""The visitors service on a real nats-server screening through the HTTP JSON provider
(`watchlist: {provider: http}`) against a stand-in screening service on this machine.

A listed visitor is held as the CSV holds them; when the service answers 503, nonsense, nothing
in time or nobody is listening, the sign-in is held for screening by hand with the reason in
words, counted by failure, and the desk decides it like any match. A retry of a held sign-in is
the same visit, not screened again; nothing of the visitors reaches the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from nats.js import JetStreamContext

from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from services.visitors.app import build_app, create_kernel
from tests.integration.conftest import running
from tests.integration.screening_service import ScreeningService
from tests.integration.test_visitors_service import (
    FrontOffice,
    Published,
    local,
    sign_in_body,
    summary,
)
from tests.unit.visitors.test_http_provider import lhs_candidates

pytestmark = pytest.mark.nats

NOT_SCREENED = {
    "watchlist_entry_id": "not-screened",
    "score": 0.0,
    "listed_name": "Not screened",
    "kind": "not_screened",
    "note": "screening provider did not answer",
    "answer": None,
    "date_of_birth_check": None,
    "listed_date_of_birth": None,
}


def school_file(tmp_path: Path, base_url: str) -> Path:
    """The example school, screening through the HTTP provider instead of its CSV."""
    raw = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    raw["watchlist"] = {
        "provider": "http",
        "options": {"base_url": base_url, "timeout_seconds": 0.3},
    }
    path = tmp_path / "lhs.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture
def service() -> Iterator[ScreeningService]:
    """The registry: every entry of the example school's CSV as its candidates."""
    with ScreeningService(candidates=lhs_candidates()) as registry:
        yield registry


@pytest.fixture
async def nc(nats_server: Any) -> Any:
    conn = await nats.connect(nats_server.url)
    yield conn
    await conn.close()


async def test_screening_through_a_registry_that_answers_then_fails_every_way(
    nats_server: Any,
    database_url: str,
    tmp_path: Path,
    clock: ManualClock,
    nc: Any,
    js: JetStreamContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    service: ScreeningService,
) -> None:
    office = FrontOffice(nc)
    published = Published(js)
    monkeypatch.setenv("LOOKOUT_WATCHLIST_TOKEN", service.token)
    settings = Settings(
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        visitors_db_url=database_url,
        schools=str(school_file(tmp_path, service.url)),
        tick_seconds=3600,
    )
    kernel = create_kernel(settings, clock)

    def unavailable(failure: str) -> float | None:
        labels = {"service": "visitors", "school": "lhs", "provider": "http", "failure": failure}
        return kernel.metrics.registry.get_sample_value(
            "lookout_screening_unavailable_total", labels
        )

    try:
        async with running(kernel, build_app):
            # The service set up its logging on start (replacing the root's handlers): listen again.
            logging.getLogger().addHandler(caplog.handler)
            caplog.handler.setLevel(logging.DEBUG)
            await published.start()
            # Counted from 0, each failure, from the start.
            assert [unavailable(f) for f in ("timeout", "unreachable", "rejected")] == [0, 0, 0]

            # 08:00 a transposed nickname of a listed person, same date: held as the CSV holds.
            clock.set(local(8, 0))
            greg = await office.ok(
                "command", "sign_in", sign_in_body("Hollander", "Greg", date_of_birth="1979-03-14")
            )
            assert greg["status"] == "pending_screening"
            assert [
                (m["watchlist_entry_id"], m["score"], m["kind"], m["date_of_birth_check"],
                 m["listed_date_of_birth"], m["listed_name"])
                for m in greg["possible_matches"]
            ] == [("WL-001", 0.965, "custody_restriction", "same", "1979-03-14",
                   "Gregory Hollander")]  # fmt: skip

            # 08:01 nobody on the list: admitted.
            clock.set(local(8, 1))
            maria = await office.ok("command", "sign_in", sign_in_body("María", "López"))
            assert (maria["status"], maria["badge_number"]) == ("on_site", "1123-001")
            assert [a["last_name"] for a in service.asked] == ["Greg", "López"]

            # 08:02 the registry answers 503: held for screening by hand, not admitted.
            clock.set(local(8, 2))
            service.answer_with(503, b'{"error": "maintenance"}')
            ann_body = sign_in_body("Ann", "Lee", date_of_birth="1980-05-06")
            ann = await office.ok("command", "sign_in", ann_body)
            assert (ann["status"], ann["badge_number"], ann["possible_matches"]) == (
                "pending_screening",
                None,
                [NOT_SCREENED],
            )
            assert unavailable("server_error") == 1.0

            # The desk's retry (same request id), the registry healthy again: the same held
            # visit, not screened again, not a second visit.
            service.answer_with(200, b'{"candidates": []}')
            again = await office.ok("command", "sign_in", ann_body)
            assert (again["visit_id"], again["status"]) == (ann["visit_id"], "pending_screening")
            assert len(service.asked) == 3

            # 08:03 an answer that is not the documented shape.
            clock.set(local(8, 3))
            service.answer_with(200, b'{"matches": "Bo Li"}')
            bo = await office.ok("command", "sign_in", sign_in_body("Bo", "Li"))
            assert (bo["status"], bo["possible_matches"]) == ("pending_screening", [NOT_SCREENED])
            assert unavailable("malformed") == 1.0

            # 08:04 no answer within the 0.3 s the school allows.
            clock.set(local(8, 4))
            service.hang()
            cy = await office.ok("command", "sign_in", sign_in_body("Cy", "Ng"))
            assert (cy["status"], cy["possible_matches"]) == ("pending_screening", [NOT_SCREENED])
            assert unavailable("timeout") == 1.0

            # 08:05 the registry is gone: nobody listening on its port.
            clock.set(local(8, 5))
            service.stop()
            di = await office.ok("command", "sign_in", sign_in_body("Di", "Ode"))
            assert (di["status"], di["possible_matches"]) == ("pending_screening", [NOT_SCREENED])
            assert unavailable("unreachable") == 1.0

            # The desk's held list: each with its possible match and the reason in words.
            held = await office.ok("query", "held", {})
            assert [
                (v["last_name"], [(m["watchlist_entry_id"], m["note"])
                                  for m in v["possible_matches"]])
                for v in held["visits"]
            ] == [
                ("Greg", [("WL-001",
                           "No pick-up of the student; court order on file in the main office")]),
                ("Lee", [("not-screened", "screening provider did not answer")]),
                ("Li", [("not-screened", "screening provider did not answer")]),
                ("Ng", [("not-screened", "screening provider did not answer")]),
                ("Ode", [("not-screened", "screening provider did not answer")]),
            ]  # fmt: skip

            # 08:10 screened by hand: Ann is not on any list (admitted), Bo is (denied, flagged).
            clock.set(local(8, 10))
            ann_in = await office.ok(
                "command", "screen",
                {"visit_id": ann["visit_id"], "answer": "no", "decided_by": "ap-chen"},
            )  # fmt: skip
            assert (ann_in["status"], ann_in["badge_number"]) == ("on_site", "1123-002")
            bo_out = await office.ok(
                "command", "screen",
                {"visit_id": bo["visit_id"], "answer": "yes", "decided_by": "ap-chen"},
            )  # fmt: skip
            assert (bo_out["status"], bo_out["badge_number"]) == ("denied", None)
            # The listed visitor the registry named: confirmed, flagged as a CSV match would be.
            greg_out = await office.ok(
                "command", "screen",
                {"visit_id": greg["visit_id"], "answer": "yes", "decided_by": "ap-chen"},
            )  # fmt: skip
            assert greg_out["status"] == "denied"
            assert [summary(e) for e in await published.wait_for(4)] == [
                ("visitor.checked_in", maria["visit_id"], local(8, 1), "1123-001", "parent",
                 ["library"]),
                ("visitor.checked_in", ann["visit_id"], local(8, 10), "1123-002", "parent",
                 ["library"]),
                ("visitor.screening_flagged", bo["visit_id"], local(8, 10), "not-screened", 0.0,
                 "yes", "ap-chen"),
                ("visitor.screening_flagged", greg["visit_id"], local(8, 10), "WL-001", 0.965,
                 "yes", "ap-chen"),
            ]  # fmt: skip
    finally:
        logging.getLogger().removeHandler(caplog.handler)

    text = "\n".join(caplog.messages)
    for secret in ("Hollander", "López", "Lee", "Ode", "1979-03-14", "1980-05-06", "4821"):
        assert secret not in text
    assert "event=screening_unavailable school=lhs provider=http failure=timeout" in text
