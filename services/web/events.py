"""`POST /api/v1/events`: a batch of events made on the SSO's phone, each published to
JetStream with `Nats-Msg-Id` = the phone's `event_id` and answered after its PubAck, so the
phone knows what left its queue (stored, duplicate) and what never will (rejected, with the
field at fault; never the value)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from fastapi import APIRouter
from nats.errors import Error as NatsError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lookout.contracts.envelope import ActorKind, Event, Token
from lookout.contracts.subjects import BY_TYPE, describe, subject_of
from lookout.kernel.admission import refuse_event
from lookout.kernel.messaging import msg_id_headers
from services.web.deps import Caller, CsrfCaller, State, WebState
from services.web.domain import may_send_event
from services.web.problems import Problem
from services.web.recall import DeviceBinding
from services.web.roster import OFF_ROSTER, off_roster, student_refs
from services.web.store import DEVICE_SEEN_EVERY, DeviceTaken, WebRepository

router = APIRouter(prefix="/api/v1", tags=["events"])

MAX_EVENTS = 100


class EventBatch(BaseModel):
    """Events the phone made (each with its own `event_id`), sent from one device."""

    model_config = ConfigDict(extra="forbid")

    device_id: Token = Field(description="The phone's id, kept in the app; bound to its officer.")
    # Each event is judged on its own (a broken one is rejected, the rest go on), so the
    # batch takes any JSON here and the contracts decide per event.
    events: list[Any] = Field(
        max_length=MAX_EVENTS, description="Events as made on the phone, in the order made."
    )


class Status(StrEnum):
    STORED = "stored"  # JetStream acknowledged it
    DUPLICATE = "duplicate"  # JetStream already had it (a retry): delivered all the same
    REJECTED = "rejected"  # it can never be stored: show the reason, do not retry


class Receipt(BaseModel):
    index: int = Field(description="Position of the event in the batch.")
    event_id: uuid.UUID | None = Field(description="The event's id, when it had a valid one.")
    status: Status
    reason: str | None = Field(default=None, description="Why it was rejected (a field name).")


class Receipts(BaseModel):
    results: list[Receipt]


def prepare(raw: Any, caller: Caller, device_id: str, state: WebState) -> Event | str:
    """The event as it will be published, or why it cannot be: its `type` picks the contract,
    the school is the caller's, the actor is the caller's device, and the role must originate it."""
    if not isinstance(raw, dict):
        return "<event>: not a JSON object"
    spec = BY_TYPE.get(raw.get("type")) if isinstance(raw.get("type"), str) else None
    if spec is None:
        return "type: not an event type"
    if not may_send_event(caller.person.roles, spec.type):
        return "type: not an event this person's role sends"
    school = caller.school.id
    if raw.get("school_id", school) != school:
        return "school_id: not the signed-in person's school"
    fields = spec.model.model_fields
    data = dict(raw, school_id=school, actor={"kind": ActorKind.SSO_DEVICE, "id": device_id})
    owned = {
        "device_id": (device_id, "the signed-in device"),
        "officer_id": (caller.person.id, "the signed-in person"),
    }
    for name, (value, whose) in owned.items():
        if name in fields and data.setdefault(name, value) != value:
            return f"{name}: not {whose}"
    try:
        event = spec.model.model_validate(data)
    except ValidationError as exc:
        return describe(exc, spec.model)
    except Exception as exc:  # a validator's OverflowError, RecursionError…
        return f"<event>: invalid ({type(exc).__name__})"
    refused = refuse_event(caller.school, event, state.suite_clock.now())
    return refused if refused is not None else event


async def bind_device(state: WebState, device_id: str, caller: Caller) -> None:
    """The device is the caller's (bound now if new), or DeviceTaken. A binding never changes,
    so one this process knows costs no database round trip until its `last_seen_at` is due."""
    now = state.now()
    owner = (caller.school.id, caller.person.id)
    known = state.known_devices.get(device_id)
    if known is not None:
        if (known.school_id, known.person_id) != owner:
            raise DeviceTaken(device_id)
        if now - known.last_seen_at < DEVICE_SEEN_EVERY:
            return
    async with state.sessions.begin() as db:
        bound = await WebRepository(db).bind_device(
            device_id=device_id, school_id=owner[0], person_id=owner[1], now=now
        )
    state.known_devices.remember(device_id, DeviceBinding(*owner, bound.last_seen_at))


def _event_id(raw: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw.get("event_id"))) if isinstance(raw, dict) else None
    except (ValueError, TypeError, AttributeError):
        return None


@router.post(
    "/events",
    response_model=Receipts,
    summary="Deliver events made on the phone",
    responses={
        401: {"description": "Not signed in, or the session is locked"},
        403: {"description": "Cross-site request, or the device is another person's"},
        413: {"description": "Over 64 KiB or over 100 events"},
        503: {"description": "JetStream did not answer: retry the whole batch"},
    },
)
async def deliver_events(batch: EventBatch, caller: CsrfCaller, state: State) -> Receipts:
    """Answers per event, in order, after JetStream's PubAck of each: `stored`, `duplicate`
    (a retry of one already stored: it leaves the phone's queue too) or `rejected`."""
    try:
        await bind_device(state, batch.device_id, caller)
    except DeviceTaken:
        raise Problem(403, "Device refused", "device_id: bound to another person") from None
    if state.js is None:
        raise Problem(503, "Event store unavailable", "retry later")
    results: list[Receipt] = []
    batch_prepared = [prepare(raw, caller, batch.device_id, state) for raw in batch.events]
    events = [e for e in batch_prepared if not isinstance(e, str)]
    missing = await off_roster(state, caller.school.id, events)
    for index, (raw, prepared) in enumerate(zip(batch.events, batch_prepared, strict=True)):
        if not isinstance(prepared, str) and missing.intersection(student_refs(prepared)):
            prepared = f"student_refs: {OFF_ROSTER}"
        if isinstance(prepared, str):
            results.append(
                Receipt(
                    index=index, event_id=_event_id(raw), status=Status.REJECTED, reason=prepared
                )
            )
            continue
        try:
            ack = await state.js.publish(
                subject_of(prepared),
                prepared.model_dump_json().encode(),
                headers=msg_id_headers(prepared),
                stream=BY_TYPE[prepared.type].stream,
                timeout=5,
            )
        except (NatsError, TimeoutError) as exc:
            # Nothing after this one is known to be stored: the phone retries the batch, and
            # what was stored comes back as `duplicate`.
            raise Problem(503, "Event store unavailable", f"events.{index}: retry later") from exc
        status = Status.DUPLICATE if ack.duplicate else Status.STORED
        results.append(Receipt(index=index, event_id=prepared.event_id, status=status))
    return Receipts(results=results)
