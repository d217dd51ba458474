"""NATS users and permissions for a deployment: `lookout deploy nats-config` and `deploy streams`.

One user per person of each school (from the school files' `people` and their roles) and one per
service, each with allow-lists; whatever is not allowed is refused by the server. A role
publishes only what it originates:

- an SSO's phone publishes what an SSO emits in its own school (scans, observations, contacts,
  heartbeat, concerns raised/updated/resolved, visitor sightings), asks patrol queries of its
  school, and subscribes only to its own reminders (`patrol.<S>.sso.<officer>.>`) and its own
  inbox — a stolen phone cannot read concerns, alerts or another school;
- the front office sends visitor commands/queries of its school and publishes no event (check-in,
  check-out, out-of-bounds… are the visitors service's);
- principals and assistant principals subscribe to `alert.<S>.>` and send alert commands of S;
  counsellors and district safety staff receive their own notifications and send alert commands;
- a person's requests name them: `command|query.<S>.<service>.<name>.<person>`, and each user may
  publish only those ending in its own person id, so a service takes who acts from the subject
  (lookout/kernel/queries.py) and the access log records who really asked;
- each service publishes exactly the event subjects it emits plus `dlq.<service>`, subscribes to
  its request subjects, and uses the JetStream API only for its own durable consumers
  (`<service>-…`), its one replay consumer (`<service>-replay`, reports only) and to look up the
  streams it reads — never another service's consumer; streams are created by `deploy streams`
  with the admin user, so no service holds stream-admin rights;
- the web service (`svc-web`) acts for the people it serves, so it may publish exactly the
  union of what their roles may publish and ask, each request still ending in the id of a
  person of the school files who holds a role that asks it (a counselor's session cannot
  become a patrol query); it hears the patrol events that change an SSO's Today screen
  (`WEB_HEARS`), has no JetStream API and no consumer (it publishes with a PubAck, and its
  live updates are core subscriptions);
- `admin` (operators, `lookout deploy streams`, `tail`, `dlq`, the CLI acting as `cli`) has no
  restrictions.

Every user has its own inbox prefix (`_INBOX.<user>`): replies cannot be read by anyone else.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import typer

from lookout.contracts import alerts as alert_events
from lookout.contracts import calendar as calendar_events
from lookout.contracts import patrol as patrol_events
from lookout.contracts import reports as report_events
from lookout.contracts import sensors as sensor_events
from lookout.contracts import visitors as visitor_events
from lookout.contracts.envelope import Event
from lookout.contracts.subjects import BY_MODEL, STREAMS
from lookout.kernel.consumer_names import durable, replay_consumer
from lookout.kernel.settings import WEB
from lookout.school.config import Role, SchoolConfig
from lookout.school.permissions import ROLE_EVENTS, ROLE_REQUEST_NAMES, ROLE_REQUESTS

ADMIN = "admin"


def service_user(service: str) -> str:
    return f"svc-{service}"


def person_user(school: str, person_id: str) -> str:
    return f"{school}-{person_id}"


def inbox_prefix(user: str) -> str:
    return f"_INBOX.{user}"


# What each service emits (published by its outbox relay).
SERVICE_EMITS: dict[str, tuple[type[Event], ...]] = {
    "patrol": (
        patrol_events.CheckMissed,
        patrol_events.CheckRecovered,
        patrol_events.CheckWindowClosed,
        patrol_events.FollowUpCompleted,
        patrol_events.FollowUpDue,
        patrol_events.FollowUpMissed,
        patrol_events.UnannouncedCheckScheduled,
        patrol_events.PatrolFocusPublished,
        patrol_events.SensorCheckAssigned,
        patrol_events.SensorCheckDone,
        patrol_events.SensorCheckMissed,
        alert_events.HeartbeatMissed,
        alert_events.HeartbeatResumed,
    ),
    "visitors": (
        visitor_events.VisitorCheckedIn,
        visitor_events.VisitorCheckedOut,
        visitor_events.ScreeningFlagged,
        visitor_events.VisitorOverdue,
        visitor_events.VisitorOutOfBounds,
        visitor_events.VisitorUnaccounted,
        visitor_events.DrillStarted,
        visitor_events.VisitorAccountedFor,
        visitor_events.DrillEnded,
    ),
    "alerts": (
        alert_events.AlertOpened,
        alert_events.AlertEscalated,
        alert_events.AlertNotified,
        alert_events.AlertAcknowledged,
        alert_events.AlertResolved,
        alert_events.AlertNotification,
    ),
    "reports": (report_events.WeeklySummarySent,),
}

# The alerts service reads these streams through one filtered durable each
# (services/alerts/app.py INPUTS; a unit test keeps the two equal).
ALERT_INPUT_STREAMS: tuple[str, ...] = ("PATROL", "ALERTS", "VISITORS")


# (stream, consumer name) per service; the durable is `<service>-<name>`.
SERVICE_CONSUMERS: dict[str, tuple[tuple[str, str], ...]] = {
    # ALERTS: what became of alerts and who was paged (loop closure on the SSO's phone);
    # SENSORS: each sensor alert becomes a zone check for the nearest on-duty SSO.
    "patrol": (
        ("PATROL", "patrol"),
        ("CONCERNS", "concerns"),
        ("ALERTS", "alerts"),
        ("SENSORS", "sensors"),
        ("CALENDAR", "calendar"),
    ),
    # CALENDAR: confirmed day types (no school, early release, late start) into each
    # service's own table (lookout/kernel/day_types.py).
    "visitors": (("VISITORS", "sightings"), ("CALENDAR", "calendar")),
    "alerts": (
        ("CONCERNS", "concerns"),
        *((stream, stream.lower()) for stream in ALERT_INPUT_STREAMS),
        ("CALENDAR", "calendar"),
    ),
    # The read model reads every domain stream.
    "reports": (
        ("PATROL", "patrol"),
        ("CONCERNS", "concerns"),
        ("VISITORS", "visitors"),
        ("ALERTS", "alerts"),
        ("CALENDAR", "calendar"),
    ),
}

# Request-reply subjects each service answers
# (`query|command.<school>.<service>.<name>.<person>`).
SERVICE_REQUESTS: dict[str, tuple[str, ...]] = {
    "patrol": ("query.*.patrol.*.*",),
    "visitors": ("command.*.visitors.*.*", "query.*.visitors.*.*"),
    "alerts": ("command.*.alerts.*.*", "query.*.alerts.*.*"),
    "reports": ("command.*.reports.*.*", "query.*.reports.*.*"),
}

# Streams a service replays from the start (`lookout reports rebuild`) with its one replay
# consumer (`replay_consumer`): it may create, read and delete that consumer on them, only.
SERVICE_REPLAYS: dict[str, tuple[str, ...]] = {
    "reports": ("PATROL", "CONCERNS", "VISITORS", "ALERTS"),
}


# What the web service listens to for live updates of the SSO's Today screen, the consoles'
# alert boards and the front desk's roster (core subscriptions, services/web/live.py; a unit
# test keeps the two equal), in its schools only.
WEB_HEARS: tuple[type[Event], ...] = (
    patrol_events.UnannouncedCheckScheduled,
    patrol_events.FollowUpDue,
    patrol_events.CheckWindowClosed,
    patrol_events.CheckRecovered,
    patrol_events.FollowUpCompleted,
    patrol_events.FollowUpMissed,
    patrol_events.ConcernRaised,
    patrol_events.ConcernUpdated,
    patrol_events.ConcernResolved,
    alert_events.AlertOpened,
    alert_events.AlertEscalated,
    alert_events.AlertNotified,
    alert_events.AlertAcknowledged,
    alert_events.AlertResolved,
    alert_events.AlertNotification,
    patrol_events.SensorCheckAssigned,
    patrol_events.SensorCheckDone,
    patrol_events.SensorCheckMissed,
    visitor_events.VisitorCheckedIn,
    visitor_events.VisitorCheckedOut,
    visitor_events.ScreeningFlagged,
    visitor_events.VisitorOverdue,
    visitor_events.VisitorOutOfBounds,
    visitor_events.VisitorUnaccounted,
    visitor_events.DrillStarted,
    visitor_events.VisitorAccountedFor,
    visitor_events.DrillEnded,
)


# Who originates what is the one permission model of the roles (lookout/school/permissions.py);
# the web service derives what a person may do over HTTP from the same table.
@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = False


@dataclass(frozen=True)
class NatsUser:
    name: str
    description: str
    permissions: Permissions | None  # None: unrestricted (admin)
    school: str | None = None
    person: str | None = None
    service: str | None = None

    @property
    def inbox(self) -> str:
        return inbox_prefix(self.name)


def _for_school(model: type[Event], school: str) -> str:
    spec = BY_MODEL[model]
    return spec.wildcard.replace("*", school, 1)


def service_permissions(service: str) -> Permissions:
    user = service_user(service)
    publish: list[str] = [BY_MODEL[m].wildcard for m in SERVICE_EMITS[service]]
    publish.append(f"dlq.{service}")
    streams: list[str] = []
    for stream, name in SERVICE_CONSUMERS[service]:
        d = durable(service, name)
        api = "$JS.API.CONSUMER"
        publish += [
            f"{api}.INFO.{stream}.{d}",
            f"{api}.CREATE.{stream}.{d}",
            f"{api}.CREATE.{stream}.{d}.>",
            f"{api}.DURABLE.CREATE.{stream}.{d}",
            f"{api}.MSG.NEXT.{stream}.{d}",
            f"$JS.ACK.{stream}.{d}.>",
        ]
        if stream not in streams:
            streams.append(stream)
    for stream in SERVICE_REPLAYS.get(service, ()):
        api = "$JS.API.CONSUMER"
        r = replay_consumer(service)
        publish += [
            f"{api}.CREATE.{stream}.{r}",
            f"{api}.CREATE.{stream}.{r}.>",
            f"{api}.INFO.{stream}.{r}",
            f"{api}.MSG.NEXT.{stream}.{r}",
            f"{api}.DELETE.{stream}.{r}",
        ]
    if "DLQ" not in streams:
        streams.append("DLQ")
    publish += [f"$JS.API.STREAM.INFO.{s}" for s in streams]
    subscribe = [*SERVICE_REQUESTS[service], f"{inbox_prefix(user)}.>"]
    return Permissions(tuple(publish), tuple(subscribe), allow_responses=True)


def person_permissions(school: str, person_id: str, roles: Iterable[Role]) -> Permissions | None:
    """The union of what the person's roles allow in their school (None: no Lookout access)."""
    user = person_user(school, person_id)
    publish: list[str] = []
    subscribe: list[str] = []
    for role in roles:
        publish += [_for_school(m, school) for m in ROLE_EVENTS.get(role, ())]
        # Requests end in the person's own id: the service takes who acts from there.
        publish += [
            f"{kind}.{school}.{service}.*.{person_id}"
            for kind, service in ROLE_REQUESTS.get(role, ())
        ]
        publish += [
            f"{kind}.{school}.{service}.{name}.{person_id}"
            for kind, service, name in ROLE_REQUEST_NAMES.get(role, ())
        ]
        if role == Role.SSO:
            subscribe.append(f"patrol.{school}.sso.{person_id}.>")
        elif role in (Role.PRINCIPAL, Role.ASSISTANT_PRINCIPAL):
            subscribe.append(f"alert.{school}.>")
        elif role in (Role.COUNSELOR, Role.DISTRICT_SAFETY):
            # Escalation steps reach them: their own notifications.
            subscribe.append(f"alert.{school}.notify.{person_id}")
        # Role.ADMIN (school admin) edits the school file: no NATS access.
    if not publish and not subscribe:
        return None
    subscribe.append(f"{inbox_prefix(user)}.>")
    return Permissions(tuple(dict.fromkeys(publish)), tuple(dict.fromkeys(subscribe)))


