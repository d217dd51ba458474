"""Credentials and TLS for every NATS connection, from settings, in one place.

`connect_options(settings)` is the keyword arguments for `nats.connect` (the CLI, `ensure_streams`,
reachability checks); `broker_security(settings)` is the same thing as a FastStream NATS security
object for the services' brokers. Nothing set (the default, `lookout up`, the tests): no
credentials and plain TCP, exactly as before.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from faststream.nats.security import (
    NatsCredentials,
    NatsNKey,
    NatsSecurity,
    NatsUserPassword,
)

if TYPE_CHECKING:
    from lookout.kernel.settings import Settings


class NatsSettingsError(ValueError):
    """Contradictory or incomplete NATS credential settings; the message names the variables."""


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """A client TLS context when a CA or a client certificate is configured, else None."""
    ca, cert, key = settings.nats_tls_ca, settings.nats_tls_cert, settings.nats_tls_key
    if ca is None and cert is None:
        if key is not None:
            raise NatsSettingsError("LOOKOUT_NATS_TLS_KEY is set without LOOKOUT_NATS_TLS_CERT")
        return None
    if (cert is None) != (key is None):
        raise NatsSettingsError("LOOKOUT_NATS_TLS_CERT and LOOKOUT_NATS_TLS_KEY go together")
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(ca) if ca is not None else None
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None and key is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def _auth_count(settings: Settings) -> int:
    return sum(
        x is not None
        for x in (settings.nats_user, settings.nats_creds_file, settings.nats_nkey_seed_file)
    )


def _check(settings: Settings) -> None:
    if _auth_count(settings) > 1:
        raise NatsSettingsError(
            "set only one of LOOKOUT_NATS_USER, LOOKOUT_NATS_CREDS_FILE and "
            "LOOKOUT_NATS_NKEY_SEED_FILE"
        )
    if settings.nats_user is not None and settings.nats_password is None:
        raise NatsSettingsError("LOOKOUT_NATS_USER is set without LOOKOUT_NATS_PASSWORD")


def connect_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `nats.connect`: credentials and TLS (empty when none are set)."""
    _check(settings)
    options: dict[str, Any] = {}
    if settings.nats_user is not None and settings.nats_password is not None:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password.get_secret_value()
    elif settings.nats_creds_file is not None:
        options["user_credentials"] = str(settings.nats_creds_file)
    elif settings.nats_nkey_seed_file is not None:
        options["nkeys_seed"] = str(settings.nats_nkey_seed_file)
    if settings.nats_inbox_prefix:
        options["inbox_prefix"] = settings.nats_inbox_prefix
    context = tls_context(settings)
    if context is not None:
        options["tls"] = context
        if settings.nats_tls_hostname:
            options["tls_hostname"] = settings.nats_tls_hostname
    return options


def broker_security(settings: Settings) -> NatsSecurity | None:
    """The same credentials and TLS as a FastStream security object (None: neither is set)."""
    _check(settings)
    context = tls_context(settings)
    tls: dict[str, Any] = {"ssl_context": context, "tls_hostname": settings.nats_tls_hostname}
    if settings.nats_user is not None and settings.nats_password is not None:
        return NatsUserPassword(
            settings.nats_user, settings.nats_password.get_secret_value(), **tls
        )
    if settings.nats_creds_file is not None:
        return NatsCredentials.from_file(settings.nats_creds_file, **tls)
    if settings.nats_nkey_seed_file is not None:
        return NatsNKey.from_file(settings.nats_nkey_seed_file, **tls)
    if context is not None:
        return NatsSecurity(**tls)
    return None
