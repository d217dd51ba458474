"""Choosing a school's watchlist provider: by name through the `lookout.watchlist_providers`
entry points (the shipped ones and a package's own), and the one-line start-up errors."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import yaml

from lookout.kernel.settings import EXAMPLE_SCHOOL, ConfigurationError, Settings, load_school
from lookout.school.config import WatchlistSource
from services.visitors.app import create_app
from services.visitors.providers import registry
from services.visitors.providers.http_json import HttpJsonWatchlist
from services.visitors.providers.registry import GROUP, ProviderSetup, installed, providers
from services.visitors.watchlist import CsvWatchlist, EmptyWatchlist, Match

SCHOOL_FILE = Path("/schools/lhs.yaml")


def made(source: WatchlistSource) -> Any:
    school = load_school(EXAMPLE_SCHOOL).model_copy(update={"watchlist": source})
    return providers({"lhs": school}, {"lhs": SCHOOL_FILE})["lhs"]


def problem(source: WatchlistSource) -> str:
    with pytest.raises(ConfigurationError) as raised:
        made(source)
    return str(raised.value)


def test_the_shipped_providers_are_registered_under_the_entry_point_group() -> None:
    assert installed() == ["csv", "http"]


def test_csv_is_the_default_and_reads_the_school_file_as_before() -> None:
    school = load_school(EXAMPLE_SCHOOL)
    assert school.watchlist.provider == "csv"
    provider = providers({"lhs": school}, {"lhs": EXAMPLE_SCHOOL})["lhs"]
    assert isinstance(provider, CsvWatchlist)
    assert (provider.path, len(provider)) == (EXAMPLE_SCHOOL.parent / "lhs-watchlist.csv", 5)
    assert isinstance(made(WatchlistSource()), EmptyWatchlist)  # no csv_path: nobody listed


def test_http_is_made_with_its_options_and_the_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOOKOUT_SCREENING_LHS", "s3cret")
    options = {
        "base_url": "https://registry.example.org/v1/",
        "timeout_seconds": 1.5,
        "token_env": "LOOKOUT_SCREENING_LHS",
    }
    provider = made(WatchlistSource(provider="http", options=options))
    assert isinstance(provider, HttpJsonWatchlist)
    assert (provider.url, provider.timeout_seconds) == (
        "https://registry.example.org/v1/matches",
        1.5,
    )


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (WatchlistSource(provider="registry"),
         "watchlist.provider: no watchlist provider 'registry' (installed: csv, http)"),
        (WatchlistSource(csv_path="lhs-watchlist.csv", options={"url": "x"}),
         "watchlist.options: the csv provider takes none (it reads csv_path)"),
        (WatchlistSource(provider="http", options={}),
         "watchlist.options.base_url: Field required"),
        (WatchlistSource(provider="http", options={"base_url": "http://registry.example.org"}),
         "watchlist.options.base_url: https, or http to this machine (127.0.0.1) only"),
        (WatchlistSource(provider="http",
                         options={"base_url": "https://r.example.org", "timeout_seconds": 5}),
         "watchlist.options.timeout_seconds: Input should be less than or equal to 2.5"),
        (WatchlistSource(provider="http",
                         options={"base_url": "https://r.example.org", "token": "s3cret"}),
         "watchlist.options.token: never in the school file: set the environment variable "
         "token_env names (LOOKOUT_WATCHLIST_TOKEN by default)"),
        (WatchlistSource(provider="http",
                         options={"base_url": "https://r.example.org", "token_env": "HOME"}),
         "watchlist.options.token_env: String should match pattern '^LOOKOUT_[A-Z0-9_]{1,64}$'"),
        (WatchlistSource(provider="http", options={"base_url": "https://r.example.org"}),
         "watchlist.options.token_env: LOOKOUT_WATCHLIST_TOKEN is not set"),
        (WatchlistSource(provider="http", csv_path="lhs-watchlist.csv",
                         options={"base_url": "https://r.example.org"}),
         "watchlist.csv_path: only for the csv provider"),
    ],
)  # fmt: skip
def test_a_provider_that_cannot_be_made_is_one_line_naming_the_file_and_field(
    monkeypatch: pytest.MonkeyPatch, source: WatchlistSource, error: str
) -> None:
    monkeypatch.delenv("LOOKOUT_WATCHLIST_TOKEN", raising=False)
    assert problem(source) == f"{SCHOOL_FILE}: {error}"


class ListsEveryone:
    """A package's own provider (found through the entry point group like the shipped ones)."""

    name = "everyone"

    def __init__(self, setup: ProviderSetup) -> None:
        self.setup = setup

    async def screen(self, *args: Any) -> list[Match]:
        return []


def test_a_package_registers_its_own_provider_in_the_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    theirs = EntryPoint("everyone", f"{__name__}:ListsEveryone", GROUP)
    shipped = list(registry.entry_points(group=GROUP))

    def entry_points(group: str, **select: str) -> list[EntryPoint]:
        assert group == GROUP
        every = [*shipped, theirs]
        return [ep for ep in every if all(getattr(ep, k) == v for k, v in select.items())]

    monkeypatch.setattr(registry, "entry_points", entry_points)
    provider = made(WatchlistSource(provider="everyone", options={"level": 3}))
    assert isinstance(provider, ListsEveryone)
    setup = provider.setup
    assert (setup.school_id, setup.source.options, setup.school_file) == (
        "lhs",
        {"level": 3},
        SCHOOL_FILE,
    )
    assert installed() == ["csv", "everyone", "http"]


def test_the_visitors_service_does_not_start_with_a_provider_it_cannot_find(
    tmp_path: Path,
) -> None:
    raw = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    raw["watchlist"] = {"provider": "registry"}
    path = tmp_path / "lhs.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "data",
        schools=str(path),
        visitors_db_url=f"sqlite+aiosqlite:///{tmp_path / 'visitors.db'}",
    )
    with pytest.raises(ConfigurationError) as raised:
        create_app(settings)
    assert str(raised.value) == (
        f"{path}: watchlist.provider: no watchlist provider 'registry' (installed: csv, http)"
    )
