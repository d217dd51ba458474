"""What a person may ask over HTTP (the phone's Today screen asks the patrol service) is what
their NATS user may request: every role and every command and query of the catalogue."""

from __future__ import annotations

import pytest

from lookout.cli.docs import subject_matches
from lookout.contracts.requests import REQUESTS
from lookout.deploy.nats import person_permissions
from lookout.school.config import Role
from lookout.school.permissions import may_request


@pytest.mark.parametrize("role", list(Role))
def test_http_and_nats_agree_for_every_request(role: Role) -> None:
    perms = person_permissions("lhs", "p-1", [role])
    publish = perms.publish if perms is not None else ()
    for spec in REQUESTS:
        over_nats = any(subject_matches(allowed, spec.subject("lhs", "p-1")) for allowed in publish)
        allowed = may_request([role], spec.kind, spec.service, spec.name)
        assert allowed == over_nats, (role, spec.name)


def test_the_sso_turns_alert_pushes_on_and_off_and_commands_nothing_else() -> None:
    commands = [s.name for s in REQUESTS if s.kind == "command" and s.service == "alerts"]
    assert sorted(n for n in commands if may_request([Role.SSO], "command", "alerts", n)) == [
        "push_subscribe",
        "push_unsubscribe",
    ]
    assert may_request([Role.SSO], "command", "alerts") is False  # not the whole service


def test_the_sso_and_the_schools_leaders_ask_the_patrol_service() -> None:
    askers = sorted(r.value for r in Role if may_request([r], "query", "patrol"))
    assert askers == ["assistant_principal", "counselor", "principal", "sso"]
