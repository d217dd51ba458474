"""Signing in with the district's Google Workspace or Microsoft Entra account (OpenID Connect,
authorization code with PKCE, through Authlib): a button's POST sends the person to the
provider with a new state, nonce and PKCE verifier kept in a signed, HttpOnly, 10-minute
cookie; the provider sends them back to one callback, which checks the state, exchanges the
code, has Authlib verify the ID token (signature, issuer, audience, expiry, nonce), checks the
school's domains or tenants and matches the verified email to one person (oidc_claims.py).
Then a new session, exactly as a password or a one-time link makes one; a refusal says the
reason, never the token or the email, and makes no session."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Annotated, Any

import httpx
from authlib.integrations.base_client import OAuthError
from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from joserfc.errors import ClaimError, JoseError

from lookout.school.staff_sign_in import EntraSignIn, GoogleSignIn
from services.web import pages
from services.web.deps import SameOrigin, State, WebState
from services.web.domain import safe_next
from services.web.oidc_claims import (
    WORDING,
    Reason,
    Refused,
    issuer_matches,
    person_for,
    reason_for_claim,
)
from services.web.oidc_providers import (
    STATE_COOKIE,
    STATE_LIFETIME,
    SignInState,
    StarletteOAuth2App,
    buttons,
    google_hint,
    providers,
)
from services.web.problems import Problem, problem_response
from services.web.signin import signed_in, start_session, wants_page
from services.web.store import WebRepository

router = APIRouter(tags=["sign-in"])
log = logging.getLogger("lookout.web")

CALLBACK = "/signin/oidc/callback"
Provider = GoogleSignIn | EntraSignIn


def _cookie_name(state: WebState) -> str:
    return f"__Host-{STATE_COOKIE}" if state.secure_cookie else STATE_COOKIE


def _forget_sign_in(response: Response, state: WebState) -> None:
    response.delete_cookie(
        _cookie_name(state), path="/", secure=state.secure_cookie, httponly=True, samesite="lax"
    )


@router.post(
    "/signin/oidc/{school}/{provider}",
    summary="Sign in with Google or Microsoft: go to the provider",
    status_code=303,
    dependencies=[SameOrigin],
    responses={404: {"description": "No such provider for that school"}, 502: {}},
)
async def start_sign_in(
    school: str,
    provider: str,
    request: Request,
    state: State,
    next: Annotated[str | None, Form(max_length=2048)] = None,
) -> Response:
    found = providers(request)
    config = found.config(school, provider)
    if config is None:
        raise Problem(404, "Not found", "provider: not configured for this school")
    params = {"hd": google_hint(config)} if isinstance(config, GoogleSignIn) else {}
    try:
        made = await found.client(school, provider).create_authorization_url(
            f"{state.base_url}{CALLBACK}", **params
        )
    except (httpx.HTTPError, ValueError, KeyError, RuntimeError) as exc:  # no discovery
        log.warning(
            "event=oidc_refused school=%s provider=%s reason=%s error=%s",
            school,
            provider,
            Reason.UNREACHABLE.value,
            type(exc).__name__,
        )
        return _refusal(request, state, Reason.UNREACHABLE, safe_next(next))
    sign_in = SignInState(
        school, provider, made["state"], made["nonce"], made["code_verifier"], safe_next(next)
    )
    response = RedirectResponse(made["url"], status_code=303)
    response.set_cookie(
        _cookie_name(state),
        found.seal(sign_in, state.now()),
        max_age=int(STATE_LIFETIME.total_seconds()),
        path="/",
        secure=state.secure_cookie,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a top-level GET: Lax sends it
    )
    return response


@router.get(
    CALLBACK,
    summary="Sign in with Google or Microsoft: back from the provider",
    status_code=303,
    responses={400: {"description": "No sign-in of this browser's"}, 401: {}, 502: {}},
)
async def finish_sign_in(
    request: Request,
    state: State,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    returned_state: Annotated[str | None, Query(alias="state", max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    found = providers(request)
    sign_in = found.unseal(request.cookies.get(_cookie_name(state)), state.now())
    school = state.schools.get(sign_in.school_id) if sign_in else None
    config = found.config(sign_in.school_id, sign_in.provider) if sign_in else None
    try:
        if (
            sign_in is None
            or school is None
            or config is None
            or returned_state is None
            or not hmac.compare_digest(sign_in.state.encode(), returned_state.encode())
        ):
            raise Refused(Reason.STATE)
        if error is not None or not code:
            raise Refused(Reason.DENIED)
        client = found.client(sign_in.school_id, sign_in.provider)
        claims = await _verified_claims(client, config, sign_in, code, state)
        person_id = person_for(config, claims, school.people)
    except Refused as refused:
        log.info(
            "event=oidc_refused school=%s provider=%s reason=%s",
            sign_in.school_id if sign_in else "-",
            sign_in.provider if sign_in else "-",
            refused.reason.value,
        )
        return _refusal(request, state, refused.reason, sign_in.next if sign_in else "/app")
    async with state.sessions.begin() as db:
        session_id, kind = await start_session(state, request, WebRepository(db), school, person_id)
    response = signed_in(state, session_id, kind, sign_in.next)
    _forget_sign_in(response, state)
    return response


async def _verified_claims(
    client: StarletteOAuth2App, config: Provider, sign_in: SignInState, code: str, state: WebState
) -> Mapping[str, Any]:
    """The code exchanged (with the PKCE verifier) and the ID token verified by Authlib."""
    try:
        token = await client.fetch_access_token(
            redirect_uri=f"{state.base_url}{CALLBACK}", code=code, code_verifier=sign_in.verifier
        )
        metadata = await client.load_server_metadata()
    except OAuthError:
        raise Refused(Reason.CODE) from None
    except (httpx.HTTPError, ValueError):
        raise Refused(Reason.UNREACHABLE) from None
    issuer = str(metadata.get("issuer", ""))
    options: dict[str, Any] = {
        "iss": {
            "essential": True,
            "validate": lambda claims, _iss: issuer_matches(config, issuer, claims),
        },
        "aud": {"essential": True, "value": config.client_id},
        "exp": {"essential": True},
    }
    try:
        claims = await client.parse_id_token(token, nonce=sign_in.nonce, claims_options=options)
    except ClaimError as exc:
        raise Refused(reason_for_claim(exc.claim)) from None
    except JoseError:
        raise Refused(Reason.SIGNATURE) from None
    except (httpx.HTTPError, ValueError):
        raise Refused(Reason.UNREACHABLE) from None
    if claims is None:  # no ID token in the provider's answer
        raise Refused(Reason.CLAIMS)
    result: Mapping[str, Any] = claims
    return result


def _refusal(request: Request, state: WebState, reason: Reason, next: str = "/app") -> Response:
    """The sign-in page with the reason in words (a browser), or problem+json naming it."""
    wording = WORDING[reason]
    response: Response
    if wants_page(request):
        context = {"next": next, "buttons": buttons(request), "provider_error": wording.words}
        response = pages.render(request, state, "signin.html", context)
        response.status_code = wording.status
    else:
        response = problem_response(wording.status, "Sign-in refused", wording.detail)
    _forget_sign_in(response, state)
    return response
