"""An SSO's calendar feed address: `<web base>/calendar/<school>/<person>/<token>.ics`, which a
calendar app (Google, Outlook, Apple) polls without signing in, so the token is the only key.
It is HMAC-SHA256, with this deployment's calendar-feed secret, over the school and the person:
unguessable, and only ever that person's feed. The feed holds the school's announced windows
(never the unannounced checks), places and times only. Pure, but for the secret.

Revoking one address means a new secret for everyone (`LOOKOUT_CALENDAR_FEED_SECRET`): the feed
says nothing an announced plan does not, so a per-person key was not worth a table."""

from __future__ import annotations

import base64
import hashlib
import hmac

from lookout.kernel.settings import ConfigurationError, Settings
from lookout.kernel.state_files import kept_secret

DOMAIN = b"lookout-calendar-feed-v1|"  # a MAC of this kind only
SECRET_FILE = "calendar-feed.secret"
MIN_SECRET = 32
TOKEN_CHARS = 43  # 256 bits, base64url without padding


def feed_secret(settings: Settings) -> bytes:
    """LOOKOUT_CALENDAR_FEED_SECRET (32 characters or more, the same for every web replica),
    else this deployment's own, kept in `<data dir>/calendar-feed.secret` (0600)."""
    explicit = settings.calendar_feed_secret.get_secret_value()
    if explicit:
        if len(explicit) < MIN_SECRET:
            raise ConfigurationError(
                f"LOOKOUT_CALENDAR_FEED_SECRET: at least {MIN_SECRET} characters"
            )
        return explicit.encode("utf-8")
    try:
        return kept_secret(settings.data_dir / SECRET_FILE, "LOOKOUT_CALENDAR_FEED_SECRET").encode()
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def feed_token(secret: bytes, school_id: str, person_id: str) -> str:
    mac = hmac.new(secret, DOMAIN + f"{school_id}|{person_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii").rstrip("=")


def token_matches(secret: bytes, school_id: str, person_id: str, token: str) -> bool:
    """Constant time: a wrong token says nothing about the right one."""
    return hmac.compare_digest(feed_token(secret, school_id, person_id), token)


def feed_url(settings: Settings, school_id: str, person_id: str) -> str:
    token = feed_token(feed_secret(settings), school_id, person_id)
    return f"{settings.web_url()}/calendar/{school_id}/{person_id}/{token}.ics"
