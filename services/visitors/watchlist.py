"""Watchlist providers: where possible matches for a visitor come from.

A provider answers one question — which listed people might this visitor be? — with scored
matches, or raises ScreeningUnavailable when it cannot say (the sign-in is then held for a
person to screen by hand: services/visitors/screening.py). The CSV provider here (the school's
private list of custody restrictions, trespass orders and banned persons, maintained by the
admin) is the default; others are found by name in the `lookout.watchlist_providers` entry point
group (services/visitors/providers/), e.g. the HTTP JSON provider.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from lookout.kernel.settings import ConfigurationError
from services.visitors.matching import (
    DateOfBirthCheck,
    Listed,
    Person,
    ReviewBand,
    WatchlistIndex,
)

log = logging.getLogger("lookout.visitors.watchlist")

COLUMNS = ("entry_id", "first_name", "last_name", "date_of_birth", "kind", "note")
KINDS = ("custody_restriction", "trespass_order", "banned", "other")
_ENTRY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class WatchlistError(ConfigurationError):
    """A watchlist file that cannot be used; one line naming the file, line and column."""


@dataclass(frozen=True)
class Entry:
    entry_id: str
    first_name: str
    last_name: str
    date_of_birth: date | None
    kind: str
    note: str

    @property
    def listed_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Match:
    """A listed person the visitor may be: held for a staff member's decision. No date check
    and no band: not a comparison at all (the provider did not answer, see screening)."""

    entry: Entry
    score: float
    provider: str
    date_of_birth: DateOfBirthCheck | None = DateOfBirthCheck.MISSING
    band: ReviewBand | None = ReviewBand.POSSIBLE


class ScreeningUnavailable(Exception):
    """The provider could not screen this visitor. `failure` is a label for the metric and the
    log (timeout, server_error, rejected, unreachable, malformed), never the visitor's data."""

    def __init__(self, failure: str) -> None:
        super().__init__(failure)
        self.failure = failure


class WatchlistProvider(Protocol):
    """One source of possible matches."""

    name: str

    async def screen(
        self, first_name: str, last_name: str, date_of_birth: date | None, threshold: float
    ) -> list[Match]:
        """Listed people the visitor may be, held at `threshold` (see matching), best first;
        ScreeningUnavailable when the source cannot answer."""
        ...


class EmptyWatchlist:
    """A school without a watchlist file: nobody matches."""

    name = "none"

    async def screen(
        self, first_name: str, last_name: str, date_of_birth: date | None, threshold: float
    ) -> list[Match]:
        return []


def scored_matches(
    entries: Mapping[str, Entry],
    index: WatchlistIndex,
    provider: str,
    visitor: Person,
    threshold: float,
) -> list[Match]:
    """The entries of `index` held for `visitor`, as matches of `provider`: every provider
    scores its candidates here, so a listed person is held the same whatever the source."""
    return [
        Match(entries[hit.entry_id], hit.score, provider, hit.date_of_birth, hit.band)
        for hit in index.screen(visitor, threshold)
    ]


def index_of(entries: Iterable[Entry]) -> WatchlistIndex:
    return WatchlistIndex(
        [Listed(e.entry_id, Person.of(e.first_name, e.last_name, e.date_of_birth)) for e in entries]
    )


def read_csv(path: Path) -> list[Entry]:
    """Parse and check a watchlist CSV; errors name the line and column, never the values."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise WatchlistError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise WatchlistError(f"{path}: not UTF-8 text") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise WatchlistError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
    entries: list[Entry] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num

        def bad(column: str, problem: str, line: int = line) -> WatchlistError:
            return WatchlistError(f"{path}: line {line}: {column}: {problem}")

        entry_id = (row["entry_id"] or "").strip()
        if not _ENTRY_ID.match(entry_id):
            raise bad("entry_id", "letters, digits, - and _ only (1-64)")
        if entry_id in seen:
            raise bad("entry_id", f"{entry_id!r} appears twice")
        seen.add(entry_id)
        first, last = (row["first_name"] or "").strip(), (row["last_name"] or "").strip()
        if not first:
            raise bad("first_name", "empty")
        if not last:
            raise bad("last_name", "empty")
        dob_text = (row["date_of_birth"] or "").strip()
        try:
            dob = date.fromisoformat(dob_text) if dob_text else None
        except ValueError:
            raise bad("date_of_birth", "not a YYYY-MM-DD date") from None
        kind = (row["kind"] or "").strip()
        if kind not in KINDS:
            raise bad("kind", f"one of {', '.join(KINDS)}")
        entries.append(Entry(entry_id, first, last, dob, kind, (row["note"] or "").strip()[:500]))
    return entries


class CsvWatchlist:
    """The school's CSV, re-read when the file changes (the admin edits it in place). If a
    changed file cannot be read, the last good list stays in force and the error is logged."""

    name = "csv"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._load()

    def _load(self) -> None:
        stamp = self._file_stamp()
        entries = read_csv(self.path)
        self._entries = {e.entry_id: e for e in entries}
        self._index = index_of(entries)
        self._stamp = stamp
        log.info("event=watchlist_loaded path=%s entries=%d", self.path, len(entries))

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def refresh(self) -> None:
        if self._file_stamp() == self._stamp:
            return
        try:
            self._load()
        except WatchlistError as exc:
            log.error("event=watchlist_reload_failed error=%s", exc)

    def __len__(self) -> int:
        return len(self._entries)

    def match(
        self, first_name: str, last_name: str, date_of_birth: date | None, threshold: float
    ) -> list[Match]:
        """The held matches, read in place: the list is in memory, so no waiting."""
        self.refresh()
        visitor = Person.of(first_name, last_name, date_of_birth)
        return scored_matches(self._entries, self._index, self.name, visitor, threshold)

    async def screen(
        self, first_name: str, last_name: str, date_of_birth: date | None, threshold: float
    ) -> list[Match]:
        return self.match(first_name, last_name, date_of_birth, threshold)


def resolve_path(csv_path: str, school_file: Path | None) -> Path:
    """A relative watchlist path is relative to the school's YAML file."""
    path = Path(csv_path)
    if path.is_absolute() or school_file is None:
        return path
    return school_file.parent / path
