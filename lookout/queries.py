"""Request-reply for queries and commands: typed requests, and an error reply — never a timeout.

Request subjects live outside every stream's subjects (`query.<school>.<service>.<name>`,
`command.<school>.<service>.<name>`): a request on `patrol.…` would be captured by the PATROL
stream and answered with a PubAck instead of by the service.
"""

from __future__ import annotations

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


def query_subject(school: str, service: str, name: str) -> str:
    return f"query.{school}.{service}.{name}"


def command_subject(school: str, service: str, name: str) -> str:
    return f"command.{school}.{service}.{name}"


def request_subscriber(subject: str, service: str) -> dict[str, Any]:
    """Subscriber arguments for a request handler: a queue group so replicas share the load,
    and the raw body, which `answer` validates itself so a bad request gets an error reply."""
    return {"subject": subject, "queue": f"{service}-requests", "decoder": _raw_body}


async def _raw_body(message: Any) -> Any:
    return message.body


async def answer(
    raw: bytes,
    request_model: type[Request],
    handle: Callable[[Request], Awaitable[BaseModel]],
) -> dict[str, Any]:
    """Validate, handle, and shape the reply as `{"ok": true, "result": …}` or an ErrorReply."""
    try:
        request = request_model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        return ErrorReply(error=f"invalid request: {describe(exc)}").model_dump()
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
