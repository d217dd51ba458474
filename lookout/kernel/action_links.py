"""An alert email's one-click acknowledge link: a token the alerts service signs when it writes
the email and the web service checks when the link is opened (`<web base>/ack/<token>`). It is
HMAC-SHA256, with this deployment's alert-link secret, over the school, the alert, the person
and the expiry, so it acknowledges that one alert as that one person until then, and nothing
else. Pure, but for `alert_link_secret`. Services may not import each other: both read it here.

`LA1.<payload>.<mac>`, both base64url without padding; the payload is
`<school>|<alert id, 32 hex>|<person id>|<expiry, Unix seconds>`. Opening the link only shows
a confirm page; the page's POST acknowledges (mail scanners follow links, they do not post)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lookout.kernel.settings import ConfigurationError, Settings
from lookout.kernel.state_files import kept_secret

PREFIX = "LA1"
DOMAIN = b"lookout-alert-ack-v1|"  # a MAC of this kind only, never reusable for another purpose
SECRET_FILE = "alert-link.secret"
MIN_SECRET = 32  # characters of LOOKOUT_ALERT_LINK_SECRET
MAX_TOKEN = 256  # characters; a real one is about 140
# A day: an alert stays open until someone resolves it (an ack only pauses it for the policy's
# ack timeout), and an email is often read hours later, on the evening's phone or the next
# morning; a day covers that. Longer would leave a usable link in a mailbox for weeks: after a
# day, the console (or the CLI) acknowledges.
ACK_LINK_LIFETIME = timedelta(hours=24)

log = logging.getLogger("lookout.config")


@dataclass(frozen=True)
class AckLinkClaims:
    """What a valid link says: this person may acknowledge this alert of this school until
    `expires_at`."""

    school_id: str
    alert_id: uuid.UUID
    person_id: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, DOMAIN + payload.encode("ascii"), hashlib.sha256).digest())


def sign_ack_link(secret: bytes, claims: AckLinkClaims) -> str:
    """The token of `<web base>/ack/<token>` (URL-safe as it is)."""
    if "|" in claims.school_id or "|" in claims.person_id:
        raise ValueError("ack link claims: '|' in a field")
    expiry = int(claims.expires_at.timestamp())
    fields = (claims.school_id, claims.alert_id.hex, claims.person_id, str(expiry))
    payload = _b64("|".join(fields).encode("utf-8"))
    return f"{PREFIX}.{payload}.{_mac(secret, payload)}"


def verify_ack_link(secret: bytes, token: str, *, now: datetime) -> AckLinkClaims | None:
    """The claims of a token signed with `secret` that has not expired at `now` (it expires at
    `expires_at` exactly); None for anything else, without saying which: a forged, changed,
    malformed or expired token are all "no"."""
    if len(token) > MAX_TOKEN:
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    _, payload, mac = parts
    if not (payload.isascii() and mac.isascii()):
        return None
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    try:
        school, alert, person, expiry = _unb64(payload).decode("utf-8").split("|")
        claims = AckLinkClaims(
            school, uuid.UUID(hex=alert), person, datetime.fromtimestamp(int(expiry), UTC)
        )
    except (ValueError, binascii.Error, OverflowError):  # signed by us, so never; but be sure
        return None
    if now >= claims.expires_at:
        return None
    return claims


@dataclass(frozen=True)
class AckLinks:
    """Makes the links of one deployment: its web base URL and alert-link secret."""

    base_url: str  # Settings.web_url(): no trailing slash
    secret: bytes
    lifetime: timedelta = ACK_LINK_LIFETIME

    def url(self, school_id: str, alert_id: uuid.UUID, person_id: str, now: datetime) -> str:
        claims = AckLinkClaims(school_id, alert_id, person_id, now + self.lifetime)
        return f"{self.base_url}/ack/{sign_ack_link(self.secret, claims)}"

    @classmethod
    def of(cls, settings: Settings) -> AckLinks:
        return cls(settings.web_url(), alert_link_secret(settings))


def alert_link_secret(settings: Settings) -> bytes:
    """LOOKOUT_ALERT_LINK_SECRET (at least 32 characters; the same for the alerts service and
    every web replica), else this deployment's own: generated on first start and kept in
    `<data dir>/alert-link.secret` (0600), which the alerts service and the web service share
    when they share a data dir (`lookout up`). Changing it makes every emailed link a 404."""
    explicit = settings.alert_link_secret.get_secret_value()
    if explicit:
        if len(explicit) < MIN_SECRET:
            raise ConfigurationError(f"LOOKOUT_ALERT_LINK_SECRET: at least {MIN_SECRET} characters")
        return explicit.encode("utf-8")
    path = settings.data_dir / SECRET_FILE
    if not settings.provision_streams:  # a production deploy: services have their own disks
        log.warning(
            "event=alert_link_secret_generated path=%s: set LOOKOUT_ALERT_LINK_SECRET (the same "
            "for the alerts service and the web), or emailed acknowledge links read as forged",
            path,
        )
    try:
        secret = kept_secret(path, "LOOKOUT_ALERT_LINK_SECRET")
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return secret.encode("utf-8")
