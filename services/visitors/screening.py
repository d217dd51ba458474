"""Screening a sign-in through the school's watchlist provider, held when the provider cannot say.

A provider that times out, fails or answers nonsense never lets a visitor in unscreened: the
sign-in is held with one "not screened" possible match whose note says why in words, and the
front office screens the visitor by hand (No admits, Yes denies, Not sure flags, as for any
match). Each such hold is logged and counted by failure, naming the school and provider only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date

from prometheus_client import CollectorRegistry, Counter

from services.visitors.watchlist import Entry, Match, ScreeningUnavailable, WatchlistProvider

log = logging.getLogger("lookout.visitors.screening")

# Any provider's answer is awaited this long at most: inside the front desk's 3 s wait for the
# visitors service, so the desk hears "held" rather than "unavailable, retry".
CEILING_SECONDS = 2.5
NOT_SCREENED_ID = "not-screened"
NOT_SCREENED_KIND = "not_screened"
DID_NOT_ANSWER = "screening provider did not answer"

FAILURES = ("timeout", "server_error", "rejected", "unreachable", "malformed", "error")
# (school, provider, failure) → count it.
OnUnavailable = Callable[[str, str, str], None]


def not_screened(provider: str) -> Match:
    """The possible match that holds a sign-in its provider did not screen."""
    entry = Entry(NOT_SCREENED_ID, "Not", "screened", None, NOT_SCREENED_KIND, DID_NOT_ANSWER)
    return Match(entry, 0.0, provider, date_of_birth=None, band=None)


async def screen_or_hold(
    provider: WatchlistProvider,
    school_id: str,
    first_name: str,
    last_name: str,
    date_of_birth: date | None,
    threshold: float,
    on_unavailable: OnUnavailable,
) -> list[Match]:
    """The provider's matches; a not-screened match when it cannot answer within the ceiling."""
    try:
        async with asyncio.timeout(CEILING_SECONDS):
            return await provider.screen(first_name, last_name, date_of_birth, threshold)
    except ScreeningUnavailable as exc:
        failure = exc.failure
    except TimeoutError:
        failure = "timeout"
    except Exception as exc:  # a provider's own bug: held all the same, and said in the log
        failure = "error"
        log.error(
            "event=screening_provider_error school=%s error=%s", school_id, type(exc).__name__
        )
    log.warning(
        "event=screening_unavailable school=%s provider=%s failure=%s",
        school_id,
        provider.name,
        failure,
    )
    on_unavailable(school_id, provider.name, failure)
    return [not_screened(provider.name)]


class UnavailableCounter:
    """`lookout_screening_unavailable_total`: sign-ins held because the provider did not answer."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.counter = Counter(
            "lookout_screening_unavailable",
            "Sign-ins held for screening by hand because the watchlist provider did not answer, "
            "by school, provider and failure (timeout, server_error, rejected, unreachable, "
            "malformed, error)",
            ["service", "school", "provider", "failure"],
            registry=registry,
        )

    def watch(self, school_id: str, provider: str) -> None:
        """Every failure of this school's provider at 0 from the start, so an alert rule on
        the counter's increase sees the first failure."""
        for failure in FAILURES:
            self.counter.labels(self.service, school_id, provider, failure)

    def __call__(self, school_id: str, provider: str, failure: str) -> None:
        self.counter.labels(self.service, school_id, provider, failure).inc()
