"""What a person may send over HTTP is what their NATS user may publish: every role and every
event type of the catalogue, the web's rule against the permissions `deploy nats-config` writes."""

from __future__ import annotations

import pytest

from lookout.cli.docs import subject_matches
from lookout.contracts.subjects import CATALOGUE
from lookout.deploy.nats import person_permissions
from lookout.school.config import Role
from services.web.domain import may_send_event


@pytest.mark.parametrize("role", list(Role))
def test_http_and_nats_agree_for_every_event_type(role: Role) -> None:
    perms = person_permissions("lhs", "p-1", [role])
    publish = perms.publish if perms is not None else ()
    for spec in CATALOGUE:
        subject = spec.wildcard.replace("*", "lhs", 1)  # this school, any other token
        over_nats = any(subject_matches(allowed, subject) for allowed in publish)
        assert may_send_event([role], spec.type) == over_nats, (role, spec.type)


def test_only_the_sso_sends_events_and_only_its_phone_events() -> None:
    sendable = {
        role: sorted(s.type for s in CATALOGUE if may_send_event([role], s.type)) for role in Role
    }
    assert sendable.pop(Role.SSO) == sorted(
        [
            "checkpoint.scanned",
            "observation.logged",
            "contact.logged",
            "device.heartbeat",
            "concern.raised",
            "concern.updated",
            "concern.resolved",
            "visitor.sighted",
        ]
    )
    assert all(types == [] for types in sendable.values())
