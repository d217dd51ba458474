"""The sensor ingress: vape, THC and sound sensors' messages become `sensor.<school>.alert.raised`
and `.cleared` events (the rules are in sensor_messages.py; emails come through sensor_mail.py).

- `POST|GET /sensors/halo/<token>`: a HALO's "external messaging" set/reset string. The token
  in the path (`lookout sensors urls` prints it) is the proof and names the sensor; the body is
  the templated JSON, or the same fields as a query string.
- `POST /sensors/verkada/<school>`: a Verkada `sensor_alert` webhook, signed
  (`Verkada-Signature`, LOOKOUT_VERKADA_SECRET).

No session, no CSRF token: a sensor has neither, and the token or signature proves more than an
Origin header would. Each message is published with `Nats-Msg-Id` = its event id and answered
only after JetStream's PubAck (`stored`, or `duplicate` for an alert it already has); without
an answer from NATS it is a 503 the vendor retries, never a message lost. Refusals are
problem+json (401 token/signature, 404 school/sensor, 422 the field at fault) and counted in
`lookout_web_sensor_refusals_total{vendor, reason}`. Logs name the vendor, the sensor id and
the reason; never a token, a body or a value."""

from __future__ import annotations

import json
import logging
import time
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from nats.errors import Error as NatsError
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, Field

from lookout.contracts.envelope import Event
from lookout.contracts.sensors import SensorVendor
from lookout.contracts.subjects import BY_TYPE, subject_of
from lookout.kernel.messaging import msg_id_headers
from services.web.deps import State, WebState
from services.web.problems import Problem
from services.web.sensor_messages import (
    Malformed,
    halo_event,
    halo_mismatch,
    halo_token_holder,
    parse_halo,
    parse_verkada,
    sensor_secret,
    verkada_event,
    verkada_refusal,
    verkada_sensor,
)

log = logging.getLogger("lookout.web")

router = APIRouter(prefix="/sensors", tags=["sensors"])

HALO_PATH = "/sensors/halo/{token}"
VERKADA_PATH = "/sensors/verkada/{school}"
SIGNATURE_HEADER = "verkada-signature"
PUBLISH_TIMEOUT = 5.0  # JetStream's PubAck takes milliseconds; past this, a 503 (or 451) to retry

# What a refusal is counted as (a label: fixed words only).
REASONS = (
    "token",  # 401: not a token this deployment made
    "signature",  # 401: unsigned, or not signed with the shared secret
    "stale",  # 401: signed more than five minutes from this machine's clock
    "unknown_school",  # 404
    "unknown_sensor",  # 404 (email: 550)
    "malformed",  # 422: a field missing or unreadable
    "mismatch",  # 422: a MAC or name that is not the sensor's
    "sender",  # email: 550, not an allowed sender
    "recipient",  # email: 550, not the sensor alert address
    "unavailable",  # 503 (email: 451): JetStream did not answer; the sender retries
)
# The reasons each vendor can be refused for: the series that start at 0.
VENDOR_REASONS: dict[SensorVendor, tuple[str, ...]] = {
    SensorVendor.HALO: (
        "token", "unknown_school", "unknown_sensor", "malformed", "mismatch", "unavailable"
    ),
    SensorVendor.VERKADA: (
        "signature", "stale", "unknown_school", "unknown_sensor", "malformed", "unavailable"
    ),
    SensorVendor.EMAIL: ("sender", "recipient", "unknown_sensor", "malformed", "unavailable"),
}  # fmt: skip


class Outcome(StrEnum):
    STORED = "stored"  # JetStream stored the event
    DUPLICATE = "duplicate"  # it already had this alert (a retry, or the HALO's email)


class SensorReceipt(BaseModel):
    status: Outcome
    event_id: str = Field(description="The event the message became (the same for a repeat).")


class SensorMetrics:
    """The ingress's counters, in the web's registry (served on the health port)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.refusals = Counter(
            "lookout_web_sensor_refusals",
            "Sensor messages refused, by vendor (halo, verkada, email) and reason",
            ["vendor", "reason"],
            registry=registry,
        )
        self.alerts = Counter(
            "lookout_web_sensor_messages",
            "Sensor messages taken, by vendor and outcome (stored; duplicate: an alert "
            "JetStream already had)",
            ["vendor", "outcome"],
            registry=registry,
        )
        for vendor in SensorVendor:
            for reason in VENDOR_REASONS[vendor]:
                self.refusals.labels(vendor.value, reason)
            for outcome in Outcome:
                self.alerts.labels(vendor.value, outcome.value)

    def refused(self, vendor: SensorVendor, reason: str, sensor_id: str | None = None) -> None:
        self.refusals.labels(vendor.value, reason).inc()
        log.warning(
            "event=sensor_message_refused vendor=%s sensor=%s reason=%s",
            vendor.value,
            sensor_id or "-",
            reason,
        )


def install(app: FastAPI) -> SensorMetrics:
    """Make the ingress's counters in the app's metrics registry."""
    metrics = SensorMetrics(app.state.metrics.registry)
    app.state.sensor_metrics = metrics
    return metrics


class Unavailable(Exception):
    """JetStream did not acknowledge the event: nothing is known to be stored."""


async def publish(state: WebState, event: Event) -> Outcome:
    """Publish with `Nats-Msg-Id` = event id; the outcome after JetStream's PubAck."""
    if state.js is None:
        raise Unavailable
    try:
        ack = await state.js.publish(
            subject_of(event),
            event.model_dump_json().encode(),
            headers=msg_id_headers(event),
            stream=BY_TYPE[event.type].stream,
            timeout=PUBLISH_TIMEOUT,
        )
    except (NatsError, TimeoutError) as exc:
        raise Unavailable from exc
    return Outcome.DUPLICATE if ack.duplicate else Outcome.STORED


