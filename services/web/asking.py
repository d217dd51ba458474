"""Asking another service over NATS request-reply on a person's behalf, as every web route
does: a bounded wait (a person is waiting: fail fast and say so), and every way it can go
wrong turned into a problem+json — 503 when the service does not answer, 502 when its answer
cannot be read or it refused for a reason the route does not map, never a traceback.

The subject ends in the signed-in caller's person id (the service acts for them); replies are
`{"ok": true, "result": …}` or `{"ok": false, "error": "<field>: <why>"}` (lookout/kernel/
queries.py). The services' errors name fields, never values, so they may be logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from nats.errors import Error as NatsError
from pydantic import BaseModel, ValidationError

from lookout.kernel.queries import request_body
from services.web.deps import WebState
from services.web.problems import Problem

log = logging.getLogger("lookout.web")

ASK_TIMEOUT_SECONDS = 3.0
M = TypeVar("M", bound=BaseModel)
# A route's reading of a refusal: the problem it means, or None (a 502, logged).
Refusals = Callable[[str], Problem | None]


def _title(service: str) -> str:
    return f"{service.capitalize()} service"


async def ask(
    state: WebState,
    service: str,
    subject: str,
    request: BaseModel | None,
    refusals: Refusals | None = None,
    wait_seconds: float = ASK_TIMEOUT_SECONDS,
) -> Any:
    """The service's `result`, or a Problem."""
    unavailable = Problem(503, f"{_title(service)} unavailable", "retry later")
    if state.nc is None or not state.nc.is_connected:
        raise unavailable
    body = request_body(request) if request is not None else b"{}"
    try:
        message = await state.nc.request(subject, body, timeout=wait_seconds)
    except (NatsError, TimeoutError) as exc:  # no responders, a timeout, a closed connection
        raise unavailable from exc
    try:
        reply = json.loads(message.data)
        ok, result, error = reply["ok"], reply.get("result"), str(reply.get("error", ""))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("event=%s_unreadable school=%s", service, subject.split(".")[1])
        raise Problem(502, f"{_title(service)} answer unreadable") from exc
    if ok:
        return result
    mapped = refusals(error) if refusals is not None else None
    if mapped is not None:
        raise mapped
    # The field the refusal names, never the rest: a reason may quote what was sent.
    field = error.split(":", 1)[0][:64]
    log.warning("event=%s_refused school=%s field=%s", service, subject.split(".")[1], field)
    raise Problem(502, f"{_title(service)} refused", f"{service}: the request was refused")


def read(service: str, model: type[M], result: Any) -> M:
    """The result as the contract's model (JSON mode: the contracts are strict)."""
    try:
        return model.model_validate_json(json.dumps(result))
    except (ValidationError, TypeError, ValueError) as exc:
        log.warning("event=%s_unreadable model=%s", service, model.__name__)
        raise Problem(502, f"{_title(service)} answer unreadable") from exc


async def answer(
    state: WebState,
    service: str,
    subject: str,
    request: BaseModel | None,
    model: type[M],
    refusals: Refusals | None = None,
) -> M:
    """`ask`, then `read` the result as `model`: what most routes want."""
    return read(service, model, await ask(state, service, subject, request, refusals))
