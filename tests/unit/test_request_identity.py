"""Who acts in a command or query is the request subject's last token (which NATS permissions
confine each user to), never a body field: lookout.kernel.queries.answer fills it in and refuses
a body that names it; the CLI's body leaves it out."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import BaseModel

from lookout.contracts.alerts import AckRequest, ListRequest, ShowRequest
from lookout.contracts.patrol_queries import OpenConcernsRequest
from lookout.contracts.requests import REQUESTS
from lookout.contracts.visitors import SignOut
from lookout.kernel.queries import (
    OPERATOR,
    acting_field,
    acting_person,
    answer,
    command_subject,
    query_subject,
    request_body,
    request_person,
    request_school,
)

ALERT = uuid.UUID(int=7)


class Seen:
    def __init__(self) -> None:
        self.requests: list[BaseModel] = []

    async def __call__(self, request: BaseModel) -> BaseModel:
        self.requests.append(request)
        return request


async def test_the_acting_person_comes_from_the_subject() -> None:
    seen = Seen()
    subject = command_subject("lhs", "alerts", "ack", "ap-chen")
    assert subject == "command.lhs.alerts.ack.ap-chen"
    reply = await answer(json.dumps({"alert_id": str(ALERT)}).encode(), AckRequest, seen, subject)
    assert reply == {"ok": True, "result": {"alert_id": str(ALERT), "by_person_id": "ap-chen"}}
    assert seen.requests == [AckRequest(alert_id=ALERT, by_person_id="ap-chen")]


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (AckRequest, {"alert_id": str(ALERT), "by_person_id": "principal-okafor"}, "by_person_id"),
        (ShowRequest, {"alert_id": str(ALERT), "by_person_id": "principal-okafor"}, "by_person_id"),
        (OpenConcernsRequest, {"requested_by": "principal-okafor"}, "requested_by"),
        (
            SignOut,
            {"badge_number": "1123-001", "signed_out_by": "principal-okafor"},
            "signed_out_by",
        ),
    ],
)
async def test_a_body_that_names_who_acts_is_refused_naming_the_field_only(
    model: type[BaseModel], body: dict[str, Any], field: str
) -> None:
    seen = Seen()
    subject = query_subject("lhs", "any", "name", "sso-rivera")
    reply = await answer(json.dumps(body).encode(), model, seen, subject)
    assert reply == {
        "ok": False,
        "error": f"invalid request: {field}: the acting person is the subject's last token, "
        "not a body field",
    }
    assert seen.requests == []


async def test_a_subject_token_that_is_no_person_id_is_refused_without_its_value() -> None:
    seen = Seen()
    body = json.dumps({"alert_id": str(ALERT)}).encode()
    reply = await answer(body, AckRequest, seen, "command.lhs.alerts.ack.Jane Doe!")
    assert reply["ok"] is False
    assert reply["error"].startswith("invalid request: by_person_id: String should match pattern")
    assert "Jane" not in reply["error"]
    # A subject of another shape (no person token) names nobody.
    reply = await answer(body, AckRequest, seen, "command.lhs.alerts.ack")
    assert reply["error"].startswith("invalid request: by_person_id: String should match pattern")
    assert seen.requests == []


async def test_requests_without_an_acting_field_and_bad_bodies() -> None:
    seen = Seen()
    subject = query_subject("lhs", "alerts", "list", "principal-okafor")
    assert await answer(b"{}", ListRequest, seen, subject) == {
        "ok": True,
        "result": {"open_only": True, "limit": 100, "resolved_since": None, "with_notified": False},
    }
    reply = await answer(b"{not json", AckRequest, seen, subject)
    assert reply["error"].startswith("invalid request: <root>: Invalid JSON")
    reply = await answer(b"[1]", AckRequest, seen, subject)
    assert reply["ok"] is False and reply["error"].startswith("invalid request: <root>:")


def test_subject_parts_and_the_clients_body() -> None:
    subject = "query.lhs.patrol.open_concerns.sso-rivera"
    assert (request_school(subject), request_person(subject)) == ("lhs", "sso-rivera")
    assert (request_school("query.lhs.patrol"), request_person("query.lhs.patrol")) == ("", "")
    ack = AckRequest(alert_id=ALERT, by_person_id="ap-chen")
    assert json.loads(request_body(ack)) == {"alert_id": str(ALERT)}
    assert acting_person(ack) == "ap-chen"
    listing = ListRequest()
    assert json.loads(request_body(listing)) == {
        "open_only": True,
        "resolved_since": None,
        "limit": 100,
        "with_notified": False,
    }
    assert acting_person(listing) == OPERATOR == "cli"


def test_every_catalogued_request_names_an_existing_acting_field() -> None:
    fields = {(spec.service, spec.name): acting_field(spec.model) for spec in REQUESTS}
    for spec in REQUESTS:
        field = fields[(spec.service, spec.name)]
        assert field is None or field in spec.model.model_fields, spec
    assert {k for k, v in fields.items() if v is None} == {
        ("visitors", "roster"),
        ("visitors", "held"),
        ("visitors", "end_of_day"),
        ("visitors", "drill"),
        ("alerts", "list"),
        ("alerts", "push_subscribe"),  # the subject's person subscribes their own browser
        ("alerts", "push_unsubscribe"),
        ("alerts", "sms_reply"),  # the webhook matched the number to that person
        ("reports", "weekly"),
        ("reports", "archive"),
        ("reports", "sent_copy"),
        ("reports", "send"),
        ("reports", "rebuild"),
    }


@pytest.mark.parametrize(
    "args", [["alerts", "list", "--by", "a.b"], ["visitors", "roster", "--by", "a.*"]]
)
def test_the_cli_refuses_a_by_that_is_no_subject_token(args: list[str]) -> None:
    from typer.testing import CliRunner

    from lookout.cli.main import app

    result = CliRunner().invoke(app, args, env={"LOOKOUT_NATS_URL": "nats://127.0.0.1:1"})
    assert (result.exit_code, result.stderr) == (
        2,
        "lookout: error: by: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'\n",
    )