# What the web service publishes for no person: its sensor ingress turns each vendor's
# message into these, as the sensor the message proved itself to be.
WEB_SENSOR_EVENTS: tuple[type[Event], ...] = (
    sensor_events.SensorAlertRaised,
    sensor_events.SensorAlertCleared,
)


# What the web publishes for the console's calendar page, as the principal or district safety
# the page checked (they have no NATS user of their own for it): a day type confirmed or withdrawn.
WEB_CALENDAR_EVENTS: tuple[type[Event], ...] = (
    calendar_events.DayTypeConfirmed,
    calendar_events.DayTypeWithdrawn,
)


def web_permissions(
    people: Iterable[tuple[str, str, Iterable[Role]]], schools: Iterable[str]
) -> Permissions:
    """The web service's: the union of what the people it serves ((school, person id, roles))
    may publish and ask, as each of them; the live-update subjects of its schools; its replies.
    Derived from `person_permissions`, so the web can never do more than its people can."""
    user = service_user(WEB)
    publish: list[str] = []
    for school, person_id, roles in people:
        perms = person_permissions(school, person_id, roles)
        if perms is not None:
            publish += perms.publish
    schools = list(schools)
    publish += [
        BY_MODEL[model].for_school(school) for school in schools for model in WEB_SENSOR_EVENTS
    ]
    publish += [
        BY_MODEL[model].for_school(school) for school in schools for model in WEB_CALENDAR_EVENTS
    ]
    subscribe = [_hears(model, school) for school in schools for model in WEB_HEARS]
    subscribe.append(f"{inbox_prefix(user)}.>")
    return Permissions(tuple(dict.fromkeys(publish)), tuple(dict.fromkeys(subscribe)))


