"""A visitor badge's QR code: a token the web signs (HMAC-SHA256 with this deployment's badge
secret) naming the school, the badge number, the visit and when the badge expires, so the SSO's
phone can tell a printed badge from a forged or expired one. Pure, but for `badge_secret`.

`LB1.<payload>.<mac>`, both base64url without padding; the payload is
`<school>|<badge number>|<visit id, 32 hex>|<expiry, Unix seconds>`. About 110 characters: a
version 7 QR code at error level M, which prints at 2.5 cm on 62 mm label stock. The token says
nothing a badge does not already show, so it is not encrypted, only signed."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from lookout.kernel.settings import ConfigurationError, Settings
from lookout.kernel.state_files import kept_secret

PREFIX = "LB1"
DOMAIN = b"lookout-badge-v1|"  # a MAC of this kind only, never reusable for another purpose
SECRET_FILE = "web-badge.secret"
MIN_SECRET = 32  # characters of LOOKOUT_WEB_BADGE_SECRET

log = logging.getLogger("lookout.web")


class BadgeStatus(StrEnum):
    VALID = "valid"
    FORGED = "forged"  # not signed by this deployment (or changed since)
    EXPIRED = "expired"
    OTHER_SCHOOL = "other_school"
    NOT_A_BADGE = "not_a_badge"  # not a badge token at all


@dataclass(frozen=True)
class BadgeClaims:
    school_id: str
    badge_number: str
    visit_id: uuid.UUID
    expires_at: datetime


@dataclass(frozen=True)
class Verdict:
    status: BadgeStatus
    claims: BadgeClaims | None = None  # what a token signed by us says (valid, expired, other)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, DOMAIN + payload.encode("ascii"), hashlib.sha256).digest())


def is_token(text: str) -> bool:
    """Whether a scanned code looks like a badge token (a plain badge number does not)."""
    return text.strip().startswith(PREFIX + ".")


def sign(secret: bytes, claims: BadgeClaims) -> str:
    """The token a badge's QR code carries."""
    fields = (claims.school_id, claims.badge_number, claims.visit_id.hex)
    if any("|" in f for f in fields):
        raise ValueError("badge claims: '|' in a field")
    expiry = int(claims.expires_at.timestamp())
    payload = _b64("|".join((*fields, str(expiry))).encode("utf-8"))
    return f"{PREFIX}.{payload}.{_mac(secret, payload)}"


def verify(secret: bytes, token: str, *, school_id: str, now: datetime) -> Verdict:
    """What a scanned token is worth to a person of `school_id` at `now`: the signature first
    (nothing of an unsigned token is believed), then the school, then the expiry."""
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        return Verdict(BadgeStatus.NOT_A_BADGE)
    _, payload, mac = parts
    try:
        payload.encode("ascii")
        mac.encode("ascii")
    except UnicodeEncodeError:
        return Verdict(BadgeStatus.FORGED)
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return Verdict(BadgeStatus.FORGED)
    try:
        school, badge, visit, expiry = _unb64(payload).decode("utf-8").split("|")
        claims = BadgeClaims(
            school, badge, uuid.UUID(hex=visit), datetime.fromtimestamp(int(expiry), UTC)
        )
    except (ValueError, binascii.Error, OverflowError):  # signed by us, so never; but be sure
        return Verdict(BadgeStatus.FORGED)
    if claims.school_id != school_id:
        return Verdict(BadgeStatus.OTHER_SCHOOL, claims)
    if now >= claims.expires_at:
        return Verdict(BadgeStatus.EXPIRED, claims)
    return Verdict(BadgeStatus.VALID, claims)


def badge_secret(settings: Settings) -> bytes:
    """LOOKOUT_WEB_BADGE_SECRET (at least 32 characters; the same for every web replica), else
    this deployment's own: generated on first start and kept in `<data dir>/web-badge.secret`
    (0600), as the patrol seed is. Changing it makes every printed badge read as forged."""
    explicit = settings.web_badge_secret.get_secret_value()
    if explicit:
        if len(explicit) < MIN_SECRET:
            raise ConfigurationError(f"LOOKOUT_WEB_BADGE_SECRET: at least {MIN_SECRET} characters")
        return explicit.encode("utf-8")
    path = settings.data_dir / SECRET_FILE
    if not settings.provision_streams:  # a production deploy
        log.warning(
            "event=badge_secret_generated path=%s: set LOOKOUT_WEB_BADGE_SECRET (the same for "
            "every web replica), or badges printed by one replica read as forged on another",
            path,
        )
    try:
        secret = kept_secret(path, "LOOKOUT_WEB_BADGE_SECRET")
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return secret.encode("utf-8")
