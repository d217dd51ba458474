"""Request-reply from the CLI to a service: build the request, send it, unwrap the reply.

The request subject ends in the acting person (`--by`, default `cli`: the operator); the body
never carries it. With a person's own NATS credentials the server accepts only their own id.

Every failure is a one-line `CliError` naming what went wrong (no service answering, no reply in
time, an unreadable or foreign reply, the service's own error reply); bad fields are a
`UsageError` naming the field.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import BaseModel, ValidationError

from lookout.cli.connect import connect, resolve_nats_url
from lookout.contracts.envelope import Token
from lookout.contracts.subjects import describe
from lookout.kernel.errors import CliError, UsageError
from lookout.kernel.queries import request_body
from lookout.kernel.settings import Settings


class _Acting(BaseModel):
    by: Token


def acting_as(person: str) -> str:
    """`--by` of a request without an acting field (a listing): still a subject token."""
    build_request(_Acting, by=person)
    return person


def build_request(model: type[BaseModel], **fields: Any) -> BaseModel:
    try:
        return model(**fields)
    except ValidationError as exc:
        raise UsageError(describe(exc, model)) from None


def ask_service(
    service: str,
    subject: str,
    request: BaseModel,
    timeout: float,
    unanswered: str | None = None,
) -> Any:
    """Send `request` to `service` on `subject`; return the reply's `result`. `unanswered`, if
    given, is the one error for both no responder and no reply in time."""

    url = resolve_nats_url(Settings())

    async def _go() -> bytes:
        nc = await connect(url)
        try:
            msg = await nc.request(subject, request_body(request), timeout=timeout)
            return bytes(msg.data)
        except NoRespondersError:
            raise CliError(
                unanswered or f"no {service} service answers {subject} at {url}"
            ) from None
        except NatsTimeoutError:
            raise CliError(
                unanswered or f"no reply from the {service} service within {timeout:g}s"
            ) from None
        finally:
            await nc.close()

    raw = asyncio.run(_go())
    try:
        reply = json.loads(raw)
    except ValueError:
        raise CliError(f"the {service} service sent an unreadable reply") from None
    if not isinstance(reply, dict) or "ok" not in reply:
        raise CliError(f"unexpected reply on {subject} (is a stream capturing it?)")
    if not reply["ok"]:
        raise CliError(str(reply.get("error", "refused")))
    return reply["result"]
