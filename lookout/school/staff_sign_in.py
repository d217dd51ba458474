"""Staff sign-in with the district's own accounts (OpenID Connect): which Google Workspace
domains and which Microsoft Entra tenants may sign in to a school, with which client ids.
The client secrets are never here: they come from the environment
(`LOOKOUT_OIDC_GOOGLE_CLIENT_SECRET`, `LOOKOUT_OIDC_ENTRA_CLIENT_SECRET`)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

GOOGLE_DISCOVERY = "https://accounts.google.com/.well-known/openid-configuration"
# A district with several tenants signs in through `organizations`, whose issuer names the
# tenant ({tenantid}); with one tenant, that tenant's own document (other tenants' accounts
# are then stopped at Microsoft already).
ENTRA_DISCOVERY = "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})

ClientId = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[!-~]+$")]
Domain = Annotated[
    str,
    StringConstraints(
        max_length=253, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$"
    ),
]
TenantId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Provider(_Strict):
    client_id: ClientId = Field(description="The OAuth client (application) id.")
    discovery_url: str | None = Field(
        default=None,
        max_length=500,
        description="The provider's OpenID configuration; unset: the provider's real one. "
        "https, or http on a loopback address (a local test provider).",
    )

    @field_validator("discovery_url")
    @classmethod
    def _https(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        loopback = parts.scheme == "http" and (parts.hostname or "") in LOOPBACK
        if not (parts.scheme == "https" or loopback) or not parts.hostname:
            raise ValueError("must be an https URL (http only on a loopback address)")
        return url


class GoogleSignIn(_Provider):
    hosted_domains: list[Domain] = Field(
        min_length=1,
        max_length=20,
        description="The Google Workspace domains (lower case) whose accounts may sign in: the "
        "ID token's `hd` claim must be one of them (a personal Gmail account has none).",
    )

    def discovery(self) -> str:
        return self.discovery_url or GOOGLE_DISCOVERY


class EntraSignIn(_Provider):
    tenants: list[TenantId] = Field(
        min_length=1,
        max_length=20,
        description="The Microsoft Entra tenant ids (lower-case GUIDs) whose accounts may sign "
        "in: the ID token's `tid` claim must be one of them.",
    )

    def discovery(self) -> str:
        if self.discovery_url:
            return self.discovery_url
        tenant = self.tenants[0] if len(self.tenants) == 1 else "organizations"
        return ENTRA_DISCOVERY.format(tenant=tenant)


class StaffSignIn(_Strict):
    """The school file's `staff_sign_in`: a provider left out has no button."""

    google: GoogleSignIn | None = None
    entra: EntraSignIn | None = None

    def providers(self) -> dict[str, GoogleSignIn | EntraSignIn]:
        """The configured providers by id (`google`, `entra`), in that order."""
        found = {"google": self.google, "entra": self.entra}
        return {name: config for name, config in found.items() if config is not None}
