"""What an ID token must say, beyond what Authlib checks (its signature, `aud`, `exp`, `nonce`
and the `iss` this module names), for its person to be signed in to a school: Google's `hd`
among the school's domains, Entra's `tid` among its tenants, and a verified email that is
exactly one person's. Pure: the claims in, a person id or the reason out.

What counts as verified: Google says so itself (`email_verified` true). Entra does not always
send `email_verified`; its `email` counts as verified when the token comes from one of the
school's allowed tenants (the district's own directory, whose administrators alone set its
users' addresses) and the token does not say otherwise (`email_verified` or `xms_edov` false
refuses it). An Entra `email` from any other tenant is never trusted: that is how an
attacker's own tenant would claim a district address (the "nOAuth" mistake)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lookout.school.config import Person
from lookout.school.staff_sign_in import EntraSignIn, GoogleSignIn

GOOGLE_ISSUER = "https://accounts.google.com"
# Google's documents name the issuer with the scheme; its ID tokens may carry either form.
GOOGLE_ISSUER_BARE = "accounts.google.com"
TENANT_PLACEHOLDER = "{tenantid}"


class Reason(StrEnum):
    """Why a sign-in with a provider was refused; each says the field, never its value."""

    STATE = "state"
    DENIED = "denied"
    CODE = "code"
    UNREACHABLE = "unreachable"
    SIGNATURE = "signature"
    ISSUER = "iss"
    AUDIENCE = "aud"
    EXPIRED = "exp"
    NONCE = "nonce"
    CLAIMS = "claims"
    HOSTED_DOMAIN = "hd"
    TENANT = "tid"
    UNVERIFIED = "email_verified"
    NO_EMAIL = "email"
    UNKNOWN_EMAIL = "person"
    AMBIGUOUS_EMAIL = "people"


@dataclass(frozen=True)
class Wording:
    status: int
    detail: str  # the problem+json detail: the field and why
    words: str  # the sign-in page's sentence


WORDING: dict[Reason, Wording] = {
    Reason.STATE: Wording(
        400,
        "state: missing, expired or not this browser's sign-in",
        "That sign-in was not started here, or took longer than 10 minutes. Try again.",
    ),
    Reason.DENIED: Wording(
        401, "provider: sign-in not completed", "The sign-in with your account was not completed."
    ),
    Reason.CODE: Wording(
        401, "code: refused by the provider", "Your account's provider refused the sign-in."
    ),
    Reason.UNREACHABLE: Wording(
        502,
        "provider: did not answer",
        "Your account's provider did not answer. Try again in a minute.",
    ),
    Reason.SIGNATURE: Wording(
        401, "id_token: signature not valid", "The provider's answer could not be verified."
    ),
    Reason.ISSUER: Wording(
        401, "id_token.iss: not the provider", "The provider's answer could not be verified."
    ),
    Reason.AUDIENCE: Wording(
        401, "id_token.aud: not for this school", "The provider's answer was not for Lookout."
    ),
    Reason.EXPIRED: Wording(
        401, "id_token.exp: expired", "The provider's answer has expired. Try again."
    ),
    Reason.NONCE: Wording(
        401, "id_token.nonce: does not match", "The provider's answer was not for this sign-in."
    ),
    Reason.CLAIMS: Wording(
        401, "id_token: a claim is missing or invalid", "The provider's answer was not valid."
    ),
    Reason.HOSTED_DOMAIN: Wording(
        401,
        "id_token.hd: not one of the school's Google Workspace domains",
        "Sign in with your school Google account, not a personal one.",
    ),
    Reason.TENANT: Wording(
        401,
        "id_token.tid: not one of the school's Microsoft Entra tenants",
        "Sign in with your school Microsoft account.",
    ),
    Reason.UNVERIFIED: Wording(
        401,
        "id_token.email_verified: the provider has not verified the email",
        "Your account's email address is not verified by its provider.",
    ),
    Reason.NO_EMAIL: Wording(
        401, "id_token.email: missing", "Your account has no email address Lookout can use."
    ),
    Reason.UNKNOWN_EMAIL: Wording(
        401,
        "id_token.email: no person of this school has it",
        "Your account is not one of this school's staff in Lookout. Ask the school's admin.",
    ),
    Reason.AMBIGUOUS_EMAIL: Wording(
        401,
        "id_token.email: more than one person of this school has it",
        "Your email address belongs to more than one person here. Ask the school's admin.",
    ),
}


class Refused(Exception):
    """A sign-in refused, for `reason` (its wording says why without any value)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


# Authlib/joserfc name the claim at fault; these are the ones said apart.
_BY_CLAIM = {
    "iss": Reason.ISSUER,
    "aud": Reason.AUDIENCE,
    "azp": Reason.AUDIENCE,
    "exp": Reason.EXPIRED,
    "nonce": Reason.NONCE,
}


def reason_for_claim(claim: str) -> Reason:
    """The reason for a claim Authlib refused (`iss`, `aud`, `exp`, `nonce`, …)."""
    return _BY_CLAIM.get(claim, Reason.CLAIMS)


def issuer_matches(
    provider: GoogleSignIn | EntraSignIn, metadata_issuer: str, claims: Mapping[str, Any]
) -> bool:
    """Whether the token's `iss` is the issuer the discovery document names. Entra's
    multi-tenant document names `{tenantid}`: the issuer is then that of the token's own tenant
    (whether the tenant is allowed is `person_for`'s question, so each is refused by name)."""
    iss = claims.get("iss")
    if not isinstance(iss, str):
        return False
    if isinstance(provider, EntraSignIn) and TENANT_PLACEHOLDER in metadata_issuer:
        tid = claims.get("tid")
        return isinstance(tid, str) and iss == metadata_issuer.replace(TENANT_PLACEHOLDER, tid)
    if metadata_issuer == GOOGLE_ISSUER and iss == GOOGLE_ISSUER_BARE:
        return True
    return iss == metadata_issuer


def _verified_email(provider: GoogleSignIn | EntraSignIn, claims: Mapping[str, Any]) -> str:
    if isinstance(provider, GoogleSignIn):
        if claims.get("hd") not in provider.hosted_domains:
            raise Refused(Reason.HOSTED_DOMAIN)
        verified = claims.get("email_verified") is True
    else:
        if claims.get("tid") not in provider.tenants:
            raise Refused(Reason.TENANT)
        said = [claims[k] for k in ("email_verified", "xms_edov") if k in claims]
        verified = all(value is True for value in said)
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise Refused(Reason.NO_EMAIL)
    if not verified:
        raise Refused(Reason.UNVERIFIED)
    return email


def person_for(
    provider: GoogleSignIn | EntraSignIn, claims: Mapping[str, Any], people: Iterable[Person]
) -> str:
    """The id of the one person whose email is the token's verified email (compared without
    case: providers and school files write addresses each their own way); Refused otherwise."""
    email = _verified_email(provider, claims).casefold()
    found = [p.id for p in people if p.email is not None and p.email.casefold() == email]
    if not found:
        raise Refused(Reason.UNKNOWN_EMAIL)
    if len(found) > 1:
        raise Refused(Reason.AMBIGUOUS_EMAIL)
    return found[0]
