"""A local OpenID Connect provider for the tests, in two flavours: Google's (one issuer) and
Microsoft Entra's multi-tenant one (`organizations`: the issuer names the tenant). It serves
discovery documents, a JWKS with an RSA key made once per test run, an authorize endpoint that
signs the person in at once (as an account already signed in at the provider that consented
before) and a token endpoint that checks the client's secret, the redirect URI and the PKCE
verifier against the S256 challenge. A test says whom the next authorization is for and may
spoil any claim of the ID token signed for it (`None` leaves a claim out)."""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import unquote, urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

GOOGLE_CLIENT = "lookout-test.apps.googleusercontent.com"
ENTRA_CLIENT = "6f1c2e4a-0b7d-4c55-9a31-2d8e7f604b11"
SECRETS = {GOOGLE_CLIENT: "google-test-secret", ENTRA_CLIENT: "entra-test-secret"}


@cache
def signing_key() -> RSAKey:
    """The provider's signing key: generated once per test run."""
    return RSAKey.generate_key(2048, parameters={"kid": "test-1", "use": "sig"}, private=True)


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    claims: dict[str, Any]


@dataclass
class LocalProvider:
    url: str
    # The claims the next authorization signs in (merged over the flavour's own: iss, aud,
    # sub, iat, exp, nonce); a value of None leaves that claim out.
    identity: dict[str, Any] = field(default_factory=dict)
    authorizations: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)  # every ID token and code, for leak checks
    codes: dict[str, Grant] = field(default_factory=dict)

    def google_discovery(self) -> str:
        return f"{self.url}/google/.well-known/openid-configuration"

    def entra_discovery(self) -> str:
        return f"{self.url}/entra/organizations/v2.0/.well-known/openid-configuration"

    def entra_issuer(self, tenant: str) -> str:
        return f"{self.url}/entra/{tenant}/v2.0"

    # --- endpoints ---------------------------------------------------------------------------

    def _document(self, issuer: str, flavour: str) -> dict[str, Any]:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{self.url}/{flavour}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    async def google_config(self, request: Request) -> Response:
        return JSONResponse(self._document(f"{self.url}/google", "google"))

    async def entra_config(self, request: Request) -> Response:
        return JSONResponse(self._document(self.entra_issuer("{tenantid}"), "entra"))

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [signing_key().as_dict(private=False)]})

    async def authorize(self, request: Request) -> Response:
        q = dict(request.query_params)
        self.authorizations.append(q)
        flavour = request.url.path.split("/")[1]
        if q.get("client_id") not in SECRETS or q.get("response_type") != "code":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": f"{self.url}/google"
            if flavour == "google"
            else self.entra_issuer(str(self.identity.get("tid", ""))),
            "aud": q["client_id"],
            "sub": "subject-" + secrets.token_hex(4),
            "iat": now,
            "exp": now + 3600,
            "nonce": q.get("nonce"),
        }
        claims.update(self.identity)
        code = secrets.token_urlsafe(24)
        self.issued.append(code)
        self.codes[code] = Grant(
            q["client_id"], q["redirect_uri"], q["code_challenge"], q.get("nonce", ""), claims
        )
        back = {"code": code, "state": q.get("state", "")}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode(back)}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(form)
        client_id, secret = _basic(request.headers.get("authorization", ""))
        if SECRETS.get(client_id) != secret:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        if (
            form.get("grant_type") != "authorization_code"
            or grant is None
            or grant.client_id != client_id
            or grant.redirect_uri != form.get("redirect_uri")
            or create_s256_code_challenge(verifier) != grant.challenge
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        claims = {k: v for k, v in grant.claims.items() if v is not None}
        id_token = jwt.encode({"alg": "RS256", "kid": "test-1"}, claims, signing_key())
        self.issued.append(id_token)
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 3600,
                "id_token": id_token,
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/google/.well-known/openid-configuration", self.google_config),
                Route(
                    "/entra/organizations/v2.0/.well-known/openid-configuration",
                    self.entra_config,
                ),
                Route("/jwks", self.jwks),
                Route("/google/authorize", self.authorize),
                Route("/entra/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )


def _basic(header: str) -> tuple[str, str]:
    if not header.startswith("Basic "):
        return "", ""
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return unquote(user), unquote(password)


@asynccontextmanager
async def running_provider() -> AsyncIterator[LocalProvider]:
    """The provider under uvicorn on a loopback port. The socket is listening before the
    server starts, so a request made at once waits in its backlog rather than failing."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    provider = LocalProvider(f"http://127.0.0.1:{sock.getsockname()[1]}")
    server = uvicorn.Server(
        uvicorn.Config(provider.app(), log_config=None, access_log=False, lifespan="off")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield provider
    finally:
        server.should_exit = True
        await task
        sock.close()
