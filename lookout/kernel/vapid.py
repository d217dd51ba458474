"""This deployment's Web Push identity (VAPID, RFC 8292): one P-256 key pair. The alerts service
signs each push with the private key; the web service hands browsers the public key
(`applicationServerKey`) when they subscribe. A browser's subscription is bound to that public
key, so changing it silently orphans every subscription: the key is kept, never regenerated."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid

from lookout.kernel.settings import ConfigurationError, Settings
from lookout.kernel.state_files import create_once

log = logging.getLogger(__name__)

KEY_FILE = "vapid.pem"


@dataclass(frozen=True)
class VapidKeys:
    private_pem: str = ""
    application_server_key: str = ""  # uncompressed public point, base64url without padding

    @cached_property
    def signer(self) -> Vapid:
        """The key as pywebpush takes it, parsed once (every push is signed with it)."""
        return Vapid.from_pem(self.private_pem.encode("ascii"))

    def __repr__(self) -> str:  # never the private key in a log or a traceback
        return f"VapidKeys(application_server_key={self.application_server_key!r})"


def _generated_pem() -> str:
    vapid = Vapid()
    vapid.generate_keys()
    return vapid.private_pem().decode("ascii")


def _keys(pem: str) -> VapidKeys:
    try:
        vapid = Vapid.from_pem(pem.encode("ascii"))
    except Exception:  # any unreadable key is the same configuration error
        raise ConfigurationError("LOOKOUT_VAPID_PRIVATE_KEY: not a PEM P-256 private key") from None
    point = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    server_key = base64.urlsafe_b64encode(point).rstrip(b"=").decode("ascii")
    return VapidKeys(private_pem=pem, application_server_key=server_key)


def vapid_keys(settings: Settings) -> VapidKeys:
    """LOOKOUT_VAPID_PRIVATE_KEY (the same for the alerts service and every web replica), else
    this deployment's own: generated on first start and kept in `<data dir>/vapid.pem` (0600),
    which the alerts service and the web share when they share a data dir (`lookout up`)."""
    explicit = settings.vapid_private_key.get_secret_value().strip()
    if explicit:
        return _keys(explicit)
    path = settings.data_dir / KEY_FILE
    if path.exists() and path.read_text(encoding="ascii").strip():
        return _keys(path.read_text(encoding="ascii"))  # kept from the first start
    if not settings.provision_streams:  # a production deploy: services have their own disks
        log.warning(
            "event=vapid_key_generated path=%s: set LOOKOUT_VAPID_PRIVATE_KEY (the same for the "
            "alerts service and the web), or pushes are signed by a key browsers never saw",
            path,
        )
    try:
        pem = create_once(path, _generated_pem(), mode=0o600)
    except OSError as exc:
        raise ConfigurationError(
            f"LOOKOUT_VAPID_PRIVATE_KEY is not set and {path} cannot be kept ({exc.strerror})"
        ) from None
    return _keys(pem)
