"""The HTTP JSON watchlist provider against a stand-in screening service on this machine: the
request it sends, a listed visitor held exactly as the CSV would hold them, and each way the
service can fail (each a ScreeningUnavailable with its label, nothing of the visitor logged)."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from lookout.kernel.settings import EXAMPLE_SCHOOL
from lookout.school.config import WatchlistSource
from services.visitors.matching import DateOfBirthCheck, ReviewBand
from services.visitors.providers.http_json import HttpJsonWatchlist, create
from services.visitors.providers.registry import ProviderSetup
from services.visitors.watchlist import CsvWatchlist, ScreeningUnavailable, resolve_path
from tests.integration.screening_service import ScreeningService, free_port_url

THRESHOLD = 0.85
EXAMPLE_CSV = resolve_path("lhs-watchlist.csv", EXAMPLE_SCHOOL)


def lhs_candidates() -> list[dict[str, Any]]:
    """The example school's CSV as the service's candidates (reason = the CSV's kind)."""
    with EXAMPLE_CSV.open(encoding="utf-8") as f:
        return [
            {
                "id": row["entry_id"],
                "first_name": row["first_name"],
                "last_name": row["last_name"],
                "date_of_birth": row["date_of_birth"] or None,
                "reason": row["kind"],
                "note": row["note"],
            }
            for row in csv.DictReader(f)
        ]


def provider(url: str, token: str, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Any:
    monkeypatch.setenv("LOOKOUT_WATCHLIST_TOKEN", token)
    source = WatchlistSource(provider="http", options={"base_url": url, **options})
    return create(ProviderSetup("lhs", source, Path("/schools/lhs.yaml")))


@pytest.fixture
def service() -> Iterator[ScreeningService]:
    with ScreeningService(candidates=lhs_candidates()) as s:
        yield s


def summary(matches: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (m.entry.entry_id, m.score, m.entry.kind, m.date_of_birth, m.band, m.provider)
        for m in matches
    ]


async def test_the_request_names_the_school_and_the_visitor_with_the_bearer_token(
    service: ScreeningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = provider(service.url, service.token, monkeypatch)
    await http.screen("Greg", "Hollander", date(1979, 3, 14), THRESHOLD)
    await http.screen("Ann", "Lee", None, THRESHOLD)
    assert service.asked == [
        {"school_id": "lhs", "first_name": "Greg", "last_name": "Hollander",
         "date_of_birth": "1979-03-14"},
        {"school_id": "lhs", "first_name": "Ann", "last_name": "Lee", "date_of_birth": None},
    ]  # fmt: skip
    assert service.headers[0]["Authorization"] == f"Bearer {service.token}"
    assert service.headers[0]["Content-Type"] == "application/json"


async def test_a_listed_visitor_is_held_exactly_as_the_csv_provider_holds_them(
    service: ScreeningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = provider(service.url, service.token, monkeypatch)
    csv_list = CsvWatchlist(EXAMPLE_CSV)
    visitors = [
        ("Hollander", "Greg", date(1979, 3, 14)),  # transposed nickname, same date
        ("Pat", "Vandermeer", None),  # the list has no date for her
        ("William", "Thackeray", date(1972, 1, 31)),  # a different date: held all the same
        ("María", "López", None),  # nobody
    ]
    for first, last, dob in visitors:
        by_csv = [(*s[:5], "http") for s in summary(csv_list.match(first, last, dob, THRESHOLD))]
        assert summary(await http.screen(first, last, dob, THRESHOLD)) == by_csv
    held = await http.screen("Hollander", "Greg", date(1979, 3, 14), THRESHOLD)
    assert summary(held) == [
        ("WL-001", 0.965, "custody_restriction", DateOfBirthCheck.SAME, ReviewBand.LIKELY, "http")
    ]
    entry = held[0].entry
    assert (entry.listed_name, entry.date_of_birth, entry.note) == (
        "Gregory Hollander",
        date(1979, 3, 14),
        "No pick-up of the student; court order on file in the main office",
    )
    assert await http.screen("María", "López", None, THRESHOLD) == []


async def test_a_reason_the_list_does_not_know_reads_as_other_and_unknown_fields_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listed = {"id": "R-9", "first_name": "Ann", "last_name": "Lee", "reason": "stalking",
              "note": "Call the SSO", "source": "district"}  # fmt: skip
    with ScreeningService(candidates=[listed]) as service:
        http = provider(service.url, service.token, monkeypatch)
        (match,) = await http.screen("Ann", "Lee", None, THRESHOLD)
    assert (match.entry.entry_id, match.entry.kind, match.entry.note, match.score) == (
        "R-9",
        "other",
        "Call the SSO",
        1.0,
    )


async def failure_of(http: HttpJsonWatchlist) -> str:
    with pytest.raises(ScreeningUnavailable) as raised:
        await http.screen("Greg", "Hollander", date(1979, 3, 14), THRESHOLD)
    return raised.value.failure


@pytest.mark.parametrize(
    ("status", "body", "failure"),
    [
        (503, b'{"error": "maintenance"}', "server_error"),
        (500, b"", "server_error"),
        (404, b"{}", "rejected"),
        (302, b"", "rejected"),
        (200, b"<html>not json</html>", "malformed"),
        (200, b'[{"id": "R-1"}]', "malformed"),  # a list, not {"candidates": [...]}
        (200, b'{"candidates": [{"id": "R 1", "first_name": "A", "last_name": "B",'
              b' "reason": "banned"}]}', "malformed"),  # an id with a space
        (200, b'{"candidates": [{"id": "R-1", "last_name": "B", "reason": "banned"}]}',
         "malformed"),  # no first name
        (200, b'{"candidates": [{"id": "R-1", "first_name": "A", "last_name": "B",'
              b' "reason": "banned"}, {"id": "R-1", "first_name": "C", "last_name": "D",'
              b' "reason": "banned"}]}', "malformed"),  # the same id twice
        (200, b'{"candidates": [], "padding": "' + b"x" * 1_000_000 + b'"}',
         "malformed"),  # over 1 MB: not read to the end
    ],
)  # fmt: skip
async def test_an_answer_that_is_not_a_200_of_the_documented_shape_is_unavailable(
    service: ScreeningService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: bytes,
    failure: str,
) -> None:
    service.answer_with(status, body)
    http = provider(service.url, service.token, monkeypatch)
    with caplog.at_level(logging.DEBUG):
        assert await failure_of(http) == failure
    assert_nothing_of_the_visitor_in(caplog)


async def test_a_wrong_token_is_rejected(
    service: ScreeningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = provider(service.url, "not-the-token", monkeypatch)
    assert await failure_of(http) == "rejected"
    assert service.asked == []  # the stand-in refused it at the door


async def test_a_service_that_does_not_answer_in_time_is_a_timeout(
    service: ScreeningService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service.hang()  # takes the call and never answers
    http = provider(service.url, service.token, monkeypatch, timeout_seconds=0.2)
    with caplog.at_level(logging.DEBUG):
        assert await failure_of(http) == "timeout"
    assert_nothing_of_the_visitor_in(caplog)


async def test_nobody_listening_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    http = provider(free_port_url(), "token", monkeypatch)
    with caplog.at_level(logging.DEBUG):
        assert await failure_of(http) == "unreachable"
    assert_nothing_of_the_visitor_in(caplog)


def assert_nothing_of_the_visitor_in(caplog: pytest.LogCaptureFixture) -> None:
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("Greg", "Hollander", "1979", "03-14"):
        assert secret not in text
