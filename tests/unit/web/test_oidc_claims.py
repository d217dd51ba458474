"""The ID token's claims that Lookout checks itself (services/web/oidc_claims.py): Google's
`hd`, Entra's `tid`, what counts as a verified email, the one person it matches, and the issuer
of Entra's multi-tenant document. Pure: no provider, no web app."""

from __future__ import annotations

from typing import Any

import pytest

from lookout.school.config import Person
from lookout.school.staff_sign_in import EntraSignIn, GoogleSignIn
from services.web.oidc_claims import (
    WORDING,
    Reason,
    Refused,
    issuer_matches,
    person_for,
    reason_for_claim,
)

TENANT = "3b8f5a2c-9d41-4e7a-b6c0-12f4e8a9d375"
OTHER = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
GOOGLE = GoogleSignIn(client_id="c.apps.googleusercontent.com", hosted_domains=["lhs.example.org"])
ENTRA = EntraSignIn(client_id="6f1c2e4a-0b7d-4c55-9a31-2d8e7f604b11", tenants=[TENANT])
PEOPLE = [
    Person(id="sso-rivera", name="Dana Rivera", roles=["sso"], email="D.Rivera@lhs.example.org"),
    Person(id="ap-chen", name="Morgan Chen", roles=["assistant_principal"]),
    Person(id="desk-1", name="Front desk", roles=["front_office"], email="desk@lhs.example.org"),
    Person(id="desk-2", name="Front desk 2", roles=["front_office"], email="DESK@lhs.example.org"),
]
G_OK = {"hd": "lhs.example.org", "email": "d.rivera@lhs.example.org", "email_verified": True}
E_OK = {"tid": TENANT, "email": "d.rivera@lhs.example.org"}


def refusal(provider: GoogleSignIn | EntraSignIn, claims: dict[str, Any]) -> Reason:
    with pytest.raises(Refused) as info:
        person_for(provider, claims, PEOPLE)
    return info.value.reason


def test_a_verified_email_is_one_person_whatever_its_case() -> None:
    assert person_for(GOOGLE, G_OK, PEOPLE) == "sso-rivera"
    assert person_for(ENTRA, E_OK, PEOPLE) == "sso-rivera"
    assert person_for(ENTRA, E_OK | {"xms_edov": True, "email_verified": True}, PEOPLE) == (
        "sso-rivera"
    )


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"hd": "other.example.org"}, Reason.HOSTED_DOMAIN),
        ({"hd": None}, Reason.HOSTED_DOMAIN),
        ({"hd": "LHS.example.org"}, Reason.HOSTED_DOMAIN),  # Google sends it as configured
        ({"email_verified": False}, Reason.UNVERIFIED),
        ({"email_verified": "true"}, Reason.UNVERIFIED),  # only JSON true is true
        ({"email_verified": None}, Reason.UNVERIFIED),
        ({"email": None}, Reason.NO_EMAIL),
        ({"email": ""}, Reason.NO_EMAIL),
        ({"email": "nobody@lhs.example.org"}, Reason.UNKNOWN_EMAIL),
        ({"email": "desk@lhs.example.org"}, Reason.AMBIGUOUS_EMAIL),
    ],
)
def test_google_refusals(claims: dict[str, Any], reason: Reason) -> None:
    spoiled = {k: v for k, v in (G_OK | claims).items() if v is not None}
    assert refusal(GOOGLE, spoiled) == reason


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"tid": OTHER}, Reason.TENANT),
        ({"tid": None}, Reason.TENANT),
        ({"xms_edov": False}, Reason.UNVERIFIED),
        ({"email_verified": False}, Reason.UNVERIFIED),
        ({"email_verified": True, "xms_edov": False}, Reason.UNVERIFIED),
        ({"email": None}, Reason.NO_EMAIL),
        ({"email": "nobody@lhs.example.org"}, Reason.UNKNOWN_EMAIL),
    ],
)
def test_entra_refusals(claims: dict[str, Any], reason: Reason) -> None:
    spoiled = {k: v for k, v in (E_OK | claims).items() if v is not None}
    assert refusal(ENTRA, spoiled) == reason


def test_the_issuer_is_the_discovery_documents() -> None:
    google = "https://accounts.google.com"
    assert issuer_matches(GOOGLE, google, {"iss": google})
    assert issuer_matches(GOOGLE, google, {"iss": "accounts.google.com"})  # Google's other form
    assert not issuer_matches(GOOGLE, google, {"iss": "https://accounts.google.com.evil"})
    assert not issuer_matches(GOOGLE, "https://idp.example", {"iss": "accounts.google.com"})
    assert not issuer_matches(GOOGLE, google, {})
    entra = "https://login.microsoftonline.com/{tenantid}/v2.0"
    mine = f"https://login.microsoftonline.com/{TENANT}/v2.0"
    assert issuer_matches(ENTRA, entra, {"iss": mine, "tid": TENANT})
    # Another tenant's issuer is its own tenant's: consistent, refused later for its tid.
    assert issuer_matches(ENTRA, entra, {"iss": mine.replace(TENANT, OTHER), "tid": OTHER})
    assert not issuer_matches(ENTRA, entra, {"iss": mine, "tid": OTHER})
    assert not issuer_matches(ENTRA, entra, {"iss": mine})
    single = f"https://login.microsoftonline.com/{TENANT}/v2.0"  # one tenant's own document
    assert issuer_matches(ENTRA, single, {"iss": mine, "tid": TENANT})


def test_authlibs_claim_names_become_reasons() -> None:
    assert [reason_for_claim(c) for c in ("iss", "aud", "azp", "exp", "nonce", "iat", "sub")] == [
        Reason.ISSUER,
        Reason.AUDIENCE,
        Reason.AUDIENCE,
        Reason.EXPIRED,
        Reason.NONCE,
        Reason.CLAIMS,
        Reason.CLAIMS,
    ]


def test_every_reason_is_worded_without_a_value() -> None:
    assert set(WORDING) == set(Reason)
    for reason, wording in WORDING.items():
        assert 400 <= wording.status < 600, reason
        assert "@" not in wording.detail and "{" not in wording.detail, reason
