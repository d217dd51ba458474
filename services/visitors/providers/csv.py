"""The `csv` provider: the school's own watchlist file (`watchlist.csv_path`), or no list."""

from __future__ import annotations

from services.visitors.providers.registry import ProviderSetup
from services.visitors.watchlist import (
    CsvWatchlist,
    EmptyWatchlist,
    WatchlistProvider,
    resolve_path,
)


def create(setup: ProviderSetup) -> WatchlistProvider:
    """The CSV (relative to the school file), or nobody listed when the school names none."""
    if setup.source.options:
        raise setup.problem("options", "the csv provider takes none (it reads csv_path)")
    csv_path = setup.source.csv_path
    if not csv_path:
        return EmptyWatchlist()
    return CsvWatchlist(resolve_path(csv_path, setup.school_file))
