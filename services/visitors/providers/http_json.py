"""The `http` provider: a screening service that answers JSON (a district registry, a vendor).

    POST {base_url}/matches
    Authorization: Bearer <token>      (from the environment variable `token_env` names)
    {"school_id": "lhs", "first_name": "Greg", "last_name": "Hollander",
     "date_of_birth": "1979-03-14"}    (date_of_birth may be null)

    200 {"candidates": [{"id": "R-1", "first_name": "Gregory", "last_name": "Hollander",
                         "date_of_birth": "1979-03-14", "reason": "custody_restriction",
                         "note": "Court order on file"}]}

The service returns whom it thinks the visitor may be; Lookout scores those candidates with the
same matching as the CSV (services/visitors/matching.py) and holds those that reach the school's
threshold, so a listed person is held the same way whichever provider lists them. `reason` is
one of custody_restriction, trespass_order, banned, other (another word reads as other); fields
it does not know are ignored. A timeout, an answer other than 200, a refused connection or an
answer that is not this shape (or over 1 MB) raises ScreeningUnavailable: the sign-in is held,
never admitted.

The whole call is bounded by `timeout_seconds` (connecting, sending and reading together). A
client is opened per sign-in: sign-ins come a few an hour, and nothing is left open between.
TLS is verified against the system's trust store.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from datetime import date
from typing import Annotated, Any

import httpx
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from lookout.contracts.envelope import Token
from services.visitors.matching import Person
from services.visitors.providers.registry import ProviderSetup
from services.visitors.watchlist import (
    KINDS,
    Entry,
    Match,
    ScreeningUnavailable,
    index_of,
    scored_matches,
)

DEFAULT_TOKEN_ENV = "LOOKOUT_WATCHLIST_TOKEN"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_CANDIDATES = 100
# 100 candidates at their longest take about 250 kB.
MAX_ANSWER_BYTES = 1_000_000
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class HttpJsonOptions(BaseModel):
    """`watchlist.options` for `provider: http`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: AnyHttpUrl = Field(description="The service's base; the provider POSTs to /matches.")
    timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=2.5,
        description="The whole call, at most; inside the front desk's 3 s wait.",
    )
    token_env: str = Field(
        default=DEFAULT_TOKEN_ENV,
        pattern=r"^LOOKOUT_[A-Z0-9_]{1,64}$",
        description="The environment variable holding the bearer token (LOOKOUT_…).",
    )

    @field_validator("base_url")
    @classmethod
    def _tls_off_this_machine(cls, url: AnyHttpUrl) -> AnyHttpUrl:
        # The token travels with every call: plain HTTP only to this machine.
        if url.scheme != "https" and url.host not in LOOPBACK:
            raise ValueError("https, or http to this machine (127.0.0.1) only")
        return url


class Candidate(BaseModel):
    """One person the service says the visitor may be."""

    model_config = ConfigDict(extra="ignore")

    id: Token
    first_name: Name
    last_name: Name
    date_of_birth: date | None = None
    reason: Annotated[str, StringConstraints(max_length=64)]
    note: Annotated[str, StringConstraints(max_length=2000)] = ""

    def entry(self) -> Entry:
        kind = self.reason if self.reason in KINDS else "other"
        return Entry(
            self.id, self.first_name, self.last_name, self.date_of_birth, kind, self.note[:500]
        )


class Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    candidates: list[Candidate] = Field(max_length=MAX_CANDIDATES)

    @field_validator("candidates")
    @classmethod
    def _one_each(cls, candidates: list[Candidate]) -> list[Candidate]:
        if len({c.id for c in candidates}) != len(candidates):
            raise ValueError("a candidate id appears twice")
        return candidates


class HttpJsonWatchlist:
    """Asks the screening service, then scores its candidates as the CSV's entries are."""

    name = "http"

    def __init__(self, school_id: str, options: HttpJsonOptions, token: str) -> None:
        self.school_id = school_id
        self.url = str(options.base_url).rstrip("/") + "/matches"
        self.timeout_seconds = options.timeout_seconds
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        # Made once: loading the trust store takes longer than some timeouts allow. The system's
        # store, so a district's own certificate authority is trusted as it is everywhere else.
        self._tls = ssl.create_default_context()

    async def screen(
        self, first_name: str, last_name: str, date_of_birth: date | None, threshold: float
    ) -> list[Match]:
        body = {
            "school_id": self.school_id,
            "first_name": first_name,
            "last_name": last_name,
            "date_of_birth": date_of_birth.isoformat() if date_of_birth else None,
        }
        entries = [c.entry() for c in (await self._ask(body)).candidates]
        visitor = Person.of(first_name, last_name, date_of_birth)
        by_id = {e.entry_id: e for e in entries}
        return scored_matches(by_id, index_of(entries), self.name, visitor, threshold)

    async def _ask(self, body: dict[str, Any]) -> Answer:
        try:
            async with asyncio.timeout(self.timeout_seconds):
                async with (
                    httpx.AsyncClient(timeout=self.timeout_seconds, verify=self._tls) as client,
                    client.stream("POST", self.url, json=body, headers=self._headers) as response,
                ):
                    status = response.status_code
                    content = await _capped(response) if status == 200 else None
        except (TimeoutError, httpx.TimeoutException):
            raise ScreeningUnavailable("timeout") from None
        except httpx.HTTPError:
            raise ScreeningUnavailable("unreachable") from None
        if status >= 500:
            raise ScreeningUnavailable("server_error")
        if status != 200:  # a wrong token (401), a wrong URL (404), a redirect
            raise ScreeningUnavailable("rejected")
        if content is None:
            raise ScreeningUnavailable("malformed")  # larger than any answer of 100 candidates
        try:
            return Answer.model_validate_json(content)
        except ValidationError:
            raise ScreeningUnavailable("malformed") from None


async def _capped(response: httpx.Response) -> bytes | None:
    """The body, or None once it grows past MAX_ANSWER_BYTES (read no further)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create(setup: ProviderSetup) -> HttpJsonWatchlist:
    """The provider for one school; its token from the environment, never the school file."""
    if setup.source.csv_path:
        raise setup.problem("csv_path", "only for the csv provider")
    if "token" in setup.source.options:
        raise setup.problem(
            "options.token",
            "never in the school file: set the environment variable token_env names "
            f"({DEFAULT_TOKEN_ENV} by default)",
        )
    options = setup.options(HttpJsonOptions)
    token = os.environ.get(options.token_env, "").strip()
    if not token:
        raise setup.problem("options.token_env", f"{options.token_env} is not set")
    return HttpJsonWatchlist(setup.school_id, options, token)
