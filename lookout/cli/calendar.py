"""`lookout calendar pull|list|confirm|withdraw`: the school calendar's day types (no school,
early release, late start). `pull` reads the district's iCalendar feed and proposes dates by the
school file's keyword rules; a date takes effect only when an admin confirms it, which publishes
`school.<school>.day_type.confirmed` to the CALENDAR stream (withdrawn likewise). The stream
keeps every change, with who and when: `list` prints that audit log and what is in effect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import typer
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from rich.console import Console

from lookout.cli.connect import connect, resolve_nats_url
from lookout.cli.emit import publish
from lookout.contracts.calendar import DayKind, DayTypeConfirmed, DayTypeWithdrawn
from lookout.contracts.envelope import Actor, ActorKind, Event
from lookout.contracts.subjects import parse_event
from lookout.kernel.calendar_feed import read_feed
from lookout.kernel.errors import CliError, UsageError
from lookout.kernel.feed_links import feed_url
from lookout.kernel.settings import Settings, load_school
from lookout.school.config import Role, SchoolConfig
from lookout.school.day_types import DayType, ProposedDay
from lookout.school.ical import CalendarError, propose

app = typer.Typer(
    help="The school calendar: day types from the district's iCalendar feed, confirmed by an "
    "admin (publishes to the CALENDAR stream).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console(soft_wrap=True, highlight=False)

SCHOOL = typer.Option(None, "--school", help="School id (default: the only configured school).")
BY = typer.Option(
    ..., "--by", help="The person confirming (a principal, district safety or admin)."
)
DATES = typer.Argument(..., help="Dates, YYYY-MM-DD.")
# Who may change a day type: the same roles as the console's calendar page.
CONFIRMERS = frozenset({Role.PRINCIPAL, Role.DISTRICT_SAFETY, Role.ADMIN})
PULL_DAYS = 365


def _say(message: str) -> None:
    console.print(message, markup=False)


def _school(school_id: str | None) -> tuple[SchoolConfig, Path]:
    """The school (the only one if not named) and its school file."""
    found = [(load_school(path), path) for path in Settings().school_paths()]
    if school_id is None:
        if len(found) != 1:
            raise UsageError("--school: several schools are configured; name one")
        return found[0]
    for school, path in found:
        if school.id == school_id:
            return school, path
    raise UsageError(f"--school: unknown school {school_id!r}")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"date: {value!r} is not a date (YYYY-MM-DD)") from None


def _confirmer(school: SchoolConfig, person_id: str) -> Actor:
    person = next((p for p in school.people if p.id == person_id), None)
    if person is None:
        raise UsageError(f"--by: {person_id!r} is no person of {school.id}")
    if not CONFIRMERS.intersection(person.roles):
        raise UsageError(f"--by: {person_id} may not change the calendar (principal, "
                         "district safety or admin only)")  # fmt: skip
    return Actor(kind=ActorKind.STAFF, id=person.id)


def _today(school: SchoolConfig) -> date:
    return Settings().make_clock().now().astimezone(school.tz).date()


def _proposals(
    school: SchoolConfig, path: Path, first: date, last: date
) -> dict[date, ProposedDay]:
    if school.calendar is None:
        raise UsageError(f"calendar: {school.id}'s school file names no calendar")
    try:
        ics = asyncio.run(read_feed(school.calendar, path))
        return {p.day: p for p in propose(ics, school.calendar, school.tz, first, last)}
    except CalendarError as exc:
        raise UsageError(str(exc)) from None


def _kind(day_type: DayType) -> str:
    return day_type.kind.value + (f" ({day_type.schedule})" if day_type.schedule else "")


async def _log_of(url: str, school_id: str) -> list[Event]:
    """Every day-type event of the school, oldest first (the CALENDAR stream)."""
    nc = await connect(url)
    try:
        js = nc.jetstream(timeout=5)
        try:
            psub = await js.pull_subscribe(
                f"school.{school_id}.day_type.>",
                stream="CALENDAR",
                config=ConsumerConfig(
                    ack_policy=AckPolicy.NONE,
                    deliver_policy=DeliverPolicy.ALL,
                    inactive_threshold=30.0,
                ),
            )
        except NotFoundError:
            raise CliError(f"no CALENDAR stream at {url} (is `lookout up` running?)") from None
        events: list[Event] = []
        try:
            pending = (await psub.consumer_info()).num_pending
            while pending > 0:
                for msg in await psub.fetch(batch=min(pending, 256), timeout=5):
                    events.append(parse_event(msg.subject, msg.data))
                    pending = msg.metadata.num_pending
        finally:
            await psub.unsubscribe()
        return events
    finally:
        await nc.close()


def in_effect(log: Sequence[Event]) -> dict[date, DayType]:
    """The day types in effect after the log: the latest change of each date."""
    current: dict[date, DayType] = {}
    for e in log:
        if isinstance(e, DayTypeConfirmed):
            current[e.day] = DayType(e.day_type, e.schedule)
        elif isinstance(e, DayTypeWithdrawn):
            current.pop(e.day, None)
    return current


def _publish(url: str, event: Event) -> None:
    published = asyncio.run(publish(url, event))
    if published.duplicate:
        _say(f"(already published: {published.subject})")


@app.command("pull")
def pull(
    school: str | None = SCHOOL,
    first: str | None = typer.Option(None, "--from", help="First date (default: today)."),
    last: str | None = typer.Option(None, "--to", help="Last date (default: a year on)."),
) -> None:
    """Read the feed and list the dates its events map to a day type (nothing changes until
    `confirm`)."""
    sc, path = _school(school)
    start = _date(first) if first else _today(sc)
    end = _date(last) if last else start + timedelta(days=PULL_DAYS)
    proposed = _proposals(sc, path, start, end)
    for p in proposed.values():
        _say(f"{p.day} {p.day:%a}  {_kind(p.day_type)}  from: {'; '.join(p.titles)}")
    hint = f"lookout calendar confirm --school {sc.id} --by PERSON DATE..."
    _say(f"{len(proposed)} date(s) proposed from {start} to {end}; confirm with `{hint}`")


@app.command("confirm")
def confirm(
    dates: list[str] = DATES,
    by: str = BY,
    school: str | None = SCHOOL,
    as_: str | None = typer.Option(
        None,
        "--as",
        help="no_school, early_release or late_start, for a date the feed does "
        "not propose (a snow day); default: the feed's proposal.",
    ),
    schedule: str | None = typer.Option(
        None, "--schedule", help="With --as early_release or late_start: the alternate bell."
    ),
) -> None:
    """Put the feed's proposed day type of each date into effect (every service plans that
    date by it)."""
    sc, path = _school(school)
    actor = _confirmer(sc, by)
    days = sorted({_date(d) for d in dates})
    wanted: dict[date, tuple[DayType, list[str]]] = {}
    if as_ is not None:
        try:
            kind = DayKind(as_)
        except ValueError:
            raise UsageError(f"--as: unknown day type {as_!r} (no_school, early_release, "
                             "late_start)") from None  # fmt: skip
        if (kind is DayKind.NO_SCHOOL) != (schedule is None):
            raise UsageError("--schedule: needed for early_release and late_start, not else")
        if schedule is not None and schedule not in sc.bell_schedule.alternates:
            raise UsageError(f"--schedule: unknown schedule {schedule!r} "
                             "(none such under bell_schedule.alternates)")  # fmt: skip
        wanted = {d: (DayType(kind, schedule), []) for d in days}
    else:
        proposed = _proposals(sc, path, days[0], days[-1])
        for d in days:
            if d not in proposed:
                raise UsageError(f"{d}: the feed proposes no day type for it (use --as)")
            wanted[d] = (proposed[d].day_type, [t[:200] for t in proposed[d].titles[:10]])
    url = resolve_nats_url(Settings())
    current = in_effect(asyncio.run(_log_of(url, sc.id)))
    now = Settings().make_clock().now()
    for d, (day_type, titles) in wanted.items():
        if current.get(d) == day_type:
            _say(f"{d} {d:%a}  {_kind(day_type)}  already in effect")
            continue
        event = DayTypeConfirmed.new(
            school_id=sc.id,
            occurred_at=now,
            actor=actor,
            day=d,
            day_type=day_type.kind,
            schedule=day_type.schedule,
            titles=[t for t in titles if t],
        )
        _publish(url, event)
        _say(f"{d} {d:%a}  {_kind(day_type)}  confirmed by {actor.id}")


@app.command("withdraw")
def withdraw(dates: list[str] = DATES, by: str = BY, school: str | None = SCHOOL) -> None:
    """Take a confirmed day type back: the date keeps the school file's own bell again."""
    sc, _ = _school(school)
    actor = _confirmer(sc, by)
    days = sorted({_date(d) for d in dates})
    url = resolve_nats_url(Settings())
    current = in_effect(asyncio.run(_log_of(url, sc.id)))
    missing = [str(d) for d in days if d not in current]
    if missing:
        raise UsageError(f"{', '.join(missing)}: no day type in effect to withdraw")
    now = Settings().make_clock().now()
    for d in days:
        _publish(url, DayTypeWithdrawn.new(school_id=sc.id, occurred_at=now, actor=actor, day=d))
        _say(f"{d} {d:%a}  {_kind(current[d])}  withdrawn by {actor.id}")


