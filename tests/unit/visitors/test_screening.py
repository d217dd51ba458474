"""A provider that cannot answer holds the sign-in: one not-screened match saying why, logged and
counted by school, provider and failure, never with the visitor's name or date of birth."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.visitors import screening
from services.visitors.screening import UnavailableCounter, screen_or_hold
from services.visitors.watchlist import Match, ScreeningUnavailable

VISITOR = ("Greg", "Hollander", date(1979, 3, 14))


class Failing:
    name = "registry"

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.never = asyncio.Event()

    async def screen(self, *args: Any) -> list[Match]:
        if self.error is not None:
            raise self.error
        await self.never.wait()  # answers nothing, ever
        return []


def held(matches: list[Match]) -> list[tuple[Any, ...]]:
    return [
        (m.entry.entry_id, m.entry.listed_name, m.entry.kind, m.entry.note, m.score,
         m.provider, m.date_of_birth, m.band)
        for m in matches
    ]  # fmt: skip


NOT_SCREENED = [
    ("not-screened", "Not screened", "not_screened", "screening provider did not answer", 0.0,
     "registry", None, None)
]  # fmt: skip


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (ScreeningUnavailable("server_error"), "server_error"),
        (ScreeningUnavailable("malformed"), "malformed"),
        (KeyError("first_name"), "error"),  # the provider's own bug
    ],
)
async def test_a_provider_that_cannot_answer_holds_the_sign_in_and_is_counted(
    caplog: pytest.LogCaptureFixture, error: BaseException, failure: str
) -> None:
    registry = CollectorRegistry()
    count = UnavailableCounter(registry, "visitors")
    with caplog.at_level(logging.DEBUG):
        matches = await screen_or_hold(Failing(error), "lhs", *VISITOR, 0.85, count)
    assert held(matches) == NOT_SCREENED
    labels = {"service": "visitors", "school": "lhs", "provider": "registry", "failure": failure}
    assert registry.get_sample_value("lookout_screening_unavailable_total", labels) == 1.0
    assert (
        f"event=screening_unavailable school=lhs provider=registry failure={failure}"
        in caplog.messages
    )
    text = "\n".join(caplog.messages)
    for secret in ("Greg", "Hollander", "1979", "first_name"):
        assert secret not in text


async def test_any_provider_is_awaited_no_longer_than_the_ceiling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(screening, "CEILING_SECONDS", 0.05)
    seen: list[tuple[str, str, str]] = []
    matches = await screen_or_hold(
        Failing(), "lhs", *VISITOR, 0.85, lambda *labels: seen.append(labels)
    )
    assert held(matches) == NOT_SCREENED
    assert seen == [("lhs", "registry", "timeout")]


def test_the_ceiling_is_inside_the_front_desks_wait() -> None:
    from services.web.asking import ASK_TIMEOUT_SECONDS

    assert screening.CEILING_SECONDS < ASK_TIMEOUT_SECONDS