def _hears(model: type[Event], school: str) -> str:
    """The model's subject in one school, any addressee (`patrol.lhs.sso.*.…`)."""
    spec = BY_MODEL[model]
    return spec.for_school(school, **{p: "*" for p in spec.placeholders if p != "school"})


def deployment_users(
    schools: Mapping[str, SchoolConfig], services: Sequence[str] = tuple(SERVICE_CONSUMERS)
) -> list[NatsUser]:
    from lookout.kernel.queries import OPERATOR
    from lookout.kernel.settings import SchoolConfigError

    users = [NatsUser(ADMIN, "operators: stream provisioning, tail, dlq", None)]
    for service in services:
        users.append(
            NatsUser(
                service_user(service),
                f"the {service} service",
                service_permissions(service),
                service=service,
            )
        )
    people = [(school_id, p.id, p.roles) for school_id, s in schools.items() for p in s.people]
    users.append(
        NatsUser(
            service_user(WEB),
            "the web service: publishes and asks for the people it serves",
            web_permissions(people, schools),
            service=WEB,
        )
    )
    for school_id, school in schools.items():
        for person in school.people:
            if person.id == OPERATOR:  # the operator CLI's identity: it would act as them
                raise SchoolConfigError(
                    f"school {school_id}: person id {OPERATOR!r} is reserved for the operator CLI"
                )
            perms = person_permissions(school_id, person.id, person.roles)
            if perms is None:
                continue
            roles = ", ".join(str(r) for r in person.roles)
            users.append(
                NatsUser(
                    person_user(school_id, person.id),
                    f"{roles} of {school_id}",
                    perms,
                    school=school_id,
                    person=person.id,
                )
            )
    return users


