"""Web Push from the browser: the console's "Notify me on this device" asks `GET
/api/v1/push/key` for this deployment's VAPID public key (lookout/kernel/vapid.py), subscribes
with it, and hands the browser's `PushSubscription.toJSON()` to `POST /api/v1/push/
subscriptions`; `DELETE` forgets it. The subscription is kept by the alerts service (it sends
the pushes), asked as the signed-in person: `command.<school>.alerts.push_subscribe|
push_unsubscribe.<person>` — the subject's last token, never a body field.

Who may: the roles that command the alerts service (principal, assistant principal, counselor,
district safety), and the SSO, whom escalation steps page: their phone shows the same button,
and their role may send exactly these two commands (`ROLE_REQUEST_NAMES`,
lookout/school/permissions.py). The endpoint is a capability URL (whoever holds it can push
to that browser): never logged, never answered back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lookout.contracts.alerts import PushSubscribeRequest, PushUnsubscribeRequest
from lookout.kernel.queries import command_subject
from lookout.kernel.vapid import vapid_keys
from lookout.school.permissions import may_request
from services.web import asking
from services.web.deps import ApiCaller, Caller, CsrfCaller, State, WebState
from services.web.problems import Problem, field_errors

router = APIRouter(prefix="/api/v1/push", tags=["push"])

# The contract's fields, as the browser's toJSON() nests them.
WHERE = {"endpoint": "endpoint", "p256dh": "keys.p256dh", "auth": "keys.auth"}


def _may_push(caller: Caller) -> Caller:
    """The alert roles, and the SSO (paged by escalation steps; may only turn pushes on/off)."""
    if not may_request(caller.person.roles, "command", "alerts", "push_subscribe"):
        raise Problem(403, "Not for this role", "role: is not told of alerts by push")
    return caller


async def push_reader(caller: ApiCaller) -> Caller:
    """A signed-in person whose alerts can reach them by push."""
    return _may_push(caller)


async def push_actor(caller: CsrfCaller) -> Caller:
    """The same, for a change: CSRF and Origin checked first."""
    return _may_push(caller)


PushReader = Annotated[Caller, Depends(push_reader)]
PushActor = Annotated[Caller, Depends(push_actor)]


class PushKey(BaseModel):
    application_server_key: str = Field(
        description="The VAPID public key (uncompressed P-256 point, base64url): "
        "`pushManager.subscribe({applicationServerKey})`."
    )


class SubscriptionKeys(BaseModel):
    # Bounded here, judged by the contract's own rules below (one source for what is valid).
    p256dh: str = Field(max_length=128)
    auth: str = Field(max_length=64)


class BrowserSubscription(BaseModel):
    """`PushSubscription.toJSON()` as the browser makes it."""

    model_config = ConfigDict(extra="ignore")  # expirationTime, and what browsers add later

    endpoint: str = Field(max_length=4096, description="The push service's URL (https).")
    keys: SubscriptionKeys


class BrowserUnsubscription(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the whole toJSON() is fine too

    endpoint: str = Field(max_length=4096)


class PushState(BaseModel):
    subscribed: bool = Field(description="Whether this browser's subscription is now kept.")


def _contract(model: type[BaseModel], **fields: str) -> Any:
    """The contract's request, or a 422 naming the field as the browser sent it."""
    try:
        return model(**fields)
    except ValidationError as exc:
        errors = [dict(e, loc=(WHERE.get(str(e["loc"][0]), e["loc"][0]),)) for e in exc.errors()]
        raise Problem(422, "Invalid push subscription", field_errors(errors)) from None


def _refusal(error: str) -> Problem | None:
    field = error.split(":", 1)[0]
    if field in WHERE:
        return Problem(422, "Invalid push subscription", f"{WHERE[field]}: refused")
    return None


async def _tell(state: WebState, caller: Caller, name: str, request: BaseModel) -> None:
    subject = command_subject(caller.school.id, "alerts", name, caller.person.id)
    await asking.ask(state, "alerts", subject, request, _refusal)


@router.get("/key", summary="The key a browser subscribes to push with")
async def push_key(request: Request, _caller: PushReader, state: State) -> PushKey:
    key: str | None = getattr(request.app.state, "vapid_public_key", None)
    if key is None:  # read once per app: an env var or a file (lookout/kernel/vapid.py)
        key = vapid_keys(state.settings).application_server_key
        request.app.state.vapid_public_key = key
    return PushKey(application_server_key=key)


@router.post(
    "/subscriptions",
    summary="Keep this browser's push subscription for the signed-in person",
    responses={
        403: {"description": "Not this site, no CSRF token, or a role alerts do not page"},
        503: {"description": "The alerts service did not answer"},
    },
)
async def subscribe(body: BrowserSubscription, caller: PushActor, state: State) -> PushState:
    request = _contract(
        PushSubscribeRequest, endpoint=body.endpoint, p256dh=body.keys.p256dh, auth=body.keys.auth
    )
    await _tell(state, caller, "push_subscribe", request)
    return PushState(subscribed=True)


@router.delete(
    "/subscriptions",
    summary="Forget this browser's push subscription",
    responses={
        403: {"description": "Not this site, no CSRF token, or a role alerts do not page"},
        503: {"description": "The alerts service did not answer"},
    },
)
async def unsubscribe(body: BrowserUnsubscription, caller: PushActor, state: State) -> PushState:
    request = _contract(PushUnsubscribeRequest, endpoint=body.endpoint)
    await _tell(state, caller, "push_unsubscribe", request)
    return PushState(subscribed=False)