@app.command("list")
def list_(school: str | None = SCHOOL) -> None:
    """Every confirmation and withdrawal (the audit log), then the day types in effect."""
    sc, _ = _school(school)
    log = asyncio.run(_log_of(resolve_nats_url(Settings()), sc.id))
    for e in log:
        at = _stamp(e.occurred_at, sc)
        if isinstance(e, DayTypeConfirmed):
            what = f"confirmed {_kind(DayType(e.day_type, e.schedule))}"
            day = e.day
        else:
            assert isinstance(e, DayTypeWithdrawn)
            what, day = "withdrawn", e.day
        _say(f"{at}  {e.actor.id}  {day} {day:%a}  {what}")
    current = in_effect(log)
    _say(f"in effect ({len(current)}):")
    for d, day_type in sorted(current.items()):
        _say(f"  {d} {d:%a}  {_kind(day_type)}")


@app.command("feed-url")
def feed_url_(
    person: str = typer.Option(..., "--person", help="The SSO whose feed it is."),
    school: str | None = SCHOOL,
) -> None:
    """Print an SSO's calendar feed address (their calendar app subscribes to it; it shows the
    announced windows of the next two weeks, never the unannounced checks)."""
    sc, _ = _school(school)
    officer = next((p for p in sc.people if p.id == person), None)
    if officer is None or Role.SSO not in officer.roles:
        raise UsageError(f"--person: {person!r} is no SSO of {sc.id}")
    _say(feed_url(Settings(), sc.id, officer.id))


def _stamp(moment: datetime, school: SchoolConfig) -> str:
    return f"{moment.astimezone(school.tz):%Y-%m-%d %H:%M}"