# --- rendering ---------------------------------------------------------------------------------


def _q(text: str) -> str:
    return json.dumps(text)  # a double-quoted string the NATS config parser reads literally


def _list(items: Iterable[str]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"


def render_auth(users: Sequence[NatsUser], hashes: Mapping[str, str]) -> str:
    """The `authorization { users = [...] }` block (included by the server config)."""
    lines = [
        "# Generated by `lookout deploy nats-config`: users, bcrypt password hashes, permissions.",
        "# Regenerate (and redistribute the credentials/) to rotate; do not edit by hand.",
        "authorization {",
        "  users = [",
    ]
    for user in users:
        lines.append(f"    # {user.name}: {user.description}")
        head = f"    {{user: {_q(user.name)}, password: {_q(hashes[user.name])}"
        if user.permissions is None:
            lines.append(head + "}")
            continue
        p = user.permissions
        lines.append(head + ", permissions: {")
        lines.append(f"      publish: {{allow: {_list(p.publish)}}}")
        lines.append(f"      subscribe: {{allow: {_list(p.subscribe)}}}")
        if p.allow_responses:
            lines.append("      allow_responses: true")
        lines.append("    }}")
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


def hash_password(password: str, rounds: int = 11) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


@dataclass
class GeneratedConfig:
    users: list[NatsUser]
    passwords: dict[str, str] = field(repr=False)
    auth_file: Path
    credentials_dir: Path


def credentials_env(user: NatsUser, password: str) -> str:
    return (
        f"# NATS credentials of {user.name} ({user.description})\n"
        f"LOOKOUT_NATS_USER={user.name}\n"
        f"LOOKOUT_NATS_PASSWORD={password}\n"
        f"LOOKOUT_NATS_INBOX_PREFIX={user.inbox}\n"
    )


def write_secret_file(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600). The mode is set on the open descriptor
    before any byte is written, so a file left by an earlier run with a wider mode (0644) is
    narrowed too, and no reader ever sees a secret through a wider mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(fd, 0o600)
        f.write(text)


def generate(schools: Mapping[str, SchoolConfig], out: Path, rounds: int = 11) -> GeneratedConfig:
    """Write `auth.conf` (bcrypt hashes: an offline guessing target) and
    `credentials/<user>.env` under `out`, every one mode 0600."""
    users = deployment_users(schools)
    passwords = {u.name: secrets.token_urlsafe(24) for u in users}
    hashes = {name: hash_password(pw, rounds) for name, pw in passwords.items()}
    out.mkdir(parents=True, exist_ok=True)
    auth = out / "auth.conf"
    write_secret_file(auth, render_auth(users, hashes))
    creds = out / "credentials"
    creds.mkdir(exist_ok=True)
    os.chmod(creds, 0o700)
    for user in users:
        write_secret_file(creds / f"{user.name}.env", credentials_env(user, passwords[user.name]))
    return GeneratedConfig(users, passwords, auth, creds)


# --- CLI -----------------------------------------------------------------------------------------

app = typer.Typer(help="Deployment: NATS users and permissions, stream provisioning.")


def _schools_for(ids: list[str], files: list[Path] | None) -> dict[str, SchoolConfig]:
    from lookout.kernel.settings import SchoolConfigError, Settings, load_school

    paths = files or Settings().school_paths()
    loaded: dict[str, SchoolConfig] = {}
    for path in paths:
        school = load_school(path)
        loaded[school.id] = school
    missing = [i for i in ids if i not in loaded]
    if missing:
        known = ", ".join(sorted(loaded)) or "none"
        raise SchoolConfigError(
            f"no school file for {', '.join(missing)} (loaded: {known}); "
            "pass --school-file PATH or set LOOKOUT_SCHOOLS"
        )
    return {i: loaded[i] for i in ids}


@app.command("nats-config")
def nats_config(
    schools: str = typer.Option(..., help="school ids, comma-separated: lhs,mhs"),
    out: Path = typer.Option(Path("deploy/nats/generated"), help="output directory"),
    school_file: list[Path] = typer.Option(
        None, "--school-file", help="school YAML (repeat); default: LOOKOUT_SCHOOLS"
    ),
    rounds: int = typer.Option(11, min=4, max=16, help="bcrypt cost"),
) -> None:
    """Users per person, role and service with bcrypt hashes and allow-list permissions."""
    ids = [s.strip() for s in schools.split(",") if s.strip()]
    if not ids:
        raise typer.BadParameter("give at least one school id", param_hint="--schools")
    from lookout.kernel.settings import SchoolConfigError

    try:
        result = generate(_schools_for(ids, school_file), out, rounds)
    except SchoolConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for user in result.users:
        typer.echo(f"{user.name:32} {user.description}")
    typer.echo(
        f"wrote {result.auth_file} ({len(result.users)} users) and "
        f"{result.credentials_dir}/<user>.env (secrets: hand each to its owner only)"
    )


@app.command("streams")
def streams() -> None:
    """Create or update every stream (run once per deploy with the admin user's credentials)."""
    from lookout.kernel.messaging import ensure_streams
    from lookout.kernel.settings import Settings

    settings = Settings()
    try:
        asyncio.run(ensure_streams(settings))
    except Exception as exc:
        typer.echo(f"error: cannot provision streams: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"streams ready: {', '.join(STREAMS)} (replicas={settings.stream_replicas})")
