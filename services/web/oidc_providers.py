"""The schools' OpenID Connect providers as Authlib clients (discovery, PKCE, the token
exchange, the ID token's signature and claims are Authlib's), their client secrets checked at
start-up, the sign-in page's buttons, and the short-lived signed cookie that carries one
sign-in's state, nonce and PKCE verifier from the provider and back."""

from __future__ import annotations

import hashlib
import hmac
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jwt import JWTClaimsRegistry
from starlette.requests import Request

from lookout.kernel.settings import ConfigurationError, Settings
from lookout.school.config import SchoolConfig
from lookout.school.staff_sign_in import EntraSignIn, GoogleSignIn

with warnings.catch_warnings():
    # Authlib 1.9 says it would rather have httpx2 than httpx; it works with httpx, which the
    # suite already uses (and whose errors the routes catch).
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

LABELS = {"google": "Sign in with Google", "entra": "Sign in with Microsoft"}
SECRETS = {"google": "oidc_google_client_secret", "entra": "oidc_entra_client_secret"}
SCOPE = "openid email profile"
# How long a person has at the provider before the sign-in must start again.
STATE_LIFETIME = timedelta(minutes=10)
STATE_COOKIE = "lookout-oidc"  # `__Host-` in front when the session cookie has it
PROVIDER_TIMEOUT = 10.0  # seconds for each request to a provider


def env_name(provider: str) -> str:
    return f"LOOKOUT_{SECRETS[provider].upper()}"


@dataclass(frozen=True)
class Button:
    school_id: str
    school_name: str
    provider: str
    label: str


@dataclass(frozen=True)
class SignInState:
    """One sign-in under way: what the callback must find again."""

    school_id: str
    provider: str
    state: str
    nonce: str
    verifier: str
    next: str


class Providers:
    """Every school's configured providers, as Authlib clients made on first use (each then
    keeps the provider's discovery document and keys for the life of the process; a key it
    does not know makes it fetch them again)."""

    def __init__(self, settings: Settings, schools: dict[str, SchoolConfig]) -> None:
        self.schools = schools
        self._secrets: dict[str, str] = {}
        for school in schools.values():
            for provider in school.staff_sign_in.providers():
                secret = getattr(settings, SECRETS[provider]).get_secret_value()
                if not secret:
                    raise ConfigurationError(
                        f"{env_name(provider)}: not set, and school {school.id!r} signs staff "
                        f"in with {provider} (staff_sign_in.{provider})"
                    )
                self._secrets[provider] = secret
        # The state cookie's key, from the client secrets that every replica has anyway.
        joined = "\0".join(self._secrets[p] for p in sorted(self._secrets)).encode()
        self._key = OctKey.import_key(
            hmac.new(b"lookout: oidc sign-in state", joined, hashlib.sha256).digest()
        )
        self._oauth = OAuth()
        self._clients: dict[tuple[str, str], StarletteOAuth2App] = {}

    def buttons(self) -> list[Button]:
        return [
            Button(school.id, school.name, provider, LABELS[provider])
            for school in self.schools.values()
            for provider in school.staff_sign_in.providers()
        ]

    def config(self, school_id: str, provider: str) -> GoogleSignIn | EntraSignIn | None:
        school = self.schools.get(school_id)
        return school.staff_sign_in.providers().get(provider) if school else None

    def client(self, school_id: str, provider: str) -> StarletteOAuth2App:
        """The Authlib client of a configured (school, provider)."""
        key = (school_id, provider)
        if key not in self._clients:
            config = self.config(school_id, provider)
            assert config is not None, key
            self._clients[key] = self._oauth.register(
                name=f"{school_id}.{provider}",
                client_id=config.client_id,
                client_secret=self._secrets[provider],
                server_metadata_url=config.discovery(),
                client_kwargs={
                    "scope": SCOPE,
                    "code_challenge_method": "S256",
                    "timeout": PROVIDER_TIMEOUT,
                },
            )
        return self._clients[key]

    def seal(self, sign_in: SignInState, now: datetime) -> str:
        """The state cookie's value: the sign-in, signed, expiring after STATE_LIFETIME."""
        claims: dict[str, Any] = {
            "school": sign_in.school_id,
            "provider": sign_in.provider,
            "state": sign_in.state,
            "nonce": sign_in.nonce,
            "verifier": sign_in.verifier,
            "next": sign_in.next,
            "exp": int((now + STATE_LIFETIME).timestamp()),
        }
        return jwt.encode({"alg": "HS256"}, claims, self._key)

    def unseal(self, value: str | None, now: datetime) -> SignInState | None:
        """The sign-in a state cookie carries; None when absent, forged or expired."""
        if not value or len(value) > 4096:
            return None
        try:
            token = jwt.decode(value, self._key, algorithms=["HS256"])
            JWTClaimsRegistry(now=int(now.timestamp()), exp={"essential": True}).validate(
                token.claims
            )
            c = token.claims
            return SignInState(
                c["school"], c["provider"], c["state"], c["nonce"], c["verifier"], c["next"]
            )
        except (JoseError, ValueError, KeyError, TypeError):
            return None


def google_hint(config: GoogleSignIn) -> str:
    """Google's `hd` request parameter: only a hint for its account chooser (the ID token's
    `hd` claim is what is checked), the domain when there is one, `*` for any Workspace one."""
    return config.hosted_domains[0] if len(config.hosted_domains) == 1 else "*"


def providers(request: Request) -> Providers:
    """The app's providers (made with the app: a missing secret stops it at start-up)."""
    found: Providers = request.app.state.oidc
    return found


def buttons(request: Request) -> list[Button]:
    """The sign-in page's provider buttons: one per school and configured provider."""
    found: Providers | None = getattr(request.app.state, "oidc", None)
    return found.buttons() if found is not None else []
