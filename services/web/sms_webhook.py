"""Replies to alert text messages: `POST /sms/inbound`, where the SMS provider (a Twilio-compatible
API, lookout/kernel/settings.py `sms_*`) posts each text a person sends back, form-encoded
(`From`, `To`, `Body`, `MessageSid`…).

The provider's signature is the proof: `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, the
public URL it posted to + each parameter's name and value, sorted by name)), compared in
constant time. No session and no CSRF token (the provider has neither, and its signature is a
stronger proof of origin than an Origin header); a missing or wrong signature is a 403. The
sender's number (`From`) picks the person of the school files whose `phone` it is, and the
reply code (`1a`, ` 1A `) goes to the alerts service as that person
(`command.<school>.alerts.sms_reply.<person>`); its answer is texted back in TwiML. A number
that is no one's gets the very 403 a bad signature gets, so the webhook does not tell which
numbers belong to the school. Neither the body nor the number is ever logged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lookout.contracts.alerts import SmsReplyRequest, SmsReplyResult
from lookout.kernel.queries import command_subject
from lookout.school.config import Person, SchoolConfig
from lookout.school.permissions import may_request
from services.web import asking
from services.web.deps import State, WebState
from services.web.problems import Problem, problem_response

log = logging.getLogger("lookout.web")

router = APIRouter(tags=["sms"])

PATH = "/sms/inbound"
SIGNATURE_HEADER = "x-twilio-signature"
TWIML = "application/xml"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
CODE = re.compile(r"^\s*([0-9]{1,3})\s*([ace])\s*$", re.IGNORECASE)

HOW_TO_REPLY = (
    "Lookout: reply with the alert's number and a letter, e.g. 1a to acknowledge alert 1 or 1e "
    "to escalate it now. Resolving needs the console."
)
NOT_FOR_ROLE = "Lookout: your role does not acknowledge alerts, by text or otherwise."
NO_SUCH_CODE = (
    "Lookout: no alert of yours has that number. Reply with the number your alert text gave."
)
UNAVAILABLE = (
    "Lookout could not take your reply just now. Acknowledge in the console or the email link."
)


# --- the rules (pure) ----------------------------------------------------------------------------


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """What the provider signs a webhook with: the URL, then each parameter's name and value
    sorted by name (a name given twice: its values sorted too), HMAC-SHA1, base64."""
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_ok(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None
) -> bool:
    """Whether `signature` is the provider's for this request (constant-time compare). No auth
    token configured: nothing is the provider's."""
    if not auth_token or not signature:
        return False
    expected = twilio_signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def reply_code(body: str) -> str | None:
    """A reply's code as the alerts service takes it (`1a`, ` 1A `, `1 a` → `1a`); None for
    anything else."""
    match = CODE.match(body)
    return f"{int(match.group(1))}{match.group(2).lower()}" if match else None


def sender(schools: Iterable[SchoolConfig], number: str) -> tuple[SchoolConfig, Person] | None:
    """The one person of the school files whose phone is `number`; None for no one, or for a
    number two people share (a reply must act as exactly one person)."""
    number = number.strip()
    found = [
        (school, person)
        for school in schools
        for person in school.people
        if number and person.phone == number
    ]
    return found[0] if len(found) == 1 else None


def twiml(message: str) -> Response:
    body = f"{XML_DECLARATION}<Response><Message>{escape(message)}</Message></Response>"
    return Response(body, media_type=TWIML)


# --- the route -----------------------------------------------------------------------------------


def _refused() -> Response:
    # One answer for a bad signature and for a number that is no one's: nothing to enumerate.
    return problem_response(403, "Not signed by the SMS provider", "X-Twilio-Signature: not valid")


def _code_refusal(error: str) -> Problem | None:
    if error.split(":", 1)[0] == "code":
        return Problem(404, "No such alert code")
    return None


async def _answer(state: WebState, school: SchoolConfig, person: Person, code: str) -> str:
    subject = command_subject(school.id, "alerts", "sms_reply", person.id)
    try:
        result = await asking.ask(
            state, "alerts", subject, SmsReplyRequest(code=code), _code_refusal
        )
        reply = asking.read("alerts", SmsReplyResult, result)
    except Problem as exc:
        log.warning(
            "event=sms_reply_failed school=%s person=%s status=%s", school.id, person.id, exc.status
        )
        return NO_SUCH_CODE if exc.status == 404 else UNAVAILABLE
    log.info(
        "event=sms_reply school=%s person=%s alert_id=%s action=%s",
        school.id,
        person.id,
        reply.alert_id,
        reply.action.value,
    )
    return reply.message


@router.post(
    PATH,
    summary="The SMS provider's webhook: a reply to an alert text",
    response_class=Response,
    responses={
        200: {"description": "TwiML: the text sent back", "content": {TWIML: {}}},
        403: {"description": "Not signed by the provider (or a number that is no one's)"},
    },
)
async def inbound(request: Request, state: State) -> Response:
    """No session and no CSRF token: the provider's signature proves the request (module doc)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    params = parse_qsl(raw, keep_blank_values=True)
    # The URL the provider was given: the public base (behind a proxy the request's own host
    # and scheme are the proxy's), this path, and its query as sent.
    url = state.base_url + PATH + (f"?{request.url.query}" if request.url.query else "")
    token = state.settings.sms_auth_token.get_secret_value()
    if not signature_ok(token, url, params, request.headers.get(SIGNATURE_HEADER)):
        log.warning("event=sms_reply_refused reason=%s", "signature" if token else "no_auth_token")
        return _refused()
    fields = dict(params)
    who = sender(state.schools.values(), fields.get("From", ""))
    if who is None:
        log.warning("event=sms_reply_refused reason=unknown_sender")
        return _refused()
    school, person = who
    if not may_request(person.roles, "command", "alerts"):
        log.info("event=sms_reply_refused reason=role school=%s person=%s", school.id, person.id)
        return twiml(NOT_FOR_ROLE)
    code = reply_code(fields.get("Body", ""))
    if code is None:
        return twiml(HOW_TO_REPLY)
    return twiml(await _answer(state, school, person, code))