async def take(
    request: Request, state: WebState, vendor: SensorVendor, event: Event, sensor_id: str
) -> SensorReceipt:
    """Publish the event and answer after the PubAck, or a 503 the vendor retries."""
    metrics: SensorMetrics = request.app.state.sensor_metrics
    try:
        outcome = await publish(state, event)
    except Unavailable:
        metrics.refused(vendor, "unavailable", sensor_id)
        raise Problem(503, "Event store unavailable", "retry later") from None
    metrics.alerts.labels(vendor.value, outcome.value).inc()
    log.info(
        "event=sensor_message vendor=%s sensor=%s type=%s outcome=%s event_id=%s",
        vendor.value,
        sensor_id,
        event.type,
        outcome.value,
        event.event_id,
    )
    return SensorReceipt(status=outcome, event_id=str(event.event_id))


def refuse(
    request: Request,
    vendor: SensorVendor,
    reason: str,
    status: int,
    title: str,
    detail: str,
    sensor_id: str | None = None,
) -> Problem:
    request.app.state.sensor_metrics.refused(vendor, reason, sensor_id)
    return Problem(status, title, detail)


def _secret(request: Request, state: WebState) -> bytes:
    secret: bytes | None = getattr(request.app.state, "sensor_secret", None)
    if secret is None:
        secret = sensor_secret(state.settings)
        request.app.state.sensor_secret = secret
    return secret


async def _halo_fields(request: Request) -> dict[str, Any]:
    """The message's fields: its JSON body, else its query string (a HALO set to GET, or to a
    POST without a body)."""
    body = await request.body()
    if body.strip():
        try:
            fields = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Malformed("<body>: not JSON") from None
        if not isinstance(fields, dict):
            raise Malformed("<body>: not a JSON object")
        return fields
    return dict(request.query_params)


RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not this deployment's token, or not signed (or signed too long ago)"},
    404: {"description": "No such school, or no such sensor in its school file"},
    422: {"description": "A field is missing, unreadable, or not the sensor's"},
    503: {"description": "JetStream did not answer: retry"},
}


async def halo(token: str, request: Request, state: State) -> SensorReceipt:
    vendor = SensorVendor.HALO
    holder = halo_token_holder(_secret(request, state), token)
    if holder is None:
        raise refuse(request, vendor, "token", 401, "Not a sensor token", "token: not valid")
    school_id, sensor_id = holder
    school = state.schools.get(school_id)
    if school is None:
        raise refuse(request, vendor, "unknown_school", 404, "No such school", "school: unknown")
    sensor = school.sensors.by_id(sensor_id)
    if sensor is None or sensor.vendor is not vendor:
        raise refuse(
            request,
            vendor,
            "unknown_sensor",
            404,
            "No such sensor",
            "sensor: not a HALO sensor of the school file",
            sensor_id,
        )
    try:
        message = parse_halo(await _halo_fields(request))
    except Malformed as exc:
        raise refuse(
            request, vendor, "malformed", 422, "Invalid sensor message", str(exc), sensor_id
        ) from None
    if (mismatch := halo_mismatch(sensor, message)) is not None:
        raise refuse(
            request, vendor, "mismatch", 422, "Not this sensor's message", mismatch, sensor_id
        )
    event = halo_event(school, sensor, message, state.suite_clock.now())
    return await take(request, state, vendor, event, sensor.id)


HALO_DOC = (
    "A HALO's set/reset message: the token is the sensor's (module doc); the JSON body or the "
    "query string holds `name`, `mac`, `eid`, `date`, `time` and `state` (`set` or `reset`). "
    "Answered after JetStream's PubAck."
)
router.add_api_route(
    "/halo/{token}",
    halo,
    methods=["POST"],
    response_model=SensorReceipt,
    summary="A HALO sensor's set or reset message",
    description=HALO_DOC,
    responses=RESPONSES,
)
router.add_api_route(
    "/halo/{token}",
    halo,
    methods=["GET"],
    response_model=SensorReceipt,
    summary="A HALO sensor's set or reset message, as a query string",
    description=HALO_DOC,
    responses=RESPONSES,
    operation_id="halo_get",
)


@router.post(
    "/verkada/{school}",
    response_model=SensorReceipt,
    summary="A Verkada sensor_alert webhook",
    responses=RESPONSES,
)
async def verkada(school: str, request: Request, state: State) -> SensorReceipt:
    """Signed with `Verkada-Signature: <timestamp>|<hex HMAC-SHA256 of "<body>|<timestamp>">`
    (LOOKOUT_VERKADA_SECRET), at most five minutes old. No `end_time`: raised; one: cleared."""
    vendor = SensorVendor.VERKADA
    body = await request.body()
    secret = state.settings.verkada_secret.get_secret_value().encode()
    reason = verkada_refusal(secret, body, request.headers.get(SIGNATURE_HEADER), time.time())
    if reason is not None:
        detail = "Verkada-Signature: " + ("too old" if reason == "stale" else "not valid")
        raise refuse(request, vendor, reason, 401, "Not signed by Verkada", detail)
    try:
        alert = parse_verkada(body)
    except Malformed as exc:
        raise refuse(request, vendor, "malformed", 422, "Invalid webhook", str(exc)) from None
    config = state.schools.get(school)
    if config is None:
        raise refuse(request, vendor, "unknown_school", 404, "No such school", "school: unknown")
    sensor = verkada_sensor(config, alert.device_id)
    if sensor is None:
        raise refuse(
            request,
            vendor,
            "unknown_sensor",
            404,
            "No such sensor",
            "data.device_id: not a Verkada sensor of the school file",
        )
    event = verkada_event(config, sensor, alert, state.suite_clock.now())
    return await take(request, state, vendor, event, sensor.id)
