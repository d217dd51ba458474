"""Who originates what: the one permission model of the people's roles.

`lookout deploy nats-config` turns it into NATS permissions (lookout/deploy/nats.py) and the web
service into what a signed-in person may do over HTTP (services/web/domain.py); a unit test
enumerates every role and event type and checks that the two agree. A role publishes only what
it originates, in its own school.
"""

from __future__ import annotations

from collections.abc import Iterable

from lookout.contracts import patrol as patrol_events
from lookout.contracts import visitors as visitor_events
from lookout.contracts.envelope import Event
from lookout.school.config import Role

# What an SSO's phone emits: scans, observations, contacts, heartbeats, concerns, sightings.
SSO_PUBLISHES: tuple[type[Event], ...] = (
    patrol_events.CheckpointScanned,
    patrol_events.ObservationLogged,
    patrol_events.ContactLogged,
    patrol_events.DeviceHeartbeat,
    patrol_events.ConcernRaised,
    patrol_events.ConcernUpdated,
    patrol_events.ConcernResolved,
    visitor_events.VisitorSighted,
)

# What each role originates in its own school: the events it emits, and the services it sends
# requests to (`<kind>.<school>.<service>.*.<own person id>`). Nothing else is published.
ROLE_EVENTS: dict[Role, tuple[type[Event], ...]] = {Role.SSO: SSO_PUBLISHES}
# The console's roles also read the school's weekly summaries (the archive; the district
# roll-up only district safety, which the reports service checks).
_ALERT_REQUESTS = (("command", "alerts"), ("query", "alerts"), ("query", "reports"))
# The school's own leaders (legitimate educational interest: open concerns carry student
# references, which the patrol service access-logs under the asker) also ask the patrol service
# for the console's "Needs your attention" and "School now"; district safety does not.
_LEADER_REQUESTS = (*_ALERT_REQUESTS, ("query", "patrol"))
ROLE_REQUESTS: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.SSO: (("query", "patrol"),),
    Role.FRONT_OFFICE: (("command", "visitors"), ("query", "visitors")),
    Role.PRINCIPAL: _LEADER_REQUESTS,
    Role.ASSISTANT_PRINCIPAL: _LEADER_REQUESTS,
    Role.COUNSELOR: _LEADER_REQUESTS,
    Role.DISTRICT_SAFETY: _ALERT_REQUESTS,
}


def may_publish(roles: Iterable[Role], event_type: str) -> bool:
    """Whether a person with these roles originates events of this `type`."""
    return any(m.event_type() == event_type for r in roles for m in ROLE_EVENTS.get(r, ()))


# Single requests a role sends beyond ROLE_REQUESTS (`<kind>.<school>.<service>.<name>.<own id>`):
# escalation steps page the SSO, so their phone turns alert pushes on and off for its own
# browser; they acknowledge and resolve nothing. District safety confirms school calendar days
# on the console, so it reads the day types the patrol service plans by (no student in them).
ROLE_REQUEST_NAMES: dict[Role, tuple[tuple[str, str, str], ...]] = {
    Role.SSO: (("command", "alerts", "push_subscribe"), ("command", "alerts", "push_unsubscribe")),
    Role.DISTRICT_SAFETY: (("query", "patrol", "day_types"),),
}


def may_request(roles: Iterable[Role], kind: str, service: str, name: str | None = None) -> bool:
    """Whether a person with these roles sends `kind` requests (command|query) to `service`:
    all of them, or (with `name`) that one request."""
    held = tuple(roles)
    if any((kind, service) in ROLE_REQUESTS.get(r, ()) for r in held):
        return True
    return name is not None and any(
        (kind, service, name) in ROLE_REQUEST_NAMES.get(r, ()) for r in held
    )
