"""A plan from the deployment's settings: the school file, its watchlist and the patrol seed."""

from __future__ import annotations

from datetime import date

from lookout.kernel.settings import ConfigurationError, Settings, load_school
from lookout.simulation.people import read_watchlist, watchlist_path
from lookout.simulation.plan import Plan, build_plan


def plan_for(
    settings: Settings,
    *,
    seed: int,
    start: date,
    days: int = 5,
    sso: int = 1,
    school_id: str | None = None,
) -> Plan:
    """The plan for one configured school (the only one, or `school_id`). Raises
    ConfigurationError for a bad school or watchlist file, PlanError for bad options."""
    files = {}
    for path in settings.school_paths():
        school = load_school(path)
        files[school.id] = (school, path)
    if school_id is None:
        if len(files) != 1:
            raise ConfigurationError(
                f"school: several schools are configured ({', '.join(files)}); pick one"
            )
        school_id = next(iter(files))
    if school_id not in files:
        raise ConfigurationError(
            f"school: {school_id!r} is not a configured school ({', '.join(files)})"
        )
    school, path = files[school_id]
    csv_path = watchlist_path(school, path)
    watchlist = read_watchlist(csv_path) if csv_path is not None else ()
    return build_plan(
        school,
        seed=seed,
        start=start,
        days=days,
        sso=sso,
        patrol_seed=settings.patrol_secret(),  # what the patrol service draws with
        watchlist=watchlist,
    )
