"""Request-reply for queries and commands: typed requests, and an error reply — never a timeout.

Request subjects live outside every stream's subjects (`query.<school>.<service>.<name>.<person>`,
`command.<school>.<service>.<name>.<person>`): a request on `patrol.…` would be captured by the
PATROL stream and answered with a PubAck instead of by the service.

Who asks is the subject's last token, never a body field: `lookout deploy nats-config` confines
each person's NATS user to request subjects ending in their own id, so the server vouches for it
(the operator's CLI, under the unrestricted admin user, acts as `cli` unless told otherwise).
A request model names the field that holds the acting person (`ACTING_FIELD`, e.g.
`by_person_id`); the service fills it in from the subject, and a body that sets it is refused.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.exc import DBAPIError

from lookout.contracts.subjects import describe

log = logging.getLogger("lookout.queries")

Request = TypeVar("Request", bound=BaseModel)


class Refused(Exception):
    """The request was well-formed but cannot be answered (unknown id, missing note…)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ErrorReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ok: Literal[False] = False
    error: str


# The acting identity of the operator's CLI (admin credentials, or no auth in development).
OPERATOR = "cli"


def query_subject(school: str, service: str, name: str, person: str) -> str:
    """`query.<school>.<service>.<name>.<person>`; `*` for any of them in a subscription."""
    return f"query.{school}.{service}.{name}.{person}"


def command_subject(school: str, service: str, name: str, person: str) -> str:
    """`command.<school>.<service>.<name>.<person>`; `*` for any of them in a subscription."""
    return f"command.{school}.{service}.{name}.{person}"


def request_school(subject: str) -> str:
    """The school token of a request subject (`""` for a subject of another shape)."""
    tokens = subject.split(".")
    return tokens[1] if len(tokens) == 5 else ""


def request_person(subject: str) -> str:
    """The acting person of a request subject: its last token (`""` for another shape)."""
    tokens = subject.split(".")
    return tokens[4] if len(tokens) == 5 else ""


def acting_field(model: type[BaseModel]) -> str | None:
    """The request field that holds the acting person (filled in from the subject), if any."""
    field = getattr(model, "ACTING_FIELD", None)
    return field if isinstance(field, str) else None


def request_body(request: BaseModel) -> bytes:
    """A request as a client sends it: without its acting-person field (the subject says who)."""
    field = acting_field(type(request))
    return request.model_dump_json(exclude={field} if field else None).encode()


def acting_person(request: BaseModel, default: str = OPERATOR) -> str:
    """The person a client's request acts as (its subject's last token)."""
    field = acting_field(type(request))
    value = getattr(request, field) if field else None
    return str(value) if value else default


def request_subscriber(subject: str, service: str) -> dict[str, Any]:
    """Subscriber arguments for a request handler: a queue group so replicas share the load,
    and the raw body, which `answer` validates itself so a bad request gets an error reply."""
    return {"subject": subject, "queue": f"{service}-requests", "decoder": _raw_body}


async def _raw_body(message: Any) -> Any:
    return message.body


class _ActingInBody(Exception):
    pass


def _with_acting(raw: bytes, field: str, person: str) -> bytes:
    """The body with `field` set to the subject's person; _ActingInBody if the body sets it.
    A body that is not a JSON object is passed on unchanged, for pydantic to name its fault."""
    try:
        payload = json.loads(raw or b"{}")
    except Exception:  # undecodable, too deep, an over-long integer: pydantic says which
        return raw
    if not isinstance(payload, dict):
        return raw
    if field in payload:
        raise _ActingInBody
    payload[field] = person
    return json.dumps(payload).encode()


async def answer(
    raw: bytes,
    request_model: type[Request],
    handle: Callable[[Request], Awaitable[BaseModel]],
    subject: str = "",
) -> dict[str, Any]:
    """Validate, handle, and shape the reply as `{"ok": true, "result": …}` or an ErrorReply.

    A model with an `ACTING_FIELD` gets it from `subject`'s last token (the person the server
    let publish there); a body that carries that field itself is refused, naming the field."""
    field = acting_field(request_model)
    try:
        if field is not None:
            raw = _with_acting(raw, field, request_person(subject))
        request = request_model.model_validate_json(raw or b"{}")
    except _ActingInBody:
        return ErrorReply(
            error=f"invalid request: {field}: the acting person is the subject's last token, "
            "not a body field"
        ).model_dump()
    except ValidationError as exc:
        return ErrorReply(error=f"invalid request: {describe(exc, request_model)}").model_dump()
    try:
        result = await handle(request)
    except Refused as exc:
        return ErrorReply(error=exc.reason).model_dump()
    except Exception as exc:
        # Where it failed, never what with: an exception's message may quote values (a
        # driver's "Failing row contains (name, ID digits, date of birth)").
        log.error(
            "event=request_failed request=%s error=%s%s\n%s",
            request_model.__name__,
            type(exc).__name__,
            _driver_detail(exc),
            "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
        )
        return ErrorReply(error=f"internal error ({type(exc).__name__}); logged").model_dump()
    return {"ok": True, "result": result.model_dump(mode="json")}


def _driver_detail(exc: BaseException) -> str:
    """The database driver's error class and code, which name the fault without its values."""
    if not isinstance(exc, DBAPIError):
        return ""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return f" driver_error={type(orig).__name__}" + (f" code={code}" if code else "")
