"""Find a school's watchlist provider by the name its school file gives (`watchlist.provider`).

Providers are entry points of the group `lookout.watchlist_providers` (pyproject.toml
`[project.entry-points]`): each names a factory `create(setup: ProviderSetup) ->
WatchlistProvider` that checks its own options and raises ConfigurationError in one line naming
the school file and field. `csv` and `http` ship with Lookout; a package adds its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lookout.kernel.settings import ConfigurationError
from lookout.school.config import SchoolConfig, WatchlistSource
from services.visitors.watchlist import WatchlistProvider

GROUP = "lookout.watchlist_providers"
Opts = TypeVar("Opts", bound=BaseModel)


@dataclass(frozen=True)
class ProviderSetup:
    """What a provider's factory is given: the school, its `watchlist:` section and its file."""

    school_id: str
    source: WatchlistSource
    school_file: Path | None

    def problem(self, field: str, message: str) -> ConfigurationError:
        """An error naming the school file and the field (`watchlist.<field>`)."""
        where = f"{self.school_file}: " if self.school_file else f"school {self.school_id}: "
        return ConfigurationError(f"{where}watchlist.{field}: {message}")

    def options(self, model: type[Opts]) -> Opts:
        """The provider's `options`, checked by its model; the first fault in one line."""
        try:
            return model.model_validate(self.source.options)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            field = ".".join(["options", *(str(p) for p in err["loc"])])
            raise self.problem(field, err["msg"].removeprefix("Value error, ")) from None


Factory = Callable[[ProviderSetup], WatchlistProvider]


def installed() -> list[str]:
    """Names of the providers installed in this environment."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def factory(setup: ProviderSetup) -> Factory:
    name = setup.source.provider
    found = entry_points(group=GROUP, name=name)
    if not found:
        raise setup.problem(
            "provider", f"no watchlist provider {name!r} (installed: {', '.join(installed())})"
        )
    loaded: Any = next(iter(found)).load()
    if not callable(loaded):
        raise setup.problem("provider", f"{name!r} does not name a provider factory")
    return loaded  # type: ignore[no-any-return]


def providers(
    schools: Mapping[str, SchoolConfig], files: Mapping[str, Path]
) -> dict[str, WatchlistProvider]:
    """Each school's provider, made (and its options checked) once, at start-up."""
    made: dict[str, WatchlistProvider] = {}
    for school_id, school in schools.items():
        setup = ProviderSetup(school_id, school.watchlist, files.get(school_id))
        made[school_id] = factory(setup)(setup)
    return made
